"""The shape every invariant shares: attach to a ledger, then give a verdict.

An invariant is a pure function from a history to a :class:`~sim.checker.verdicts.Verdict`.
To judge ten invariants in one pass over a stream, each is split in two halves around a
shared :class:`~sim.checker.ledger.Ledger`:

1. ``__init__(ledger)`` registers the hooks the invariant needs *during* the run (the
   ledger calls them on the events they name), and nothing else;
2. :meth:`Invariant.verdict` judges, after the ledger has read the whole history, from
   the ledger's final state and whatever the hooks collected.

``check_history`` builds one ledger, attaches every invariant, feeds the events once and
asks each for its verdict; ``no_lost_update(events)`` and its siblings do the same with
one invariant, so each is usable alone.
"""

from __future__ import annotations

from typing import ClassVar

from sim.checker.ledger import Ledger
from sim.checker.verdicts import Verdict


class Invariant:
    """Base of the invariants in this package (see the module docstring)."""

    #: The invariant's name, as used in ``contract.promises`` and ``sanctioned``.
    name: ClassVar[str] = ""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    @property
    def is_sanctioned(self) -> bool:
        """True when the contract accepts this invariant's violations by construction."""
        return self.name in self.ledger.contract.sanctioned

    def verdict(self) -> Verdict:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError
