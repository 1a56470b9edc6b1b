"""The licensing decision report: options, figures, costs, Pareto front, HTML, CLI.

Most tests share one small report (three options, one seed, one simulated day) built
once per module; the pure parts (Pareto front, recommendation, request counting) are
tested on hand-made data.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest
from conftest import ROOT

from models.licensing import RoleNeed, cost_roles
from sim.cli.report import add_report_parser
from sim.engine.licence_enforcement import role_required_rights
from sim.reporting.licensing import (
    REQUESTS_PER_SAVE,
    compare_options,
    load_options,
    pareto_front,
    recommend,
    render_html,
    request_counts,
    write_report,
)
from sim.scenario.pricebooks import load_price_book
from sim.scenario.spec import load_scenario
from sim.scenario.yamlio import InputError

#: A tiny organisation in the 2017 price book (standalone licences, no minimum seats on
#: the licences it ends up with), so the bill can be added up by hand.
SMALL = """\
name: small_decision
description: A tiny organisation for report tests.
seed: 7
design: p2c-2017
duration_days: 1
quiescence_max_s: 7200
initial_data: {accounts: 30, contacts_per_account: 1, products: 10, bundles: 2}
licensing: {price_book: "2017"}
roles:
  sales_rep:
    headcount: 4
    home_system: sales
    actions: {edit_account: 1.0, create_quote: 0.5, convert_quote: 0.3, activate_order: 0.3}
  ops_clerk:
    headcount: 2
    home_system: operations
    actions: {confirm_order: 1.0, advance_order: 2.0, invoice_order: 1.0}
  credit_controller:
    headcount: 2
    home_system: operations
    actions: {edit_credit: 1.5, invoice_order: 0.2}
options:
  - name: sales-licences
    description: Controllers edit customers in Sales; the cheapest licences are bought.
    design: p2c-2017
    roles:
      credit_controller: {home_system: sales, other_systems: [operations]}
  - name: readonly
    design: readonly-workaround
    roles:
      credit_controller: {licences: [unified_operations_plan]}
  - name: no-sales-licence
    description: Controllers edit customers in Sales with an Operations licence only.
    design: p2c-2017
    roles:
      credit_controller:
        home_system: sales
        other_systems: [operations]
        licences: [unified_operations_plan]
      sales_rep: {licences: [sales_enterprise]}
"""


def write_scenario(folder: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str, occurrence: int = -1) -> int:
    """The 1-based line of the ``occurrence``-th line containing ``needle`` (default: the
    last, which in these files is the option under test)."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return hits[occurrence] if occurrence < 0 else hits[occurrence - 1]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The small scenario's comparison and its written report folder."""
    folder = tmp_path_factory.mktemp("small")
    path = write_scenario(folder, SMALL)
    comparison = compare_options(path, seeds=1)
    index = write_report(comparison, folder / "report")
    return path, comparison, index


def option(data: dict, name: str) -> dict:
    return next(o for o in data["options"] if o["name"] == name)


# --------------------------------------------------------------------- the report itself


def test_the_report_folder_has_the_page_the_charts_and_every_option_in_report_json(small):
    _, comparison, index = small
    folder = index.parent
    assert index.is_file() and index.name == "index.html"
    data = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert [o["name"] for o in data["options"]] == [
        "sales-licences",
        "readonly",
        "no-sales-licence",
    ]
    for entry in data["options"]:
        row = entry["row"]
        assert row["cost_usd_month"] > 0
        assert row["cost_usd_year"] == pytest.approx(12 * row["cost_usd_month"])
        for key in (
            "lost_per_1000",
            "conflicts_per_1000",
            "risk_per_1000",
            "p95_staleness_min",
            "blocked_user_minutes",
            "handoffs",
            "refusals",
        ):
            assert isinstance(row[key], int | float), (entry["name"], key)
        assert entry["runs"][0]["invariants"], "the checker's verdicts are in the report"
    for image in data["images"].values():
        assert (folder / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f'src="{image}"' in index.read_text(encoding="utf-8")
    assert data == comparison.to_json()
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")], "no temp dirs"


def test_the_read_only_workaround_hands_edits_over_and_abandons_some(small):
    _, comparison, _ = small
    readonly = option(comparison.to_json(), "readonly")
    assert readonly["figures"]["design_handoffs"] > 0
    assert readonly["row"]["risk_per_1000"] >= readonly["row"]["abandoned_per_1000"] > 0


def test_fixed_licences_that_do_not_cover_the_work_are_flagged_handed_off_and_not_chosen(small):
    _, comparison, _ = small
    data = comparison.to_json()
    entry = option(data, "no-sales-licence")
    controller = next(r for r in entry["licences"]["roles"] if r["role"] == "credit_controller")
    assert not entry["compliant"] and not controller["compliant"]
    assert "write account in sales" in controller["missing"]
    assert controller["cheapest"].startswith("team_members_launch")
    # Their customer saves in Sales are refused by the licence gate: handed to a
    # licensed sales rep, or dropped.
    figures = entry["figures"]
    assert figures["licence_handoffs"] + figures["licence_refusals"] > 0
    assert data["recommendation"]["option"] != "no-sales-licence"
    assert "no-sales-licence is not considered" in " ".join(data["recommendation"]["reasons"])


def test_the_cost_agrees_with_cost_roles_and_with_the_sum_by_hand(small):
    """Option sales-licences, 2017 price book, every role licensed at least cost:

    - sales_rep: 4 x Sales Enterprise (standalone 95) = 380
    - ops_clerk: 2 x Unified Operations Plan (190) = 380
    - credit_controller: edits accounts in Sales and invoices in Operations:
      2 x (Unified Operations Plan 190 + launch Team Members 40, which could still
      write accounts in 2017) = 460

    380 + 380 + 460 = 1,220 a month, 14,640 a year.
    """
    path, comparison, _ = small
    entry = option(comparison.to_json(), "sales-licences")
    assert entry["licences"]["cost_usd_month"] == pytest.approx(1220.0)
    assert entry["licences"]["cost_usd_year"] == pytest.approx(14640.0)
    assert entry["licences"]["padding_usd_month"] == 0
    lines = {
        (r["role"], line["sku"]): line for r in entry["licences"]["roles"] for line in r["lines"]
    }
    assert lines[("credit_controller", "team_members_launch")]["cost_usd_month"] == 80
    assert lines[("credit_controller", "unified_operations_plan")]["cost_usd_month"] == 380
    assert lines[("sales_rep", "sales_enterprise")]["seats"] == 4
    # The same organisation priced directly with cost_roles.
    built = next(o for o in load_options(load_scenario(path)) if o.name == "sales-licences")
    needs = {
        name: RoleNeed(role.headcount, role_required_rights(role, built.scenario.design))
        for name, role in built.scenario.spec.roles.items()
    }
    direct = cost_roles(needs, load_price_book("2017"))
    assert entry["licences"]["cost_usd_month"] == pytest.approx(direct.cost_usd_month)


def test_fixed_licences_are_priced_as_given_base_plus_attach_and_min_seats_count_them(tmp_path):
    """Today's book: credit controllers fixed on Finance + Sales Enterprise.

    Finance lists at 210 and Sales Enterprise at 105, so Finance is the base and Sales
    Enterprise an attach at 20: 230 per controller, 2 x 230 = 460. Ops clerks need full
    Operations: Finance, 2 x 210 = 420. Finance has a 20-seat minimum and the seats the
    controllers hold count toward it, so 16 seats are still unpaid-for: giving the 4
    sales reps Finance + a Sales Enterprise attach (4 x 230 = 920) fills 4 of them for
    less than Sales Professional plus 4 more unused seats (4 x 65 + 4 x 210 = 1,100).
    Finance: 2 + 2 + 4 = 8 held, 12 unused x 210 = 2,520.
    Total 460 + 420 + 920 + 2,520 = 4,320.
    """
    text = SMALL.replace('licensing: {price_book: "2017"}', "licensing: {price_book: current}")
    text = (
        text[: text.index("options:")]
        + """options:
  - name: fixed
    design: p2c-2017
    roles:
      credit_controller:
        home_system: sales
        other_systems: [operations]
        licences: [sales_enterprise, finance]
"""
    )
    path = write_scenario(tmp_path, text)
    scenario = load_scenario(path)
    (built,) = load_options(scenario)
    from sim.reporting.licensing import license_option

    costing = license_option(built.scenario)
    controller = next(r for r in costing.roles if r.role == "credit_controller")
    assert [
        (line["sku"], line["held_as"], line["price_usd_month"]) for line in controller.lines
    ] == [("finance", "base", 210.0), ("sales_enterprise", "attach", 20.0)]
    assert controller.compliant and controller.cost_usd_month == 460
    reps = next(r for r in costing.roles if r.role == "sales_rep")
    assert [line["sku"] for line in reps.lines] == ["finance", "sales_enterprise"]
    finance = next(s for s in costing.seats if s["sku"] == "finance")
    assert (finance["seats_used"], finance["seats_paid"]) == (8, 20)
    assert costing.padding_usd_month == 12 * 210
    assert costing.cost_usd_month == pytest.approx(4320.0)
    assert not costing.notes  # the other roles hold Finance too: the bill is the least


@pytest.mark.slow
def test_user_strings_are_escaped_in_the_page(tmp_path):
    hostile = '<script>alert("x")</script>'
    text = SMALL.replace(
        "description: A tiny organisation for report tests.",
        f"description: '{hostile} & <b>bold</b>'",
    )
    text = text.replace("name: readonly\n", "name: '<img src=x onerror=alert(1)>'\n")
    text = text.replace(
        "Controllers edit customers in Sales; the cheapest licences are bought.", f"'{hostile}'"
    )
    path = write_scenario(tmp_path, text)
    comparison = compare_options(path, seeds=1)
    html = render_html(comparison.to_json())
    assert "<script" not in html.lower()
    assert "<img src=x" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&amp; &lt;b&gt;bold&lt;/b&gt;" in html


def test_the_page_loads_nothing_from_the_network(small):
    _, _, index = small
    html = index.read_text(encoding="utf-8")
    external = re.compile(
        r"""(?:src|href|action|poster|srcset|data)\s*=\s*["']?\s*(?:https?:)?//"""
        r"""|url\(\s*["']?\s*(?:https?:)?//|@import""",
        re.I,
    )
    assert not external.search(html), external.search(html)
    assert "<link" not in html.lower() and "<script" not in html.lower()
    assert "<style>" in html and "@media print" in html
    srcs = re.findall(r'<img[^>]*\bsrc="([^"]+)"', html)
    assert srcs and all((index.parent / src).is_file() for src in srcs)


def test_the_report_is_the_same_every_time(small, tmp_path):
    path, comparison, index = small
    again = compare_options(path, seeds=1)
    second = write_report(again, tmp_path / "again")
    assert again.to_json() == comparison.to_json()
    assert second.read_text(encoding="utf-8") == index.read_text(encoding="utf-8")
    for image in comparison.to_json()["images"].values():
        assert (second.parent / image).read_bytes() == (index.parent / image).read_bytes()


def test_several_seeds_are_the_same_for_every_option_and_averaged(tmp_path):
    path = write_scenario(tmp_path, SMALL)
    data = compare_options(path, seeds=2).to_json()
    assert data["seeds"] == [7, 8]
    for entry in data["options"]:
        assert [run["seed"] for run in entry["runs"]] == [7, 8]
        writes = [run["figures"]["writes"] for run in entry["runs"]]
        assert entry["figures"]["writes"] == pytest.approx(sum(writes) / 2)
        low, high = entry["risk_range_per_1000"]
        assert low <= entry["row"]["risk_per_1000"] <= high


def test_options_merge_role_changes_and_keep_the_scenario_design_when_they_name_none(tmp_path):
    text = (
        SMALL[: SMALL.index("options:")]
        + """options:
  - name: same-design
    roles:
      credit_controller: {headcount: 5, actions: {edit_contact: 0.5}}
"""
    )
    (only,) = load_options(load_scenario(write_scenario(tmp_path, text)))
    assert only.design == "p2c-2017" and only.scenario.design.name == "p2c-2017"
    role = only.scenario.spec.roles["credit_controller"]
    assert role.headcount == 5 and role.home_system == "operations"
    # mappings merge: the role keeps its own actions and gains the new one
    assert role.actions == {"edit_credit": 1.5, "invoice_order": 0.2, "edit_contact": 0.5}
    assert "options" not in only.scenario.raw
    without = load_options(
        load_scenario(write_scenario(tmp_path, SMALL[: SMALL.index("options:")], "plain.yaml"))
    )
    assert [o.name for o in without] == ["p2c-2017"] and without[0].notes


# ----------------------------------------------------------- Pareto front, recommendation


def test_the_pareto_front_of_hand_made_points():
    points = [
        (100.0, 5.0),  # 0: cheapest
        (200.0, 1.0),  # 1: on the front
        (150.0, 5.0),  # 2: dominated by 0 (dearer, same risk)
        (300.0, 0.5),  # 3: safest
        (300.0, 1.0),  # 4: dominated by 1 and 3
        (100.0, 5.0),  # 5: equal to 0: equal points do not dominate each other
        (90.0, None),  # 6: unmeasured risk: never on the front
        (400.0, 0.5),  # 7: dominated by 3 (dearer, same risk)
    ]
    assert pareto_front(points) == [0, 1, 3, 5]
    assert pareto_front([]) == []
    assert pareto_front([(1.0, 1.0)]) == [0]


def summary(name, cost, risk, compliant=True, broken=(), per_month=None):
    return {
        "name": name,
        "cost_usd_month": cost,
        "risk_per_1000": risk,
        "compliant": compliant,
        "broken_promises": list(broken),
        "risk_per_month": per_month,
    }


def test_the_recommendation_is_the_cheapest_option_under_the_threshold():
    options = [
        summary("cheap-risky", 100, 9.0, per_month=40),
        summary("middle", 150, 0.8),
        summary("dear-safe", 300, 0.0),
        summary("dominated", 320, 2.0),
    ]
    result = recommend(options, 1.0)
    assert result["option"] == "middle"
    assert result["front"] == ["cheap-risky", "middle", "dear-safe"]
    text = " ".join(result["reasons"])
    assert "cheap-risky would save $50 a month ($600 a year)" in text
    assert "9.0 writes per 1,000 at risk, about 40 a month" in text
    assert (
        "The next option under the threshold, dear-safe, costs $150 a month more (0.0 per"
        " 1,000 at risk)"
    ) in text
    assert "dominated costs $170 a month more" in text
    told = [reason for reason in result["reasons"] if "dear-safe" in reason]
    assert len(told) == 1, "the runner-up is told once, not repeated"


def test_without_an_option_under_the_threshold_the_safest_is_chosen_and_the_trade_off_told():
    options = [summary("a", 100, 9.0), summary("b", 150, 4.0)]
    result = recommend(options, 1.0)
    assert result["option"] == "b"
    assert result["reasons"][0].startswith("No option keeps writes at risk under 1 per 1,000")
    assert any(r.startswith("a would save $50 a month") for r in result["reasons"])


def test_options_without_compliant_licences_or_with_broken_promises_are_never_chosen():
    options = [
        summary("illegal", 50, 0.0, compliant=False),
        summary("broken", 60, 0.0, broken=["convergence"]),
        summary("fine", 200, 0.5),
    ]
    result = recommend(options, 1.0)
    assert result["option"] == "fine" and result["eligible"] == ["fine"]
    text = " ".join(result["reasons"])
    assert "illegal is not considered: its licences do not cover" in text
    assert "broken is not considered: the checker found it breaking" in text
    assert recommend([summary("illegal", 50, 0.0, compliant=False)], 1.0)["option"] is None


def test_requests_count_save_attempts_per_role_on_the_busiest_day_and_map_applies():
    events = [
        {"kind": "write", "t": 0.0, "role": "migration"},  # the initial load
        {"kind": "write", "t": 100.0, "role": "rep"},
        {"kind": "write", "t": 200.0, "role": "rep"},
        {"kind": "write", "t": 86_500.0, "role": "rep"},  # day 2
        {"kind": "write", "t": 300.0, "role": "clerk"},
        {"kind": "apply", "t": 0.0, "via": "initial_load", "system": "sales"},
        {"kind": "apply", "t": 400.0, "via": "m#1", "system": "sales"},
        {"kind": "apply", "t": 401.0, "via": "m#1", "system": "hub"},
        {"kind": "apply", "t": 402.0, "via": "m#2", "system": "operations"},  # not Dataverse
        {"kind": "apply", "t": 403.0, "via": "user", "system": "sales"},  # a user's save
    ]
    per_user, integration = request_counts(events, {"rep": 2, "clerk": 1, "idle": 3})
    assert per_user == {
        "rep": REQUESTS_PER_SAVE * 2 / 2,
        "clerk": REQUESTS_PER_SAVE * 1.0,
        "idle": 0.0,
    }
    assert integration == 2.0


# ----------------------------------------------------------------------- bad input


BAD_OPTIONS = [
    ("unknown-key", "    desing: p2c-2017\n", "desing", "unknown key"),
    ("unknown-design", "    design: no-such-design\n", "no-such-design", "unknown design"),
    ("unknown-role", "    roles: {cfo: {headcount: 1}}\n", "cfo", "no role 'cfo'"),
    (
        "unknown-role-key",
        "    roles:\n      credit_controller:\n        licenses: [finance]\n",
        "licenses",
        "unknown role key",
    ),
    (
        "licence-not-in-book",
        "    roles:\n      credit_controller:\n        licences:\n          - no_such_sku\n",
        "no_such_sku",
        "no licence",
    ),
    (
        "negative-headcount",
        "    roles:\n      sales_rep: {headcount: -3}\n",
        "headcount: -3",
        "greater than or equal to 0",
    ),
    (
        "action-in-wrong-system",
        "    roles:\n      ops_clerk:\n        actions: {create_quote: 1}\n",
        "create_quote",
        "runs in sales",
    ),
    (
        "negative-extra-cost",
        "    extra_costs: [{name: run, usd_month: -5}]\n",
        "usd_month",
        "greater than or equal to 0",
    ),
]


@pytest.mark.parametrize(
    "case,extra,needle,message", BAD_OPTIONS, ids=[case for case, *_ in BAD_OPTIONS]
)
def test_bad_options_are_refused_naming_file_and_line(tmp_path, case, extra, needle, message):
    text = SMALL[: SMALL.index("options:")] + "options:\n  - name: first\n" + extra
    path = write_scenario(tmp_path, text)
    with pytest.raises(InputError) as caught:
        compare_options(path, seeds=1)
    first_line = caught.value.message.splitlines()[0]
    assert first_line.startswith(f"{path}:{line_of(text, needle)}:"), caught.value.message
    assert message in caught.value.message


def test_duplicate_option_names_and_non_mapping_options_are_refused_with_their_line(tmp_path):
    text = SMALL[: SMALL.index("options:")] + "options:\n  - {name: a}\n  - {name: a}\n"
    path = write_scenario(tmp_path, text)
    with pytest.raises(
        InputError,
        match=rf"^{re.escape(str(path))}:{line_of(text, 'name: a')}:"
        r" options\[1\]\.name: duplicate option name 'a'",
    ):
        compare_options(path)
    text = SMALL[: SMALL.index("options:")] + "options:\n  - {name: a}\n  - just-a-name\n"
    path = write_scenario(tmp_path, text)
    with pytest.raises(
        InputError,
        match=rf"^{re.escape(str(path))}:"
        rf"{line_of(text, 'just-a-name')}: options\[1\]",
    ):
        compare_options(path)


def test_a_report_never_replaces_a_folder_that_is_not_a_report(small, tmp_path):
    _, comparison, _ = small
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(InputError, match="not empty and not a previous report"):
        write_report(comparison, precious)
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_a_failed_write_leaves_the_previous_report_and_no_half_folder(small, tmp_path, monkeypatch):
    _, comparison, _ = small
    out = tmp_path / "out"
    write_report(comparison, out)
    before = (out / "report.json").read_text()
    monkeypatch.setattr(
        "sim.reporting.licensing.html.render_html",
        lambda data: (_ for _ in ()).throw(RuntimeError("disk full")),
    )
    with pytest.raises(RuntimeError, match="disk full"):
        write_report(comparison, out)
    assert (out / "report.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# ----------------------------------------------------------------------- command line


def report_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="p2c")
    add_report_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report", *argv])
    return args.func(args)


def test_p2c_report_json_prints_the_recommendation_and_writes_the_folder(tmp_path, capsys):
    path = write_scenario(tmp_path, SMALL)
    out = tmp_path / "out"
    code = report_cli([str(path), "--out", str(out), "--seeds", "1", "--json"])
    printed = json.loads(capsys.readouterr().out)
    assert code == 0 and not printed["failed"]
    assert printed["report"] == str(out / "index.html") and (out / "index.html").is_file()
    assert set(printed["options"]) == {"sales-licences", "readonly", "no-sales-licence"}
    assert printed["recommendation"]["option"] in printed["options"]


def test_p2c_report_reads_bad_input_as_exit_2_through_main(tmp_path, capsys):
    from sim.cli.main import main

    assert main(["report", str(tmp_path / "missing.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err
    path = write_scenario(tmp_path, SMALL)
    assert main(["report", str(path), "--seeds", "0", "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------ committed example


EXAMPLE = ROOT / "reports" / "examples" / "licensing_decision"


@pytest.mark.slow
def test_the_committed_example_is_what_the_documented_command_produces_today():
    """Regenerate with: p2c report scenarios/licensing_decision.yaml
    --out reports/examples/licensing_decision"""
    committed = json.loads((EXAMPLE / "report.json").read_text(encoding="utf-8"))
    fresh = compare_options(ROOT / "scenarios" / "licensing_decision.yaml", seeds=3).to_json()
    assert committed["seeds"] == fresh["seeds"] == [2017, 2018, 2019]
    assert [o["name"] for o in committed["options"]] == [o["name"] for o in fresh["options"]]
    for old, new in zip(committed["options"], fresh["options"], strict=True):
        assert old["row"] == new["row"], old["name"]
        assert old["licences"]["seats"] == new["licences"]["seats"], old["name"]
    assert committed["recommendation"] == fresh["recommendation"]
    html = (EXAMPLE / "index.html").read_text(encoding="utf-8")
    for image in committed["images"].values():
        assert (EXAMPLE / image).is_file() and f'src="{image}"' in html


# ------------------------------------------------- what a decision-maker reads (issue 15)


def test_money_axes_start_at_zero_and_points_carry_their_delta_to_the_cheapest(small):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from sim.reporting.licensing import cost_risk_figure

    data = small[1].to_json()
    fig = cost_risk_figure(data)
    FigureCanvasAgg(fig).draw()
    ax = fig.axes[0]
    assert ax.get_xlim()[0] == 0.0
    assert [t.get_text() for t in ax.get_xticklabels()][0] == "$0"
    cheapest = min(o["row"]["cost_usd_month"] for o in data["options"])
    labels = {
        t.get_text().replace("\\$", "$").split("\n")[0]: t.get_text().replace("\\$", "$")
        for t in ax.texts
    }
    for entry in data["options"]:
        delta = entry["row"]["cost_usd_month"] - cheapest
        expected = f"(+${delta:,.0f})" if delta > 0.005 else "(cheapest)"
        assert labels[entry["name"]].endswith(expected), labels[entry["name"]]


def test_bill_breakdown_segments_carry_their_values(small):
    from sim.reporting.licensing import cost_breakdown_figure

    data = small[1].to_json()
    fig = cost_breakdown_figure(data)
    labels = {t.get_text() for t in fig.axes[0].texts}
    for entry in data["options"]:
        for role in entry["licences"]["roles"]:
            if role["cost_usd_month"] >= 1000:
                assert (
                    f"${role['cost_usd_month'] / 1000:.1f}k" in labels
                    or f"${role['cost_usd_month']:,.0f}" in labels
                ), (entry["name"], role["role"])
            elif role["cost_usd_month"] > 0:
                assert f"${role['cost_usd_month']:,.0f}" in labels, (entry["name"], role["role"])


BUILD = """    build: {one_off_usd: 36000, run_usd_year: 6000, amortise_years: 3,
            basis: "estimate: 30 days at 1,200"}
"""


def test_build_and_run_costs_are_amortised_into_the_monthly_cost(tmp_path):
    """36,000 over 3 years is 1,000 a month; 6,000 a year is 500 a month: +1,500."""
    text = SMALL.replace(
        "    design: readonly-workaround\n", "    design: readonly-workaround\n" + BUILD
    )
    with_build = compare_options(write_scenario(tmp_path, text), seeds=1).to_json()
    plain = compare_options(write_scenario(tmp_path, SMALL, "plain.yaml"), seeds=1).to_json()
    built, before = option(with_build, "readonly"), option(plain, "readonly")
    assert built["row"]["cost_usd_month"] == pytest.approx(before["row"]["cost_usd_month"] + 1500)
    assert built["licences"]["build"]["one_off_usd_month"] == pytest.approx(1000)
    assert built["licences"]["build"]["run_usd_month"] == pytest.approx(500)
    assert built["row"]["licences_usd_month"] == before["row"]["licences_usd_month"]
    html = render_html(with_build)
    assert "spread over 3.0 years" in html and "estimate: 30 days at 1,200" in html


CUSTOM = SMALL.replace(
    "  - name: readonly\n    design: readonly-workaround\n",
    "  - name: merge\n    design: field-merge\n",
)


def test_a_custom_design_without_build_cost_is_warned_beside_the_recommendation(tmp_path):
    data = compare_options(write_scenario(tmp_path, CUSTOM), seeds=1).to_json()
    merge = option(data, "merge")
    assert merge["custom_design"] and merge["licences"]["build"] is None
    assert option(data, "sales-licences")["custom_design"] is False
    assert merge["warnings"] and "custom integration" in merge["warnings"][0]
    rec = data["recommendation"]
    assert (rec["warnings"] == merge["warnings"]) == (rec["option"] == "merge")
    # Forced: the warning shows inside the recommendation box when merge is picked.
    forced = dict(data, recommendation={**rec, "option": "merge", "warnings": merge["warnings"]})
    html = render_html(forced)
    box = html[html.index('id="recommendation"') : html.index('id="options"')]
    assert "Warning:" in box and "no build or run cost" in box
    costed = CUSTOM.replace("    design: field-merge\n", "    design: field-merge\n" + BUILD)
    again = compare_options(write_scenario(tmp_path, costed, "costed.yaml"), seeds=1).to_json()
    assert option(again, "merge")["warnings"] == [] and again["recommendation"]["warnings"] == []


def test_handoffs_and_refusals_are_explained_by_role_and_entity(small):
    data = small[1].to_json()
    for entry in data["options"]:
        explained = entry["explained"]
        handoffs = sum(r["count"] for r in explained if r["adds_to"] == "handoffs")
        refusals = sum(r["count"] for r in explained if r["adds_to"].startswith("refusals"))
        assert handoffs == pytest.approx(entry["row"]["handoffs"]), entry["name"]
        assert refusals == pytest.approx(entry["row"]["refusals"]), entry["name"]
    readonly = option(data, "readonly")
    assert {(r["role"], r["entity"]) for r in readonly["explained"] if r["kind"] == "handoffs"} <= {
        ("credit_controller", "account")
    }
    html = render_html(data)
    assert 'href="#explained-2"' in html and 'id="explained-2"' in html


def test_sources_link_to_a_page_shipped_with_the_report(small):
    _, _, index = small
    html = index.read_text(encoding="utf-8")
    sources = (index.parent / "sources.html").read_text(encoding="utf-8")
    links = re.findall(r'href="sources\.html#(src-\d+)"', html)
    assert links and all(f'id="{anchor}"' in sources for anchor in set(links))
    assert "LICENSING.md section 1" in sources


# ------------------------------------- a recommendation that rests on an unverified figure

#: A tiny standalone price book: ``erp`` covers both systems at 40 with a 5-seat minimum
#: nobody verified; ``crm`` (Sales, 30) and ``ops`` (Operations, 50) are verified.
TINY_BOOK = """\
era: tiny
title: Tiny book for a hand-worked case
period: test
valid_from: 2020-01-01
valid_until: null
as_of: 2020-01-01
licensing_model: standalone
currency: USD
requests:
  source: test
  tenant_pool: {base_requests_per_day: 500000, per_base_licence_requests_per_day: 0,
                max_requests_per_day: null, capacity_addon_requests_per_day: 0}
skus:
  - {id: erp, name: ERP, price_usd_month: 40, confidence: verified, source: test,
     min_seats: 5, min_seats_confidence: unverified, min_seats_source: hearsay,
     kind: user, product_line: all, edition: none, base: true, requests_per_day: 100000,
     rights: [{system: sales, entities: all, access: all},
              {system: operations, entities: all, access: all}]}
  - {id: crm, name: CRM, price_usd_month: 30, confidence: verified, source: test,
     kind: user, product_line: customer_engagement, edition: none, base: true,
     requests_per_day: 100000, rights: [{system: sales, entities: all, access: all}]}
  - {id: ops, name: OPS, price_usd_month: 50, confidence: verified, source: test,
     kind: user, product_line: operations, edition: none, base: true,
     requests_per_day: 100000, rights: [{system: operations, entities: all, access: all}]}
"""

TINY = """\
name: tiny_decision
seed: 3
design: p2c-2017
duration_days: 1
quiescence_max_s: 7200
initial_data: {accounts: 10, contacts_per_account: 1, products: 5, bundles: 1}
licensing: {price_book: tiny_book.yaml}
roles:
  sales_rep:
    headcount: 2
    home_system: sales
    actions: {edit_account: 1.0}
  ops_clerk:
    headcount: 3
    home_system: operations
    actions: {confirm_order: 1.0}
options:
  - name: one-licence
    extra_costs: [{name: admin, usd_month: 5}]
  - name: crm-for-sales
    roles:
      sales_rep: {licences: [crm]}
"""


@pytest.mark.slow
def test_a_recommendation_resting_on_an_unverified_minimum_says_what_it_would_be_without(tmp_path):
    """Worked by hand. With erp's 5-seat minimum:
    one-licence (every role left to the optimiser): all 5 on erp = 5 x 40 = 200 (ops on
    erp with crm for sales would pay 5 erp seats + 2 x 30 = 260; ops on ops and crm for
    sales 150 + 60 = 210), plus 5 admin = 205. crm-for-sales: 2 x 30 = 60 fixed; ops on
    ops 3 x 50 = 150 (3 erp seats padded to 5 would be 200): 210. Recommended:
    one-licence at 205.
    Without the minimum: one-licence: ops on erp 3 x 40 = 120 + crm 2 x 30 = 60 = 180,
    + 5 = 185; crm-for-sales: 60 + 120 = 180. Recommended: crm-for-sales at 180.
    """
    (tmp_path / "tiny_book.yaml").write_text(TINY_BOOK, encoding="utf-8")
    path = write_scenario(tmp_path, TINY)
    comparison = compare_options(path, seeds=1, max_risk_per_1000=1e6)  # cost decides
    data = comparison.to_json()
    assert option(data, "one-licence")["row"]["cost_usd_month"] == pytest.approx(205)
    assert option(data, "crm-for-sales")["row"]["cost_usd_month"] == pytest.approx(210)
    rec = data["recommendation"]
    assert rec["option"] == "one-licence"
    (entry,) = rec["rests_on"]
    assert (entry["entry"], entry["confidence"], entry["source"]) == (
        "erp.min_seats",
        "unverified",
        "hearsay",
    )
    assert entry["now"] == {
        "option": "one-licence",
        "cost_usd_month": 205.0,
        "mix": "5 erp (standalone)",
    }
    assert entry["then"] == {
        "option": "crm-for-sales",
        "cost_usd_month": 180.0,
        "mix": "2 crm (standalone), 3 erp (standalone)",
    }
    assert (
        "the recommendation would be crm-for-sales at $180 a month instead of one-licence at $205"
    ) in entry["sentence"]
    html = render_html(data)
    section = html[html.index('id="recommendation"') : html.index('id="options"')]
    assert 'id="rests-on"' in section and "ERP: minimum of 5 seats" in section
    assert "crm-for-sales at $180 a month" in section


def test_only_figures_a_bill_uses_or_minimums_are_tried_and_verified_ones_never():
    from sim.reporting.licensing.sensitivity import candidate_entries

    book = load_price_book("current")
    seats = [
        [
            {"sku": "finance", "held_as": "base"},
            {"sku": "sales_enterprise", "held_as": "attach"},
            {"sku": "sales_professional", "held_as": "base"},
        ]
    ]
    keys = [entry.key for entry in candidate_entries(book, seats)]
    assert keys == [
        "sales_enterprise.attach",
        "finance",
        "finance.min_seats",
        "supply_chain_management.min_seats",
        "finance_premium.min_seats",
        "supply_chain_management_premium.min_seats",
    ]
