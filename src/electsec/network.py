"""Road travel times and road distances: snapping, sparse shortest paths, honest gaps.

A road network comes in as an osmnx-style ``networkx.MultiDiGraph`` or as a GeoDataFrame
of road LineStrings; :class:`RoadNetwork` turns it into a ``scipy.sparse`` CSR graph in a
projected (UTM) CRS. Centres and garrisons are snapped to the nearest road segment (an
STR-tree), joined to its two ends by an off-road leg plus the part of the segment they
must drive, and the costs come from ``scipy.sparse.csgraph.dijkstra`` run from the
smaller side, in batches, cut at the response limit. No Python loop runs per pair.

Unreachable pairs are simply absent from the :class:`~electsec.costs.CostMatrix`; centres
with no reachable garrison are listed in ``CostMatrix.unreachable``. The matrix also
carries each centre's road facts (``CostMatrix.road``: snap distance, the size of its road
piece, the garrisons on it, the part no garrison can reach) so plans can name the true
reason a centre is unserved, and ``CostMatrix.warnings`` (points off the roads, far snaps,
road pieces with no garrison or no centre), which plans repeat as ``plan.warnings``.

Notes
-----
A point on a segment ``a → b`` at fraction ``f`` of its length, ``o`` away from the
road, becomes a virtual node: a garrison gets arcs to ``a`` (cost ``o + f·c_ba``, when
``b → a`` may be driven) and to ``b`` (``o + (1 - f)·c_ab``); a centre gets arcs from
``a`` (``f·c_ab + o``) and from ``b`` (``(1 - f)·c_ba + o``), where ``c`` is the edge
cost (seconds or metres) and ``o`` is priced at the off-road speed for travel times.
A garrison and a centre on the same segment also get the direct arc along it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from electsec.costs import CostMatrix, arcs_to_csr
from electsec.errors import InputError, Issue
from electsec.reach import RoadReach
from electsec.validation import is_number

__all__ = [
    "DEFAULT_SPEEDS_KMH",
    "NetworkMetric",
    "RoadNetwork",
    "network_costs",
]

logger = logging.getLogger(__name__)

NetworkMetric = Literal["travel_time", "road_distance"]

#: Default speeds (km/h) per OSM ``highway`` class, used when a road has no speed.
DEFAULT_SPEEDS_KMH: Mapping[str, float] = {
    "motorway": 100.0,
    "trunk": 80.0,
    "primary": 70.0,
    "secondary": 60.0,
    "tertiary": 50.0,
    "unclassified": 40.0,
    "road": 40.0,
    "residential": 30.0,
    "living_street": 10.0,
    "service": 20.0,
    "motorway_link": 60.0,
    "trunk_link": 50.0,
    "primary_link": 40.0,
    "secondary_link": 40.0,
    "tertiary_link": 30.0,
    "track": 20.0,
}
#: Speed (km/h) of a road whose class is unknown and that has no speed of its own.
FALLBACK_SPEED_KMH = 30.0
#: Bytes of Dijkstra output allowed per batch of sources (rows × nodes × 8).
_BATCH_BYTES = 96_000_000
#: Centres probed without a limit to calibrate the first limit of a pure k-nearest query.
_PROBES = 12
_ONEWAY_FORWARD = frozenset({"yes", "true", "1", "t", "y"})
_ONEWAY_REVERSE = frozenset({"-1", "reverse"})


@dataclass(frozen=True)
class _Snap:
    """Where points meet the network (all arrays aligned with the input points)."""

    segment: np.ndarray  # int64 segment index, -1 when off the network
    fraction: np.ndarray  # position along the segment from its end ``a`` (0..1)
    distance_m: np.ndarray  # straight-line distance to the road
    point_xy: np.ndarray  # snapped position, network CRS


class RoadNetwork:
    """A directed road graph ready for many cost queries (build once, query often).

    Build it with :meth:`from_osmnx`, :meth:`from_roads` or :meth:`build`; pass it as
    ``network=`` to :func:`electsec.distance_matrix`.

    Parameters
    ----------
    node_xy
        (N, 2) node coordinates in ``crs`` (metres).
    tail, head
        Directed edges as node indices.
    length_m, time_s
        Length and travel time of each edge.
    geometry
        One LineString per edge in ``crs``, oriented tail → head (None: straight lines).
    crs
        A projected CRS in metres.
    offroad_speed_kmh
        Speed of the off-road leg between a point and the road it snaps to.
    max_snap_m
        Points farther than this from every road are left off the network (centres are
        then reported unreachable), rather than snapped across a valley.
    """

    def __init__(
        self,
        node_xy: np.ndarray,
        tail: np.ndarray,
        head: np.ndarray,
        length_m: np.ndarray,
        time_s: np.ndarray,
        *,
        geometry: np.ndarray | None = None,
        crs: pyproj.CRS | str,
        offroad_speed_kmh: float = 20.0,
        max_snap_m: float = 5_000.0,
    ) -> None:
        issues = _option_issues(offroad_speed_kmh, max_snap_m)
        if issues:
            raise InputError(issues)
        self.crs = pyproj.CRS(crs)
        self.node_xy = np.asarray(node_xy, dtype=float).reshape(-1, 2)
        self.tail = np.asarray(tail, dtype=np.int64)
        self.head = np.asarray(head, dtype=np.int64)
        self.length_m = np.asarray(length_m, dtype=float)
        self.time_s = np.asarray(time_s, dtype=float)
        bad = ~(np.isfinite(self.length_m) & np.isfinite(self.time_s))
        bad |= (self.length_m < 0) | (self.time_s < 0)
        if bad.any():
            raise InputError(
                [
                    Issue(
                        "network",
                        "length/travel_time",
                        tuple(int(i) for i in np.flatnonzero(bad)[:5]),
                        "edge lengths and travel times must be finite and ≥ 0",
                    )
                ]
            )
        if geometry is None:
            geometry = shapely.linestrings(
                np.stack([self.node_xy[self.tail], self.node_xy[self.head]], axis=1)
            )
        self.offroad_speed_kmh = float(offroad_speed_kmh)
        self.max_snap_m = float(max_snap_m)
        self._segments(np.asarray(geometry, dtype=object))
        self._graphs: dict[str, sp.csr_array] = {}

    # -- construction ----------------------------------------------------------------

    @classmethod
    def build(
        cls,
        network: Any,
        *,
        offroad_speed_kmh: float = 20.0,
        max_snap_m: float = 5_000.0,
        **road_columns: Any,
    ) -> RoadNetwork:
        """Make a :class:`RoadNetwork` from whatever ``network`` is.

        Parameters
        ----------
        network
            A :class:`RoadNetwork` (returned as is), an osmnx-style ``MultiDiGraph``
            or a GeoDataFrame of road LineStrings.
        offroad_speed_kmh, max_snap_m
            Snapping options (see the class).
        **road_columns
            Column names for :meth:`from_roads` (``speed_col``, ``highway_col``,
            ``oneway_col``, ``default_speeds_kmh``).

        Returns
        -------
        RoadNetwork

        Raises
        ------
        InputError
            If ``network`` is none of those.
        """
        if isinstance(network, RoadNetwork):
            return network
        if isinstance(network, gpd.GeoDataFrame):
            return cls.from_roads(
                network,
                offroad_speed_kmh=offroad_speed_kmh,
                max_snap_m=max_snap_m,
                **road_columns,
            )
        if hasattr(network, "edges") and hasattr(network, "nodes") and hasattr(network, "graph"):
            return cls.from_osmnx(
                network, offroad_speed_kmh=offroad_speed_kmh, max_snap_m=max_snap_m
            )
        raise InputError(
            [
                Issue(
                    "arguments",
                    "network",
                    (),
                    "must be a RoadNetwork, an osmnx MultiDiGraph or a GeoDataFrame of "
                    f"road LineStrings, got {type(network).__name__}",
                )
            ]
        )

    @classmethod
    def from_osmnx(
        cls,
        graph: Any,
        *,
        offroad_speed_kmh: float = 20.0,
        max_snap_m: float = 5_000.0,
    ) -> RoadNetwork:
        """Convert a networkx ``MultiDiGraph`` in the osmnx convention.

        Nodes need ``x``/``y`` in ``graph.graph["crs"]`` (EPSG:4326 when absent), edges
        need ``length`` (metres) and ``travel_time`` (seconds, from
        ``osmnx.add_edge_travel_times``); without it, ``speed_kph`` or the ``highway``
        class (:data:`DEFAULT_SPEEDS_KMH`) gives the speed. Edge ``geometry`` is used when
        present.

        Parameters
        ----------
        graph
            The road graph (networkx is not imported here; the graph is only read).
        offroad_speed_kmh, max_snap_m
            Snapping options (see the class).

        Returns
        -------
        RoadNetwork

        Raises
        ------
        InputError
            For missing node coordinates or edge lengths.
        """
        crs = pyproj.CRS(graph.graph.get("crs", "EPSG:4326"))
        nodes = list(graph.nodes(data=True))
        ids = [n for n, _ in nodes]
        try:
            xy = np.array([[d["x"], d["y"]] for _, d in nodes], dtype=float).reshape(-1, 2)
        except KeyError as exc:
            raise InputError(
                [Issue("network", "x/y", (), "every node needs 'x' and 'y' coordinates")]
            ) from exc
        position = {n: i for i, n in enumerate(ids)}
        edges = list(graph.edges(data=True))
        tail = np.array([position[u] for u, _, _ in edges], dtype=np.int64)
        head = np.array([position[v] for _, v, _ in edges], dtype=np.int64)
        if any("length" not in d for _, _, d in edges):
            raise InputError(
                [
                    Issue(
                        "network",
                        "length",
                        (),
                        "every edge needs 'length' in metres (osmnx adds it)",
                    )
                ]
            )
        length = np.array([float(d["length"]) for _, _, d in edges], dtype=float)
        time = np.array([_edge_time(d) for _, _, d in edges], dtype=float)
        geometry = np.array([d.get("geometry") for _, _, d in edges], dtype=object)
        missing = np.array([g is None for g in geometry], dtype=bool)
        if edges and missing.any():
            geometry[missing] = shapely.linestrings(
                np.stack([xy[tail[missing]], xy[head[missing]]], axis=1)
            )
        xy, geometry, crs = _to_metres(xy, geometry, crs)
        return cls(
            xy,
            tail,
            head,
            length,
            time,
            geometry=geometry,
            crs=crs,
            offroad_speed_kmh=offroad_speed_kmh,
            max_snap_m=max_snap_m,
        )

    @classmethod
    def from_roads(
        cls,
        roads: gpd.GeoDataFrame,
        *,
        speed_col: str | None = "maxspeed_kmh",
        highway_col: str | None = "highway",
        oneway_col: str | None = "oneway",
        default_speeds_kmh: Mapping[str, float] | None = None,
        offroad_speed_kmh: float = 20.0,
        max_snap_m: float = 5_000.0,
    ) -> RoadNetwork:
        """Build the graph from road LineStrings (networkx is not needed).

        Lines meet where they share an end point (a junction); a road that crosses
        another without a shared end point (a bridge) does not connect to it.

        Parameters
        ----------
        roads
            Road LineStrings (MultiLineStrings are split) with a CRS.
        speed_col
            Column of speeds in km/h; missing or non-positive values fall back to the
            road class.
        highway_col
            Column of road classes (OSM ``highway`` values) mapped to speeds.
        oneway_col
            Column of one-way flags: true/``"yes"``/``1`` = drawn direction only,
            ``"-1"``/``"reverse"`` = against it; anything else = both ways.
        default_speeds_kmh
            Speeds per road class (default :data:`DEFAULT_SPEEDS_KMH`).
        offroad_speed_kmh, max_snap_m
            Snapping options (see the class).

        Returns
        -------
        RoadNetwork

        Raises
        ------
        InputError
            For a missing CRS, non-line geometries, or no usable speed.
        """
        issues = _roads_issues(roads, speed_col, highway_col)
        if issues:
            raise InputError(issues)
        roads = roads[~roads.geometry.is_empty].explode(index_parts=False)
        geom = np.asarray(roads.geometry.to_numpy(), dtype=object)
        speeds = _road_speeds(roads, speed_col, highway_col, default_speeds_kmh)
        forward, backward = _oneway_flags(roads, oneway_col)
        start = shapely.get_coordinates(shapely.get_point(geom, 0))
        end = shapely.get_coordinates(shapely.get_point(geom, -1))
        ends = np.concatenate([start, end])
        node_lonlat, inverse = np.unique(ends, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        a, b = inverse[: len(geom)], inverse[len(geom) :]
        node_xy, geom_m, crs = _to_metres(node_lonlat, geom, pyproj.CRS(roads.crs))
        length = shapely.length(geom_m)
        time = length / (speeds / 3.6)
        tail = np.concatenate([a[forward], b[backward]])
        head = np.concatenate([b[forward], a[backward]])
        geometry = np.concatenate([geom_m[forward], shapely.reverse(geom_m[backward])])
        return cls(
            node_xy,
            tail,
            head,
            np.concatenate([length[forward], length[backward]]),
            np.concatenate([time[forward], time[backward]]),
            geometry=geometry,
            crs=crs,
            offroad_speed_kmh=offroad_speed_kmh,
            max_snap_m=max_snap_m,
        )

    # -- public queries --------------------------------------------------------------

    @property
    def n_nodes(self) -> int:
        """Junctions and dead ends."""
        return len(self.node_xy)

    @property
    def n_edges(self) -> int:
        """Directed edges."""
        return len(self.tail)

    def __repr__(self) -> str:
        return (
            f"RoadNetwork({self.n_nodes} nodes, {self.n_edges} directed edges, "
            f"crs={self.crs.to_string()!r}, offroad_speed_kmh={self.offroad_speed_kmh}, "
            f"max_snap_m={self.max_snap_m})"
        )

    def snap(self, layer: gpd.GeoDataFrame) -> pd.DataFrame:
        """Report where each point of ``layer`` meets the road network.

        Parameters
        ----------
        layer
            Points with a CRS (index = ids).

        Returns
        -------
        pandas.DataFrame
            Indexed like ``layer``: ``snap_distance_m`` (straight line to the nearest
            road), ``on_network`` (within ``max_snap_m``), ``nearest_node`` (the closer end
            of the snapped segment, -1 off the network) and the snapped point ``x``, ``y``
            in the network CRS.
        """
        snap = self._snap(_xy(layer, self.crs))
        seg = np.maximum(snap.segment, 0)
        node = np.where(snap.fraction <= 0.5, self._seg_a[seg], self._seg_b[seg])
        on = snap.segment >= 0
        return pd.DataFrame(
            {
                "snap_distance_m": snap.distance_m,
                "on_network": on,
                "nearest_node": np.where(on, node, -1),
                "x": snap.point_xy[:, 0],
                "y": snap.point_xy[:, 1],
            },
            index=layer.index,
        )

    # -- internals ---------------------------------------------------------------------

    def _segments(self, geometry: np.ndarray) -> None:
        """Collapse directed edges to undirected segments (the snapping targets)."""
        a = np.minimum(self.tail, self.head)
        b = np.maximum(self.tail, self.head)
        proper = np.flatnonzero(a != b)
        key = a[proper] * max(self.n_nodes, 1) + b[proper]
        uniq, first, seg_of = np.unique(key, return_index=True, return_inverse=True)
        seg_of = seg_of.ravel()
        rep = proper[first]
        geom = geometry[rep].copy()
        flip = self.tail[rep] > self.head[rep]
        if flip.any():
            geom[flip] = shapely.reverse(geom[flip])
        self._seg_a = a[rep]
        self._seg_b = b[rep]
        self._seg_geom = geom
        self._seg_len = shapely.length(geom)
        along = self.tail[proper] < self.head[proper]
        self._seg_cost: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name, weight in (("time", self.time_s), ("length", self.length_m)):
            ab = np.full(len(uniq), np.inf)
            ba = np.full(len(uniq), np.inf)
            np.minimum.at(ab, seg_of[along], weight[proper][along])
            np.minimum.at(ba, seg_of[~along], weight[proper][~along])
            self._seg_cost[name] = (ab, ba)
        self._tree = shapely.STRtree(geom)

    def _snap(self, xy: np.ndarray) -> _Snap:
        n = len(xy)
        segment = np.full(n, -1, dtype=np.int64)
        fraction = np.zeros(n)
        distance = np.full(n, np.inf)
        point_xy = np.full((n, 2), np.nan)
        if n == 0 or len(self._seg_geom) == 0:
            return _Snap(segment, fraction, distance, point_xy)
        points = shapely.points(xy)
        (src, seg), dist = self._tree.query_nearest(
            points, return_distance=True, all_matches=False
        )
        distance[src] = dist
        lines = self._seg_geom[seg]
        along = shapely.line_locate_point(lines, points[src])
        snapped = shapely.line_interpolate_point(lines, along)
        point_xy[src] = shapely.get_coordinates(snapped)
        length = self._seg_len[seg]
        frac = np.divide(along, length, out=np.zeros(len(src)), where=length > 0)
        fraction[src] = np.clip(frac, 0.0, 1.0)
        on = dist <= self.max_snap_m
        segment[src[on]] = seg[on]
        return _Snap(segment, fraction, distance, point_xy)

    def _graph(self, weight: str) -> sp.csr_array:
        """CSR graph of the cheapest edge per directed node pair."""
        if weight not in self._graphs:
            cost = self.time_s if weight == "time" else self.length_m
            self._graphs[weight] = _min_csr(
                self.tail, self.head, cost, (self.n_nodes, self.n_nodes)
            )
        return self._graphs[weight]


def network_costs(
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    network: Any,
    *,
    metric: NetworkMetric = "travel_time",
    k: int | None = None,
    max_cost: float | None = None,
) -> CostMatrix:
    """Centre × garrison travel times (s) or road distances (m) over a road network.

    Called by :func:`electsec.distance_matrix` for ``metric="travel_time"`` or
    ``"road_distance"``; takes validated layers.

    Parameters
    ----------
    centers, garrisons
        Validated point layers (ids as index).
    network
        Anything :meth:`RoadNetwork.build` accepts.
    metric
        ``"travel_time"`` (seconds) or ``"road_distance"`` (metres).
    k
        Keep the ``k`` cheapest garrisons of each centre (ties by garrison order).
    max_cost
        Keep only pairs costing at most this (seconds or metres).

    Returns
    -------
    CostMatrix
        Unreachable pairs are absent; ``unreachable`` lists centres left with no arc.

    Raises
    ------
    InputError
        For a bad ``metric`` or network.
    """
    if metric not in ("travel_time", "road_distance"):
        raise InputError(
            [
                Issue(
                    "arguments",
                    "metric",
                    (),
                    f"unknown network metric {metric!r}; use 'travel_time' or 'road_distance'",
                )
            ]
        )
    net = RoadNetwork.build(network)
    weight = "time" if metric == "travel_time" else "length"
    offroad = 3.6 / net.offroad_speed_kmh if weight == "time" else 1.0  # cost per metre
    c_xy, g_xy = _xy(centers, net.crs), _xy(garrisons, net.crs)
    c_snap, g_snap = net._snap(c_xy), net._snap(g_xy)
    graph, g_node, c_node = _augmented(net, weight, offroad, c_snap, g_snap)
    n, m = len(centers), len(garrisons)
    c_on = np.flatnonzero(c_snap.segment >= 0)
    g_on = np.flatnonzero(g_snap.segment >= 0)
    if k is not None and max_cost is None and len(c_on) and len(g_on):
        probe = _probe_limit(graph, c_node, g_node, c_on, g_on, k, c_snap, g_snap)
        rows, cols, cost = _k_adaptive(graph, c_node, g_node, c_on, g_on, k, probe)
    else:
        rows, cols, cost = _sweep(graph, c_node, g_node, c_on, g_on, max_cost)
        if k is not None:
            rows, cols, cost = _top_k(rows, cols, cost, k)
    matrix = arcs_to_csr(rows, cols, cost, shape=(n, m))
    reached = np.zeros(n, dtype=bool)
    reached[rows] = True
    unreachable = tuple(str(c) for c in centers.index[~reached])
    road, g_piece_centers = _road_facts(net, c_snap, g_snap, c_xy, g_xy)
    road = _with_unreached(road, net, graph, g_node[g_on], c_snap)
    warnings = _road_warnings(centers, garrisons, c_snap, g_snap, road, g_piece_centers)
    for text in warnings:
        logger.info("%s", text)
    return CostMatrix(
        matrix,
        centers.index,
        garrisons.index,
        unit="s" if weight == "time" else "m",
        metric=metric,
        unreachable=unreachable,
        road=road,
        warnings=warnings,
    )


# -- what a planner must be told -------------------------------------------------------

#: Centres and garrisons snapped farther than this to a road are named in a warning.
FAR_SNAP_M = 1000.0
_SHOWN = 10


def _road_facts(
    net: RoadNetwork, c_snap: _Snap, g_snap: _Snap, c_xy: np.ndarray, g_xy: np.ndarray
) -> tuple[RoadReach, np.ndarray]:
    """Find each centre's road piece, its size and garrisons, and its nearest garrison.

    Also returns how many centres lie on each garrison's road piece.
    """
    n_nodes = max(net.n_nodes, 1)
    links = sp.coo_array((np.ones(len(net.tail)), (net.tail, net.head)), shape=(n_nodes, n_nodes))
    _, piece = connected_components(links, directed=False)
    km = np.bincount(piece[net._seg_a], weights=net._seg_len / 1000.0, minlength=n_nodes)
    nodes = np.bincount(piece, minlength=n_nodes)

    c_piece, g_piece = _piece_of(net, piece, c_snap), _piece_of(net, piece, g_snap)
    garrisons_on = np.bincount(g_piece[g_piece >= 0], minlength=n_nodes)
    centers_on = np.bincount(c_piece[c_piece >= 0], minlength=n_nodes)
    on = c_piece >= 0
    at = np.maximum(c_piece, 0)
    if len(g_xy):
        straight, nearest = cKDTree(g_xy).query(c_xy, k=1)
    else:
        straight, nearest = np.full(len(c_xy), np.inf), np.full(len(c_xy), -1)
    road = RoadReach(
        max_snap_m=net.max_snap_m,
        snap_distance_m=c_snap.distance_m,
        piece_nodes=np.where(on, nodes[at], 0).astype(np.int64),
        piece_km=np.where(on, km[at], 0.0),
        piece_garrisons=np.where(on, garrisons_on[at], 0).astype(np.int64),
        nearest_garrison=np.asarray(nearest, dtype=np.int64),
        nearest_garrison_m=np.asarray(straight, dtype=float),
    )
    g_centers: np.ndarray = np.where(g_piece >= 0, centers_on[np.maximum(g_piece, 0)], 0)
    return road, g_centers


def _with_unreached(
    road: RoadReach, net: RoadNetwork, graph: sp.csr_array, sources: np.ndarray, c_snap: _Snap
) -> RoadReach:
    """Add, per centre, the nodes and km of its road piece that no garrison can reach."""
    n_nodes = max(net.n_nodes, 1)
    if len(sources) and net.n_nodes:
        dist = dijkstra(graph, directed=True, indices=sources, min_only=True)
        reached = np.isfinite(dist[: net.n_nodes])
    else:
        reached = np.zeros(net.n_nodes, dtype=bool)
    links = sp.coo_array((np.ones(len(net.tail)), (net.tail, net.head)), shape=(n_nodes, n_nodes))
    _, piece = connected_components(links, directed=False)
    lost = np.bincount(piece[: net.n_nodes][~reached], minlength=n_nodes)
    dark = ~reached[net._seg_a] & ~reached[net._seg_b] if net.n_nodes else np.zeros(0, bool)
    km = np.bincount(piece[net._seg_a[dark]], weights=net._seg_len[dark] / 1000, minlength=n_nodes)
    at = _piece_of(net, piece, c_snap)
    on, where = at >= 0, np.maximum(at, 0)
    return dataclasses.replace(
        road,
        unreached_nodes=np.where(on, lost[where], 0).astype(np.int64),
        unreached_km=np.where(on, km[where], 0.0),
    )


def _piece_of(net: RoadNetwork, piece: np.ndarray, snap: _Snap) -> np.ndarray:
    """Road piece of each snapped point (-1 off the network)."""
    found = np.full(len(snap.segment), -1, dtype=np.int64)
    on = snap.segment >= 0
    found[on] = piece[net._seg_a[snap.segment[on]]]
    return found


def _road_warnings(
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    c_snap: _Snap,
    g_snap: _Snap,
    road: RoadReach,
    g_piece_centers: np.ndarray,
) -> tuple[str, ...]:
    """Sentences a planner must see: points off the roads, far snaps, lonely road pieces."""
    out = []
    for name, layer, snap in (("centre", centers, c_snap), ("garrison", garrisons, g_snap)):
        off = snap.segment < 0
        far = ~off & (snap.distance_m > FAR_SNAP_M)
        if off.any():
            out.append(
                f"{int(off.sum())} {name}(s) lie more than max_snap_m={road.max_snap_m:,.0f} m "
                f"from any road and are left off the network: {_ids(layer, off)}"
            )
        if far.any():
            worst = float(snap.distance_m[far].max())
            out.append(
                f"{int(far.sum())} {name}(s) are {FAR_SNAP_M:,.0f}–{worst:,.0f} m from the "
                f"nearest road (an off-road leg is added): {_ids(layer, far)}"
            )
    lonely = road.isolated(np.arange(len(centers)))
    if lonely.any() and len(garrisons):
        out.append(
            f"{int(lonely.sum())} centre(s) are on road pieces not connected to any "
            f"garrison (up to {int(road.piece_nodes[lonely].max())} nodes, "
            f"{float(road.piece_km[lonely].max()):,.1f} km of road): {_ids(centers, lonely)}"
        )
    idle = (g_snap.segment >= 0) & (g_piece_centers == 0)
    if idle.any() and len(centers):
        out.append(
            f"{int(idle.sum())} garrison(s) are on road pieces not connected to any "
            f"centre and can serve none by road: {_ids(garrisons, idle)}"
        )
    return tuple(out)


def _ids(layer: gpd.GeoDataFrame, mask: np.ndarray) -> str:
    ids = [str(i) for i in layer.index[mask]]
    more = f" and {len(ids) - _SHOWN} more" if len(ids) > _SHOWN else ""
    return ", ".join(ids[:_SHOWN]) + more


# -- graph assembly ----------------------------------------------------------------------


def _augmented(
    net: RoadNetwork, weight: str, offroad: float, c_snap: _Snap, g_snap: _Snap
) -> tuple[sp.csr_array, np.ndarray, np.ndarray]:
    """Road graph plus one virtual node per garrison (sources) and per centre (sinks)."""
    n_nodes = net.n_nodes
    m, n = len(g_snap.segment), len(c_snap.segment)
    g_node = n_nodes + np.arange(m, dtype=np.int64)
    c_node = n_nodes + m + np.arange(n, dtype=np.int64)
    ab, ba = net._seg_cost[weight]
    seg_a, seg_b = net._seg_a, net._seg_b
    tails, heads, costs = (
        [net.tail],
        [net.head],
        [net.time_s if weight == "time" else net.length_m],
    )

    def attach(snap: _Snap, virtual: np.ndarray, *, source: bool) -> None:
        on = np.flatnonzero(snap.segment >= 0)
        s, f = snap.segment[on], snap.fraction[on]
        leg = snap.distance_m[on] * offroad
        # A source drives towards a (against a → b) or towards b; a sink is reached
        # from a (along a → b) or from b.
        to_a = leg + _part(f, ba[s] if source else ab[s])
        to_b = leg + _part(1 - f, ab[s] if source else ba[s])
        for end, cost in ((seg_a[s], to_a), (seg_b[s], to_b)):
            ok = np.isfinite(cost)
            tails.append(virtual[on][ok] if source else end[ok])
            heads.append(end[ok] if source else virtual[on][ok])
            costs.append(cost[ok])

    attach(g_snap, g_node, source=True)
    attach(c_snap, c_node, source=False)
    gi, ci, direct = _same_segment(g_snap, c_snap, ab, ba, offroad)
    tails.append(g_node[gi])
    heads.append(c_node[ci])
    costs.append(direct)
    size = n_nodes + m + n
    graph = _min_csr(
        np.concatenate(tails), np.concatenate(heads), np.concatenate(costs), (size, size)
    )
    return graph, g_node, c_node


def _same_segment(
    g_snap: _Snap, c_snap: _Snap, ab: np.ndarray, ba: np.ndarray, offroad: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Direct arcs between a garrison and a centre snapped to the same segment."""
    g_on = np.flatnonzero(g_snap.segment >= 0)
    g_on = g_on[np.argsort(g_snap.segment[g_on], kind="stable")]
    g_seg = g_snap.segment[g_on]
    c_on = np.flatnonzero(c_snap.segment >= 0)
    lo = np.searchsorted(g_seg, c_snap.segment[c_on], side="left")
    hi = np.searchsorted(g_seg, c_snap.segment[c_on], side="right")
    count = hi - lo
    ci = np.repeat(c_on, count)
    # Each centre pairs with the run g_on[lo:hi] of garrisons on its segment.
    rank = np.arange(len(ci)) - np.repeat(np.cumsum(count) - count, count)
    gi = g_on[np.repeat(lo, count) + rank]
    s = c_snap.segment[ci]
    delta = c_snap.fraction[ci] - g_snap.fraction[gi]
    drive = np.where(delta >= 0, _part(delta, ab[s]), _part(-delta, ba[s]))
    cost = (g_snap.distance_m[gi] + c_snap.distance_m[ci]) * offroad + drive
    ok = np.isfinite(cost)
    return gi[ok], ci[ok], cost[ok]


def _part(fraction: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """``fraction × cost``: inf where that direction may not be driven, but 0 at the end."""
    finite = np.isfinite(cost) | (fraction <= 0)
    part: np.ndarray = np.where(finite, fraction * np.where(np.isfinite(cost), cost, 0.0), np.inf)
    return part


def _min_csr(
    tail: np.ndarray, head: np.ndarray, cost: np.ndarray, shape: tuple[int, int]
) -> sp.csr_array:
    """CSR of the cheapest arc per (tail, head); zero costs stay explicit edges."""
    order = np.lexsort((cost, head, tail))
    t, h, c = tail[order], head[order], cost[order]
    first = np.ones(len(t), dtype=bool)
    first[1:] = (t[1:] != t[:-1]) | (h[1:] != h[:-1])
    t, h, c = t[first], h[first], c[first]
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(t, minlength=shape[0]), out=indptr[1:])
    graph = sp.csr_array((c.astype(float), h.astype(np.int32), indptr), shape=shape)
    graph.has_sorted_indices = True
    return graph


# -- shortest paths ----------------------------------------------------------------------


def _sweep(
    graph: sp.csr_array,
    c_node: np.ndarray,
    g_node: np.ndarray,
    c_idx: np.ndarray,
    g_idx: np.ndarray,
    limit: float | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (centre, garrison) arcs with cost ≤ ``limit``, searching from the smaller side."""
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if len(c_idx) == 0 or len(g_idx) == 0:
        return empty
    reverse = len(c_idx) < len(g_idx)
    if reverse:
        graph = graph.T.tocsr()
        src_idx, src_node, dst_idx, dst_node = c_idx, c_node, g_idx, g_node
    else:
        src_idx, src_node, dst_idx, dst_node = g_idx, g_node, c_idx, c_node
    cutoff = np.inf if limit is None else float(np.nextafter(limit, np.inf))
    batch = max(1, min(len(src_idx), _BATCH_BYTES // (8 * graph.shape[0])))
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    targets = dst_node[dst_idx]
    for lo in range(0, len(src_idx), batch):
        sources = src_idx[lo : lo + batch]
        dist = dijkstra(graph, directed=True, indices=src_node[sources], limit=cutoff)
        sub = dist[:, targets]
        ok = np.isfinite(sub)
        if limit is not None:
            ok &= sub <= limit
        i, j = np.nonzero(ok)
        parts.append((sources[i], dst_idx[j], sub[i, j]))
    src = np.concatenate([p[0] for p in parts])
    dst = np.concatenate([p[1] for p in parts])
    cost = np.concatenate([p[2] for p in parts])
    rows, cols = (src, dst) if reverse else (dst, src)
    return rows.astype(np.int64), cols.astype(np.int64), cost


def _top_k(
    rows: np.ndarray, cols: np.ndarray, cost: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep the ``k`` cheapest arcs of each row (ties by column)."""
    order = np.lexsort((cols, cost, rows))
    r = rows[order]
    rank = np.arange(len(r)) - np.searchsorted(r, r, side="left")
    pick = order[rank < k]
    return rows[pick], cols[pick], cost[pick]


def _probe_limit(
    graph: sp.csr_array,
    c_node: np.ndarray,
    g_node: np.ndarray,
    c_on: np.ndarray,
    g_on: np.ndarray,
    k: int,
    c_snap: _Snap,
    g_snap: _Snap,
) -> np.ndarray:
    """Estimate each centre's k-th cheapest cost, calibrated on a few exact searches.

    The k-th nearest garrison in a straight line times 1.25 × the median cost-per-metre
    ratio seen on probe centres (searched without a limit) — a guess, not a bound: the
    search that uses it checks each centre and widens where the guess was short.
    """
    kk = min(k, len(g_on))
    tree = cKDTree(g_snap.point_xy[g_on])
    straight, _ = tree.query(c_snap.point_xy[c_on], k=kk)
    straight = straight.reshape(len(c_on), -1)[:, -1] + c_snap.distance_m[c_on]
    probes = np.unique(np.linspace(0, len(c_on) - 1, min(_PROBES, len(c_on))).astype(np.int64))
    rows, _, cost = _sweep(graph, c_node, g_node, c_on[probes], g_on, None)
    kth = pd.Series(cost).groupby(rows).nsmallest(kk).groupby(level=0).max()
    got = pd.Series(c_on[probes]).isin(kth.index).to_numpy()
    hit = c_on[probes][got]
    ratio = kth.loc[hit].to_numpy() / np.maximum(straight[probes][got], 1.0)
    scale = 1.25 * float(np.median(ratio)) if len(ratio) else 1.0
    guess: np.ndarray = np.maximum(straight * scale, 1.0)
    return guess


def _k_adaptive(
    graph: sp.csr_array,
    c_node: np.ndarray,
    g_node: np.ndarray,
    c_on: np.ndarray,
    g_on: np.ndarray,
    k: int,
    guess: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact k cheapest garrisons per centre: limited searches, widened where short.

    A centre is settled once ``k`` garrisons are found within the round's limit (any
    garrison not found costs more), or once a round ran without a limit.
    """
    kk = min(k, len(g_on))
    limit: float | None = float(np.quantile(guess, 0.9))
    longest = float(graph.data.sum())  # no shortest path costs more
    pending = c_on
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    while len(pending):
        rows, cols, cost = _sweep(graph, c_node, g_node, pending, g_on, limit)
        found = np.bincount(rows, minlength=int(c_on.max()) + 1)[pending]
        done = (found >= kk) if limit is not None else np.ones(len(pending), dtype=bool)
        keep = np.isin(rows, pending[done])
        parts.append(_top_k(rows[keep], cols[keep], cost[keep], k))
        logger.debug(
            "k-nearest round: limit %s, %d of %d centres settled",
            limit,
            int(done.sum()),
            len(pending),
        )
        pending = pending[~done]
        if limit is not None:
            # Widen 4× (few centres left: the search runs from them); no limit once very
            # few are left or the limit exceeds every path (centres on a road island).
            limit = 4.0 * limit
            if len(pending) <= _PROBES or limit >= longest:
                limit = None
    rows = np.concatenate([p[0] for p in parts])
    cols = np.concatenate([p[1] for p in parts])
    cost = np.concatenate([p[2] for p in parts])
    return rows, cols, cost


# -- helpers -----------------------------------------------------------------------------


def _edge_time(data: Mapping[str, Any]) -> float:
    if "travel_time" in data:
        return float(data["travel_time"])
    speed = data.get("speed_kph")
    if speed is None:
        highway = data.get("highway")
        highway = highway[0] if isinstance(highway, list) else highway
        speed = DEFAULT_SPEEDS_KMH.get(str(highway), FALLBACK_SPEED_KMH)
    return float(data["length"]) / (float(speed) / 3.6)


def _to_metres(
    xy: np.ndarray, geometry: np.ndarray, crs: pyproj.CRS
) -> tuple[np.ndarray, np.ndarray, pyproj.CRS]:
    """Project coordinates and lines to a UTM CRS when they are in degrees."""
    if not crs.is_geographic:
        unit = crs.axis_info[0].unit_name if crs.axis_info else "metre"
        if unit not in ("metre", "meter"):
            raise InputError(
                [Issue("network", "geometry", (), f"projected CRS must be in metres, not {unit}")]
            )
        return xy, geometry, crs
    lonlat = xy if len(xy) else np.array([[0.0, 0.0]])
    to_ll = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lon, lat = to_ll.transform(lonlat[:, 0], lonlat[:, 1])
    utm = gpd.GeoSeries(
        shapely.points([[float(np.median(lon)), float(np.median(lat))]]), crs="EPSG:4326"
    ).estimate_utm_crs()
    tr = pyproj.Transformer.from_crs(crs, utm, always_xy=True)
    x, y = tr.transform(xy[:, 0], xy[:, 1])
    projected = shapely.transform(
        geometry, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1]))
    )
    return np.column_stack([x, y]), np.asarray(projected, dtype=object), utm


def _xy(layer: gpd.GeoDataFrame, crs: pyproj.CRS) -> np.ndarray:
    geom = layer.geometry.to_crs(crs)
    return np.column_stack([geom.x.to_numpy(), geom.y.to_numpy()])


def _option_issues(offroad_speed_kmh: Any, max_snap_m: Any) -> list[Issue]:
    issues = []
    for name, value in (("offroad_speed_kmh", offroad_speed_kmh), ("max_snap_m", max_snap_m)):
        if not is_number(value, strict=True):
            issues.append(
                Issue("arguments", name, (), f"must be a positive number, got {value!r}")
            )
    return issues


def _roads_issues(roads: Any, speed_col: str | None, highway_col: str | None) -> list[Issue]:
    if not isinstance(roads, gpd.GeoDataFrame):
        return [Issue("network", None, (), f"must be a GeoDataFrame, got {type(roads).__name__}")]
    issues = []
    if roads.crs is None:
        issues.append(Issue("network", "geometry", (), "has no CRS; call .set_crs() first"))
    kinds = roads.geom_type
    bad = roads.index[roads.geometry.isna() | ~kinds.isin(["LineString", "MultiLineString"])]
    if len(bad):
        issues.append(Issue("network", "geometry", tuple(bad[:5]), "must be LineStrings"))
    has_speed = speed_col is not None and speed_col in roads.columns
    has_class = highway_col is not None and highway_col in roads.columns
    if not (has_speed or has_class):
        issues.append(
            Issue(
                "network",
                speed_col or highway_col,
                (),
                f"needs a speed column ({speed_col!r}, km/h) or a road-class column "
                f"({highway_col!r})",
            )
        )
    return issues


def _road_speeds(
    roads: gpd.GeoDataFrame,
    speed_col: str | None,
    highway_col: str | None,
    default_speeds_kmh: Mapping[str, float] | None,
) -> np.ndarray:
    speeds = np.full(len(roads), np.nan)
    if speed_col is not None and speed_col in roads.columns:
        speeds = pd.to_numeric(roads[speed_col], errors="coerce").to_numpy(float, copy=True)
    speeds[~(speeds > 0)] = np.nan
    missing = np.isnan(speeds)
    if missing.any():
        table = dict(DEFAULT_SPEEDS_KMH if default_speeds_kmh is None else default_speeds_kmh)
        if highway_col is not None and highway_col in roads.columns:
            cls = roads[highway_col].map(lambda v: v[0] if isinstance(v, list) else v)
            by_class = cls.map(table).to_numpy(float)
        else:
            by_class = np.full(len(roads), np.nan)
        speeds[missing] = np.where(
            np.isnan(by_class[missing]), FALLBACK_SPEED_KMH, by_class[missing]
        )
    return speeds


def _oneway_flags(
    roads: gpd.GeoDataFrame, oneway_col: str | None
) -> tuple[np.ndarray, np.ndarray]:
    n = len(roads)
    if oneway_col is None or oneway_col not in roads.columns:
        return np.ones(n, dtype=bool), np.ones(n, dtype=bool)
    text = roads[oneway_col].map(lambda v: str(v).strip().lower() if pd.notna(v) else "")
    text = text.to_numpy(dtype=object)
    is_forward = np.isin(text, list(_ONEWAY_FORWARD))
    is_reverse = np.isin(text, list(_ONEWAY_REVERSE))
    return ~is_reverse, ~is_forward
