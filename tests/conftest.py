"""Shared test set-up: quiet tools, and small demo data made once per session."""

import datetime as dt
import os

import pyarrow as pa
import pytest

os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from territory.demo_data import DemoSpec, generate_demo_crm  # noqa: E402

SMALL_AS_OF = dt.date(2026, 6, 30)


@pytest.fixture(scope="session")
def small_spec() -> DemoSpec:
    return DemoSpec(accounts=3_000, reps=24, seed=11, as_of=SMALL_AS_OF)


@pytest.fixture(scope="session")
def small_crm(small_spec) -> dict[str, pa.Table]:
    return generate_demo_crm(small_spec)
