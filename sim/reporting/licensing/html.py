"""The report page and the report folder, written all or nothing."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sim.reporting.licensing.charts import cost_breakdown_figure, cost_risk_figure, figure_png
from sim.reporting.licensing.comparison import IMAGES, Comparison
from sim.reporting.licensing.text import money, number
from sim.scenario.yamlio import InputError

TEMPLATE = "licensing_report.html.j2"
SOURCES_TEMPLATE = "licensing_sources.html.j2"
SOURCES_PAGE = "sources.html"


def _environment():
    # Imported when used: p2c builds its parser from this package (p2c --help stays fast).
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("sim.reporting", "templates"),
        autoescape=True,  # every user-supplied string is escaped, whatever the file name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["money"] = money
    env.filters["num"] = number
    env.filters["pct"] = lambda value: "-" if value is None else f"{100 * value:.0f}%"
    return env


def collect_sources(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every source the report quotes, once, with what rests on it: ``[{"id", "text",
    "used_for": [...]}]``. The page links each source to its entry in ``sources.html``."""
    found: dict[str, list[str]] = {}
    prov = data["provenance"]
    for price in prov["prices"]:
        found.setdefault(price["source"], []).append(
            f"{price['name']}: price {money(price['price_usd_month'])}"
        )
        if price["attach"]:
            found.setdefault(price["attach"]["source"], []).append(
                f"{price['name']}: attach price {money(price['attach']['price_usd_month'])}"
            )
        if price.get("min_seats_source"):
            found.setdefault(price["min_seats_source"], []).append(
                f"{price['name']}: minimum of {price['min_seats']} seats"
            )
    for entry in data["recommendation"].get("rests_on") or []:
        found.setdefault(entry["source"], []).append(entry["what"])
    found.setdefault(prov["price_book"]["requests_source"], []).append("request limits")
    for option in data["options"]:
        build = option["licences"].get("build")
        if build:
            found.setdefault(build["basis"], []).append(f"{option['name']}: build and run cost")
    return [
        {"id": f"src-{i + 1}", "text": text, "used_for": list(dict.fromkeys(uses))}
        for i, (text, uses) in enumerate(found.items())
    ]


def render_html(data: Mapping[str, Any]) -> str:
    """The report page for ``data`` (a comparison's ``to_json()``)."""
    # Imported when used: p2c builds its parser from this package (p2c --help stays fast).
    from sim.reporting.licensing.charts import money_axis

    sources = collect_sources(data)
    ids = {source["text"]: source["id"] for source in sources}
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(report=data, axis=money_axis(data), source_id=ids, sources_page=SOURCES_PAGE)
    )


def render_sources(data: Mapping[str, Any]) -> str:
    """``sources.html``: every source the report quotes, shipped beside it."""
    return (
        _environment()
        .get_template(SOURCES_TEMPLATE)
        .render(report=data, sources=collect_sources(data))
    )


def check_report_folder(out: Path) -> None:
    """Refuse (exit 2) an ``--out`` a report may not replace; checked before any run."""
    for folder in reversed(out.parents):
        if folder.exists() and not folder.is_dir():
            raise InputError(f"{out}: {folder} is a file, not a folder")
    if out.exists():
        if not out.is_dir():
            raise InputError(f"{out}: exists and is not a folder")
        if any(out.iterdir()) and not (out / "report.json").is_file():
            raise InputError(
                f"{out}: not empty and not a previous report; choose another "
                "--out (nothing was written)"
            )


def write_report(comparison: Comparison | Mapping[str, Any], out_dir: Path | str) -> Path:
    """Write ``index.html``, the charts and ``report.json`` into ``out_dir``, all or
    nothing (a temporary folder beside it, renamed at the end). An existing ``out_dir``
    is replaced only if it is empty or holds a previous report. Returns index.html."""
    data = comparison.to_json() if isinstance(comparison, Comparison) else comparison
    out = Path(out_dir)
    check_report_folder(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    old = None
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; a report is for sharing
        (staging / IMAGES["cost_vs_risk"]).write_bytes(figure_png(cost_risk_figure(data)))
        (staging / IMAGES["cost_breakdown"]).write_bytes(figure_png(cost_breakdown_figure(data)))
        (staging / "index.html").write_text(render_html(data), encoding="utf-8")
        (staging / SOURCES_PAGE).write_text(render_sources(data), encoding="utf-8")
        (staging / "report.json").write_text(
            json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8"
        )
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / "report")
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None and not out.exists():
            os.replace(old / "report", out)  # put the previous report back
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return out / "index.html"
