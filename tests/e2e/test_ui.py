"""`territory ui` starts the Dagster UI on the project: the whole graph in its groups, no warnings."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
TERRITORY = str(Path(sys.executable).with_name("territory"))
ASSETS = """{ assetNodes { assetKey { path } groupName description kinds hasAssetChecks
  owners { ... on TeamAssetOwner { team } } } }"""


def _free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["data"]


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """The UI of a fresh home, its asset graph once loaded, and everything it printed while starting."""
    home, log = tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("log") / "ui.log"
    port = _free_port()
    env = {**os.environ, "TERRITORY_HOME": str(home)}
    env.pop("DAGSTER_HOME", None)
    with open(log, "w") as output:
        process = subprocess.Popen([TERRITORY, "ui", "--port", str(port)], stdout=output, stderr=subprocess.STDOUT,
                                   env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        nodes = None
        while nodes is None:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the UI did not load the definitions in 180 s:\n" + log.read_text()
            try:
                nodes = _graphql(port, ASSETS)["assetNodes"] or None
            except (urllib.error.URLError, ConnectionError, KeyError, TypeError):
                time.sleep(1)
        yield home, nodes, log.read_text()
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def test_the_ui_shows_the_whole_graph_in_named_groups(ui):
    _, nodes, _ = ui
    assert {node["groupName"] for node in nodes} == {"ingest", "validate", "transform", "solve", "publish"}
    assert ["publish", "territory_publication"] in [node["assetKey"]["path"] for node in nodes]


def test_every_asset_has_a_description_an_owner_and_kinds_and_the_gates_have_checks(ui):
    _, nodes, _ = ui
    for node in nodes:
        name = "/".join(node["assetKey"]["path"])
        assert node["description"], name
        assert [owner["team"] for owner in node["owners"]], name
        assert node["kinds"], name
    checked = {"/".join(node["assetKey"]["path"]) for node in nodes if node["hasAssetChecks"]}
    assert {"dim_accounts", "dim_reps", "solve/territory_plan"} <= checked


def test_the_ui_starts_without_a_warning_and_shares_the_clis_run_history(ui):
    home, _, printed = ui
    assert "warning" not in printed.lower(), printed
    assert (home / "dagster" / "dagster.yaml").is_file()
