"""Loading canonical files: typed by the contract, all or nothing, and clear about what is wrong."""

import datetime as dt

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from territory.demo_data import DemoSpec, generate_demo_crm, write_tables
from territory.raw_loader import SourceError, find_source_files, load_raw_tables


@pytest.fixture()
def folder(tmp_path):
    write_tables(generate_demo_crm(DemoSpec(accounts=150, reps=6, seed=5, as_of=dt.date(2026, 3, 1))), tmp_path, "csv")
    return tmp_path


def rewrite_csv(path, transform):
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    pacsv.write_csv(transform(table), path)


def test_loads_every_table_typed_and_keeps_extra_columns(folder):
    rewrite_csv(folder / "reps.csv", lambda t: t.append_column("territory_code", pa.array(["X"] * t.num_rows)))
    conn = duckdb.connect()
    loaded = load_raw_tables(conn, find_source_files(folder))
    assert [t.name for t in loaded] == ["accounts", "contacts", "opportunities", "activities", "reps", "quotas", "assessments"]
    types = dict(conn.execute("select column_name, data_type from information_schema.columns where table_name = 'accounts'").fetchall())
    assert types["employees"] == "BIGINT" and types["created_at"] == "TIMESTAMP" and types["latitude"] == "DOUBLE"
    assert conn.execute("select count(*) from raw.reps where territory_code = 'X'").fetchone()[0] == loaded[4].rows


def test_a_missing_table_file_is_named(folder):
    (folder / "quotas.csv").unlink()
    with pytest.raises(SourceError, match="no file for table\\(s\\) quotas"):
        find_source_files(folder)


def test_a_missing_column_is_named_with_its_file(folder):
    rewrite_csv(folder / "accounts.csv", lambda t: t.drop_columns(["latitude"]))
    with pytest.raises(SourceError, match=r"accounts\.csv: missing required column\(s\) latitude"):
        load_raw_tables(duckdb.connect(), find_source_files(folder))


def test_a_value_of_the_wrong_type_fails_without_touching_the_previous_load(folder, tmp_path_factory):
    conn = duckdb.connect()
    load_raw_tables(conn, find_source_files(folder))
    before = conn.execute("select count(*) from raw.accounts").fetchone()[0]
    rewrite_csv(folder / "activities.csv", lambda t: t.set_column(5, "duration_minutes", pa.array(["ten"] * t.num_rows)))
    (folder / "accounts.csv").write_text((folder / "accounts.csv").read_text().splitlines()[0] + "\n")  # header only
    with pytest.raises(SourceError, match=r"activities\.csv: a value does not fit the contract of table 'activities'"):
        load_raw_tables(conn, find_source_files(folder))
    assert conn.execute("select count(*) from raw.accounts").fetchone()[0] == before  # rolled back


def test_a_folder_that_does_not_exist_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        find_source_files(tmp_path / "nowhere")
