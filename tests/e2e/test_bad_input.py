"""Bad input never crashes: `territory run --source files` on each broken export of the corpus exits 1
with a plain message naming the file, the column, the rule and the count, and the previous publication
(analytics.duckdb) stays byte for byte as it was.

To keep this module short, cases that break different tables share one run (the loader reports every
problem at once); each case is still asserted on its own. See tests/fixtures/bad_inputs/README.md.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.corpus import CASES, disjoint_groups, overlay

pytestmark = pytest.mark.e2e
TERRITORY = [str(Path(sys.executable).with_name("territory"))]  # the installed console script
SNAPSHOT = "2026-06-30"
GROUPS = disjoint_groups(CASES)


def territory(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TERRITORY_HOME": str(home)}
    env.pop("DAGSTER_HOME", None)
    return subprocess.run([*TERRITORY, *args], check=False, capture_output=True, text=True, env=env, timeout=600)


def run_files(home: Path, crm: Path) -> subprocess.CompletedProcess:
    return territory(home, "run", "--source", "files", "--path", str(crm), "--snapshot-date", SNAPSHOT)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A successful run on the valid export: the publication that bad input must leave alone."""
    home = tmp_path_factory.mktemp("home")
    result = run_files(home, overlay([], tmp_path_factory.mktemp("good") / "crm_small"))
    assert result.returncode == 0, result.stderr
    return home, (home / "analytics.duckdb").read_bytes()


@pytest.fixture(scope="module")
def failed_run(published, tmp_path_factory):
    """The run of the group holding a case, made once per group against the published home."""
    home, _ = published
    results: dict[int, subprocess.CompletedProcess] = {}

    def run(bad) -> subprocess.CompletedProcess:
        index = next(i for i, group in enumerate(GROUPS) if bad in group)
        if index not in results:
            crm = overlay(GROUPS[index], tmp_path_factory.mktemp(f"bad{index}") / "crm")
            results[index] = run_files(home, crm)
        return results[index]

    return run


@pytest.mark.parametrize("bad", CASES, ids=lambda c: c.name)
def test_bad_input_exits_1_with_a_plain_message_and_keeps_the_publication(bad, published, failed_run):
    home, before = published
    result = failed_run(bad)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "error: the run failed" in result.stderr
    explained = result.stderr.split("error: the run failed", 1)[1]
    assert bad.line_in(explained), f"{bad.name}: expected {bad.where!r} and {bad.expected} on one line of:\n{result.stderr}"
    assert "LINE 1:" not in explained and "Possible Solution" not in explained  # no raw DuckDB dump
    assert (home / "analytics.duckdb").read_bytes() == before


def test_the_cases_share_few_runs():
    assert len(GROUPS) <= 7 and sorted(c.name for g in GROUPS for c in g) == sorted(c.name for c in CASES)
