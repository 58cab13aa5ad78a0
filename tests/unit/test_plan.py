"""The plan file: the shipped plan is valid, and each kind of bad value is refused with its key named."""

from __future__ import annotations

import copy

import pytest
import yaml

from territory.plan import DEFAULT_PLAN_PATH, PYTHON_SECTIONS, PlanError, load_plan

DEFAULT = yaml.safe_load(DEFAULT_PLAN_PATH.read_text())


def _write(tmp_path, document) -> str:
    path = tmp_path / "plan.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False) if not isinstance(document, str) else document)
    return str(path)


def _changed(change) -> dict:
    document = copy.deepcopy(DEFAULT)
    change(document)
    return document


def test_the_shipped_plan_is_valid_and_becomes_one_dbt_var_per_section():
    plan = load_plan()
    dbt_vars = plan.dbt_vars()
    assert list(dbt_vars) == [section for section in DEFAULT if section not in PYTHON_SECTIONS]  # only Python reads those
    assert list(plan.tiers) == ["A", "B", "C", "D"]
    assert dbt_vars["cadence"]["touches_per_year"]["A"]["meeting_in_person"] == DEFAULT["cadence"]["touches_per_year"]["A"]["meeting_in_person"]
    assert "NO" in plan.regions["nordics"]  # quoted in the file, or YAML would read it as false


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["tiers"].update({"B": 95}), "tier floors must fall"),
        (lambda d: d["tiers"].update({"D": 5}), "the last needs floor 0"),
        (lambda d: d["segments"].update({"enterprise": 50}), "'enterprise' (50) is not above 'mid_market' (100)"),
        (lambda d: d["size_bands"].pop("1-49"), "must have floor 0"),
        (lambda d: d["cadence"]["touches_per_year"]["B"].pop("email"), "cadence.touches_per_year: tier B: needs exactly the channels call, voicemail, email, meeting_in_person, meeting_online: missing email"),
        (lambda d: d["cadence"]["touches_per_year"].pop("D"), "must list exactly the tiers"),
        (lambda d: d["icp"].update({"regon": []}), "icp.regon: is not a plan setting"),
        (lambda d: d["icp"]["regions"].append("mars"), "regions section does not define: mars"),
        (lambda d: d["icp"]["weights"].update({"industry": -1}), "icp.weights.industry: Input should be greater than or equal to 0"),
        (lambda d: d["icp"]["fit_cutoffs"].update({"good": 0.9}), "cut-offs must fall"),
        (lambda d: d["icp"]["personas"].update({"Big Boss": d["icp"]["personas"]["champion"]}), "must be lower_snake_case"),
        (lambda d: d["industry_groups"]["financial"].append("Software"), "'Software' is listed under both 'technology' and 'financial'"),
        (lambda d: d["regions"]["nordics"].append(False), "regions.nordics.4: Input should be a valid string"),
        (lambda d: d["regions"]["nordics"].append("Norway"), "'Norway' is neither a country code"),
        (lambda d: d["win_probability"]["by_funnel_stage"].pop("churned"), "missing churned"),
        (lambda d: d["win_probability"].update({"max": 1.5}), "win_probability.max"),
        (lambda d: d["cost_to_serve"]["visits_per_year"].update({"strategic": 3}), "unknown strategic"),
        (lambda d: d["reps"].update({"pace_weakness": 4}), "pace_weakness must be below pace_strength"),
        (lambda d: d["markets"]["experience_by_intensity"].update({"high": "guru"}), "markets.experience_by_intensity.high"),
        (lambda d: d.update(tiers={"A'": 90, "B": 70, "C": 35, "D": 0}), "the label \"A'\" must not contain quotes"),
        (lambda d: d.pop("needs"), "needs: Field required"),
        (lambda d: d["assignment"].update(top_tiers=["Z"]), "assignment.top_tiers names tiers that the tiers section does not define: Z"),
        (lambda d: d["assignment"]["balance"].update(revenue=0.1), "balance measures are workload_hours, potential, accounts"),
        (lambda d: d["assignment"]["balance"].update(potential=1.0), "a balance tolerance is a share below 1"),
        (lambda d: d["assignment"].update(max_moved_share=0.1, max_moved_value_share=0.1), "not both"),
        (lambda d: d["assignment"].update(eligibility=["language"]), "assignment.eligibility.0"),
        (lambda d: d["contact_plan"]["min_gap_days"].pop("D"), "contact_plan.min_gap_days must list exactly the tiers"),
        (lambda d: d["contact_plan"]["max_gap_days"].update(A=4), "tier A: max_gap_days (4) must be at least min_gap_days (3) + 2"),
        (lambda d: d["contact_plan"].update(filler_channel="fax"), "contact_plan.filler_channel: must be one of the channels"),
        (lambda d: d["rotation"].update(team_by=[]), "rotation.team_by"),
        (lambda d: d["goals"]["targets"][0].update(target=1000), "give either target or growth, not both"),
        (lambda d: d["goals"]["targets"][0].pop("growth"), "give either target or growth, not neither"),
        (lambda d: d["goals"]["targets"][0].update(deadline="2026-01-01"), "must be before the deadline"),
        (lambda d: d["goals"]["targets"][0]["milestones"].append({"due": "2026-10-01", "share": 0.1}), "list them by date"),
        (lambda d: d["goals"]["targets"][1].update(name="fy2027_revenue"), "goal names must be unique, repeated: fy2027_revenue"),
        (lambda d: d["goals"]["targets"][2].update(segment="strategic"), "goals.targets.2.segment"),
        (lambda d: d["capacity"].update(headroom=1.5), "capacity.headroom"),
    ],
)
def test_a_bad_value_is_refused_with_the_file_and_key_named(tmp_path, change, message):
    path = _write(tmp_path, _changed(change))
    with pytest.raises(PlanError) as raised:
        load_plan(path)
    assert str(raised.value).startswith(path)
    assert message in str(raised.value)


def test_a_missing_file_and_bad_yaml_are_plain_errors(tmp_path):
    with pytest.raises(PlanError, match="cannot read the plan file"):
        load_plan(tmp_path / "absent.yml")
    with pytest.raises(PlanError, match="is not valid YAML"):
        load_plan(_write(tmp_path, "tiers: [A, B\n"))
    with pytest.raises(PlanError, match="must hold a mapping of plan sections, got list"):
        load_plan(_write(tmp_path, "- A\n- B\n"))

