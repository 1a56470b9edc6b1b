"""``p2c audit`` and ``p2c calibrate``: the command-line side of sim/calibration/."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_audit(args: argparse.Namespace) -> int:
    # Imported when the command runs, not when p2c builds its parser: p2c --help stays fast.
    from sim.calibration.audit import write_audit

    rows = write_audit(Path(args.run_dir), Path(args.out))
    print(f"{args.out}: {rows:,} audit rows (one per saved record) from {args.run_dir}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    # Imported when the command runs, not when p2c builds its parser: p2c --help stays fast.
    from sim.calibration.calibrate import calibrate, write_scenario

    fitted = calibrate(
        args.exports,
        roles_file=args.roles,
        system=args.system,
        name=args.name or Path(args.out).stem,
        design=args.design,
        refine=args.refine,
    )
    write_scenario(fitted, args.out)
    roles = sorted(set(fitted.roles.values()))
    print(f"{args.out}: {len(fitted.roles):,} users in {len(roles)} roles ({', '.join(roles)})")
    return 0


def add_calibration_parsers(sub) -> None:
    audit = sub.add_parser(
        "audit",
        help="write a run's user saves as a Dynamics 365 audit export (CSV)",
        description="One row per saved record: createdon, system, userid, objecttypecode, "
        "objectid, operation (Create/Update), changedfields, changedata (new "
        "values, JSON). Columns follow the Dataverse audit table and the "
        "Operations database log; sim/calibration/audit.py says where it chose.",
    )
    audit.add_argument("run_dir", help="a run folder written by p2c run")
    audit.add_argument("--out", required=True, metavar="FILE.csv", help="the export to write")
    audit.set_defaults(func=cmd_audit)

    cal = sub.add_parser(
        "calibrate",
        help="fit a scenario (roles, rates, hours, data sizes) to audit exports",
        description="Roles from --roles or by clustering users on what they save and where; "
        "headcounts, rates per working hour, working hours, hourly profile, "
        "month-end factor, initial data sizes. Every fitted number carries its "
        "sample size as a comment.",
    )
    cal.add_argument(
        "exports",
        nargs="+",
        metavar="FILE.csv",
        help="audit exports (Sales and Operations may come separately)",
    )
    cal.add_argument(
        "--roles",
        metavar="users.csv",
        help="user,role mapping (default: cluster users on what they do)",
    )
    cal.add_argument(
        "--system",
        choices=("sales", "operations"),
        help="the system of exports without a system column",
    )
    cal.add_argument(
        "--design",
        default="p2c-2017",
        help="the design the scenario names (not in an export; default p2c-2017)",
    )
    cal.add_argument(
        "--refine",
        type=int,
        default=2,
        metavar="N",
        help="simulate the fit N times, scaling each rate by export count / "
        "simulated count (attempts that found nothing to do are not in an "
        "export; default 2, 0 = the raw fit)",
    )
    cal.add_argument("--name", help="scenario name (default: the output file's stem)")
    cal.add_argument("--out", required=True, metavar="scenario.yaml", help="the scenario to write")
    cal.set_defaults(func=cmd_calibrate)
