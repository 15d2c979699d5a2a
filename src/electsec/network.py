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
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

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
from electsec.osm import (
    DEFAULT_SPEEDS_KMH,
    FALLBACK_SPEED_KMH,
    NO_HIGHWAY,
    RoadBuildReport,
    crossing_vertices,
    log_report,
    maxspeed_kmh,
    node_lines,
    osm_tags,
    select_roads,
)
from electsec.reach import RoadReach
from electsec.validation import is_number

__all__ = [
    "DEFAULT_SPEEDS_KMH",
    "FALLBACK_SPEED_KMH",
    "AugmentedGraph",
    "NetworkMetric",
    "RoadBuildReport",
    "RoadNetwork",
    "Snap",
    "augmented_graph",
    "network_costs",
    "points_xy",
    "read_osm_roads",
    "searched_cost_matrix",
    "shortest_arcs",
    "sources_per_batch",
]

logger = logging.getLogger(__name__)

NetworkMetric = Literal["travel_time", "road_distance"]

#: Bytes of Dijkstra output allowed per batch of sources (rows × nodes × 8).
_BATCH_BYTES = 96_000_000
#: Centres probed without a limit to calibrate the first limit of a pure k-nearest query.
_PROBES = 12


@dataclass(frozen=True)
class Snap:
    """Where points meet the network (all arrays aligned with the input points).

    Returned by :meth:`RoadNetwork.snap_xy`. A segment is one undirected road: the one or
    two directed edges between the same two junctions along the same line
    (:meth:`RoadNetwork.segments_of`).

    Attributes
    ----------
    segment
        int64 segment index of each point, -1 when off the network (farther than
        ``max_snap_m`` from every road).
    fraction
        Position of the snapped point along its segment, from the segment's lower-numbered
        end node (0..1).
    distance_m
        Straight-line distance from the point to the nearest road (also for points off
        the network; inf when the network has no road).
    point_xy
        (N, 2) snapped position in the network CRS (NaN when the network has no road).
    """

    segment: np.ndarray
    fraction: np.ndarray
    distance_m: np.ndarray
    point_xy: np.ndarray


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

    Attributes
    ----------
    build_report
        A :class:`~electsec.osm.RoadBuildReport`: lines read, kept and dropped per road
        class, junctions made (None when built from arrays).
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
        self.build_report: RoadBuildReport | None = None
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
            ``oneway_col``, ``highway_speeds_kmh``, ``drivable_only``, ``node_crossings``).

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
        highway_speeds_kmh: Mapping[str, float] | None = None,
        drivable_only: bool = True,
        offroad_speed_kmh: float = 20.0,
        max_snap_m: float = 5_000.0,
    ) -> RoadNetwork:
        """Convert a networkx ``MultiDiGraph`` in the osmnx convention.

        Nodes need ``x``/``y`` in ``graph.graph["crs"]`` (EPSG:4326 when absent), edges
        need ``length`` (metres). An edge's travel time is its ``travel_time`` (seconds,
        from ``osmnx.routing.add_edge_travel_times``) or, where that is absent, its
        length at ``speed_kph``, at its OSM ``maxspeed``, or at its ``highway`` class's
        speed in ``highway_speeds_kmh``; so ``RoadNetwork.from_osmnx(ox.graph_from_xml(
        path))`` works on an extract where few ways carry ``maxspeed``. Edge
        ``geometry`` is used when present.

        Parameters
        ----------
        graph
            The road graph (networkx is not imported here; the graph is only read).
        highway_speeds_kmh
            Speeds per road class (default :data:`DEFAULT_SPEEDS_KMH`); its keys are the
            drivable classes.
        drivable_only
            Drop edges whose ``highway`` class is not in ``highway_speeds_kmh`` (an OSM
            file read by ``osmnx.graph_from_xml`` holds footways, waterways and railways
            too). A graph whose edges carry no ``highway`` at all keeps every edge.
        offroad_speed_kmh, max_snap_m
            Snapping options (see the class).

        Returns
        -------
        RoadNetwork
            Its :attr:`build_report` counts the edges kept and dropped.

        Raises
        ------
        InputError
            For missing node coordinates or edge lengths, or a bad speed table.
        """
        issues = _table_issues(highway_speeds_kmh)
        if issues:
            raise InputError(issues)
        crs = pyproj.CRS(graph.graph.get("crs", "EPSG:4326"))
        ids, xy = _osmnx_nodes(graph)
        table = DEFAULT_SPEEDS_KMH if highway_speeds_kmh is None else highway_speeds_kmh
        edges, report = _osmnx_edges(graph, table, drivable_only=drivable_only)
        log_report(report, what="graph edges")
        position = {n: i for i, n in enumerate(ids)}
        tail = np.array([position[u] for u, _, _ in edges], dtype=np.int64)
        head = np.array([position[v] for _, v, _ in edges], dtype=np.int64)
        length, time = _osmnx_costs(edges, table)
        geometry = np.array([d.get("geometry") for _, _, d in edges], dtype=object)
        missing = np.array([g is None for g in geometry], dtype=bool)
        if edges and missing.any():
            geometry[missing] = shapely.linestrings(
                np.stack([xy[tail[missing]], xy[head[missing]]], axis=1)
            )
        xy, geometry, crs = _to_metres(xy, geometry, crs)
        net = cls(
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
        net.build_report = report
        return net

    @classmethod
    def from_roads(
        cls,
        roads: gpd.GeoDataFrame,
        *,
        speed_col: str | None = "maxspeed_kmh",
        highway_col: str | None = "highway",
        oneway_col: str | None = "oneway",
        highway_speeds_kmh: Mapping[str, float] | None = None,
        drivable_only: bool = True,
        node_crossings: bool = False,
        offroad_speed_kmh: float = 20.0,
        max_snap_m: float = 5_000.0,
    ) -> RoadNetwork:
        """Build the graph from road LineStrings (networkx is not needed).

        Lines meet at every vertex they share (as OpenStreetMap ways meet at shared
        nodes), including one line's end on another's interior. A road that crosses
        another without a shared vertex (a bridge) does not connect to it, unless
        ``node_crossings=True``. What was dropped is in :attr:`build_report` and logged
        as a warning.

        Parameters
        ----------
        roads
            Road LineStrings (MultiLineStrings are split) with a CRS, e.g. the ``lines``
            layer of an OpenStreetMap file (see :meth:`from_osm`).
        speed_col
            Column of speeds in km/h; missing or non-positive values fall back to an OSM
            ``maxspeed`` tag, then to the road class.
        highway_col
            Column of road classes (OSM ``highway`` values) mapped to speeds. A layer
            without it keeps every line (it then needs ``speed_col``).
        oneway_col
            Column of one-way flags: true/``"yes"``/``1`` = drawn direction only,
            ``"-1"``/``"reverse"`` = against it; anything else = both ways. Without that
            column, the ``oneway`` of ``other_tags`` (GDAL's OSM driver) is read, and
            ``junction=roundabout`` is one-way.
        highway_speeds_kmh
            Speeds per road class (default :data:`DEFAULT_SPEEDS_KMH`); its keys are the
            drivable classes.
        drivable_only
            Drop lines whose class is not in ``highway_speeds_kmh`` (footways, paths,
            and lines with no class such as waterways and railways). False keeps them,
            driven at :data:`FALLBACK_SPEED_KMH` unless they carry a speed.
        node_crossings
            Also join lines where they cross or touch without a shared vertex, except
            where either is a ``bridge`` or ``tunnel`` or their ``layer`` values differ.
        offroad_speed_kmh, max_snap_m
            Snapping options (see the class).

        Returns
        -------
        RoadNetwork

        Raises
        ------
        InputError
            For a missing CRS, non-line geometries, no usable speed, a bad speed table,
            or no drivable line left.
        """
        issues = _roads_issues(roads, speed_col, highway_col)
        issues += _table_issues(highway_speeds_kmh)
        if issues:
            raise InputError(issues)
        lines, report = select_roads(
            roads,
            speed_col=speed_col,
            highway_col=highway_col,
            oneway_col=oneway_col,
            highway_speeds_kmh=highway_speeds_kmh,
            drivable_only=drivable_only,
        )
        log_report(report)
        if report.kept == 0:
            raise InputError([_nothing_kept(report)])
        graph = _line_graph(lines, pyproj.CRS(roads.crs), node_crossings=node_crossings)
        net = cls(
            graph.node_xy,
            graph.tail,
            graph.head,
            graph.length_m,
            graph.time_s,
            geometry=graph.geometry,
            crs=graph.crs,
            offroad_speed_kmh=offroad_speed_kmh,
            max_snap_m=max_snap_m,
        )
        net.build_report = dataclasses.replace(
            report,
            interior_junctions=graph.interior_junctions,
            crossings_joined=graph.crossings_joined,
            crossings_left=graph.crossings_left,
        )
        return net

    @classmethod
    def from_osm(cls, path: str | os.PathLike[str], **options: Any) -> RoadNetwork:
        """Read an OpenStreetMap ``.osm`` or ``.pbf`` file (GDAL's OSM driver, via pyogrio).

        Its ``lines`` layer goes to :meth:`from_roads`: drivable classes only, one-way,
        ``maxspeed``, bridges and layers read from the OSM tags, junctions where ways share
        a node. Closed ``highway`` ways that GDAL files as polygons (a loop road tagged
        ``amenity=parking``, say) are taken from the ``multipolygons`` layer as lines,
        unless tagged ``area=yes``; the ``lines`` layer alone misses them.

        Parameters
        ----------
        path
            The OpenStreetMap file.
        **options
            Options of :meth:`from_roads` (``highway_speeds_kmh``, ``drivable_only``,
            ``node_crossings``, ``offroad_speed_kmh``, ``max_snap_m``, ...).

        Returns
        -------
        RoadNetwork

        Raises
        ------
        InputError
            If the file is missing or is not OpenStreetMap data, or for a bad option.
        """
        roads = _read_osm_lines(Path(path))
        return cls.from_roads(roads, **options)

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], *, layer: str | None = None, **options: Any
    ) -> RoadNetwork:
        """Read a road layer from any file: OpenStreetMap (:meth:`from_osm`) or GIS layers.

        Parameters
        ----------
        path
            An ``.osm``/``.pbf`` file, or any file geopandas reads (GeoPackage, Shapefile,
            GeoJSON...).
        layer
            The layer of a multi-layer file (required when it has several; an OSM file's
            default is ``lines``).
        **options
            Options of :meth:`from_roads`.

        Returns
        -------
        RoadNetwork

        Raises
        ------
        InputError
            If the file is missing or unreadable, or ``layer`` is absent or not in the
            file (the message lists its layers).
        """
        path = Path(path)
        if path.suffix.lower() in (".osm", ".pbf") and layer in (None, "lines"):
            return cls.from_osm(path, **options)
        roads = _read_layer(path, layer)
        return cls.from_roads(roads, **options)

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
        snap = self._snap(points_xy(layer, self.crs))
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

    def snap_xy(self, xy: np.ndarray) -> Snap:
        """Snap points given as coordinates in the network CRS to their nearest segment.

        The array form of :meth:`snap`, for code that builds its own graph on the
        segments (:func:`network_costs` and the closure and timeline re-pricing).

        Parameters
        ----------
        xy
            (N, 2) point coordinates in :attr:`crs` (metres).

        Returns
        -------
        Snap
            The segment, position along it, distance and snapped point of each point.

        See Also
        --------
        snap : The same for a layer of points, as a table.
        """
        return self._snap(np.asarray(xy, dtype=float).reshape(-1, 2))

    @property
    def n_segments(self) -> int:
        """Undirected segments: the snapping targets (see :meth:`segments_of`)."""
        return len(self._seg_geom)

    def segments_of(self, edges: np.ndarray) -> np.ndarray:
        """Return the segment of each directed edge.

        Both directions of a two-way road share one segment; an edge of no length that
        starts and ends at one junction has none.

        Parameters
        ----------
        edges
            Edge ids: positions in :attr:`tail` / :attr:`head`.

        Returns
        -------
        numpy.ndarray
            int64 segment index per edge (0 to :attr:`n_segments` - 1), -1 for no segment.
        """
        found: np.ndarray = self._edge_seg[np.asarray(edges, dtype=np.int64)]
        return found

    def segment_geometries(self, segments: np.ndarray) -> np.ndarray:
        """Return the lines of ``segments``, drawn from the lower-numbered end node.

        Parameters
        ----------
        segments
            Segment indices (0 to :attr:`n_segments` - 1), as in :attr:`Snap.segment`.

        Returns
        -------
        numpy.ndarray
            One shapely LineString per segment, in :attr:`crs`.
        """
        found: np.ndarray = self._seg_geom[np.asarray(segments, dtype=np.int64)]
        return found

    def without(self, edges: np.ndarray) -> RoadNetwork:
        """Return this network with the directed ``edges`` removed (roads closed).

        Parameters
        ----------
        edges
            Edge ids: positions in :attr:`tail` / :attr:`head` (one direction each; a
            two-way road has one edge per direction).

        Returns
        -------
        RoadNetwork
            A new network (this one is unchanged), with the same snapping options and
            build report; points snapped to a road closed both ways snap to another.
        """
        keep = np.ones(self.n_edges, dtype=bool)
        keep[np.asarray(edges, dtype=np.int64)] = False
        net = RoadNetwork(
            self.node_xy,
            self.tail[keep],
            self.head[keep],
            self.length_m[keep],
            self.time_s[keep],
            geometry=self._edge_geom[keep],
            crs=self.crs,
            offroad_speed_kmh=self.offroad_speed_kmh,
            max_snap_m=self.max_snap_m,
        )
        net.build_report = self.build_report
        return net

    def edges_in(self, polygon: shapely.Geometry) -> np.ndarray:
        """Return the ids of the directed edges whose road meets ``polygon`` (lon/lat)."""
        to_net = pyproj.Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)
        area = shapely.transform(polygon, lambda xy: np.column_stack(to_net.transform(*xy.T)))
        found: np.ndarray = np.flatnonzero(shapely.intersects(self._edge_geom, area))
        return found

    # -- internals ---------------------------------------------------------------------

    def _segments(self, geometry: np.ndarray) -> None:
        """Collapse directed edges to undirected segments (the snapping targets).

        The two directions of one road pair up by their end nodes, length and midpoint
        (to the decimetre); two roads joining the same two junctions (a loop beside a
        straight street, parallel edges of a simplified osmnx graph, even of one length)
        stay two segments. A loop from a junction back to it (a simplified cul-de-sac
        loop) is a segment too.
        """
        self._edge_geom = geometry  # each edge's own line, for drawing routes
        a = np.minimum(self.tail, self.head)
        b = np.maximum(self.tail, self.head)
        loop = a == b
        loop[loop] = shapely.length(geometry[loop]) > 0
        proper = np.flatnonzero((a != b) | loop)
        decimetres = np.rint(self.length_m[proper] * 10.0).astype(np.int64)
        middle = shapely.line_interpolate_point(geometry[proper], 0.5, normalized=True)
        mid_dm = np.rint(shapely.get_coordinates(middle) * 10.0).astype(np.int64)
        key = np.column_stack([a[proper], b[proper], decimetres, mid_dm])
        uniq, first, seg_of = np.unique(key, axis=0, return_index=True, return_inverse=True)
        seg_of = seg_of.ravel()
        self._edge_seg = np.full(len(self.tail), -1, dtype=np.int64)  # -1: no segment
        self._edge_seg[proper] = seg_of
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
        # A loop's direction: drawn as its segment's geometry, or reversed.
        looped = loop[proper]
        along[looped] = shapely.equals_exact(
            geometry[proper][looped], geom[seg_of[looped]], tolerance=0.0
        )
        self._seg_cost: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name, weight in (("time", self.time_s), ("length", self.length_m)):
            ab = np.full(len(uniq), np.inf)
            ba = np.full(len(uniq), np.inf)
            np.minimum.at(ab, seg_of[along], weight[proper][along])
            np.minimum.at(ba, seg_of[~along], weight[proper][~along])
            self._seg_cost[name] = (ab, ba)
        self._tree = shapely.STRtree(geom)

    def _snap(self, xy: np.ndarray) -> Snap:
        n = len(xy)
        segment = np.full(n, -1, dtype=np.int64)
        fraction = np.zeros(n)
        distance = np.full(n, np.inf)
        point_xy = np.full((n, 2), np.nan)
        if n == 0 or len(self._seg_geom) == 0:
            return Snap(segment, fraction, distance, point_xy)
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
        return Snap(segment, fraction, distance, point_xy)

    def _graph(self, weight: str) -> sp.csr_array:
        """CSR graph of the cheapest edge per directed node pair."""
        if weight not in self._graphs:
            cost = self.time_s if weight == "time" else self.length_m
            self._graphs[weight] = _min_csr(
                self.tail, self.head, cost, (self.n_nodes, self.n_nodes)
            )
        return self._graphs[weight]

    def paths(
        self,
        centers: gpd.GeoSeries | gpd.GeoDataFrame,
        garrisons: gpd.GeoSeries | gpd.GeoDataFrame,
        *,
        metric: NetworkMetric = "travel_time",
    ) -> gpd.GeoSeries:
        """Return the road route from each garrison to the centre paired with it.

        The route is the shortest path on the very graph :func:`network_costs` prices
        (same snapping, off-road legs and one-way rules), found with scipy's Dijkstra
        predecessors: its travel time (or length) is the pair's cost in
        ``distance_matrix(..., metric=metric, network=self)``.

        Parameters
        ----------
        centers, garrisons
            Point layers (or GeoSeries) of equal length with a CRS: pair ``i`` runs
            from ``garrisons[i]`` to ``centers[i]``.
        metric
            ``"travel_time"`` (the fastest route) or ``"road_distance"`` (the shortest).

        Returns
        -------
        geopandas.GeoSeries
            One LineString per pair in EPSG:4326, indexed like ``centers``: the off-road
            leg from the garrison to its road, the roads driven, the leg to the centre.
            None where no route exists (off the network, or on another road piece).

        Raises
        ------
        InputError
            For a bad ``metric`` or layers of different lengths.
        """
        issues = _metric_issues(metric)
        if len(centers) != len(garrisons):
            message = f"needs one garrison per centre, got {len(garrisons)} for {len(centers)}"
            issues.append(Issue("arguments", "garrisons", (), message))
        if issues:
            raise InputError(issues)
        weight = "time" if metric == "travel_time" else "length"
        offroad = 3.6 / self.offroad_speed_kmh if weight == "time" else 1.0
        c_xy, c_of = np.unique(points_xy(centers, self.crs), axis=0, return_inverse=True)
        g_xy, g_of = np.unique(points_xy(garrisons, self.crs), axis=0, return_inverse=True)
        cost = self.time_s if weight == "time" else self.length_m
        edge_key = self.tail * max(self.n_nodes, 1) + self.head
        cheapest = np.lexsort((cost, edge_key))  # per (tail, head): the edge the graph keeps
        ends = _Ends(self._snap(c_xy), self._snap(g_xy), c_xy, g_xy, edge_key[cheapest], cheapest)
        graph, g_node, c_node = augmented_graph(
            self, weight, offroad, ends.centers, ends.garrisons
        )
        routes = np.full(len(c_of), None, dtype=object)
        used = np.unique(g_of.ravel())
        batch = max(1, _BATCH_BYTES // (12 * graph.shape[0]))
        for lo in range(0, len(used), batch):
            sources = used[lo : lo + batch]
            _, pred = dijkstra(graph, indices=g_node[sources], return_predecessors=True)
            for row, j in enumerate(sources):
                for pair in np.flatnonzero(g_of.ravel() == j):
                    i = int(c_of.ravel()[pair])
                    nodes = _walk(pred[row], int(g_node[j]), int(c_node[i]))
                    if nodes is not None:
                        routes[pair] = _route(self, nodes, ends, int(j), i)
        index = centers.index
        return gpd.GeoSeries(routes, crs=self.crs, index=index).to_crs("EPSG:4326")


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
    c_xy, g_xy = points_xy(centers, net.crs), points_xy(garrisons, net.crs)
    c_snap, g_snap = net._snap(c_xy), net._snap(g_xy)
    graph, g_node, c_node = augmented_graph(net, weight, offroad, c_snap, g_snap)
    c_on = np.flatnonzero(c_snap.segment >= 0)
    g_on = np.flatnonzero(g_snap.segment >= 0)
    if k is not None and max_cost is None and len(c_on) and len(g_on):
        probe = _probe_limit(graph, c_node, g_node, c_on, g_on, k, c_snap, g_snap)
        rows, cols, cost = _k_adaptive(graph, c_node, g_node, c_on, g_on, k, probe)
    else:
        rows, cols, cost = shortest_arcs(graph, c_node, g_node, c_on, g_on, max_cost)
        if k is not None:
            rows, cols, cost = _top_k(rows, cols, cost, k)
    snaps, xys = (c_snap, g_snap), (c_xy, g_xy)
    layers, arcs = (centers, garrisons), (rows, cols, cost)
    return searched_cost_matrix(net, graph, g_node, layers, snaps, xys, arcs, weight=weight)


def searched_cost_matrix(
    net: RoadNetwork,
    graph: Any,
    g_node: np.ndarray,
    layers: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame],
    snaps: tuple[Snap, Snap],
    xys: tuple[np.ndarray, np.ndarray],
    arcs: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    weight: str,
) -> CostMatrix:
    """Return the :class:`CostMatrix` of arcs searched on ``net``'s ``graph``, and road facts.

    Adds what a plan must carry: the centres left with no arc, the road facts per
    centre and the warnings (also logged). :func:`network_costs` ends here, and so
    does any module that searches a graph of its own (the road closures).

    Parameters
    ----------
    net
        The road network ``graph`` was built from (:func:`augmented_graph`).
    graph
        The augmented graph that was searched.
    g_node
        The garrisons' virtual nodes in ``graph`` (``AugmentedGraph.garrison_node``).
    layers
        The centres and the garrisons (ids as index).
    snaps
        Their snaps to ``net`` (:meth:`RoadNetwork.snap_xy`), centres first.
    xys
        Their points in ``net.crs`` (:func:`points_xy`), centres first.
    arcs
        The (centre position, garrison position, cost) arrays found, each pair once.
    weight
        What ``graph`` costs: ``"time"`` (seconds) or ``"length"`` (metres).

    Returns
    -------
    CostMatrix
        ``metric="travel_time"`` (unit ``"s"``) or ``"road_distance"`` (unit ``"m"``),
        with ``unreachable``, ``road`` and ``warnings`` filled.
    """
    (centers, garrisons), (c_snap, g_snap), (c_xy, g_xy) = layers, snaps, xys
    rows, cols, cost = arcs
    n, m = len(centers), len(garrisons)
    matrix = arcs_to_csr(rows, cols, cost, shape=(n, m))
    reached = np.zeros(n, dtype=bool)
    reached[rows] = True
    unreachable = tuple(str(c) for c in centers.index[~reached])
    road, g_piece_centers = _road_facts(net, c_snap, g_snap, c_xy, g_xy)
    road = _with_unreached(road, net, graph, g_node[g_snap.segment >= 0], c_snap)
    warnings = _build_warnings(net.build_report) + _road_warnings(
        centers, garrisons, c_snap, g_snap, road, g_piece_centers
    )
    for text in warnings:
        logger.info("%s", text)
    metric = "travel_time" if weight == "time" else "road_distance"
    return CostMatrix(
        matrix,
        centers.index,
        garrisons.index,
        unit="s" if metric == "travel_time" else "m",
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
    net: RoadNetwork, c_snap: Snap, g_snap: Snap, c_xy: np.ndarray, g_xy: np.ndarray
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
    road: RoadReach, net: RoadNetwork, graph: sp.csr_array, sources: np.ndarray, c_snap: Snap
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


def _piece_of(net: RoadNetwork, piece: np.ndarray, snap: Snap) -> np.ndarray:
    """Road piece of each snapped point (-1 off the network)."""
    found = np.full(len(snap.segment), -1, dtype=np.int64)
    on = snap.segment >= 0
    found[on] = piece[net._seg_a[snap.segment[on]]]
    return found


def _build_warnings(report: RoadBuildReport | None) -> tuple[str, ...]:
    """Say what building the network left out (dropped classes, fallback speeds)."""
    if report is None:
        return ()
    out = []
    if report.n_dropped:
        shown = ", ".join(f"{k} {v}" for k, v in sorted(report.dropped.items()))
        out.append(
            f"{report.n_dropped} of {report.lines} road lines are not driven (dropped: "
            f"{shown}); pass highway_speeds_kmh= or drivable_only=False to keep them"
        )
    if report.fallback_speed:
        out.append(
            f"{report.fallback_speed} road lines have neither a speed nor a known class and "
            f"are driven at {FALLBACK_SPEED_KMH:g} km/h"
        )
    return tuple(out)


def _road_warnings(
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    c_snap: Snap,
    g_snap: Snap,
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


class AugmentedGraph(NamedTuple):
    """The road graph with one virtual node per garrison and per centre.

    Unpacks as ``graph, garrison_node, center_node``.
    """

    #: CSR graph: the road nodes, then the garrisons' nodes, then the centres'.
    graph: sp.csr_array
    #: Node of each garrison (a source: arcs lead out of it only), by position.
    garrison_node: np.ndarray
    #: Node of each centre (a sink: arcs lead into it only), by position.
    center_node: np.ndarray


def augmented_graph(
    net: RoadNetwork, weight: str, offroad: float, c_snap: Snap, g_snap: Snap
) -> AugmentedGraph:
    """Return the road graph plus one virtual node per garrison (source) and centre (sink).

    How the points join their segments is in the module's Notes. A point with no
    road (``segment == -1``) keeps a node with no arc.

    Parameters
    ----------
    net
        The road network.
    weight
        The edge cost: ``"time"`` (seconds) or ``"length"`` (metres).
    offroad
        Cost of one off-road metre: ``3.6 / net.offroad_speed_kmh`` seconds for
        ``"time"``, 1.0 for ``"length"``.
    c_snap, g_snap
        The centres' and garrisons' snaps to ``net`` (:meth:`RoadNetwork.snap_xy`).

    Returns
    -------
    AugmentedGraph
        The graph and the nodes of the garrisons and of the centres, by position.
    """
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

    def attach(snap: Snap, virtual: np.ndarray, *, source: bool) -> None:
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
    return AugmentedGraph(graph, g_node, c_node)


def _same_segment(
    g_snap: Snap, c_snap: Snap, ab: np.ndarray, ba: np.ndarray, offroad: float
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


def sources_per_batch(n_nodes: int) -> int:
    """Return how many Dijkstra sources to search at once on a graph of ``n_nodes``.

    Parameters
    ----------
    n_nodes
        Nodes of the graph searched (``graph.shape[0]``).

    Returns
    -------
    int
        At least 1; a batch's output (sources × nodes × 8 bytes) stays within 96 MB.
    """
    return max(1, _BATCH_BYTES // (8 * n_nodes))


def shortest_arcs(
    graph: sp.csr_array,
    c_node: np.ndarray,
    g_node: np.ndarray,
    c_idx: np.ndarray,
    g_idx: np.ndarray,
    limit: float | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return all (centre, garrison) arcs with cost ≤ ``limit``, searched from the smaller side.

    Parameters
    ----------
    graph
        An augmented graph (:func:`augmented_graph`).
    c_node, g_node
        The centres' and garrisons' nodes in ``graph``, by position.
    c_idx, g_idx
        The positions of the centres and garrisons to pair.
    limit
        Largest cost kept (seconds or metres), or None for every reachable pair.

    Returns
    -------
    tuple of numpy.ndarray
        ``(rows, cols, cost)``: centre positions, garrison positions (int64) and costs
        of the reachable pairs; unreachable pairs are absent.
    """
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
    batch = min(len(src_idx), sources_per_batch(graph.shape[0]))
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
    c_snap: Snap,
    g_snap: Snap,
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
    rows, _, cost = shortest_arcs(graph, c_node, g_node, c_on[probes], g_on, None)
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
        rows, cols, cost = shortest_arcs(graph, c_node, g_node, pending, g_on, limit)
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


def _read_layer(path: Path, layer: str | None) -> gpd.GeoDataFrame:
    """Return one layer of a GIS file, naming the file's layers when ``layer`` is wrong."""
    from electsec.io import _layer  # noqa: PLC0415 - the readers' own layer check

    if not path.is_file():
        message = f"{path}: file not found; give a road layer or an .osm/.pbf file"
        raise InputError([Issue("arguments", "path", (), message)])
    try:
        roads: gpd.GeoDataFrame = gpd.read_file(
            path, engine="pyogrio", layer=_layer(path, "network", layer)
        )
    except (OSError, ValueError, RuntimeError) as exc:
        if isinstance(exc, InputError):
            raise
        message = f"cannot read {path}: {exc}"
        raise InputError([Issue("network", None, (), message)]) from exc
    return roads


def read_osm_roads(path: str | os.PathLike[str]) -> gpd.GeoDataFrame:
    """Read the ways of an OpenStreetMap ``.osm``/``.pbf`` file as lines (GDAL's OSM driver).

    The ``lines`` layer, plus the closed ``highway`` ways GDAL files as polygons (a loop
    road, unless tagged ``area=yes``), as :meth:`RoadNetwork.from_osm` builds on.

    Parameters
    ----------
    path
        The OpenStreetMap file.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per way: ``osm_id``, ``highway``, ``other_tags`` (hstore), ...; EPSG:4326.

    Raises
    ------
    InputError
        If the file is missing or is not OpenStreetMap data.
    """
    return _read_osm_lines(Path(path))


def _read_osm_lines(path: Path) -> gpd.GeoDataFrame:
    """Return the ``lines`` layer of an OpenStreetMap file, or raise a pointed InputError."""
    import pyogrio  # noqa: PLC0415 - only for OSM files

    def refuse(message: str) -> InputError:
        return InputError([Issue("arguments", "path", (), f"{path}: {message}")])

    if not path.is_file():
        raise refuse("file not found; give the path of an OpenStreetMap .osm or .pbf file")
    try:
        driver = pyogrio.read_info(path, layer="lines").get("driver")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise refuse(
            f"is not an OpenStreetMap .osm/.pbf file ({exc}); for another road layer use "
            "RoadNetwork.from_roads(geopandas.read_file(path, layer=...))"
        ) from exc
    if driver != "OSM":
        raise refuse(
            f"is a {driver} file, not OpenStreetMap; use "
            "RoadNetwork.from_roads(geopandas.read_file(path, layer=...))"
        )
    lines = pyogrio.read_dataframe(path, layer="lines")
    return pd.concat([lines, _closed_highways(path)], ignore_index=True)


def _closed_highways(path: Path) -> gpd.GeoDataFrame:
    """Return closed ``highway`` ways that GDAL's OSM driver files as polygons, as lines.

    A closed way is a polygon to GDAL when it carries an area-like tag, but to OSM a
    closed ``highway`` way is a loop road unless it is tagged ``area=yes`` (a square).
    """
    import pyogrio  # noqa: PLC0415 - only for OSM files

    areas = pyogrio.read_dataframe(
        path, layer="multipolygons", columns=["osm_way_id", "other_tags"]
    )
    tags = osm_tags(areas, ("highway", "area"))
    area = tags["area"].map(lambda v: str(v).strip().lower() if v is not None else "")
    loop = areas["osm_way_id"].notna() & tags["highway"].notna() & (area != "yes")
    return gpd.GeoDataFrame(
        {
            "osm_id": areas.loc[loop, "osm_way_id"],
            "highway": tags.loc[loop, "highway"],
            "other_tags": areas.loc[loop, "other_tags"],
        },
        geometry=areas.geometry[loop].boundary,
        crs=areas.crs,
    )


def _osmnx_nodes(graph: Any) -> tuple[list[Any], np.ndarray]:
    """Return node ids and their (x, y)."""
    nodes = list(graph.nodes(data=True))
    try:
        xy = np.array([[d["x"], d["y"]] for _, d in nodes], dtype=float).reshape(-1, 2)
    except KeyError as exc:
        raise InputError(
            [Issue("network", "x/y", (), "every node needs 'x' and 'y' coordinates")]
        ) from exc
    return [n for n, _ in nodes], xy


def _edge_class(highway: Any, table: Mapping[str, float]) -> str | None:
    """Return an edge's class; of a list (osmnx merged ways), the first not in ``table``.

    A simplified osmnx graph merges a road and the footway that continues it into one
    edge: it is dropped whole rather than letting teams drive the footway.
    """
    if isinstance(highway, list):
        return next((h for h in highway if h not in table), highway[0] if highway else None)
    return None if highway is None else str(highway)


def _class_speed(highway: Any, table: Mapping[str, float]) -> float:
    """Return the class speed of an edge: of merged classes, their mean (as osmnx does)."""
    classes = highway if isinstance(highway, list) else [highway]
    speeds = [float(table[h]) for h in classes if h in table]
    return float(np.mean(speeds)) if speeds else float("nan")


def _osmnx_edges(
    graph: Any, table: Mapping[str, float], *, drivable_only: bool
) -> tuple[list[tuple[Any, Any, dict[str, Any]]], RoadBuildReport]:
    """Return the drivable edges (all when no edge has a class) and what was dropped."""
    edges = list(graph.edges(data=True))
    if any("length" not in d for _, _, d in edges):
        raise InputError(
            [Issue("network", "length", (), "every edge needs 'length' in metres (osmnx adds it)")]
        )
    classes = [_edge_class(d.get("highway"), table) for _, _, d in edges]
    if not drivable_only or all(c is None for c in classes):
        return edges, RoadBuildReport(lines=len(edges), kept=len(edges))
    keep = [c in table for c in classes]
    dropped = pd.Series([c or NO_HIGHWAY for c, k in zip(classes, keep, strict=True) if not k])
    counts = dropped.value_counts()
    report = RoadBuildReport(
        lines=len(edges),
        kept=int(sum(keep)),
        dropped=MappingProxyType({str(k): int(v) for k, v in counts.items()}),
    )
    return [e for e, k in zip(edges, keep, strict=True) if k], report


def _osmnx_costs(
    edges: list[tuple[Any, Any, dict[str, Any]]], table: Mapping[str, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Return edge lengths (m) and times (s): given, else imputed from speeds or classes."""
    data = [d for _, _, d in edges]
    length = np.array([float(d["length"]) for d in data], dtype=float)
    given = pd.to_numeric(pd.Series([d.get("travel_time") for d in data]), errors="coerce")
    kph = pd.to_numeric(pd.Series([d.get("speed_kph") for d in data]), errors="coerce")
    speed = kph.to_numpy(float, na_value=np.nan, copy=True)
    speed[~(speed > 0)] = np.nan
    maxspeed = maxspeed_kmh(pd.Series([d.get("maxspeed") for d in data], dtype=object))
    by_class = np.array([_class_speed(d.get("highway"), table) for d in data], dtype=float)
    speed = np.where(np.isnan(speed), maxspeed, speed)
    speed = np.where(np.isnan(speed), by_class, speed)
    speed[np.isnan(speed)] = FALLBACK_SPEED_KMH
    time = given.to_numpy(float, na_value=np.nan, copy=True)
    time = np.where(np.isfinite(time), time, length / (speed / 3.6))
    return length, time


def _metric_crs(xy: np.ndarray, crs: pyproj.CRS) -> tuple[pyproj.Transformer | None, pyproj.CRS]:
    """Return the UTM zone of ``xy`` and a transformer to it when ``crs`` is in degrees."""
    if not crs.is_geographic:
        unit = crs.axis_info[0].unit_name if crs.axis_info else "metre"
        if unit not in ("metre", "meter"):
            raise InputError(
                [Issue("network", "geometry", (), f"projected CRS must be in metres, not {unit}")]
            )
        return None, crs
    lonlat = xy if len(xy) else np.array([[0.0, 0.0]])
    to_ll = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lon, lat = to_ll.transform(lonlat[:, 0], lonlat[:, 1])
    utm = gpd.GeoSeries(
        shapely.points([[float(np.median(lon)), float(np.median(lat))]]), crs="EPSG:4326"
    ).estimate_utm_crs()
    return pyproj.Transformer.from_crs(crs, utm, always_xy=True), utm


def _to_metres(
    xy: np.ndarray, geometry: np.ndarray, crs: pyproj.CRS
) -> tuple[np.ndarray, np.ndarray, pyproj.CRS]:
    """Project coordinates and lines to a UTM CRS when they are in degrees."""
    tr, utm = _metric_crs(xy, crs)
    if tr is None:
        return xy, geometry, crs
    x, y = tr.transform(xy[:, 0], xy[:, 1])
    projected = shapely.transform(
        geometry, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1]))
    )
    return np.column_stack([x, y]), np.asarray(projected, dtype=object), utm


def points_xy(layer: gpd.GeoDataFrame, crs: pyproj.CRS) -> np.ndarray:
    """Return the points of ``layer`` as x/y in ``crs`` (the network's, for snapping).

    Parameters
    ----------
    layer
        A point layer (or GeoSeries) with a CRS.
    crs
        The CRS wanted, usually ``RoadNetwork.crs``.

    Returns
    -------
    numpy.ndarray
        ``(n, 2)`` floats, in the layer's order.
    """
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


@dataclass(frozen=True)
class _LineGraph:
    """Directed edges made from noded road lines, in a metric CRS."""

    node_xy: np.ndarray
    tail: np.ndarray
    head: np.ndarray
    length_m: np.ndarray
    time_s: np.ndarray
    geometry: np.ndarray
    crs: pyproj.CRS
    interior_junctions: int
    crossings_joined: int
    crossings_left: int


def _line_graph(lines: Any, crs: pyproj.CRS, *, node_crossings: bool) -> _LineGraph:
    """Node the kept lines, project them to metres and make one edge per direction."""
    coords, line = shapely.get_coordinates(lines.geometry, return_index=True)
    joined = left = 0
    if node_crossings:
        coords, line, joined, left = crossing_vertices(lines, coords, line)
    noded = node_lines(coords, line)
    transformer, crs_m = _metric_crs(noded.node_coords, crs)
    node_xy, piece_xy = noded.node_coords, noded.piece_coords
    if transformer is not None:
        node_xy = np.column_stack(transformer.transform(node_xy[:, 0], node_xy[:, 1]))
        piece_xy = np.column_stack(transformer.transform(piece_xy[:, 0], piece_xy[:, 1]))
    geom = np.asarray(shapely.linestrings(piece_xy, indices=noded.piece_of), dtype=object)
    length = shapely.length(geom)
    of = noded.piece_line
    time = length / (lines.speed_kmh[of] / 3.6)
    fw, bw = lines.forward[of], lines.backward[of]
    return _LineGraph(
        node_xy=node_xy,
        tail=np.concatenate([noded.tail[fw], noded.head[bw]]),
        head=np.concatenate([noded.head[fw], noded.tail[bw]]),
        length_m=np.concatenate([length[fw], length[bw]]),
        time_s=np.concatenate([time[fw], time[bw]]),
        geometry=np.concatenate([geom[fw], shapely.reverse(geom[bw])]),
        crs=crs_m,
        interior_junctions=noded.interior_junctions,
        crossings_joined=joined,
        crossings_left=left,
    )


def _table_issues(table: Any) -> list[Issue]:
    """Check that a speed table maps class names to positive speeds."""
    if table is None:
        return []
    if not isinstance(table, Mapping):
        got = type(table).__name__
        return [Issue("arguments", "highway_speeds_kmh", (), f"must be a mapping, got {got}")]
    bad = tuple(str(k) for k, v in table.items() if not is_number(v, strict=True))
    if bad:
        return [
            Issue(
                "arguments",
                "highway_speeds_kmh",
                bad[:5],
                "speeds must be positive numbers (km/h) per highway class",
            )
        ]
    return []


def _nothing_kept(report: RoadBuildReport) -> Issue:
    shown = ", ".join(f"{k} {v}" for k, v in report.dropped.items())
    return Issue(
        "network",
        "highway",
        (),
        f"no drivable road among {report.lines} lines (dropped: {shown or 'none'}); pass "
        "highway_speeds_kmh= with the classes to drive, or drivable_only=False",
    )


# -- road routes (RoadNetwork.paths) -------------------------------------------------------


@dataclass(frozen=True)
class _Ends:
    """Distinct centre and garrison points of :meth:`RoadNetwork.paths`, snapped."""

    centers: Snap
    garrisons: Snap
    center_xy: np.ndarray
    garrison_xy: np.ndarray
    edge_key: np.ndarray  # tail × n_nodes + head of the edges, sorted (cheapest first)
    edge: np.ndarray  # the edge index of each key


def _metric_issues(metric: Any) -> list[Issue]:
    if metric in ("travel_time", "road_distance"):
        return []
    message = f"unknown network metric {metric!r}; use 'travel_time' or 'road_distance'"
    return [Issue("arguments", "metric", (), message)]


def _walk(pred: np.ndarray, source: int, target: int) -> list[int] | None:
    """Nodes of the shortest path ``source`` → ``target`` from Dijkstra predecessors."""
    nodes = [target]
    while nodes[-1] != source:
        before = int(pred[nodes[-1]])
        if before < 0:
            return None
        nodes.append(before)
    return nodes[::-1]


def _route(net: RoadNetwork, nodes: list[int], ends: _Ends, j: int, i: int) -> shapely.Geometry:
    """Return the line of a path garrison ``j`` → road nodes → centre ``i`` (network CRS)."""
    g_seg, g_f = int(ends.garrisons.segment[j]), float(ends.garrisons.fraction[j])
    c_seg, c_f = int(ends.centers.segment[i]), float(ends.centers.fraction[i])
    pieces = [ends.garrison_xy[j : j + 1], ends.garrisons.point_xy[j : j + 1]]
    road = nodes[1:-1]
    if not road:  # garrison and centre on one segment: the direct arc along it
        pieces.append(_piece(net._seg_geom[g_seg], g_f, c_f))
    else:
        pieces.append(_piece(net._seg_geom[g_seg], g_f, _end(net, g_seg, road[0])))
        pieces += _driven(net, np.asarray(road, dtype=np.int64), ends)
        pieces.append(_piece(net._seg_geom[c_seg], _end(net, c_seg, road[-1]), c_f))
    pieces += [ends.centers.point_xy[i : i + 1], ends.center_xy[i : i + 1]]
    xy = np.concatenate(pieces)
    keep = np.ones(len(xy), dtype=bool)
    keep[1:] = np.any(xy[1:] != xy[:-1], axis=1)
    xy = xy[keep]
    return shapely.linestrings(xy if len(xy) > 1 else np.repeat(xy, 2, axis=0))


def _end(net: RoadNetwork, segment: int, node: int) -> float:
    """Return the fraction (0 or 1) of ``segment`` at which ``node`` lies."""
    return 0.0 if int(net._seg_a[segment]) == node else 1.0


def _piece(line: shapely.Geometry, start: float, stop: float) -> np.ndarray:
    """Coordinates of ``line`` from fraction ``start`` to ``stop`` (either direction)."""
    from shapely.ops import substring  # noqa: PLC0415

    low, high = sorted((start, stop))
    xy: np.ndarray = shapely.get_coordinates(substring(line, low, high, normalized=True))
    return xy if start <= stop else xy[::-1]


def _driven(net: RoadNetwork, road: np.ndarray, ends: _Ends) -> list[np.ndarray]:
    """Coordinates of the cheapest edge between consecutive path nodes, in driving order."""
    if len(road) < 2:
        return []
    keys = road[:-1] * max(net.n_nodes, 1) + road[1:]
    edges = ends.edge[np.searchsorted(ends.edge_key, keys)]
    return [shapely.get_coordinates(net._edge_geom[e]) for e in edges]
