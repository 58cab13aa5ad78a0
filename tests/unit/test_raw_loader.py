"""Loading canonical files: typed by the contract, all or nothing, and clear about what is wrong.

The broken inputs come from the corpus in tests/fixtures (see tests/fixtures/bad_inputs/README.md).
"""

import shutil

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from fixtures.corpus import CASES, CRM_SMALL, case, overlay

from territory.raw_loader import SourceError, find_source_files, load_raw_tables

TABLES = ["accounts", "contacts", "opportunities", "activities", "reps", "quotas", "assessments"]


@pytest.fixture()
def folder(tmp_path):
    return overlay([], tmp_path / "crm")


def load(folder, conn=None):
    return load_raw_tables(conn or duckdb.connect(), find_source_files(folder))


def rewrite_csv(path, transform):
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    pacsv.write_csv(transform(table), path)


def test_loads_every_table_typed_and_keeps_extra_columns(folder):
    rewrite_csv(folder / "reps.csv", lambda t: t.append_column("territory_code", pa.array(["X"] * t.num_rows)))
    conn = duckdb.connect()
    loaded = load(folder, conn)
    assert [t.name for t in loaded] == TABLES
    assert [t.rows for t in loaded] == [40, 206, 50, 784, 4, 24, 8]
    types = dict(conn.execute("select column_name, data_type from information_schema.columns where table_name = 'accounts'").fetchall())
    assert types["employees"] == "BIGINT" and types["created_at"] == "TIMESTAMP" and types["latitude"] == "DOUBLE"
    assert conn.execute("select count(*) from raw.reps where territory_code = 'X'").fetchone()[0] == 4


def test_parquet_and_csv_can_sit_side_by_side(folder):
    table = pacsv.read_csv(folder / "accounts.csv", convert_options=pacsv.ConvertOptions(column_types={"postal_code": pa.string()}))
    pq.write_table(table, folder / "accounts.parquet")
    (folder / "accounts.csv").unlink()
    conn = duckdb.connect()
    assert load(folder, conn)[0].rows == 40
    assert conn.execute("select sum(employees) from raw.accounts").fetchone()[0] == pa.compute.sum(table["employees"]).as_py()


@pytest.mark.parametrize("bad", [c for c in CASES if c.stage == "load"], ids=lambda c: c.name)
def test_each_bad_input_is_named_with_file_column_rule_and_count(bad, tmp_path):
    crm = overlay([bad], tmp_path / "crm")
    with pytest.raises(SourceError) as raised:
        load(crm)
    message = str(raised.value)
    assert len(raised.value.problems) == 1, message  # each case breaks one thing, and only that is reported
    assert bad.line_in(message), f"{bad.name}: expected {bad.where!r} and {bad.expected} on one line of:\n{message}"
    assert "\n" not in message and "Traceback" not in message and "LINE 1:" not in message
    assert len(message) < 400, message  # DuckDB's detail, if any, is kept short


def test_the_message_names_the_file_by_its_path(tmp_path):
    crm = overlay([case("malformed_close_date")], tmp_path / "crm")
    with pytest.raises(SourceError) as raised:
        load(crm)
    assert str(raised.value).startswith(f"{crm / 'opportunities.csv'}: column close_date: 3 values are not a valid DATE")


def test_a_header_only_file_is_an_empty_table_except_for_accounts_and_reps(folder):
    for table in ("opportunities", "activities", "contacts", "quotas", "assessments"):
        path = folder / f"{table}.csv"
        path.write_text(path.read_text().splitlines()[0] + "\n")
    conn = duckdb.connect()
    loaded = {t.name: t.rows for t in load(folder, conn)}
    assert loaded == {"accounts": 40, "contacts": 0, "opportunities": 0, "activities": 0, "reps": 4, "quotas": 0, "assessments": 0}
    types = dict(conn.execute("select column_name, data_type from information_schema.columns where table_name = 'opportunities'").fetchall())
    assert types["close_date"] == "DATE" and types["is_won"] == "BOOLEAN"


def test_every_problem_of_every_file_is_reported_in_one_go(tmp_path):
    cases = [case(name) for name in ("wrong_type_employees", "malformed_close_date", "empty_file", "not_utf8")]
    crm = overlay(cases, tmp_path / "crm")
    with pytest.raises(SourceError) as raised:
        load(crm)
    message = str(raised.value)
    assert message.startswith("4 problems in the source files; nothing was loaded:\n")
    assert len(raised.value.problems) == 4
    for bad in cases:
        assert bad.line_in(message), f"{bad.name} missing from:\n{message}"


def test_a_failed_load_leaves_the_previous_raw_tables_as_they_were(folder, tmp_path):
    conn = duckdb.connect()
    load(folder, conn)
    bad = overlay([case("wrong_type_duration"), case("header_only_accounts")], tmp_path / "bad")
    with pytest.raises(SourceError) as raised:
        load(bad, conn)
    assert [p.split(": ", 1)[0] for p in raised.value.problems] == [str(bad / "accounts.csv"), str(bad / "activities.csv")]
    assert conn.execute("select count(*) from raw.accounts").fetchone()[0] == 40  # rolled back
    assert conn.execute("select count(*) from raw.activities").fetchone()[0] == 784
    load(folder, conn)  # and the connection is still usable


def test_a_bad_line_beyond_duckdbs_sniffing_sample_is_found_with_its_line_number(folder):
    # DuckDB detects the dialect from the first rows; later problems surface only when the table is read.
    path = folder / "activities.csv"
    lines = path.read_text().splitlines()
    body = lines[1:] * 40  # 31,360 rows, more than DuckDB's 20,480-row sample
    body.append(lines[1] + ",surplus")
    path.write_text("\n".join([lines[0], *body]) + "\n")
    with pytest.raises(SourceError) as raised:
        load(folder)
    assert str(raised.value) == (
        f"{path}: 1 line has more fields than the header's 6 (e.g. line {len(body) + 1}); a delimiter inside a value that is not quoted?"
    )


def test_a_bad_value_in_a_semicolon_separated_file_is_found_too(folder):
    path = folder / "quotas.csv"
    lines = path.read_text().replace(",", ";").splitlines()
    lines[3] = lines[3].rsplit(";", 1)[0] + ";lots"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SourceError, match=r"quotas\.csv: column quota_amount: 1 value is not a valid DOUBLE, expected a number \(e\.g\. 'lots'\)"):
        load(folder)


def test_a_missing_table_file_is_named(folder):
    (folder / "quotas.csv").unlink()
    with pytest.raises(SourceError, match="no file for table\\(s\\) quotas"):
        find_source_files(folder)


def test_both_formats_for_one_table_is_refused(folder):
    shutil.copyfile(case("parquet_wrong_type").folder / "accounts.parquet", folder / "accounts.parquet")
    with pytest.raises(SourceError, match="holds both accounts.parquet and accounts.csv"):
        find_source_files(folder)


def test_a_folder_that_does_not_exist_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        find_source_files(tmp_path / "nowhere")


def test_the_corpus_base_is_the_small_valid_export():
    assert sorted(p.name for p in CRM_SMALL.iterdir()) == sorted(f"{t}.csv" for t in TABLES)


@pytest.mark.parametrize("bad", [c for c in CASES if c.stage == "validate"], ids=lambda c: c.name)
def test_row_level_bad_inputs_load_for_the_quality_gate_to_judge(bad, tmp_path):
    loaded = load(overlay([bad], tmp_path / "crm"))
    assert {table.name for table in loaded} >= bad.tables - bad.deleted
