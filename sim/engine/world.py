"""The world: one SimPy environment, one root seed, and everything a run owns.

All state of a run lives here and is passed down (STYLE.md 3): no module-level mutable
state, no global random generator. Randomness comes from :class:`Streams`: one root seed
split into *named* streams with numpy's SeedSequence, so each user, link and fault has
its own generator. The name, not the order of creation, picks the stream: adding a role
leaves every other stream untouched, and the same seed gives the same trace in any
process (no hash randomisation is involved: names are hashed with SHA-256).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import simpy

from models.integration import Emit, Integration
from models.throttling import PriorityThrottle, ServiceProtection
from sim.engine.faults import FaultState
from sim.engine.licence_enforcement import LicenceGate
from sim.engine.metrics import HANDLERS, MetricsCollector
from sim.history import HistoryRecorder
from sim.scenario.spec import Scenario


class Streams:
    """Named, independent random generators derived from one root seed."""

    def __init__(self, root_seed: int) -> None:
        self.root_seed = int(root_seed)
        self._streams: dict[str, np.random.Generator] = {}

    def get(self, name: str) -> np.random.Generator:
        stream = self._streams.get(name)
        if stream is None:
            digest = hashlib.sha256(name.encode("utf-8")).digest()
            spawn_key = tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))
            sequence = np.random.SeedSequence(entropy=self.root_seed, spawn_key=spawn_key)
            stream = np.random.Generator(np.random.PCG64(sequence))
            self._streams[name] = stream
        return stream


def _licence_gate(scenario: Scenario):
    """A gate when some role's licences are fixed by the scenario, else None."""
    roles = scenario.spec.roles
    fixed = {
        name: tuple(role.licences) for name, role in roles.items() if role.licences is not None
    }
    if not fixed or scenario.price_book is None:
        return None
    return LicenceGate(
        scenario.price_book, fixed, {name: role.home_system for name, role in roles.items()}
    )


class World:
    """A run in the making: environment, streams, the integration, history and metrics."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        recorder: HistoryRecorder,
        observers: tuple[Callable[[dict[str, Any]], None], ...] = (),
    ) -> None:
        self.scenario = scenario
        self.seed = seed
        self.env = simpy.Environment()
        self.streams = Streams(seed)
        self.recorder = recorder
        self.metrics = MetricsCollector()
        record = recorder.record
        metrics = self.metrics
        handler_of = HANDLERS.get  # the collector's observe, one lookup per event
        extra = observers

        if extra:

            def emit(event: dict[str, Any]) -> None:
                record(event)
                handler = handler_of(event["kind"])
                if handler is not None:
                    handler(metrics, event)
                for observer in extra:
                    observer(event)
        else:

            def emit(event: dict[str, Any]) -> None:
                record(event)
                handler = handler_of(event["kind"])
                if handler is not None:
                    handler(metrics, event)

        self.emit = emit
        design = scenario.design
        skews = {f.system: f.skew_s for f in scenario.spec.faults if f.kind == "clock_skew"}
        if skews:
            design = design.model_copy(update={"clock_skew_s": {**design.clock_skew_s, **skews}})
        # The model's events are TypedDicts, plain dicts at run time, which emit records.
        self.integration = Integration(design, scenario.catalogue, cast(Emit, emit))
        limits = design.limits
        self.service_protection = (
            ServiceProtection(limits.service_protection) if limits.enabled else None
        )
        self.priority_throttle = PriorityThrottle(limits.operations)
        self.faults = FaultState()
        # Set by the runner once the courier exists (pause faults hold its messages).
        self.courier_pause = self.courier_resume = lambda names, now_s: None
        self.workload_end_s = scenario.spec.duration_days * 86_400.0
        self.licences = _licence_gate(scenario)
        self.open_forms = 0  # users between opening and saving a form
        self.client_paused: dict[str, float] = {}  # actor -> until (client_pause faults)
        self.stopped = False  # set when quiescence is reached: nothing new starts

    @property
    def now(self) -> float:
        return self.env.now
