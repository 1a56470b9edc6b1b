"""The business actions (models/actions.py): plain Python the workload asks, not reads.

The workload's SimPy processes decide *when* a user acts; the plans in
``models/actions.py`` decide *what*, from what the integration shows. A hand-worked
invoice checks one plan's rule (totals from the lines); the structure tests keep the
line between the two modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import yaml

from models.actions import ACTIONS, Desk, plan_invoice_order
from models.design import DesignSpec
from models.entities import Catalogue
from models.integration import Integration
from models.records import Write

ROOT = Path(__file__).resolve().parent.parent


def p2c_integration() -> Integration:
    data = yaml.safe_load((ROOT / "scenarios/designs/p2c-2017.yaml").read_text())
    return Integration(DesignSpec.model_validate(data), Catalogue())


def put(integ: Integration, system: str, entity: str, key: str, fields: dict) -> None:
    """Set up a record directly in one replica (a test fixture, not a user save)."""
    write_id = integ.writelog.next_id(system)
    integ.writelog.add(
        Write(
            write_id,
            entity,
            key,
            "create",
            dict(fields),
            {f: () for f in fields},
            "fixture",
            "fixture",
            system,
            0.0,
            0.0,
        )
    )
    integ.replicas[system].apply(
        entity, key, {f: (v, write_id) for f, v in fields.items()}, integ.writelog
    )


def test_an_invoice_totals_its_lines_and_marks_the_order_invoiced():
    integ = p2c_integration()
    put(integ, "operations", "account", "ACC-1", {"name": "Contoso"})
    put(integ, "operations", "order", "ORD-1", {"account": "ACC-1", "status": "Shipped"})
    put(
        integ,
        "operations",
        "order_line",
        "ORL-1",
        {"order": "ORD-1", "product": "PRD-1", "quantity": 2, "unit_price": 10.5},
    )
    put(
        integ,
        "operations",
        "order_line",
        "ORL-2",
        {"order": "ORD-1", "product": "PRD-2", "quantity": 3, "unit_price": 1.25},
    )
    plan = plan_invoice_order(integ, "operations", np.random.default_rng(1), Desk("clerk-1"))
    header, *lines, status = plan
    # By hand: 2 x 10.50 = 21.00 and 3 x 1.25 = 3.75, total 24.75.
    assert header.entity == "invoice" and header.fields["total_amount"] == pytest.approx(24.75)
    assert header.fields["order"] == "ORD-1" and header.fields["account"] == "ACC-1"
    assert [line.fields["amount"] for line in lines] == [21.0, 3.75]
    assert {line.fields["invoice"] for line in lines} == {header.key}
    assert (status.entity, status.key, status.fields) == ("order", "ORD-1", {"status": "Invoiced"})


def test_nothing_to_invoice_is_no_plan():
    integ = p2c_integration()
    assert (
        plan_invoice_order(integ, "operations", np.random.default_rng(1), Desk("clerk-1")) is None
    )


def test_every_action_plan_lives_in_the_model():
    for action in ACTIONS.values():
        assert action.plan.__module__ == "models.actions", action.name


def test_the_workload_never_reads_replica_tables_and_the_actions_never_import_sim():
    workload = ast.parse((ROOT / "sim" / "engine" / "workload.py").read_text())
    reads = [
        n.lineno
        for n in ast.walk(workload)
        if isinstance(n, ast.Attribute) and n.attr in ("replicas", "tables")
    ]
    assert not reads, f"sim/engine/workload.py reads replicas on lines {reads}"
    actions = ast.parse((ROOT / "models" / "actions.py").read_text())
    imported = {
        alias.name.split(".")[0]
        for n in ast.walk(actions)
        if isinstance(n, ast.Import)
        for alias in n.names
    }
    imported |= {
        n.module.split(".")[0]
        for n in ast.walk(actions)
        if isinstance(n, ast.ImportFrom) and n.module
    }
    assert not imported & {"sim", "simpy"}
