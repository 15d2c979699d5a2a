"""Roads closed: re-price only the pairs a closure can change, on the driver.

Closing roads removes directed edges from a :class:`~electsec.network.RoadNetwork`
(:meth:`~electsec.network.RoadNetwork.without`); no travel time can fall. A pair's cost
can rise only if

- its centre or garrison met the roads on a segment with a closed edge (its legs to the
  road change, or it snaps elsewhere — perhaps nearer some: all of its pairs are
  searched again, also those absent before), or
- some closed edge ``u → v`` lies on one of its shortest paths:
  ``d(g, u) + w(u → v) + d(v, c) = d(g, c)``, with ``d(·, u)`` from one Dijkstra on the
  reversed graph per closed tail and ``d(v, ·)`` from one per closed head.

Only those pairs are searched again, on the closed network; every other pair keeps its
cost, and other pairs absent before stay absent. Finding them takes two searches per closed
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

from electsec.costs import CostMatrix
from electsec.errors import InputError, Issue
from electsec.network import (
    RoadNetwork,
    Snap,
    augmented_graph,
    points_xy,
    searched_cost_matrix,
    shortest_arcs,
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
    cutoff: float | None = None,
) -> tuple[CostMatrix, RoadNetwork]:
    """Return the cost matrix of ``pairs`` (centre, garrison, cost) with ``edges`` closed.

    And the closed network (``net.without(edges)``) it was searched on. With a
    ``cutoff`` (the instance's largest limit), pairs costing more are left out, as
    ``distance_matrix(..., max_time_s=cutoff)`` leaves them out: no plan may use them.
    """
    after = net.without(edges)
    weight = "time" if metric == "travel_time" else "length"
    offroad = 3.6 / net.offroad_speed_kmh if weight == "time" else 1.0
    c_xy, g_xy = points_xy(centers, net.crs), points_xy(garrisons, net.crs)
    c1, g1 = after.snap_xy(c_xy), after.snap_xy(g_xy)
    graph, g_node, c_node = augmented_graph(after, weight, offroad, c1, g1)
    ends = len(np.unique(net.tail[edges])) + len(np.unique(net.head[edges]))
    everyone = np.arange(len(centers)), np.arange(len(garrisons))
    if _detection_pays(ends, min(len(centers), len(garrisons))):
        # A point that meets the roads anew may get closer to some: all its pairs.
        c0, g0 = net.snap_xy(c_xy), net.snap_xy(g_xy)
        moved = _moved(net, after, c0, c1, edges), _moved(net, after, g0, g1, edges)
        kept = ~moved[0][pairs[0]] & ~moved[1][pairs[1]]
        kept &= pairs[2] <= (np.inf if cutoff is None else cutoff)
        pairs = (pairs[0][kept], pairs[1][kept], pairs[2][kept])
        hit = _on_path(net, weight, offroad, (c0, g0), edges, pairs)
        parts = [
            (pairs[0][~hit], pairs[1][~hit], pairs[2][~hit]),
            shortest_arcs(graph, c_node, g_node, everyone[0], np.flatnonzero(moved[1]), cutoff),
            shortest_arcs(graph, c_node, g_node, np.flatnonzero(moved[0]), everyone[1], cutoff),
            _searched(graph, c_node, g_node, (pairs[0][hit], pairs[1][hit]), cutoff),
        ]
    else:
        parts = [shortest_arcs(graph, c_node, g_node, *everyone, cutoff)]
    arcs = _distinct(parts, len(garrisons))
    snaps, xys = (c1, g1), (c_xy, g_xy)
    costs = searched_cost_matrix(
        after, graph, g_node, (centers, garrisons), snaps, xys, arcs, weight=weight
    )
    return costs, after


def _searched(
    graph: Any,
    c_node: np.ndarray,
    g_node: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray],
    cutoff: float | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Search ``pairs`` (centre, garrison) again: their costs, or nothing if now too far."""
    center, garrison = pairs
    rows, cols, found = shortest_arcs(
        graph, c_node, g_node, np.unique(center), np.unique(garrison), cutoff
    )
    m = len(g_node)
    wanted = np.isin(rows * m + cols, center.astype(np.int64) * m + garrison)
    return rows[wanted], cols[wanted], found[wanted]


def _distinct(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], m: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Join arc lists, each pair once (parts agree where they overlap)."""
    rows = np.concatenate([np.asarray(p[0], np.int64) for p in parts])
    cols = np.concatenate([np.asarray(p[1], np.int64) for p in parts])
    values = np.concatenate([np.asarray(p[2], float) for p in parts])
    _, first = np.unique(rows * m + cols, return_index=True)
    return rows[first], cols[first], values[first]


def _detection_pays(ends: int, sources: int) -> bool:
    """Whether finding the affected pairs (two searches per edge end) beats a full search."""
    return ends < sources


def _moved(
    net: RoadNetwork, after: RoadNetwork, before: Snap, now: Snap, edges: np.ndarray
) -> np.ndarray:
    """Points whose way onto the roads may change: on a closed segment, or snapped anew."""
    closed = np.zeros(net.n_segments, dtype=bool)
    seg = net.segments_of(edges)
    closed[seg[seg >= 0]] = True
    on_before, on_now = before.segment >= 0, now.segment >= 0
    moved: np.ndarray = on_before != on_now
    both = on_before & on_now
    moved[on_before] |= closed[before.segment[on_before]]
    same = shapely.equals_exact(
        net.segment_geometries(before.segment[both]),
        after.segment_geometries(now.segment[both]),
        tolerance=0.0,
    )
    moved[both] |= ~same | (before.fraction[both] != now.fraction[both])
    return moved


def _on_path(
    net: RoadNetwork,
    weight: str,
    offroad: float,
    snaps: tuple[Snap, Snap],
    edges: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> np.ndarray:
    """Pairs with a closed edge on one of their shortest paths before the closure."""
    center, garrison, cost = pairs
    hit = np.zeros(len(center), dtype=bool)
    if not len(center):
        return hit
    graph, g_node, c_node = augmented_graph(net, weight, offroad, *snaps)
    tails, t_of = np.unique(net.tail[edges], return_inverse=True)
    heads, h_of = np.unique(net.head[edges], return_inverse=True)
    limit = float(np.nextafter(cost.max(), np.inf))
    to_tail = dijkstra(graph.T.tocsr(), directed=True, indices=tails, limit=limit)[:, g_node]
    from_head = dijkstra(graph, directed=True, indices=heads, limit=limit)[:, c_node]
    w = net.time_s[edges] if weight == "time" else net.length_m[edges]
    m = len(g_node)
    keys = center.astype(np.int64) * m + garrison
    order = np.argsort(keys, kind="stable")
    keys, slack = keys[order], cost[order] * (1 + _ON_PATH_RTOL) + 1e-9
    found = np.zeros(len(keys), dtype=bool)
    for e in range(len(edges)):
        # Only garrisons that reach u and centres reached from v can route through u → v.
        gs = np.flatnonzero(np.isfinite(to_tail[t_of[e]]))
        cs = np.flatnonzero(np.isfinite(from_head[h_of[e]]))
        if not len(gs) or not len(cs):
            continue
        via = to_tail[t_of[e], gs][:, None] + w[e] + from_head[h_of[e], cs][None, :]
        key = (cs[None, :] * m + gs[:, None]).ravel()
        pos = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
        ok = (keys[pos] == key) & (via.ravel() <= slack[pos])
        found[pos[ok]] = True
    hit[order] = found
    return hit
