"""``p2c explore`` and ``p2c shrink``: the smallest story that breaks an invariant.

``p2c explore DESIGN_OR_SCENARIO`` searches small business stories against a design (a
catalogue name, a design file, or a scenario whose organisation's roles and rules it
uses) and, on a finding, writes ``counterexample.yaml`` (a scenario ``p2c run`` replays
to the same anomaly), ``story.md`` and ``timeline.png``; exit 1. Nothing found within
the budget: exit 0, with what was searched. ``p2c shrink RUN_DIR --anomaly ID`` cuts a
real run down to the fewest scripted saves that still reproduce one of its anomalies.
Bad input: exit 2 with one clear message, nothing written.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sim.cli.errors import seed_arg
from sim.scenario.yamlio import InputError

EXIT_OK, EXIT_FAILED = 0, 1


def add_explore_parser(sub: Any) -> None:
    explore = sub.add_parser(
        "explore",
        help="search small stories for one that breaks an invariant; shrink it",
        description="Search small business stories (users saving customer records on any "
        "side, at any time between batch runs, with any delivery order the "
        "design allows, optionally under faults) for one that breaks an "
        "invariant; shrink it and write it as a runnable scenario. Exit 1 when "
        "one is found, 0 when nothing is found within the budget.",
    )
    explore.add_argument(
        "target",
        metavar="DESIGN_OR_SCENARIO",
        help="a catalogue design (p2c-2017), a design file, or a scenario "
        "file (its roles, licences and design)",
    )
    explore.add_argument(
        "--invariant",
        action="append",
        metavar="NAME",
        help="search for a story breaking this invariant; repeat for "
        "several (default: every invariant the checker knows)",
    )
    explore.add_argument(
        "--budget-s",
        type=float,
        default=30.0,
        metavar="N",
        help="seconds of search (default 30; shrinking a finding gets up to 60 s more)",
    )
    explore.add_argument(
        "--seed",
        type=seed_arg,
        help="seed of the runs and of the search (default: the scenario's, or 1)",
    )
    explore.add_argument(
        "--faults",
        default="",
        metavar="KIND,KIND",
        help="faults stories may include, e.g. outage,duplicate,reorder",
    )
    explore.add_argument(
        "--max-saves",
        type=int,
        default=6,
        metavar="N",
        help="longest story searched (default 6 saves)",
    )
    explore.add_argument(
        "--max-stories",
        type=int,
        metavar="N",
        help="stop after this many stories (a bound that does not depend on the machine's speed)",
    )
    explore.add_argument(
        "--out", metavar="DIR", help="where a finding is written (default reports/explore/<target>)"
    )
    explore.add_argument(
        "--to-suite",
        metavar="FILE",
        help="also write the finding as a regression-suite file with an "
        "expect: block, e.g. scenarios/suite/my_finding.yaml",
    )
    explore.add_argument(
        "--database", metavar="DIR", help="keep Hypothesis' example database here (default: none)"
    )
    explore.add_argument("--json", action="store_true", help="print one JSON object")
    explore.set_defaults(func=cmd_explore)


def cmd_explore(args: argparse.Namespace) -> int:
    # Imported when the command runs, not when p2c builds its parser: p2c --help stays fast.
    from sim.reporting.timeline import plot_anomaly
    from sim.study.explore import explore, slug, summary_lines, write_finding

    faults = [kind.strip() for kind in args.faults.split(",") if kind.strip()]
    if args.budget_s is None or not args.budget_s > 0:
        raise InputError("p2c explore: --budget-s must be a number of seconds > 0")
    result = explore(
        args.target,
        args.invariant,
        budget_s=args.budget_s,
        seed=args.seed,
        faults=faults,
        max_saves=args.max_saves,
        max_stories=args.max_stories,
        database=args.database,
    )
    out = Path(args.out) if args.out else Path("reports") / "explore" / slug(result.label)
    written = []
    if result.found:
        to_suite = Path(args.to_suite) if args.to_suite else None
        written = write_finding(result, out, to_suite, draw_timeline=plot_anomaly)
    if args.json:
        summary = result.summary()
        summary["written"] = [str(p) for p in written]
        print(json.dumps(summary, sort_keys=True, default=str))
    else:
        lines = summary_lines(result, out if result.found else None)
        if args.to_suite and result.found:
            lines.append(f"Suite entry: {args.to_suite} (p2c check {args.to_suite})")
        invariants = "".join(f" --invariant {n}" for n in args.invariant or ())
        lines.append(
            f"Reproduce the search: p2c explore {args.target}{invariants} "
            f"--seed {result.seed} --budget-s {args.budget_s:g}"
            + (f" --faults {','.join(faults)}" if faults else "")
            + (f" --max-saves {args.max_saves}" if args.max_saves != 6 else "")
            + (f" --max-stories {args.max_stories}" if args.max_stories else "")
        )
        print("\n".join(lines))
    return EXIT_FAILED if result.found else EXIT_OK


def add_shrink_parser(sub: Any) -> None:
    shrink = sub.add_parser(
        "shrink",
        help="cut a run down to the fewest saves that still show one anomaly",
        description="From a run folder's anomaly (a write id or a record key), make the "
        "smallest scenario of scripted saves that still reproduces it, by "
        "delta debugging over the run's saves on that record (each candidate "
        "re-run as p2c run would). Writes incident.yaml, story.md and "
        "timeline.png.",
    )
    shrink.add_argument("run_dir", help="a run folder written by p2c run")
    shrink.add_argument(
        "--anomaly",
        required=True,
        metavar="ID",
        help="a write id (W-operations-165) or record key (ACC-00012) "
        "that an anomaly of the run names",
    )
    shrink.add_argument("--out", metavar="DIR", help="where to write (default RUN_DIR/shrunk-<ID>)")
    shrink.add_argument(
        "--max-runs",
        type=int,
        default=400,
        metavar="N",
        help="most candidate scenarios to run (default 400)",
    )
    shrink.add_argument("--json", action="store_true", help="print one JSON object")
    shrink.set_defaults(func=cmd_shrink)


def cmd_shrink(args: argparse.Namespace) -> int:
    # Imported when the command runs, not when p2c builds its parser: p2c --help stays fast.
    from sim.reporting.timeline import plot_anomaly
    from sim.study.shrink import shrink_run, write_incident
    from sim.study.story import sentence, story_rows

    if args.max_runs < 1:
        raise InputError("p2c shrink: --max-runs must be at least 1")
    incident = shrink_run(args.run_dir, args.anomaly, max_runs=args.max_runs)
    out = Path(args.out) if args.out else Path(args.run_dir) / f"shrunk-{args.anomaly}"
    written = write_incident(incident, out, draw_timeline=plot_anomaly)
    if args.json:
        print(
            json.dumps(
                {
                    "run_dir": str(incident.run_dir),
                    "anomaly": args.anomaly,
                    "invariant": incident.invariant,
                    "saves": incident.saves,
                    "saves_on_record": incident.candidates,
                    "runs": incident.runs,
                    "maps": incident.maps_kept,
                    "story": story_rows(incident.scenario),
                    "explanation": incident.replay_anomaly.explain(),
                    "written": [str(p) for p in written],
                },
                sort_keys=True,
                default=str,
            )
        )
        return EXIT_OK
    lines = [
        f"p2c shrink: {incident.run_dir}, anomaly {args.anomaly} ({incident.invariant})",
        "",
        f"{incident.saves} of the {incident.candidates} saves on the record still "
        f"show it ({incident.runs} candidate runs):",
        "",
    ]
    lines += [f"  {i}. {sentence(s)}" for i, s in enumerate(incident.scenario["scripted"], 1)]
    lines += [
        "",
        f"  {incident.replay_anomaly.explain()}",
        "",
        f"Wrote {out}/incident.yaml, story.md, timeline.png",
        f"Replay: p2c run {out / 'incident.yaml'}",
    ]
    print("\n".join(lines))
    return EXIT_OK
