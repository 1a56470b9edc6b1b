"""The README's generated sections equal their commands' output (``python -m sim.docs``).

The slow test runs the commands (the seed scenario under every design) and fails with
the diff and the one command that regenerates the README. The quick tests hold the
rewriting itself to hand-written expectations.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from conftest import ROOT

from sim import docs
from sim.docs import MARKER, SECTIONS, DocsError, Section, regenerate
from sim.scenario.variants import catalogue_names

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_marks_exactly_the_registered_sections_with_their_commands():
    marked = {}
    for match in MARKER.finditer(README):
        marked.setdefault(match.group("name"), set()).add(match.group("command"))
    assert set(marked) == set(SECTIONS)
    for name, commands in marked.items():
        assert commands == {SECTIONS[name].command}, name
    # The invariant table is the compare command's, the figures the seed run's.
    assert SECTIONS["invariant-table"].command == (
        "p2c compare scenarios/prospect_to_cash.yaml --markdown"
    )
    assert SECTIONS["overwritten-writes"].command == "p2c run scenarios/prospect_to_cash.yaml"
    # Every number quoted in the run paragraph sits in a generated snippet.
    start = README.index("## What a run prints")
    paragraph = README[start : README.index("It writes a run folder", start)]
    outside = MARKER.sub("", paragraph)
    assert "88" not in outside and "W-operations-" not in outside
    assert "python -m sim.docs --write" in README


RUN_OUTPUT = """\
p2c run: demo  design p2c-2017  seed 1

User saves by entity and system (1,234 accepted, 56 refused):
  entity   sales
Batch runs: 789 over 20 maps; records moved: 1,000
Overwritten writes: 12 saves had a field replaced by a version that never saw it:

Scripted saves (2), and what the checker says of each:
  - no_lost_update (sanctioned): W-operations-7 (credit_controller-1 set account ACC-00012 \
credit_limit 95000 at day 1 10:14) was overwritten at day 1 10:35:30 in operations by batch \
run accounts_hub_to_operations#43 carrying W-sales-12, whose base did not include \
W-operations-7.
  - W-sales-9 (sales_rep set account ACC-00012 phone '1' in sales at day 1 10:20): no \
invariant names it

quiescence: reached
"""

TABLE_OUTPUT = "| invariant | a | b |\n|---|---|---|\n| convergence | **holds** | violated (3) |\n"

PAGE = """\
Intro. We saw <!-- generated: overwritten-writes (old command) -->999<!-- end generated --> \
lost edits in <!-- generated: batch-runs (p2c run scenarios/prospect_to_cash.yaml) -->1\
<!-- end generated --> runs, write <!-- generated: seed-write (x) -->W-1<!-- end generated -->.

<!-- generated: seed-incident (p2c run scenarios/prospect_to_cash.yaml) -->
stale
<!-- end generated -->

<!-- generated: invariant-table (p2c compare scenarios/prospect_to_cash.yaml --markdown) -->
| stale |
<!-- end generated -->
Outro.
"""

EXPECTED = """\
Intro. We saw <!-- generated: overwritten-writes (p2c run scenarios/prospect_to_cash.yaml) -->\
12<!-- end generated --> lost edits in \
<!-- generated: batch-runs (p2c run scenarios/prospect_to_cash.yaml) -->789<!-- end generated \
--> runs, write <!-- generated: seed-write (p2c run scenarios/prospect_to_cash.yaml) -->\
W-operations-7<!-- end generated -->.

<!-- generated: seed-incident (p2c run scenarios/prospect_to_cash.yaml) -->
```
W-operations-7 (credit_controller-1 set account ACC-00012 credit_limit 95000 at day 1
10:14) was overwritten at day 1 10:35:30 in operations by batch run
accounts_hub_to_operations#43 carrying W-sales-12, whose base did not include
W-operations-7.
```
<!-- end generated -->

<!-- generated: invariant-table (p2c compare scenarios/prospect_to_cash.yaml --markdown) -->
| invariant | a | b |
|---|---|---|
| convergence | **holds** | violated (3) |
<!-- end generated -->
Outro.
"""


def _fake_run(calls: list[tuple[str, Path | None]]):
    def run(command: str, out: Path | None) -> str:
        calls.append((command, out))
        return TABLE_OUTPUT if "compare" in command else RUN_OUTPUT

    return run


def test_regenerate_rewrites_block_and_inline_sections_and_their_commands():
    sections = {
        name: SECTIONS[name]
        for name in (
            "overwritten-writes",
            "batch-runs",
            "seed-write",
            "seed-incident",
            "invariant-table",
        )
    }
    calls: list[tuple[str, Path | None]] = []
    assert regenerate(PAGE, sections, _fake_run(calls)) == EXPECTED
    # Each distinct command ran once, every one with a temporary --out folder.
    assert sorted(c for c, _ in calls) == sorted(
        [
            "p2c run scenarios/prospect_to_cash.yaml",
            "p2c compare scenarios/prospect_to_cash.yaml --markdown",
        ]
    )
    assert all(out is not None and not out.is_relative_to(ROOT) for _, out in calls)
    # Regenerating what was just generated changes nothing.
    assert regenerate(EXPECTED, sections, _fake_run([])) == EXPECTED


def test_unknown_and_unmarked_sections_are_errors():
    sections = {"batch-runs": SECTIONS["batch-runs"], "seed-write": SECTIONS["seed-write"]}
    text = "<!-- generated: batch-runs (p2c run x) -->1<!-- end generated -->"
    with pytest.raises(DocsError, match="not marked in the README: seed-write"):
        regenerate(text, sections, _fake_run([]))
    with pytest.raises(DocsError, match="unknown generated sections: nope"):
        regenerate(
            text + "<!-- generated: nope (p2c x) -->1<!-- end generated -->",
            {"batch-runs": SECTIONS["batch-runs"]},
            _fake_run([]),
        )
    # Output without the figure is an error, not an empty snippet.
    with pytest.raises(DocsError, match="Batch runs"):
        regenerate(text, {"batch-runs": SECTIONS["batch-runs"]}, lambda c, o: "nothing\n")


def test_a_real_command_end_to_end_with_check_and_write(tmp_path, monkeypatch, capsys):
    # p2c --version is quick: the whole path (subprocess, render, --check, --write).
    version = {
        "version": Section("p2c --version", lambda out: out.split()[1], block=False, writes=False)
    }
    monkeypatch.setattr(docs, "SECTIONS", version)
    page = tmp_path / "README.md"
    page.write_text("v<!-- generated: version (p2c --version) -->0.0<!-- end generated -->\n")
    assert docs.main(["--check", str(page)]) == 1
    out = capsys.readouterr().out
    assert "+v<!-- generated: version (p2c --version) -->" + metadata.version("p2c-testbed") in out
    assert "python -m sim.docs --write" in out
    assert docs.main(["--write", str(page)]) == 0
    assert page.read_text() == (
        "v<!-- generated: version (p2c --version) -->"
        f"{metadata.version('p2c-testbed')}<!-- end generated -->\n"
    )
    assert docs.main(["--check", str(page)]) == 0
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.slow
def test_the_readme_equals_its_commands_output():
    done = subprocess.run(
        [sys.executable, "-m", "sim.docs", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, (
        f"README.md differs from its commands' output (reproduce: python -m sim.docs "
        f"--check; regenerate: python -m sim.docs --write):\n{done.stdout[-6000:]}"
        f"\n{done.stderr[-2000:]}"
    )


COMPARE_JSON = {
    "designs": ["a-design", "b-design"],
    "headline": {
        "a-design": {
            "lost writes": 1.0,
            "lost write fields": 2.0,
            "overwritten writes": 1.0,
            "conflicts surfaced": 0.0,
            "saves refused": 0.0,
            "handoffs": 0.0,
            "blocked user minutes": 0.0,
        },
        "b-design": {
            "lost writes": 0.0,
            "lost write fields": 0.0,
            "overwritten writes": 2.0,
            "conflicts surfaced": 1.0,
            "saves refused": 1.0,
            "handoffs": 1.0,
            "blocked user minutes": 0.5,
        },
    },
    "invariants": {
        "a-design": {
            "convergence": {"status": "holds", "violations": 0},
            "no_lost_update": {"status": "sanctioned", "violations": 0},
        },
        "b-design": {
            "bounded_echo": {"status": "violated", "violations": 6},
            "no_lost_update": {"status": "holds", "violations": 0},
        },
    },
}


def test_the_design_catalogue_is_each_summary_beside_the_compare_counts():
    summaries = {
        "a-design": {"transport": "batches", "concurrency": "none"},
        "b-design": {"transport": "queued", "concurrency": "a | b"},
    }
    table = docs._design_catalogue(json.dumps(COMPARE_JSON), summaries)
    assert table == (
        "\n| design | transport | concurrency | what the two concurrent edits come to |\n"
        "|---|---|---|---|\n"
        "| `a-design` | batches | none | 2 lost write fields in 1 lost write (sanctioned); "
        "1 overwritten write; 0 conflicts surfaced; 0 saves refused |\n"
        "| `b-design` | queued | a \\| b | nothing lost; 2 overwritten writes; 1 conflict "
        "surfaced; 1 save refused; 1 handoff; users blocked 0.5 min; violated: "
        "bounded_echo (6) |\n"
    )
    with pytest.raises(DocsError, match="'b-design' has no summary"):
        docs._design_catalogue(json.dumps(COMPARE_JSON), {"a-design": summaries["a-design"]})


def test_every_catalogue_design_has_a_summary_and_the_readme_table_shows_it():
    summaries = docs.design_summaries()
    assert set(summaries) == set(catalogue_names())
    body = next(
        m.group("body") for m in MARKER.finditer(README) if m.group("name") == "design-catalogue"
    )
    rows = [line for line in body.splitlines() if line.startswith("| `")]
    assert len(rows) == len(summaries)
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split(" | ")]
        name = cells[0].strip("`")
        assert cells[1:3] == [summaries[name]["transport"], summaries[name]["concurrency"]], name


def test_the_performance_table_is_the_committed_bench_file():
    # No bench runs: the section is the committed file, rendered (sim.docs reads it).
    body = next(
        m.group("body") for m in MARKER.finditer(README) if m.group("name") == "performance-table"
    )
    bench = (ROOT / docs.BENCH_FILE).read_text(encoding="utf-8")
    assert body == docs._performance_table(bench), (
        "README.md's performance table differs from reports/bench/latest.json "
        "(regenerate: python -m sim.docs --write)"
    )
    meta = json.loads(bench)["meta"]
    # The table says when, how and at what scale it was measured, straight from the file.
    assert meta["date_utc"] in body and f"`{meta['command']}`" in body
    assert meta["command"].startswith("p2c bench ") and "--out" in meta["command"]


def test_the_performance_table_names_the_processor_when_the_file_does():
    bench = json.loads((ROOT / docs.BENCH_FILE).read_text(encoding="utf-8"))
    bench["meta"]["cpu"] = "Example CPU 9000 @ 3.0GHz"
    assert "available), processor Example CPU 9000 @ 3.0GHz, Python " in (
        docs._performance_table(json.dumps(bench))
    )
    del bench["meta"]["cpu"]  # a file from before the processor was recorded
    assert "processor" not in docs._performance_table(json.dumps(bench))


def test_a_file_section_is_read_never_run():
    bench = (ROOT / docs.BENCH_FILE).read_text(encoding="utf-8")
    sections = {"performance-table": SECTIONS["performance-table"]}
    page = (
        "<!-- generated: performance-table (reports/bench/latest.json) -->\n<!-- end generated -->"
    )
    read: list[str] = []

    def never_run(command: str, out: Path | None) -> str:
        raise AssertionError(f"ran {command}")

    def reader(name: str) -> str:
        read.append(name)
        return bench

    fresh = regenerate(page, sections, never_run, reader)
    assert read == ["reports/bench/latest.json"]
    assert "| target | measured | command |" in fresh
    with pytest.raises(DocsError, match="cannot read it"):
        docs.read_file("reports/bench/no-such-file.json")
