"""The files shipped inside the package: design templates, price books, the seed scenario.

``scenarios/designs/`` and ``scenarios/pricebooks/`` in the repository are the editable
source; ``sim/catalogue/designs`` and ``sim/catalogue/pricebooks`` are symbolic links to
them (and ``prospect_to_cash.yaml`` to the seed scenario, which ``p2c bench`` scales). An
editable install (``pip install -e .``) therefore reads the very files you edit, and a
wheel or source distribution carries their contents (setuptools follows the links when it
copies package data), so ``p2c`` installed anywhere, and a Dask worker with only the
package, finds the same catalogue. Links were chosen over a generated copy because there
is then one file to edit and nothing to regenerate; ``tests/test_packaging.py`` checks
both that the links lead to ``scenarios/`` and that a built wheel carries every file.

Everything is read through :mod:`importlib.resources`, never through a path computed from
the working directory or from ``__file__``.

May import: nothing, only the standard library (it is the bottom of the ladder, with
the model).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: The price-book eras shipped with the package (``licensing: {price_book: ERA}``).
ERAS = ("2017", "2019", "current")


def _root() -> Path:
    root = resources.files(__name__)
    # A wheel is installed as files on disk (pip never runs packages from a zip), so the
    # catalogue is a directory; the loaders want real paths for their file:line messages.
    return Path(str(root))


def designs_dir() -> Path:
    """The folder of design templates (``scenarios/designs`` in the repository)."""
    return (_root() / "designs").resolve()  # in a checkout: scenarios/designs, as edited


def design_names() -> list[str]:
    """The catalogue's design names, sorted (files starting with ``_`` are shared bases)."""
    return sorted(p.stem for p in designs_dir().glob("*.yaml") if not p.stem.startswith("_"))


def design_file(name: str) -> Path | None:
    """The template file of design ``name`` (bases like ``_direct-sync-base`` included)."""
    path = designs_dir() / f"{name}.yaml"
    return path if path.is_file() else None


def price_book_file(era: str) -> Path:
    """The price-book file of an era in :data:`ERAS`."""
    if era not in ERAS:
        raise KeyError(f"no price book era {era!r} (known: {', '.join(ERAS)})")
    return (_root() / "pricebooks" / f"{era}.yaml").resolve()


def seed_scenario_file() -> Path:
    """The seed organisation's scenario (``scenarios/prospect_to_cash.yaml``)."""
    return (_root() / "prospect_to_cash.yaml").resolve()
