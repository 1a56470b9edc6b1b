"""p2c-testbed's harness: runs ``models/`` through time, checks and reports (see DESIGN.md)."""

from __future__ import annotations

#: The installed distribution's version (``p2c --version``, every run's manifest). Looked
#: up the first time it is asked for (PEP 562): importlib.metadata costs more than the
#: rest of ``p2c --help`` (issue 17: p2c starts fast; tests/test_imports.py).
__version__: str


def __getattr__(name: str) -> str:
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import metadata  # on first use, not at import: see __version__

    try:
        version = metadata.version("p2c-testbed")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from an uninstalled copy
        version = "0+unknown"
    globals()["__version__"] = version  # the next look-up is a plain attribute
    return version
