"""The dbt project builds unchanged on DuckDB, PostgreSQL and Spark, and its marts agree across the three.

Each engine gets the small canonical CRM export (tests/fixtures/crm_small) in its schema `validated`,
typed by the raw contract, as validate writes it; then one `dbt build` of the whole project (models,
data tests and unit tests) with the plan's vars for snapshot date 2026-06-30, against that engine's
target of dbt_project/profiles.yml, its artifacts and logs in a temporary folder. Every node must
succeed, as every node does on DuckDB: no error, failure or warning. The marts must hold the same
rows on each engine: text, flags and counts equal, numbers within a relative 1e-9.

PostgreSQL is a throwaway server (tests/support/postgres_server.py); Spark runs inside this process
(dbt-spark's session mode, tests/support/spark_session.py). Without either the test skips, saying
why, or fails under TERRITORY_REQUIRE_SERVICES=1, which CI sets.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import NamedTuple

import duckdb
import pandas as pd
import pytest
from psycopg import sql
from support import postgres_server as postgres
from support import spark_session as spark

from assets.resources import RunSettings
from territory.contract import RAW_TABLES, RawTable

postgres_server = postgres.postgres_server

PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
CRM = Path(__file__).resolve().parents[1] / "fixtures" / "crm_small"
SNAPSHOT_DATE = dt.date(2026, 6, 30)
# The contract's types are DuckDB's; the other engines spell some differently. A TIMESTAMP has no time
# zone in DuckDB and PostgreSQL, a TIMESTAMP_NTZ in Spark.
ENGINE_TYPES = {"duckdb": {}, "postgres": {"DOUBLE": "DOUBLE PRECISION"},
                "spark": {"VARCHAR": "STRING", "TIMESTAMP": "TIMESTAMP_NTZ"}}
# The marts analysts and the solver read, each with the columns that identify a row.
MARTS = {
    "dim_accounts": ["account_id"],
    "dim_reps": ["rep_id"],
    "dim_markets": ["market_id"],
    "fct_account_handoffs": ["account_id"],
    "fct_segment_needs": ["needs_segment", "product_line"],
    "fct_territory_conflicts": ["conflict_id"],
}


class Build(NamedTuple):
    """One engine's `dbt build`: the results of its nodes, a reader of its tables, the folder of its artifacts."""

    results: list[dict]
    read: Callable[[str], pd.DataFrame]
    folder: Path


def _columns(table: RawTable, engine: str) -> str:
    types = ENGINE_TYPES[engine]
    return ", ".join(f"{column} {types.get(kind, kind)}" for column, kind in table.columns.items())


def _dbt_build(target: str, folder: Path) -> list[dict]:
    """`dbt build` of the whole project on `target`, its artifacts under `folder`; the results of its nodes."""
    from dbt.cli.main import dbtRunner

    dbt_vars = RunSettings(plan_path="").dbt_vars(SNAPSHOT_DATE)
    dbtRunner().invoke([
        "build", "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR), "--target", target,
        "--target-path", str(folder / "target"), "--log-path", str(folder / "logs"), "--vars", json.dumps(dbt_vars),
    ])
    return json.loads((folder / "target" / "run_results.json").read_text())["results"]


@contextmanager
def _environment(**variables: str) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in variables.items():
            patch.setenv(name, value)
        yield


def _normalized(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """`frame` sorted by `keys`, with the Python types each engine's client gives made the same.

    Numbers become floats, dates and timestamps pandas Timestamps, anything else objects; null is None.
    """
    columns = {}
    for name, column in frame.items():
        values = column.dropna().tolist()
        if values and all(isinstance(value, int | float | decimal.Decimal) and not isinstance(value, bool)
                          for value in values):
            columns[name] = column.astype(float)
        elif values and all(isinstance(value, dt.date) for value in values):
            columns[name] = pd.to_datetime(column).astype("datetime64[us]")
        else:
            columns[name] = column.astype(object).where(column.notna(), None)
    return pd.DataFrame(columns).sort_values(keys, ignore_index=True)


@pytest.fixture(scope="module")
def duckdb_build(tmp_path_factory) -> Iterator[Build]:
    folder = tmp_path_factory.mktemp("duckdb")
    with closing(duckdb.connect(str(folder / "warehouse.duckdb"))) as connection:
        connection.execute("create schema validated")
        for table in RAW_TABLES:
            connection.execute(f"create table validated.{table.name} ({_columns(table, 'duckdb')})")
            connection.execute(f"insert into validated.{table.name} by name "
                               f"select * from read_csv(?, header = true, all_varchar = true)", [str(CRM / f"{table.name}.csv")])
    with _environment(TERRITORY_HOME=str(folder)):
        results = _dbt_build("duckdb", folder)
    # dbt-duckdb keeps its connection to the file open in this process: share its configuration
    with closing(duckdb.connect(str(folder / "warehouse.duckdb"))) as connection:
        yield Build(results, lambda name: connection.sql(f"select * from main.{name}").df(), folder)


@pytest.fixture(scope="module")
def postgres_build(postgres_server, tmp_path_factory) -> Iterator[Build]:
    folder = tmp_path_factory.mktemp("postgres")
    with closing(postgres.connect(postgres_server)) as connection:
        connection.execute("create schema validated")
        for table in RAW_TABLES:
            name = sql.Identifier("validated", table.name)
            connection.execute(sql.SQL("create table {} ({})").format(name, sql.SQL(_columns(table, "postgres"))))
            path = CRM / f"{table.name}.csv"
            header = sql.SQL(", ").join(map(sql.Identifier, pd.read_csv(path, nrows=0).columns))
            with connection.cursor().copy(sql.SQL("copy {} ({}) from stdin (format csv, header true)").format(
                    name, header)) as copy:
                copy.write(path.read_bytes())
    with _environment(TERRITORY_POSTGRES_HOST=postgres_server.host, TERRITORY_POSTGRES_PORT=str(postgres_server.port),
                      TERRITORY_POSTGRES_USER=postgres_server.user, TERRITORY_POSTGRES_DBNAME=postgres_server.database,
                      DBT_ENV_SECRET_TERRITORY_POSTGRES_PASSWORD=postgres_server.password,
                      TERRITORY_POSTGRES_SSLMODE=postgres_server.sslmode):
        results = _dbt_build("postgres", folder)
    with closing(postgres.connect(postgres_server)) as connection:

        def read(name: str) -> pd.DataFrame:
            cursor = connection.execute(sql.SQL("select * from {}").format(sql.Identifier("main", name)))
            return pd.DataFrame(cursor.fetchall(), columns=[column.name for column in cursor.description], dtype=object)

        yield Build(results, read, folder)


@pytest.fixture(scope="module")
def spark_build(tmp_path_factory) -> Iterator[Build]:
    spark.require_spark()
    from dbt.cli.main import dbtRunner

    folder = tmp_path_factory.mktemp("spark")
    with _environment(TERRITORY_SPARK_HOME=str(folder / "spark")):
        # dbt starts Spark as the profile says; the raw tables then go into that same session
        started = dbtRunner().invoke(["debug", "--connection", "--project-dir", str(PROJECT_DIR), "--profiles-dir",
                                      str(PROJECT_DIR), "--target", "spark", "--log-path", str(folder / "logs")])
        assert started.success, f"dbt could not start Spark: see {folder / 'logs' / 'dbt.log'}"
        session = spark.started_session()
        try:
            session.sql("create database validated")
            for table in RAW_TABLES:
                # a table over the file itself, typed by the contract
                session.sql(f"create table validated.{table.name} ({_columns(table, 'spark')}) using csv "
                            f"options (path '{CRM / f'{table.name}.csv'}', header 'true')")
            results = _dbt_build("spark", folder)

            def read(name: str) -> pd.DataFrame:
                table = session.table(f"main.{name}")
                return pd.DataFrame([row.asDict() for row in table.collect()], columns=table.columns, dtype=object)

            yield Build(results, read, folder)
        finally:
            spark.stop(session)


def _assert_every_node_succeeded(results: list[dict]) -> None:
    statuses = Counter(result["status"] for result in results)
    problems = [f"{result['unique_id']}: {result['status']}: {result['message']}" for result in results
                if result["status"] not in ("success", "pass")]
    assert not problems, "\n".join(problems)
    assert statuses["success"] >= len(MARTS) and statuses["pass"] > 0, statuses


def _assert_marts_agree(build: Build, reference: Build) -> None:
    for mart, keys in MARTS.items():
        expected, actual = _normalized(reference.read(mart), keys), _normalized(build.read(mart), keys)
        assert len(expected) > 0, mart
        pd.testing.assert_frame_equal(actual, expected, check_dtype=False, check_exact=False, rtol=1e-9, obj=mart)


def test_duckdb_builds_and_tests_every_node(duckdb_build):
    _assert_every_node_succeeded(duckdb_build.results)
    accounts = duckdb_build.read("dim_accounts")
    assert len(accounts) == 40 and set(accounts["tier"]) == {"A", "B", "C", "D"}


def test_postgres_builds_and_tests_every_node_with_the_marts_of_duckdb(postgres_build, duckdb_build, postgres_server):
    _assert_every_node_succeeded(postgres_build.results)
    _assert_marts_agree(postgres_build, duckdb_build)
    # dbt masks the password (a DBT_ENV_SECRET_ variable) in its logs and leaves it out of its artifacts
    written = [path for path in postgres_build.folder.rglob("*") if path.is_file()]
    assert written and not [path for path in written if postgres_server.password.encode() in path.read_bytes()]


# pyspark 4.3 warns, on first handing a Python value to Java, that it has not been tested with pandas 3
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
def test_spark_builds_and_tests_every_node_with_the_marts_of_duckdb(spark_build, duckdb_build):
    _assert_every_node_succeeded(spark_build.results)
    _assert_marts_agree(spark_build, duckdb_build)


def test_spark_is_required_where_the_environment_requires_every_service(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))  # no bin/java there
    monkeypatch.setenv(postgres.REQUIRE_SERVICES, "1")
    with pytest.raises(pytest.fail.Exception, match="Spark needs Java"):
        spark.require_spark()
    monkeypatch.delenv(postgres.REQUIRE_SERVICES)
    with pytest.raises(pytest.skip.Exception, match="Spark needs Java"):
        spark.require_spark()
