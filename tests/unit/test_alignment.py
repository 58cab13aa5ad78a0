"""Alignment mode on small regions: a partition, balanced, contiguous, repeatable, close to the current one."""

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from territory.engine.alignment import (
    AlignmentInstance,
    align,
    assess,
    dispersion_weights,
    make_contiguous,
    synthetic_alignment,
)
from territory.engine.instance import Measure

UNITS, TERRITORIES = 120, 4


@pytest.fixture(scope="module")
def region() -> AlignmentInstance:
    return synthetic_alignment(UNITS, TERRITORIES, seed=3)


@pytest.fixture(scope="module")
def aligned(region):
    return align(region)


def _pieces(problem: AlignmentInstance, territory: np.ndarray, t: int) -> int:
    """Connected pieces of territory t over the adjacency, counted independently of the engine."""
    members = np.flatnonzero(territory == t)
    a, b = problem.adjacency.T
    inside = np.isin(a, members) & np.isin(b, members)
    index = {unit: k for k, unit in enumerate(members)}
    rows = [index[u] for u in a[inside]]
    cols = [index[u] for u in b[inside]]
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(members), len(members)))
    return connected_components(graph, directed=False)[0]


def test_every_unit_gets_exactly_one_of_p_non_empty_territories(aligned):
    assert aligned.status == "feasible", aligned.diagnosis
    assert aligned.territory.shape == (UNITS,)
    assert aligned.territory.min() >= 0 and aligned.territory.max() < TERRITORIES
    assert np.all(np.bincount(aligned.territory, minlength=TERRITORIES) > 0)
    # each centre is a unit of its own territory
    assert aligned.territory[aligned.centres].tolist() == list(range(TERRITORIES))


def test_every_territory_is_within_tolerance_on_every_measure(region, aligned):
    totals = np.zeros((TERRITORIES, 3))
    np.add.at(totals, aligned.territory, region.amounts)
    deviation = np.abs(totals / (region.amounts.sum(axis=0) / TERRITORIES) - 1)
    assert deviation.max() <= 0.05 + 1e-9
    assert aligned.max_deviation == pytest.approx(dict(zip(("accounts", "workload_hours", "potential"),
                                                           deviation.max(axis=0))))
    assert np.allclose(aligned.totals, totals)


def test_territories_are_contiguous_over_the_adjacency(region, aligned):
    assert aligned.contiguous is True
    assert [_pieces(region, aligned.territory, t) for t in range(TERRITORIES)] == [1] * TERRITORIES


def test_the_same_input_gives_the_same_answer(region, aligned):
    again = align(region)
    assert np.array_equal(again.territory, aligned.territory)
    assert np.array_equal(again.centres, aligned.centres)
    assert again.dispersion == aligned.dispersion


def test_the_result_reports_dispersion_and_the_allocation_bound(region, aligned):
    quality = assess(region, aligned.territory)
    assert quality.within_tolerance and quality.contiguous and quality.pieces == TERRITORIES
    # medoids of the final plan are at least as central as the centres it was built around
    assert quality.dispersion <= aligned.dispersion + 1e-9
    assert aligned.dispersion > 0 and aligned.disruption_cost == 0 and aligned.moved_share == 0
    assert aligned.lower_bound <= aligned.objective * (1 + 1e-9)
    assert 0 <= aligned.gap < 0.05
    assert 1 <= aligned.rounds <= 10 and aligned.seconds > 0


def test_compact_beats_a_striped_partition(region, aligned):
    # cutting the region into longitude stripes of equal count is balanced-ish but far less compact
    stripes = np.empty(UNITS, dtype=int)
    stripes[np.argsort(region.longitude, kind="stable")] = np.arange(UNITS) * TERRITORIES // UNITS
    assert aligned.dispersion < assess(region, stripes).dispersion


def test_without_adjacency_contiguity_is_not_asked():
    region = synthetic_alignment(60, 3, seed=5)
    loose = AlignmentInstance(
        unit_id=region.unit_id, latitude=region.latitude, longitude=region.longitude, amounts=region.amounts,
        measures=region.measures, territories=3,
    )
    result = align(loose)
    assert result.status == "feasible" and result.contiguous is None
    assert max(result.max_deviation.values()) <= 0.05 + 1e-9


def test_a_heavy_disruption_weight_keeps_the_current_alignment(region, aligned):
    # the current alignment is the plan just found: with moves this expensive, it is kept as it is
    current = AlignmentInstance(
        unit_id=region.unit_id, latitude=region.latitude, longitude=region.longitude, amounts=region.amounts,
        measures=region.measures, territories=TERRITORIES, territory_ids=region.territory_ids,
        adjacency=region.adjacency, current_territory=aligned.territory, disruption=1_000.0,
    )
    result = align(current)
    assert result.status == "feasible"
    assert result.moved_share == 0.0 and np.array_equal(result.territory, aligned.territory)


def test_a_unit_too_large_for_any_band_is_diagnosed():
    region = synthetic_alignment(40, 4, seed=1)
    amounts = region.amounts.copy()
    amounts[0, 0] = amounts[:, 0].sum()  # one unit holds half of all accounts: no territory can take it
    too_large = AlignmentInstance(
        unit_id=region.unit_id, latitude=region.latitude, longitude=region.longitude, amounts=amounts,
        measures=region.measures, territories=4, adjacency=region.adjacency,
    )
    result = align(too_large)
    assert result.status == "infeasible" and not result.feasible
    assert result.diagnosis and np.all(result.territory == -1)


def test_dispersion_weights_average_one():
    amounts = np.array([[1.0, 10.0, 0.0], [3.0, 30.0, 0.0]])
    assert dispersion_weights(amounts).tolist() == [0.5, 1.5]  # the all-zero measure is left out


def test_synthetic_regions_are_deterministic():
    a, b = synthetic_alignment(50, 5, seed=9), synthetic_alignment(50, 5, seed=9)
    for name in ("latitude", "longitude", "amounts", "adjacency"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.amounts, synthetic_alignment(50, 5, seed=10).amounts)
    assert len(a.measures) == 3 and a.territories == 5


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"territories": 0}, "territories must be between 1 and the number of units"),
        ({"amounts": -np.ones((3, 1))}, "amounts must be finite and non-negative"),
        ({"adjacency": np.array([[0, 3]])}, "adjacency must index units"),
        ({"current_territory": np.array([0, 2, -1])}, "current_territory must index a territory or be -1"),
        ({"latitude": np.array([50.0, np.nan, 51.0])}, "every unit needs coordinates"),
    ],
)
def test_an_alignment_instance_checks_itself(change, message):
    fields = dict(
        unit_id=np.array(["a", "b", "c"]), latitude=np.array([50.0, 50.5, 51.0]), longitude=np.array([8.0, 8.0, 8.0]),
        amounts=np.ones((3, 1)), measures=(Measure("accounts", 0.05, "equal"),), territories=2,
    )
    with pytest.raises(ValueError, match=message):
        AlignmentInstance(**{**fields, **change})


def _grid(amounts: np.ndarray, measures: tuple[Measure, ...]) -> AlignmentInstance:
    """A 4 x 4 grid (unit gK at row K // 4, column K % 4), 2 territories, neighbours up, down, left and right."""
    row, col = np.divmod(np.arange(16), 4)
    edges = [(i, i + 1) for i in range(16) if col[i] < 3] + [(i, i + 4) for i in range(12)]
    return AlignmentInstance(
        unit_id=np.array([f"g{i}" for i in range(16)]), latitude=50 + row / 10, longitude=8 + col / 10,
        amounts=amounts.reshape(16, -1), measures=measures, territories=2, adjacency=np.array(edges),
    )


WEST_EAST = (np.arange(16) % 4 >= 2).astype(int)  # west = columns 0-1, east = columns 2-3
CENTRES = np.array([4, 7])  # g4 (row 1, column 0) and g7 (row 1, column 3)


def test_a_detached_unit_is_reattached_and_the_balance_restored():
    # the corner g15 belongs to the west and g1 to the east: 8 units each, the west in two pieces
    grid = _grid(np.ones(16), (Measure("accounts", 0.0, "equal"),))
    territory = WEST_EAST.copy()
    territory[15], territory[1] = 0, 1
    repaired, log = make_contiguous(grid, territory, CENTRES)
    assert [_pieces(grid, repaired, t) for t in range(2)] == [1, 1]
    assert np.bincount(repaired).tolist() == [8, 8]  # the band (exactly 8) holds again
    assert repaired[15] == 1 and repaired[CENTRES].tolist() == [0, 1]
    assert log == ("contiguity: 1 detached units reattached", "balance: 1 boundary moves, 0 swaps")
    assert np.array_equal(territory[[15, 1]], [0, 1])  # the input is left alone


def test_a_swap_restores_a_band_no_single_move_can():
    # accounts must be exactly 8 each, so no unit can move alone; the west has potential 10 against a band
    # of 9 +- 10%: trading a west unit of potential 2 for an east unit of potential 1 fixes it
    potential = np.ones(16)
    potential[[1, 5]] = 2.0
    grid = _grid(np.column_stack([np.ones(16), potential]),
                 (Measure("accounts", 0.0, "equal"), Measure("potential", 0.1, "equal")))
    repaired, log = make_contiguous(grid, WEST_EAST, CENTRES)
    assert log == ("contiguity: 0 detached units reattached", "balance: 0 boundary moves, 1 swaps")
    assert np.bincount(repaired).tolist() == [8, 8]
    assert np.bincount(repaired, weights=potential).tolist() == [9.0, 9.0]
    assert [_pieces(grid, repaired, t) for t in range(2)] == [1, 1]


def test_a_unit_the_adjacency_leaves_alone_is_reported_not_hidden():
    grid = _grid(np.ones(16), (Measure("accounts", 0.25, "equal"),))
    island = grid.adjacency[(grid.adjacency != 15).all(axis=1)]  # g15 loses every edge
    cut = AlignmentInstance(
        unit_id=grid.unit_id, latitude=grid.latitude, longitude=grid.longitude, amounts=grid.amounts,
        measures=grid.measures, territories=2, adjacency=island,
    )
    result = align(cut)
    assert result.status == "infeasible" and result.contiguous is False
    assert [b.kind for b in result.diagnosis] == ["contiguity"]
    assert "g15" in result.diagnosis[0].message and "no edge of the adjacency joins them" in result.diagnosis[0].message
