"""Explore: search small business stories for one that breaks an invariant, and shrink it.

An architect's question is "can my design lose a credit limit, and if so, show me the
shortest way". :func:`explore` answers it by searching the space of small *stories*
against the design:

- a story is a few users saving customer records (two accounts, two fields: the credit
  limit, a finance user's job, and the phone, a sales user's job) on any side where the
  organisation has users, each form open for a while before it is saved (long enough,
  sometimes, for a lease to expire), at times that fall anywhere between the design's
  batch runs; the latency of every queued or live map of the entity is fixed per story
  (seconds, minutes, ten minutes), so deliveries arrive in any order the design allows;
  optionally a few faults (``outage``, ``duplicate``, ``reorder``, ...);
- every story becomes a *scenario* (``scripted:`` saves with ``opened_at``, fixed
  latencies, no random workload) and is run and judged exactly as ``p2c run`` does, by
  the same engine and the same checker: an anomaly means what it means everywhere else;
- Hypothesis is the search and the shrinker (:func:`hypothesis.find` over a strategy of
  stories): the first story that breaks a chosen invariant is cut down to the fewest
  saves and faults, the shortest gaps and the shortest forms that still break it.

The finding is the scenario itself: ``counterexample.yaml`` is written, loaded back and
run again before it is reported, so it replays under ``p2c run`` by construction (same
trace hash). The search is bounded by a wall-clock budget (and optionally a number of
stories); "nothing found" comes with what was searched.

Hypothesis keeps no example database unless one is asked for (``database=``): nothing is
written into the user's working tree.
"""

from __future__ import annotations

import copy
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import NoSuchExample, Unsatisfiable

from models.clock import format_t, parse_when
from models.design import DesignSpec
from sim.checker import INVARIANTS, check_history
from sim.scenario.merge import deep_merge
from sim.scenario.spec import (
    DESIGN_REPLACED_WHOLE,
    FAULT_KINDS,
    load_design,
    load_scenario,
    scenario_from_data,
)
from sim.scenario.yamlio import InputError, LineMap, load_yaml
from sim.study.story import (
    TimelineDrawer,
    dump_scenario,
    replay_file,
    run_and_check,
    story_markdown,
    story_rows,
    story_steps,
    write_folder,
)

ENTITY = "account"
#: The fields stories edit: a finance user's credit data and a sales user's contact data.
FIELDS = ("credit_limit", "phone")
KEYS = ("ACC-00001", "ACC-00002")
#: Who saves in each system when exploring a bare design (a scenario brings its own roles).
ROLE_FOR = {"sales": "sales_rep", "operations": "credit_controller"}
#: Stories start on a Monday morning, well after the initial load.
STORY_START_S = parse_when("day 1 09:00")
#: Per-story latency of each queued or live map of the entity: seconds, a minute, ten.
LATENCIES_S = (5.0, 60.0, 600.0)
MAX_GAP_MIN = 20
MAX_FORM_OPEN_MIN = 15
SETTLE_S = 3600.0
DEFAULT_SHRINK_S = 60.0
#: Stories tried at each length before the search allows one save more.
STORIES_PER_LEVEL = 40


class _OutOfTime(BaseException):
    """Raised inside the search to stop Hypothesis when the budget is spent (a
    BaseException, so Hypothesis does not take it for a finding and shrink it)."""


# ------------------------------------------------------------------ the space


@dataclass(frozen=True)
class Space:
    """What stories may contain for one design or organisation."""

    label: str
    design: Any  # models.design.DesignSpec
    design_ref: str | dict[str, Any]  # what the counterexample names (catalogue name or full)
    design_full: dict[str, Any]  # the design written out, for the search's own runs
    roles: dict[str, dict[str, Any]]
    savers: tuple[tuple[str, str], ...]  # (system, role) a save may come from
    maps: tuple[str, ...]  # queued or live maps of the entity: their latency is chosen
    all_maps: tuple[str, ...]  # every map of the entity (faults aim at these)
    fault_kinds: tuple[str, ...]
    seed: int
    kept: dict[str, Any]  # parts of the organisation's scenario kept (entities, licensing)
    max_saves: int


@dataclass(frozen=True)
class Step:
    """One save: who (by system), which record and field, when, how long the form was open."""

    saver: int
    key: str
    field: str
    gap_min: int
    form_open_min: int


@dataclass(frozen=True)
class FaultStep:
    kind: str
    start_min: int
    duration_min: int
    where: int


@dataclass(frozen=True)
class Story:
    steps: tuple[Step, ...]
    latencies_s: tuple[float, ...]
    faults: tuple[FaultStep, ...] = ()

    @property
    def size(self) -> tuple[int, int, int]:
        """Shorter stories sort first: fewer saves, fewer faults, less time."""
        return (
            len(self.steps),
            len(self.faults),
            sum(s.gap_min + s.form_open_min for s in self.steps),
        )


def _design_overrides(
    design: Any, maps: Sequence[str], latencies_s: Sequence[float]
) -> dict[str, Any]:
    """Fixed latencies: the story's for the entity's maps, the median for every other
    queued or live map; fixed resolution and handoff delays."""
    chosen = dict(zip(maps, latencies_s, strict=True))
    overrides: dict[str, Any] = {}
    fixed = {}
    for name, spec in design.maps.items():
        if spec.latency is None:
            continue
        seconds = chosen.get(name, spec.latency.median_s)
        fixed[name] = {"latency": {"distribution": "fixed", "median_s": float(seconds)}}
    if fixed:
        overrides["maps"] = fixed
    # The delays the design's concurrency rule draws (a person resolving a queued
    # conflict, ...): the registry says which settings they are.
    from models.concurrency import RULES

    delays = {
        name: {"distribution": "fixed", "median_s": getattr(design.concurrency, name).median_s}
        for name in RULES[design.concurrency.mode].delays
    }
    if delays:
        overrides["concurrency"] = delays
    if design.handoff is not None:
        overrides["handoff"] = {
            "delay": {"distribution": "fixed", "median_s": design.handoff.delay.median_s}
        }
    return overrides


def load_space(
    target: str | Path, *, seed: int | None = None, faults: Sequence[str] = (), max_saves: int = 6
) -> Space:
    """The story space of a catalogue design (by name), a design file, or a scenario
    file (its organisation's roles, their systems and licences, its objectives)."""
    unknown = [kind for kind in faults if kind not in FAULT_KINDS]
    if unknown:
        raise InputError(
            f"unknown fault kind(s) {', '.join(unknown)} (known: {', '.join(FAULT_KINDS)})"
        )
    if max_saves < 1:
        raise InputError("--max-saves must be at least 1")
    text = str(target)
    path = Path(text)
    kept: dict[str, Any] = {}
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        data, linemap = load_yaml(path)
        if not isinstance(data, dict):
            raise InputError(f"{path}:1: expected a design or a scenario (a mapping)")
        if "design" in data or "roles" in data:
            scenario = load_scenario(path)
            design = scenario.design
            design_full = copy.deepcopy(scenario.design_raw)
            design_ref: str | dict[str, Any] = design_full
            label = scenario.name
            roles = {
                name: {
                    **role.model_dump(mode="json", exclude_defaults=True),
                    "headcount": 0,
                    "actions": {},
                }
                for name, role in scenario.spec.roles.items()
            }
            for name in ("entities", "licensing", "objectives"):
                if name in scenario.raw:
                    kept[name] = copy.deepcopy(scenario.raw[name])
            seed = scenario.spec.seed if seed is None else seed
            savers = []
            for system in design.systems:
                homes = [n for n, r in scenario.spec.roles.items() if r.home_system == system]
                others = [n for n, r in scenario.spec.roles.items() if system in r.systems]
                if (homes or others) and ENTITY in design.editable:
                    savers.append((system, (homes or others)[0]))
        else:
            design, design_full = load_design(data, linemap, path.parent, ())
            design_full = copy.deepcopy(design_full)
            design_ref = design_full
            label = design.name
            roles, savers = _default_roles(design)
    else:
        try:
            design, design_full = load_design(text, LineMap(text), None, ())
        except InputError as exc:
            raise InputError(exc.message.split(": ", 1)[-1]) from None
        design_full = copy.deepcopy(design_full)
        design_ref = text
        label = text
        roles, savers = _default_roles(design)
    if not isinstance(design, DesignSpec):  # pragma: no cover - load_design's contract
        raise TypeError(design)
    if not savers:
        raise InputError(f"{label}: nothing to explore: no user may save an {ENTITY} in any system")
    maps = tuple(
        name
        for name, spec in design.maps.items()
        if spec.entity == ENTITY and spec.latency is not None
    )
    all_maps = tuple(name for name, spec in design.maps.items() if spec.entity == ENTITY)
    return Space(
        label=label,
        design=design,
        design_ref=design_ref,
        design_full=design_full,
        roles=roles,
        savers=tuple(savers),
        maps=maps,
        all_maps=all_maps,
        fault_kinds=tuple(dict.fromkeys(faults)),
        seed=1 if seed is None else int(seed),
        kept=kept,
        max_saves=max_saves,
    )


def _default_roles(design: Any) -> tuple[dict[str, dict[str, Any]], list[tuple[str, str]]]:
    """A bare design: a sales rep in Sales and a credit controller in Operations (where
    the design has them), plus whoever the design hands refused edits to."""
    roles: dict[str, dict[str, Any]] = {}
    savers = []
    for system in design.systems:
        role = ROLE_FOR.get(system)
        if role is not None:
            roles[role] = {"headcount": 0, "home_system": system}
            savers.append((system, role))
    if design.handoff is not None and design.handoff.to_role not in roles:
        home = "sales" if "sales" in design.systems else design.systems[0]
        roles[design.handoff.to_role] = {"headcount": 0, "home_system": home}
    return roles, savers


# ------------------------------------------------------------ the strategy


def story_strategy(space: Space, max_saves: int | None = None):
    """A Hypothesis strategy of stories in ``space`` of at most ``max_saves`` saves
    (default the space's own bound); saves come first, so they shrink first."""
    step = st.builds(
        Step,
        saver=st.integers(0, len(space.savers) - 1),
        key=st.sampled_from(KEYS),
        field=st.sampled_from(FIELDS),
        gap_min=st.integers(0, MAX_GAP_MIN),
        form_open_min=st.integers(0, MAX_FORM_OPEN_MIN),
    )
    steps = st.lists(step, min_size=1, max_size=max_saves or space.max_saves).map(tuple)
    latencies = st.tuples(*(st.sampled_from(LATENCIES_S) for _ in space.maps))
    if space.fault_kinds:
        fault = st.builds(
            FaultStep,
            kind=st.sampled_from(space.fault_kinds),
            start_min=st.integers(0, 40),
            duration_min=st.integers(1, 60),
            where=st.integers(0, 7),
        )
        faults = st.lists(fault, max_size=2).map(tuple)
    else:
        faults = st.just(())
    return st.builds(Story, steps=steps, latencies_s=latencies, faults=faults)


# --------------------------------------------------------- story -> scenario


def _value(field_name: str, index: int) -> Any:
    """Every save sets a value never used before, so each is told apart in the story."""
    if field_name == "credit_limit":
        return 10_000 * index
    if field_name == "phone":
        return f"+1-555-01{index:04d}"
    return f"{field_name}-{index}"


def _fault(space: Space, fault: FaultStep, story: Story, actors: Sequence[str]) -> dict[str, Any]:
    start_s = STORY_START_S + 60.0 * fault.start_min
    out: dict[str, Any] = {
        "kind": fault.kind,
        "at": format_t(start_s),
        "duration_s": 60.0 * fault.duration_min,
    }
    systems = list(space.design.systems)
    maps = list(space.all_maps)
    if fault.kind in ("outage", "crash", "clock_skew"):
        out["system"] = systems[fault.where % len(systems)]
        if fault.kind == "clock_skew":
            out["skew_s"] = 600.0 if fault.where % 2 == 0 else -600.0
    elif fault.kind == "partition":
        pairs = [[a, b] for i, a in enumerate(systems) for b in systems[i + 1 :]]
        out["between"] = pairs[fault.where % len(pairs)]
    elif fault.kind == "client_pause":
        out["actor"] = actors[fault.where % len(actors)]
    elif maps:
        out["maps"] = maps
        if fault.kind == "duplicate":
            out["probability"] = 1.0
        elif fault.kind == "loss":
            out["probability"] = 0.5
        elif fault.kind == "reorder":
            out["max_extra_s"] = 600.0
        elif fault.kind == "latency_spike":
            out["factor"] = 20.0
    return out


def story_scenario(
    space: Space, story: Story, *, name: str, readable: bool = True
) -> dict[str, Any]:
    """The story as a complete scenario: the design (named and extended when it is a
    catalogue design, ``readable``; else written out in full), fixed latencies, the
    organisation's roles with no random work, ``scripted:`` saves and the faults."""
    overrides = _design_overrides(space.design, space.maps, story.latencies_s)
    if readable and isinstance(space.design_ref, str):
        design: str | dict[str, Any] = {"extends": space.design_ref, **overrides}
    else:
        design = deep_merge(space.design_full, overrides, whole=DESIGN_REPLACED_WHOLE)
    scripted: list[dict[str, Any]] = []
    actors = []
    opened_s = STORY_START_S
    for index, step in enumerate(story.steps, start=1):
        system, role = space.savers[step.saver]
        opened_s += 60.0 * step.gap_min
        at_s = opened_s + 60.0 * step.form_open_min
        actor = f"{role}-{index}"
        actors.append(actor)
        save: dict[str, Any] = {
            "at": format_t(at_s),
            "role": role,
            "actor": actor,
            "system": system,
            "entity": ENTITY,
            "key": step.key,
            "fields": {step.field: _value(step.field, index)},
        }
        if at_s > opened_s:
            save = {"opened_at": format_t(opened_s), **save}
        scripted.append(save)
    faults = [_fault(space, fault, story, actors) for fault in story.faults]
    ends = [parse_when(s["at"]) for s in scripted]
    ends += [parse_when(f["at"]) + f["duration_s"] for f in faults]
    end_s = max(ends) + SETTLE_S
    data: dict[str, Any] = {
        "name": name,
        "seed": space.seed,
        "design": design,
        "duration_days": round(end_s / 86_400.0 + 1e-6, 6),
        "quiescence_max_s": 86_400.0,
        "initial_data": {
            "accounts": len(KEYS),
            "contacts_per_account": 0,
            "products": 0,
            "bundles": 0,
        },
        "roles": copy.deepcopy(space.roles),
        "scripted": scripted,
    }
    if faults:
        data["faults"] = faults
    data.update(copy.deepcopy(space.kept))
    return data


# ------------------------------------------------------------- judging


@dataclass
class Judgement:
    broken: dict[str, Any]  # invariant -> Verdict with anomalies
    trace_sha256: str
    events: list[dict[str, Any]]
    report: Any


def judge(data: dict[str, Any], invariants: Sequence[str] | None = None) -> Judgement:
    """Run scenario ``data`` as ``p2c run`` does and say which ``invariants`` it breaks
    (an anomaly counted, violated or sanctioned)."""
    scenario = scenario_from_data(copy.deepcopy(data), LineMap(data.get("name", "story")))
    replay = run_and_check(scenario, only=invariants)
    broken = {
        name: verdict for name, verdict in replay.report.verdicts.items() if verdict.count > 0
    }
    return Judgement(broken, replay.trace_sha256, replay.events, replay.report)


# -------------------------------------------------------------- the search


@dataclass
class Exploration:
    """What :func:`explore` searched and found."""

    label: str
    invariants: list[str]
    budget_s: float
    seed: int
    fault_kinds: tuple[str, ...]
    tried: int = 0
    largest_story: int = 0
    search_s: float = 0.0
    shrink_s: float = 0.0
    shrink_complete: bool = True
    story: Story | None = None
    scenario: dict[str, Any] | None = None
    broken: list[str] = field(default_factory=list)
    anomalies: list[tuple[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    trace_sha256: str | None = None
    replayed: bool = False

    @property
    def found(self) -> bool:
        return self.story is not None

    @property
    def saves(self) -> int:
        return len(self.story.steps) if self.story else 0

    def story_rows(self) -> list[dict[str, Any]]:
        return story_rows(self.scenario) if self.scenario else []

    def summary(self) -> dict[str, Any]:
        """A JSON-able summary (``p2c explore --json``)."""
        return {
            "target": self.label,
            "invariants": self.invariants,
            "found": self.found,
            "broken": self.broken,
            "saves": self.saves,
            "faults": len(self.story.faults) if self.story else 0,
            "stories_tried": self.tried,
            "largest_story_saves": self.largest_story,
            "search_s": round(self.search_s, 2),
            "shrink_s": round(self.shrink_s, 2),
            "shrink_complete": self.shrink_complete,
            "budget_s": self.budget_s,
            "seed": self.seed,
            "fault_kinds": list(self.fault_kinds),
            "replayed": self.replayed,
            "trace_sha256": self.trace_sha256,
            "anomalies": [
                {"invariant": n, "code": a.code, "explanation": a.explain()}
                for n, a in self.anomalies[:5]
            ],
            "story": self.story_rows(),
        }


def check_invariants(names: Sequence[str] | None) -> list[str]:
    """The invariants to search, from the checker's registry (all when none named)."""
    if not names:
        return list(INVARIANTS)
    unknown = [n for n in names if n not in INVARIANTS]
    if unknown:
        raise InputError(
            f"unknown invariant(s) {', '.join(unknown)} (known: {', '.join(INVARIANTS)})"
        )
    return [n for n in INVARIANTS if n in names]  # registry order, each once


def explore(
    target: str | Path,
    invariants: Sequence[str] | None = None,
    *,
    budget_s: float = 30.0,
    seed: int | None = None,
    faults: Sequence[str] = (),
    max_saves: int = 6,
    max_stories: int | None = None,
    shrink_s: float | None = None,
    database: str | Path | None = None,
) -> Exploration:
    """Search stories against ``target`` for one that breaks one of ``invariants``
    (default: every invariant the checker knows), shrink it, and replay it from its file.

    ``budget_s`` bounds the search (wall clock), ``max_stories`` the number of stories;
    once a story is found, shrinking gets ``shrink_s`` more (default 60 s; the best story
    so far is kept if that runs out). ``seed`` seeds both the runs and Hypothesis.
    ``database``: a folder for Hypothesis' example database (none by default).
    """
    if not budget_s or budget_s <= 0:
        raise InputError("--budget-s must be a number of seconds > 0")
    if max_stories is not None and max_stories < 1:
        raise InputError("--max-stories must be at least 1")
    names = check_invariants(invariants)
    space = load_space(target, seed=seed, faults=faults, max_saves=max_saves)
    result = Exploration(space.label, names, float(budget_s), space.seed, space.fault_kinds)
    shrink_budget_s = DEFAULT_SHRINK_S if shrink_s is None else float(shrink_s)
    best: dict[str, Any] = {}
    clock: dict[str, Any] = {"start": time.perf_counter(), "found": None, "out": False}

    def breaks(story: Story) -> bool:
        now = time.perf_counter()
        if clock["found"] is None and now - clock["start"] > budget_s:
            clock["out"] = True
            raise _OutOfTime
        if clock["found"] is not None and now - clock["found"] > shrink_budget_s:
            raise _OutOfTime
        result.tried += 1
        result.largest_story = max(result.largest_story, len(story.steps))
        data = story_scenario(space, story, name="story", readable=False)
        verdict = judge(data, names)
        if not verdict.broken:
            return False
        if clock["found"] is None:
            clock["found"] = time.perf_counter()
        if "story" not in best or story.size < best["story"].size:
            best["story"] = story
        return True

    db = DirectoryBasedExampleDatabase(str(database)) if database else None
    found = _deepen(space, breaks, result, best, clock, max_stories, db)
    end = time.perf_counter()
    if clock["found"] is None:
        result.search_s = end - clock["start"]
        return result
    result.search_s = clock["found"] - clock["start"]
    result.shrink_s = end - clock["found"]
    if found is None or ("story" in best and best["story"].size < found.size):
        found = best["story"]
    _conclude(result, space, found, names)
    return result


def _deepen(
    space: Space,
    breaks: Callable[[Story], bool],
    result: Exploration,
    best: dict[str, Any],
    clock: dict[str, Any],
    max_stories: int | None,
    db: DirectoryBasedExampleDatabase | None,
) -> Story | None:
    """Hypothesis' search, level by level (see below); the story it found, if any."""
    phases = [Phase.generate, Phase.shrink] + ([Phase.reuse] if db else [])
    found: Story | None = None
    # Iterative deepening: a few stories of at most 1 save, then at most 2, ...; the
    # last level gets whatever is left. A short story is found before a long one that
    # Hypothesis' shrinker might not be able to cut down (it removes saves one at a time
    # and cannot always move the others to keep the anomaly).
    left = max_stories
    for level in range(1, space.max_saves + 1):
        last = level == space.max_saves
        examples = (
            (left or 1_000_000)
            if last
            else min(STORIES_PER_LEVEL * level, left or STORIES_PER_LEVEL * level)
        )
        before = result.tried
        config = settings(
            database=db,
            max_examples=examples,
            deadline=None,
            phases=phases,
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
        )
        try:
            found = find(
                story_strategy(space, level),
                breaks,
                settings=config,
                random=random.Random(f"{space.seed}:{level}"),
            )
        except (NoSuchExample, Unsatisfiable):
            found = None
        except _OutOfTime:
            found = best.get("story")
            result.shrink_complete = found is None
        if left is not None:
            left -= result.tried - before
        if found is not None or clock["found"] is not None or clock["out"]:
            break
        if left is not None and left <= 0:
            break
    return found


def _conclude(result: Exploration, space: Space, story: Story, names: list[str]) -> None:
    """Write the story as its readable scenario, load it back from a file and run it as
    ``p2c run`` would: the finding is reported only if that replay breaks the invariant
    with the same history (trace hash) as the search's own run."""
    name = f"explore-{slug(space.label)}"
    data = story_scenario(space, story, name=name)
    search_run = judge(story_scenario(space, story, name=name, readable=False), names)
    with tempfile.TemporaryDirectory(prefix="p2c-explore-") as scratch:
        path = Path(scratch) / "counterexample.yaml"
        path.write_text(dump_scenario(data, ""), encoding="utf-8")
        replay = replay_file(path)
    broken = [n for n in names if replay.report.verdicts[n].count > 0]
    if not broken or replay.trace_sha256 != search_run.trace_sha256:
        raise RuntimeError(
            f"explore: the counterexample for {space.label} did not replay to the same "
            f"anomaly (search trace {search_run.trace_sha256[:16]}, replay "
            f"{replay.trace_sha256[:16]}, broken {broken}): a bug in explore"
        )
    result.story = story
    result.scenario = data
    result.broken = broken
    result.anomalies = [(n, a) for n in broken for a in replay.report.verdicts[n].anomalies]
    result.events = replay.events
    result.trace_sha256 = replay.trace_sha256
    result.replayed = True


def slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text).strip("-") or "story"


# --------------------------------------------------------------- outputs


def finding_files(result: Exploration, out: Path, to_suite: Path | None = None) -> dict[str, str]:
    """The texts of ``counterexample.yaml`` and ``story.md`` for a finding."""
    assert result.scenario is not None
    header = (
        f"Found by p2c explore on {result.label}: a story of {result.saves} save(s) "
        f"that breaks {', '.join(result.broken)}.\n"
        f"Replay: p2c run {out / 'counterexample.yaml'}"
    )
    files = {"counterexample.yaml": dump_scenario(result.scenario, header)}
    title = f"{result.label}: {', '.join(result.broken)} broken in {result.saves} save(s)"
    notes = [
        f"Found after {result.tried} stories ({result.search_s:.1f} s search, "
        f"{result.shrink_s:.1f} s shrinking"
        f"{'' if result.shrink_complete else ', stopped at the shrink limit'}); "
        f"seed {result.seed}."
    ]
    files["story.md"] = story_markdown(
        title,
        result.scenario,
        result.anomalies[:5],
        f"p2c run {out / 'counterexample.yaml'}",
        notes,
    )
    return files


def suite_entry(result: Exploration, path: Path) -> str:
    """The counterexample as a regression-suite file: the scenario plus an ``expect:``
    block pinning the broken invariants' statuses (a fix, or a re-break, shows in
    ``p2c check``)."""
    assert result.scenario is not None
    data = copy.deepcopy(result.scenario)
    data["name"] = slug(path.stem)
    statuses = {}
    for name in result.broken:
        statuses[name] = next(v.status for n, v in _verdicts(result).items() if n == name)
    data["expect"] = {"invariants": statuses}
    header = (
        f"Found by p2c explore on {result.label}: {', '.join(result.broken)} broken "
        f"by {result.saves} save(s). If a design change fixes it, p2c check says so."
    )
    return dump_scenario(data, header)


def _verdicts(result: Exploration) -> dict[str, Any]:
    return check_history(result.events, only=result.broken).verdicts


def write_finding(
    result: Exploration,
    out: Path,
    to_suite: Path | None = None,
    *,
    draw_timeline: TimelineDrawer,
) -> list[Path]:
    """``out/counterexample.yaml``, ``out/story.md`` and ``out/timeline.png`` (all or
    nothing), and the suite file when ``to_suite`` names one; the picture is drawn by
    ``draw_timeline`` (:func:`sim.reporting.timeline.plot_anomaly`)."""
    out = Path(out)
    files = finding_files(result, out)
    first = result.anomalies[0][1] if result.anomalies else None

    def pictures(folder: Path) -> list[Path]:
        return [draw_timeline(result.events, first, folder / "timeline.png")] if first else []

    written = write_folder(out, files, pictures)
    if to_suite is not None:
        to_suite = Path(to_suite)
        written += write_folder(to_suite.parent, {to_suite.name: suite_entry(result, to_suite)})
    return written


def summary_lines(result: Exploration, out: Path | None) -> list[str]:
    """What ``p2c explore`` prints."""
    lines = [
        f"p2c explore: {result.label}; invariants: {', '.join(result.invariants)}"
        + (f"; faults: {', '.join(result.fault_kinds)}" if result.fault_kinds else "")
    ]
    if not result.found:
        lines += [
            "",
            f"Nothing found within the budget: {result.tried} stories tried in "
            f"{result.search_s:.1f} s (budget {result.budget_s:g} s), the largest "
            f"with {result.largest_story} saves; seed {result.seed}.",
        ]
        return lines
    lines += [
        "",
        f"Found: {', '.join(result.broken)} broken by a story of {result.saves} "
        f"save(s) (after {result.tried} stories: {result.search_s:.1f} s search, "
        f"{result.shrink_s:.1f} s shrinking"
        f"{'' if result.shrink_complete else ', stopped at the shrink limit'}).",
        "",
    ]
    assert result.scenario is not None  # found: the shrunk story is kept
    lines += [f"  {i}. {text}" for i, text in enumerate(story_steps(result.scenario), start=1)]
    lines += [""] + [f"  {n}: {a.explain()}" for n, a in result.anomalies[:3]]
    if out is not None:
        lines += [
            "",
            f"Wrote {out}/counterexample.yaml, story.md, timeline.png",
            f"Replay: p2c run {out / 'counterexample.yaml'}",
        ]
    return lines
