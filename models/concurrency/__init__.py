"""Concurrency rules: how a design treats concurrent edits of one record on several sides.

One module per rule, each a :class:`~models.concurrency.base.Rule` (the interface and
what a rule is given live in ``base.py``), and the registry below. A new rule is one new
module plus one line in :data:`RULES`; ``design.concurrency.mode`` accepts every name in
it. Imports only ``models`` modules below the integration (records, messages, events).
"""

from __future__ import annotations

from models.concurrency.base import Decision, Delivery, DesignView, Host, Rule
from models.concurrency.field_merge import FieldMerge
from models.concurrency.lease_lock import LeaseLock
from models.concurrency.lww_clock import LastClockWins
from models.concurrency.none import LastArrivalWins, NoRule
from models.concurrency.primary_wins import PrimaryWins
from models.concurrency.version_check import VersionCheck

#: Every rule by the name a design gives in ``concurrency.mode``, in documentation order.
RULES: dict[str, type[Rule]] = {
    "none": NoRule,
    "lww_arrival": LastArrivalWins,
    "lww_clock": LastClockWins,
    "primary_wins": PrimaryWins,
    "version_check": VersionCheck,
    "lease_lock": LeaseLock,
    "field_merge": FieldMerge,
}

RULE_NAMES: tuple[str, ...] = tuple(RULES)


def make_rule(design: DesignView, host: Host) -> Rule:
    """The rule ``design.concurrency.mode`` names, serving ``host``."""
    return RULES[design.concurrency.mode](design, host)


__all__ = [
    "RULES",
    "RULE_NAMES",
    "Decision",
    "Delivery",
    "DesignView",
    "Host",
    "Rule",
    "make_rule",
]
