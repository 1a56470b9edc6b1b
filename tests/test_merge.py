"""One deep merge (sim/scenario/merge.py) for every layering of data, with the results of the
three copies it replaced.

Until it, three functions merged trees: ``sim.scenario.spec.deep_merge`` (designs: the
``editable`` / map ``when`` / map ``fields`` paths replaced whole, no copies),
``sim.reporting.licensing.options.deep_merge`` and ``sim.study.regression._deep_merge``
(no whole paths, the override's values deep-copied). They are kept below, verbatim, as
oracles: the one function must give equal results on any trees (a property test) and at
each former call site on the real inputs of the repository (each call site's
``deep_merge`` is wrapped to compare every call it makes with its former function).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import ROOT
from hypothesis import given
from hypothesis import strategies as st

from sim.scenario import merge
from sim.scenario.merge import deep_merge
from sim.scenario.spec import DESIGN_REPLACED_WHOLE

# ---- the former functions, verbatim (as of commit 12acee0) ----------------------------

_REPLACED_WHOLE = (("editable", "*"), ("maps", "*", "when"), ("maps", "*", "fields"))


def _replaced_whole(path: tuple[str, ...]) -> bool:
    return any(
        len(path) == len(rule) and all(r in ("*", p) for r, p in zip(rule, path, strict=True))
        for rule in _REPLACED_WHOLE
    )


def former_design_merge(base: Any, override: Any, path: tuple[str, ...] = ()) -> Any:
    """sim/scenario/spec.py deep_merge."""
    if isinstance(base, dict) and isinstance(override, dict) and not _replaced_whole(path):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = (
                former_design_merge(base[key], value, path + (str(key),)) if key in base else value
            )
        return merged
    return override


def former_copying_merge(base: Any, override: Any) -> Any:
    """sim/reporting/licensing/options.py deep_merge = sim/study/regression.py _deep_merge."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = (
                former_copying_merge(base[key], value) if key in base else copy.deepcopy(value)
            )
        return merged
    return copy.deepcopy(override)


# ---- the rules, on small trees ----------------------------------------------------------


def test_mappings_merge_key_by_key_and_recursively():
    base = {"batch": {"interval_s": 900, "max_rows": 10}, "name": "a"}
    override = {"batch": {"interval_s": 300}, "retry": {"max_attempts": 2}}
    assert deep_merge(base, override) == {
        "batch": {"interval_s": 300, "max_rows": 10},
        "name": "a",
        "retry": {"max_attempts": 2},
    }


def test_lists_scalars_and_mismatched_types_replace_the_base_whole():
    base = {"systems": ["sales", "hub", "operations"], "x": {"a": 1}, "y": 3, "z": {"k": 1}}
    override = {"systems": ["sales"], "x": None, "y": {"b": 2}, "z": [1]}
    assert deep_merge(base, override) == {
        "systems": ["sales"],
        "x": None,
        "y": {"b": 2},
        "z": [1],
    }


def test_mappings_at_whole_paths_replace_and_star_matches_any_key():
    base = {
        "editable": {"account": {"sales": {}, "operations": {"status": ["Draft"]}}},
        "maps": {"m1": {"fields": {"a": "a", "b": "b"}, "interval_s": 60}},
    }
    override = {
        "editable": {"account": {"sales": {}}},
        "maps": {"m1": {"fields": {"a": "a"}}},
    }
    assert deep_merge(base, override, whole=DESIGN_REPLACED_WHOLE) == {
        "editable": {"account": {"sales": {}}},
        "maps": {"m1": {"fields": {"a": "a"}, "interval_s": 60}},
    }
    # Without the whole paths the same trees merge.
    assert deep_merge(base, override)["editable"]["account"] == {
        "sales": {},
        "operations": {"status": ["Draft"]},
    }


def test_nothing_is_shared_with_either_argument():
    base = {"keep": {"deep": [1, 2]}, "both": {"list": [3]}}
    override = {"both": {"new": {"deep": [4]}}, "added": [5]}
    before = copy.deepcopy((base, override))
    merged = deep_merge(base, override)
    merged["keep"]["deep"].append(99)
    merged["both"]["new"]["deep"].append(99)
    merged["added"].append(99)
    merged["both"]["list"].append(99)
    assert (base, override) == before


# ---- equal to the former functions on any trees -----------------------------------------

KEYS = st.sampled_from(["editable", "maps", "when", "fields", "a"])
SCALARS = st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=3)
TREES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)
#: Design-shaped trees: mappings where the whole paths are (``editable.*``,
#: ``maps.*.when``, ``maps.*.fields``), over few keys, so that both sides often hold a
#: mapping at the same whole path.
FEW = st.sampled_from(["a", "when"])
MAPPINGS = st.dictionaries(FEW, TREES, min_size=1, max_size=2)
DESIGNS = st.fixed_dictionaries(
    {},
    optional={
        "editable": st.dictionaries(FEW, MAPPINGS, max_size=2),
        "maps": st.dictionaries(
            FEW, st.dictionaries(st.sampled_from(["when", "fields", "a"]), MAPPINGS, max_size=3)
        ),
        "a": TREES,
    },
)


@given(DESIGNS | TREES, DESIGNS | TREES)
def test_equal_to_the_former_design_merge_with_the_design_whole_paths(base, override):
    before = copy.deepcopy((base, override))
    assert deep_merge(base, override, whole=DESIGN_REPLACED_WHOLE) == former_design_merge(
        base, override
    )
    assert (base, override) == before


@given(DESIGNS | TREES, DESIGNS | TREES)
def test_equal_to_the_former_copying_merge_without_whole_paths(base, override):
    before = copy.deepcopy((base, override))
    assert deep_merge(base, override) == former_copying_merge(base, override)
    assert (base, override) == before


# ---- each former call site, on the repository's own inputs -----------------------------


class Compared:
    """Wraps the ``deep_merge`` a call site uses: each call is compared with the former
    function that call site used, on copies of the same arguments taken first."""

    def __init__(self, former):
        self.former = former
        self.calls = 0
        self.whole_used = False

    def __call__(self, base: Any, override: Any, **kwargs: Any) -> Any:
        expected = self.former(copy.deepcopy(base), copy.deepcopy(override))
        result = merge.deep_merge(base, override, **kwargs)
        assert result == expected, (base, override)
        self.calls += 1
        self.whole_used |= _differs_without_whole(base, override, kwargs)
        return result


def _differs_without_whole(base: Any, override: Any, kwargs: dict[str, Any]) -> bool:
    return bool(kwargs.get("whole")) and merge.deep_merge(base, override) != merge.deep_merge(
        base, override, **kwargs
    )


def test_design_extends_and_scenario_overrides_merge_as_before(monkeypatch):
    """sim.scenario.spec.load_design: a design extending another, a scenario's overrides."""
    from sim.scenario import spec

    compared = Compared(former_design_merge)
    monkeypatch.setattr(spec, "deep_merge", compared)
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        spec.load_scenario(path)
    assert compared.calls >= 5, compared.calls


def test_a_design_extension_replacing_editable_whole_merges_as_before(monkeypatch, tmp_path):
    """The whole paths at the extends call site: ``editable`` given in an extension."""
    from sim.scenario import spec

    compared = Compared(former_design_merge)
    monkeypatch.setattr(spec, "deep_merge", compared)
    seed = (ROOT / "scenarios" / "prospect_to_cash.yaml").read_text(encoding="utf-8")
    (tmp_path / "designs").mkdir()
    (tmp_path / "designs" / "sales-only.yaml").write_text(
        "extends: p2c-2017\nname: sales-only\neditable:\n  account:\n    sales: {}\n",
        encoding="utf-8",
    )
    path = tmp_path / "scenario.yaml"
    path.write_text(seed.replace("extends: p2c-2017", "extends: sales-only", 1), encoding="utf-8")
    scenario = spec.load_scenario(path)
    assert compared.whole_used
    assert set(scenario.design.editable["account"]) == {"sales"}


def test_design_variants_merge_as_before(monkeypatch):
    """sim.scenario.variants.design_variant: a scenario's overrides on every catalogue design."""
    from sim.scenario import variants
    from sim.scenario.spec import load_scenario

    compared = Compared(former_design_merge)
    monkeypatch.setattr(variants, "deep_merge", compared)
    scenario = load_scenario(ROOT / "scenarios" / "prospect_to_cash.yaml")
    for name in variants.catalogue_names():
        variants.design_variant(scenario, name)
    assert compared.calls == len(variants.catalogue_names())


def test_explore_story_scenarios_merge_as_before(monkeypatch):
    """sim.study.explore.story_scenario: a design written out in full, with latencies."""
    from sim.study import explore

    compared = Compared(lambda base, override: former_design_merge(copy.deepcopy(base), override))
    monkeypatch.setattr(explore, "deep_merge", compared)
    space = explore.load_space("dual-write-async")
    story = explore.Story(
        steps=(explore.Step(saver=0, key="ACC-0001", field="phone", gap_min=1, form_open_min=1),),
        latencies_s=tuple(30.0 for _ in space.maps),
    )
    explore.story_scenario(space, story, name="merge-check", readable=False)
    assert compared.calls == 1


def test_licensing_options_merge_roles_as_before(monkeypatch):
    """sim.reporting.licensing.options: an option's changes to a role."""
    from sim.reporting.licensing import options
    from sim.scenario.spec import load_scenario

    compared = Compared(former_copying_merge)
    monkeypatch.setattr(options, "deep_merge", compared)
    scenario = load_scenario(ROOT / "scenarios" / "licensing_decision.yaml")
    options.load_options(scenario)
    assert compared.calls >= 1


def test_regression_suite_files_merge_their_base_as_before(monkeypatch):
    """sim.study.regression: a suite file laid over its ``base:`` scenario."""
    from sim.study import regression

    compared = Compared(former_copying_merge)
    monkeypatch.setattr(regression, "deep_merge", compared)
    files = regression.suite_files([ROOT / "scenarios" / "suite"])
    regression.load_suite(files)
    assert compared.calls >= 5, compared.calls


@pytest.mark.parametrize("module", ["spec", "variants", "explore", "options", "regression"])
def test_every_former_call_site_uses_the_one_function(module):
    import importlib

    name = {
        "spec": "sim.scenario.spec",
        "variants": "sim.scenario.variants",
        "explore": "sim.study.explore",
        "options": "sim.reporting.licensing.options",
        "regression": "sim.study.regression",
    }[module]
    assert importlib.import_module(name).deep_merge is merge.deep_merge
