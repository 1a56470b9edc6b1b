"""The nemesis: faults at fixed times or drawn from the seed, all healed before the end.

Workload, faults and checks are separate roles (STYLE.md 6). A fault is one SimPy
process: wait for its start, break something, record ``fault_start``, wait its
duration, heal, record ``fault_end``. What "break" means is in
:class:`~sim.scenario.spec.Fault`'s docstring; transports consult :class:`FaultState` (for
message-level faults) and the integration's ``down``/``partitions``/``paused`` (for
reachability) at every delivery and run.

In swarm mode the faults themselves come from the seed (stream ``faults``): how many
(Poisson at ``faults_per_day``), which kinds, when, how long and how strong. The same
seed gives the same faults, so a failing swarm run is replayed exactly by its seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models import events as ev
from models.clock import format_t
from sim.scenario.spec import Fault, Swarm


@dataclass
class FaultState:
    """Message-level faults in force now, by map (``None`` key: every map)."""

    spikes: dict[str | None, list[float]] = field(default_factory=dict)
    duplicate: dict[str | None, list[float]] = field(default_factory=dict)
    losses: dict[str | None, list[tuple[float, float]]] = field(default_factory=dict)
    reorder: dict[str | None, list[float]] = field(default_factory=dict)

    @staticmethod
    def _active(table: dict, map_name: str) -> list:
        if not table:  # no such fault in force (asked on every message)
            return []
        return table.get(map_name, []) + table.get(None, [])

    def latency_factor(self, map_name: str) -> float:
        return float(np.prod(self._active(self.spikes, map_name))) if self.spikes else 1.0

    def duplicate_probability(self, map_name: str) -> float:
        active = self._active(self.duplicate, map_name)
        return max(active) if active else 0.0

    def loss(self, map_name: str) -> tuple[float, float] | None:
        active = self._active(self.losses, map_name)
        return max(active) if active else None

    def reorder_s(self, map_name: str) -> float:
        active = self._active(self.reorder, map_name)
        return max(active) if active else 0.0


def _tables(state: FaultState, fault: Fault):
    return {
        "latency_spike": (state.spikes, fault.factor),
        "duplicate": (state.duplicate, fault.probability),
        "loss": (state.losses, (fault.probability, fault.redelivery_s)),
        "reorder": (state.reorder, fault.max_extra_s),
    }.get(fault.kind)


def describe(fault: Fault) -> str:
    target = (
        fault.actor
        or fault.system
        or (" <-> ".join(fault.between) if fault.between else None)
        or (", ".join(fault.maps) if fault.maps else "every map")
    )
    return f"{fault.kind} of {target} from {format_t(fault.at_s)} for {fault.duration_s:g} s"


def _paused_maps(integ, fault: Fault) -> list[str]:
    """The maps a pause fault stops: those it names, else every live and queue map."""
    return list(fault.maps or [n for n, s in integ.design.maps.items() if s.transport != "batch"])


def _cut(fault: Fault) -> frozenset[str]:
    """The two systems a partition separates (``between``, required for a partition when
    the scenario is loaded)."""
    return frozenset(fault.between or ())


def fault_process(env, world, fault: Fault, index: int):
    """Break at ``fault.at``, heal ``duration_s`` later; record both."""
    integ = world.integration
    if fault.at_s > env.now:
        yield env.timeout(fault.at_s - env.now)
    fault_id = f"F-{index + 1}"
    world.emit(
        {
            "t": env.now,
            "kind": ev.FAULT_START,
            "fault_id": fault_id,
            "fault": fault.kind,
            "detail": describe(fault),
        }
    )
    world.metrics.counts[f"faults.{fault.kind}"] += 1
    table = _tables(world.faults, fault)
    keys = list(fault.maps) if fault.maps else [None]
    if fault.kind in ("outage", "crash"):
        integ.down.add(fault.system)
    elif fault.kind == "partition":
        integ.partitions.add(_cut(fault))
    elif fault.kind == "pause":
        names = _paused_maps(integ, fault)
        for name in names:
            integ.paused[name] = env.now
        world.courier_pause(names, env.now)
    elif fault.kind == "client_pause":
        world.client_paused[fault.actor] = max(
            world.client_paused.get(fault.actor, 0.0), env.now + fault.duration_s
        )
    elif table is not None:
        for key in keys:
            table[0].setdefault(key, []).append(table[1])
    yield env.timeout(fault.duration_s)
    if fault.kind in ("outage", "crash"):
        integ.down.discard(fault.system)
    elif fault.kind == "partition":
        integ.partitions.discard(_cut(fault))
    elif fault.kind == "pause":
        names = _paused_maps(integ, fault)
        for name in names:
            integ.paused.pop(name, None)
        world.courier_resume(names, env.now)
    elif table is not None:
        for key in keys:
            table[0][key].remove(table[1])
            if not table[0][key]:
                del table[0][key]
    world.emit({"t": env.now, "kind": ev.FAULT_END, "fault_id": fault_id, "fault": fault.kind})


def swarm_faults(swarm: Swarm, design, end_s: float, rng: np.random.Generator) -> list[Fault]:
    """Draw faults from the seed: count, kinds, times, targets and strengths."""
    days = end_s / 86_400.0
    count = int(rng.poisson(swarm.faults_per_day * days))
    systems = list(design.systems)
    queue_maps = [n for n, s in design.maps.items() if s.transport != "batch"]
    faults = []
    for _ in range(count):
        kind = swarm.kinds[int(rng.random() * len(swarm.kinds))]
        if kind == "client_pause":
            continue  # names a user: scripted faults only
        duration = float(60.0 + rng.random() * max(0.0, swarm.max_duration_s - 60.0))
        at = float(rng.random() * max(0.0, end_s - duration))
        spec: dict = {"kind": kind, "at": round(at, 3), "duration_s": round(duration, 3)}
        if kind in ("outage", "crash"):
            spec["system"] = systems[int(rng.random() * len(systems))]
        elif kind == "partition":
            if len(systems) < 2:
                continue
            first = int(rng.random() * len(systems))
            second = (first + 1 + int(rng.random() * (len(systems) - 1))) % len(systems)
            spec["between"] = [systems[first], systems[second]]
        elif kind in ("latency_spike", "duplicate", "reorder", "loss"):
            if queue_maps and rng.random() < 0.5:
                spec["maps"] = [queue_maps[int(rng.random() * len(queue_maps))]]
            spec["factor"] = round(float(2 + rng.random() * 48), 2)
            spec["probability"] = round(float(0.05 + rng.random() * 0.45), 3)
            spec["max_extra_s"] = round(float(rng.random() * 120), 2)
        elif kind == "pause":
            spec["duration_s"] = round(duration, 3)
        elif kind == "clock_skew":
            spec["system"] = systems[int(rng.random() * len(systems))]
            spec["skew_s"] = round(float(rng.normal(0, 30)), 3)
        faults.append(Fault.model_validate(spec))
    return faults
