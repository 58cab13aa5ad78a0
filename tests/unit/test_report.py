"""The plan report: every section, every picture an embedded PNG, nothing loaded from elsewhere, fast at full size."""

import base64
import datetime as dt
import os
import re
import shutil
import struct
import subprocess
from html.parser import HTMLParser

import pandas as pd
import pyarrow as pa
import pytest

from territory.report import REPORT_TABLES, ReportTables, render_plan_report

DAY = dt.date(2026, 6, 30)
SECTIONS = ("headline", "solver", "map", "reps", "moves", "capacity", "goals", "contact-plan", "markets", "conflicts",
            "quality")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
VOID = {"meta", "img", "br", "hr", "link", "input"}


class _Page(HTMLParser):
    """What the tests look at: section ids, image sources, links, and whether every element is closed."""

    def __init__(self) -> None:
        super().__init__()
        self.sections, self.sources, self.links, self.open = [], [], [], []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "section" or attributes.get("id") == "headline":
            self.sections.append(attributes["id"])
        if tag == "img":
            self.sources.append(attributes["src"])
        if tag == "a":
            self.links.append(attributes["href"])
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open.pop() == tag, f"</{tag}> closes nothing open"


def _parse(page: str) -> _Page:
    parsed = _Page()
    parsed.feed(page)
    parsed.close()
    assert parsed.open == [], f"left open: {parsed.open}"
    return parsed


def _png_size(source: str) -> tuple[int, int]:
    """The width and height of an embedded PNG, after checking that it is one."""
    prefix = "data:image/png;base64,"
    assert source.startswith(prefix)
    png = base64.b64decode(source[len(prefix):], validate=True)
    assert png[:8] == PNG_SIGNATURE and png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


def _assert_self_contained(page: str) -> None:
    assert not re.search(r"https?://", page)
    assert not re.search(r"<script|<link|<iframe|@import|url\(", page, re.IGNORECASE)


def test_the_report_has_every_section_and_its_pictures_are_embedded_pngs(report_tables):
    page = render_plan_report(DAY, report_tables(), {"accounts": 3, "contacts": 0}, "../../quality/index.html")
    parsed = _parse(page)
    assert parsed.sections == list(SECTIONS)
    # the map, the reps' loads, the reasons, the weekly load, the markets and the conflicts
    assert len(parsed.sources) == 6
    assert all(width > 0 and height > 0 for width, height in map(_png_size, parsed.sources))
    _assert_self_contained(page)
    assert parsed.links == ["../../quality/index.html"]
    assert "<li>accounts: 3 row(s) set aside</li>" in page and "contacts:" not in page  # only those with rows aside
    assert "&amp; &lt;Sons&gt;" in page and "<Sons>" not in page  # the moved accounts' names, escaped
    assert "fy_revenue" in page and "fy_new_logos" in page
    assert "hire 1 senior reps" in page  # the capacity gap's recommendation


def test_the_report_renders_without_moves_or_a_capacity_gap(report_tables):
    tables = report_tables(moves=False, capacity_gap=False)
    assert tables.territory_moves.empty and (tables.capacity_gap["missing_hours"] == 0).all()
    page = render_plan_report(DAY, tables)
    parsed = _parse(page)
    assert parsed.sections == list(SECTIONS)
    assert "No account changes owner." in page
    assert "Every one of the 12 markets is covered; the busiest:" in page
    assert "do not record the rows set aside" in page
    assert all(width > 0 for width, _ in map(_png_size, parsed.sources))


def test_the_report_renders_when_the_other_tables_are_empty(report_tables):
    full = report_tables()
    empty = {name: pd.DataFrame() for name in ("territory_moves", "capacity_gap", "territory_conflicts", "markets",
                                              "goal_progress", "contact_plan_weeks")}
    page = render_plan_report(DAY, ReportTables(**{**vars(full), **empty}), {})
    parsed = _parse(page)
    assert parsed.sections == list(SECTIONS)
    assert len(parsed.sources) == 3  # the map, the reps' loads and the reasons
    for said in ("No account changes owner.", "No market to report.", "No goal is allocated.", "No contact plan.",
                 "No market to draw.", "No ownership conflict in the CRM.", "No row was quarantined."):
        assert said in page


def test_tables_from_arrow_keep_what_the_report_reads_and_leave_missing_ones_empty(report_tables):
    full = report_tables(accounts=50, reps=4)
    published = {name: pa.Table.from_pandas(getattr(full, name), preserve_index=False) for name in REPORT_TABLES
                 if name != "markets"}  # a date published before the markets were
    tables = ReportTables.from_arrow(published)
    assert list(tables.account_segments.columns) == ["account_id", "latitude", "longitude"]
    assert tables.markets.empty and len(tables.territory_summary) == 4
    assert "No market to draw." in render_plan_report(DAY, tables)


def test_a_summary_without_the_reps_bases_still_draws_the_map(report_tables):
    full = report_tables(accounts=50, reps=4)
    older = full.territory_summary.drop(columns=["home_latitude", "home_longitude"])
    page = render_plan_report(DAY, ReportTables(**{**vars(full), "territory_summary": older}))
    assert 'id="map"><h2>Where the accounts go</h2><figure><img src="data:image/png;base64,' in page


def test_the_report_at_20000_accounts_and_80_reps_stays_small_and_self_contained(report_tables):
    page = render_plan_report(DAY, report_tables(accounts=20_000, reps=80, seed=1))
    assert len(page.encode("utf-8")) < 3_000_000  # the map is a small raster whatever the number of accounts
    _assert_self_contained(page)


BROWSERS = ("chromium", "chromium-browser", "google-chrome", "firefox")
# Added to a copy of the page: once it has loaded, the whole page turns green when every image decoded, red if not.
VERDICT = """<script>addEventListener("load", () => {
  const ok = [...document.images].every(image => image.complete && image.naturalWidth > 0);
  document.body.innerHTML = ""; document.documentElement.style.background = ok ? "#00ff00" : "#ff0000";
});</script>"""


@pytest.fixture
def browser() -> str:
    """A headless browser's path; without one the test is skipped, or fails where CI installs one."""
    found = next(filter(None, map(shutil.which, BROWSERS)), None)
    if found is None:
        if os.environ.get("TERRITORY_REQUIRE_SERVICES") == "1":  # .ci/run installs Chromium and sets this
            pytest.fail("no headless browser, but TERRITORY_REQUIRE_SERVICES=1: .ci/install-system-packages installs chromium")
        pytest.skip("no headless browser on this machine")
    return found


def test_a_browser_loads_every_picture(browser, report_tables, tmp_path):
    from PIL import Image

    page = tmp_path / "index.html"
    page.write_text(render_plan_report(DAY, report_tables()).replace("</body>", VERDICT + "</body>"), encoding="utf-8")
    shot = tmp_path / "shot.png"
    if "firefox" in browser:
        command = [browser, "--headless", "--window-size=400,300", "--screenshot", str(shot), page.as_uri()]
    else:  # the network is closed: no background connections, no first-run or component updates
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=400,300",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                   f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", page.as_uri()]
    subprocess.run(command, capture_output=True, timeout=120, check=True)
    assert Image.open(shot).convert("RGB").getpixel((200, 150)) == (0, 255, 0)
