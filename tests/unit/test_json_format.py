"""The JSON instance format: round trips, defaults, and a clear InstanceError for every kind of bad input."""

import copy
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from territory.engine.alignment import AlignmentInstance, AlignmentResult, synthetic_alignment
from territory.engine.instance import Instance, Measure, Reps, Units, Weights
from territory.engine.json_format import FORMAT, InstanceError, read_instance, solution_to_json, write_instance
from territory.engine.solution import Binding, Solution


def _minimal() -> dict:
    return {
        "format": FORMAT,
        "measures": [{"name": "workload_hours"}],
        "units": [{"id": "A-1", "measures": {"workload_hours": 10}}, {"id": "A-2", "measures": {"workload_hours": 12}}],
        "reps": [{"id": "r1"}],
    }


def _full() -> dict:
    return {
        "format": FORMAT,
        "mode": "assignment",
        "measures": [
            {"name": "workload_hours", "tolerance": 0.1, "share_basis": "capacity", "is_capacity": True},
            {"name": "potential", "tolerance": 0.2, "share_basis": "capacity_x_level"},
        ],
        "weights": {"travel": 0.4, "fit": 0.1, "disruption": 0.2},
        "eligibility": ["segment"],
        "fit_attributes": ["industry"],
        "top_tier_min_experience": 5,
        "max_moved_share": 0.3,
        "max_moved_value_share": None,
        "units": [
            {"id": "A-1", "lat": 40.7, "lon": -74.0, "measures": {"workload_hours": 10, "potential": 5000},
             "visits": 4, "value": 900, "current_rep": "r1", "locked": True, "family": "acme", "top_tier": True,
             "attributes": {"segment": "smb", "industry": "retail"}},
            {"id": "A-2", "lat": 41.0, "lon": -73.5, "measures": {"workload_hours": 12, "potential": 3000},
             "current_rep": "r1", "family": "acme", "attributes": {"segment": "smb", "industry": "retail"}},
            {"id": "A-3", "lat": None, "lon": None, "measures": {"workload_hours": 8, "potential": 100},
             "family": "globex", "attributes": {"segment": "ent", "industry": "energy"}},
            {"id": 10115, "lat": 52.5, "lon": 13.4, "measures": {"workload_hours": 1, "potential": 0},
             "attributes": {"segment": "ent", "industry": "energy"}},
        ],
        "reps": [
            {"id": "r1", "lat": 40.0, "lon": -74.0, "capacity": 1600, "level": 1.2, "experience_years": 8,
             "skill": 0.7, "attributes": {"segment": ["smb"], "industry": ["retail", "energy"]}},
            {"id": "r2", "lat": 42.0, "lon": -71.0, "capacity": 800, "attributes": {"segment": ["ent", "smb"]}},
        ],
        "adjacency": [["A-1", "A-2"], ["A-3", "10115"]],
    }


def _arrays_equal(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return a.dtype.kind == b.dtype.kind and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_arrays_equal(a[k], b[k]) for k in a)
    return a == b


def _same_instance(a: Instance, b: Instance) -> bool:
    parts = [(a.units, b.units), (a.reps, b.reps)]
    fields = [(getattr(x, name), getattr(y, name)) for x, y in parts for name in x.__dataclass_fields__]
    scalars = ("measures", "weights", "eligibility", "fit_attributes", "top_tier_min_experience", "max_moved_share",
               "max_moved_value_share", "adjacency")
    return all(_arrays_equal(x, y) for x, y in fields) and all(
        _arrays_equal(getattr(a, name), getattr(b, name)) for name in scalars
    )


def _through_json(data: dict) -> dict:
    return json.loads(json.dumps(data))


def test_a_full_assignment_instance_reads_as_given():
    instance = read_instance(_full())
    assert isinstance(instance, Instance)
    units, reps = instance.units, instance.reps
    assert units.unit_id.tolist() == ["A-1", "A-2", "A-3", "10115"]  # a numeric id becomes its string
    assert units.family.tolist() == [0, 0, 1, -1]  # family ids become indices in order of first appearance
    assert units.current_rep.tolist() == [0, 0, -1, -1]
    assert units.locked.tolist() == [True, False, False, False]
    assert np.isnan(units.latitude[2]) and units.latitude[3] == 52.5
    assert units.measures.tolist() == [[10, 5000], [12, 3000], [8, 100], [1, 0]]
    assert instance.measures[1] == Measure("potential", 0.2, "capacity_x_level", False)
    assert instance.weights == Weights(0.4, 0.1, 0.2)
    assert instance.adjacency.tolist() == [[0, 1], [2, 3]]
    # r2 does not name industries, so it serves every industry the units have
    assert reps.attributes["industry"] == (frozenset({"retail", "energy"}), frozenset({"retail", "energy"}))
    assert reps.attributes["segment"][1] == frozenset({"ent", "smb"})


def test_assignment_round_trip():
    instance = read_instance(_full())
    written = write_instance(instance)
    again = read_instance(_through_json(written))
    assert _same_instance(instance, again)
    assert write_instance(again) == written


def test_a_built_instance_round_trips():
    n = 5
    instance = Instance(
        units=Units(
            unit_id=np.array([f"u{i}" for i in range(n)]), latitude=np.linspace(40, 41, n),
            longitude=np.linspace(-75, -74, n), measures=np.arange(2 * n, dtype=float).reshape(n, 2),
            visits=np.ones(n), value=np.full(n, 3.0), current_rep=np.array([0, 1, -1, 0, 1]),
            locked=np.array([True, False, False, False, False]), family=np.array([0, 0, 1, 1, -1]),
            top_tier=np.zeros(n, dtype=bool), attributes={"segment": np.array(["a", "b", "a", "a", "b"])},
        ),
        reps=Reps(
            rep_id=np.array(["r0", "r1"]), latitude=np.array([40.0, 41.0]), longitude=np.array([-75.0, -74.0]),
            capacity=np.array([100.0, 50.0]), level=np.ones(2), experience_years=np.array([1.0, 9.0]),
            skill=np.array([0.5, 0.9]), attributes={"segment": (frozenset({"a"}), frozenset({"a", "b"}))},
        ),
        measures=(Measure("hours", 0.1, "capacity", True), Measure("accounts", 0.2, "equal")),
        eligibility=("segment",),
        max_moved_value_share=0.25,
    )
    assert _same_instance(instance, read_instance(_through_json(write_instance(instance))))


def test_alignment_round_trip():
    instance = synthetic_alignment(30, 3, seed=4)
    written = write_instance(instance)
    again = read_instance(_through_json(written))
    assert isinstance(again, AlignmentInstance)
    for name in ("unit_id", "latitude", "longitude", "amounts", "adjacency"):
        assert np.array_equal(getattr(instance, name), getattr(again, name)), name
    assert again.measures == instance.measures and again.territory_ids == instance.territory_ids
    assert write_instance(again) == written


def test_defaults_fill_what_is_left_out():
    instance = read_instance(_minimal())
    units, reps = instance.units, instance.reps
    assert instance.measures == (Measure("workload_hours", 0.05, "capacity", False),)
    assert instance.weights == Weights()
    assert instance.eligibility == () and instance.fit_attributes == () and instance.adjacency is None
    assert instance.max_moved_share is None and instance.max_moved_value_share is None
    assert instance.top_tier_min_experience == 0
    assert np.isnan(units.latitude).all() and np.isnan(units.longitude).all()
    assert units.visits.tolist() == [1, 1] and units.value.tolist() == [1, 1]
    assert units.current_rep.tolist() == [-1, -1] and units.family.tolist() == [-1, -1]
    assert not units.locked.any() and not units.top_tier.any() and units.attributes == {}
    assert (reps.capacity.tolist(), reps.level.tolist(), reps.experience_years.tolist(), reps.skill.tolist()) == (
        [1.0], [1.0], [0.0], [1.0]
    )


def _alignment(**extra) -> dict:
    units = [
        {"id": f"P{i}", "lat": 50 + i / 10, "lon": 8.0, "measures": {"accounts": 1 + i % 3}} for i in range(6)
    ]
    return {"format": FORMAT, "mode": "alignment", "measures": [{"name": "accounts"}], "territories": 2,
            "units": units, **extra}


def test_alignment_defaults():
    instance = read_instance(_alignment())
    assert isinstance(instance, AlignmentInstance)
    assert instance.territories == 2 and instance.names == ("T1", "T2") and instance.territory_ids == ()
    assert instance.measures == (Measure("accounts", 0.05, "equal", False),)
    assert instance.disruption == 0 and instance.value is None and instance.current_territory is None
    assert instance.adjacency is None


def test_alignment_current_territories_come_first_in_sorted_order():
    data = _alignment(weights={"disruption": 2.5})
    data["territories"] = 3
    data["units"][0]["current_rep"] = "North"
    data["units"][1]["current_rep"] = "East"
    data["units"][2]["value"] = 4
    instance = read_instance(data)
    assert instance.names == ("East", "North", "T1")
    assert instance.current_territory.tolist() == [1, 0, -1, -1, -1, -1]
    assert instance.value.tolist() == [1, 1, 4, 1, 1, 1] and instance.disruption == 2.5


def test_alignment_territories_may_be_named():
    data = _alignment(territories=["West", "East"])
    data["units"][3]["current_rep"] = "East"
    instance = read_instance(data)
    assert instance.names == ("West", "East") and instance.current_territory[3] == 1


def test_reading_a_file(tmp_path):
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(_full()))
    assert _same_instance(read_instance(path), read_instance(_full()))
    assert isinstance(read_instance(str(path)), Instance)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"format": "territory-instance/1",\n "units": [}',
         "bad.json: not valid JSON: Expecting value at line 2 column 12"),
        ('{"format": "territory-instance/1", "format": "x"}', 'bad.json: key "format" appears twice'),
        ('{"tolerance": NaN}', "bad.json: NaN is not a number in JSON"),
        ("[1, 2]", "an instance must be a JSON object, got a list"),
    ],
)
def test_a_file_that_is_not_an_instance(tmp_path, text, expected):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InstanceError) as error:
        read_instance(path)
    assert expected in str(error.value)


def test_a_missing_file(tmp_path):
    with pytest.raises(InstanceError, match="missing.json: no such file"):
        read_instance(tmp_path / "missing.json")


def _set(path: str, value):
    """A change to the full instance: set the value at a dotted path (list indices as numbers)."""

    def change(data):
        *parents, last = path.split(".")
        target = data
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        target[int(last) if last.isdigit() else last] = value

    return change


def _drop(path: str):
    def change(data):
        *parents, last = path.split(".")
        target = data
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        del target[last]

    return change


BAD_ASSIGNMENT = [
    (_set("format", "territory/2"), 'instance: format must be "territory-instance/1", got "territory/2"'),
    (_set("mode", "balance"), 'instance: mode must be "assignment" or "alignment", got "balance"'),
    (_set("unitz", []), 'instance: unknown key "unitz" (did you mean "units"?)'),
    (_set("territories", 3), 'instance: "territories" is not used in assignment mode'),
    (_set("measures", []), "measures: must not be empty"),
    (_set("measures.0.tolerance", 1.5), 'measures[0] (name "workload_hours"): tolerance must be a number in [0, 1), '
                                        "got 1.5"),
    (_set("measures.1.share_basis", "level"), 'measures[1] (name "potential"): share_basis must be one of capacity'),
    (_set("measures.1.name", "workload_hours"), 'measures[1] (name "workload_hours"): duplicate measure name'),
    (_set("weights.travle", 1), 'weights: unknown key "travle" (did you mean "travel"?)'),
    (_set("weights.fit", -1), "weights: fit must be a non-negative number, got -1"),
    (_set("max_moved_share", 2), "instance: max_moved_share must be a share in [0, 1] or null, got 2"),
    (_set("units", {}), "units: must be a list, got an object"),
    (_set("units.1.measures.workload_hours", -3),
     'units[1] (id "A-2"): measures.workload_hours must be a non-negative number, got -3'),
    (_set("units.1.measures.workload_hours", "12"),
     'units[1] (id "A-2"): measures.workload_hours must be a non-negative number, got "12"'),
    (_set("units.1.measures.workload_hours", True),
     'units[1] (id "A-2"): measures.workload_hours must be a non-negative number, got true'),
    (_drop("units.1.measures.potential"), 'units[1] (id "A-2"): measures.potential is required'),
    (_set("units.1.measures.potentail", 1), 'units[1] (id "A-2"): measures.potentail is not a measure (did you mean '
                                            '"potential"?)'),
    (_drop("units.1.measures"), 'units[1] (id "A-2"): measures is required'),
    (_set("units.0.lat", 95), 'units[0] (id "A-1"): lat must be a latitude in [-90, 90], got 95'),
    (_set("units.0.lon", None), 'units[0] (id "A-1"): lat and lon must be given together'),
    (_set("units.1.curent_rep", "r1"), 'units[1] (id "A-2"): unknown key "curent_rep" (did you mean "current_rep"?)'),
    (_set("units.1.current_rep", "r9"), 'units[1] (id "A-2"): current_rep "r9" is not a rep id'),
    (_drop("units.0.current_rep"), 'units[0] (id "A-1"): locked needs a current_rep to keep'),
    (_set("units.0.locked", "yes"), 'units[0] (id "A-1"): locked must be true or false, got "yes"'),
    (_set("units.2.id", "A-1"), 'units[2] (id "A-1"): duplicate id: units[0] has it too'),
    (_set("units.2.id", ""), 'units[2]: id must be a non-empty string, got ""'),
    (_drop("units.2.id"), "units[2]: id is required"),
    (_set("units.2", "A-3"), 'units[2]: must be an object, got a string'),
    (_drop("units.2.attributes.segment"), 'units[2] (id "A-3"): attributes.segment is required: "segment" is used '
                                          "for eligibility or fit"),
    (_set("units.2.attributes.segment", ["ent"]), 'units[2] (id "A-3"): attributes.segment must be a non-empty string'),
    (_set("units.2.family", 1.5), 'units[2] (id "A-3"): family must be a non-empty string, got 1.5'),
    (_set("units.2.visits", float("inf")), 'units[2] (id "A-3"): visits must be a non-negative number'),
    (_set("reps", []), "reps: must not be empty"),
    (_drop("reps.1.capacity"), 'reps[1] (id "r2"): capacity is required: measure "workload_hours" is a capacity '
                               "measure"),
    (_set("reps.1.skill", 1.5), 'reps[1] (id "r2"): skill must be a number in [0, 1], got 1.5'),
    (_set("reps.1.level", 0), 'reps[1] (id "r2"): level must be a positive number, got 0'),
    (_set("reps.1.experience", 3), 'reps[1] (id "r2"): unknown key "experience" (did you mean "experience_years"?)'),
    (_set("reps.1.attributes.region", ["east"]), 'reps[1] (id "r2"): attributes.region: no unit has the attribute'),
    (_set("reps.1.attributes.segment", "ent"), 'reps[1] (id "r2"): attributes.segment: must be a list, got a string'),
    (_set("eligibility", ["region"]), 'units[0] (id "A-1"): attributes.region is required'),
    (_set("adjacency.1", ["A-3"]), 'adjacency[1]: must be a pair of unit ids, got ["A-3"]'),
    (_set("adjacency.1", ["A-3", "A-9"]), 'adjacency[1]: "A-9" is not a unit id'),
]


@pytest.mark.parametrize(("change", "expected"), BAD_ASSIGNMENT, ids=[m.split(":")[0] + " " + m.split(":")[1][:30]
                                                                       for _, m in BAD_ASSIGNMENT])
def test_bad_assignment_input_names_the_field_and_the_id(change, expected):
    data = copy.deepcopy(_full())
    change(data)
    with pytest.raises(InstanceError) as error:
        read_instance(data)
    assert expected in str(error.value)
    assert isinstance(error.value, ValueError)


BAD_ALIGNMENT = [
    (_set("reps", []), 'instance: "reps" is not used in alignment mode'),
    (_drop("territories"), "instance: territories is required in alignment mode"),
    (_set("territories", 0), "instance: territories must be a whole number from 1 to the number of units (6) or a "
                             "list of territory ids, got 0"),
    (_set("territories", 7), "got 7"),
    (_set("territories", ["A", "A"]), "territories: territory ids must be unique"),
    (_set("measures.0.share_basis", "capacity"), 'measures[0] (name "accounts"): "share_basis" is not used in '
                                                 "alignment mode"),
    (_set("weights", {"travel": 1}), 'weights: "travel" is not used in alignment mode'),
    (_set("units.2.visits", 3), 'units[2] (id "P2"): "visits" is not used in alignment mode'),
    (_drop("units.2.lat"), 'units[2] (id "P2"): lat is required'),
    (_set("units.2.current_rep", "North"), None),  # fine with a count: a current territory
]


@pytest.mark.parametrize(("change", "expected"), BAD_ALIGNMENT)
def test_bad_alignment_input_names_the_field(change, expected):
    data = _alignment()
    change(data)
    if expected is None:
        read_instance(data)
        return
    with pytest.raises(InstanceError) as error:
        read_instance(data)
    assert expected in str(error.value)


def test_alignment_current_territories_must_fit_the_count_and_the_names():
    data = _alignment()
    for i, name in enumerate(("North", "South", "East")):
        data["units"][i]["current_rep"] = name
    with pytest.raises(InstanceError, match="the units name 3 current territories but territories is 2"):
        read_instance(data)
    data["territories"] = ["North", "South"]
    with pytest.raises(InstanceError, match=r'units\[2\] \(id "P2"\): current_rep "East" is not one of the'):
        read_instance(data)


def _solution(instance: Instance, status="feasible") -> Solution:
    n, m, k = instance.units.count, instance.reps.count, len(instance.measures)
    feasible = status != "infeasible"
    return Solution(
        status=status, rep=np.zeros(n, dtype=int) if feasible else np.full(n, -1),
        cost_terms=np.tile([1.0, 2.0, 0.0], (n, 1)), objective=3.0 * n if feasible else math.nan,
        lower_bound=2.5 * n, gap=1 / 6 if feasible else math.nan, totals=np.ones((m, k)),
        fair_share=np.full((m, k), 2.0),
        lower=np.ones((m, k)), upper=np.full((m, k), np.inf), prices=np.zeros((m, k)),
        max_deviation={measure.name: 0.5 for measure in instance.measures}, moved_share=0.25, moved_value_share=0.1,
        seconds=0.5, peak_memory_mb=100.0,
        diagnosis=() if feasible else (Binding("capacity", "pool 1 (2 reps)", "workload_hours", 40.0,
                                               "40 hours of capacity missing", 0.5),),
    )


def test_solution_json_per_unit_per_rep_and_summary():
    instance = read_instance(_full())
    answer = _through_json(solution_to_json(instance, _solution(instance)))
    assert answer["summary"] == {
        "status": "feasible", "objective": 12.0, "lower_bound": 10.0, "gap": pytest.approx(1 / 6),
        "max_deviation": {"workload_hours": 0.5, "potential": 0.5}, "moved_share": 0.25, "moved_value_share": 0.1,
        "seconds": 0.5, "peak_memory_mb": 100.0,
    }
    assert answer["units"][3] == {"unit_id": "10115", "rep_id": "r1", "travel": 1.0, "fit": 2.0, "disruption": 0.0}
    assert answer["reps"][1] == {
        "rep_id": "r2", "totals": {"workload_hours": 1.0, "potential": 1.0},
        "fair_share": {"workload_hours": 2.0, "potential": 2.0},
        "band": {"workload_hours": [1.0, None], "potential": [1.0, None]},  # no upper bound: null, JSON has no inf
        "deviation": {"workload_hours": -0.5, "potential": -0.5},
    }
    assert answer["diagnosis"] == []


def test_an_infeasible_solution_json_carries_the_diagnosis():
    instance = read_instance(_full())
    answer = _through_json(solution_to_json(instance, _solution(instance, "infeasible")))
    assert answer["summary"]["status"] == "infeasible" and answer["summary"]["objective"] is None
    assert all(unit["rep_id"] is None for unit in answer["units"])
    assert answer["diagnosis"] == [{"kind": "capacity", "pool": "pool 1 (2 reps)", "measure": "workload_hours",
                                    "shortfall": 40.0, "message": "40 hours of capacity missing", "reps_to_hire": 0.5}]


def test_alignment_result_json():
    instance = read_instance(_alignment())
    result = AlignmentResult(
        status="feasible", territory=np.array([0, 0, 0, 1, 1, 1]), centres=np.array([1, 4]),
        totals=np.array([[5.0], [6.0]]), fair_share=np.array([5.5]), lower=np.full((2, 1), 5.0),
        upper=np.full((2, 1), 6.0), max_deviation={"accounts": 1 / 11}, dispersion=30.0, disruption_cost=0.0,
        moved_share=0.0, contiguous=None, lower_bound=29.0, gap=1 / 30, rounds=2, seconds=0.1, peak_memory_mb=90.0,
    )
    answer = _through_json(solution_to_json(instance, result))
    assert answer["mode"] == "alignment"
    assert answer["summary"]["contiguous"] is None and answer["summary"]["dispersion"] == 30.0
    assert [t["centre"] for t in answer["territories"]] == ["P1", "P4"]
    assert [t["units"] for t in answer["territories"]] == [3, 3]
    assert answer["units"][0]["territory"] == "T1" and answer["units"][1]["distance_km"] == 0.0
    assert answer["units"][0]["distance_km"] == pytest.approx(11.1, abs=0.1)  # 0.1 degree of latitude


def test_the_examples_in_the_docs_are_valid_instances():
    text = (Path(__file__).parents[2] / "docs" / "engine.md").read_text()
    examples = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, flags=re.DOTALL)]
    assert [example["mode"] for example in examples] == ["assignment", "alignment"]
    assignment, alignment = (read_instance(example) for example in examples)
    assert isinstance(assignment, Instance) and assignment.units.count == 4
    assert isinstance(alignment, AlignmentInstance) and alignment.names == ("North", "South")
    assert alignment.current_territory.tolist() == [0, 0, 1, -1] and alignment.adjacency.shape == (3, 2)
