"""The sweep file: factors, sampler, replications, metrics, objectives."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, model_validator

from models.strict import Strict

#: Metrics reported when a sweep file names none: what architects compare first.
DEFAULT_METRICS = (
    "overwritten_writes",
    "conflicts",
    "saves_rejected",
    "handoffs",
    "blocked_user_s",
    "propagation_p95_s.account:sales->operations",
)


class Factor(Strict):
    """One factor: a list of ``levels``, or a range ``{low, high}`` sampled by the sampler.

    A bare list is shorthand for ``{levels: [...]}``. ``points`` is how many evenly
    spaced values a range contributes to a grid (default 3); ``integer`` rounds drawn
    values (headcounts); ``log`` spaces or samples them geometrically (rates, intervals).
    """

    levels: list[Any] | None = None
    low: float | None = None
    high: float | None = None
    points: int | None = Field(None, ge=2, le=1000)
    integer: bool = False
    log: bool = False

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, value: Any) -> Any:
        return {"levels": value} if isinstance(value, list) else value

    @model_validator(mode="after")
    def _one_form(self) -> Factor:
        ranged = self.low is not None or self.high is not None
        if self.levels is not None:
            if ranged or self.points is not None or self.integer or self.log:
                raise ValueError("give either levels or a range {low, high}, not both")
            if not self.levels:
                raise ValueError("levels must list at least one value")
            keys = [json.dumps(v, sort_keys=True, default=str) for v in self.levels]
            if len(set(keys)) != len(keys):
                raise ValueError("levels must be distinct")
            return self
        if self.low is None or self.high is None:
            raise ValueError("a factor needs levels: [...] or a range {low: .., high: ..}")
        if not self.low < self.high:
            raise ValueError(f"low must be below high (low {self.low}, high {self.high})")
        if self.log and self.low <= 0:
            raise ValueError("a log range needs low > 0")
        return self

    @property
    def is_range(self) -> bool:
        return self.levels is None


class Adaptive(Strict):
    """Add replications until ``metric``'s confidence interval is narrow enough."""

    metric: str
    relative_half_width: float = Field(0.1, gt=0, le=10)
    max_replications: int = Field(20, ge=2, le=10_000)


class SweepSpec(Strict):
    """The whole sweep file."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    scenario: str = Field(min_length=1)
    overrides: dict[str, Any] = Field(default_factory=dict)
    designs: list[str] | Literal["all"] | None = None
    factors: dict[str, Factor] = Field(default_factory=dict)
    sampler: Literal["grid", "latin_hypercube"] = "grid"
    samples: int | None = Field(None, ge=1, le=100_000)
    replications: int = Field(3, ge=1, le=10_000)
    seed: int | None = Field(None, ge=0, lt=2**63)
    metrics: list[str] = Field(default_factory=list)
    confidence: float = Field(0.95, gt=0, lt=1)
    objectives: dict[str, Literal["min", "max"]] = Field(default_factory=dict)
    adaptive: Adaptive | None = None
    check: bool = Field(True, description="run the invariant checker on every run")

    @model_validator(mode="after")
    def _coherent(self) -> SweepSpec:
        if self.sampler == "latin_hypercube" and self.samples is None:
            raise ValueError("sampler latin_hypercube needs samples: N")
        if self.sampler == "grid" and self.samples is not None:
            raise ValueError(
                "samples is for sampler latin_hypercube (a grid is every combination of levels)"
            )
        if self.adaptive and self.adaptive.max_replications < self.replications:
            raise ValueError("adaptive.max_replications must be at least replications")
        return self

    def metric_names(self) -> list[str]:
        """Metrics of interest, with the objectives' and the adaptive metric added."""
        names = list(self.metrics or DEFAULT_METRICS)
        extra = list(self.objectives) + ([self.adaptive.metric] if self.adaptive else [])
        for name in extra:
            if name not in names:
                names.append(name)
        return names
