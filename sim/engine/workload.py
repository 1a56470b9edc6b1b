"""The organisation at work: users following the prospect-to-cash business flow.

Each user is one SimPy process (a generator taking ``env`` first, STYLE.md 2): during
their role's working hours they start actions at the role's rates (a Poisson process
per user, independent of how long forms stay open: a user may have several forms open),
open a form (which fixes the *base* of their save: the versions they saw), keep it open
for a drawn time, then save. The business flow runs through the actions, defined
with their rules in ``models/actions.py`` (this module decides *when*; a plan there
decides *what*, asking the integration, never reading replica tables here):

    Sales:       create/edit accounts and contacts, create quotes, convert a quote to an
                 order, edit and activate Draft orders, cancel Draft orders, bundles
    Operations:  edit customers (credit data), confirm Active orders, pick/pack/ship,
                 invoice shipped orders, create/edit/retire products

Products are retired in Operations while bundles that point at them live on in Sales:
the seed post's bundle question shows up as bundle lines referencing retired products.

Scripted actions (exact who, when, what) replay an incident and mix with random work.
Every random draw comes from the user's own named stream, so adding a role does not
change what the others do.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.actions import ActionDef, Desk, Plan, Save, resolve_action
from models.integration import Integration
from sim.engine.rhythm import RhythmCalendar
from sim.scenario.rhythm import hours_range
from sim.scenario.spec import WEEKDAY_NAMES
from sim.scenario.yamlio import InputError

# ------------------------------------------------------------ the users


class WorkCalendar:
    """Working time of one role: which weekdays, which hours; run starts Monday 00:00."""

    def __init__(self, workdays: tuple[int, ...], start_s: float, end_s: float) -> None:
        self.workdays = frozenset(workdays)
        self.start_s = start_s
        self.end_s = end_s

    def advance(self, now_s: float, work_s: float) -> float:
        """The instant ``work_s`` seconds of working time after ``now_s``."""
        if not self.workdays:
            return float("inf")
        t = now_s
        remaining = work_s
        while True:
            day = int(t // 86_400)
            midnight = day * 86_400.0
            if day % 7 in self.workdays:
                open_s = midnight + self.start_s
                close_s = midnight + self.end_s
                if t < open_s:
                    t = open_s
                if t < close_s:
                    available = close_s - t
                    if remaining <= available:
                        return t + remaining
                    remaining -= available
            t = midnight + 86_400.0


@dataclass(slots=True)
class User:
    """One person: identity, role, where they work, and their own random stream."""

    actor: str
    role: str
    system: str
    rng: np.random.Generator
    calendar: WorkCalendar
    rate_per_s: float
    cumulative: tuple[float, ...]  # cumulative action probabilities
    actions: tuple[ActionDef, ...]
    action_systems: tuple[str, ...]
    form_median_s: float
    form_sigma: float
    desk: Desk  # the records this user works
    form_log_median: float  # math.log(form_median_s), worked out once per role
    # The metric names counted per action started: ``actions.<name>`` per action (in
    # ``actions`` order) and ``actions_started.<role>``, spelled once, not per action.
    action_counters: tuple[str, ...] = ()
    started_counter: str = ""


#: The exponential and logarithm of every draw are the C library's (``math``), never
#: numpy's ufuncs: numpy picks its ``exp`` and ``log`` kernels by CPU, and its AVX-512 ones
#: round differently from the rest. Measured 2026-12-02 on this machine (numpy 2.4.6):
#: ``np.exp`` of 100,000 normal draws gave another double than ``math.exp`` for 4,659 of
#: them with AVX-512 on and for none with numpy held to its baseline kernels
#: (``NPY_ENABLE_CPU_FEATURES=X86_V2``), and the hub_outage reference run recorded
#: another trace; the same seed must give the same trace on any machine
#: (tests/test_fingerprints.py runs the reference runs both ways).
_exp = math.exp


def draw_s(latency, rng: np.random.Generator) -> float:
    """One delay from a design's :class:`~models.design.Latency`."""
    if latency.distribution == "fixed" or latency.median_s == 0:
        return float(latency.median_s)
    if latency.distribution == "exponential":
        return float(rng.exponential(latency.median_s))
    return latency.median_s * _exp(latency.sigma * rng.standard_normal())


def _reopen(integ: Integration, system: str, plan: Plan) -> None:
    """Read the forms again (after a wait): fresh bases and row versions."""
    for save in plan:
        if save.base is not None:
            save.base, save.opened_row_version = integ.open_form(
                system, save.entity, save.key, tuple(save.fields)
            )


def acquire_leases(env, world, actor: str, system: str, plan: Plan, rng, replan=None):
    """cross-system-lock: lease every record the plan updates, waiting and retrying.

    After a wait the user looks again: ``replan()`` (when given) decides anew what to do
    with what the system shows now (another clerk may have shipped the order meanwhile),
    else the same forms are re-read. Returns ``(leases, plan)``, or ``(None, plan)`` when
    the user gave up after the design's retries or found nothing left to do.
    """
    integ = world.integration
    rules = integ.concurrency
    counts = world.metrics.counts
    for attempt in range(rules.max_retries + 1):
        if attempt:
            if replan is not None:
                plan = replan()
                if not plan:
                    return None, plan
            else:
                _reopen(integ, system, plan)
        leases = []
        for save in plan:
            if save.base is None:
                continue
            lease = integ.acquire_lease(system, save.entity, save.key, actor, env.now)
            if lease is None:
                break
            leases.append(lease)
        else:
            return leases, plan
        for lease in leases:
            integ.release_lease(lease, env.now)
        if attempt == rules.max_retries:
            break
        counts["lock_waits"] += 1
        counts["blocked_user_s"] += rules.retry_s
        yield env.timeout(rules.retry_s)
    counts["lock_abandoned"] += 1
    return None, plan


def carry_out(
    env,
    world,
    actor: str,
    role: str,
    system: str,
    plan: Plan,
    opened_s: float,
    rng: np.random.Generator,
    leases=None,
):
    """Save every record of a plan: live writes wait for the other side, refusals may
    be handed off (readonly-workaround), leases are used and released."""
    integ = world.integration
    counts = world.metrics.counts
    design = integ.design
    lease_of = {(lease.entity, lease.key): lease for lease in leases or ()}
    stalled_until = world.client_paused.get(actor, 0.0)
    if stalled_until > env.now:
        # The user's client is stalled (client_pause): the save goes out on resume.
        counts["blocked_user_s"] += stalled_until - env.now
        yield env.timeout(stalled_until - env.now)
    for save in plan:
        live_delay_s = 0.0
        for name, spec in integ.links.get((system, save.entity), ()):
            if spec.transport == "live":
                live_delay_s += draw_s(design.map_latency(spec), world.streams.get(f"link:{name}"))
        if live_delay_s > 0:
            # The user waits while the other side commits in the same transaction.
            counts["blocked_user_s"] += live_delay_s
            yield env.timeout(live_delay_s)
        gate = world.licences
        if gate is not None and not gate.allows(role, system, save.entity):
            # The user's licences do not cover this save: a licensed colleague does it
            # later, or nobody does.
            env.process(licence_handoff(env, world, role, system, save, rng))
            continue
        write = integ.save(
            now_s=env.now,
            actor=actor,
            role=role,
            system=system,
            entity=save.entity,
            key=save.key,
            fields=save.fields,
            base=save.base,
            opened_s=opened_s,
            opened_row_version=save.opened_row_version,
            lease=lease_of.get((save.entity, save.key)) if lease_of else None,
            live_delay_s=live_delay_s,
            transaction_records=len(plan),
        )
        refusal = integ.last_refusal
        if write is None and design.handoff is not None and refusal and "read-only" in refusal:
            env.process(handoff_process(env, world, actor, save, rng, role))
    for lease in lease_of.values():
        integ.release_lease(lease, env.now)


def licence_handoff(env, world, role: str, system: str, save: Save, rng: np.random.Generator):
    """A save outside the user's licences: handed to a licensed colleague, or refused."""
    counts = world.metrics.counts
    rules = world.scenario.spec.licensing.handoff
    colleague = world.licences.colleague(system, save.entity, exclude=role)
    if colleague is None or rng.random() < rules.give_up_probability:
        counts["licence_refusals"] += 1
        counts[f"licence_refusals.{role}.{save.entity}"] += 1
        return
    counts["licence_handoffs"] += 1
    counts[f"licence_handoffs.{role}.{save.entity}"] += 1
    delay_s = rules.median_delay_s * _exp(rules.sigma * rng.standard_normal())
    counts["licence_handoff_delay_s"] += delay_s
    yield env.timeout(delay_s)
    integ = world.integration
    base, row_version = integ.open_form(system, save.entity, save.key, tuple(save.fields))
    integ.save(
        now_s=env.now,
        actor=f"{colleague}-licence-handoff",
        role=colleague,
        system=system,
        entity=save.entity,
        key=save.key,
        fields=save.fields,
        base=base if integ.has_record(system, save.entity, save.key) else None,
        opened_row_version=row_version,
    )


def handoff_process(
    env, world, actor: str, save: Save, rng: np.random.Generator, role: str = "unknown"
):
    """readonly-workaround: the refused user asks a colleague who may edit it there.
    Counted in total and per requesting role and entity (``handoffs.<role>.<entity>``)."""
    integ = world.integration
    handoff = integ.design.handoff
    counts = world.metrics.counts
    if rng.random() < handoff.give_up_probability:
        counts["handoffs_abandoned"] += 1
        counts[f"handoffs_abandoned.{role}.{save.entity}"] += 1
        return
    counts["handoffs"] += 1
    counts[f"handoffs.{role}.{save.entity}"] += 1
    delay_s = draw_s(handoff.delay, rng)
    counts["handoff_delay_s"] += delay_s
    yield env.timeout(delay_s)
    where = integ.design.editable.get(save.entity, {})
    system = next(iter(where), None)
    if system is None:
        return
    colleague = f"{handoff.to_role}-handoff"
    base, row_version = integ.open_form(system, save.entity, save.key, tuple(save.fields))
    integ.save(
        now_s=env.now,
        actor=colleague,
        role=handoff.to_role,
        system=system,
        entity=save.entity,
        key=save.key,
        fields=save.fields,
        base=base,
        opened_row_version=row_version,
    )
    counts["handoffs_done"] += 1


def user_process(env, world, user: User):
    """One user's working week: actions arrive at the role's rates, in working hours.

    Arrivals are a Poisson process in working time at the sum of the role's rates (an
    exponential gap of working time after each arrival, so a gap that runs past the end
    of the day goes on the next working morning), independent of how long forms stay
    open: each arrival opens its form at once and runs as its own session
    (:func:`form_session` with leases, else :func:`_open_form`), so a user may have
    several forms open at a time, as with several browser tabs. The number of actions
    started is then Poisson with mean ``rate x users x working hours`` whatever the form
    times (a user who waited for each form to close before drawing the next gap would
    deliver fewer: the form time would be lost from every gap).
    """
    integ = world.integration
    rng = user.rng
    end_s = world.workload_end_s
    counts = world.metrics.counts
    mean_gap_s = 1.0 / user.rate_per_s
    uses_leases = integ.rule.uses_leases
    start = user.calendar.advance(env.now, float(rng.exponential(mean_gap_s)))
    if start >= end_s:
        return
    timer = env.timeout(start - env.now)
    while True:
        yield timer
        # bisect_right on the same float64 values is numpy's searchsorted(side="right").
        index = min(bisect_right(user.cumulative, rng.random()), len(user.actions) - 1)
        action = user.actions[index]
        system = user.action_systems[index]
        plan = action.plan(integ, system, rng, user.desk)
        counts[user.action_counters[index]] += 1
        counts[user.started_counter] += 1
        if not plan:
            counts["actions_idle"] += 1  # nothing to do (e.g. no Shipped order to invoice)
        elif uses_leases:
            env.process(form_session(env, world, user, action, system, plan))
        # The next arrival is drawn (and its timeout scheduled) before the form opens,
        # as when the form was a process of its own that started after this one yielded.
        start = user.calendar.advance(env.now, float(rng.exponential(mean_gap_s)))
        timer = env.timeout(start - env.now) if start < end_s else None
        if plan and not uses_leases:
            _open_form(env, world, user, system, plan)
        if timer is None:
            return


def _open_form(env, world, user: User, system: str, plan: Plan) -> None:
    """One form without leases, opened now: :func:`form_session` without a process.

    Run as its own SimPy process, a form cost a process, its start event and its end
    event (which nobody waits for); here the form's hold is one timeout whose callback
    drives :func:`carry_out` the way SimPy drives a process (resuming it when each
    timeout it yields fires), in the same order.
    """
    world.open_forms += 1
    opened_s = env.now
    rng = user.rng
    hold_s = _exp(user.form_log_median + user.form_sigma * rng.standard_normal())

    def saves(_event) -> None:
        steps = carry_out(env, world, user.actor, user.role, system, plan, opened_s, rng)
        _FormSteps(steps, world)()

    env.timeout(hold_s).callbacks.append(saves)


class _FormSteps:
    """Drives a form's :func:`carry_out` as SimPy drives a process: called once to start
    and then by each event the steps yield, until they are done.

    An object rather than a closure that appends itself: a function naming itself is a
    reference cycle (function, closure cell, function), so every form left its function,
    cells and finished generator for the cyclic collector (about 130,000 objects at
    1,000 users for one day, walked when a run re-enables it). This object is referenced
    only by the pending event's callbacks and is freed by reference counting when the
    last one has run.
    """

    __slots__ = ("steps", "world")

    def __init__(self, steps: Iterator[Any], world: Any) -> None:
        self.steps = steps
        self.world = world

    def __call__(self, _event: Any = None) -> None:
        try:
            event = next(self.steps)
        except StopIteration:
            self.world.open_forms -= 1
            return
        event.callbacks.append(self)


def form_session(env, world, user: User, action: ActionDef, system: str, plan: Plan):
    """One form of one user, from opening (after any lease wait) to its saves."""
    integ = world.integration
    rng = user.rng
    world.open_forms += 1
    leases = None
    if integ.rule.uses_leases:
        leases, plan = yield from acquire_leases(
            env,
            world,
            user.actor,
            system,
            plan,
            rng,
            replan=lambda: action.plan(integ, system, rng, user.desk),
        )
        if leases is None:
            world.open_forms -= 1
            return
    opened_s = env.now
    hold_s = _exp(user.form_log_median + user.form_sigma * rng.standard_normal())
    yield env.timeout(hold_s)
    yield from carry_out(env, world, user.actor, user.role, system, plan, opened_s, rng, leases)
    world.open_forms -= 1


def scripted_process(env, world, action, actor: str):
    """One scripted save: open the form at ``opened_at`` (fixing its base), save at ``at``."""
    integ = world.integration
    opened_s = action.opened_s
    if opened_s > env.now:
        yield env.timeout(opened_s - env.now)
    if not action.create and not integ.has_record(action.system, action.entity, action.key):
        raise InputError(
            f"scripted save at {action.at} ({actor}): {action.system} has no "
            f"{action.entity} {action.key} when the form is opened; a save that creates "
            "the record says create: true"
        )
    world.open_forms += 1
    base, row_version = integ.open_form(
        action.system, action.entity, action.key, tuple(action.fields)
    )
    plan = [
        Save(
            action.entity,
            action.key,
            dict(action.fields),
            base if integ.has_record(action.system, action.entity, action.key) else None,
            row_version,
        )
    ]
    rng = world.streams.get(f"script:{actor}")
    leases = None
    if integ.rule.uses_leases:
        leases, plan = yield from acquire_leases(env, world, actor, action.system, plan, rng)
        if leases is None:
            world.open_forms -= 1
            return
    if action.at_s > env.now:
        yield env.timeout(action.at_s - env.now)
    world.metrics.counts["actions.scripted"] += 1
    yield from carry_out(env, world, actor, action.role, action.system, plan, opened_s, rng, leases)
    world.open_forms -= 1


def resolver_process(env, world, conflict):
    """optimistic-version-check: a person resolves a queued conflict after a while."""
    integ = world.integration
    rules = integ.concurrency
    role = rules.resolver_role or "resolver"
    rng = world.streams.get(f"resolver:{role}")
    delay_s = draw_s(rules.resolution, rng)
    world.metrics.counts["conflict_resolution_s"] += delay_s
    yield env.timeout(delay_s)
    integ.resolve(conflict, env.now, actor=f"{role}-1", role=role)
    world.metrics.counts["conflicts_resolved"] += 1


def role_calendar(spec, role):
    """A role's working time: a flat UTC day (:class:`WorkCalendar`), or its rhythm
    (:class:`sim.engine.rhythm.RhythmCalendar`: time zone, hourly profile, month end)."""
    start_s, end_s = hours_range(role.working_hours)
    workdays = tuple(WEEKDAY_NAMES.index(d) for d in role.workdays)
    if not role.has_rhythm:
        return WorkCalendar(workdays, start_s, end_s)
    return RhythmCalendar(
        start_date=spec.start_date,
        horizon_days=spec.duration_days,
        workdays=workdays,
        start_s=start_s,
        end_s=end_s,
        zone=role.timezone,
        profile=role.hourly_profile,
        month_end=role.month_end,
    )


def build_users(world) -> list[User]:
    """Every user of every role, in scenario order, each with a named stream."""

    users = []
    for role_name, role in world.scenario.spec.roles.items():
        rates = [(name, rate) for name, rate in role.actions.items() if rate > 0]
        total_per_h = sum(rate for _, rate in rates)
        if role.headcount == 0 or total_per_h == 0:
            continue
        calendar = role_calendar(world.scenario.spec, role)
        cumulative = tuple(np.cumsum([rate / total_per_h for _, rate in rates]).tolist())
        actions = tuple(resolve_action(name, world.scenario.catalogue) for name, _ in rates)
        action_counters = tuple(f"actions.{action.name}" for action in actions)
        # An action runs in the role's home system when it can, else its other system.
        systems = tuple(next(s for s in role.systems if s in a.systems) for a in actions)
        log_median = math.log(role.form_open.median_s)
        for i in range(role.headcount):
            actor = f"{role_name}-{i + 1}"
            users.append(
                User(
                    actor=actor,
                    role=role_name,
                    system=role.home_system,
                    rng=world.streams.get(f"user:{actor}"),
                    calendar=calendar,
                    rate_per_s=total_per_h / 3600.0,
                    cumulative=cumulative,
                    actions=actions,
                    action_systems=systems,
                    form_median_s=role.form_open.median_s,
                    form_sigma=role.form_open.sigma,
                    desk=Desk(actor),
                    form_log_median=log_median,
                    action_counters=action_counters,
                    started_counter=f"actions_started.{role_name}",
                )
            )
    return users
