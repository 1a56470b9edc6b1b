"""The regression suite (scenarios/suite/), one test per case, in the default test run.

``python -m pytest`` collects only ``tests/`` (testpaths); this module brings every
suite case in as its own test, named ``file.yaml::design``, so CI lists each scenario
and design. ``python -m pytest scenarios/suite/`` collects the same cases directly
through the plugin (sim/pytest_plugin.py), and ``p2c check scenarios/suite/`` runs them
in parallel with the same diff on failure.

The suite must cover every design in the catalogue and every reference scenario
(``scenarios/*.yaml``, ``scenarios/signatures/*.yaml``): when a design or a reference
scenario is added, the coverage test below names what needs a suite entry.
"""

from __future__ import annotations

import pytest
from conftest import ROOT

from sim.scenario.variants import catalogue_names
from sim.scenario.yamlio import load_yaml
from sim.study.regression import check_case, load_suite, suite_files

SUITE = ROOT / "scenarios" / "suite"
CASES = load_suite([SUITE])


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, id=case.id, marks=[pytest.mark.slow] if case.slow else [])
        for case in CASES
    ],
)
def test_suite_case(case):
    result = check_case(case)
    assert result.passed, "\n".join(result.lines())


def reference_scenarios() -> list:
    folders = [ROOT / "scenarios", ROOT / "scenarios" / "signatures"]
    return sorted(p.resolve() for folder in folders for p in folder.glob("*.yaml"))


def test_the_suite_covers_every_design_and_every_reference_scenario():
    covered_designs = {case.design_name for case in CASES}
    missing_designs = sorted(set(catalogue_names()) - covered_designs)
    assert not missing_designs, (
        f"no suite case runs design(s) {missing_designs}: add them to the designs of a "
        "file in scenarios/suite/ (designs: all covers every design)"
    )
    bases = set()
    for file in suite_files([SUITE]):
        data, _ = load_yaml(file)
        if isinstance(data.get("base"), str):
            bases.add((file.parent / data["base"]).resolve())
    missing = [str(p.relative_to(ROOT)) for p in reference_scenarios() if p not in bases]
    assert not missing, (
        f"reference scenario(s) without a suite file: {missing}; add "
        "scenarios/suite/<name>.yaml with base: ../<path> and an expect: block"
    )


def test_every_suite_case_is_small_enough_for_the_default_run():
    """A budget in simulated work, not seconds (no test times anything): replications x
    days x people. The whole default suite stays within a few seconds per case."""
    for case in CASES:
        if case.slow:
            continue
        spec = case.configured.scenario.spec
        people = sum(role.headcount for role in spec.roles.values())
        work = len(case.seeds) * spec.duration_days * people
        assert work <= 600, (
            f"{case.id}: {len(case.seeds)} replications x {spec.duration_days} days x "
            f"{people} people = {work:g} person-days; shrink it or mark it slow: true in "
            "its expect block"
        )
