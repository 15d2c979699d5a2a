"""An independent plan checker (DESIGN.md §6): it trusts nothing the library computed.

Only pandas, numpy, pyproj and the plan's public tables are used; every figure the plan
reports (loads, distances, objective, gap, geometry, JSON) is recomputed from the input
layers and compared.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from helpers import geodesic_m, layer_arrays

__all__ = ["check_plan"]


def check_plan(  # noqa: PLR0915 - one readable list of every invariant
    plan: Any,
    centers_gdf: gpd.GeoDataFrame,
    garrisons_gdf: gpd.GeoDataFrame,
    *,
    split: bool,
    max_distance_m: float | None = None,
    allowed_pairs: Iterable[tuple[str, str]] | None = None,
) -> None:
    """Assert every invariant of ``plan`` against the input layers.

    Parameters
    ----------
    plan
        An ``AssignmentResult`` (a full plan, or ``InfeasibleError.partial``).
    centers_gdf, garrisons_gdf
        The layers the plan was solved for (raw with id columns, or reader output).
    split
        Whether the plan may serve a centre from several garrisons.
    max_distance_m
        When given, no used arc may be longer.
    allowed_pairs
        When given, the only (center_id, garrison_id) pairs that may be used.
    """
    c_ids, demand, c_lon, c_lat = layer_arrays(centers_gdf, "center_id", "demand")
    g_ids, capacity, g_lon, g_lat = layer_arrays(garrisons_gdf, "garrison_id", "capacity")
    a = plan.assignments
    u = plan.uncovered

    # --- tables are well formed -------------------------------------------------------
    assert list(a.columns[:3]) == ["center_id", "garrison_id", "teams"], list(a.columns)
    assert "distance_m" in a.columns, "geodesic plans report distance_m"
    assert set(a["center_id"].astype(str)) <= set(c_ids), "assignment to an unknown centre"
    assert set(a["garrison_id"].astype(str)) <= set(g_ids), "assignment from unknown garrison"
    assert (a["teams"] > 0).all(), "rows with zero teams must not be listed"
    assert not a.duplicated(["center_id", "garrison_id"]).any(), "duplicate (centre, garrison)"
    assert pd.api.types.is_integer_dtype(a["teams"]), a["teams"].dtype

    # --- coverage: assigned + uncovered == demand, per centre -------------------------
    assigned = a.groupby(a["center_id"].astype(str))["teams"].sum()
    assert not u["center_id"].duplicated().any(), "a centre listed twice as uncovered"
    assert (u["teams"] > 0).all(), "uncovered rows must miss at least one team"
    missing = u.set_index(u["center_id"].astype(str))["teams"]
    need = pd.Series(demand, index=c_ids)
    got = assigned.reindex(c_ids, fill_value=0) + missing.reindex(c_ids, fill_value=0)
    bad = need[got != need]
    assert bad.empty, (
        f"assigned + uncovered != demand for {list(bad.index[:10])}: "
        f"demand {bad.to_list()[:10]}, got {got[bad.index].to_list()[:10]}"
    )
    zero = set(need.index[need == 0])
    assert not (zero & set(assigned.index)), "a centre with demand 0 got teams"

    # --- single-sourcing ----------------------------------------------------------------
    if not split:
        rows = a.groupby("center_id").size()
        assert (rows == 1).all(), (
            f"centres served by several garrisons: {list(rows[rows > 1].index)}"
        )
        partly = set(assigned.index) & set(missing.index)
        assert not partly, f"single-sourced centres partly covered: {sorted(partly)}"

    # --- garrison loads -----------------------------------------------------------------
    load = a.groupby(a["garrison_id"].astype(str))["teams"].sum().reindex(g_ids, fill_value=0)
    cap = pd.Series(capacity, index=g_ids)
    over = load[load > cap]
    assert over.empty, f"capacity exceeded at {dict(over)} (capacity {dict(cap[over.index])})"
    gl = plan.garrison_load.set_index(plan.garrison_load["garrison_id"].astype(str))
    assert sorted(gl.index) == sorted(g_ids), "garrison_load must list every garrison once"
    np.testing.assert_array_equal(gl.loc[g_ids, "used"].to_numpy(), load.to_numpy())
    np.testing.assert_array_equal(gl.loc[g_ids, "capacity"].to_numpy(), capacity)

    # --- distances are true WGS84 geodesics ----------------------------------------------
    ci = c_ids.get_indexer(a["center_id"].astype(str))
    gi = g_ids.get_indexer(a["garrison_id"].astype(str))
    true = geodesic_m(g_lon[gi], g_lat[gi], c_lon[ci], c_lat[ci])
    np.testing.assert_allclose(
        a["distance_m"].to_numpy(float),
        true,
        rtol=1e-9,
        atol=1e-6,
        err_msg="distance_m is not the WGS84 geodesic",
    )

    # --- allowed arcs ----------------------------------------------------------------------
    if max_distance_m is not None:
        far = a[true > max_distance_m + 1e-6]
        assert far.empty, f"arcs longer than max_distance_m={max_distance_m}:\n{far}"
    if allowed_pairs is not None:
        allowed = {(str(c), str(g)) for c, g in allowed_pairs}
        used = set(zip(a["center_id"].astype(str), a["garrison_id"].astype(str), strict=True))
        assert used <= allowed, f"arcs outside the allowed pairs: {sorted(used - allowed)[:10]}"

    # --- objective, bound, gap -----------------------------------------------------------
    objective = int((a["teams"].to_numpy(np.int64) * np.rint(true).astype(np.int64)).sum())
    assert plan.objective == objective, (
        f"objective {plan.objective} != Σ teams × round(distance_m) = {objective}"
    )
    assert plan.bound <= plan.objective + 1e-9, (plan.bound, plan.objective)
    assert plan.status in {"optimal", "feasible"}, plan.status
    expected_gap = (plan.objective - plan.bound) / plan.objective if plan.objective else 0.0
    assert math.isclose(plan.gap, expected_gap, rel_tol=0, abs_tol=1e-12), (
        f"gap {plan.gap} != (objective - bound) / objective = {expected_gap}"
    )
    assert plan.gap >= 0
    if plan.status == "optimal":
        assert plan.gap == 0, f"status 'optimal' with gap {plan.gap}"

    _check_geodataframe(plan, c_ids, c_lon, c_lat, g_ids, g_lon, g_lat)
    _check_dict(plan)


def _check_geodataframe(
    plan: Any,
    c_ids: pd.Index,
    c_lon: np.ndarray,
    c_lat: np.ndarray,
    g_ids: pd.Index,
    g_lon: np.ndarray,
    g_lat: np.ndarray,
) -> None:
    a = plan.assignments
    gdf = plan.to_geodataframe()
    assert isinstance(gdf, gpd.GeoDataFrame)
    assert gdf.crs is not None
    assert gdf.crs.equals(pyproj.CRS("EPSG:4326")), gdf.crs
    assert len(gdf) == len(a), "one LineString per assignment"
    pd.testing.assert_frame_equal(pd.DataFrame(gdf[list(a.columns)]), a)
    extra = set(gdf.columns) - set(a.columns) - {gdf.geometry.name}
    assert all(c.startswith(("center_", "garrison_")) for c in extra), extra
    if not len(gdf):
        return
    assert (gdf.geom_type == "LineString").all(), set(gdf.geom_type)
    start = shapely.get_point(gdf.geometry.to_numpy(), 0)
    end = shapely.get_point(gdf.geometry.to_numpy(), -1)
    gi = g_ids.get_indexer(a["garrison_id"].astype(str))
    ci = c_ids.get_indexer(a["center_id"].astype(str))
    np.testing.assert_allclose(
        shapely.get_coordinates(start),
        np.c_[g_lon[gi], g_lat[gi]],
        atol=1e-9,
        err_msg="lines must start at the garrison",
    )
    np.testing.assert_allclose(
        shapely.get_coordinates(end),
        np.c_[c_lon[ci], c_lat[ci]],
        atol=1e-9,
        err_msg="lines must end at the centre",
    )


def _check_dict(plan: Any) -> None:
    data = json.loads(json.dumps(plan.to_dict(), allow_nan=False))
    a = plan.assignments
    assert data["status"] == plan.status
    assert data["coverage_status"] == plan.coverage_status
    if len(plan.uncovered):
        assert plan.coverage_status in ("partial", "infeasible"), "uncovered, yet 'complete'"
    assert data["objective"] == plan.objective
    assert data["bound"] == plan.bound
    assert data["split"] == plan.split
    assert len(data["assignments"]) == len(a)
    assert sum(r["teams"] for r in data["assignments"]) == int(a["teams"].sum())
    assert len(data["uncovered"]) == len(plan.uncovered)
    assert sum(r["teams"] for r in data["uncovered"]) == int(plan.uncovered["teams"].sum())
    assert len(data["garrison_load"]) == len(plan.garrison_load)
    assert sum(r["used"] for r in data["garrison_load"]) == int(plan.garrison_load["used"].sum())
    pairs = [(r["center_id"], r["garrison_id"], r["teams"]) for r in data["assignments"]]
    assert pairs == list(
        zip(
            a["center_id"].astype(str),
            a["garrison_id"].astype(str),
            a["teams"].astype(int),
            strict=True,
        )
    )
