"""History events: the one contract the model emits and the checker reads.

For now this module holds the closed vocabularies that events carry as values: what a
delivered message came to (:class:`DeliveryOutcome`) and how a detected conflict was
handled (:class:`ConflictResolution`). Both are string enums, so an event built from a
member serialises to the same JSON as the bare string it replaces.
"""

from __future__ import annotations

from enum import StrEnum


class DeliveryOutcome(StrEnum):
    """What a queued message came to at its target (``deliver`` / ``redelivery``)."""

    APPLIED = "applied"  # its versions were written
    UNCHANGED = "unchanged"  # allowed, but the target already held every version
    STALE = "stale"  # every version was one the target had superseded: skipped
    CONFLICT = "conflict"  # queued for a person, or rejected at the primary
    MERGED = "merged"  # field-merge kept some versions and surfaced the rest
    PRIMARY_WINS = "primary_wins"  # a non-primary side took the primary's fields
    DUPLICATE_IGNORED = "duplicate_ignored"  # a redelivery an idempotent receiver ignored
    INSERTED_AGAIN = "inserted_again"  # a redelivery the insert-only bug made a record of

    @property
    def wrote(self) -> bool:
        """An outcome that says the target took the versions (else ``unchanged``)."""
        return self in (DeliveryOutcome.APPLIED, DeliveryOutcome.PRIMARY_WINS)


class ConflictResolution(StrEnum):
    """How a design handled the concurrent versions it detected (``conflict`` events)."""

    PRIMARY_WINS = "primary_wins"  # the primary kept its own version
    QUEUED = "queued"  # held back for a person to merge
    MERGED_BY_STAMP = "merged_by_stamp"  # the higher hybrid-clock stamp won, per field
