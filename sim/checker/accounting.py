"""Accounted for: every write, batch run and message ends somewhere, with a reason.

Nothing may vanish between the boxes of the design:

- every ``write`` ends *applied* (its own apply in its own system) or *rejected* with a
  reason shown to the user (codes ``write-unaccounted``, ``reject-without-reason``);
  write ids are unique (``duplicate-write-id``);
- every batch run that started ends (``batch-unfinished``; an end without a start is
  ``batch-end-without-start``), and every row it extracted ends changed, unchanged or
  failed: ``batch_start.rows == batch_end.rows_changed + rows_unchanged + rows_failed``
  (``batch-rows-mismatch``; ``rows_failed`` is 0 when absent). A run that failed (a
  system down: nothing loaded, retried later) must say why in ``failed``
  (``batch-failed-without-reason``);
- every message sent (``send``, by ``message_id``) ends delivered (``deliver``) or
  dead-lettered with a reason (``dead_letter``; codes ``message-unaccounted``,
  ``dead-letter-without-reason``).

Event kinds the checker does not know are ignored, so later designs can add their own.
A write must be resolved at the instant it is saved, so an unresolved write is a
violation whenever the history reached its ``quiescence`` event at all. Batch runs and
messages still open at the end are violations only after quiescence was *reached*;
otherwise they may simply have been cut off, and (absent any other violation) the
verdict is ``unknown``.
"""

from __future__ import annotations

from sim.checker.invariant import Invariant
from sim.checker.ledger import APPLIED, C_ENTITY, C_KEY, REJECTED
from sim.checker.verdicts import Anomaly, AnomalyList, Verdict, make_verdict
from sim.checker.wording import describe_write, plural, when


class AccountedFor(Invariant):
    name = "accounted_for"

    def verdict(self) -> Verdict:
        ledger = self.ledger
        definite = self._definite_anomalies()
        pending = ledger.pending_writes()
        writes_open = self._unaccounted_writes(pending)
        open_items = self._open_runs_and_messages()
        metrics = self._metrics(len(pending))
        anomalies = definite.items
        count = definite.count
        if ledger.quiescence is not None:
            anomalies = anomalies + writes_open.items
            count += writes_open.count
        if ledger.quiescent:
            anomalies = anomalies + open_items.items
            count += open_items.count
        elif not count and (open_items.count or writes_open.count):
            evidence = writes_open.items + open_items.items
            return make_verdict(
                self.name,
                evidence,
                0,
                sanctioned=False,
                unknown=True,
                metrics=metrics,
                note=f"not judged: {ledger.quiescence_words()}; "
                f"{plural(open_items.count + writes_open.count, 'item')} still open at the end",
            )
        note = (
            f"{plural(count, 'item')} not accounted for"
            if count
            else "every write, batch run and message is accounted for"
        )
        return make_verdict(
            self.name,
            anomalies,
            count,
            sanctioned=self.is_sanctioned,
            metrics=metrics,
            note=note,
        )

    def _definite_anomalies(self) -> AnomalyList:
        """Violations whatever the history's end: duplicate ids, reasonless rejects and
        dead letters, batch runs whose rows do not add up, ends without starts."""
        ledger = self.ledger
        definite = AnomalyList()
        self._add_write_faults(definite)
        self._add_batch_faults(definite)
        for event in ledger.dead_letters_without_reason:
            definite.add(
                Anomaly(
                    self.name,
                    "dead-letter-without-reason",
                    f"message {event['message_id']} was dead-lettered at {when(event['t'])} "
                    "without a reason.",
                    t=event["t"],
                    via=event.get("message_id"),
                )
            )
        return definite

    def _add_write_faults(self, definite: AnomalyList) -> None:
        """Write ids used twice, and rejects that give the user no reason."""
        ledger = self.ledger
        for write_id, t in ledger.duplicate_write_ids:
            definite.add(
                Anomaly(
                    self.name,
                    "duplicate-write-id",
                    f"write id {write_id} was used by two saves (the second at {when(t)}).",
                    write_ids=(write_id,),
                    t=t,
                )
            )
        for event in ledger.rejects_without_reason:
            definite.add(
                Anomaly(
                    self.name,
                    "reject-without-reason",
                    f"{describe_write(ledger, event['write_id'])} was rejected in "
                    f"{event.get('system')} at {when(event['t'])} without a reason for the user.",
                    write_ids=(event["write_id"],),
                    system=event.get("system"),
                    entity=event.get("entity"),
                    key=event.get("key"),
                    t=event["t"],
                )
            )

    def _add_batch_faults(self, definite: AnomalyList) -> None:
        """Batch runs whose rows do not add up, that end unstarted, or fail without why."""
        ledger = self.ledger
        for start, end in ledger.batch_mismatches:
            rows = start.get("rows", 0)
            changed = end.get("rows_changed", 0)
            unchanged = end.get("rows_unchanged", 0)
            failed = end.get("rows_failed", 0)
            ended = changed + unchanged + failed
            definite.add(
                Anomaly(
                    self.name,
                    "batch-rows-mismatch",
                    f"batch run {start['run_id']} extracted {rows} rows at {when(start['t'])} "
                    f"but ended with {changed} changed + {unchanged} unchanged + {failed} failed "
                    f"= {ended}: {abs(rows - ended)} rows unaccounted.",
                    entity=start.get("entity"),
                    system=start.get("target"),
                    t=start["t"],
                    via=start["run_id"],
                )
            )
        for event in ledger.batch_ends_unmatched:
            definite.add(
                Anomaly(
                    self.name,
                    "batch-end-without-start",
                    f"batch run {event['run_id']} ended at {when(event['t'])} but never started.",
                    entity=event.get("entity"),
                    system=event.get("target"),
                    t=event["t"],
                    via=event["run_id"],
                )
            )
        for event in ledger.batch_failures_without_reason:
            definite.add(
                Anomaly(
                    self.name,
                    "batch-failed-without-reason",
                    f"batch run {event['run_id']} failed {event.get('rows_failed', 0)} rows at "
                    f"{when(event['t'])} without saying why.",
                    entity=event.get("entity"),
                    system=event.get("target"),
                    t=event["t"],
                    via=event["run_id"],
                )
            )

    def _unaccounted_writes(self, pending: list[int]) -> AnomalyList:
        """Writes neither applied in their home system nor rejected."""
        ledger = self.ledger
        writes_open = AnomalyList()
        for i in pending:
            cold = ledger.cold[i]
            home = ledger.home_system(i)
            writes_open.add(
                Anomaly(
                    self.name,
                    "write-unaccounted",
                    f"{describe_write(ledger, i)} was neither applied in {home} nor rejected.",
                    write_ids=(ledger.ids[i],),
                    system=home,
                    entity=cold[C_ENTITY],
                    key=cold[C_KEY],
                    t=ledger.write_time(i),
                )
            )
        return writes_open

    def _open_runs_and_messages(self) -> AnomalyList:
        """Batch runs started but not ended, messages sent but not delivered or dead-lettered."""
        ledger = self.ledger
        open_items = AnomalyList()
        for run_id, start in ledger.batches_open.items():
            open_items.add(
                Anomaly(
                    self.name,
                    "batch-unfinished",
                    f"batch run {run_id} ({start.get('entity')} {start.get('source')} -> "
                    f"{start.get('target')}) started at {when(start['t'])} and never ended.",
                    entity=start.get("entity"),
                    system=start.get("target"),
                    t=start["t"],
                    via=run_id,
                )
            )
        for message_id, sent in ledger.messages_open.items():
            open_items.add(
                Anomaly(
                    self.name,
                    "message-unaccounted",
                    f"message {message_id} sent at {when(sent['t'])} was neither delivered nor "
                    "dead-lettered.",
                    entity=sent.get("entity"),
                    key=sent.get("key"),
                    t=sent["t"],
                    via=message_id,
                )
            )
        return open_items

    def _metrics(self, unaccounted: int) -> dict[str, int]:
        """The counts the verdict reports, whatever it finds."""
        ledger = self.ledger
        return {
            "writes": ledger.writes,
            "writes_applied": ledger.status.count(APPLIED),
            "writes_rejected": ledger.status.count(REJECTED),
            "writes_unaccounted": unaccounted,
            "batch_runs": ledger.batch_runs,
            "batch_runs_open": len(ledger.batches_open),
            "batch_runs_failed": ledger.batch_runs_failed,
            "messages_sent": ledger.messages_sent,
            "messages_delivered": ledger.messages_delivered,
            "messages_dead_lettered": ledger.dead_letters,
            "messages_open": len(ledger.messages_open),
        }
