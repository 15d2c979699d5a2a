"""Scenario edits that add centres or close roads: the instance prepared again.

An :class:`~electsec.problem.Instance` keeps no layers, but its labels hold everything
``es.prepare`` read from them: ids, lon/lat, teams per demand row (per agency), tiers,
governorates, capacities and reserves, and its parameters hold the options. The layers
are rebuilt from those, the new centres (read and validated like any centres) are
appended, and the union is prepared again with the same options — so an added centre is
priced and limited exactly as if it had been in the layer from the start.

Geodesic instances price the new centres themselves. An instance on a given cost matrix
keeps that matrix's pairs (its cost lookup) for the old centres; the new rows come from
``added_costs`` (a :class:`~electsec.costs.CostMatrix` of the new centres × every
garrison) or, for road costs, from a road ``network``. Closing roads re-prices the
pairs of a road-cost instance whose routes the closure can change
(:mod:`electsec.closures`) and prepares the instance again on that matrix.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from electsec.costs import CostMatrix, arcs_to_csr
from electsec.errors import InputError, Issue
from electsec.io import Source, read_polling_centers
from electsec.preparation import matrix_arcs, prepare
from electsec.problem import Instance, PairCosts
from electsec.reach import RoadReach

__all__ = ["layers_of", "with_centers", "with_roads_closed"]

_OPTION = "centers_added"


def with_centers(
    base: Instance, added: Source, costs: CostMatrix | None = None, network: Any = None
) -> Instance:
    """Return ``base`` prepared again with the centres of ``added`` appended.

    Raises
    ------
    InputError
        Bad new centres (as the reader names them), ids already among the centres,
        columns unlike the prepared centres', or a given-cost instance without
        ``costs``/``network`` for the new rows.
    """
    new = _read(added)
    centers, garrisons = layers_of(base)
    issues = _issues(base, new, centers)
    if issues:
        raise InputError(issues)
    new = _agency_columns(new, base).reset_index()
    for frame, other in ((centers, new), (new, centers)):  # an agency one side lacks: none
        for column in other.columns:
            if str(column).startswith("demand_") and column not in frame.columns:
                frame[column] = np.zeros(len(frame), dtype=np.int64)
    union = pd.concat([centers, new], ignore_index=True)
    union = gpd.GeoDataFrame(union, geometry="geometry", crs="EPSG:4326")
    matrix = None
    if base.parameters.get("costs") == "given":
        matrix = _union_costs(base, union, garrisons, len(centers), costs, network)
    elif costs is not None:
        message = "the instance prices geodesics itself; drop added_costs"
        raise InputError([Issue("arguments", "added_costs", (), message)])
    return _prepared(base, union, garrisons, matrix)


def _prepared(
    base: Instance,
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    costs: CostMatrix | None,
) -> Instance:
    """Prepare layers with the options ``base`` was prepared with."""
    params = base.parameters
    return prepare(
        centers,
        garrisons,
        costs,
        max_distance_m=params.get("max_distance_m"),
        max_time_s=params.get("max_time_s"),
        k=params.get("k"),
        jurisdiction=params.get("jurisdiction"),
        options=base.options,
    )


def with_roads_closed(base: Instance, closed: Any, network: Any) -> tuple[Instance, Any]:
    """Return ``base`` prepared again with roads closed, and the closed network.

    Raises
    ------
    InputError
        No ``network``, an instance whose costs did not come from a road network, bad
        edge ids, or a polygon that meets no road.
    """
    issues = []
    if network is None:
        message = (
            "needs the road network the costs were built on: "
            "scenario.apply(base, network=...) or run_scenarios(..., network=...)"
        )
        issues.append(Issue("arguments", "roads_closed", (), message))
    if base.road is None or not isinstance(base.cost, PairCosts):
        message = (
            "needs an instance on road costs (costs=distance_matrix(..., "
            "metric='travel_time' or 'road_distance', network=...))"
        )
        issues.append(Issue("arguments", "roads_closed", (), message))
    if base.backup is not None:
        message = "cannot be used on an instance prepared with backup=; re-run es.prepare"
        issues.append(Issue("arguments", "roads_closed", (), message))
    if issues:
        raise InputError(issues)
    from electsec.closures import closed_edges, reprice_closed  # noqa: PLC0415 - road stack
    from electsec.network import RoadNetwork  # noqa: PLC0415

    net = RoadNetwork.build(network)
    edges = closed_edges(closed, net)
    centers, garrisons = layers_of(base)
    c_index, g_index = centers.set_index("center_id"), garrisons.set_index("garrison_id")
    metric = _road_metric(base)
    cutoff = None
    if base.limits is not None and len(base.limits) and np.isfinite(base.limits).all():
        cutoff = float(base.limits.max())
    matrix, closed = reprice_closed(c_index, g_index, net, edges, _pairs(base), metric, cutoff)
    return _prepared(base, centers, garrisons, matrix), closed


def _road_metric(base: Instance) -> Literal["travel_time", "road_distance"]:
    return "travel_time" if base.unit == "s" else "road_distance"


def _pairs(base: Instance) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the (centre, garrison, cost) pairs of a given-cost instance's lookup."""
    table = base.cost
    if not isinstance(table, PairCosts):
        message = "the instance keeps no cost matrix to extend; re-run es.prepare"
        raise InputError([Issue("arguments", _OPTION, (), message)])
    row, garrison, cost = table.pairs()
    return base.labels.forces.row_center[row], garrison, cost


def _read(added: Source) -> gpd.GeoDataFrame:
    try:
        return read_polling_centers(added)
    except InputError as exc:
        raise InputError(
            [dataclasses.replace(i, table=f"{_OPTION}: {i.table}") for i in exc.issues]
        ) from None


def _issues(base: Instance, new: gpd.GeoDataFrame, centers: pd.DataFrame) -> list[Issue]:
    """Duplicate ids, and columns that would change how the centres are read."""
    issues = []
    if base.backup is not None:
        message = "cannot be used on an instance prepared with backup=; re-run es.prepare"
        issues.append(Issue("arguments", _OPTION, (), message))
    twice = new.index.intersection(pd.Index(base.labels.center_ids.astype(str)))
    if len(twice):
        message = "ids already among the prepared centres; give the new centres new ids"
        issues.append(Issue(_OPTION, "center_id", tuple(map(str, twice)), message))
    uses_agencies = base.labels.forces.row_agency is not None
    new_agencies = "agency" in new.columns or any(str(c).startswith("demand_") for c in new)
    needed = {"tier": base.labels.tier is not None, "governorate": "governorate" in centers}
    for name, limit in base.parameters.items():
        if name in ("max_distance_m", "max_time_s") and isinstance(limit, str):
            needed[limit] = True
    for column, wanted in needed.items():
        if wanted != (column in new.columns):
            have = "have" if wanted else "do not have"
            message = f"the prepared centres {have} a {column!r} column; the new ones must match"
            issues.append(Issue(_OPTION, column, (), message))
    if uses_agencies != new_agencies:
        message = (
            "the new centres must say which agencies they need exactly when the prepared "
            "ones do (an 'agency' or demand_<agency> columns)"
        )
        issues.append(Issue(_OPTION, "agency", (), message))
    return issues


def layers_of(base: Instance) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Rebuild the centre and garrison layers ``base`` was prepared from, from its labels.

    Centres that need teams of several agencies get ``demand_<agency>`` columns (which
    ``es.prepare`` reads to the same demand rows whichever form the layer had).
    """
    labels, forces = base.labels, base.labels.forces
    n = len(labels.center_ids)
    centers: dict[str, Any] = {
        "center_id": labels.center_ids.astype(str),
        "demand": np.bincount(forces.row_center, weights=forces.demand, minlength=n).astype(
            np.int64
        ),
    }
    if forces.row_agency is not None:
        for agency in forces.agencies:
            mine = forces.row_agency == agency
            teams = np.bincount(forces.row_center[mine], forces.demand[mine], minlength=n)
            centers[f"demand_{agency}"] = teams.astype(np.int64)
    centers.update({k: v for k, v in labels.center_attributes.items() if k != "agency"})
    if labels.governorate is not None:
        centers["governorate"] = labels.governorate
    if labels.tier is not None:
        centers["tier"] = labels.tier
    for name in ("max_distance_m", "max_time_s"):
        column = base.parameters.get(name)
        if isinstance(column, str) and base.limits is not None:
            limit = np.full(n, np.nan)
            limit[forces.row_center] = base.limits
            centers[column] = limit
    garrisons = _garrisons(base)
    return _points(centers, labels.center_lonlat), _points(garrisons, labels.garrison_lonlat)


def _garrisons(base: Instance) -> dict[str, Any]:
    labels, forces = base.labels, base.labels.forces
    garrisons: dict[str, Any] = {
        "garrison_id": labels.garrison_ids.astype(str),
        "capacity": labels.capacity,
        **labels.garrison_attributes,
    }
    if forces.garrison_agency is not None:
        garrisons["agency"] = forces.garrison_agency
    if forces.reserve.any():
        garrisons["reserve"] = forces.reserve
    return garrisons


def _points(columns: dict[str, Any], lonlat: np.ndarray) -> gpd.GeoDataFrame:
    geometry = gpd.points_from_xy(lonlat[:, 0], lonlat[:, 1], crs="EPSG:4326")
    return gpd.GeoDataFrame(columns, geometry=geometry, crs="EPSG:4326")


def _agency_columns(new: gpd.GeoDataFrame, base: Instance) -> gpd.GeoDataFrame:
    """Give new centres with one ``agency`` column the ``demand_<agency>`` columns."""
    forces = base.labels.forces
    if forces.row_agency is None or any(str(c).startswith("demand_") for c in new.columns):
        return new
    new = new.copy()
    named = new["agency"].astype(str).str.strip()
    for agency in forces.agencies:
        new[f"demand_{agency}"] = np.where(named == agency, new["demand"], 0).astype(np.int64)
    return new.drop(columns="agency")


def _union_costs(
    base: Instance,
    union: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    n_old: int,
    costs: CostMatrix | None,
    network: Any,
) -> CostMatrix:
    """Join the given matrix's pairs of the old centres and the new centres' costs."""
    new = union.iloc[n_old:].set_index("center_id")
    old_garrisons = garrisons.set_index("garrison_id")
    if costs is None and network is not None:
        from electsec.network import network_costs  # noqa: PLC0415 - road stack on demand

        costs = network_costs(new, old_garrisons, network, metric=_road_metric(base))
    if not isinstance(costs, CostMatrix) or costs.unit != base.unit:
        message = (
            f"the instance was prepared on a given cost matrix ({base.unit!r}): give "
            "added_costs=es.distance_matrix(new_centers, garrisons, ...) for the new "
            "centres × every garrison, in the same unit (or network= for road costs)"
        )
        raise InputError([Issue("arguments", "added_costs", (), message)])
    i, g, value = matrix_arcs(new, old_garrisons, costs)
    center, garrison, old_value = _pairs(base)
    matrix = arcs_to_csr(
        np.concatenate([center, i + n_old]),
        np.concatenate([garrison, g]),
        np.concatenate([old_value, value]),
        shape=(len(union), len(garrisons)),
    )
    ids = pd.Index(union["center_id"].astype(str))
    road = _road(base.road, costs.road)
    warnings = tuple(dict.fromkeys(base.warnings + costs.warnings))
    return CostMatrix(
        matrix, ids, old_garrisons.index, base.unit, "given", road=road, warnings=warnings
    )


def _road(old: RoadReach | None, new: RoadReach | None) -> RoadReach | None:
    """Both centres' road facts, one after the other (None unless both have them)."""
    if old is None or new is None:
        return None
    joined: dict[str, Any] = {"max_snap_m": old.max_snap_m}
    for field in dataclasses.fields(RoadReach):
        a, b = getattr(old, field.name), getattr(new, field.name)
        if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
            joined[field.name] = np.concatenate([a, b])
        elif field.name != "max_snap_m":
            joined[field.name] = None
    return RoadReach(**joined)
