"""Sparse, labelled centre × garrison cost matrices and the spatial queries behind them.

Geodesic costs are exact WGS84 distances (pyproj) on candidate arcs found with a KD-tree on
3-D unit vectors; the tree's chord length gives rigorous lower and upper bounds on the
geodesic (see :mod:`electsec.config`), so radius and k-nearest queries never miss a pair.
Euclidean costs need a projected CRS; lon/lat degrees are refused, never used as metres.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
from scipy.spatial import cKDTree

from electsec.config import WGS84_MAX_RADIUS_M, WGS84_MIN_RADIUS_M
from electsec.errors import InputError, Issue
from electsec.io import read_garrisons, read_polling_centers
from electsec.validation import is_number

__all__ = ["ArcOracle", "CostMatrix", "GroupedOracle", "distance_matrix"]

logger = logging.getLogger(__name__)

Metric = Literal["geodesic", "euclidean"]
RoadMetric = Literal["travel_time", "road_distance"]
_GEOD = pyproj.Geod(ellps="WGS84")
#: ``admit(rows, garrisons, lower_bound_costs) -> keep mask``, asked before costs are computed.
Admit = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
_FIRST_K = 16
#: Rounding slack of the tree-distance bounds (relative, and metres).
_BOUND_RTOL = 1e-9
_BOUND_ATOL_M = 1e-6


@dataclass(frozen=True)
class CostMatrix:
    """A sparse centre × garrison cost matrix; an absent entry is a pair not allowed.

    Attributes
    ----------
    matrix
        ``scipy.sparse.csr_array`` of shape (centres, garrisons), float64 costs. Stored
        zeros are real zero costs (a garrison at the centre).
    center_ids, garrison_ids
        Row and column labels.
    unit
        ``"m"`` (distance) or ``"s"`` (travel time).
    metric
        How the costs were computed.
    unreachable
        Ids of centres with no reachable garrison (no arc at all), e.g. off the road
        network or on a road island; empty for straight-line metrics.
    """

    matrix: sp.csr_array = field(repr=False)
    center_ids: pd.Index = field(repr=False)
    garrison_ids: pd.Index = field(repr=False)
    unit: str = "m"
    metric: str = "geodesic"
    unreachable: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.matrix.shape != (len(self.center_ids), len(self.garrison_ids)):
            msg = (
                f"matrix shape {self.matrix.shape} does not match "
                f"{len(self.center_ids)} centres × {len(self.garrison_ids)} garrisons"
            )
            raise ValueError(msg)

    @property
    def cost_column(self) -> str:
        """Name of the cost column in tables: ``distance_m`` or ``time_s``."""
        return "distance_m" if self.unit == "m" else "time_s"

    @property
    def nnz(self) -> int:
        """Number of allowed pairs (arcs)."""
        return int(self.matrix.nnz)

    def to_frame(self) -> pd.DataFrame:
        """Return the arcs as a long table ``center_id, garrison_id, <cost column>``."""
        coo = self.matrix.tocoo()
        return pd.DataFrame(
            {
                "center_id": self.center_ids[coo.row].to_numpy(),
                "garrison_id": self.garrison_ids[coo.col].to_numpy(),
                self.cost_column: coo.data,
            }
        )

    def __repr__(self) -> str:
        return (
            f"CostMatrix({len(self.center_ids)} centres × {len(self.garrison_ids)} "
            f"garrisons, {self.nnz} arcs, metric={self.metric!r}, unit={self.unit!r})"
        )


class ArcOracle:
    """Exact spatial queries for centre → garrison costs, over numpy arrays only.

    Parameters
    ----------
    center_xy, garrison_xy
        (n, 2) coordinates: lon/lat degrees for ``geodesic``, metres for ``euclidean``.
    metric
        ``"geodesic"`` or ``"euclidean"``.
    garrison_index
        Problem index of each row of ``garrison_xy`` (default: 0..m-1). Lets callers
        leave garrisons out of the tree (for example those with no capacity).
    """

    def __init__(
        self,
        center_xy: np.ndarray,
        garrison_xy: np.ndarray,
        *,
        metric: Metric = "geodesic",
        garrison_index: np.ndarray | None = None,
    ) -> None:
        self.metric = metric
        self.center_xy = np.asarray(center_xy, dtype=float)
        self.garrison_xy = np.asarray(garrison_xy, dtype=float)
        n_g = len(self.garrison_xy)
        self.garrison_index = (
            np.arange(n_g, dtype=np.int32)
            if garrison_index is None
            else np.asarray(garrison_index, dtype=np.int32)
        )
        if metric == "geodesic":
            self._center_pts = _unit_vectors(self.center_xy)
            self._tree = cKDTree(_unit_vectors(self.garrison_xy))
        else:
            self._center_pts = self.center_xy
            self._tree = cKDTree(self.garrison_xy)

    @property
    def n_garrisons(self) -> int:
        """Garrisons in the tree."""
        return len(self.garrison_xy)

    def cost(self, rows: np.ndarray, tree_cols: np.ndarray) -> np.ndarray:
        """Exact cost (metres) from centres ``rows`` to tree garrisons ``tree_cols``."""
        a = self.center_xy[rows]
        b = self.garrison_xy[tree_cols]
        if self.metric == "geodesic":
            if len(a) == 0:
                return np.zeros(0)
            _, _, dist = _GEOD.inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
            return np.asarray(dist, dtype=float)
        planar: np.ndarray = np.hypot(a[:, 0] - b[:, 0], a[:, 1] - b[:, 1])
        return planar

    def _bounds(self, chord: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # The tree's distances are rounded differently from the exact costs (last-ulp
        # differences from hypot; absolute error in unit vectors for points millimetres
        # apart), so widen the bounds by a rounding slack or a pair at the limit is missed.
        if self.metric != "geodesic":
            lower, upper = chord, chord
        else:
            angle = 2.0 * np.arcsin(np.minimum(chord, 2.0) / 2.0)
            lower, upper = angle * WGS84_MIN_RADIUS_M, angle * WGS84_MAX_RADIUS_M
        return (
            np.maximum(lower * (1 - _BOUND_RTOL) - _BOUND_ATOL_M, 0.0),
            upper * (1 + _BOUND_RTOL) + _BOUND_ATOL_M,
        )

    def within(
        self,
        radius: np.ndarray | float,
        rows: np.ndarray | None = None,
        *,
        exact: bool = True,
        admit: Admit | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return every arc with cost ≤ ``radius`` (per row) as (rows, garrisons, costs).

        Garrisons are problem indices. Works by doubling ``k`` per row until the
        ``k``-th neighbour's lower bound exceeds the radius, so there is no n × m scan.
        With ``exact=False`` only membership is exact: pairs whose upper bound is within
        the radius are kept without computing their cost (NaN), which saves the geodesics.
        ``admit(rows, garrisons, lower)`` may drop pairs before their costs are computed,
        given a lower bound on each cost (pricing uses it to skip hopeless pairs).
        """
        rows = np.arange(len(self.center_xy)) if rows is None else np.asarray(rows)
        radius = np.broadcast_to(np.asarray(radius, dtype=float), rows.shape)
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        pending = np.arange(len(rows))
        k = min(_FIRST_K, self.n_garrisons)
        while len(pending) and self.n_garrisons:
            chord, idx = self._query(rows[pending], k)
            lower, _ = self._bounds(chord)
            done = (lower[:, -1] > radius[pending]) | (k >= self.n_garrisons)
            sel = pending[done]
            keep = lower[done] <= radius[sel, None]
            r = np.repeat(rows[sel], keep.sum(axis=1))
            c = idx[done][keep]
            if admit is not None:
                ok = admit(r, self.garrison_index[c], lower[done][keep])
                r, c = r[ok], c[ok]
                keep[keep] = ok
            limit = np.repeat(radius[sel], keep.sum(axis=1))
            cost = np.full(len(r), np.nan)
            band = np.ones(len(r), dtype=bool)
            if not exact:
                band = self._bounds(chord[done][keep])[1] > limit
            cost[band] = self.cost(r[band], c[band])
            ok = ~band | (cost <= limit)
            parts.append((r[ok], c[ok], cost[ok]))
            pending = pending[~done]
            k = min(4 * k, self.n_garrisons)
        return self._concat(parts)

    def nearest(
        self,
        k: int,
        rows: np.ndarray | None = None,
        *,
        max_cost: float | np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the ``k`` cheapest arcs of each row (exact, ties by garrison order).

        Only arcs with cost ≤ ``max_cost`` (a number, or one per centre) are kept.
        """
        rows = np.arange(len(self.center_xy)) if rows is None else np.asarray(rows)
        limit = np.broadcast_to(
            np.asarray(np.inf if max_cost is None else max_cost, dtype=float),
            (len(self.center_xy),),
        )
        k = min(k, self.n_garrisons)
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        pending = np.arange(len(rows))
        kq = min(k + max(4, k // 2), self.n_garrisons)
        while len(pending) and k > 0:
            chord, idx = self._query(rows[pending], kq)
            lower, _ = self._bounds(chord)
            r = np.repeat(rows[pending], kq)
            cost = self.cost(r, idx.ravel()).reshape(len(pending), kq)
            order = np.lexsort((idx, cost), axis=1)[:, :k]
            kth = np.take_along_axis(cost, order[:, -1:], axis=1)[:, 0]
            done = (lower[:, -1] > kth) | (kq >= self.n_garrisons)
            done |= lower[:, -1] > limit[rows[pending]]
            sel = np.flatnonzero(done)
            c_sel = np.take_along_axis(cost[sel], order[sel], axis=1)
            g_sel = np.take_along_axis(idx[sel], order[sel], axis=1)
            keep = c_sel <= limit[rows[pending][sel], None]
            parts.append(
                (np.repeat(rows[pending][sel], keep.sum(axis=1)), g_sel[keep], c_sel[keep])
            )
            pending = pending[~done]
            kq = min(2 * kq, self.n_garrisons)
        return self._concat(parts)

    def candidates(
        self, k: int, *, max_cost: float | np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return about ``k`` near arcs per centre, cheaply (not exactly the k nearest).

        The ``k`` nearest on the sphere (or plane), with exact costs, within ``max_cost``:
        a starting set for exact pricing, which adds whatever else matters.

        Returns
        -------
        rows, garrisons, costs
            The arcs.
        reach
            Per centre, a cost below which every garrison (within ``max_cost``) is among
            its arcs: the lower bound of the k-th chord (``inf`` when all are).
        """
        n = len(self.center_xy)
        k = min(k, self.n_garrisons)
        if k == 0 or n == 0:
            return (*self._concat([]), np.full(n, np.inf))
        chord, idx = self._query(np.arange(n), k)
        r = np.repeat(np.arange(n), k)
        cost = self.cost(r, idx.ravel())
        keep = np.ones(len(r), dtype=bool)
        if max_cost is not None:
            keep = cost <= np.broadcast_to(np.asarray(max_cost, dtype=float), (n,))[r]
        reach = self._bounds(chord[:, -1])[0] if k < self.n_garrisons else np.full(n, np.inf)
        return (*self._concat([(r[keep], idx.ravel()[keep], cost[keep])]), reach)

    def all_pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return every pair (the dense matrix, only when asked for)."""
        n, m = len(self.center_xy), self.n_garrisons
        r = np.repeat(np.arange(n), m)
        c = np.tile(np.arange(m), n)
        return r, self.garrison_index[c], self.cost(r, c)

    def floor(self, values: np.ndarray, n_rows: int) -> np.ndarray:
        """Smallest of ``values`` (one per problem garrison) over the tree, for every row."""
        low = values[self.garrison_index].min() if len(self.garrison_index) else 0
        return np.full(n_rows, low)

    def pair_cost(self, rows: np.ndarray, garrisons: np.ndarray) -> np.ndarray:
        """Exact cost from centres ``rows`` to garrisons ``garrisons`` (problem indices)."""
        return self.cost(rows, np.searchsorted(self.garrison_index, garrisons))

    def _query(self, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        chord, idx = self._tree.query(self._center_pts[rows], k=k)
        if k == 1:
            chord, idx = chord[:, None], idx[:, None]
        return chord, idx

    def _concat(
        self, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0)
        r = np.concatenate([p[0] for p in parts]).astype(np.int64)
        c = np.concatenate([p[1] for p in parts])
        cost = np.concatenate([p[2] for p in parts])
        return r, self.garrison_index[c] if len(c) else c.astype(np.int32), cost


class GroupedOracle:
    """Several oracles side by side: each demand row asks only its own group's garrisons.

    Used when centres need teams of several agencies: the row (centre, agency) may only be
    served by that agency's garrisons, and a row outside every group (a force not allowed
    to operate there) has no arcs at all. Answers the same queries as :class:`ArcOracle`,
    with rows and garrisons as problem indices.

    Parameters
    ----------
    n_rows
        Number of demand rows.
    groups
        ``(rows, oracle)`` pairs: the problem rows of the group, in the order of the
        oracle's own centres.
    """

    def __init__(self, n_rows: int, groups: list[tuple[np.ndarray, ArcOracle]]) -> None:
        self.groups = groups
        self.metric: Metric = groups[0][1].metric if groups else "geodesic"
        self._group = np.full(n_rows, -1, dtype=np.int64)
        self._local = np.full(n_rows, -1, dtype=np.int64)
        self.center_xy = np.zeros((n_rows, 2))
        for g, (rows, oracle) in enumerate(groups):
            self._group[rows] = g
            self._local[rows] = np.arange(len(rows))
            self.center_xy[rows] = oracle.center_xy
        tree = [o.garrison_index for _, o in groups]
        self.garrison_index = np.unique(np.concatenate(tree)) if tree else np.zeros(0, np.int32)
        xy = [o.garrison_xy for _, o in groups]
        self.garrison_xy = np.vstack(xy) if xy else np.zeros((0, 2))

    def _split(
        self, rows: np.ndarray | None
    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, ArcOracle]]:
        """Positions in ``rows``, global rows and local rows per group."""
        rows = np.arange(len(self._group)) if rows is None else np.asarray(rows)
        group = self._group[rows]
        out = []
        for g, (members, oracle) in enumerate(self.groups):
            pos = np.flatnonzero(group == g)
            if len(pos):
                out.append((pos, members, self._local[rows[pos]], oracle))
        return out

    @staticmethod
    def _gather(
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0)
        return (
            np.concatenate([p[0] for p in parts]).astype(np.int64),
            np.concatenate([p[1] for p in parts]).astype(np.int32),
            np.concatenate([p[2] for p in parts]),
        )

    def within(
        self,
        radius: np.ndarray | float,
        rows: np.ndarray | None = None,
        *,
        exact: bool = True,
        admit: Admit | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return every allowed arc with cost ≤ ``radius`` (see :meth:`ArcOracle.within`)."""
        n = len(self._group) if rows is None else len(rows)
        radius = np.broadcast_to(np.asarray(radius, dtype=float), (n,))
        parts = []
        for pos, members, local, oracle in self._split(rows):
            mine = None if admit is None else _relabel(admit, members)
            r, c, cost = oracle.within(radius[pos], local, exact=exact, admit=mine)
            parts.append((members[r], c, cost))
        return self._gather(parts)

    def nearest(
        self,
        k: int,
        rows: np.ndarray | None = None,
        *,
        max_cost: float | np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the ``k`` cheapest allowed arcs of each row (see :meth:`ArcOracle.nearest`)."""
        parts = []
        for _, members, local, oracle in self._split(rows):
            limit = _rows_of(max_cost, members)
            r, c, cost = oracle.nearest(k, local, max_cost=limit)
            parts.append((members[r], c, cost))
        return self._gather(parts)

    def candidates(
        self, k: int, *, max_cost: float | np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return about ``k`` near allowed arcs per row (see :meth:`ArcOracle.candidates`)."""
        parts = []
        reach = np.full(len(self._group), np.inf)  # a row in no group has no garrison
        for members, oracle in self.groups:
            r, c, cost, group_reach = oracle.candidates(k, max_cost=_rows_of(max_cost, members))
            parts.append((members[r], c, cost))
            reach[members] = group_reach
        return (*self._gather(parts), reach)

    def floor(self, values: np.ndarray, n_rows: int) -> np.ndarray:
        """Smallest of ``values`` (one per problem garrison) over each row's own group."""
        out = np.zeros(n_rows, dtype=values.dtype)
        for rows, oracle in self.groups:
            out[rows] = oracle.floor(values, len(rows))
        return out

    def pair_cost(self, rows: np.ndarray, garrisons: np.ndarray) -> np.ndarray:
        """Return the exact cost of (row, garrison) pairs; each must be allowed."""
        out = np.zeros(len(rows))
        for pos, _, local, oracle in self._split(rows):
            out[pos] = oracle.pair_cost(local, np.asarray(garrisons)[pos])
        return out


def _relabel(admit: Admit, members: np.ndarray) -> Admit:
    """Wrap an ``admit`` test so that it takes a group's own rows."""

    def local(rows: np.ndarray, garrisons: np.ndarray, lower: np.ndarray) -> np.ndarray:
        return admit(members[rows], garrisons, lower)

    return local


def _rows_of(value: float | np.ndarray | None, members: np.ndarray) -> float | np.ndarray | None:
    """Restrict a per-row array to ``members`` (scalars pass through)."""
    if value is None or np.ndim(value) == 0:
        return value
    out: np.ndarray = np.asarray(value)[members]
    return out


def distance_matrix(
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    *,
    metric: Metric | RoadMetric = "geodesic",
    k: int | None = None,
    max_distance_m: float | None = None,
    network: Any = None,
    max_time_s: float | None = None,
) -> CostMatrix:
    """Build a sparse centre × garrison distance (or travel-time) matrix.

    Parameters
    ----------
    centers, garrisons
        Layers as returned by :func:`read_polling_centers` and :func:`read_garrisons`
        (raw GeoDataFrames are validated the same way).
    metric
        ``"geodesic"`` (WGS84 ellipsoid, any CRS) or ``"euclidean"`` (straight line in a
        projected CRS; a geographic CRS is refused); over a road ``network``,
        ``"travel_time"`` (seconds) or ``"road_distance"`` (metres).
    k
        Keep only the ``k`` nearest (cheapest) garrisons of each centre.
    max_distance_m
        Keep only pairs at most this far apart (straight line or by road).
    network
        Road network for the road metrics: an osmnx ``MultiDiGraph``, a GeoDataFrame of
        road LineStrings or an :class:`electsec.network.RoadNetwork`.
    max_time_s
        For ``"travel_time"``: keep only pairs at most this many seconds apart.

    Returns
    -------
    CostMatrix
        In metres (``unit="m"``) or seconds (``unit="s"``). With neither ``k`` nor a
        limit every reachable pair is listed (a dense matrix, which is what was asked
        for). Pairs unreachable by road are absent; ``unreachable`` lists centres with
        no reachable garrison.

    Raises
    ------
    InputError
        For bad layers, a bad ``k``/``max_distance_m``, or euclidean on lon/lat.

    Examples
    --------
    >>> import electsec as es
    >>> centers = es.read_polling_centers("data/sample/tiny_centers.geojson")
    >>> garrisons = es.read_garrisons("data/sample/tiny_garrisons.geojson")
    >>> costs = es.distance_matrix(centers, garrisons, k=3)
    >>> costs.nnz == 3 * len(centers)
    True
    """
    centers = read_polling_centers(centers) if _needs_reading(centers, "demand") else centers
    garrisons = read_garrisons(garrisons) if _needs_reading(garrisons, "capacity") else garrisons
    check_limits(k=k, max_distance_m=max_distance_m)
    if metric in ("travel_time", "road_distance"):
        return _road_costs(centers, garrisons, metric, network, k, max_distance_m, max_time_s)
    oracle = build_oracle(centers, garrisons, metric=metric)  # type: ignore[arg-type]
    if k is not None:
        rows, cols, cost = oracle.nearest(k, max_cost=max_distance_m)
    elif max_distance_m is not None:
        rows, cols, cost = oracle.within(float(max_distance_m))
    else:
        rows, cols, cost = oracle.all_pairs()
    matrix = arcs_to_csr(rows, cols, cost, shape=(len(centers), len(garrisons)))
    return CostMatrix(matrix, centers.index, garrisons.index, unit="m", metric=metric)


def _road_costs(
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    metric: RoadMetric,
    network: Any,
    k: int | None,
    max_distance_m: float | None,
    max_time_s: float | None,
) -> CostMatrix:
    """Dispatch a road metric to :mod:`electsec.network` (imported only when used)."""
    from electsec.network import network_costs  # noqa: PLC0415

    issues = []
    if network is None:
        issues.append(Issue("arguments", "network", (), f"metric={metric!r} needs network="))
    limit: float | None = max_distance_m
    if metric == "travel_time":
        if max_distance_m is not None:
            issues.append(
                Issue(
                    "arguments",
                    "max_distance_m",
                    (),
                    "travel times are limited with max_time_s, not max_distance_m",
                )
            )
        limit = max_time_s
        issues += [
            Issue(i.table, "max_time_s", i.ids, i.message.replace("metres", "seconds"))
            for i in limit_issues(max_distance_m=max_time_s)
        ]
    elif max_time_s is not None:
        issues.append(
            Issue("arguments", "max_time_s", (), "road distances are limited by max_distance_m")
        )
    if issues:
        raise InputError(issues)
    return network_costs(
        centers,
        garrisons,
        network,
        metric=metric,
        k=k,
        max_cost=None if limit is None else float(limit),
    )


def check_limits(*, k: int | None = None, max_distance_m: float | None = None) -> None:
    """Raise :class:`InputError` for a non-positive ``k`` or a bad distance limit."""
    issues = limit_issues(k=k, max_distance_m=max_distance_m)
    if issues:
        raise InputError(issues)


def limit_issues(
    *, k: object = None, max_distance_m: object = None, per_center: bool = False
) -> list[Issue]:
    """List the problems of ``k`` and ``max_distance_m`` (empty when both are fine).

    With ``per_center``, a dict or column name for ``max_distance_m`` is left to
    :func:`electsec.validation.response_limits`.
    """
    issues = []
    if k is not None and not is_number(k, minimum=1, integer=True):
        issues.append(Issue("arguments", "k", (), f"must be a positive integer, got {k!r}"))
    per_center_form = per_center and isinstance(max_distance_m, str | dict)
    if max_distance_m is not None and not per_center_form and not is_number(max_distance_m):
        issues.append(
            Issue(
                "arguments",
                "max_distance_m",
                (),
                f"must be a finite number of metres ≥ 0, got {max_distance_m!r}",
            )
        )
    return issues


def build_oracle(
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    *,
    metric: Metric = "geodesic",
    garrison_mask: np.ndarray | None = None,
) -> ArcOracle:
    """Build the spatial query engine for two validated layers.

    Parameters
    ----------
    centers, garrisons
        Validated layers.
    metric
        ``"geodesic"`` or ``"euclidean"``.
    garrison_mask
        Garrisons to put in the tree (default: all).

    Returns
    -------
    ArcOracle
    """
    if metric == "geodesic":
        center_xy = _lonlat(centers)
        garrison_xy = _lonlat(garrisons)
    elif metric == "euclidean":
        center_xy, garrison_xy = _planar(centers, garrisons)
    else:
        raise InputError(
            [
                Issue(
                    "arguments",
                    "metric",
                    (),
                    f"unknown metric {metric!r}; use 'geodesic' or 'euclidean'",
                )
            ]
        )
    index = np.arange(len(garrisons), dtype=np.int32)
    if garrison_mask is not None:
        index = index[garrison_mask]
    return ArcOracle(center_xy, garrison_xy[index], metric=metric, garrison_index=index)


def arcs_to_csr(
    rows: np.ndarray, cols: np.ndarray, cost: np.ndarray, *, shape: tuple[int, int]
) -> sp.csr_array:
    """Pack arcs into a CSR array, keeping explicit zero costs."""
    order = np.lexsort((cols, rows))
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    return sp.csr_array(
        (np.asarray(cost, float)[order], np.asarray(cols)[order].astype(np.int32), indptr),
        shape=shape,
    )


def _needs_reading(frame: object, value_col: str) -> bool:
    """Tell whether ``frame`` is not yet like a reader's validated output."""
    return not (
        isinstance(frame, gpd.GeoDataFrame)
        and frame.crs is not None
        and frame.index.is_unique
        and value_col in frame.columns
        and frame[value_col].dtype == np.int64
        and pd.api.types.is_string_dtype(frame.index.dtype)
    )


def _lonlat(layer: gpd.GeoDataFrame) -> np.ndarray:
    geom = layer.geometry
    if not geom.crs.equals(pyproj.CRS("EPSG:4326")):
        geom = geom.to_crs("EPSG:4326")
    return np.column_stack([geom.x.to_numpy(), geom.y.to_numpy()])


def _planar(
    centers: gpd.GeoDataFrame, garrisons: gpd.GeoDataFrame
) -> tuple[np.ndarray, np.ndarray]:
    if centers.crs.is_geographic:
        raise InputError(
            [
                Issue(
                    "centers",
                    "geometry",
                    (),
                    f"metric='euclidean' needs a "
                    f"projected CRS in metres, but the centres are in "
                    f"{centers.crs.to_string()} (degrees); reproject first, e.g. "
                    "centers.to_crs(centers.estimate_utm_crs()), or use "
                    "metric='geodesic'",
                )
            ]
        )
    unit = centers.crs.axis_info[0].unit_name if centers.crs.axis_info else "metre"
    if unit not in ("metre", "meter"):
        raise InputError(
            [
                Issue(
                    "centers",
                    "geometry",
                    (),
                    f"metric='euclidean' needs metres, but {centers.crs.to_string()} is in {unit}",
                )
            ]
        )
    garrison_geom = garrisons.geometry.to_crs(centers.crs)
    center_xy = np.column_stack([centers.geometry.x.to_numpy(), centers.geometry.y.to_numpy()])
    garrison_xy = np.column_stack([garrison_geom.x.to_numpy(), garrison_geom.y.to_numpy()])
    return center_xy, garrison_xy


def _unit_vectors(lonlat: np.ndarray) -> np.ndarray:
    lon = np.radians(lonlat[:, 0])
    lat = np.radians(lonlat[:, 1])
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
