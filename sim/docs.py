"""The README's tables and figures, regenerated from the commands that print them.

A generated part of ``README.md`` sits between two markers that name it and the command
it comes from::

    <!-- generated: invariant-table (p2c compare scenarios/prospect_to_cash.yaml --markdown) -->
    | invariant | ... |
    <!-- end generated -->

Markers may also sit inside a sentence (``Among the <!-- generated: ... -->88<!-- end
generated --> overwritten writes``); the comments do not show on a rendered page.

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
import re
import shlex
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

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


class DocsError(Exception):
    """A marker or a command's output is not what a section expects."""


@dataclass(frozen=True)
class Section:
    """One generated part: the command (as the README shows it) and how its output reads."""

    command: str
    render: Callable[[str], str]
    block: bool  # True: the body is whole lines between the markers; False: inline text
    writes: bool = True  # the command takes --out (pointed at a temporary folder)


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


def regenerate(
    text: str,
    sections: dict[str, Section] | None = None,
    run: Callable[[str, Path | None], str] = run_command,
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
        for i, command in enumerate(dict.fromkeys(sections[n].command for n in found)):
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
