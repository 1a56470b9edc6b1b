"""The three systems (Sales, the Hub, Operations) as replicas: tables of versioned rows.

A :class:`Replica` holds one table per entity. It knows nothing of designs or time; it
applies changes and remembers them:

- a **change log** per entity (change tracking): every change appends the row's key, and
  the row remembers the position of its latest change, so a map reading the log from its
  watermark sees each changed row once, in change order;
- a **status index** per entity with a lifecycle, so business steps ("confirm an Active
  order") pick among the right rows in O(1) without scanning, deterministically;
- the **apply** rule shared by user saves and sync upserts: per field, replace the
  version when it differs and report which previous versions were overwritten by a write
  that never saw them.

Which system owns which business step is in ``SYSTEM_STEPS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from models.entities import Catalogue
from models.records import FieldVersion, Row, WriteLog

SALES = "sales"
HUB = "hub"
OPERATIONS = "operations"

#: The business steps each system owns (FACTS.md section 1 and the seed post).
SYSTEM_STEPS: dict[str, tuple[str, ...]] = {
    SALES: (
        "create and edit accounts and contacts",
        "quotes",
        "bundles",
        "convert quotes to orders",
        "activate orders",
    ),
    HUB: (),
    OPERATIONS: (
        "confirm, pick, pack and ship orders",
        "invoice orders",
        "maintain and retire products",
        "customer credit data",
    ),
}


class KeyIndex:
    """An insertion-ordered set of keys with O(1) add, remove and pick-by-position."""

    __slots__ = ("keys", "_pos")

    def __init__(self) -> None:
        self.keys: list[str] = []
        self._pos: dict[str, int] = {}

    def add(self, key: str) -> None:
        if key not in self._pos:
            self._pos[key] = len(self.keys)
            self.keys.append(key)

    def discard(self, key: str) -> None:
        pos = self._pos.pop(key, None)
        if pos is None:
            return
        last = self.keys.pop()
        if pos < len(self.keys):
            self.keys[pos] = last
            self._pos[last] = pos

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, key: str) -> bool:
        return key in self._pos


@dataclass(slots=True)
class ApplyOutcome:
    """What one apply did to one row."""

    created: bool
    changed: dict[str, str] = field(default_factory=dict)  # field -> new write id
    overwrites: list[tuple[str, str, str]] = field(default_factory=list)  # (field, lost, by)
    row_version: int = 0


class Replica:
    """One system's copy of the data: a table per entity."""

    def __init__(self, system: str, catalogue: Catalogue) -> None:
        self.system = system
        self.catalogue = catalogue
        self.tables: dict[str, dict[str, Row]] = {name: {} for name in catalogue.names()}
        self.keys: dict[str, list[str]] = {name: [] for name in catalogue.names()}
        self.change_log: dict[str, list[str]] = {name: [] for name in catalogue.names()}
        # Lines by header: children["order_line"]["ORD-00001"] -> line keys, in order.
        self.children: dict[str, dict[str, list[str]]] = {e.name: {} for e in catalogue if e.parent}
        self._parent_field = {e.name: e.parent for e in catalogue if e.parent}
        self.by_status: dict[str, dict[str, KeyIndex]] = {
            e.name: {s: KeyIndex() for s in e.status_order} for e in catalogue if e.status_order
        }
        # Per entity, everything :meth:`apply` touches (the same objects as above), found
        # with one lookup per apply instead of one per container.
        self._apply_state = {
            name: (
                self.tables[name],
                self.keys[name],
                self.change_log[name],
                self._parent_field.get(name),
                self.children.get(name),
                self.by_status.get(name),
            )
            for name in catalogue.names()
        }

    def row(self, entity: str, key: str) -> Row | None:
        return self.tables[entity].get(key)

    def lines_of(self, line_entity: str, header_key: str) -> list[str]:
        """Keys of the lines of one header (e.g. the order lines of an order)."""
        return self.children[line_entity].get(header_key, [])

    def count(self, entity: str) -> int:
        return len(self.keys[entity])

    def apply(
        self,
        entity: str,
        key: str,
        versions: Mapping[str, FieldVersion],
        writelog: WriteLog,
        owned: bool = False,
    ) -> ApplyOutcome:
        """Upsert ``versions`` into the row with business key ``key``.

        Each field whose (value, write id) differs is replaced. When the replaced write
        is not an ancestor of the incoming one (for that field), the replaced write was
        never seen by its replacer: an *overwrite*, reported so the caller can record it.
        ``owned``: ``versions`` is a dict the caller keeps no use of, so a new row takes
        it as its fields instead of a copy.
        """
        table, keys, log, parent_field, children, status_index = self._apply_state[entity]
        row = table.get(key)
        created = row is None
        changed: dict[str, str]
        overwrites: list[tuple[str, str, str]] = []
        if row is None:
            row = Row(key)
            table[key] = row
            keys.append(key)
            if parent_field is not None and children is not None and parent_field in versions:
                children.setdefault(versions[parent_field][0], []).append(key)
            # A new row: every version is a change and nothing is overwritten.
            if owned and type(versions) is dict:
                fields = row.fields = versions
            else:
                fields = row.fields
                fields.update(versions)
            changed = {name: version[1] for name, version in versions.items()}
            old_status = None
        else:
            fields = row.fields
            changed = {}
            old_status = fields.get("status")
            for name, version in versions.items():
                current = fields.get(name)
                if current is not None:
                    if current is version or current == version:
                        continue
                    held, incoming = current[1], version[1]
                    if held != incoming and not writelog.is_ancestor(held, incoming, name):
                        overwrites.append((name, held, incoming))
                fields[name] = version
                changed[name] = version[1]
        if changed:
            row.row_version += 1
            row.changed_seq = len(log)
            log.append(key)
            if status_index is not None and "status" in changed:
                if old_status is not None:
                    status_index[old_status[0]].discard(key)
                new_status = fields["status"][0]
                if new_status in status_index:
                    status_index[new_status].add(key)
        return ApplyOutcome(created, changed, overwrites, row.row_version)
