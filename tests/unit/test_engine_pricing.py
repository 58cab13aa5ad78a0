"""Column generation's bookkeeping: which priced pairs are new, and the candidates kept sorted."""

import numpy as np

from territory.engine.problem import AssignmentProblem
from territory.engine.solve import _new_pairs, _with_pairs


def _problem() -> AssignmentProblem:
    # candidates (unit, rep): (0, 0), (0, 2), (1, 1), (2, 0), (2, 1); three reps
    return AssignmentProblem(
        unit=np.array([0, 0, 1, 2, 2]), rep=np.array([0, 2, 1, 0, 1]), cost=np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
        load=np.ones((3, 1)), lower=np.zeros((3, 1)), upper=np.full((3, 1), 3.0),
    )


def test_new_pairs_are_those_not_yet_candidates():
    # unit 0 priced reps 2 (known) and 1 (new); unit 2 reps 1 (known) and 2 (new)
    group, rep = _new_pairs(_problem(), np.array([0, 2]), np.array([[2, 1], [1, 2]]))

    np.testing.assert_array_equal(group, [0, 2])
    np.testing.assert_array_equal(rep, [1, 2])


def test_a_pair_beyond_the_last_candidate_is_new():
    group, rep = _new_pairs(_problem(), np.array([2]), np.array([[2]]))

    np.testing.assert_array_equal(group, [2])
    np.testing.assert_array_equal(rep, [2])


def test_added_pairs_keep_the_candidates_sorted_by_unit_then_rep():
    grown = _with_pairs(_problem(), np.array([2, 0]), np.array([2, 1]), np.array([6.0, 7.0]), np.zeros(2))

    np.testing.assert_array_equal(grown.unit, [0, 0, 0, 1, 2, 2, 2])
    np.testing.assert_array_equal(grown.rep, [0, 1, 2, 1, 0, 1, 2])
    np.testing.assert_array_equal(grown.cost, [1.0, 7.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    # so that the next round finds them known
    assert len(_new_pairs(grown, np.array([0, 2]), np.array([[1, 2], [2, 0]]))[0]) == 0
