"""The README's tables and figures, regenerated from the commands that print them.

A generated part of ``README.md`` sits between two markers that name it and the command
it comes from::

    <!-- generated: invariant-table (p2c compare scenarios/prospect_to_cash.yaml --markdown) -->
    | invariant | ... |
    <!-- end generated -->

Markers may also sit inside a sentence (``Among the <!-- generated: ... -->88<!-- end
generated --> overwritten writes``); the comments do not show on a rendered page.

A marker may instead name a file committed in the checkout (``reports/bench/latest.json``,
what ``p2c bench --out`` wrote): that section is rendered from the file, and the command
that measured it is the one the file records (the bench takes minutes and its figures
depend on the machine, so the docs are never re-measured, only re-rendered).

``python -m sim.docs --write`` runs every command once (in a subprocess, from the
checkout, with ``--out`` pointed at a temporary folder so no one's ``reports/`` is
touched) and rewrites each marked part from its output; ``python -m sim.docs --check``
does the same without writing and exits 1 with a diff when the README differs (a test
runs it). Other changes move these numbers on purpose; regenerating is that one command.

May import: nothing from ``sim`` (it runs the commands in subprocesses).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import shlex
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
WRITE_COMMAND = "python -m sim.docs --write"

MARKER = re.compile(
    r"<!-- generated: (?P<name>[a-z0-9-]+) \((?P<command>[^)]*)\) -->"
    r"(?P<body>.*?)"
    r"<!-- end generated -->",
    re.DOTALL,
)

SEED = "scenarios/prospect_to_cash.yaml"
RUN_SEED = f"p2c run {SEED}"
COMPARE_SEED = f"p2c compare {SEED} --markdown"
COMPARE_SIGNATURE = "p2c compare scenarios/signatures/concurrent_account_edit.yaml --json"
DESIGNS = ROOT / "scenarios" / "designs"
BENCH_FILE = "reports/bench/latest.json"


class DocsError(Exception):
    """A marker or a command's output is not what a section expects."""


@dataclass(frozen=True)
class Section:
    """One generated part: the command (as the README shows it) and how its output reads."""

    command: str
    render: Callable[[str], str]
    block: bool  # True: the body is whole lines between the markers; False: inline text
    writes: bool = True  # the command takes --out (pointed at a temporary folder)
    reads_file: bool = False  # True: ``command`` is a file in the checkout, read not run


def _lines_after(output: str, heading: str) -> list[str]:
    """The indented lines under the first line starting with ``heading``."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(heading):
            body = []
            for follow in lines[i + 1 :]:
                if not follow.startswith("  "):
                    break
                body.append(follow.strip())
            return body
    raise DocsError(f"no line starting with {heading!r} in the output")


def _seed_incident(output: str) -> str:
    """The checker's sentence about the scripted seed incident (the first scripted save)."""
    for line in _lines_after(output, "Scripted saves"):
        match = re.match(r"- (\w+) \((\w+)\): (.*)", line)
        if match:
            text = textwrap.fill(match.group(3), width=88)
            return f"\n```\n{text}\n```\n"
    raise DocsError("no scripted save with a verdict under 'Scripted saves'")


def _seed_write(output: str) -> str:
    """The write id of the scripted seed incident, as the checker names it."""
    text = _seed_incident(output)
    match = re.search(r"\b(W-operations-\d+)\b", text)
    if not match:
        raise DocsError("the seed incident names no Operations write")
    return match.group(1)


def _figure(pattern: str) -> Callable[[str], str]:
    def render(output: str) -> str:
        match = re.search(pattern, output, re.MULTILINE)
        if not match:
            raise DocsError(f"no match for {pattern!r} in the output")
        return match.group(1)

    return render


def _markdown_table(output: str) -> str:
    rows = [line for line in output.splitlines() if line.startswith("|")]
    if len(rows) < 3:
        raise DocsError("the command printed no Markdown table")
    return "\n" + "\n".join(rows) + "\n"


def _plural(count: float, word: str, plural: str | None = None) -> str:
    text = f"{count:,g}"
    return f"{text} {word if count == 1 else (plural or word + 's')}"


def _edit_outcome(headline: dict[str, Any], invariants: dict[str, Any]) -> str:
    """What one design made of the two concurrent edits, in counts from ``p2c compare``."""
    lost, fields = headline["lost writes"], headline["lost write fields"]
    if lost:
        status = invariants["no_lost_update"]["status"]
        parts = [
            f"{_plural(fields, 'lost write field')} in {_plural(lost, 'lost write')} ({status})"
        ]
    else:
        parts = ["nothing lost"]
    parts.append(_plural(headline["overwritten writes"], "overwritten write"))
    parts.append(_plural(headline["conflicts surfaced"], "conflict") + " surfaced")
    parts.append(_plural(headline["saves refused"], "save") + " refused")
    extras = {
        "handoffs": ("handoff", None),
        "handoffs abandoned": ("handoff abandoned", "handoffs abandoned"),
        "edits abandoned (lock)": ("edit abandoned at a lock", "edits abandoned at a lock"),
    }
    for key, (word, plural) in extras.items():
        if headline.get(key):
            parts.append(_plural(headline[key], word, plural))
    if headline.get("blocked user minutes"):
        parts.append(f"users blocked {headline['blocked user minutes']:g} min")
    violated = [
        f"{name} ({verdict['violations']:,})"
        for name, verdict in invariants.items()
        if verdict["status"] == "violated"
    ]
    if violated:
        parts.append("violated: " + ", ".join(violated))
    return "; ".join(parts)


def design_summaries(folder: Path = DESIGNS) -> dict[str, dict[str, str]]:
    """Each design file's ``summary`` (transport, concurrency), by design name."""
    found = {}
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("summary"), dict):
            found[data["name"]] = data["summary"]
    return found


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _design_catalogue(output: str, summaries: dict[str, dict[str, str]] | None = None) -> str:
    """The design catalogue table: each design's summary (its YAML file) and what the
    concurrent-edit signature scenario came to under it (``p2c compare --json``)."""
    compared = json.loads(output)
    summaries = design_summaries() if summaries is None else summaries
    rows = [
        "| design | transport | concurrency | what the two concurrent edits come to |",
        "|---|---|---|---|",
    ]
    for name in compared["designs"]:
        if name not in summaries:
            raise DocsError(f"design {name!r} has no summary (transport, concurrency) in its file")
        summary = summaries[name]
        outcome = _edit_outcome(compared["headline"][name], compared["invariants"][name])
        rows.append(
            f"| `{name}` | {_cell(summary['transport'])} | {_cell(summary['concurrency'])} "
            f"| {_cell(outcome)} |"
        )
    return "\n" + "\n".join(rows) + "\n"


#: The bench's targets as the README names them (``{limit}`` from the file), in order.
TARGET_LABELS = {
    "model_over_recording_floor": "model <= {limit:g} x its recording floor",
    "week_1000_all_designs_s": "every design, 1,000 users x 5 days, < {limit:g} s",
    "peak_rss_mb": "peak memory of one such run < {limit:,g} MB",
    "checker_1m_cpu_s": "checker < {limit:g} s CPU for 1,000,000 writes",
    "checker_over_floor": "checker <= {limit:g} x its floor",
    "checker_ratio": "checker's time at 10x the writes <= {limit:g} x",
    "verify_1m_cpu_s": "`p2c verify` of a 1,000,000-write file from disk < {limit:g} s CPU",
}


def _verdict(target: dict[str, Any]) -> str:
    verdict = str(target["verdict"])
    return "**NOT met**" if verdict == "NOT met" else verdict


def _seconds(value: float | None) -> str:
    return "too short to measure" if value is None else f"{value:,.2f} s"


def _target_details(key: str, bench: dict[str, Any]) -> str:
    """The measured figure behind one target, with what it is made of."""
    if key == "model_over_recording_floor":
        model = bench["model"]
        ratio = (
            "not reported (the floor's events differ)"
            if model["ratio"] is None
            else (f"{model['ratio']:.2f}")
        )
        return (
            f"{ratio} ({model['design']}: {model['cpu_s']:.2f} s CPU for "
            f"{model['history_events']:,} history events, {model['us_per_event']:.2f} us/event, "
            f"against the floor's {model['floor_us_per_event']:.2f} us/event)"
        )
    if key in ("week_1000_all_designs_s", "peak_rss_mb"):
        designs = bench["all_designs"]["designs"]
        if key == "peak_rss_mb":
            low = min(d["peak_rss_mb"] for d in designs.values())
            peak = bench["peak_rss_mb"]
            parent = bench["all_designs"].get("parent_rss_mb")
            inherited = (
                ""
                if parent is None
                else f"; each counts the {parent:,.0f} MB a worker inherits from the bench"
            )
            return f"{peak:,.0f} MB ({low:,.0f}-{peak:,.0f} MB per design{inherited})"
        longest = max(designs, key=lambda name: designs[name]["cpu_s"])
        cpu = [d["cpu_s"] for d in designs.values()]
        checks = [d.get("check_cpu_s") for d in designs.values()]
        of_which = (
            ""
            if None in checks
            else f", of which the check {sum(checks):,.1f} s ({100 * sum(checks) / sum(cpu):.0f}%)"
        )
        return (
            f"{bench['all_designs']['wall_s']:,.1f} s wall, {bench['all_designs']['workers']} at "
            f"a time, {len(designs)} designs; {sum(cpu):,.1f} s CPU in all{of_which}, "
            f"{min(cpu):,.2f}-{max(cpu):,.2f} s each ({longest} the longest: "
            f"{designs[longest]['history_events']:,} events)"
        )
    if key == "verify_1m_cpu_s":
        verify = bench["verify"]
        return (
            f"{verify['cpu_s']:,.2f} s CPU for {verify['writes']:,} writes "
            f"({verify['events']:,} events, {verify['us_per_event']:.2f} us/event), of which "
            f"reading and parsing the file {verify['read_cpu_s']:,.2f} s"
            + (
                f"; peak memory {verify['peak_rss_mb']:,.0f} MB "
                f"({verify['rss_before_mb']:,.0f} MB before it began)"
                if verify.get("peak_rss_mb") is not None
                else ""
            )
        )
    checker, writes = bench["checker"], bench["checker_writes"]
    if key == "checker_1m_cpu_s":
        return f"{checker[f'seconds_{writes}']:,.2f} s CPU for {writes:,} writes"
    if key == "checker_over_floor":
        over = checker[f"over_floor_{writes}"]
        return (
            f"{'-' if over is None else f'{over:.2f}'} at {writes:,} writes "
            f"({_seconds(checker[f'seconds_{writes}'])} against the floor's "
            f"{_seconds(checker[f'floor_seconds_{writes}'])})"
        )
    floor = checker["floor_ratio"]
    smaller = int(round(writes / checker["size_ratio"]))
    return (
        f"{checker['ratio']:.2f} for {writes:,} / {smaller:,} writes (the floor's own ratio: "
        f"{'too short to measure' if floor is None else f'{floor:.2f}'})"
    )


def _performance_table(text: str) -> str:
    """The bench file (``p2c bench --out``) as a sentence on its conditions and a table."""
    bench = json.loads(text)
    meta = bench["meta"]
    scale = (
        "full scale"
        if bench["full_scale"]
        else "reduced scale: a target stated for full scale is not judged"
    )
    commit = meta["commit"][:10] if meta.get("commit") else "unknown"
    load = [
        "unknown" if value is None else f"{value[0]:.2f}"
        for value in (meta["load_average_start"], meta["load_average_end"])
    ]
    command = meta["command"]
    # Files from before the processor was recorded say only how many cores.
    processor = f", processor {meta['cpu']}" if meta.get("cpu") else ""
    lines = [
        f"Measured {meta['date_utc']} with `{command}`: {bench['users']:,} users x "
        f"{bench['days']:g} simulated day(s) ({scale}), on {meta['cpu_count']} cores "
        f"({meta['available_cores']} available){processor}, Python {meta['python']}, p2c "
        f"{meta['p2c_version']} at commit {commit}; load average (1 min) {load[0]} at the "
        f"start and {load[1]} at the end. CPU figures and the ratios built from them do not "
        "count other processes; wall times do.",
        "",
        "| target | measured | command |",
        "|---|---|---|",
    ]
    targets = bench["targets"]
    for key, label in TARGET_LABELS.items():
        if key in targets:
            target = targets[key]
            lines.append(
                f"| {label.format(limit=target['limit'])} | {_verdict(target)}: "
                f"{_target_details(key, bench)} | `{command}` |"
            )
    return "\n" + "\n".join(lines) + "\n"


SECTIONS: dict[str, Section] = {
    "invariant-table": Section(COMPARE_SEED, _markdown_table, block=True),
    "seed-incident": Section(RUN_SEED, _seed_incident, block=True),
    "seed-write": Section(RUN_SEED, _seed_write, block=False),
    "overwritten-writes": Section(
        RUN_SEED, _figure(r"^Overwritten writes: ([\d,]+) saves"), block=False
    ),
    "lost-write-fields": Section(
        RUN_SEED,
        _figure(r"no_lost_update .*?([\d,]+) write fields? in [\d,]+ writes? lost"),
        block=False,
    ),
    "lost-writes": Section(
        RUN_SEED,
        _figure(r"no_lost_update .*?[\d,]+ write fields? in ([\d,]+) writes? lost"),
        block=False,
    ),
    "accepted-saves": Section(
        RUN_SEED, _figure(r"^User saves by entity and system \(([\d,]+) accepted"), block=False
    ),
    "refused-saves": Section(
        RUN_SEED,
        _figure(r"^User saves by entity and system \([\d,]+ accepted, ([\d,]+) refused"),
        block=False,
    ),
    "batch-runs": Section(RUN_SEED, _figure(r"^Batch runs: ([\d,]+) over"), block=False),
    "design-catalogue": Section(COMPARE_SIGNATURE, _design_catalogue, block=True),
    "performance-table": Section(
        BENCH_FILE, _performance_table, block=True, writes=False, reads_file=True
    ),
}


def run_command(command: str, out_dir: Path | None) -> str:
    """Run a README command in a subprocess from the checkout; its standard output.

    ``p2c`` is run as ``python -m sim.cli`` with this interpreter (the same program); a
    command that writes gets ``--out`` inside ``out_dir``. Exit 0 and 1 (an invariant
    failed, which a table reports) are outputs; anything else is an error.
    """
    argv = shlex.split(command)
    if argv[0] != "p2c":
        raise DocsError(f"{command!r}: generated sections come from p2c commands")
    argv = [sys.executable, "-m", "sim.cli", *argv[1:]]
    if out_dir is not None:
        argv += ["--out", str(out_dir)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        raise DocsError(f"{command} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return done.stdout


def read_file(name: str) -> str:
    """A file a section is rendered from, by its path in the checkout."""
    path = ROOT / name
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DocsError(f"{name}: cannot read it ({exc.strerror})") from exc


def regenerate(
    text: str,
    sections: dict[str, Section] | None = None,
    run: Callable[[str, Path | None], str] = run_command,
    read: Callable[[str], str] = read_file,
) -> str:
    """The README text with every marked part rewritten from its command's output.

    Each distinct command runs once. A marker naming an unknown section, or a section
    the README does not mark, is an error (so the registry and the README cannot part).
    """
    sections = SECTIONS if sections is None else sections
    found = [m.group("name") for m in MARKER.finditer(text)]
    unknown = sorted(set(found) - set(sections))
    if unknown:
        raise DocsError(
            f"README marks unknown generated sections: {', '.join(unknown)} "
            f"(known: {', '.join(sorted(sections))})"
        )
    missing = sorted(set(sections) - set(found))
    if missing:
        raise DocsError(f"generated sections not marked in the README: {', '.join(missing)}")
    outputs: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="p2c-docs-") as tmp:
        for i, name in enumerate(dict.fromkeys(found)):
            section = sections[name]
            command = section.command
            if command in outputs:
                continue
            if section.reads_file:
                outputs[command] = read(command)
                continue
            writes = any(s.writes for s in sections.values() if s.command == command)
            outputs[command] = run(command, Path(tmp) / f"out{i}" if writes else None)

    def replace(match: re.Match[str]) -> str:
        section = sections[match.group("name")]
        body = section.render(outputs[section.command])
        if section.block != body.startswith("\n"):
            raise DocsError(f"section {match.group('name')}: a block starts on its own line")
        return (
            f"<!-- generated: {match.group('name')} ({section.command}) -->"
            f"{body}<!-- end generated -->"
        )

    return MARKER.sub(replace, text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sim.docs",
        description="Rewrite the README's generated sections from the commands they name "
        "(--write), or exit 1 with a diff when the README differs (--check).",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the README in place")
    mode.add_argument(
        "--check",
        action="store_true",
        help="exit 1 with a diff if the README differs from the commands' output",
    )
    parser.add_argument("readme", nargs="?", default=str(README), help="default: README.md")
    args = parser.parse_args(argv)
    path = Path(args.readme)
    text = path.read_text(encoding="utf-8")
    try:
        fresh = regenerate(text)
    except DocsError as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if fresh == text:
            print(f"{path}: every generated section matches its command")
            return 0
        sys.stdout.writelines(
            difflib.unified_diff(
                text.splitlines(keepends=True),
                fresh.splitlines(keepends=True),
                f"{path} (committed)",
                f"{path} (commands' output)",
            )
        )
        print(f"\n{path} differs from its commands' output; regenerate with: {WRITE_COMMAND}")
        return 1
    if fresh != text:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(fresh, encoding="utf-8")
        tmp.replace(path)
        print(f"{path}: generated sections rewritten")
    else:
        print(f"{path}: already up to date")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
