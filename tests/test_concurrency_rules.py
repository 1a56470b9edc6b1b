"""The concurrency rules (models/concurrency/): one module each, one registry, one interface.

A hand-worked incident per rule: an account's phone is edited in Sales at 10 s and in
Operations at 11 s on forms opened before either save, and the two queued messages
cross. What each side holds afterwards, and what each delivery reports, follows from
the rule's text in ``models/design.py`` (worked out below for each rule), not from an
earlier run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import models.concurrency as concurrency
from models.concurrency import RULES, Decision, Rule
from models.design import CONCURRENCY_MODES, DesignSpec
from models.entities import Catalogue
from models.events import DeliveryOutcome
from models.integration import Integration
from sim.scenario.spec import load_design
from sim.scenario.yamlio import LineMap

ROOT = Path(__file__).resolve().parent.parent
KEY = "ACC-00001"
ACCOUNT = {
    "name": "Contoso",
    "phone": "0",
    "city": "Oslo",
    "credit_limit": 1000.0,
    "payment_terms": "Net30",
    "customer_group": "Retail",
}


def queued_design(**concurrency_settings) -> DesignSpec:
    """Direct Sales <-> Operations queues under the given rule."""
    base = load_design("dual-write-async", LineMap("dual-write-async"), None)[0]
    data = base.model_dump()
    data["concurrency"] = concurrency_settings
    return DesignSpec.model_validate(data)


def crossing_edits(design: DesignSpec):
    """Create the account in Sales, sync it, then both sides edit phone; deliver both."""
    events: list[dict] = []
    integ = Integration(design, Catalogue(), events.append)
    integ.save(
        now_s=0.0,
        actor="rep-1",
        role="sales_rep",
        system="sales",
        entity="account",
        key=KEY,
        fields=ACCOUNT,
    )
    for message in integ.take_outbox():
        integ.deliver(message, 1.0)
    sales_base, _ = integ.open_form("sales", "account", KEY, ("phone",))
    ops_base, _ = integ.open_form("operations", "account", KEY, ("phone",))
    integ.save(
        now_s=10.0,
        actor="rep-1",
        role="sales_rep",
        system="sales",
        entity="account",
        key=KEY,
        fields={"phone": "S"},
        base=sales_base,
    )
    saved_in_operations = integ.save(
        now_s=11.0,
        actor="clerk-1",
        role="ar_clerk",
        system="operations",
        entity="account",
        key=KEY,
        fields={"phone": "O"},
        base=ops_base,
    )
    outcomes = {m.target: integ.deliver(m, 20.0) for m in integ.take_outbox()}
    held = {
        s: integ.replicas[s].row("account", KEY).value("phone") for s in ("sales", "operations")
    }
    return held, outcomes, saved_in_operations is not None, events


A, U, C = DeliveryOutcome.APPLIED, DeliveryOutcome.UNCHANGED, DeliveryOutcome.CONFLICT

# rule settings -> (phone in sales, phone in operations), outcome per target, ops save kept
INCIDENT = {
    # Last arrival wins: each side takes the other's edit; the sides swap and diverge.
    "none": ({"mode": "none"}, ("O", "S"), {"sales": A, "operations": A}, True),
    "lww_arrival": ({"mode": "lww_arrival"}, ("O", "S"), {"sales": A, "operations": A}, True),
    # The later wall clock (Operations, 11 s) wins on both sides; Operations keeps its own.
    "lww_clock": ({"mode": "lww_clock"}, ("O", "O"), {"sales": A, "operations": U}, True),
    # Sales is primary: it keeps its edit (a conflict); Operations takes Sales's.
    "primary_wins": (
        {"mode": "primary_wins", "primary": "sales"},
        ("S", "S"),
        {"sales": C, "operations": DeliveryOutcome.PRIMARY_WINS},
        True,
    ),
    # Both messages are held as one conflict for a person; nothing is applied yet.
    "version_check": ({"mode": "version_check"}, ("S", "O"), {"sales": C, "operations": C}, True),
    # The Sales change is still replicating: the record stays locked, Operations' save
    # is refused, and the Sales edit arrives.
    "lease_lock": ({"mode": "lease_lock"}, ("S", "S"), {"operations": A}, False),
    # Higher hybrid-clock stamp (Operations, 11 s) wins the field on both sides,
    # each with a conflict record.
    "field_merge": (
        {"mode": "field_merge"},
        ("O", "O"),
        {"sales": DeliveryOutcome.MERGED, "operations": DeliveryOutcome.MERGED},
        True,
    ),
}


def test_the_incident_covers_every_registered_rule():
    assert sorted(INCIDENT) == sorted(RULES)


@pytest.mark.parametrize("name", sorted(INCIDENT))
def test_each_rule_settles_crossing_edits_as_its_text_says(name):
    settings, (sales, operations), outcomes, ops_kept = INCIDENT[name]
    held, got, kept, events = crossing_edits(queued_design(**settings))
    assert held == {"sales": sales, "operations": operations}
    assert got == outcomes
    assert kept is ops_kept
    conflicts = [e for e in events if e["kind"] == "conflict"]
    assert bool(conflicts) == (
        C in outcomes.values() or DeliveryOutcome.MERGED in outcomes.values()
    )


def test_the_registry_names_each_rule_by_its_own_name_and_the_design_accepts_them_all():
    assert {name: rule.name for name, rule in RULES.items()} == {n: n for n in RULES}
    assert CONCURRENCY_MODES == tuple(RULES)
    modules = {p.stem for p in (ROOT / "models" / "concurrency").glob("*.py")}
    for rule in RULES.values():
        assert rule.__module__.rsplit(".", 1)[1] in modules


def test_a_new_rule_is_one_class_and_one_registry_line(monkeypatch):
    """A rule the integration has never heard of takes over every delivery."""

    class IgnoreIncoming(Rule):
        name = "ignore_incoming"

        def judge(self, delivery):
            return Decision(DeliveryOutcome.STALE, {})

    monkeypatch.setitem(concurrency.RULES, IgnoreIncoming.name, IgnoreIncoming)
    base = queued_design(mode="none")
    design = base.model_copy(
        update={"concurrency": base.concurrency.model_copy(update={"mode": "ignore_incoming"})}
    )
    events: list[dict] = []
    integ = Integration(design, Catalogue(), events.append)
    integ.save(
        now_s=0.0,
        actor="rep-1",
        role="sales_rep",
        system="sales",
        entity="account",
        key=KEY,
        fields=ACCOUNT,
    )
    outcomes = [integ.deliver(m, 1.0) for m in integ.take_outbox()]
    assert outcomes == [DeliveryOutcome.STALE]
    assert integ.replicas["operations"].row("account", KEY) is None


def test_the_integration_has_no_per_rule_branches_and_no_long_functions():
    tree = ast.parse((ROOT / "models" / "integration.py").read_text())
    modes = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "mode"]
    assert not modes, f"models/integration.py reads .mode on lines {modes}"
    for path in [
        ROOT / "models" / "integration.py",
        *(ROOT / "models" / "concurrency").glob("*.py"),
    ]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                length = node.end_lineno - node.lineno + 1
                assert length <= 100, f"{path.name}: {node.name} is {length} lines"
