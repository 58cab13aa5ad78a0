"""A local Spark for tests: whether one can run here, and the session dbt-spark started in this process.

dbt-spark's session mode runs Spark inside the Python process that runs dbt, configured by the
profile's `server_side_parameters` (dbt_project/profiles.yml). A test that needs the same Spark
(to load tables before a build, or to read the marts after it) takes that session with
`started_session()` rather than building another from a copy of the settings.

Without Java or pyspark the tests that need Spark skip, saying why, unless the environment sets
TERRITORY_REQUIRE_SERVICES=1 (CI does): then they fail, as for PostgreSQL (postgres_server.py).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from support.postgres_server import require_service


def find_java() -> Path | None:
    """The java launcher Spark would start: JAVA_HOME's, else the one on PATH; None when there is none."""
    if home := os.environ.get("JAVA_HOME"):
        java = Path(home) / "bin" / "java"
        return java if java.is_file() else None
    found = shutil.which("java")
    return Path(found) if found else None


def require_spark() -> None:
    """Skip (or under TERRITORY_REQUIRE_SERVICES=1 fail) the test unless Java and pyspark are installed."""
    if find_java() is None:
        require_service("Spark needs Java, and there is none (JAVA_HOME or java on PATH): install the Debian "
                        "package openjdk-17-jre-headless, e.g. with `sudo .ci/install-system-packages`")
    if importlib.util.find_spec("pyspark") is None:
        require_service("pyspark is not installed: reinstall the project with `./run` (dbt-spark[session])")


def started_session():
    """The SparkSession that dbt-spark started in this process (run a dbt command on the spark target first)."""
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession() or SparkSession._instantiatedSession
    if session is None:
        raise RuntimeError("no Spark session in this process: run a dbt command with --target spark first")
    return session


def stop(session) -> None:
    """Stop the session and the Java process behind it, so that the test process does not keep it."""
    from pyspark import SparkContext

    session.stop()
    gateway = SparkContext._gateway
    if gateway is not None:
        gateway.shutdown()
        gateway.proc.stdin.close()  # the JVM that pyspark launched exits when its stdin closes
        gateway.proc.wait(timeout=60)
        SparkContext._gateway = SparkContext._jvm = None
