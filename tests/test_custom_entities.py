"""Custom entities end to end (issue 13, point 1): generators, initial data, generic
actions, sync, the checker, the lint and licensing, with no special case for them."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
import yaml
from conftest import DATA

from models.generators import ValueGen
from models.licensing import Right, coverage, custom_entity
from sim.cli.main import main
from sim.engine.licence_enforcement import role_required_rights
from sim.engine.runner import run_scenario
from sim.scenario.spec import load_scenario
from sim.scenario.yamlio import InputError

ROOT = DATA.parent.parent
CUSTOM = ROOT / "scenarios" / "custom_entity.yaml"


def story_line(out: str) -> str:
    return next(line for line in out.splitlines() if "no_lost_update (sanctioned): " in line)


def test_a_custom_entitys_lost_update_is_found_and_explained_like_an_accounts(tmp_path, capsys):
    """The seed story and the same story on a delivery slot (tests/data/custom_story.yaml):
    the checker's explanation is the same sentence, with only the names changed."""
    assert main(["run", str(DATA / "seed_story.yaml"), "--out", str(tmp_path / "a")]) == 0
    account = story_line(capsys.readouterr().out)
    assert main(["run", str(DATA / "custom_story.yaml"), "--out", str(tmp_path / "c")]) == 0
    slot = story_line(capsys.readouterr().out)
    assert slot.strip() == (
        "- no_lost_update (sanctioned): W-sales-4 (sales_rep-7 set delivery_slot DSL-00001 "
        "window Evening at day 1 10:14) was overwritten at day 1 10:39:30 in sales by batch "
        "run delivery_slots_hub_to_sales#43 carrying W-operations-1 (migration set "
        "delivery_slot DSL-00001 window Morning at day 1 00:00), whose base did not include "
        "W-sales-4; the run carried delivery_slot DSL-00001 because of W-operations-3 "
        "(dispatcher-2 set delivery_slot DSL-00001 capacity 12 at day 1 10:20)."
    )
    template = re.compile(
        r"- no_lost_update \(sanctioned\): (W-\w+-\d+) \([\w-]+ set \w+ [A-Z]+-\d+ \w+ \S+ at "
        r"day 1 10:14\) was overwritten at day 1 10:\d\d:30 in \w+ by batch run "
        r"\w+#43 carrying W-\w+-1 \(migration set \w+ [A-Z]+-\d+ \w+ \S+ at day 1 00:00\), "
        r"whose base did not include \1; the run carried \w+ [A-Z]+-\d+ because of "
        r"W-\w+-\d+ \([\w-]+ set \w+ [A-Z]+-\d+ \w+ \S+ at day 1 10:20\)\."
    )
    assert template.fullmatch(account.strip()) and template.fullmatch(slot.strip())
    # Sales -> no map from sales: 10:30 tick of operations->hub (offset 240: 10:34),
    # hub->sales at 10:39 + 30 s overhead; the lost window never reached anyone.
    events = run_scenario(load_scenario(DATA / "custom_story.yaml")).events
    overwrites = [e for e in events if e["kind"] == "overwrite"]
    assert [(e["entity"], e["key"], e["field"], e["lost_write"]) for e in overwrites] == [
        ("delivery_slot", "DSL-00001", "window", "W-sales-4")
    ]


def test_generators_draw_within_their_declaration():
    rng = np.random.default_rng(5)
    keys = {"account": ["ACC-00001", "ACC-00002"]}

    def pick(entity):
        return keys[entity][int(rng.random() * len(keys[entity]))]

    ints = {ValueGen("int", 1, 3).value(rng, "n", pick) for _ in range(300)}
    assert ints == {1, 2, 3}
    floats = [ValueGen("float", 10, 20).value(rng, "f", pick) for _ in range(300)]
    assert all(10 <= f <= 20 and round(f, 2) == f for f in floats)
    assert {ValueGen("choice", options=("a", "b")).value(rng, "c", pick) for _ in range(50)} == {
        "a",
        "b",
    }
    assert {
        ValueGen("reference", entity="account").value(rng, "r", pick) for _ in range(50)
    } == set(keys["account"])


def test_initial_data_and_generic_actions_flow_through_the_design(tmp_path):
    """300 slots made in Operations after the accounts they reference, copied to every
    replica by the initial load; dispatchers create and edit slots and Sales reps edit
    windows and notes only; every promised invariant holds."""
    data = yaml.safe_load(CUSTOM.read_text())
    data["duration_days"] = 1
    data["scripted"] = []
    path = tmp_path / "custom.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = run_scenario(load_scenario(path))
    events = result.events
    migrated = [
        e
        for e in events
        if e["kind"] == "write" and e["actor"] == "migration" and e["entity"] == "delivery_slot"
    ]
    assert len(migrated) == 300 and {e["system"] for e in migrated} == {"operations"}
    accounts = {
        e["key"]
        for e in events
        if e["kind"] == "write" and e["entity"] == "account" and e["actor"] == "migration"
    }
    first_slot = events.index(migrated[0])
    last_account = max(
        i
        for i, e in enumerate(events)
        if e["kind"] == "write" and e["entity"] == "account" and e["actor"] == "migration"
    )
    assert last_account < first_slot  # reference order: accounts first
    for e in migrated:
        f = e["fields"]
        assert f["account"] in accounts and f["window"] in (
            "Early",
            "Morning",
            "Afternoon",
            "Evening",
        )
        assert 1 <= f["capacity"] <= 40 and 0 <= f["fee"] <= 250
        assert f["status"] in ("Open", "Booked", "Closed") and isinstance(f["note"], str)
    created_at_t0 = Counter(
        e["system"]
        for e in events
        if e["kind"] == "apply" and e["entity"] == "delivery_slot" and e["t"] == 0 and e["created"]
    )
    assert created_at_t0 == {"operations": 300, "hub": 300, "sales": 300}
    user = [
        e
        for e in events
        if e["kind"] == "write" and e["entity"] == "delivery_slot" and e["actor"] != "migration"
    ]
    by_role = Counter(e["role"] for e in user)
    assert by_role["dispatcher"] > 50 and by_role["sales_rep"] > 50
    rep_fields = {f for e in user if e["role"] == "sales_rep" for f in e["fields"]}
    assert rep_fields == {"window", "note"}
    created = [e for e in user if e["op"] == "create"]
    assert created and all(
        e["role"] == "dispatcher" and e["key"].startswith("DSL-") for e in created
    )
    assert result.metrics["overwritten_writes"] > 0
    assert any(where.startswith("delivery_slot.") for where in result.overwrites_by)


def test_licensing_counts_a_custom_entity_right_against_team_members_cap():
    scenario = load_scenario(CUSTOM)
    rights = role_required_rights(scenario.spec.roles["dispatcher"], scenario.design)
    assert Right("operations", custom_entity("delivery_slot"), "write") in rights
    rep = role_required_rights(scenario.spec.roles["sales_rep"], scenario.design)
    assert Right("sales", custom_entity("delivery_slot"), "write") in rep
    book = scenario.price_book
    slot = Right("sales", custom_entity("delivery_slot"), "write")
    others = [Right("sales", custom_entity(f"c{i}"), "write") for i in range(14)]
    assert coverage(book, ["team_members"], [slot, *others]) is not None  # 15: within
    assert (
        coverage(
            book, ["team_members"], [slot, *others, Right("sales", custom_entity("c99"), "write")]
        )
        is None
    )


def test_the_lint_finds_the_custom_entitys_overwrite_without_a_special_case():
    proc = subprocess.run(
        [sys.executable, "-m", "sim.cli", "lint", str(CUSTOM)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert (
        "isolated-writable-replica: delivery_slot is editable in sales, but no map "
        "carries sales' changes"
    ) in proc.stdout


BAD = [
    (
        {"roles": {"sales_rep": {"actions": {"edit:slot": 1}}}},
        "roles.sales_rep.actions.edit:slot",
        "unknown entity 'slot'",
    ),
    (
        {"roles": {"sales_rep": {"actions": {"edit:delivery_slot:colour": 1}}}},
        "roles.sales_rep.actions.edit:delivery_slot:colour",
        "no field 'colour'",
    ),
    (
        {"roles": {"sales_rep": {"actions": {"create:delivery_slot:window": 1}}}},
        "roles.sales_rep.actions.create:delivery_slot:window",
        "takes no field list",
    ),
    (
        {"roles": {"sales_rep": {"actions": {"edit:account": 1}}}},
        "roles.sales_rep.actions.edit:account",
        "standard entity",
    ),
    ({"initial_data": {"delivery_slots": 5}}, "initial_data.delivery_slots", "not a custom entity"),
    (
        {"initial_data": {"delivery_slot": -1}},
        "initial_data.delivery_slot",
        "greater than or equal to 0",
    ),
    (
        {"entities": {"delivery_slot": {"fields": {"fee": {"int": {"min": 9, "max": 1}}}}}},
        "entities.delivery_slot.fields.fee",
        "min must not exceed max",
    ),
    (
        {"entities": {"delivery_slot": {"fields": {"fee": {"int": {}, "text": True}}}}},
        "entities.delivery_slot.fields.fee",
        "exactly one of",
    ),
    (
        {"entities": {"delivery_slot": {"fields": {"account": {"reference": "acount"}}}}},
        "entities.delivery_slot.fields.account.reference",
        "unknown entity 'acount'",
    ),
]


def _deep_update(data, patch):
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            _deep_update(data[key], value)
        else:
            data[key] = value


@pytest.mark.parametrize("patch, where, message", BAD)
def test_bad_custom_entity_input_names_file_line_and_field(tmp_path, patch, where, message):
    data = yaml.safe_load(CUSTOM.read_text())
    _deep_update(data, patch)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    text = str(caught.value)
    assert re.match(rf"{re.escape(str(path))}:\d+: ", text), text
    assert where in text and message in text, text
