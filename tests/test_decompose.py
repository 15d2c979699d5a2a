"""Independent regions: found exactly, solved separately, the same plan in parallel.

Regions are checked against connected components recomputed here from pyproj distances;
plans solved region by region match scipy ``milp`` on the whole instance and are the same
plan whether the regions run here, in a process pool, or on a Dask ``LocalCluster``.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import electsec as es
from checker import check_plan
from helpers import SlowClock, dense_distances, local_cluster, make_instance
from reference import reference_optimum

PER_REGION = es.SolverOptions(region_min_centers=1)
TOWNS = [(44.4, 33.3), (47.8, 30.5), (43.1, 36.3), (45.4, 35.5)]  # Baghdad, Basra, Mosul, Sulay.
LIMIT_M = 60_000.0


def towns(seed: int, n_per_town: int = 15, m_per_town: int = 4) -> tuple[gpd.GeoDataFrame, ...]:
    """Four far-apart towns, each with its own garrisons: four regions under a 60 km limit."""
    rng = np.random.default_rng(seed)
    parts = []
    for k, (lon, lat) in enumerate(TOWNS):
        box = (lon - 0.2, lon + 0.2, lat - 0.2, lat + 0.2)
        c, g = make_instance(rng, n_per_town, m_per_town, capacity_ratio=1.4, box=box)
        c["center_id"] = [f"t{k}c{i}" for i in range(len(c))]
        g["garrison_id"] = [f"t{k}g{i}" for i in range(len(g))]
        parts.append((c, g))
    centers = pd.concat([p[0] for p in parts], ignore_index=True)
    garrisons = pd.concat([p[1] for p in parts], ignore_index=True)
    return gpd.GeoDataFrame(centers, crs="EPSG:4326"), gpd.GeoDataFrame(garrisons, crs="EPSG:4326")


def components(centers: gpd.GeoDataFrame, garrisons: gpd.GeoDataFrame) -> int:
    """Connected parts of the allowed graph, from the dense pyproj matrix."""
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components

    _, demand, _, capacity, dist = dense_distances(centers, garrisons)
    n, m = dist.shape
    i, j = np.nonzero((dist <= LIMIT_M) & (capacity[None, :] > 0))
    graph = coo_array((np.ones(len(i)), (i, n + j)), shape=(n + m, n + m))
    _, label = connected_components(graph, directed=False)
    nodes = np.r_[np.flatnonzero(demand > 0), n + np.unique(j)]
    return len(np.unique(label[nodes]))


def test_regions_are_the_connected_components() -> None:
    from electsec.solvers.decompose import regions

    centers, garrisons = towns(0)
    c = es.read_polling_centers(centers)
    g = es.read_garrisons(garrisons)
    costs = es.distance_matrix(c, g, max_distance_m=LIMIT_M)
    problem = es.prepare(c, g, costs).problem
    found = regions(problem, min_rows=1)
    busy = [p for p in found if problem.demand[p.rows].sum() > 0]
    assert len(busy) == components(centers, garrisons) == 4
    rows = np.concatenate([p.rows for p in found])
    assert sorted(rows) == list(range(problem.n_centers)), "every row in exactly one part"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_region_by_region_plan_is_exact(seed: int) -> None:
    centers, garrisons = towns(seed)
    plan = es.solve_assignment(centers, garrisons, max_distance_m=LIMIT_M, options=PER_REGION)
    check_plan(plan, centers, garrisons, split=False, max_distance_m=LIMIT_M)
    best = reference_optimum(centers, garrisons, split=False, max_distance_m=LIMIT_M)
    if plan.status == "optimal":
        assert plan.objective == best
    assert plan.bound <= best <= plan.objective
    whole = es.solve_assignment(centers, garrisons, max_distance_m=LIMIT_M)
    assert whole.bound <= best <= whole.objective


@pytest.mark.parametrize("seed", [9, 10, 11])
def test_whole_teams_get_garrisons_the_split_lp_never_priced(seed: int) -> None:
    """Two candidates each: the split LP's pool lacks arcs a whole-team plan needs (seed 11
    used to raise SolverError). The pool around unplaced centres is widened instead."""
    centers, garrisons = towns(seed)
    options = es.SolverOptions(region_min_centers=1, candidate_k=2)
    plan = es.solve_assignment(centers, garrisons, max_distance_m=LIMIT_M, options=options)
    check_plan(plan, centers, garrisons, split=False, max_distance_m=LIMIT_M)
    best = reference_optimum(centers, garrisons, split=False, max_distance_m=LIMIT_M)
    assert plan.bound <= best <= plan.objective
    assert plan.status != "optimal" or plan.objective == best


@pytest.mark.parametrize("seed", [2, 7])
def test_regions_share_the_bound_of_a_stopped_lp(seed: int, monkeypatch) -> None:
    """When pricing stops early, each region's bound is its share of the Lagrangian bound
    (or its own proof): the sum still bounds the dense optimum."""
    from electsec.solvers import flow

    monkeypatch.setattr(flow, "time", SlowClock())
    centers, garrisons = towns(seed)
    options = es.SolverOptions(region_min_centers=1, candidate_k=2)
    plan = es.solve_assignment(
        centers, garrisons, max_distance_m=LIMIT_M, options=options, time_limit_s=60
    )
    check_plan(plan, centers, garrisons, split=False, max_distance_m=LIMIT_M)
    best = reference_optimum(centers, garrisons, split=False, max_distance_m=LIMIT_M)
    assert plan.bound <= best <= plan.objective
    assert plan.status == "feasible", "the first candidates must miss an improving arc"


def test_process_pool_gives_the_same_plan() -> None:
    centers, garrisons = towns(3)
    here = es.solve_assignment(centers, garrisons, max_distance_m=LIMIT_M, options=PER_REGION)
    with ProcessPoolExecutor(max_workers=2) as pool:
        there = es.solve_assignment(
            centers, garrisons, max_distance_m=LIMIT_M, options=PER_REGION, executor=pool
        )
    pd.testing.assert_frame_equal(here.assignments, there.assignments)
    assert (here.objective, here.bound, here.status) == (
        there.objective,
        there.bound,
        there.status,
    )


def test_agencies_are_regions_of_their_own() -> None:
    rng = np.random.default_rng(8)
    centers, garrisons = make_instance(rng, 40, 8, demand_min=1, capacity_ratio=3)
    centers["agency"] = np.where(np.arange(40) % 2, "army", "police")
    garrisons["agency"] = ["army", "police"] * 4
    plan = es.solve_assignment(centers, garrisons, options=PER_REGION)
    whole = es.solve_assignment(centers, garrisons)
    for p in (plan, whole):
        assert p.bound <= min(plan.objective, whole.objective)
    per_agency = [
        reference_optimum(
            centers[centers["agency"] == a], garrisons[garrisons["agency"] == a], split=False
        )
        for a in ("army", "police")
    ]
    assert None not in per_agency
    assert plan.bound <= sum(per_agency) <= plan.objective


def test_dask_local_cluster_gives_the_same_plan() -> None:
    centers, garrisons = towns(4)
    here = es.solve_assignment(centers, garrisons, max_distance_m=LIMIT_M, options=PER_REGION)
    with local_cluster() as (_, client):
        there = es.solve_assignment(
            centers,
            garrisons,
            max_distance_m=LIMIT_M,
            options=PER_REGION,
            executor=client.get_executor(),
        )
    pd.testing.assert_frame_equal(here.assignments, there.assignments)
    assert here.objective == there.objective
