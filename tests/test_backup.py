"""Reserves and backup coverage, checked independently and against an exact joint model.

The checker below recomputes everything from the input layers with pyproj: each covered
centre has one backup, never one of its own primary garrisons, within the backup limit,
no garrison backs up more than ``reserve × centers_per_team`` centres, and primaries use
at most ``capacity - reserve``. Small random instances are compared with scipy ``milp``
on the joint model (primaries and backups chosen together).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

import electsec as es
from checker import check_plan
from helpers import dense_distances, geodesic_m, layer_arrays, make_instance, offset, points_frame

PROPERTY = settings(max_examples=30, deadline=None, derandomize=True, database=None)
BAGHDAD = (44.366, 33.315)


def check_backups(
    plan: es.AssignmentResult,
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    *,
    limit_m: float,
    per_team: int,
) -> None:
    """Assert every backup invariant from the raw layers."""
    c_ids, _, c_lon, c_lat = layer_arrays(centers, "center_id", "demand")
    g_ids, capacity, g_lon, g_lat = layer_arrays(garrisons, "garrison_id", "capacity")
    reserve = garrisons.set_index("garrison_id")["reserve"].reindex(g_ids).to_numpy(np.int64)
    a, b = plan.assignments, plan.backups
    assert b is not None
    covered = set(a["center_id"])
    assert set(b["center_id"]) == covered, "every covered centre has one backup, no other"
    assert not b["center_id"].duplicated().any()
    primaries = set(zip(a["center_id"], a["garrison_id"], strict=True))
    clash = [p for p in zip(b["center_id"], b["garrison_id"], strict=True) if p in primaries]
    assert not clash, f"backup is a primary garrison: {clash}"
    ci = c_ids.get_indexer(b["center_id"])
    gi = g_ids.get_indexer(b["garrison_id"])
    true = geodesic_m(g_lon[gi], g_lat[gi], c_lon[ci], c_lat[ci])
    np.testing.assert_allclose(b["distance_m"].to_numpy(float), true, rtol=1e-9, atol=1e-6)
    assert (true <= limit_m + 1e-6).all(), "backup beyond its limit"
    backed = pd.Series(gi).value_counts().reindex(range(len(g_ids)), fill_value=0).to_numpy()
    assert (backed <= reserve * per_team).all(), "reserve over-committed"
    used = a.groupby("garrison_id")["teams"].sum().reindex(g_ids, fill_value=0).to_numpy()
    assert (used <= capacity - reserve).all(), "primaries used held-back reserve teams"
    load = plan.garrison_load.set_index("garrison_id").loc[g_ids]
    np.testing.assert_array_equal(load["backup_centers"].to_numpy(), backed)
    np.testing.assert_array_equal(load["reserve"].to_numpy(), reserve)


def joint_reference(
    centers: gpd.GeoDataFrame, garrisons: gpd.GeoDataFrame, *, limit_m: float, per_team: int
) -> int | None:
    """Least primary cost (single-sourcing) with a distinct backup for every centre."""
    c_ids, demand, g_ids, capacity, dist = dense_distances(centers, garrisons)
    reserve = garrisons.set_index("garrison_id")["reserve"].reindex(g_ids).to_numpy(np.int64)
    n, m = dist.shape
    need = demand > 0
    cost = np.rint(dist).astype(np.int64)
    # Variables: x (n*m primaries) then y (n*m backups).
    c = np.concatenate([(demand[:, None] * cost).ravel(), np.zeros(n * m)])
    eye_c = sp.kron(sp.eye(n), np.ones((1, m)))
    by_g = sp.kron(np.ones((1, n)), sp.eye(m))
    weighted = by_g @ sp.diags(np.repeat(demand, m).astype(float))
    zero = sp.csr_array((n, n * m))
    zero_g = sp.csr_array((m, n * m))
    y_ok = ((dist <= limit_m) & (reserve[None, :] > 0)).ravel()
    constraints = [
        LinearConstraint(sp.hstack([eye_c, zero]), need, need),
        LinearConstraint(sp.hstack([zero, eye_c]), need, need),
        LinearConstraint(sp.hstack([weighted, zero_g]), -np.inf, capacity - reserve),
        LinearConstraint(sp.hstack([zero_g, by_g]), -np.inf, reserve * per_team),
        LinearConstraint(sp.hstack([sp.eye(n * m), sp.eye(n * m)]), -np.inf, 1),
    ]
    upper = np.concatenate([np.repeat(need, m), y_ok & np.repeat(need, m)]).astype(float)
    res = milp(c, constraints=constraints, integrality=np.ones(2 * n * m), bounds=Bounds(0, upper))
    if res.status == 2:
        return None
    assert res.status == 0, res.message
    assert len(c_ids) == n
    return round(res.fun)


def with_reserve(garrisons: gpd.GeoDataFrame, rng: np.random.Generator) -> gpd.GeoDataFrame:
    out = garrisons.copy()
    out["reserve"] = rng.integers(0, out["capacity"].to_numpy() + 1)
    return out


@PROPERTY
@given(seed=st.integers(0, 10_000), n=st.integers(1, 7), m=st.integers(2, 5))
def test_backups_match_exact_joint_model(seed: int, n: int, m: int) -> None:
    rng = np.random.default_rng(seed)
    centers, garrisons = make_instance(rng, n, m, demand_max=2, capacity_ratio=2.5)
    garrisons = with_reserve(garrisons, rng)
    limit_m = float(rng.choice([80_000.0, 200_000.0, 500_000.0]))
    per_team = int(rng.integers(1, 3))
    option = es.Backup(max_distance_m=limit_m, centers_per_team=per_team)
    best = joint_reference(centers, garrisons, limit_m=limit_m, per_team=per_team)
    try:
        plan = es.solve_assignment(centers, garrisons, backup=option)
    except es.InfeasibleError as exc:
        if exc.diagnosis.get("kind") == "backup":
            assert best is None, f"electsec found no backups, the exact model did ({best})"
            return
        assert best is None  # the primaries alone are infeasible
        return
    except es.SolverError:
        assert best is None  # whole teams do not pack, backups or not
        return
    assert best is not None, "electsec claims a plan the exact model says cannot exist"
    check_plan(plan, centers, garrisons, split=False)
    check_backups(plan, centers, garrisons, limit_m=limit_m, per_team=per_team)
    if plan.status == "optimal":
        assert plan.objective == best
    assert plan.objective >= best


def two_garrisons_one_centre() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The near garrison is the only reserve in reach, so it cannot also be the primary."""
    c = offset(*BAGHDAD, 0.0, 1_000.0)
    near, far = offset(*BAGHDAD, 90.0, 2_000.0), offset(*BAGHDAD, 270.0, 30_000.0)
    centers = points_frame("center_id", ["c0"], "demand", [2], [c[0]], [c[1]])
    garrisons = points_frame(
        "garrison_id", ["near", "far"], "capacity", [3, 3], [near[0], far[0]], [near[1], far[1]]
    )
    garrisons["reserve"] = [1, 0]
    return centers, garrisons


def test_primary_moves_when_the_only_backup_is_the_nearest_garrison() -> None:
    centers, garrisons = two_garrisons_one_centre()
    plan = es.solve_assignment(centers, garrisons, backup={"max_distance_m": 10_000})
    assert plan.assignments["garrison_id"].tolist() == ["far"]
    assert plan.backups["garrison_id"].tolist() == ["near"]
    check_backups(plan, centers, garrisons, limit_m=10_000, per_team=1)
    assert plan.objective == joint_reference(centers, garrisons, limit_m=10_000, per_team=1)
    assert plan.to_dict()["backups"][0]["garrison_id"] == "near"


def test_split_plans_get_backups_too() -> None:
    centers, garrisons = two_garrisons_one_centre()
    plan = es.solve_assignment(centers, garrisons, split=True, backup=es.Backup(10_000))
    assert "near" not in set(plan.assignments["garrison_id"])
    check_backups(plan, centers, garrisons, limit_m=10_000, per_team=1)


def test_reserve_is_held_back_even_without_backups() -> None:
    centers, garrisons = two_garrisons_one_centre()
    garrisons["reserve"] = [2, 0]  # near keeps 2 of 3: one team left, the centre needs 2
    plan = es.solve_assignment(centers, garrisons)
    assert plan.assignments["garrison_id"].tolist() == ["far"]
    assert plan.garrison_load.set_index("garrison_id").loc["near", "reserve"] == 2


def test_no_reserve_in_reach_is_diagnosed_with_a_hall_set() -> None:
    rng = np.random.default_rng(3)
    centers, garrisons = make_instance(rng, 12, 6, demand_min=1, demand_max=1, capacity_ratio=3)
    garrisons["reserve"] = 0
    garrisons.loc[0, "reserve"] = 1  # one reserve team for twelve centres
    with pytest.raises(es.InfeasibleError) as info:
        es.solve_assignment(centers, garrisons, backup=es.Backup(max_distance_m=1e7))
    d = info.value.diagnosis
    assert d["kind"] == "backup"
    assert d["total_capacity"] == 1
    assert d["shortfall"] == len(d["centers_without_backup"]) >= 11
    region = d["blocking_regions"][0]
    assert region["demand"] - region["capacity"] == region["deficit"] > 0
    assert region["garrisons"] == ["g0"]
    partial = info.value.partial
    assert partial is not None
    assert len(partial.backups) == 1


def test_coverage_max_keeps_the_plan_and_lists_backups_found() -> None:
    centers, garrisons = two_garrisons_one_centre()
    garrisons["reserve"] = [0, 0]
    plan = es.solve_assignment(
        centers, garrisons, backup=es.Backup(max_distance_m=10_000), coverage="max"
    )
    assert plan.backups.empty
    assert len(plan.assignments) == 1


def test_backup_arguments_are_checked() -> None:
    centers, garrisons = two_garrisons_one_centre()
    with pytest.raises(es.InputError, match="backup response limit"):
        es.solve_assignment(centers, garrisons, backup=es.Backup())
    with pytest.raises(es.InputError, match="centers_per_team"):
        es.solve_assignment(centers, garrisons, backup=es.Backup(1_000, centers_per_team=0))
    with pytest.raises(es.InputError, match="unknown field"):
        es.solve_assignment(centers, garrisons, backup={"max_km": 3})
    garrisons["reserve"] = [5, 0]
    with pytest.raises(es.InputError, match="near") as info:
        es.solve_assignment(centers, garrisons)
    assert "reserve must not exceed capacity" in str(info.value)


@pytest.mark.slow
def test_readme_agencies_and_backups_example() -> None:
    """The README's example, verbatim in substance, on the full sample."""
    centers = es.read_polling_centers("data/sample/centers.geojson")
    garrisons = es.read_garrisons("data/sample/garrisons.geojson")
    kurdistan = centers["governorate"].isin(["Erbil", "Duhok", "Al-Sulaymaniyah"])
    centers["demand_police"] = (centers["demand"] > 0).astype(int)
    rest = centers["demand"] - centers["demand_police"]
    centers["demand_peshmerga"] = rest.where(kurdistan, 0)
    centers["demand_army"] = rest.where(~kurdistan & (centers["tier"] != "low"), 0)
    centers["demand_federal_police"] = rest.where(~kurdistan & (centers["tier"] == "low"), 0)
    garrisons["reserve"] = (garrisons["capacity"] // 10).where(garrisons["agency"] != "police", 0)
    plan = es.solve_assignment(
        centers,
        garrisons,
        split=True,
        jurisdiction={"peshmerga": ["Erbil", "Duhok", "Al-Sulaymaniyah"]},
        backup=es.Backup(max_distance_m=150_000, centers_per_team=10),
    )
    check_backups(
        plan, centers.reset_index(), garrisons.reset_index(), limit_m=150_000, per_team=10
    )
    a = plan.assignments
    agency_of = garrisons["agency"]
    assert (agency_of.loc[a["garrison_id"]].to_numpy() == a["agency"].to_numpy()).all()
    pesh = a[a["agency"] == "peshmerga"]
    assert len(pesh)
    assert kurdistan.loc[pesh["center_id"]].all(), "peshmerga outside their jurisdiction"
    assert plan.bound <= plan.objective
