"""Publication: ownership history, dated folders, the analytics database and recovery after a crash."""

import datetime as dt
import json
import random

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from territory.paths import TerritoryHome
from territory.publication import (
    HISTORY_TABLE,
    extend_history,
    ownership_history,
    publish,
    published_dates,
    recover,
)

D1, D2, D3, D4 = (dt.date(2026, 3, day) for day in (1, 2, 3, 4))


def _plan(owners: dict[str, str]) -> pa.Table:
    return pa.table({"account_id": list(owners), "rep_id": list(owners.values())})


def _rows(table: pa.Table) -> list[tuple]:
    return sorted(tuple(row.values()) for row in table.select(["account_id", "rep_id", "valid_from", "valid_to"]).to_pylist())


def test_history_has_one_span_per_stretch_of_ownership():
    snapshots = [
        (D1, _plan({"A": "R1", "B": "R1", "C": "R2"})),
        (D2, _plan({"A": "R1", "B": "R2", "C": "R2"})),  # B moves to R2
        (D3, _plan({"A": "R1", "B": "R1"})),  # B moves back; C is gone
        (D4, _plan({"A": "R1", "B": "R1", "C": "R2"})),  # C is back with the same rep: a new span
    ]
    assert _rows(ownership_history(snapshots)) == [
        ("A", "R1", D1, None),
        ("B", "R1", D1, D2), ("B", "R1", D3, None), ("B", "R2", D2, D3),
        ("C", "R2", D1, D3), ("C", "R2", D4, None),
    ]


def test_extending_the_history_day_by_day_equals_building_it_at_once():
    rng = random.Random(3)
    snapshots = []
    for offset in range(12):
        accounts = [f"A{i}" for i in range(40) if rng.random() < 0.9]
        snapshots.append((D1 + dt.timedelta(days=offset), _plan({a: rng.choice(["R1", "R2", "R3"]) for a in accounts})))
    extended = ownership_history(snapshots[:1])
    for day, plan in snapshots[1:]:
        extended = extend_history(extended, day, plan)
    assert _rows(extended) == _rows(ownership_history(snapshots))


def _tables(owners: dict[str, str], marker: str) -> dict[str, pa.Table]:
    return {"territory_assignments": _plan(owners), "solver_runs": pa.table({"status": [marker]})}


@pytest.fixture
def home(tmp_path) -> TerritoryHome:
    return TerritoryHome(tmp_path / "home")


def _analytics(home: TerritoryHome, sql: str) -> list[tuple]:
    with duckdb.connect(str(home.analytics), read_only=True) as conn:
        return conn.sql(sql).fetchall()


def test_the_latest_date_goes_to_analytics_with_the_whole_history_and_its_helpers(home):
    publish(home, D1, _tables({"A": "R1", "B": "R1"}, "first"))
    publication = publish(home, D2, _tables({"A": "R1", "B": "R2"}, "second"))
    assert publication.analytics == home.analytics and published_dates(home) == [D1, D2]
    assert _analytics(home, "select status, snapshot_date from solver_runs") == [("second", D2)]
    assert _analytics(home, f"select count(*) from {HISTORY_TABLE} where snapshot_date = '{D2}'") == [(3,)]
    assert _analytics(home, "select account_id, rep_id from owners_on('2026-03-01') order by 1") == [("A", "R1"), ("B", "R1")]
    assert _analytics(home, "select * from ownership_changes('2026-03-01', '2026-03-02')") == [("B", "R1", "R2")]
    history = pq.read_table(home.published_partition(HISTORY_TABLE, D1) / "part-0.parquet")
    assert _rows(history) == [("A", "R1", D1, None), ("B", "R1", D1, None)]  # as known on D1


def test_republishing_a_past_date_replaces_exactly_that_date_and_refreshes_the_analysts_history(home):
    for day, rep in ((D1, "R1"), (D2, "R2"), (D3, "R3")):
        publish(home, day, _tables({"A": rep}, f"run {day}"))
    before = {path: path.read_bytes() for path in home.published.rglob("*.parquet") if f"={D2}" not in str(path)}
    publication = publish(home, D2, _tables({"A": "R9"}, "rerun"))
    assert publication.analytics is None  # the latest date's tables stay ...
    assert _analytics(home, "select status, snapshot_date from solver_runs") == [(f"run {D3}", D3)]
    # ... and its history now knows the new plan of D2, stamped with the latest date
    assert _analytics(home, f"select account_id, rep_id, valid_from, valid_to, snapshot_date from {HISTORY_TABLE} "
                            "order by valid_from") == [("A", "R1", D1, D2, D3), ("A", "R9", D2, D3, D3), ("A", "R3", D3, None, D3)]
    assert _analytics(home, f"select rep_id from owners_on('{D2}')") == [("R9",)]
    assert {path: path.read_bytes() for path in before} == before
    rerun = pq.read_table(home.published_partition("territory_assignments", D2) / "part-0.parquet")
    assert rerun.column("rep_id").to_pylist() == ["R9"]
    assert _rows(pq.read_table(home.published_partition(HISTORY_TABLE, D2) / "part-0.parquet")) == [
        ("A", "R1", D1, D2), ("A", "R9", D2, None)]
    assert not (home.root / ".staging").exists() and recover(home) is None


def test_a_publication_killed_after_its_commit_is_completed_by_the_next_one(home, monkeypatch):
    publish(home, D1, _tables({"A": "R1"}, "first"))
    import territory.publication as publication

    def crash(home, journal):  # the process dies right after the commit point
        raise KeyboardInterrupt

    monkeypatch.setattr(publication, "_apply", crash)
    with pytest.raises(KeyboardInterrupt):
        publish(home, D2, _tables({"A": "R2"}, "second"))
    assert _analytics(home, "select status from solver_runs") == [("first",)]  # untouched until completed
    monkeypatch.undo()
    assert recover(home) == f"completed the interrupted publication of {D2}"
    assert _analytics(home, "select status from solver_runs") == [("second",)]
    assert published_dates(home) == [D1, D2] and not (home.root / ".staging").exists()
    assert not (home.root / ".publication-journal.json").exists()


def test_a_publication_killed_before_its_commit_leaves_only_staging_that_is_removed(home, monkeypatch):
    publish(home, D1, _tables({"A": "R1"}, "first"))
    import territory.publication as publication

    def crash(home, tables, token):  # dies while building the new database, after the folders were staged
        raise KeyboardInterrupt

    monkeypatch.setattr(publication, "_stage_database", crash)
    with pytest.raises(KeyboardInterrupt):
        publish(home, D2, _tables({"A": "R2"}, "second"))
    assert list((home.root / ".staging").rglob("*.parquet"))  # staged, not published
    assert not list(home.published.rglob(f"*{D2}*"))
    assert published_dates(home) == [D1]
    monkeypatch.undo()
    assert "removed" in recover(home)
    assert not (home.root / ".staging").exists()
    assert _analytics(home, "select status from solver_runs") == [("first",)]


def test_the_journal_names_every_folder_it_will_swap(home, monkeypatch):
    import territory.publication as publication

    seen = {}
    monkeypatch.setattr(publication, "_apply", lambda home, journal: seen.update(journal))
    publish(home, D1, _tables({"A": "R1"}, "first"))
    committed = json.loads((home.root / ".publication-journal.json").read_text())
    assert committed == seen and committed["snapshot_date"] == D1.isoformat()
    assert sorted(target.split("/")[-2] for _, target in committed["folders"]) == sorted(
        ["territory_assignments", "solver_runs", HISTORY_TABLE])


def test_backfilling_the_past_after_the_latest_date_completes_the_analysts_history(home):
    publish(home, D3, _tables({"A": "R3", "B": "R1"}, "latest"))
    publish(home, D1, _tables({"A": "R1", "B": "R1"}, "old"))
    publish(home, D2, _tables({"A": "R1", "B": "R1"}, "old"))
    assert _analytics(home, "select status from solver_runs") == [("latest",)]
    assert _analytics(home, f"select account_id, rep_id, valid_from, valid_to from {HISTORY_TABLE} order by 1, 3") == [
        ("A", "R1", D1, D3), ("A", "R3", D3, None), ("B", "R1", D1, None)]
    assert _analytics(home, "select * from ownership_changes('2026-03-01', '2026-03-03')") == [("A", "R1", "R3")]
