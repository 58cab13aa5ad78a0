"""The cost model: the dense block used to price every pair equals the pair-by-pair terms."""

import dataclasses

import numpy as np

from territory.engine.costs import CostModel
from territory.engine.synthetic import synthetic_instance


def test_dense_costs_equal_the_sum_of_the_terms_of_each_pair():
    instance = synthetic_instance(300, 12, seed=5)
    units, reps = instance.units, instance.reps
    rng = np.random.default_rng(5)
    latitude = units.latitude.copy()
    latitude[:3] = np.nan  # no coordinates: no travel
    languages = np.array(["en", "es"])
    instance = dataclasses.replace(
        instance,
        units=dataclasses.replace(units, latitude=latitude,
                                  attributes={**units.attributes, "language": rng.choice(languages, units.count)}),
        reps=dataclasses.replace(reps, attributes={
            **reps.attributes, "language": tuple(frozenset(rng.choice(languages, 1)) for _ in range(reps.count))}),
        fit_attributes=(*instance.fit_attributes, "language"),
    )
    costs = CostModel(instance)
    block = np.arange(units.count)
    expected = costs.terms(block).sum(axis=0)

    dense = costs.dense_cost(block)

    np.testing.assert_allclose(dense, expected, rtol=1e-9, atol=1e-6)
    assert np.all(costs.terms(block[:3])[0] == 0.0)


def test_a_unit_costs_its_disruption_everywhere_but_at_its_current_rep():
    instance = synthetic_instance(50, 6, seed=2)
    costs = CostModel(instance)
    owned = np.flatnonzero(instance.units.current_rep >= 0)[:5]
    disruption = costs.terms(owned)[2]
    expected = instance.weights.disruption * instance.units.value[owned, None] * np.ones((1, 6))
    expected[np.arange(5), instance.units.current_rep[owned]] = 0.0
    np.testing.assert_allclose(disruption, expected)
