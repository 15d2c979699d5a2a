"""Infeasibility diagnosis: unreachable centres, Hall-violating regions, partial plans.

Every reported region is re-derived here with pyproj: the garrisons its centres can reach
(N(S)), and ``demand(S) - capacity(N(S))`` must be the reported deficit.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import electsec as es
from checker import check_plan
from helpers import dense_distances, make_instance, offset, points_frame
from reference import allowed_mask, reference_max_coverage

PROPERTY = settings(max_examples=40, deadline=None, derandomize=True, database=None)

BAGHDAD = (44.366, 33.315)
BASRA = (47.783, 30.508)
MOSUL = (43.119, 36.335)
RUTBA = (40.296, 33.038)  # a desert town far from every garrison below


def cluster(
    prefix: str, town: tuple[float, float], values: list[int], id_col: str, value_col: str
) -> gpd.GeoDataFrame:
    """Points 2–8 km around ``town``, one per value."""
    pts = [
        offset(*town, 360.0 * j / len(values) + 7.0, 2_000.0 + 1_500.0 * (j % 5))
        for j in range(len(values))
    ]
    return points_frame(
        id_col,
        [f"{prefix}{j}" for j in range(len(values))],
        value_col,
        values,
        [p[0] for p in pts],
        [p[1] for p in pts],
    )


def layers(*parts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs="EPSG:4326")


def core(regions: list[dict]) -> list[dict]:
    """The documented keys of each blocking region (newer keys may be added)."""
    keys = ("centers", "garrisons", "demand", "capacity", "deficit")
    return [{key: r[key] for key in keys} for r in regions]


def solve_infeasible(
    centers: gpd.GeoDataFrame, garrisons: gpd.GeoDataFrame, **kw: object
) -> es.InfeasibleError:
    with pytest.raises(es.InfeasibleError) as info:
        es.solve_assignment(centers, garrisons, **kw)  # type: ignore[arg-type]
    return info.value


def assert_diagnosis_is_exact(
    err: es.InfeasibleError,
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    *,
    split: bool = True,
    max_distance_m: float | None = None,
    k: int | None = None,
) -> None:
    """Independent Hall check of every region, the shortfall and the partial plan."""
    d = err.diagnosis
    c_ids, demand, g_ids, capacity, dist = dense_distances(centers, garrisons)
    allowed = allowed_mask(dist, max_distance_m=max_distance_m, k=k)
    reach = allowed & (capacity > 0)[None, :]  # empty garrisons cannot help anyone
    coverage = reference_max_coverage(centers, garrisons, max_distance_m=max_distance_m, k=k)
    total = int(demand.sum())
    assert d["total_demand"] == total
    assert d["total_capacity"] == int(capacity.sum())
    assert d["shortfall"] == total - coverage > 0

    lonely = {c_ids[i] for i in np.flatnonzero((demand > 0) & ~reach.any(axis=1))}
    assert set(d["unreachable_centers"]) == lonely
    assert len(d["unreachable_centers"]) == len(lonely)

    seen: set[str] = set()
    seen_g: set[str] = set()
    for region in d["blocking_regions"]:
        rows = c_ids.get_indexer(region["centers"])
        assert (rows >= 0).all()
        assert not (seen & set(region["centers"])), "regions must not share centres"
        assert not (seen_g & set(region["garrisons"])), "regions must not share garrisons"
        seen |= set(region["centers"])
        seen_g |= set(region["garrisons"])
        reachable = set(g_ids[reach[rows].any(axis=0)])
        assert set(region["garrisons"]) == reachable, (
            f"region garrisons {sorted(region['garrisons'])} != N(S) {sorted(reachable)}"
        )
        need = int(demand[rows].sum())
        hold = int(capacity[g_ids.get_indexer(sorted(reachable))].sum())
        assert (region["demand"], region["capacity"]) == (need, hold)
        assert region["deficit"] == need - hold > 0
    assert sum(r["deficit"] for r in d["blocking_regions"]) == d["shortfall"]
    assert lonely <= seen, "unreachable centres belong to a blocking region"

    json.dumps(err.to_dict())
    assert str(err)
    partial = err.partial
    assert partial is not None
    assert partial.split == split
    rows, cols = np.nonzero(allowed)
    pairs = set(zip(c_ids[rows], g_ids[cols], strict=True))
    check_plan(
        partial,
        centers,
        garrisons,
        split=split,
        max_distance_m=max_distance_m,
        allowed_pairs=pairs,
    )
    left = int(partial.uncovered["teams"].sum())
    # A single-sourced partial plan cannot always cover what the split flow covers.
    assert left == d["shortfall"] if split else left >= d["shortfall"]


# --- constructed cases ---------------------------------------------------------------------


def baghdad() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Five Baghdad centres (10 teams) and two garrisons with 20 teams: fine on its own."""
    return (
        cluster("bc", BAGHDAD, [2] * 5, "center_id", "demand"),
        cluster("bg", BAGHDAD, [10, 10], "garrison_id", "capacity"),
    )


@pytest.mark.parametrize("split", [True, False])
def test_isolated_town_is_unreachable(split):
    centers, garrisons = baghdad()
    centers = layers(
        centers, points_frame("center_id", ["rutba"], "demand", [3], [RUTBA[0]], [RUTBA[1]])
    )
    err = solve_infeasible(centers, garrisons, split=split, max_distance_m=50e3)
    d = err.diagnosis
    assert d["unreachable_centers"] == ["rutba"]
    assert d["shortfall"] == 3
    assert core(d["blocking_regions"]) == [
        {"centers": ["rutba"], "garrisons": [], "demand": 3, "capacity": 0, "deficit": 3}
    ]
    assert "rutba" in str(err)
    assert_diagnosis_is_exact(err, centers, garrisons, split=split, max_distance_m=50e3)
    assert err.partial.uncovered[["center_id", "teams"]].values.tolist() == [["rutba", 3]]


def test_short_region_is_blocking():
    centers, garrisons = baghdad()
    centers = layers(centers, cluster("sc", BASRA, [3, 3, 3, 3], "center_id", "demand"))
    garrisons = layers(garrisons, cluster("sg", BASRA, [5], "garrison_id", "capacity"))
    err = solve_infeasible(centers, garrisons, split=True, max_distance_m=60e3)
    d = err.diagnosis
    assert d["unreachable_centers"] == []
    assert core(d["blocking_regions"]) == [
        {
            "centers": ["sc0", "sc1", "sc2", "sc3"],
            "garrisons": ["sg0"],
            "demand": 12,
            "capacity": 5,
            "deficit": 7,
        }
    ]
    assert d["shortfall"] == 7
    assert "cannot reach" in d["reason"]
    assert_diagnosis_is_exact(err, centers, garrisons, max_distance_m=60e3)


def test_two_short_regions_are_reported_separately():
    centers, garrisons = baghdad()
    centers = layers(
        centers,
        cluster("sc", BASRA, [3, 3, 3, 3], "center_id", "demand"),
        cluster("mc", MOSUL, [2, 2, 2], "center_id", "demand"),
    )
    garrisons = layers(
        garrisons,
        cluster("sg", BASRA, [5], "garrison_id", "capacity"),
        cluster("mg", MOSUL, [1, 1], "garrison_id", "capacity"),
    )
    err = solve_infeasible(centers, garrisons, split=True, max_distance_m=60e3)
    regions = err.diagnosis["blocking_regions"]
    assert [sorted(r["centers"]) for r in regions] == [
        ["sc0", "sc1", "sc2", "sc3"],
        ["mc0", "mc1", "mc2"],
    ]
    assert [(r["demand"], r["capacity"], r["deficit"]) for r in regions] == [(12, 5, 7), (6, 2, 4)]
    assert err.diagnosis["shortfall"] == 11
    assert_diagnosis_is_exact(err, centers, garrisons, max_distance_m=60e3)


@pytest.mark.parametrize("split", [True, False])
def test_total_demand_above_capacity_is_the_reason(split):
    centers = cluster("c", BAGHDAD, [3, 3, 3, 3], "center_id", "demand")
    garrisons = cluster("g", BAGHDAD, [4, 5], "garrison_id", "capacity")
    err = solve_infeasible(centers, garrisons, split=split)
    d = err.diagnosis
    assert (d["total_demand"], d["total_capacity"], d["shortfall"]) == (12, 9, 3)
    assert "exceeds total capacity" in d["reason"]
    assert "12" in d["reason"]
    assert "9" in d["reason"]
    assert_diagnosis_is_exact(err, centers, garrisons, split=split)


def test_single_sourcing_partial_plan_is_single_sourced():
    # One centre needs 3 teams; two garrisons hold 1 each. With split=False the partial
    # plan must still serve each centre from at most one garrison.
    centers = points_frame("center_id", ["c0"], "demand", [3], [44.0], [33.0])
    garrisons = points_frame(
        "garrison_id", ["g0", "g1"], "capacity", [1, 1], [44.01, 44.02], [33.0, 33.0]
    )
    err = solve_infeasible(centers, garrisons, split=False)
    partial = err.partial
    assert partial is not None
    rows = partial.assignments.groupby("center_id").size()
    assert (rows <= 1).all(), (
        "LIBRARY BUG: InfeasibleError.partial of a split=False solve serves a centre from "
        f"several garrisons (and labels itself split={partial.split}, "
        f"status={partial.status!r}):\n{partial.assignments}"
    )
    check_plan(partial, centers, garrisons, split=False)


# --- random infeasible instances ------------------------------------------------------------


@st.composite
def infeasible_instances(draw: st.DrawFn) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, dict]:
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(1, 25))
    m = draw(st.integers(1, 6))
    ratio = draw(st.sampled_from([0.5, 0.8, 1.0, 1.2]))
    max_distance_m = draw(st.sampled_from([50e3, 100e3, None]))
    k = draw(st.one_of(st.none(), st.integers(1, m)))
    centers, garrisons = make_instance(np.random.default_rng(seed), n, m, capacity_ratio=ratio)
    return centers, garrisons, {"max_distance_m": max_distance_m, "k": k}


@pytest.mark.parametrize("split", [True, False])
@PROPERTY
@given(instance=infeasible_instances())
def test_random_infeasible_instances_are_diagnosed_exactly(split, instance):
    centers, garrisons, limits = instance
    coverage = reference_max_coverage(centers, garrisons, **limits)
    assume(coverage < int(centers["demand"].sum()))
    err = solve_infeasible(centers, garrisons, split=split, **limits)
    assert_diagnosis_is_exact(err, centers, garrisons, split=split, **limits)


# --- the smallest response limit that would work ----------------------------------------------

LIMIT_KEY = "smallest_feasible_max_distance_m"


def test_smallest_feasible_limit_works_when_passed_back():
    # The only garrison is 1000.3 m away: a limit of 1000 m is not enough.
    centers = points_frame("center_id", ["c0"], "demand", [1], [44.0], [33.0])
    lon, lat = offset(44.0, 33.0, 90.0, 1_000.3)
    garrisons = points_frame("garrison_id", ["g0"], "capacity", [1], [lon], [lat])
    limit = solve_infeasible(centers, garrisons, split=True, max_distance_m=500.0).diagnosis[
        LIMIT_KEY
    ]
    assert limit is not None
    assert limit >= 1_000.3, (
        f"LIBRARY BUG: diagnosis[{LIMIT_KEY!r}] = {limit} is below the 1000.3 m the plan "
        "needs (rounded to whole metres), so passing it back as max_distance_m is still "
        "infeasible"
    )
    plan = es.solve_assignment(centers, garrisons, split=True, max_distance_m=limit)
    check_plan(plan, centers, garrisons, split=True, max_distance_m=limit)


@PROPERTY
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 20),
    m=st.integers(1, 5),
    ratio=st.sampled_from([0.8, 1.0, 1.5, 3.0]),
    max_distance_m=st.sampled_from([30e3, 80e3]),
)
def test_smallest_feasible_limit_is_feasible_and_minimal(seed, n, m, ratio, max_distance_m):
    centers, garrisons = make_instance(np.random.default_rng(seed), n, m, capacity_ratio=ratio)
    total = int(centers["demand"].sum())
    assume(reference_max_coverage(centers, garrisons, max_distance_m=max_distance_m) < total)
    limit = solve_infeasible(centers, garrisons, split=True, max_distance_m=max_distance_m)
    limit = limit.diagnosis[LIMIT_KEY]
    if int(garrisons["capacity"].sum()) < total:
        assert limit is None
        return
    assert limit is not None
    assert reference_max_coverage(centers, garrisons, max_distance_m=limit) == total, (
        f"no plan exists within the reported {LIMIT_KEY}={limit}"
    )
    assert reference_max_coverage(centers, garrisons, max_distance_m=limit - 1) < total, (
        f"{LIMIT_KEY}={limit} is not the smallest limit (to the metre)"
    )
