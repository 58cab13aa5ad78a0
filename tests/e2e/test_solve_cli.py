"""`territory solve` as a user runs it: an instance file in, a result file and a short summary out."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from territory.engine.alignment import synthetic_alignment
from territory.engine.json_format import FORMAT, write_instance

pytestmark = pytest.mark.e2e
TERRITORY = [str(Path(sys.executable).with_name("territory"))]  # the installed console script


def territory(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TERRITORY_HOME": str(tmp_path / "home")}
    return subprocess.run([*TERRITORY, *args], capture_output=True, text=True, env=env, timeout=300)


def _assignment(capacity: float = 100.0) -> dict:
    cities = [("NY", 40.71, -74.01), ("Boston", 42.36, -71.06), ("Philly", 39.95, -75.17)]
    units = [
        {"id": f"A-{k}", "lat": lat + k / 100, "lon": lon, "measures": {"workload_hours": 10 + k % 3, "accounts": 1},
         "visits": 2, "value": 1000, "current_rep": "r-ny" if k % 2 else None}
        for k, (_, lat, lon) in enumerate(cities * 4)
    ]
    return {
        "format": FORMAT,
        "measures": [{"name": "workload_hours", "tolerance": 0.25, "is_capacity": True},
                     {"name": "accounts", "tolerance": 0.5, "share_basis": "equal"}],
        "units": units,
        "reps": [{"id": "r-ny", "lat": 40.7, "lon": -74.0, "capacity": capacity},
                 {"id": "r-bos", "lat": 42.4, "lon": -71.1, "capacity": capacity}],
    }


def _write(tmp_path: Path, name: str, data) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_solve_an_assignment_instance(tmp_path):
    instance = _write(tmp_path, "accounts.json", _assignment())
    out = tmp_path / "out" / "plan.json"
    result = territory(tmp_path, "solve", str(instance), "--out", str(out), "--time-limit", "30")
    assert result.returncode == 0, result.stderr
    answer = json.loads(out.read_text())
    assert answer["summary"]["status"] in ("optimal", "feasible")
    assert sorted(unit["unit_id"] for unit in answer["units"]) == sorted(f"A-{k}" for k in range(12))
    assert {unit["rep_id"] for unit in answer["units"]} <= {"r-ny", "r-bos"}
    for label in ("objective", "lower bound", "gap", "max deviation from fair share: workload_hours",
                  "moved share", str(out)):
        assert label in result.stdout
    assert "Traceback" not in result.stderr
    assert "  dual: bound" in result.stderr and "  plan: cost" in result.stderr  # progress, as it happens


def test_solve_an_alignment_instance(tmp_path):
    instance = _write(tmp_path, "bricks.json", write_instance(synthetic_alignment(80, 4, seed=2)))
    out = tmp_path / "territories.json"
    result = territory(tmp_path, "solve", str(instance), "--out", str(out))
    assert result.returncode == 0, result.stderr
    answer = json.loads(out.read_text())
    assert answer["mode"] == "alignment" and answer["summary"]["status"] == "feasible"
    assert answer["summary"]["contiguous"] is True
    assert len(answer["units"]) == 80
    assert {unit["territory"] for unit in answer["units"]} == {"T01", "T02", "T03", "T04"}
    assert max(answer["summary"]["max_deviation"].values()) <= 0.05 + 1e-9
    assert "alignment: feasible" in result.stdout and "contiguous: yes" in result.stdout


def test_an_infeasible_instance_prints_what_binds_and_exits_1(tmp_path):
    instance = _write(tmp_path, "short.json", _assignment(capacity=40.0))  # 12 accounts need ~130 hours
    out = tmp_path / "plan.json"
    result = territory(tmp_path, "solve", str(instance), "--out", str(out))
    assert result.returncode == 1
    answer = json.loads(out.read_text())
    assert answer["summary"]["status"] == "infeasible" and answer["diagnosis"]
    assert answer["diagnosis"][0]["message"] in result.stderr
    assert "error: no plan keeps every rule" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"format": "territory-instance/1", "units": [', "not valid JSON"),
        (None, 'units[4] (id "A-4"): measures.workload_hours must be a non-negative number, got -1'),
    ],
)
def test_a_bad_instance_is_one_line_of_error(tmp_path, content, expected):
    if content is None:
        data = _assignment()
        data["units"][4]["measures"]["workload_hours"] = -1
        content = json.dumps(data)
    instance = _write(tmp_path, "bad.json", content)
    out = tmp_path / "plan.json"
    result = territory(tmp_path, "solve", str(instance), "--out", str(out))
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not out.exists()


def test_a_missing_instance_file(tmp_path):
    result = territory(tmp_path, "solve", str(tmp_path / "nowhere.json"), "--out", str(tmp_path / "plan.json"))
    assert result.returncode == 1
    assert "nowhere.json: no such file" in result.stderr and "Traceback" not in result.stderr
