"""p2c-testbed's harness: runs ``models/`` through time, checks and reports (see DESIGN.md)."""

from importlib import metadata

try:
    #: The installed distribution's version (``p2c --version``, every run's manifest).
    __version__ = metadata.version("p2c-testbed")
except metadata.PackageNotFoundError:  # pragma: no cover - run from an uninstalled copy
    __version__ = "0+unknown"
