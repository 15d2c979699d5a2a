"""The array-level assignment problem: what ``prepare`` hands every solver.

Layering (DESIGN §3): this module and everything the solvers import is numpy/scipy only —
no geopandas, shapely or pandas at or below here, so a worker that only runs flows needs
none of the geo stack. :class:`Problem` is what the solvers take; :class:`Instance` adds
the labels, the exact-cost lookup, the backup arcs and the parameters that turn solver
arrays back into a labelled plan. Both are frozen and pickle with the standard ``pickle``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from electsec.config import SolverOptions
from electsec.errors import InputError, Issue
from electsec.oracle import Admit, ArcOracle, GroupedOracle
from electsec.reach import RoadReach

__all__ = [
    "Arcs",
    "BackupArcs",
    "CostLookup",
    "Forces",
    "Instance",
    "Labels",
    "PairCosts",
    "Parameters",
    "Problem",
    "input_hash",
    "rank_in_runs",
]


@dataclass(frozen=True)
class Arcs:
    """Candidate arcs, sorted by centre then garrison.

    Attributes
    ----------
    center, garrison
        int32 indices into the problem's centres and garrisons.
    cost
        int64 costs in whole units (metres or seconds), as the solvers see them.
    """

    center: np.ndarray
    garrison: np.ndarray
    cost: np.ndarray

    @classmethod
    def from_arrays(cls, center: np.ndarray, garrison: np.ndarray, cost: np.ndarray) -> Arcs:
        """Sort, de-duplicate (keeping the cheapest) and cast raw arc arrays."""
        center = np.asarray(center, dtype=np.int64)
        garrison = np.asarray(garrison, dtype=np.int64)
        cost = np.rint(np.asarray(cost, dtype=float)).astype(np.int64)
        key = center * (int(garrison.max(initial=0)) + 1) + garrison
        order = np.argsort(key, kind="stable")
        if (key[order][1:] == key[order][:-1]).any():  # duplicates: keep the cheapest
            order = np.lexsort((cost, key))
        center, garrison, cost = center[order], garrison[order], cost[order]
        first = np.ones(len(center), dtype=bool)
        first[1:] = (center[1:] != center[:-1]) | (garrison[1:] != garrison[:-1])
        return cls(center[first].astype(np.int32), garrison[first].astype(np.int32), cost[first])

    def __len__(self) -> int:
        return len(self.center)

    def subset(self, keep: np.ndarray) -> Arcs:
        """Return the arcs where the boolean mask ``keep`` holds (still sorted)."""
        return Arcs(self.center[keep], self.garrison[keep], self.cost[keep])

    def union(self, other: Arcs) -> Arcs:
        """Return the arcs of both sets (each pair once, at its cheapest cost)."""
        if not len(self) or not len(other):  # a new set still: callers test identity
            kept = other if not len(self) else self
            return Arcs(kept.center, kept.garrison, kept.cost)
        # Each set is sorted and unique: one stable sort of the two runs merges them, and
        # a pair in both is two neighbours (the first from ``self``).
        center = np.concatenate([self.center, other.center])
        garrison = np.concatenate([self.garrison, other.garrison])
        m = int(garrison.max()) + 1
        keys = center.astype(np.int64) * m + garrison
        order = np.argsort(keys, kind="stable")
        keys, cost = keys[order], np.concatenate([self.cost, other.cost])[order]
        twice = np.flatnonzero(keys[1:] == keys[:-1])
        cost[twice] = np.minimum(cost[twice], cost[twice + 1])
        keep = np.ones(len(keys), dtype=bool)
        keep[twice + 1] = False
        pick = order[keep]
        return Arcs(center[pick], garrison[pick], cost[keep])

    def keys(self, n_garrisons: int) -> np.ndarray:
        """One int64 key per arc (``center * n_garrisons + garrison``), sorted."""
        keys: np.ndarray = self.center.astype(np.int64) * n_garrisons + self.garrison
        return keys


@dataclass(frozen=True)
class Problem:
    """A capacitated assignment instance over arrays.

    Attributes
    ----------
    demand
        Teams each centre needs (int64, length n).
    capacity
        Teams each garrison can send (int64, length m).
    arcs
        Candidate arcs. When ``oracle`` is None these are all the allowed pairs.
    oracle
        When given, every pair the oracle returns (within ``max_cost``) is allowed, and
        the solvers price arcs beyond ``arcs`` exactly instead of trusting the candidates.
    max_cost
        Largest allowed cost per centre for oracle arcs (``inf``: no limit), or None.
    priority
        Positive integer weight per centre for covering it when not everyone can be
        covered (a team of weight 3 is covered before any team of weight 2), or None.
    reach
        Per centre, a cost below which every allowed garrison is among ``arcs`` (from
        the nearest-neighbour query that made them), or None. Pricing looks beyond
        ``arcs`` only for centres whose reduced-cost radius exceeds it.
    """

    demand: np.ndarray
    capacity: np.ndarray
    arcs: Arcs
    oracle: ArcOracle | GroupedOracle | None = field(default=None, repr=False)
    max_cost: np.ndarray | None = None
    priority: np.ndarray | None = None
    reach: np.ndarray | None = None

    @property
    def n_centers(self) -> int:
        """Number of centres."""
        return len(self.demand)

    @property
    def n_garrisons(self) -> int:
        """Number of garrisons."""
        return len(self.capacity)

    def oracle_arcs(
        self, radius: np.ndarray, rows: np.ndarray, admit: Admit | None = None
    ) -> Arcs:
        """All allowed arcs of ``rows`` with cost ≤ ``radius`` (needs an oracle)."""
        assert self.oracle is not None  # noqa: S101
        if self.max_cost is not None:
            radius = np.minimum(radius, self.max_cost[rows])
        r, c, cost = self.oracle.within(radius, rows, admit=admit)
        return Arcs.from_arrays(r, c, cost)


def rank_in_runs(group: np.ndarray) -> np.ndarray:
    """Position of each element within its run of equal values in the sorted ``group``.

    With ``order`` sorting arcs by centre and then by some value, ``rank_in_runs(
    center[order])`` ranks each arc among its centre's: ``< k`` keeps the k best.
    """
    rank: np.ndarray = np.arange(len(group)) - np.searchsorted(group, group)
    return rank


class CostLookup(Protocol):
    """Exact cost of (demand row, garrison) pairs, in the instance's unit."""

    def __call__(self, rows: np.ndarray, garrisons: np.ndarray) -> np.ndarray:
        """Return one float cost per pair; every pair must be allowed."""
        ...


@dataclass(frozen=True)
class PairCosts:
    """Exact costs of listed (row, garrison) pairs, looked up by sorted int64 key.

    A picklable table (no closure): ``keys`` are ``row * n_garrisons + garrison``.
    """

    keys: np.ndarray
    values: np.ndarray
    n_garrisons: int

    @classmethod
    def from_arcs(
        cls, rows: np.ndarray, garrisons: np.ndarray, cost: np.ndarray, n_garrisons: int
    ) -> PairCosts:
        """Build the table of arcs (duplicates keep the last listed, as a lookup would)."""
        keys = np.asarray(rows, dtype=np.int64) * n_garrisons + np.asarray(garrisons, np.int64)
        order = np.argsort(keys, kind="stable")
        keys, values = keys[order], np.asarray(cost, dtype=float)[order]
        last = np.ones(len(keys), dtype=bool)
        last[:-1] = keys[1:] != keys[:-1]
        return cls(keys[last], values[last], n_garrisons)

    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return every listed pair: ``(row, garrison, cost)``, by row then garrison."""
        row, garrison = np.divmod(self.keys, self.n_garrisons)
        return row, garrison, self.values

    def __call__(self, rows: np.ndarray, garrisons: np.ndarray) -> np.ndarray:
        """Return the cost of each (row, garrison) pair; each must be in the table."""
        key = np.asarray(rows, dtype=np.int64) * self.n_garrisons + np.asarray(
            garrisons, dtype=np.int64
        )
        pos = np.searchsorted(self.keys, key)
        if len(key) and (pos.max() >= len(self.keys) or (self.keys[pos] != key).any()):
            msg = "cost asked of a pair that is not allowed"
            raise KeyError(msg)
        found: np.ndarray = self.values[pos]
        return found


@dataclass(frozen=True)
class Forces:
    """Demand rows and the garrison teams that may serve them.

    Attributes
    ----------
    row_center
        Centre index of each demand row (int64, sorted).
    demand
        Teams each row needs (int64).
    row_agency
        Agency of each row (object array), or None when agencies are not in use.
    allowed
        Whether a row's agency may operate at its centre (its jurisdiction).
    garrison_agency
        Agency of each garrison (object array), or None.
    capacity
        Teams each garrison can send to centres: its capacity less its reserve.
    reserve
        Teams each garrison holds back (int64; zeros without a ``reserve`` column).
    center_class, class_garrisons
        Pair rules beyond agencies (``jurisdiction="command"``, a centre's
        ``votes_agency``): the class code (int64) of each centre, and for each class the
        garrisons that may serve its centres (bool, classes × garrisons). None: no rule.
    """

    row_center: np.ndarray
    demand: np.ndarray
    row_agency: np.ndarray | None
    allowed: np.ndarray
    garrison_agency: np.ndarray | None
    capacity: np.ndarray
    reserve: np.ndarray
    center_class: np.ndarray | None = None
    class_garrisons: np.ndarray | None = None

    @property
    def agencies(self) -> list[str]:
        """The agencies in use (empty when centres do not ask for particular agencies)."""
        if self.garrison_agency is None or self.row_agency is None:
            return []
        return sorted(set(self.garrison_agency) | set(self.row_agency))

    @property
    def identity(self) -> bool:
        """True when any garrison may serve any centre (one agency, no jurisdiction)."""
        return self.row_agency is None and bool(self.allowed.all()) and self.center_class is None

    def groups(self, garrison_mask: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(rows, garrisons)`` per agency (and pair-rule class): allowed rows, garrisons."""
        if self.row_agency is None or self.garrison_agency is None:
            found = [(np.flatnonzero(self.allowed), np.flatnonzero(garrison_mask))]
        else:
            found = [
                (
                    np.flatnonzero(self.allowed & (self.row_agency == agency)),
                    np.flatnonzero(garrison_mask & (self.garrison_agency == agency)),
                )
                for agency in self.agencies
            ]
        if self.center_class is None or self.class_garrisons is None:
            return found
        row_class = self.center_class[self.row_center]
        return [
            (rows[row_class[rows] == k], cols[self.class_garrisons[k, cols]])
            for rows, cols in found
            for k in np.unique(row_class[rows])
        ]

    def may_serve(self, rows: np.ndarray, garrisons: np.ndarray) -> np.ndarray:
        """Tell, per (row, garrison) pair, whether the pair rules let the garrison serve it."""
        return self.may_serve_centers(self.row_center[rows], garrisons)

    def may_serve_centers(self, centers: np.ndarray, garrisons: np.ndarray) -> np.ndarray:
        """Tell, per (centre, garrison) pair, whether the pair rules let the garrison serve it."""
        if self.center_class is None or self.class_garrisons is None:
            return np.ones(len(centers), dtype=bool)
        found: np.ndarray = self.class_garrisons[self.center_class[centers], garrisons]
        return found


@dataclass(frozen=True)
class Labels:
    """What turns solver indices back into the caller's ids and places.

    Attributes
    ----------
    center_ids, garrison_ids
        Ids (object arrays of ``str``), in problem order.
    center_lonlat, garrison_lonlat
        (n, 2) and (m, 2) float arrays of lon/lat (EPSG:4326).
    governorate
        Each centre's governorate (object array), or None without that column.
    capacity
        Each garrison's capacity as given (reserve included), int64.
    forces
        The demand rows: centre and agency of each row, jurisdiction, reserves.
    unit
        ``"m"`` (metres) or ``"s"`` (seconds).
    center_attributes, garrison_attributes
        Descriptive columns of the inputs carried to the outputs for readers (``name``,
        ``governorate``, ``tier``, ``agency`` where given): column → object array of
        ``str`` in problem order. Never used by a solver.
    tier
        Each centre's risk tier as text (object array), or None without a ``tier``
        column.
    """

    center_ids: np.ndarray = field(repr=False)
    garrison_ids: np.ndarray = field(repr=False)
    center_lonlat: np.ndarray = field(repr=False)
    garrison_lonlat: np.ndarray = field(repr=False)
    governorate: np.ndarray | None = field(repr=False)
    capacity: np.ndarray = field(repr=False)
    forces: Forces = field(repr=False)
    unit: str = "m"
    center_attributes: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False)
    garrison_attributes: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False)
    tier: np.ndarray | None = field(default=None, repr=False)

    @property
    def cost_column(self) -> str:
        """``distance_m`` or ``time_s``."""
        return "distance_m" if self.unit == "m" else "time_s"

    def row_ids(self, rows: np.ndarray) -> np.ndarray:
        """Centre id of each demand row."""
        ids: np.ndarray = self.center_ids[self.forces.row_center[rows]]
        return ids


@dataclass(frozen=True)
class BackupArcs:
    """Where backups may come from: centre → garrison arcs within the backup limit.

    Attributes
    ----------
    arcs
        Allowed backup arcs (centre index, garrison index, whole-unit cost).
    capacity
        Centres each garrison may back up: its reserve × ``centers_per_team``.
    limit
        The backup response limit, in the instance's unit (``inf``: none).
    cost
        Exact cost of (centre, garrison) backup pairs.
    """

    arcs: Arcs
    capacity: np.ndarray
    limit: float
    cost: CostLookup = field(repr=False)


class Parameters(Mapping[str, Any]):
    """A read-only, picklable mapping of the options an instance was prepared with."""

    def __init__(self, items: Mapping[str, Any] | None = None) -> None:
        self._items = dict(items or {})

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Parameters({self._items!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._items) == dict(other)

    def __hash__(self) -> int:
        return hash(tuple(self._items))


@dataclass(frozen=True)
class Instance:
    """One assignment instance as arrays: what ``es.prepare`` returns and ``es.solve`` takes.

    Frozen, numpy-only and picklable (``pickle.loads(pickle.dumps(instance))`` solves to
    the same plan). Derive what-if variants with :meth:`replace`, which never touches the
    original.

    Attributes
    ----------
    problem
        The arrays the solvers take (demand rows, capacities, candidate arcs, oracle).
    labels
        Ids, places and demand rows, to label the plan.
    cost
        Exact cost of any allowed (row, garrison) pair.
    parameters
        The options given to ``prepare`` (read-only), as the plan's ``parameters`` show.
    input_hash
        SHA-256 of the validated inputs (ids, team counts, lon/lat to 1e-7 degrees).
    backup
        Backup arcs and capacities, when backups were asked for; else None.
    unlimited
        With travel-time costs and a time limit: the problem without the limit (for the
        "smallest limit that would work" diagnosis); else None.
    options
        Solver tuning the instance is solved with.
    limits
        The response limit of each demand row, in the instance's unit (``inf``: none),
        or None when no limit was given.
    road
        With road costs: each centre's access to the roads (from the cost matrix), so
        that uncovered centres get their true reason; else None.
    warnings
        Sentences a planner must see, from building the costs (the plan carries them).
    """

    problem: Problem = field(repr=False)
    labels: Labels = field(repr=False)
    cost: CostLookup = field(repr=False)
    parameters: Parameters = field(default_factory=Parameters)
    input_hash: str = ""
    backup: BackupArcs | None = field(default=None, repr=False)
    unlimited: Problem | None = field(default=None, repr=False)
    options: SolverOptions = field(default_factory=SolverOptions, repr=False)
    limits: np.ndarray | None = field(default=None, repr=False)
    road: RoadReach | None = field(default=None, repr=False)
    warnings: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"Instance({self.n_centers} centres × {self.n_garrisons} garrisons, "
            f"{self.problem.n_centers} demand rows, unit={self.unit!r})"
        )

    @property
    def n_centers(self) -> int:
        """Number of centres."""
        return len(self.labels.center_ids)

    @property
    def n_garrisons(self) -> int:
        """Number of garrisons."""
        return len(self.labels.garrison_ids)

    @property
    def unit(self) -> str:
        """``"m"`` or ``"s"``."""
        return self.labels.unit

    def replace(
        self,
        *,
        capacity: np.ndarray | None = None,
        demand: np.ndarray | None = None,
        keep_arcs: np.ndarray | None = None,
    ) -> Instance:
        """Return a variant with other capacities, demands or fewer allowed pairs.

        Parameters
        ----------
        capacity
            Teams each garrison can send (int64, one per garrison, reserve excluded).
        demand
            Teams each demand row needs (int64, one per row).
        keep_arcs
            Boolean mask over ``problem.arcs``: the candidate arcs still allowed. The
            variant then allows only the kept arcs (its oracle is dropped).

        Returns
        -------
        Instance
            A new instance; this one is unchanged.
        """
        problem = self.problem
        changes: dict[str, Any] = {}
        if capacity is not None:
            changes["capacity"] = _counts(capacity, problem.n_garrisons, "capacity")
        if demand is not None:
            changes["demand"] = _counts(demand, problem.n_centers, "demand")
        if keep_arcs is not None:
            changes["arcs"] = problem.arcs.subset(np.asarray(keep_arcs, dtype=bool))
            changes.update(oracle=None, max_cost=None, reach=None)
        return dataclasses.replace(self, problem=dataclasses.replace(problem, **changes))


def input_hash(labels: Labels, center_demand: np.ndarray) -> str:
    """SHA-256 of what a plan depends on: ids, team counts and lon/lat (1e-7 degrees).

    ``center_demand`` is each centre's teams (all agencies); garrisons count their
    capacity as given (reserve included).
    """
    digest = hashlib.sha256()
    for ids, teams, lonlat in (
        (labels.center_ids, center_demand, labels.center_lonlat),
        (labels.garrison_ids, labels.capacity, labels.garrison_lonlat),
    ):
        digest.update("\x1f".join(map(str, ids)).encode())
        digest.update(np.asarray(teams, dtype=np.int64).tobytes())
        digest.update(np.rint(np.asarray(lonlat, dtype=float) * 1e7).astype(np.int64).tobytes())
    return "sha256:" + digest.hexdigest()


def _counts(values: np.ndarray, size: int, name: str) -> np.ndarray:
    out = np.asarray(values)
    if out.shape != (size,) or not np.issubdtype(out.dtype, np.integer) or (out < 0).any():
        got = f"shape {out.shape}, dtype {out.dtype}"
        raise InputError([Issue("arguments", name, (), f"must be {size} integers ≥ 0 ({got})")])
    copied: np.ndarray = out.astype(np.int64, copy=True)
    return copied
