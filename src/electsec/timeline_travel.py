"""Travel times of (garrison, centre) pairs for the movement timeline.

Four sources, one answer per pair, vectorised: the plan's own travel-time costs, a given
:class:`~electsec.costs.CostMatrix`, the fastest route over a road network (the very
graph :func:`electsec.distance_matrix` prices, one Dijkstra per garrison used), or the
WGS84 geodesic at a stated speed. :func:`pair_back_s` gives the way back (the road route
from the centre on a network, else the way out).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from electsec.costs import CostMatrix
from electsec.errors import InputError, Issue

__all__ = ["Travel", "geodesic_m", "pair_back_s", "pair_travel"]

logger = logging.getLogger(__name__)

_GEOD = pyproj.Geod(ellps="WGS84")
_SHOWN = 5


@dataclass(frozen=True)
class Travel:
    """Where travel times come from (one of ``costs``, ``network``, ``speed_kmh`` or the plan).

    Attributes
    ----------
    source
        ``"costs"`` (the plan's time costs or ``costs=``), ``"network"`` or ``"geodesic"``.
    costs
        The given matrix, or None (the plan's own costs when ``source == "costs"``).
    network
        The built :class:`~electsec.network.RoadNetwork`, or None.
    speed_kmh
        The speed over the geodesic (or over a metre ``costs=`` matrix), or None.
    """

    source: str
    costs: CostMatrix | None = None
    network: Any = None
    speed_kmh: float | None = None


def pair_travel(
    travel: Travel,
    table: pd.DataFrame,
    cost_column: str,
    points: tuple[gpd.GeoSeries, gpd.GeoSeries],
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(travel_s, distance_m)`` for each row (``center_id``, ``garrison_id``).

    Parameters
    ----------
    travel
        The source of travel times.
    table
        Rows with ``center_id``, ``garrison_id`` and the plan's ``cost_column``.
    cost_column
        ``"time_s"`` or ``"distance_m"``: the plan's cost of each row.
    points
        The plan's centre and garrison points (EPSG:4326, indexed by id).

    Returns
    -------
    tuple of numpy.ndarray
        Travel seconds, and metres (the plan's when it is in metres, else geodesic).

    Raises
    ------
    InputError
        Pairs the given matrix does not hold, or that no road route joins.
    """
    c_lonlat = _lonlat(points[0], table["center_id"])
    g_lonlat = _lonlat(points[1], table["garrison_id"])
    plan_cost = table[cost_column].to_numpy(dtype=float)
    metres = cost_column == "distance_m"
    distance_m = plan_cost if metres else geodesic_m(g_lonlat, c_lonlat)
    if travel.source == "geodesic":
        assert travel.speed_kmh is not None  # noqa: S101
        return geodesic_m(g_lonlat, c_lonlat) / (travel.speed_kmh / 3.6), distance_m
    if travel.source == "network":
        seconds = _network_s(travel.network, c_lonlat, g_lonlat)
        _refuse_missing(table, ~np.isfinite(seconds), "no road route joins these pairs")
        return seconds, distance_m
    if travel.costs is None:
        return plan_cost, distance_m
    return _matrix_s(travel, table), distance_m


def pair_back_s(
    travel: Travel,
    table: pd.DataFrame,
    points: tuple[gpd.GeoSeries, gpd.GeoSeries],
    travel_s: np.ndarray,
) -> np.ndarray:
    """Return the seconds from each row's centre back to its garrison.

    On a road ``network`` the fastest route that way (one-way streets differ); with the
    other sources, which price garrison → centre only, ``travel_s`` (the way out). A
    centre no road leads back from keeps the way out, with a warning naming it.
    """
    if travel.source != "network" or not len(table):
        return travel_s
    c_lonlat = _lonlat(points[0], table["center_id"])
    g_lonlat = _lonlat(points[1], table["garrison_id"])
    back = _network_s(travel.network, c_lonlat, g_lonlat, back=True)
    stuck = ~np.isfinite(back)
    if stuck.any():
        rows = table[["center_id", "garrison_id"]].to_numpy()[stuck]
        pairs = ", ".join(f"{c} -> {g}" for c, g in rows)
        logger.warning("no road route back for %s: their return takes the way out", pairs)
    return np.where(stuck, travel_s, back)


def geodesic_m(a_lonlat: np.ndarray, b_lonlat: np.ndarray) -> np.ndarray:
    """WGS84 geodesic distance in metres between aligned lon/lat rows."""
    if not len(a_lonlat):
        return np.zeros(0)
    _, _, dist = _GEOD.inv(a_lonlat[:, 0], a_lonlat[:, 1], b_lonlat[:, 0], b_lonlat[:, 1])
    return np.asarray(dist, dtype=float)


def _lonlat(points: gpd.GeoSeries, ids: pd.Series) -> np.ndarray:
    pos = points.index.get_indexer(ids.to_numpy())
    coords: np.ndarray = shapely.get_coordinates(points.to_numpy()[pos])
    return coords


def _matrix_s(travel: Travel, table: pd.DataFrame) -> np.ndarray:
    """Look the pairs up in the given matrix (seconds, or metres at ``speed_kmh``)."""
    costs = travel.costs
    assert costs is not None  # noqa: S101
    rows = pd.Index(costs.center_ids.astype(str)).get_indexer(table["center_id"].to_numpy())
    cols = pd.Index(costs.garrison_ids.astype(str)).get_indexer(table["garrison_id"].to_numpy())
    coo = costs.matrix.tocoo()
    m = max(costs.matrix.shape[1], 1)
    keys = coo.row.astype(np.int64) * m + coo.col
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], coo.data[order]
    want = rows.astype(np.int64) * m + cols
    at = np.zeros(len(want), dtype=np.int64)
    found = np.zeros(len(want), dtype=bool)
    if len(keys):
        at = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
        found = (rows >= 0) & (cols >= 0) & (keys[at] == want)
    _refuse_missing(table, ~found, "pairs of the plan missing from costs=; build it for them")
    seconds: np.ndarray = np.asarray(values[at], dtype=float)
    if costs.unit == "m":
        assert travel.speed_kmh is not None  # noqa: S101
        seconds = seconds / (travel.speed_kmh / 3.6)
    return seconds


def _refuse_missing(table: pd.DataFrame, missing: np.ndarray, message: str) -> None:
    if not missing.any():
        return
    bad = table.loc[missing, ["garrison_id", "center_id"]].head(_SHOWN)
    pairs = tuple(f"{g}->{c}" for g, c in zip(bad["garrison_id"], bad["center_id"], strict=True))
    text = f"{message} ({int(missing.sum())} pair(s))"
    raise InputError([Issue("costs", None, pairs, text)])


def _network_s(
    network: Any, c_lonlat: np.ndarray, g_lonlat: np.ndarray, *, back: bool = False
) -> np.ndarray:
    """Fastest-route seconds garrison → centre per pair, on the graph the costs use.

    ``back``: centre → garrison instead. The centres are then the graph's sources and the
    garrisons its sinks, searched on the reversed graph from each garrison: one search
    per garrison either way.
    """
    from scipy.sparse.csgraph import dijkstra  # noqa: PLC0415

    from electsec.network import augmented_graph, points_xy, sources_per_batch  # noqa: PLC0415

    out = np.full(len(c_lonlat), np.inf)
    if not len(c_lonlat):
        return out
    c_u, c_of = np.unique(c_lonlat, axis=0, return_inverse=True)
    g_u, g_of = np.unique(g_lonlat, axis=0, return_inverse=True)
    c_of, g_of = c_of.ravel(), g_of.ravel()
    c_pts = gpd.GeoSeries(shapely.points(c_u), crs="EPSG:4326")
    g_pts = gpd.GeoSeries(shapely.points(g_u), crs="EPSG:4326")
    c_snap = network.snap_xy(points_xy(c_pts, network.crs))
    g_snap = network.snap_xy(points_xy(g_pts, network.crs))
    offroad = 3.6 / network.offroad_speed_kmh
    if back:  # centres drive to the garrisons: search the reversed graph from them
        graph, c_node, g_node = augmented_graph(network, "time", offroad, g_snap, c_snap)
        graph = graph.T.tocsr()
    else:
        graph, g_node, c_node = augmented_graph(network, "time", offroad, c_snap, g_snap)
    batch = sources_per_batch(graph.shape[0])
    for lo in range(0, len(g_u), batch):
        hi = min(lo + batch, len(g_u))
        dist = dijkstra(graph, directed=True, indices=g_node[lo:hi])
        mine = (g_of >= lo) & (g_of < hi)
        out[mine] = dist[g_of[mine] - lo, c_node[c_of[mine]]]
    return out
