"""Seeds of the replications and the sample points of the factors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.study.sweep.spec import Factor


def replication_seed(root_seed: int, replication: int) -> int:
    """The seed of replication ``replication``: a child of ``root_seed`` (SeedSequence).

    The same in every configuration (common random numbers) and independent of how many
    replications are run, so adding replications never changes the earlier ones.
    """
    sequence = np.random.SeedSequence(entropy=int(root_seed), spawn_key=(int(replication),))
    high, low = (int(x) for x in sequence.generate_state(2, dtype=np.uint32))
    return ((high << 32) | low) & (2**63 - 1)


def _tidy(value: float, integer: bool) -> float | int:
    """Six significant digits (readable labels, stable hashes); ints for integer ranges."""
    if integer:
        return int(round(value))
    return float(f"{value:.6g}")


def grid_values(factor: Factor) -> list[Any]:
    """The values a factor contributes to a grid."""
    if factor.levels is not None:
        return list(factor.levels)
    points = factor.points or 3
    assert factor.low is not None and factor.high is not None
    spaced = (np.geomspace if factor.log else np.linspace)(factor.low, factor.high, points)
    values = [_tidy(float(x), factor.integer) for x in spaced]
    return list(dict.fromkeys(values))  # integer rounding can merge neighbours


def latin_hypercube(factors: dict[str, Factor], samples: int, seed: int) -> list[dict[str, Any]]:
    """``samples`` points, each factor's range cut into ``samples`` strata used once each.

    A stratum is ``[i/n, (i+1)/n)`` of the unit interval; each point draws uniformly
    inside its stratum; each factor gets its own shuffle of strata to points. The unit
    value maps onto ``[low, high]`` (geometrically for ``log``), or picks among
    ``levels`` (each level gets an equal share of strata).
    """
    rng = np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(entropy=int(seed), spawn_key=(0x4C4853,)))
    )  # "LHS": apart from replication seeds
    points: list[dict[str, Any]] = [{} for _ in range(samples)]
    for name, factor in factors.items():
        strata = rng.permutation(samples)
        unit = (strata + rng.random(samples)) / samples
        for point, u in zip(points, unit, strict=True):
            if factor.levels is not None:
                point[name] = factor.levels[
                    min(int(u * len(factor.levels)), len(factor.levels) - 1)
                ]
                continue
            assert factor.low is not None and factor.high is not None
            if factor.log:
                value = math.exp(
                    math.log(factor.low) + u * (math.log(factor.high) - math.log(factor.low))
                )
            else:
                value = factor.low + u * (factor.high - factor.low)
            point[name] = _tidy(value, factor.integer)
    return points
