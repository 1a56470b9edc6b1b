"""p2c explore: the smallest story that breaks an invariant, as a scenario p2c run replays.

Expectations are worked by hand from the designs' rules, not taken from earlier output:

- under ``p2c-2017`` accounts flow one way, Sales -> hub -> Operations, so one save of a
  customer in Operations is never copied back: the replicas disagree for good
  (convergence broken by exactly one save, made in Operations);
- ``naive-bidirectional`` has no loopback control, so any one save bounces between the
  systems (bounded echo broken by one save);
- a lost update needs a second write to displace the first, so no story shorter than two
  saves shows one; the issue asks for at most four;
- an organisation whose only users work in Sales cannot make ``p2c-2017`` diverge (every
  change flows Sales -> hub -> Operations and arrives).
"""

from __future__ import annotations

import json
import re
import time

import pytest
import yaml
from conftest import ROOT

from sim.cli.main import main
from sim.scenario.spec import load_design
from sim.scenario.yamlio import LineMap
from sim.study.explore import explore, load_space
from sim.study.story import replay_file

DESIGNS = (
    "p2c-2017",
    "readonly-workaround",
    "dual-write-live",
    "dual-write-async",
    "cross-system-lock",
    "optimistic-version-check",
    "field-merge",
    "naive-bidirectional",
)
#: The invariants stories of customer edits can reach. The others need stories explore
#: does not tell yet: orders (monotone_lifecycle, invoice_totals), references to other
#: records (referential_integrity), or a scenario's staleness objective (staleness is
#: searched when a scenario with objectives is explored).
REACHABLE = (
    "convergence",
    "no_lost_update",
    "bounded_echo",
    "ownership",
    "accounted_for",
    "no_duplicate_keys",
)


def _lost_and_replayed(path, invariant):
    """Run a counterexample file as p2c run does; the verdict of ``invariant``."""
    return replay_file(path).report.verdicts[invariant]


def test_one_operations_save_makes_p2c_2017_diverge_and_the_counterexample_replays(
    tmp_path, capsys
):
    out = tmp_path / "found"
    code = main(
        [
            "explore",
            "p2c-2017",
            "--invariant",
            "convergence",
            "--out",
            str(out),
            "--budget-s",
            "60",
            "--max-stories",
            "200",
        ]
    )
    text = capsys.readouterr().out
    assert code == 1, text
    assert "convergence broken by a story of 1 save(s)" in text
    data = yaml.safe_load((out / "counterexample.yaml").read_text())
    assert [s["system"] for s in data["scripted"]] == ["operations"]
    assert data["design"]["extends"] == "p2c-2017"
    assert "random" not in json.dumps(data) and all(
        role["headcount"] == 0 for role in data["roles"].values()
    )
    assert (out / "timeline.png").stat().st_size > 10_000
    story = (out / "story.md").read_text()
    assert "credit_controller-1" in story and "differs between replicas" in story
    # p2c run replays it: the same anomaly, exit 0 (convergence is not promised).
    assert main(["run", str(out / "counterexample.yaml"), "--out", str(tmp_path / "run")]) == 0
    assert re.search(r"convergence\s+VIOLATED \(1\)", capsys.readouterr().out)


def test_an_echo_is_found_in_one_save_and_becomes_a_suite_entry_p2c_check_passes(tmp_path, capsys):
    suite = tmp_path / "suite" / "naive_echo.yaml"
    code = main(
        [
            "explore",
            "naive-bidirectional",
            "--invariant",
            "bounded_echo",
            "--out",
            str(tmp_path / "found"),
            "--to-suite",
            str(suite),
            "--max-stories",
            "100",
        ]
    )
    assert code == 1
    entry = yaml.safe_load(suite.read_text())
    assert entry["name"] == "naive_echo"
    assert entry["expect"] == {"invariants": {"bounded_echo": "violated"}}
    assert len(entry["scripted"]) == 1
    capsys.readouterr()
    assert main(["check", str(suite)]) == 0, capsys.readouterr().out


def test_the_suite_entry_fails_p2c_check_when_the_design_is_fixed(tmp_path, capsys):
    suite = tmp_path / "naive_echo.yaml"
    assert (
        main(
            [
                "explore",
                "naive-bidirectional",
                "--invariant",
                "bounded_echo",
                "--out",
                str(tmp_path / "found"),
                "--to-suite",
                str(suite),
                "--max-stories",
                "100",
            ]
        )
        == 1
    )
    entry = yaml.safe_load(suite.read_text())
    # The architect turns loopback control back on: the echo is gone, and p2c check says
    # the pinned behaviour changed.
    entry["design"].setdefault("maps", {})
    for name in ("accounts_to_operations", "accounts_to_sales"):
        entry["design"]["maps"].setdefault(name, {})["echo_suppression"] = True
    suite.write_text(yaml.safe_dump(entry, sort_keys=False))
    capsys.readouterr()
    assert main(["check", str(suite)]) == 1
    assert "bounded_echo" in capsys.readouterr().out


def test_nothing_found_says_what_was_searched(tmp_path, capsys):
    out = tmp_path / "nothing"
    code = main(
        [
            "explore",
            "cross-system-lock",
            "--invariant",
            "no_lost_update",
            "--out",
            str(out),
            "--max-stories",
            "30",
            "--json",
        ]
    )
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert summary["found"] is False and summary["stories_tried"] == 30
    assert summary["invariants"] == ["no_lost_update"]
    assert summary["largest_story_saves"] == 1  # the first 40 stories have one save each
    assert not out.exists()


def _sales_only(tmp_path):
    scenario = tmp_path / "sales_only.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "name": "sales_only",
                "seed": 3,
                "design": "p2c-2017",
                "duration_days": 1,
                "roles": {
                    "sales_rep": {
                        "headcount": 5,
                        "home_system": "sales",
                        "actions": {"edit_account": 1.0},
                    }
                },
            }
        )
    )
    return scenario


def test_a_scenario_explores_only_the_saves_its_users_may_make(tmp_path):
    space = load_space(_sales_only(tmp_path))
    assert space.savers == (("sales", "sales_rep"),)
    assert space.seed == 3


@pytest.mark.slow
def test_sales_only_saves_never_make_p2c_2017_diverge_in_sixty_stories(tmp_path):
    # The search itself over that space (the quick test above checks the space).
    result = explore(_sales_only(tmp_path), ["convergence"], budget_s=60, max_stories=60)
    assert not result.found and result.tried == 60


def test_the_api_returns_the_story_as_a_frame_and_the_scenario_as_a_dict(tmp_path):
    from sim import api

    finding = api.explore(
        "naive-bidirectional", ["bounded_echo"], max_stories=100, out=tmp_path / "f"
    )
    assert finding.found and finding.broken == ["bounded_echo"]
    assert list(finding.story[["system", "entity"]].iloc[0]) == ["sales", "account"] or list(
        finding.story[["system", "entity"]].iloc[0]
    ) == ["operations", "account"]
    assert len(finding.story) == 1
    assert finding.scenario["scripted"][0]["entity"] == "account"
    assert (finding.anomalies.invariant == "bounded_echo").all()
    assert (tmp_path / "f" / "counterexample.yaml").is_file()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["explore", "p2c-2017", "--invariant", "no_such"], "unknown invariant(s) no_such"),
        (["explore", "no-such-design"], "unknown design 'no-such-design'"),
        (["explore", "p2c-2017", "--budget-s", "0"], "--budget-s must be"),
        (["explore", "p2c-2017", "--faults", "outage,meteor"], "unknown fault kind(s) meteor"),
        (["explore", "missing.yaml"], "missing.yaml: no such file"),
        (["explore", "p2c-2017", "--max-saves", "0"], "--max-saves must be at least 1"),
    ],
)
def test_bad_input_is_exit_2_with_one_clear_message_and_nothing_written(
    tmp_path, capsys, argv, message
):
    out = tmp_path / "out"
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_faults_are_part_of_the_story_and_replay(tmp_path):
    # Duplicated deliveries are harmless to a design with upserts and loopback control:
    # the search runs stories with faults and judges them; nothing promised breaks.
    result = explore(
        "dual-write-async",
        ["accounted_for", "no_duplicate_keys"],
        faults=["duplicate", "outage"],
        max_stories=40,
        budget_s=60,
    )
    assert not result.found and result.tried == 40


# ------------------------------------------------------------ the catalogue


def _promises(name):
    return load_design(name, LineMap(name), None)[0].promises


@pytest.mark.slow
@pytest.mark.parametrize("design", DESIGNS)
def test_explore_breaks_every_unpromised_invariant_and_never_a_promised_one(design, tmp_path):
    """Budget: 30 s of search per unpromised invariant (each is found in a few seconds),
    8 s for all promised invariants together (seed 1)."""
    promised = [n for n in REACHABLE if n in _promises(design)]
    unpromised = [n for n in REACHABLE if n not in _promises(design)]
    for invariant in unpromised:
        start = time.perf_counter()
        result = explore(design, [invariant], budget_s=30, seed=1)
        took = time.perf_counter() - start
        assert result.found, f"{design}: nothing breaks {invariant} ({result.tried} stories)"
        print(
            f"{design} {invariant}: {result.saves} save(s), {result.tried} stories, "
            f"{took:.1f} s: "
            + "; ".join(
                f"{r['opened_at']}..{r['at']} {r['actor']} {r['system']} {r['key']} {r['fields']}"
                for r in result.story_rows()
            )
        )
        if invariant == "no_lost_update":
            assert 2 <= result.saves <= 4
        # The counterexample file replays to the same anomaly under p2c run's path.
        path = tmp_path / f"{invariant}.yaml"
        from sim.study.explore import finding_files

        path.write_text(finding_files(result, tmp_path)["counterexample.yaml"])
        replayed = _lost_and_replayed(path, invariant)
        assert replayed.count > 0
        first = result.anomalies[0][1]
        assert any(
            (a.code, a.key, a.field) == (first.code, first.key, first.field)
            for a in replayed.anomalies
        )
    start = time.perf_counter()
    result = explore(design, promised, budget_s=8, seed=1)
    assert not result.found, f"{design} broke a promise: {result.anomalies[:1]}"
    print(
        f"{design} promised {promised}: nothing in {result.tried} stories "
        f"({time.perf_counter() - start:.1f} s)"
    )


def test_the_design_catalogue_is_all_covered():
    assert sorted(DESIGNS) == sorted(
        p.stem
        for p in (ROOT / "scenarios" / "designs").glob("*.yaml")
        if not p.stem.startswith("_")
    )


# ------------------------------------------------------------ lock safety
#
# Hand-worked: under cross-system-lock a user's save names the lease taken when the form
# was opened; with fencing: false the hub accepts it however late. A client_pause that
# holds the save past the lease's expiry (lease_s after the form was opened) makes the
# save go through on an expired lease: lock_safety is broken by one save and one pause.
# With fencing the same late save is refused (the user is told), so nothing breaks.
# With lease_s 1200 s a form is never open that long in a story (at most 15 minutes), so
# only the pause can carry a save past its lease: the story must contain it.


def _lock_design(tmp_path, name, **concurrency):
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        yaml.safe_dump({"extends": "cross-system-lock", "name": name, "concurrency": concurrency})
    )
    return path


@pytest.mark.slow
def test_explore_breaks_lock_safety_without_fencing_under_client_pause(tmp_path, capsys):
    out = tmp_path / "found"
    design = _lock_design(tmp_path, "lock-unfenced", fencing=False)
    code = main(
        [
            "explore",
            str(design),
            "--invariant",
            "lock_safety",
            "--faults",
            "client_pause",
            "--max-stories",
            "200",
            "--budget-s",
            "120",
            "--out",
            str(out),
        ]
    )
    text = capsys.readouterr().out
    assert code == 1, text
    assert "lock_safety broken by a story of 1 save(s)" in text
    assert "--max-stories 200" in text  # the reproduce line bounds the search the same way
    data = yaml.safe_load((out / "counterexample.yaml").read_text())
    assert data["design"]["concurrency"]["fencing"] is False
    assert len(data["scripted"]) == 1
    # p2c run replays it to the same anomaly (exit 1: the design promises lock_safety).
    assert main(["run", str(out / "counterexample.yaml"), "--out", str(tmp_path / "run")]) == 1
    assert re.search(r"lock_safety\s+VIOLATED \(1\)", capsys.readouterr().out)
    story = (out / "story.md").read_text()
    assert "was accepted under lease token 1, which had expired" in story


@pytest.mark.slow
def test_only_a_client_pause_carries_a_save_past_a_long_lease(tmp_path, capsys):
    out = tmp_path / "found"
    design = _lock_design(tmp_path, "lock-unfenced-20min", fencing=False, lease_s=1200)
    code = main(
        [
            "explore",
            str(design),
            "--invariant",
            "lock_safety",
            "--faults",
            "client_pause",
            "--max-stories",
            "200",
            "--out",
            str(out),
        ]
    )
    assert code == 1, capsys.readouterr().out
    data = yaml.safe_load((out / "counterexample.yaml").read_text())
    [save] = data["scripted"]
    [pause] = data["faults"]
    assert pause["kind"] == "client_pause" and pause["actor"] == save["actor"]
    # The pause holds the save until at least the lease's expiry (the form's opening
    # + 1200 s), by the hand-worked rule above.
    from models.clock import parse_when

    opened_s = parse_when(save.get("opened_at", save["at"]))
    assert parse_when(pause["at"]) <= parse_when(save["at"])
    assert parse_when(pause["at"]) + pause["duration_s"] >= opened_s + 1200
    story = (out / "story.md").read_text()
    assert f"{save['actor']}'s computer freezes for" in story
    assert "a save made meanwhile is sent then" in story
    assert "every map" not in story
    capsys.readouterr()
    assert main(["run", str(out / "counterexample.yaml"), "--out", str(tmp_path / "run")]) == 1
    assert re.search(r"lock_safety\s+VIOLATED \(1\)", capsys.readouterr().out)
    # Without the pause nothing carries a save past a 20-minute lease.
    quiet = explore(design, ["lock_safety"], max_stories=120, budget_s=120)
    assert not quiet.found and quiet.tried == 120


@pytest.mark.slow
def test_with_fencing_client_pause_breaks_no_lock(tmp_path, capsys):
    out = tmp_path / "nothing"
    code = main(
        [
            "explore",
            "cross-system-lock",
            "--invariant",
            "lock_safety",
            "--invariant",
            "no_lost_update",
            "--faults",
            "client_pause",
            "--max-stories",
            "200",
            "--budget-s",
            "120",
            "--out",
            str(out),
            "--json",
        ]
    )
    summary = json.loads(capsys.readouterr().out)
    assert code == 0, summary
    assert summary["found"] is False and summary["stories_tried"] == 200
    assert summary["fault_kinds"] == ["client_pause"]
    assert summary["largest_story_saves"] >= 2
    assert not out.exists()


def test_the_story_fixes_every_delay_the_concurrency_rule_draws():
    from models.concurrency import RULES
    from sim.study.explore import _design_overrides

    assert RULES["version_check"].delays == ("resolution",)
    space = load_space("optimistic-version-check")
    overrides = _design_overrides(space.design, space.maps, [5.0] * len(space.maps))
    assert overrides["concurrency"] == {
        "resolution": {
            "distribution": "fixed",
            "median_s": space.design.concurrency.resolution.median_s,
        }
    }
    space = load_space("cross-system-lock")
    assert "concurrency" not in _design_overrides(space.design, space.maps, [5.0] * len(space.maps))
