"""The synthetic instance generator, and the baseline adapters the solver benchmark runs on it."""

import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from territory.engine.bands import bands
from territory.engine.costs import CostModel
from territory.engine.evaluate import evaluate
from territory.engine.synthetic import TOP_TIER_MIN_EXPERIENCE, synthetic_instance

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from baselines import greedy_plan, highs_plan, kmeans_plan  # noqa: E402


@pytest.fixture(scope="module")
def segmented():
    return synthetic_instance(3_000, 30, seed=5, segments=3)


def _arrays(instance) -> dict[str, object]:
    """Every array and attribute of an instance, by name."""
    found = {}
    for part in (instance.units, instance.reps):
        for item in fields(part):
            found[f"{type(part).__name__}.{item.name}"] = getattr(part, item.name)
    return found


def test_the_same_seed_gives_the_same_instance():
    first, second = (synthetic_instance(1_500, 12, seed=3, segments=2) for _ in range(2))
    a, b = _arrays(first), _arrays(second)
    for name, value in a.items():
        if isinstance(value, dict):
            assert value.keys() == b[name].keys(), name
            for key in value:
                assert np.array_equal(np.asarray(value[key]), np.asarray(b[name][key])), f"{name}[{key}]"
        else:
            assert np.array_equal(value, b[name]), name
    assert first.measures == second.measures
    other = synthetic_instance(1_500, 12, seed=4, segments=2)
    assert not np.array_equal(first.units.latitude, other.units.latitude)


def test_shapes_measures_and_attributes(segmented):
    units, reps = segmented.units, segmented.reps
    assert units.count == 3_000 and reps.count == 30
    assert units.measures.shape == (3_000, 3)
    assert [measure.name for measure in segmented.measures] == ["workload_hours", "potential", "accounts"]
    assert [measure.is_capacity for measure in segmented.measures] == [True, False, False]
    assert np.all(units.measures[:, 2] == 1)
    assert segmented.eligibility == ("segment",) and segmented.fit_attributes == ("industry",)
    assert len(np.unique(units.attributes["segment"])) == 3
    assert all(len(served) == 1 for served in reps.attributes["segment"])
    assert all(2 <= len(served) <= 3 for served in reps.attributes["industry"])
    assert set(np.unique(reps.level)) <= {0.8, 1.0, 1.2, 1.5}
    assert reps.experience_years.min() >= 0 and reps.experience_years.max() <= 15
    assert reps.skill.min() >= 0.3 and reps.skill.max() <= 0.95
    assert units.visits.min() >= 0 and units.visits.max() <= 6
    assert 8 <= units.measures[:, 0].mean() <= 30
    # one segment: no eligibility rule and no segment attribute
    single = synthetic_instance(200, 4, seed=1)
    assert single.eligibility == () and "segment" not in single.units.attributes


def test_every_segment_has_the_capacity_for_its_work_and_someone_for_every_unit(segmented):
    units, reps = segmented.units, segmented.reps
    rep_segment = np.array([next(iter(served)) for served in reps.attributes["segment"]])
    for segment in np.unique(units.attributes["segment"]):
        workload = units.measures[units.attributes["segment"] == segment, 0].sum()
        assert reps.capacity[rep_segment == segment].sum() >= workload
        assert reps.experience_years[rep_segment == segment].max() >= TOP_TIER_MIN_EXPERIENCE
    costs = CostModel(segmented)
    assert costs.eligible(np.arange(units.count)).any(axis=1).all()
    assert len(bands(segmented, costs).pool_names) == 3  # locks and families never join segments


def test_families_and_locks_are_consistent(segmented):
    units = segmented.units
    family_ids, sizes = np.unique(units.family[units.family >= 0], return_counts=True)
    assert len(family_ids) > 0 and sizes.min() >= 2 and sizes.max() <= 4
    for family in family_ids[:20]:
        assert len(np.unique(units.attributes["segment"][units.family == family])) == 1
    assert units.locked.any()
    assert np.all(units.current_rep[units.locked] >= 0)
    assert not np.any(units.locked & (units.family >= 0))
    assert 0 < units.top_tier.sum() <= 0.06 * units.count
    assert 0 < (units.current_rep < 0).sum() < 0.1 * units.count


@pytest.mark.parametrize("plan", [greedy_plan, kmeans_plan])
def test_the_heuristic_adapters_give_every_unit_one_rep(segmented, plan):
    rep = plan(segmented, seed=5, time_limit=None).rep
    assert rep.shape == (segmented.units.count,)
    assert rep.min() >= 0 and rep.max() < segmented.reps.count


def test_a_small_instance_is_feasible_and_the_milp_keeps_every_rule():
    instance = synthetic_instance(300, 5, seed=2, segments=1, families_share=0.1, locked_share=0.03)
    plan = highs_plan(instance, seed=2, time_limit=15)
    assert plan.rep is not None, plan.note
    costs = CostModel(instance)
    evaluation = evaluate(instance, bands(instance, costs), plan.rep, costs)
    assert evaluation.feasible
    assert plan.lower_bound <= evaluation.objective + 1e-6 * evaluation.objective
