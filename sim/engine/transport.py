"""Transport: how changes travel between systems. Here, scheduled batch maps.

Each map is one SimPy process (STYLE.md 2): wait for the next tick of its schedule,
extract, spend the run's duration, load. Ticks fall at ``offset_s + k * interval_s``
(k >= 1). A run never starts before the previous run of the same map has finished
(Data Integrator, FACTS.md section 1): a tick that finds the map still running is
skipped and counted. Later transports (live writes, async queues) join this module.
"""

from __future__ import annotations

import math
from typing import Any

from simpy.events import NORMAL

from models import events as ev
from models.design import Latency
from sim.engine.workload import draw_s


def next_tick_s(now_s: float, offset_s: float, interval_s: float) -> float:
    """The first tick strictly after ``now_s`` (ticks at offset + k*interval, k >= 1)."""
    k = max(1, math.floor((now_s - offset_s) / interval_s) + 1)
    return offset_s + k * interval_s


DATAVERSE_SIDES = ("sales", "hub")  # systems behind Dataverse's service protection


def _run_load_s(world, batch, settings) -> float:
    """How long loading a run's rows takes, with Dataverse throttling on the way.

    Each row is one request of the Data Integrator's application user against the
    target; over the service protection limits a request is answered 429 and retried
    after its Retry-After, which stretches the run.
    """
    rows = len(batch.rows)
    limiter = world.service_protection
    if limiter is None or batch.target not in DATAVERSE_SIDES or rows == 0:
        return settings.row_time_s * rows
    identity = f"data-integrator@{batch.target}"
    counts = world.metrics.counts
    t = world.env.now + settings.run_overhead_s
    start = t
    for _ in range(rows):
        while True:
            wait = limiter.admit(identity, t)
            if wait == 0.0:
                break
            counts["throttled_requests"] += 1
            counts["retry_delay_s"] += wait
            t += wait
        t += settings.row_time_s
    return t - start


def batch_schedule(env, world, map_name: str):
    """Fire one map on its schedule until the world stops the simulation.

    A run whose source and target cannot reach each other when it starts or when it
    loads (outage, crash, partition) fails: nothing is applied and the next scheduled
    run retries the same rows.
    """
    integ = world.integration
    state = integ.maps[map_name]
    settings = state.settings
    spec = state.spec
    tick = next_tick_s(env.now, settings.offset_s, settings.interval_s)
    while True:
        yield env.timeout(tick - env.now)
        if world.stopped:
            return  # quiescence was reached at this instant: no new run starts
        batch = integ.start_run(map_name, env.now)
        reachable_at_start = integ.reachable(spec.source, spec.target)
        duration_s = settings.run_overhead_s + (
            _run_load_s(world, batch, settings) if reachable_at_start else 0.0
        )
        if duration_s > 0:
            yield env.timeout(duration_s)
        if reachable_at_start and integ.reachable(spec.source, spec.target):
            integ.finish_run(batch, env.now)
        else:
            down = sorted(integ.down & {spec.source, spec.target})
            why = (
                f"{', '.join(down)} unavailable"
                if down
                else f"no route between {spec.source} and {spec.target}"
            )
            integ.fail_run(batch, env.now, f"run failed: {why}; retried at the next run")
            world.metrics.counts["batch_runs_failed"] += 1
        following = next_tick_s(env.now, settings.offset_s, settings.interval_s)
        # Ticks that fell while the run was going are skipped, never queued.
        skipped = int(round((following - tick) / settings.interval_s)) - 1
        if skipped > 0:
            state.skipped_ticks += skipped
        tick = following


class _Attempt:
    """A delivery attempt waiting in SimPy's queue: a bare event (no value, never failed)
    that :meth:`Courier._schedule` pushes where ``env.timeout`` would push a Timeout.

    ``Environment.step`` reads only ``callbacks`` (called with the event, then set to
    None) and ``_ok``; the attempt's message and number travel on the event itself.
    """

    __slots__ = ("callbacks", "message", "attempt", "catch_up")
    _ok = True

    def __init__(self, callbacks: tuple, message, attempt: int, catch_up: bool) -> None:
        self.callbacks = callbacks
        self.message = message
        self.attempt = attempt
        self.catch_up = catch_up


class Courier:
    """The carrier of queued messages: latency, faults, throttling, retries, pauses.

    The integration calls :meth:`send` for every message. A delivery attempt happens
    after the map's latency (times any latency spike, plus any reordering delay); it
    fails when the target cannot be reached or throttles the request (429 with a
    Retry-After). A failed attempt is retried with exponential backoff and full jitter
    (from the map's own stream), never sooner than the Retry-After; after the design's
    ``max_attempts`` or ``max_age_s`` the message is dead-lettered with its last reason.
    Faults may lose an attempt (redelivered later: at-least-once) or duplicate it.

    A paused map (dual-write maintenance) holds its messages. Past the pause limits (1
    day, 1 GB) further messages are blocked: dead-lettered with the reason, never
    silently. On resume the held messages catch up in order; one that still fails is
    kept for the retention period (1 day) and then purged, again with a reason.
    """

    def __init__(self, env, world) -> None:
        self.env = env
        self.world = world
        self.integ = world.integration
        self.specs = self.integ.design.maps
        self.retry = self.integ.design.retry
        self.live_limits = self.integ.design.live
        self.limits = self.integ.design.limits
        self.held: dict[str, list] = {}  # paused map -> messages waiting
        # A well-behaved client honours Retry-After for the whole identity: once answered
        # 429, it sends nothing more until the wait is over (so it is not "pushing").
        self.blocked_until: dict[str, float] = {}
        self.held_bytes: dict[str, int] = {}
        self.counts = world.metrics.counts
        # Per map, looked up on every message: its stream, and its stream with its latency
        # distribution (the design's, fixed for the run), and its identity at Dataverse.
        self._streams: dict[str, object] = {}
        self._links: dict[str, tuple[Any, Latency]] = {}
        self._identity = {name: f"app:{name}" for name in self.specs}
        # Every _Attempt's callbacks: SimPy calls _attempt with it when it falls due.
        self._on_due = (self._attempt,)

    def _stream(self, map_name: str):
        stream = self._streams.get(map_name)
        if stream is None:
            stream = self._streams[map_name] = self.world.streams.get(f"link:{map_name}")
        return stream

    # ------------------------------------------------------------- sending

    def send(self, message) -> None:
        counts = self.counts
        depth = self.integ.in_flight
        if depth > counts.get("max_queue_depth", 0):
            counts["max_queue_depth"] = depth
        if message.map_name in self.integ.paused:
            self._hold(message)
            return
        self._schedule(message, self._latency_s(message.map_name), 1)

    def _link(self, map_name: str) -> tuple[Any, Latency]:
        link = self._links[map_name] = (
            self._stream(map_name),
            self.integ.design.map_latency(self.specs[map_name]),
        )
        return link

    def _latency_s(self, map_name: str) -> float:
        rng, latency = self._links.get(map_name) or self._link(map_name)
        faults = self.world.faults
        # The fault tables are asked only when some such fault is in force (FaultState
        # answers 1.0 and 0.0 for an empty table): two calls fewer per message.
        delay = draw_s(latency, rng) * (faults.latency_factor(map_name) if faults.spikes else 1.0)
        extra = faults.reorder_s(map_name) if faults.reorder else 0.0
        if extra:
            delay += float(rng.random() * extra)
        return delay

    def _schedule(self, message, delay_s: float, attempt: int, catch_up: bool = False):
        # Scheduled as env.timeout(delay_s) schedules its Timeout (Environment.schedule:
        # the same time, priority and next insertion number, so the same place in SimPy's
        # queue), but an _Attempt: one object per attempt, no Timeout, callbacks list or
        # closure built, and SimPy calls _attempt with it directly.
        self.env.schedule(_Attempt(self._on_due, message, attempt, catch_up), NORMAL, delay_s)

    # ------------------------------------------------------------ attempts

    def _refusal(self, message) -> tuple[str | None, float]:
        """Why the target cannot take the message now, and any Retry-After."""
        integ = self.integ
        # reachable() is True while nothing is down or partitioned: asked only then.
        if (integ.down or integ.partitions) and not integ.reachable(message.source, message.target):
            down = sorted(integ.down & {message.source, message.target})
            return (
                (
                    f"{', '.join(down)} unavailable"
                    if down
                    else f"no route between {message.source} and {message.target}"
                ),
                0.0,
            )
        if self.limits.enabled:
            limiter = self.world.service_protection
            if message.target in DATAVERSE_SIDES and limiter is not None:
                identity = self._identity[message.map_name]
                wait = limiter.admit(identity, self.env.now)
                if wait:
                    self.blocked_until[identity] = self.env.now + wait
                    return (f"429 Too Many Requests (Retry-After {wait:.0f} s)", wait)
            exempt = integ.design.exempt_from_operations_throttling
            if message.target == "operations" and not exempt:
                spec = self.specs[message.map_name]
                wait = self.world.priority_throttle.admit(spec.priority, self.env.now)
                if wait:
                    return (
                        f"429 from Operations ({spec.priority} priority, Retry-After {wait:.1f} s)",
                        wait,
                    )
        return None, 0.0

    def _attempt(self, due: _Attempt) -> None:
        """A delivery attempt falls due (SimPy calls this with the :class:`_Attempt`)."""
        message, attempt, catch_up = due.message, due.attempt, due.catch_up
        env, integ, counts = self.env, self.integ, self.counts
        if message.map_name in integ.paused and not catch_up:
            self._hold(message)
            return
        faults = self.world.faults
        loss = faults.loss(message.map_name) if faults.losses else None
        if loss is not None and self._stream(message.map_name).random() < loss[0]:
            counts["deliveries_lost"] += 1
            self.world.emit(
                {
                    "t": env.now,
                    "kind": ev.DELIVERY_LOST,
                    "message_id": message.message_id,
                    "map": message.map_name,
                }
            )
            if self.retry.redeliver_lost:
                self._schedule(message, loss[1], attempt + 1, catch_up)  # redelivered
            return
        blocked = self.blocked_until.get(self._identity[message.map_name], 0.0)
        if blocked > env.now:
            # Waiting out the identity's Retry-After: not an attempt, not a request.
            jitter = float(self._stream(message.map_name).random())
            self._schedule(message, blocked - env.now + jitter, attempt, catch_up)
            return
        reason, retry_after = self._refusal(message)
        if reason is not None:
            if retry_after:
                counts["throttled_requests"] += 1
                # A 429 is the server pacing the client, not a failed attempt: it does
                # not use up the retry budget (the message's age still bounds it).
                attempt -= 1
            self._retry(message, max(attempt, 0), reason, retry_after, catch_up)
            return
        integ.deliver(message, env.now)
        duplicate = faults.duplicate_probability(message.map_name) if faults.duplicate else 0.0
        if duplicate and self._stream(message.map_name).random() < duplicate:
            counts["deliveries_duplicated"] += 1
            self._schedule(message, self._latency_s(message.map_name), attempt, catch_up)

    def _retry(
        self, message, attempt: int, reason: str, retry_after: float, catch_up: bool
    ) -> None:
        env, counts, policy = self.env, self.counts, self.retry
        age = env.now - message.sent_s
        limit_s = self.live_limits.catch_up_error_retention_s if catch_up else policy.max_age_s
        if attempt >= policy.max_attempts or age >= limit_s:
            why = (
                f"purged: failed during catch-up and kept "
                f"{self.live_limits.catch_up_error_retention_s / 3600:g} h ({reason})"
                if catch_up
                else f"gave up after {attempt} attempts over {age:.0f} s: {reason}"
            )
            counts["dead_letters." + ("purged" if catch_up else "retries_exhausted")] += 1
            self.integ.dead_letter(message, env.now, why)
            return
        backoff = min(policy.cap_s, policy.base_s * 2.0 ** (attempt - 1))
        wait = max(retry_after, float(self._stream(message.map_name).random() * backoff))
        counts["delivery_retries"] += 1
        counts["retry_delay_s"] += wait
        self._schedule(message, wait, attempt + 1, catch_up)

    # -------------------------------------------------------------- pauses

    def _hold(self, message) -> None:
        env, counts = self.env, self.counts
        name = message.map_name
        since = self.integ.paused.get(name, env.now)
        size = self.limits.record_bytes * max(1, len(message.versions))
        held_bytes = self.held_bytes.get(name, 0)
        limits = self.live_limits
        if env.now - since > limits.max_pause_s or held_bytes + size > limits.max_pause_bytes:
            counts["dead_letters.pause_overflow"] += 1
            over = (
                "longer than " + f"{limits.max_pause_s / 3600:g} h"
                if env.now - since > limits.max_pause_s
                else f"over {limits.max_pause_bytes / 1e9:g} GB queued"
            )
            self.integ.dead_letter(
                message, env.now, f"blocked: map {name} paused {over}; the change was lost"
            )
            return
        self.held.setdefault(name, []).append(message)
        self.held_bytes[name] = held_bytes + size
        if len(self.held[name]) > counts.get("max_paused_queue", 0):
            counts["max_paused_queue"] = len(self.held[name])

    def pause(self, names, now_s: float) -> None:
        for name in names:
            self.held.setdefault(name, [])

    def resume(self, names, now_s: float) -> None:
        """Catch up: deliver every held message in order, about 100 records a minute."""
        env = self.env
        for name in names:
            waiting = self.held.pop(name, [])
            self.held_bytes.pop(name, None)
            spacing_s = 0.6  # FACTS 2: training material quotes about 100 records/minute
            for position, message in enumerate(waiting):
                self._schedule(message, spacing_s * (position + 1), attempt=1, catch_up=True)
            if waiting:
                self.counts["catch_up_records"] += len(waiting)
                self.counts["catch_up_duration_s"] = max(
                    self.counts.get("catch_up_duration_s", 0.0), spacing_s * len(waiting)
                )
                env.process(_note_catch_up(env, self.world, name, spacing_s * len(waiting)))


def _note_catch_up(env, world, name: str, duration_s: float):
    world.emit({"t": env.now, "kind": ev.CATCH_UP_START, "map": name, "expected_s": duration_s})
    yield env.timeout(duration_s)
    world.emit({"t": env.now, "kind": ev.CATCH_UP_END, "map": name})
