"""A run checked in memory (``p2c run``) and the same history checked from its file
(``p2c verify``, ``p2c compare``) get the same verdicts, word for word.

The file's lines have their keys sorted; the events in memory have them in the order the
model set them. Under naive-bidirectional the concurrent-edit signature ends with writes
that set several fields, and an explanation quoting such a write listed its fields in
whichever order it was given: the two paths disagreed on the words of the same anomaly.
The contract of ``run_start`` is a nested object too: a run's own dicts list its
entities in the order the scenario builds them, the file's in sorted order, and
convergence listed its anomalies in the contract's order (``dual_write_pause_overflow``:
the same 877 anomalies, 672 of them in other places, until ``Contract.from_dict`` read
the contract with its keys sorted). Every reference run of ``tests/fingerprints.py`` is
compared below.
"""

from __future__ import annotations

import json

import pytest
from conftest import ROOT
from fingerprints import reference_run, reference_runs

from sim.checker.check import check_history
from sim.engine.runner import run_scenario
from sim.history import read_history
from sim.scenario.spec import load_scenario
from sim.study.compare import design_variant

SIGNATURE = ROOT / "scenarios" / "signatures" / "concurrent_account_edit.yaml"


@pytest.mark.parametrize("design", ["naive-bidirectional", "p2c-2017"])
def test_in_memory_and_file_verdicts_are_the_same_words(tmp_path, design):
    base = load_scenario(SIGNATURE)
    scenario = base.with_design(design_variant(base, design).design)
    path = tmp_path / "history.jsonl.gz"
    result = run_scenario(scenario, keep_events=True, history_path=path)
    in_memory = check_history(result.events).to_json()
    from_file = check_history(read_history(path)).to_json()
    assert json.dumps(in_memory, sort_keys=True) == json.dumps(from_file, sort_keys=True)


def test_the_signature_has_a_multi_field_write_quoted_in_an_explanation(tmp_path):
    # The case above is only a test if some explanation quotes a write of several
    # fields; were the scenario to change so that none does, this fails and says so.
    base = load_scenario(SIGNATURE)
    scenario = base.with_design(design_variant(base, "naive-bidirectional").design)
    result = run_scenario(scenario, keep_events=True)
    report = check_history(result.events).to_json()
    text = json.dumps(report)
    multi = [
        e
        for e in result.events
        if e["kind"] == "write" and len(e.get("fields", {})) > 1 and e["write_id"] in text
    ]
    assert multi, "no multi-field write is quoted by any verdict"


@pytest.mark.parametrize("key", reference_runs())
def test_every_reference_run_gets_the_same_verdicts_in_memory_and_from_its_file(tmp_path, key):
    scenario, seed = reference_run(key)
    path = tmp_path / "history.jsonl.gz"
    result = run_scenario(scenario, seed, keep_events=True, history_path=path)
    in_memory = check_history(result.events).to_json()
    from_file = check_history(read_history(path)).to_json()
    assert in_memory == from_file
