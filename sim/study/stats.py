"""Statistics of replicated runs: Student's t intervals and the Pareto front."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def t_quantile(probability: float, dof: int) -> float:
    """The ``probability`` quantile of Student's t with ``dof`` degrees of freedom.

    Inverts the t distribution's CDF by bisection; the CDF is the regularized
    incomplete beta function, evaluated with Lentz's continued fraction. Accurate to
    about 1e-10, which is far below anything a sweep could notice.
    """
    if dof < 1:
        raise ValueError("Student's t needs at least one degree of freedom")
    if not 0 < probability < 1:
        raise ValueError("probability must be strictly between 0 and 1")
    if probability < 0.5:
        return -t_quantile(1 - probability, dof)
    low, high = 0.0, 1.0
    while _t_cdf(high, dof) < probability:
        high *= 2
    for _ in range(200):
        middle = (low + high) / 2
        if _t_cdf(middle, dof) < probability:
            low = middle
        else:
            high = middle
        if high - low < 1e-12 * max(1.0, high):
            break
    return (low + high) / 2


def _t_cdf(t: float, dof: int) -> float:
    x = dof / (dof + t * t)
    tail = 0.5 * _betainc(dof / 2, 0.5, x)
    return 1 - tail if t > 0 else tail


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b) (Numerical Recipes' betai and betacf)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1 - front * _betacf(b, a, 1 - x) / b


def _betacf(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1 + aa * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < 3e-16:
            break
    return h


@dataclass(frozen=True)
class Interval:
    """A mean with its two-sided confidence interval (t distribution).

    With one observation the interval is unknown (``half_width`` is NaN): one run says
    nothing about the spread.
    """

    n: int
    mean: float
    half_width: float
    confidence: float = 0.95

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def text(self, digits: int = 3) -> str:
        if self.n == 0:
            return "no data"
        if self.n == 1 or math.isnan(self.half_width):
            return f"{self.mean:.{digits}g} (n=1, no interval)"
        return (
            f"{self.mean:.{digits}g} +- {self.half_width:.{digits}g} "
            f"[{self.low:.{digits}g}, {self.high:.{digits}g}] (n={self.n})"
        )


def mean_interval(values: Iterable[float], confidence: float = 0.95) -> Interval:
    """Mean and t-distribution confidence interval of ``values`` (NaNs left out)."""
    data = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    n = len(data)
    if n == 0:
        return Interval(0, math.nan, math.nan, confidence)
    mean = math.fsum(data) / n
    if n == 1:
        return Interval(1, mean, math.nan, confidence)
    variance = math.fsum((x - mean) ** 2 for x in data) / (n - 1)
    half = t_quantile(0.5 + confidence / 2, n - 1) * math.sqrt(variance / n)
    return Interval(n, mean, half, confidence)


def metric_value(metrics: dict[str, float], name: str) -> float:
    """A metric of one run; a counter the run never incremented is 0, a percentile of a
    flow with no samples is NaN (there is no delay to report)."""
    if name in metrics:
        value = metrics[name]
        return math.nan if value is None else float(value)
    return math.nan if name.startswith("propagation_") else 0.0


def pareto_front(points: Sequence[Sequence[float]], senses: Sequence[str]) -> list[bool]:
    """Which points no other point dominates (better or equal everywhere, better once).

    ``senses`` says per coordinate whether lower (``min``) or higher (``max``) is
    better. Points with a NaN coordinate are never on the front.
    """
    signs = [1.0 if sense == "min" else -1.0 for sense in senses]
    keyed = [
        None if any(math.isnan(x) for x in p) else [s * x for s, x in zip(signs, p, strict=True)]
        for p in points
    ]
    front = []
    for i, mine in enumerate(keyed):
        if mine is None:
            front.append(False)
            continue
        dominated = any(
            other is not None
            and j != i
            and all(o <= m for o, m in zip(other, mine, strict=True))
            and any(o < m for o, m in zip(other, mine, strict=True))
            for j, other in enumerate(keyed)
        )
        front.append(not dominated)
    return front
