"""Transport: how changes travel between systems. Here, scheduled batch maps.

Each map is one SimPy process (STYLE.md 2): wait for the next tick of its schedule,
extract, spend the run's duration, load. Ticks fall at ``offset_s + k * interval_s``
(k >= 1). A run never starts before the previous run of the same map has finished
(Data Integrator, FACTS.md section 1): a tick that finds the map still running is
skipped and counted. Later transports (live writes, async queues) join this module.
"""

from __future__ import annotations

import math


def next_tick_s(now_s: float, offset_s: float, interval_s: float) -> float:
    """The first tick strictly after ``now_s`` (ticks at offset + k*interval, k >= 1)."""
    k = max(1, math.floor((now_s - offset_s) / interval_s) + 1)
    return offset_s + k * interval_s


def batch_schedule(env, world, map_name: str):
    """Fire one map on its schedule until the world stops the simulation."""
    integ = world.integration
    state = integ.maps[map_name]
    settings = state.settings
    tick = next_tick_s(env.now, settings.offset_s, settings.interval_s)
    while True:
        yield env.timeout(tick - env.now)
        if world.stopped:
            return  # quiescence was reached at this instant: no new run starts
        batch = integ.start_run(map_name, env.now)
        duration_s = integ.run_duration_s(batch)
        if duration_s > 0:
            yield env.timeout(duration_s)
        integ.finish_run(batch, env.now)
        following = next_tick_s(env.now, settings.offset_s, settings.interval_s)
        # Ticks that fell while the run was going are skipped, never queued.
        skipped = int(round((following - tick) / settings.interval_s)) - 1
        if skipped > 0:
            state.skipped_ticks += skipped
        tick = following


def queue_courier(env, world):
    """The carrier of queued messages: each is delivered after its map's latency.

    Returns the callback the integration calls for every message it sends. Delays come
    from the map's own stream (``link:<map>``), so two maps never share randomness.
    Delivery is one SimPy timeout with a callback, the cheapest thing SimPy offers; a
    message's delivery may send further messages (forwarding), scheduled the same way.
    """
    from sim.workload import draw_s

    integ = world.integration
    specs = integ.design.maps

    def send(message) -> None:
        spec = specs[message.map_name]
        delay_s = draw_s(spec.latency, world.streams.get(f"link:{message.map_name}"))
        timer = env.timeout(delay_s)
        timer.callbacks.append(lambda _event: integ.deliver(message, env.now))

    return send
