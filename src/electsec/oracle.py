"""Exact spatial queries over numpy arrays: which garrisons are near which centres.

Geodesic costs are exact WGS84 distances (pyproj) on candidate arcs found with a KD-tree on
3-D unit vectors; the tree's chord length gives rigorous lower and upper bounds on the
geodesic (see :mod:`electsec.config`), so radius and k-nearest queries never miss a pair.
Euclidean costs are straight lines in the (projected, metre) coordinates given.

Layering (DESIGN §3): this module sits below :mod:`electsec.costs` and above
:mod:`electsec.problem` and the solvers. It imports numpy, scipy and pyproj only, never
geopandas, shapely or pandas, so a worker can run the solvers without geometry libraries;
:func:`electsec.costs.build_oracle` turns validated layers into an :class:`ArcOracle`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
import pyproj
from scipy.spatial import cKDTree

from electsec.config import WGS84_MAX_RADIUS_M, WGS84_MIN_RADIUS_M

__all__ = ["Admit", "ArcOracle", "GroupedOracle", "Metric", "Oracle", "unit_vectors"]

Metric = Literal["geodesic", "euclidean"]
_GEOD = pyproj.Geod(ellps="WGS84")
#: ``admit(rows, garrisons, lower_bound_costs) -> keep mask``, asked before costs are computed.
Admit = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
_FIRST_K = 16
#: Rounding slack of the tree-distance bounds (relative, and metres).
_BOUND_RTOL = 1e-9
_BOUND_ATOL_M = 1e-6


class Oracle(Protocol):
    """What the layers above ask of a spatial query engine.

    The solvers use :meth:`within`, :meth:`nearest`, :meth:`floor`, ``metric`` and the
    coordinates (for cost bounds), and cut sub-problems from ``garrison_index``; preparing
    a problem uses :meth:`candidates` and :meth:`pair_cost`. Rows are the problem's demand
    rows and garrisons its garrison indices; arc queries return ``(rows, garrisons,
    costs)`` as int64, int32 and float64 arrays. :class:`ArcOracle` and
    :class:`GroupedOracle` implement it.
    """

    @property
    def metric(self) -> Metric:
        """``"geodesic"`` (lon/lat degrees, metres) or ``"euclidean"`` (metres)."""
        ...

    @property
    def center_xy(self) -> np.ndarray:
        """(n, 2) coordinates of the rows."""
        ...

    @property
    def garrison_xy(self) -> np.ndarray:
        """(m, 2) coordinates of the garrisons in the tree(s)."""
        ...

    @property
    def garrison_index(self) -> np.ndarray:
        """Problem index of each garrison in the tree(s)."""
        ...

    def within(
        self,
        radius: np.ndarray | float,
        rows: np.ndarray | None = None,
        *,
        exact: bool = True,
        admit: Admit | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return every allowed arc with cost ≤ ``radius`` (see :meth:`ArcOracle.within`)."""
        ...

    def nearest(
        self,
        k: int,
        rows: np.ndarray | None = None,
        *,
        max_cost: float | np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the ``k`` cheapest allowed arcs of each row (see :meth:`ArcOracle.nearest`)."""
        ...

    def candidates(
        self, k: int, *, max_cost: float | np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return about ``k`` near arcs per row and a reach (see :meth:`ArcOracle.candidates`)."""
        ...

    def floor(self, values: np.ndarray, n_rows: int) -> np.ndarray:
        """Smallest of ``values`` (one per problem garrison) each row can use."""
        ...

    def pair_cost(self, rows: np.ndarray, garrisons: np.ndarray) -> np.ndarray:
        """Exact cost of allowed (row, garrison) pairs."""
        ...


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
            self._center_pts = unit_vectors(self.center_xy)
            self._tree = cKDTree(unit_vectors(self.garrison_xy))
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


def unit_vectors(lonlat: np.ndarray) -> np.ndarray:
    """Return (n, 3) unit vectors of (n, 2) lon/lat degrees on the unit sphere."""
    lon = np.radians(lonlat[:, 0])
    lat = np.radians(lonlat[:, 1])
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


if TYPE_CHECKING:

    def _implements(arc: ArcOracle, grouped: GroupedOracle) -> tuple[Oracle, Oracle]:
        """Let mypy check that both engines satisfy :class:`Oracle`."""
        return arc, grouped
