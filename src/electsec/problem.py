"""The array-level assignment problem that every solver takes (no geopandas below here)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from electsec.oracle import Admit, ArcOracle, GroupedOracle

__all__ = ["Arcs", "Problem", "rank_in_runs"]


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
        """Return the arcs of both sets (each pair once)."""
        return Arcs.from_arrays(
            np.concatenate([self.center, other.center]),
            np.concatenate([self.garrison, other.garrison]),
            np.concatenate([self.cost, other.cost]),
        )

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
