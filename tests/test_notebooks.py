"""Every notebook in notebooks/ runs from a clean kernel without an error (STYLE.md 13).

Notebooks call the public API only, so they rot the moment the API changes under them;
executing them here keeps them honest. Each runs in a fresh kernel with notebooks/ as
its working directory, as Jupyter would start it; the notebook file is not modified.
"""

from __future__ import annotations

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow  # minutes, not seconds: run with -m slow (.ci/run does)

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT_S = 300


def test_there_are_notebooks_to_run():
    assert any(p.name == "compare_designs.ipynb" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_the_notebook_runs_from_a_clean_kernel_without_errors(path):
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        allow_errors=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{path.name}: a cell failed:\n{exc}")
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    images = sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )
    if path.name == "compare_designs.ipynb":
        assert images == 3, "the staleness, sweep and cost-risk figures"
