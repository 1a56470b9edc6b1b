"""p2c starts fast: a command imports what it uses and nothing else (issue 17).

Each check runs in a fresh interpreter (this one has imported everything already) and
looks at ``sys.modules``: no timing, so they are as steady as any other test. Before
issue 17, building p2c's parser loaded the licensing report (numpy, pydantic, the
licensing model), the checker, PyYAML and importlib.metadata, and ``p2c run`` loaded the
licensing report's comparison, costing, charts and HTML modules and tqdm.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

from conftest import DATA

#: Never loaded by building the parser: ``p2c --help`` (and each command's own help)
#: needs none of them. The third-party ones each cost 10-120 ms to import.
#: Libraries no command's start-up needs (reports, notebooks, tests and sweeps load them).
HEAVY = ("matplotlib", "pandas", "jinja2", "networkx", "hypothesis", "dask")

NOT_FOR_THE_PARSER = (
    "numpy",
    "pydantic",
    "yaml",
    "simpy",
    "tqdm",
    "orjson",
    *HEAVY,
    "importlib.metadata",
    "models.design",
    "models.licensing",
    "sim.checker",
    "sim.engine",
    "sim.reporting.licensing.comparison",
)

#: Never loaded by ``p2c run`` on a scenario without licensing options, when its
#: standard error is not a terminal (no progress bar): tests, CI, pipes.
NOT_FOR_RUN = (
    "tqdm",
    *HEAVY,
    "sim.reporting.licensing.comparison",
    "sim.reporting.licensing.costing",
    "sim.reporting.licensing.charts",
    "sim.reporting.licensing.html",
)


def _loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_building_the_parser_loads_none_of_the_heavy_modules():
    loaded = _loaded_after("from sim.cli.main import build_parser\nbuild_parser()")
    assert sorted(set(NOT_FOR_THE_PARSER) & loaded) == []


def test_p2c_run_loads_neither_the_licensing_report_nor_a_progress_bar(tmp_path):
    code = (
        "import contextlib, io\n"
        "from sim.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main(['run', {str(DATA / 'seed_story.yaml')!r}, "
        f"'--out', {str(tmp_path / 'run')!r}]) == 0"
    )
    loaded = _loaded_after(code)
    assert "simpy" in loaded and "sim.checker" in loaded  # it did run and check
    assert sorted(set(NOT_FOR_RUN) & loaded) == []


def test_the_licensing_report_package_finds_every_public_name_in_its_module():
    package = importlib.import_module("sim.reporting.licensing")
    assert sorted(package._HOMES) == sorted(package.__all__)
    for name, home in package._HOMES.items():
        module = importlib.import_module(f"sim.reporting.licensing.{home}")
        assert getattr(package, name) is getattr(module, name), name


def test_the_version_is_looked_up_once_asked_for():
    code = (
        "import sys, sim\n"
        "assert 'importlib.metadata' not in sys.modules\n"
        "from importlib import metadata\n"
        "assert sim.__version__ == metadata.version('p2c-testbed')"
    )
    _loaded_after(code)
