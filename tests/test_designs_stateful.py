"""Every design driven directly by Hypothesis, in any interleaving, no SimPy.

A :class:`DesignMachine` holds one :class:`~models.integration.Integration` and lets
Hypothesis choose what happens next: a user opens a form on any side, saves it later
(or at once), a batch run starts or finishes, a queued message is delivered (in any
order, after any delay), a lease is requested, time passes so leases expire. A Bundle
of forms over two record keys and two fields makes edits collide.

After every step the design's promised safety invariants are checked on the history so
far; at teardown everything is drained (runs finished, messages delivered, conflicts
resolved) and every promised invariant, convergence included, is judged by the checker.

The quality tests turn it around (STYLE.md 10): for designs that do *not* promise "no
lost update", Hypothesis must find one, and shrink it to a handful of steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from models.entities import Catalogue
from models.integration import Integration
from sim.checker import check_history
from sim.scenario.spec import load_design
from sim.scenario.yamlio import LineMap

ROOT = Path(__file__).resolve().parent.parent
KEYS = ("ACC-1", "ACC-2")
FIELDS = ("phone", "credit_limit")
SAFETY = ("ownership", "no_duplicate_keys", "bounded_echo")
DESIGNS = (
    "p2c-2017",
    "readonly-workaround",
    "dual-write-live",
    "dual-write-async",
    "cross-system-lock",
    "optimistic-version-check",
    "field-merge",
    "naive-bidirectional",
)


def design_named(name: str):
    return load_design(name, LineMap(name), None)[0]


@dataclass
class Form:
    """A form a user opened: what they saw, and the lease they hold if any."""

    actor: str
    system: str
    key: str
    field: str
    base: dict
    row_version: int
    lease: object


class DesignMachine(RuleBasedStateMachine):
    """Drive one design; subclasses set ``design`` (and ``extra_checks``)."""

    design = None
    extra_checks: tuple[str, ...] = ()
    last_steps: list[str] = []
    forms = Bundle("forms")

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict] = []
        self.integ = Integration(self.design, Catalogue(), self.events.append)
        self.now = 0.0
        self.pending: list = []
        self.batches: list = []
        self.actors = 0
        type(self).last_steps = self.steps = []
        self.events.append(
            {
                "t": 0.0,
                "kind": "run_start",
                "scenario": "stateful",
                "seed": 0,
                "design": self.design.name,
                "contract": self.integ.contract(),
            }
        )
        for key in KEYS:
            self.integ.save(
                now_s=0.0,
                actor="migration",
                role="migration",
                system="sales",
                entity="account",
                key=key,
                fields={"name": key, "phone": "0", "credit_limit": 0},
            )
        self.integ.initial_load(0.0)
        self.editable = sorted(self.design.editable["account"])
        self.batch_maps = sorted(self.integ.maps)

    # ---------------------------------------------------------------- helpers

    def _tick(self) -> float:
        self.now += 1.0
        return self.now

    def _collect(self) -> None:
        self.pending.extend(self.integ.take_outbox())

    def _actor(self, system: str) -> str:
        self.actors += 1
        return f"{system}-user-{self.actors}"

    def _open(self, system: str, key: str, field: str) -> Form:
        actor = self._actor(system)
        lease = None
        if self.integ.concurrency.mode == "lease_lock":
            lease = self.integ.acquire_lease(system, "account", key, actor, self._tick())
        base, version = self.integ.open_form(system, "account", key, (field,))
        return Form(actor, system, key, field, base, version, lease)

    def _save(self, form: Form, value: int) -> None:
        self.integ.save(
            now_s=self._tick(),
            actor=form.actor,
            role="user",
            system=form.system,
            entity="account",
            key=form.key,
            fields={form.field: value},
            base=form.base,
            opened_row_version=form.row_version,
            lease=form.lease,
        )
        if form.lease is not None:
            self.integ.release_lease(form.lease, self.now)
        self._collect()

    # ------------------------------------------------------------------ rules

    @rule(
        target=forms,
        system=st.sampled_from(("sales", "operations")),
        key=st.sampled_from(KEYS),
        field=st.sampled_from(FIELDS),
    )
    def open_form(self, system, key, field):
        self.steps.append(f"open_form({system}, {key}, {field})")
        return self._open(system, key, field)

    # Every save sets a value never used before: equal values would give the shrinker a
    # dimension that says nothing about interleavings.
    def _value(self) -> int:
        self.values_used = getattr(self, "values_used", 0) + 1
        return self.values_used

    @rule(form=consumes(forms))
    def save_form(self, form):
        value = self._value()
        self.steps.append(f"save_form({form.system}, {form.key}, {form.field}={value})")
        self._save(form, value)

    @rule(
        system=st.sampled_from(("sales", "operations")),
        key=st.sampled_from(KEYS),
        field=st.sampled_from(FIELDS),
    )
    def edit_now(self, system, key, field):
        value = self._value()
        self.steps.append(f"edit_now({system}, {key}, {field}={value})")
        self._save(self._open(system, key, field), value)

    @precondition(lambda self: self.batch_maps)
    @rule(data=st.data())
    def start_batch(self, data):
        name = data.draw(st.sampled_from(self.batch_maps))
        if self.integ.maps[name].running:
            return
        self.steps.append(f"start_batch({name})")
        self.batches.append(self.integ.start_run(name, self._tick()))

    @precondition(lambda self: self.batches)
    @rule(data=st.data())
    def finish_batch(self, data):
        batch = self.batches.pop(data.draw(st.integers(0, len(self.batches) - 1)))
        self.steps.append(f"finish_batch({batch.run_id})")
        self.integ.finish_run(batch, self._tick())

    @precondition(lambda self: self.pending)
    @rule(data=st.data())
    def deliver(self, data):
        message = self.pending.pop(data.draw(st.integers(0, len(self.pending) - 1)))
        self.steps.append(f"deliver({message.map_name} {message.key})")
        self.integ.deliver(message, self._tick())
        self._collect()

    @precondition(lambda self: self.integ.concurrency.mode == "lease_lock")
    @rule(seconds=st.sampled_from((60.0, 700.0)))
    def time_passes(self, seconds):
        self.steps.append(f"time_passes({seconds:g} s)")
        self.now += seconds

    # ------------------------------------------------------------- checking

    def _judge(self, names, events) -> list[str]:
        report = check_history(events, only=names)
        broken = []
        for name in names:
            verdict = report.verdicts[name]
            promised = name in self.design.promises or name in self.extra_checks
            if (
                promised
                and verdict.status == "violated"
                or (name in self.extra_checks and verdict.count)
            ):
                explanations = [a.explain() for a in verdict.anomalies[:3]]
                broken.append(f"{name}: {verdict.status} {explanations}")
        return broken

    check_every_step = True

    @invariant()
    def promised_safety_holds(self):
        if not self.check_every_step:
            return  # quality searches judge at teardown only: faster to find and shrink
        broken = self._judge(
            [n for n in SAFETY if n in self.design.promises or n in self.extra_checks], self.events
        )
        assert not broken, "\n".join(broken + self.steps)

    def drain(self) -> None:
        """Finish runs, run every map until nothing is pending, deliver every message,
        resolve every conflict; repeat until the integration is quiet."""
        for batch in self.batches:
            self.integ.finish_run(batch, self._tick())
        self.batches = []
        for _ in range(60):
            for name in self.batch_maps:
                if self.integ.pending(name):
                    self.integ.run_now(name, self._tick())
            while self.pending:
                self.integ.deliver(self.pending.pop(0), self._tick())
                self._collect()
            for conflict in self.integ.conflicts:
                if not conflict.resolved:
                    self.integ.resolve(conflict, self._tick(), "steward-1", "data_steward")
                    self._collect()
            if self.integ.quiet() and not self.pending:
                break

    def teardown(self):
        self.drain()
        events = [
            *self.events,
            {
                "t": self.now,
                "kind": "quiescence",
                "reached": self.integ.quiet(),
                "workload_end_t": self.now,
                "deadline_t": self.now,
            },
        ]
        names = [
            n
            for n in ("convergence", "no_lost_update", "accounted_for", *SAFETY)
            if n in self.design.promises or n in self.extra_checks
        ]
        broken = self._judge(names, events)
        assert not broken, "\n".join(broken + ["steps:", *self.steps])


def machine(
    design_name: str, extra: tuple[str, ...] = (), every_step: bool = True
) -> type[DesignMachine]:
    return type(
        f"{design_name.title().replace('-', '')}Machine",
        (DesignMachine,),
        {
            "design": design_named(design_name),
            "extra_checks": extra,
            "check_every_step": every_step,
        },
    )


# Example and step counts come from the Hypothesis profile (tests/conftest.py):
# HYPOTHESIS_PROFILE=deep explores each design far longer.
STATEFUL = settings(
    settings.default,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.mark.parametrize("design_name", DESIGNS)
def test_every_design_keeps_its_promises_in_any_interleaving(design_name):
    run_state_machine_as_test(machine(design_name), settings=STATEFUL)


# ------------------------------------------------------------- quality tests

SEARCH = settings(
    max_examples=400,
    stateful_step_count=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    report_multiple_bugs=False,
)


def _find_failure(design_name: str, extra: tuple[str, ...]) -> tuple[str, list[str]]:
    cls = machine(design_name, extra, every_step=False)
    with pytest.raises(AssertionError) as failure:
        run_state_machine_as_test(cls, settings=SEARCH)
    # Hypothesis attaches the shrunk example to the error as notes, one call a line:
    # "state.edit_now(...)". Those are the steps (the machine's set-up and the final
    # teardown are not).
    notes = getattr(failure.value, "__notes__", [])
    steps = [
        line
        for note in notes
        for line in note.splitlines()
        if line.startswith("state.")
        and not line.startswith(("state.teardown", "state.promised_safety_holds"))
    ]
    return str(failure.value), steps


@pytest.mark.slow
@pytest.mark.parametrize("design_name", ("p2c-2017", "dual-write-live", "naive-bidirectional"))
def test_hypothesis_finds_a_lost_update_in_designs_that_do_not_promise_none(design_name):
    message, steps = _find_failure(design_name, ("no_lost_update",))
    assert "no_lost_update" in message
    assert 1 <= len(steps) <= 4, steps


def test_naive_bidirectional_is_caught_echoing():
    message, steps = _find_failure("naive-bidirectional", ("bounded_echo",))
    assert "bounded_echo" in message
    assert len(steps) <= 2, steps
