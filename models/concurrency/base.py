"""The interface every concurrency rule implements, and what it is given to decide.

:class:`~models.integration.Integration` does everything that is the same under every
rule (record the write, apply, emit, propagate) and asks the design's :class:`Rule` at
the few points where designs differ:

- ``refusal``: may this user save go ahead at all (a lease that fences it)?
- ``saved``: an accepted user save, to stamp it (clocks);
- ``sent`` / ``settled``: a message leaves / is done (replication a lease waits for);
- ``judge``: a queued message reaches its target: which of its versions to write, and
  the outcome to report (:class:`~models.events.DeliveryOutcome`).

``judge`` gets a :class:`Delivery`: the message and what the target holds, already
compared field by field against the write log, so a rule is a few lines of policy.
A rule reaches the rest of the integration only through :class:`Host`, and reads the
design only through :class:`DesignView` (which :class:`models.design.DesignSpec`
satisfies): the design module imports the registry for its list of rule names, so the
rules name only what they read of it, not the design class.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Protocol

from models.events import ConflictResolution, DeliveryOutcome
from models.messages import Conflict, Lease, LeaseTable, Message
from models.records import FieldVersion, Row, WriteLog


@dataclass(slots=True)
class Delivery:
    """A message at its target, compared with what the target holds.

    For each incoming field version, against the target's current version of the field:
    the same write or a descendant of the target's (``newer_anywhere``), an ancestor of
    it (``superseded``: the target already moved past it), or neither: a concurrent
    edit the target has not seen (``unseen``: field, target's write, incoming write).
    """

    message: Message
    now_s: float
    row: Row | None  # the target's row; None when the record is new there
    unseen: list[tuple[str, str, str]]
    superseded: set[str]
    newer_anywhere: bool  # some version is new to the target (or the row is)

    @property
    def incoming(self) -> dict[str, FieldVersion]:
        return self.message.versions

    @property
    def fresh(self) -> dict[str, FieldVersion]:
        """The incoming versions without the superseded ones (never move a field back)."""
        if not self.superseded:
            return self.message.versions
        return {
            name: version
            for name, version in self.message.versions.items()
            if name not in self.superseded
        }

    @property
    def clashing(self) -> set[str]:
        """Fields edited concurrently on both sides."""
        return {name for name, _, _ in self.unseen}


@dataclass(slots=True)
class Decision:
    """A rule's verdict on a delivery: the versions to write and the outcome to report.

    An outcome that ``wrote`` becomes ``unchanged`` when writing changed nothing.
    """

    outcome: DeliveryOutcome
    versions: dict[str, FieldVersion]


STALE = Decision(DeliveryOutcome.STALE, {})


class ConcurrencySettings(Protocol):
    """What a rule reads of the design's ``concurrency`` settings
    (:class:`models.design.Concurrency`)."""

    @property
    def mode(self) -> str: ...

    @property
    def primary(self) -> str | None: ...

    @property
    def fencing(self) -> bool: ...

    @property
    def version_check(self) -> str: ...


class DesignView(Protocol):
    """What a rule reads of the design (:class:`models.design.DesignSpec`)."""

    @property
    def concurrency(self) -> ConcurrencySettings: ...

    @property
    def clock_skew_s(self) -> Mapping[str, float]: ...


class Host(Protocol):
    """What a rule may use of the integration it serves."""

    writelog: WriteLog
    leases: LeaseTable

    def record_conflict(
        self, delivery: Delivery, resolution: ConflictResolution, conflict_id: str | None = None
    ) -> None:
        """Emit a ``conflict`` event per clashing field of ``delivery``."""

    def queue_conflict(self, delivery: Delivery) -> Conflict:
        """The open conflict of the delivery's record (created and announced if none)."""

    def has_open_conflict(self, entity: str, key: str) -> bool:
        """A conflict on this record is waiting for a person."""


class Rule:
    """A concurrency rule. Subclasses set ``name`` and override what they change.

    The defaults are those of a rule that trusts ancestry: no refusal, no stamps, and
    a delivery writes every version except those the target already superseded.
    """

    name: ClassVar[str]
    #: Users take a lease through the hub before editing (the workload asks for one).
    uses_leases: ClassVar[bool] = False
    #: The ``concurrency`` settings that are delays this rule draws (each a ``Latency``),
    #: e.g. a person's time to resolve a queued conflict: what a story fixes.
    delays: ClassVar[tuple[str, ...]] = ()
    #: :meth:`judge` reads the comparison of each incoming version with the target's
    #: (``unseen``, ``superseded``, ``newer_anywhere``). A rule that applies whatever
    #: arrives sets it False and is handed a delivery without that comparison, which
    #: costs an ancestry search per field on every delivery.
    compares: ClassVar[bool] = True

    def __init__(self, design: DesignView, host: Host) -> None:
        self.design = design
        self.settings = design.concurrency
        self.host = host

    def refusal(
        self, lease: Lease | None, entity: str, key: str, actor: str, now_s: float
    ) -> str | None:
        """Why a user save must be refused under this rule, or None."""
        return None

    def saved(self, write_id: str, system: str, now_s: float) -> None:
        """A user save in ``system`` was accepted."""

    def sent(self, message: Message) -> None:
        """``message`` left its source."""

    def settled(self, message: Message) -> None:
        """``message`` was delivered for the first time or dead-lettered."""

    def judge(self, delivery: Delivery) -> Decision:
        """What to write at the target, and the outcome to report."""
        return Decision(DeliveryOutcome.APPLIED, delivery.fresh)
