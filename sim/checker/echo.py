"""Bounded echo: one save causes a bounded number of applies in each replica.

Two-way sync without loopback control copies a change back to where it came from, and
from there back again: the same write applied over and over ("multiple writes of the
same record", FACTS.md section 1). The measure is exact with write ids: count, per
(write, replica), the ``apply`` events whose ``fields`` list that write (an apply listing
it for several fields counts once). The save itself is the first apply in its own
system. ``contract.echo_bound`` is the most applies one write may cause in one replica;
exceeding it is a violation (code ``echo``), explained with the apply paths that kept
bringing the write back (and called an echo loop when it came back at least twice more
than allowed). Without an ``echo_bound`` the figures are reported and the invariant
holds.

One kind of apply is *not* counted: one that, for a field it lists the write for,
replaces a version saved in that very replica. That is an overwrite of a local save, not
an echo: a scheduled map re-sending a whole row puts an old write back over a user's
newer edit every time that user edits, as often as users edit. Whether the edit was lost
is ``no_lost_update``'s question (and a last-writer-wins design sanctions it); counting
it here too would fail a design's echo promise for the very overwrites it accepts. An
echo loop is still caught: a write bouncing between replicas replaces copies, not local
saves, on every round after the first. (``max_applies_per_write_replica`` reports the
raw count, overwrites included.)
"""

from __future__ import annotations

from typing import cast

from sim.checker.invariant import Invariant
from sim.checker.ledger import C_ENTITY, C_KEY
from sim.checker.verdicts import Anomaly, AnomalyList, Verdict, make_verdict
from sim.checker.wording import describe_via, describe_write, plural


class BoundedEcho(Invariant):
    name = "bounded_echo"

    def verdict(self) -> Verdict:
        ledger = self.ledger
        bound = ledger.contract.echo_bound
        most = max(ledger.max_applies, 1 if ledger.applies else 0)
        found = AnomalyList()
        for (i, system), vias in ledger.echo_over.items():
            if not found.room():
                found.count += 1
                continue
            applies = ledger.applies_in(i, system)
            overwrites = ledger.overwrites_in(i, system)
            echoes = applies - overwrites
            paths = ", ".join(dict.fromkeys(describe_via(v) for v in vias))
            loop = (
                ": the same write keeps coming back (an echo loop)"
                if (
                    echoes >= cast(int, bound) + 2  # echo_over is filled only under a bound
                )
                else ""
            )
            besides = (
                f" (besides {plural(overwrites, 'overwrite')} of a save made there)"
                if overwrites
                else ""
            )
            text = (
                f"{describe_write(ledger, i)} was applied {echoes} times in {system}"
                f"{besides}, above the echo bound of {bound}{loop}; the applies beyond the "
                f"bound came through {paths}."
            )
            found.add(
                Anomaly(
                    self.name,
                    "echo",
                    text,
                    write_ids=(ledger.ids[i],),
                    system=system,
                    entity=ledger.cold[i][C_ENTITY],
                    key=ledger.cold[i][C_KEY],
                    via=vias[0] if vias else None,
                )
            )
        metrics = {
            "max_applies_per_write_replica": most,
            "writes_over_bound": found.count,
            "applies": ledger.applies,
        }
        if bound is None:
            note = (
                f"no echo_bound in the contract; at most {most} applies of one write in one replica"
            )
        elif found.count:
            note = f"{plural(found.count, 'write')} applied more than {bound} times in a replica"
        elif most <= bound:
            note = f"at most {most} applies of one write in one replica (bound {bound})"
        else:
            # The raw count includes overwrites of a save made in that replica, which the
            # bound leaves out (see the module docstring): say so, or "at most 4 (bound 1)"
            # reads as a contradiction of "holds".
            note = (
                f"no write applied more than {plural(bound, 'time')} in a replica, not counting "
                f"overwrites of a save made there (bound {bound}); with them, at most {most}"
            )
        return make_verdict(
            self.name,
            found.items,
            found.count,
            sanctioned=self.is_sanctioned,
            metrics=metrics,
            note=note,
        )
