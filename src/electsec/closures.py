"""Roads closed: re-price only the pairs a closure can change, on the driver.

Closing roads removes directed edges from a :class:`~electsec.network.RoadNetwork`
(:meth:`~electsec.network.RoadNetwork.without`); no travel time can fall. A pair's cost
can rise only if

- its centre or garrison met the roads on a segment with a closed edge (its legs to the
  road change, or it snaps elsewhere), or
- some closed edge ``u → v`` lies on one of its shortest paths:
  ``d(g, u) + w(u → v) + d(v, c) = d(g, c)``, with ``d(·, u)`` from one Dijkstra on the
  reversed graph per closed tail and ``d(v, ·)`` from one per closed head.

Only those pairs are searched again, on the closed network; every other pair keeps its
cost, and pairs absent before stay absent. Finding them takes two searches per closed
edge end; when that is more than searching every pair again (a wide closure, or few
garrisons), every pair is searched again instead — the same matrix either way: the one
``distance_matrix(..., network=network.without(edges))`` would give for the same pairs.
"""

from __future__ import annotations

from typing import Any, Literal

import geopandas as gpd
import numpy as np
import shapely
from scipy.sparse.csgraph import dijkstra

from electsec.costs import CostMatrix, arcs_to_csr
from electsec.errors import InputError, Issue
from electsec.network import (
    RoadNetwork,
    _augmented,
    _build_warnings,
    _road_facts,
    _road_warnings,
    _Snap,
    _sweep,
    _with_unreached,
    _xy,
)

__all__ = ["closed_edges", "reprice_closed"]

#: Relative slack when testing whether a closed edge is on a shortest path.
_ON_PATH_RTOL = 1e-9


def closed_edges(closed: Any, net: RoadNetwork) -> np.ndarray:
    """Return the edge ids ``closed`` names: ids, or a lon/lat polygon's edges.

    Raises
    ------
    InputError
        Ids that are not edges of ``net``, or a polygon that meets no road.
    """
    if isinstance(closed, shapely.Polygon | shapely.MultiPolygon):
        edges = net.edges_in(closed)
        if not len(edges):
            message = "the polygon meets no road of the network (polygons are lon/lat)"
            raise InputError([Issue("arguments", "roads_closed", (), message)])
        return edges
    ids = [closed] if np.isscalar(closed) else list(closed)
    bad = [i for i in ids if not isinstance(i, int | np.integer) or not 0 <= i < net.n_edges]
    if bad or not ids:
        message = (
            f"give edge ids (integers 0..{net.n_edges - 1}, positions in network.tail/head) "
            "or a lon/lat Polygon"
        )
        raise InputError([Issue("arguments", "roads_closed", tuple(map(str, bad)), message)])
    return np.unique(np.asarray(ids, dtype=np.int64))


def reprice_closed(
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    net: RoadNetwork,
    edges: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
    metric: Literal["travel_time", "road_distance"],
) -> CostMatrix:
    """Return the cost matrix of ``pairs`` (centre, garrison, cost) with ``edges`` closed."""
    after = net.without(edges)
    weight = "time" if metric == "travel_time" else "length"
    offroad = 3.6 / net.offroad_speed_kmh if weight == "time" else 1.0
    c_xy, g_xy = _xy(centers, net.crs), _xy(garrisons, net.crs)
    snaps = [(net._snap(c_xy), after._snap(c_xy)), (net._snap(g_xy), after._snap(g_xy))]
    (c0, c1), (g0, g1) = snaps
    center, garrison, cost = pairs
    ends = len(np.unique(net.tail[edges])) + len(np.unique(net.head[edges]))
    if _detection_pays(ends, min(len(centers), len(garrisons))):
        hit = _moved(net, after, c0, c1, edges)[center]
        hit |= _moved(net, after, g0, g1, edges)[garrison]
        hit |= _on_path(net, weight, offroad, (c0, g0), edges, pairs)
    else:
        hit = np.ones(len(center), dtype=bool)
    graph, g_node, c_node = _augmented(after, weight, offroad, c1, g1)
    rows, cols, found = _sweep(
        graph, c_node, g_node, np.unique(center[hit]), np.unique(garrison[hit]), None
    )
    m = len(garrisons)
    wanted = np.isin(rows * m + cols, center[hit] * m + garrison[hit])
    rows = np.concatenate([center[~hit], rows[wanted]])
    cols = np.concatenate([garrison[~hit], cols[wanted]])
    values = np.concatenate([cost[~hit], found[wanted]])
    matrix = arcs_to_csr(rows, cols, values, shape=(len(centers), m))
    road, g_piece_centers = _road_facts(after, c1, g1, c_xy, g_xy)
    road = _with_unreached(road, after, graph, g_node[g1.segment >= 0], c1)
    warnings = _build_warnings(after.build_report) + _road_warnings(
        centers, garrisons, c1, g1, road, g_piece_centers
    )
    reached = np.zeros(len(centers), dtype=bool)
    reached[rows] = True
    unreachable = tuple(str(c) for c in centers.index[~reached])
    unit = "s" if weight == "time" else "m"
    return CostMatrix(
        matrix, centers.index, garrisons.index, unit, metric, unreachable, road, warnings
    )


def _detection_pays(ends: int, sources: int) -> bool:
    """Whether finding the affected pairs (two searches per edge end) beats a full search."""
    return ends < sources


def _moved(
    net: RoadNetwork, after: RoadNetwork, before: _Snap, now: _Snap, edges: np.ndarray
) -> np.ndarray:
    """Points whose way onto the roads may change: on a closed segment, or snapped anew."""
    closed = np.zeros(len(net._seg_a), dtype=bool)
    seg = net._edge_seg[edges]
    closed[seg[seg >= 0]] = True
    on_before, on_now = before.segment >= 0, now.segment >= 0
    moved: np.ndarray = on_before != on_now
    both = on_before & on_now
    moved[on_before] |= closed[before.segment[on_before]]
    same = shapely.equals_exact(
        net._seg_geom[before.segment[both]], after._seg_geom[now.segment[both]], tolerance=0.0
    )
    moved[both] |= ~same | (before.fraction[both] != now.fraction[both])
    return moved


def _on_path(
    net: RoadNetwork,
    weight: str,
    offroad: float,
    snaps: tuple[_Snap, _Snap],
    edges: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> np.ndarray:
    """Pairs with a closed edge on one of their shortest paths before the closure."""
    center, garrison, cost = pairs
    hit = np.zeros(len(center), dtype=bool)
    if not len(center):
        return hit
    graph, g_node, c_node = _augmented(net, weight, offroad, *snaps)
    tails, t_of = np.unique(net.tail[edges], return_inverse=True)
    heads, h_of = np.unique(net.head[edges], return_inverse=True)
    limit = float(np.nextafter(cost.max(), np.inf))
    to_tail = dijkstra(graph.T.tocsr(), directed=True, indices=tails, limit=limit)[:, g_node]
    from_head = dijkstra(graph, directed=True, indices=heads, limit=limit)[:, c_node]
    w = net.time_s[edges] if weight == "time" else net.length_m[edges]
    slack = cost * (1 + _ON_PATH_RTOL) + 1e-9
    for e in range(len(edges)):
        via = to_tail[t_of[e], garrison] + w[e] + from_head[h_of[e], center]
        hit |= via <= slack
    return hit
