"""The report in a real headless browser: it renders, every image loads, nothing complains.

CI installs the browser (Debian: ``apt-get install -y chromium``). Without a chromium
binary on PATH these tests are skipped, saying so; with one they must pass.

Three checks, each with a planted failure showing it can fail:

- a screenshot is written and is not blank (many distinct colours, not all white);
- every ``<img>`` loaded: a copy of the page with a tiny script added (the report itself
  has none) marks ``<html data-images="loaded:N">`` once all images are complete with a
  natural width, and ``--dump-dom`` shows the mark;
- the browser logged no console message at all (``--enable-logging=stderr``): the page
  has no scripts, so any message means something went wrong.

The browser runs offline: every host name resolves to nothing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from test_report import SMALL, write_scenario

from sim.reporting.licensing import compare_options, write_report

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 90

IMAGE_PROBE = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var ok = images.length > 0 && images.every(function (image) {
    return image.complete && image.naturalWidth > 0;
  });
  document.documentElement.setAttribute("data-images", (ok ? "loaded:" : "broken:")
                                        + images.length);
});
</script>
"""


def browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no chromium binary on PATH (CI installs it: apt-get install -y chromium)")


def run_browser(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [
        browser(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        *extra,
        page.resolve().as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def images_mark(page: Path, profile: Path) -> str:
    """Load a probed copy of ``page`` (same folder, so relative images resolve) and
    return its ``data-images`` mark."""
    probe = page.with_name("probe-" + page.name)
    html = page.read_text(encoding="utf-8")
    probe.write_text(html.replace("</body>", IMAGE_PROBE + "</body>"), encoding="utf-8")
    try:
        done = run_browser(probe, profile, "--dump-dom")
    finally:
        probe.unlink()
    assert done.returncode == 0, done.stderr[-2000:]
    head = done.stdout[:500]
    start = head.find('data-images="')
    return head[start + len('data-images="') :].split('"', 1)[0] if start >= 0 else ""


def screenshot_is_not_blank(png: Path) -> bool:
    from PIL import Image

    with Image.open(png) as image:
        pixels = image.convert("RGB")
        colours = pixels.getcolors(maxcolors=1_000_000) or []
        extrema = pixels.convert("L").getextrema()
    return len(colours) > 50 and extrema[0] < 100


@pytest.fixture(scope="module")
def report_page(tmp_path_factory) -> Path:
    browser()
    folder = tmp_path_factory.mktemp("browser")
    comparison = compare_options(write_scenario(folder, SMALL), seeds=1)
    return write_report(comparison, folder / "report")


def test_the_report_renders_in_a_headless_browser_without_console_messages(report_page, tmp_path):
    png = tmp_path / "report.png"
    done = run_browser(
        report_page, tmp_path / "profile", f"--screenshot={png}", "--window-size=1280,2000"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert png.is_file() and png.stat().st_size > 10_000
    assert screenshot_is_not_blank(png)
    assert console_messages(done.stderr) == []


def test_every_image_of_the_report_loads_in_the_browser(report_page, tmp_path):
    assert images_mark(report_page, tmp_path / "profile") == "loaded:2"


def test_the_browser_checks_catch_a_missing_image_a_console_error_and_a_blank_page(
    report_page, tmp_path
):
    broken = tmp_path / "index.html"
    html = report_page.read_text(encoding="utf-8")
    broken.write_text(html.replace('src="cost_vs_risk.png"', 'src="missing.png"'), encoding="utf-8")
    shutil.copy(report_page.parent / "cost_breakdown.png", tmp_path / "cost_breakdown.png")
    assert images_mark(broken, tmp_path / "profile") == "broken:2"
    noisy = tmp_path / "noisy.html"
    noisy.write_text(
        "<!DOCTYPE html><html><body><script>console.error('planted')</script></body></html>",
        encoding="utf-8",
    )
    done = run_browser(noisy, tmp_path / "profile")
    assert any("planted" in line for line in console_messages(done.stderr))
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
    png = tmp_path / "blank.png"
    run_browser(blank, tmp_path / "profile", f"--screenshot={png}", "--window-size=800,600")
    assert png.is_file() and not screenshot_is_not_blank(png)


def test_the_money_axis_starts_at_zero_in_the_rendered_page(report_page, tmp_path):
    """The cost-versus-risk figure element, as the browser renders it, says the money axis
    starts at $0 (the mark is taken from the drawn chart's first tick label), and the
    caption a reader sees says so and that labels carry the deltas."""
    done = run_browser(report_page, tmp_path / "profile", "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert 'data-money-axis-from="0.0"' in dom and 'data-money-first-tick="$0"' in dom
    assert "The cost\n  axis starts at $0" in dom or "axis starts at $0" in " ".join(dom.split())
    assert "difference from the cheapest" in " ".join(dom.split())
