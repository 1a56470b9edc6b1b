"""``p2c audit``: a run's user saves in the shape of a Dynamics 365 audit export.

One CSV row per changed record (a save), with the columns a person gets from the two
systems' own logs, as far as one CSV allows:

- ``createdon``: Dataverse ``createdon`` "Changed Date"; Operations "Created date and
  time";
- ``userid``: Dataverse ``userid`` "Changed By"; Operations "User" (we write the user's
  name, not a GUID);
- ``objecttypecode``: Dataverse ``objecttypecode`` "Entity"; Operations "Table name";
- ``objectid``: Dataverse ``objectid`` "Record"; Operations "Record identifier" (RecId;
  we write the business key);
- ``operation``: Dataverse ``operation`` Create / Update; Operations "Type of change"
  Insert / Update (calibration reads both);
- ``changedfields``: Dataverse ``attributemask`` "Changed Field" (column numbers there,
  field names here, ``;``-separated); Operations "Field name" (one log line per field
  there, one row per record here);
- ``changedata``: Dataverse ``changedata`` holds the *old* values; we write the *new*
  values as JSON (Operations' "Value"; Dataverse's RetrieveAuditDetails gives them);
- ``system``: a column of neither real export (each is one system's).

Where we chose: user names and business keys instead of GUIDs and RecIds (an export
joined to its user and record tables gives these); one row per record rather than one
line per field (the Operations form's shape); new values rather than old ones (what a
calibration needs: which status an order moved to); ``createdon`` in UTC, ISO 8601
(Dataverse stores UTC; the form shows user-local time); a ``system`` column (absent from
either real export; :mod:`sim.calibration.calibrate` accepts files without it when told
the system). Initial data (the ``migration`` actor's saves) is not audited user work and
is left out; saves refused by a design are not saves and are not in an audit either.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import yaml

from sim.checker.files import history_path
from sim.history import read_history
from sim.scenario.yamlio import InputError

COLUMNS = (
    "createdon",
    "system",
    "userid",
    "objecttypecode",
    "objectid",
    "operation",
    "changedfields",
    "changedata",
)


def stamp(start: date, t_s: float) -> str:
    """Run seconds -> ``2024-01-01T10:14:00Z`` (whole seconds, as the audit keeps them)."""
    origin = datetime(start.year, start.month, start.day, tzinfo=UTC)
    return (origin + timedelta(seconds=int(t_s))).strftime("%Y-%m-%dT%H:%M:%SZ")


def audit_rows(run_dir: Path | str):
    """The audit rows of a run folder's user saves, in history order."""
    run_dir = Path(run_dir)
    resolved = run_dir / "scenario.resolved.yaml"
    if not resolved.is_file():
        raise InputError(f"{run_dir}: not a run folder (no scenario.resolved.yaml)")
    raw = yaml.safe_load(resolved.read_text(encoding="utf-8")) or {}
    start = raw.get("start_date", date(2024, 1, 1))
    if isinstance(start, str):
        start = date.fromisoformat(start)
    for event in read_history(history_path(run_dir)):
        if event.get("kind") != "write" or event.get("actor") == "migration":
            continue
        fields = event["fields"]
        yield {
            "createdon": stamp(start, event["t"]),
            "system": event["system"],
            "userid": event["actor"],
            "objecttypecode": event["entity"],
            "objectid": event["key"],
            "operation": "Create" if event.get("op") == "create" else "Update",
            "changedfields": ";".join(fields),
            "changedata": json.dumps(fields, sort_keys=True, separators=(",", ":")),
        }


def write_audit(run_dir: Path | str, out: Path | str) -> int:
    """Write the export; the file appears only when complete. Returns rows written."""
    out = Path(out)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    rows = 0
    for row in audit_rows(run_dir):
        writer.writerow(row)
        rows += 1
    staging = out.with_name(f".{out.name}.partial")
    staging.write_text(buffer.getvalue(), encoding="utf-8")
    staging.replace(out)
    return rows
