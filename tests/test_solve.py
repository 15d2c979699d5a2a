"""solve_assignment against the independent checker and the exact scipy/HiGHS reference."""

from __future__ import annotations

import copy

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal
from hypothesis import event, given, settings
from hypothesis import strategies as st

import electsec as es
from checker import check_plan
from helpers import SlowClock, dense_distances, make_instance, offset, points_frame
from reference import allowed_mask, reference_max_coverage, reference_optimum

PROPERTY = settings(max_examples=40, deadline=None, derandomize=True, database=None)


def pairs_of(centers: gpd.GeoDataFrame, garrisons: gpd.GeoDataFrame, **limits: object) -> set:
    """Allowed (center_id, garrison_id) pairs, computed independently of the library."""
    c_ids, _, g_ids, _, dist = dense_distances(centers, garrisons)
    rows, cols = np.nonzero(allowed_mask(dist, **limits))  # type: ignore[arg-type]
    return set(zip(c_ids[rows], g_ids[cols], strict=True))


# --- the tiny sample ------------------------------------------------------------------


@pytest.mark.parametrize("split", [True, False])
def test_tiny_sample_is_optimal_and_matches_reference(tiny, split):
    centers, garrisons = tiny
    plan = es.solve_assignment(centers, garrisons, split=split)
    check_plan(plan, centers, garrisons, split=split)
    assert plan.status == "optimal"
    assert plan.objective == reference_optimum(centers, garrisons, split=split)
    assert plan.uncovered.empty


# --- random instances against the reference ---------------------------------------------


@st.composite
def instances(draw: st.DrawFn) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, dict]:
    """Small random instances; total capacity is sometimes below total demand."""
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(1, 25))
    m = draw(st.integers(1, 6))
    ratio = draw(st.sampled_from([1.3, 2.0, 4.0, 1.05, 1.0, 0.8]))
    max_distance_m = draw(st.sampled_from([None, 250e3, 100e3, 50e3]))
    k = draw(st.one_of(st.none(), st.integers(1, m)))
    centers, garrisons = make_instance(np.random.default_rng(seed), n, m, capacity_ratio=ratio)
    return centers, garrisons, {"max_distance_m": max_distance_m, "k": k}


@pytest.mark.parametrize("split", [True, False])
@PROPERTY
@given(instance=instances())
def test_random_instances_match_the_reference(split, instance):
    centers, garrisons, limits = instance
    total = int(centers["demand"].sum())
    coverage = reference_max_coverage(centers, garrisons, **limits)
    split_ref = reference_optimum(centers, garrisons, split=True, **limits)
    assert (split_ref is None) == (coverage < total), "reference LP vs max-flow disagree"
    ref = split_ref if split else reference_optimum(centers, garrisons, split=False, **limits)

    if ref is None:
        if split_ref is None:
            with pytest.raises(es.InfeasibleError) as info:
                es.solve_assignment(centers, garrisons, split=split, **limits)
            shortfall = info.value.diagnosis["shortfall"]
            assert shortfall == total - coverage
            partial = info.value.partial
            assert partial is not None
            check_plan(
                partial,
                centers,
                garrisons,
                split=split,
                max_distance_m=limits["max_distance_m"],
                allowed_pairs=pairs_of(centers, garrisons, **limits),
            )
            left = int(partial.uncovered["teams"].sum())
            # A single-sourced partial plan cannot always cover what a split one can.
            assert left == shortfall if split else left >= shortfall
            event("infeasible")
        else:
            event("split feasible, whole-team packing impossible")
            # The split plan exists but whole-team packing is impossible.
            with pytest.raises((es.InfeasibleError, es.SolverError)):
                es.solve_assignment(centers, garrisons, split=split, **limits)
        return

    plan = es.solve_assignment(centers, garrisons, split=split, **limits)
    check_plan(
        plan,
        centers,
        garrisons,
        split=split,
        max_distance_m=limits["max_distance_m"],
        allowed_pairs=pairs_of(centers, garrisons, **limits),
    )
    assert plan.uncovered.empty
    event(f"feasible, status {plan.status}")
    if split:
        assert plan.status == "optimal"
        assert plan.objective == ref, f"split objective {plan.objective} != reference {ref}"
    else:
        assert plan.bound <= ref <= plan.objective, (plan.bound, ref, plan.objective)
        if plan.status == "optimal":
            assert plan.objective == ref


def test_single_sourcing_ignores_centres_without_demand():
    centers = points_frame("center_id", ["c0", "c1"], "demand", [0, 1], [44.0, 44.1], [33.0, 33.0])
    garrisons = points_frame("garrison_id", ["g0"], "capacity", [1], [44.05], [33.0])
    try:
        plan = es.solve_assignment(centers, garrisons, split=False)
    except es.SolverError as err:
        pytest.fail(
            f"LIBRARY BUG: a centre with demand 0 makes single-sourcing raise "
            f"SolverError (SingleSolution.unplaced counts centres with no demand): {err}"
        )
    check_plan(plan, centers, garrisons, split=False)
    assert plan.objective == reference_optimum(centers, garrisons, split=False)


@pytest.mark.parametrize("split", [True, False])
@pytest.mark.parametrize(("seed", "k"), [(1, 1), (2, 2), (3, 3), (4, 5)])
def test_cost_matrix_matches_reference_on_its_arcs(seed, k, split):
    rng = np.random.default_rng(seed)
    centers, garrisons = make_instance(rng, 20, 7, demand_min=1, capacity_ratio=3.0)
    costs = es.distance_matrix(centers, garrisons, k=k)
    expected_pairs = pairs_of(centers, garrisons, k=k)
    frame = costs.to_frame()
    assert set(zip(frame["center_id"], frame["garrison_id"], strict=True)) == expected_pairs
    ref = reference_optimum(centers, garrisons, split=split, k=k)
    if ref is None:
        with pytest.raises((es.InfeasibleError, es.SolverError)):
            es.solve_assignment(centers, garrisons, costs, split=split)
        return
    plan = es.solve_assignment(centers, garrisons, costs, split=split)
    check_plan(plan, centers, garrisons, split=split, allowed_pairs=expected_pairs)
    assert plan.bound <= ref <= plan.objective
    if split or plan.status == "optimal":
        assert plan.objective == ref


def outcome(*args: object, **kw: object) -> tuple:
    """A comparable summary of a solve: the plan's rows, or the shortfall."""
    try:
        plan = es.solve_assignment(*args, **kw)  # type: ignore[arg-type]
    except es.InfeasibleError as err:
        return ("infeasible", err.diagnosis["shortfall"])
    return ("plan", plan.objective, plan.assignments.to_dict("list"))


@pytest.mark.parametrize("split", [True, False])
def test_k_counts_every_garrison_like_distance_matrix(split):
    # The nearest garrison is empty: with k=1 the centre has nothing usable, both ways.
    centers = points_frame("center_id", ["c0"], "demand", [1], [44.0], [33.0])
    garrisons = points_frame(
        "garrison_id", ["g_empty", "g_far"], "capacity", [0, 5], [44.01, 44.5], [33.0, 33.0]
    )
    by_keyword = outcome(centers, garrisons, k=1, split=split)
    by_matrix = outcome(
        centers, garrisons, es.distance_matrix(centers, garrisons, k=1), split=split
    )
    assert by_keyword == by_matrix == ("infeasible", 1)


@pytest.mark.parametrize("split", [True, False])
@pytest.mark.parametrize("seed", range(6))
def test_k_keyword_and_k_cost_matrix_agree(seed, split):
    centers, garrisons = make_instance(np.random.default_rng(seed), 20, 6, capacity_ratio=2.0)
    for k in (1, 2, 4):
        by_matrix = es.distance_matrix(centers, garrisons, k=k)
        assert outcome(centers, garrisons, k=k, split=split) == outcome(
            centers, garrisons, by_matrix, split=split
        )


# --- exact pricing beyond the first candidates --------------------------------------------


def ring_instance() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The optimal arc of c0 is its 13th nearest garrison (the library starts from 12).

    c0 sits in a ring of 12 one-team garrisons at 1 km, each with a one-team centre on
    top of it. g13 (one team) is 1.5 km from c0, between two ring garrisons. On the 12
    nearest arcs c0 must take a ring garrison and push that ring centre to g13 (~1.59
    km); the optimum sends g13 to c0 (1.5 km). The candidate LP is feasible, so only
    pricing with the duals can find the arc.
    """
    lon0, lat0 = 44.4, 33.3
    ring = [offset(lon0, lat0, 30.0 * j, 1_000.0) for j in range(12)]
    g13 = offset(lon0, lat0, 15.0, 1_500.0)
    centers = points_frame(
        "center_id",
        ["c0", *[f"r{j:02d}" for j in range(12)]],
        "demand",
        [1] * 13,
        [lon0, *[p[0] for p in ring]],
        [lat0, *[p[1] for p in ring]],
    )
    garrisons = points_frame(
        "garrison_id",
        [*[f"g{j:02d}" for j in range(12)], "g13"],
        "capacity",
        [1] * 13,
        [*[p[0] for p in ring], g13[0]],
        [*[p[1] for p in ring], g13[1]],
    )
    return centers, garrisons


def crowded_instance() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """c0 needs 20 teams; 14 one-team garrisons within 2 km, one big garrison 40 km away.

    The 12 nearest cannot cover c0, so pricing must add the 13th, 14th and the far arc.
    """
    lon0, lat0 = 44.4, 33.3
    near = [offset(lon0, lat0, 25.0 * j, 600.0 + 100.0 * j) for j in range(14)]
    far = offset(lon0, lat0, 90.0, 40_000.0)
    centers = points_frame("center_id", ["c0"], "demand", [20], [lon0], [lat0])
    garrisons = points_frame(
        "garrison_id",
        [*[f"g{j:02d}" for j in range(14)], "gfar"],
        "capacity",
        [1] * 14 + [100],
        [*[p[0] for p in near], far[0]],
        [*[p[1] for p in near], far[1]],
    )
    return centers, garrisons


@pytest.mark.parametrize("split", [True, False])
@pytest.mark.parametrize("build", [ring_instance, crowded_instance])
def test_pricing_finds_arcs_beyond_the_first_candidates(build, split):
    centers, garrisons = build()
    dense = reference_optimum(centers, garrisons, split=split)
    twelve = reference_optimum(centers, garrisons, split=split, k=12)
    assert dense is not None
    assert twelve is None or twelve > dense, "instance must need an arc beyond the 12 nearest"
    plan = es.solve_assignment(centers, garrisons, split=split)
    check_plan(plan, centers, garrisons, split=split)
    assert plan.status == "optimal"
    assert plan.objective == dense


# --- determinism, CRS and inputs ---------------------------------------------------------


def test_single_sourcing_is_repeatable_with_a_seed():
    centers, garrisons = make_instance(
        np.random.default_rng(7), 200, 8, demand_min=1, capacity_ratio=1.08
    )
    first = es.solve_assignment(centers, garrisons, split=False, seed=5)
    second = es.solve_assignment(centers, garrisons, split=False, seed=5)
    check_plan(first, centers, garrisons, split=False)
    pd.testing.assert_frame_equal(first.assignments, second.assignments)
    pd.testing.assert_frame_equal(first.garrison_load, second.garrison_load)
    assert (first.status, first.objective, first.bound) == (
        second.status,
        second.objective,
        second.bound,
    )


def test_projected_layers_are_measured_as_geodesics():
    centers, garrisons = make_instance(np.random.default_rng(11), 15, 4, demand_min=1)
    utm_c, utm_g = centers.to_crs("EPSG:32638"), garrisons.to_crs("EPSG:32638")
    plan = es.solve_assignment(utm_c, utm_g, split=True)
    check_plan(plan, utm_c, utm_g, split=True)
    assert plan.objective == reference_optimum(centers, garrisons, split=True)


@pytest.mark.parametrize("split", [True, False])
def test_inputs_are_not_mutated(split):
    centers, garrisons = make_instance(np.random.default_rng(5), 25, 5, demand_min=1)
    before_c, before_g = copy.deepcopy(centers), copy.deepcopy(garrisons)
    es.solve_assignment(centers, garrisons, split=split, max_distance_m=400e3)
    assert_geodataframe_equal(centers, before_c)
    assert_geodataframe_equal(garrisons, before_g)


def test_validated_inputs_are_not_mutated(tiny):
    centers, garrisons = tiny
    before_c, before_g = copy.deepcopy(centers), copy.deepcopy(garrisons)
    costs = es.distance_matrix(centers, garrisons, k=3)
    es.solve_assignment(centers, garrisons, costs, split=False)
    assert_geodataframe_equal(centers, before_c)
    assert_geodataframe_equal(garrisons, before_g)


def test_a_tiny_time_limit_still_gives_a_whole_team_plan():
    rng = np.random.default_rng(11)
    centers, garrisons = make_instance(
        rng, 400, 25, demand_min=1, demand_max=5, capacity_ratio=1.08
    )
    plan = es.solve_assignment(centers, garrisons, time_limit_s=1e-3, seed=1)
    check_plan(plan, centers, garrisons, split=False)
    assert plan.bound <= plan.objective


@pytest.mark.parametrize("seed", range(6))
def test_slimmed_pricing_pools_stay_exact(seed, monkeypatch):
    """Between pricing rounds big pools are cut to the arcs in use and the best few per
    centre; pricing must bring back whatever matters (forced here on small instances)."""
    from electsec.solvers import flow

    monkeypatch.setattr(flow, "SLIM_ABOVE_ARCS", 0)
    monkeypatch.setattr(flow, "SLIM_PER_ROW", 1)
    rng = np.random.default_rng(seed)
    centers, garrisons = make_instance(rng, 40, 9, capacity_ratio=1.05)
    options = es.SolverOptions(candidate_k=2)
    plan = es.solve_assignment(centers, garrisons, split=True, options=options)
    check_plan(plan, centers, garrisons, split=True)
    assert plan.objective == reference_optimum(centers, garrisons, split=True)


@pytest.mark.parametrize("seed", [2, 3, 5, 6, 7])  # the first round covers, without penalties
@pytest.mark.parametrize("split", [True, False])
def test_pricing_stopped_by_the_clock_gives_a_proven_bound(seed, split, monkeypatch):
    """When another pricing round would not fit in ``time_limit_s``, the covering flow comes
    back "feasible" with a lower bound that the dense optimum respects."""
    from electsec.solvers import flow

    monkeypatch.setattr(flow, "time", SlowClock())
    rng = np.random.default_rng(seed)
    centers, garrisons = make_instance(rng, 60, 12, demand_min=1, capacity_ratio=1.05)
    options = es.SolverOptions(candidate_k=2)
    plan = es.solve_assignment(
        centers, garrisons, split=split, options=options, time_limit_s=60, seed=seed
    )
    check_plan(plan, centers, garrisons, split=split)
    dense = reference_optimum(centers, garrisons, split=split)
    split_optimum = reference_optimum(centers, garrisons, split=True)
    assert dense is not None
    assert split_optimum is not None
    assert plan.bound <= dense <= plan.objective
    if split:
        assert plan.status == "feasible", "the first candidates must miss an improving arc"
        assert plan.gap > 0
    if plan.status == "feasible":
        assert plan.bound <= split_optimum  # at most the LP bound, even without whole teams
    else:  # the whole-team search met the stopped LP's bound
        assert plan.objective == dense


def test_dual_bound_of_the_optimal_flow_is_its_cost():
    """At the LP optimum the Lagrangian bound of the duals equals the flow's cost."""
    from electsec.solvers.flow import dual_bound, solve_split

    centers, garrisons = make_instance(np.random.default_rng(3), 50, 7, capacity_ratio=1.05)
    problem = es.prepare(centers, garrisons).problem
    lp = solve_split(problem)
    assert lp.optimal
    u, w = lp.center_potential, lp.garrison_potential
    assert dual_bound(problem.demand, problem.capacity, u, w) == lp.cost


@pytest.mark.parametrize("seed", range(8))
def test_uncovered_centres_gain_garrisons_until_covered(seed):
    """One candidate each: whole clusters start cut off behind saturated garrisons whose
    duals are near the penalty. Their centres must keep gaining garrisons (even ones with a
    non-negative reduced cost) until covered, not stop short of a feasible plan."""
    rng = np.random.default_rng(seed)
    centers, garrisons = make_instance(rng, 60, 12, demand_min=1, capacity_ratio=1.2)
    plan = es.solve_assignment(
        centers, garrisons, split=True, options=es.SolverOptions(candidate_k=1)
    )
    check_plan(plan, centers, garrisons, split=True)
    assert plan.status == "optimal"
    assert plan.objective == reference_optimum(centers, garrisons, split=True)


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("capacity_ratio", [0.9, 1.05])
def test_blocked_regions_are_widened_before_the_first_solve(seed, capacity_ratio, monkeypatch):
    """Large first candidate sets are checked by max-flow and the centres of blocked regions
    get more garrisons before the first solve (forced here on small instances): plans stay
    optimal, and when forces are short the plan still covers the most teams."""
    from electsec.solvers import flow

    monkeypatch.setattr(flow, "COVER_CHECK_ABOVE_ARCS", 0)
    rng = np.random.default_rng(seed)
    centers, garrisons = make_instance(rng, 60, 12, demand_min=1, capacity_ratio=capacity_ratio)
    options = es.SolverOptions(candidate_k=1)
    plan = es.solve_assignment(centers, garrisons, options=options, coverage="max")
    check_plan(plan, centers, garrisons, split=False)
    if capacity_ratio > 1:
        assert plan.uncovered.empty
        assert plan.objective == reference_optimum(centers, garrisons, split=False)
    else:
        uncovered = int(plan.uncovered["teams"].sum())
        covered = int(centers["demand"].sum()) - uncovered
        assert covered <= reference_max_coverage(centers, garrisons)
        split = es.solve_assignment(
            centers, garrisons, split=True, options=options, coverage="max"
        )
        check_plan(split, centers, garrisons, split=True)
        split_uncovered = int(split.uncovered["teams"].sum())
        assert int(centers["demand"].sum()) - split_uncovered == reference_max_coverage(
            centers, garrisons
        )


@pytest.mark.parametrize("seed", [354, 569, 1473])
def test_no_bound_from_a_round_solved_with_penalties(seed, monkeypatch):
    """A round solved with the uncovered node can cover everyone while closed, saturated
    parts sit at the penalty: their duals do not price every arc, so no bound may come
    from them (these seeds once reported a bound above the optimum, with gap 0)."""
    from electsec.solvers import flow

    monkeypatch.setattr(flow, "time", SlowClock())
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(3, 9)), int(rng.integers(2, 7))
    centers, garrisons = make_instance(rng, n, m, demand_min=1, demand_max=2, capacity_ratio=1.05)
    options = es.SolverOptions(candidate_k=1)
    plan = es.solve_assignment(centers, garrisons, split=True, options=options, time_limit_s=60)
    check_plan(plan, centers, garrisons, split=True)
    optimum = reference_optimum(centers, garrisons, split=True)
    assert plan.bound <= optimum <= plan.objective
    assert plan.status == "feasible" or plan.objective == optimum


@PROPERTY
@given(
    seed=st.integers(0, 2**32 - 1),
    k=st.integers(1, 3),
    ratio=st.sampled_from([1.05, 1.2, 1.5]),
)
def test_a_stopped_lp_never_bounds_above_the_optimum(seed, k, ratio):
    """Property: whenever the clock stops pricing, bound ≤ dense optimum ≤ objective."""
    from electsec.solvers import flow

    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(3, 12)), int(rng.integers(2, 7))
    centers, garrisons = make_instance(rng, n, m, demand_min=1, demand_max=2, capacity_ratio=ratio)
    real = flow.time
    flow.time = SlowClock()  # type: ignore[assignment]
    try:
        plan = es.solve_assignment(
            centers,
            garrisons,
            split=True,
            options=es.SolverOptions(candidate_k=k),
            time_limit_s=60,
        )
    finally:
        flow.time = real
    check_plan(plan, centers, garrisons, split=True)
    optimum = reference_optimum(centers, garrisons, split=True)
    event(plan.status)
    assert plan.bound <= optimum <= plan.objective
    assert plan.status == "feasible" or plan.objective == optimum
