"""Fixes a planner can act on: the smallest limit per tier, and teams that cover a region.

Both answers are exact and checked with max-flows (OR-Tools):

* :func:`smallest_group_limit` — the smallest limit for one group of demand rows (a risk
  tier) that makes the plan feasible while every other row keeps its limit: bisection
  over the candidate arc costs, each step a max-flow. Arcs are never listed in full:
  :func:`exact_cover` tries a max-flow over a pool (the LP's arcs) and, when that
  falls short, the exact split LP with pricing, which finds every allowed arc that
  could carry more teams.
* :func:`reinforce` — for one blocking region, teams to add at garrisons already in
  reach that cover it (greedy, each step a max-flow over the region), and the nearest
  garrisons beyond the limit.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from electsec.problem import Arcs, Problem
from electsec.solvers.diagnose import CutRegion, allowed_arcs
from electsec.solvers.flow import _max_flow, covers_all, solve_split

__all__ = [
    "Relaxation",
    "Suggestion",
    "exact_cover",
    "nearest_allowed",
    "reinforce",
    "smallest_group_limit",
]

#: Nearest garrisons per row first tried when a group's limit is lifted.
_FIRST_NEAREST = 16
#: Garrisons in reach tried per greedy step of :func:`reinforce`.
_TRIED = 25
#: Rounds of "bisect on the pool, check exactly below" (each lowers the answer).
_MAX_ROUNDS = 50
#: Nearest garrisons beyond the limit named per region.
_BEYOND = 3


def exact_cover(problem: Problem, pool: Arcs) -> tuple[bool, Arcs]:
    """Tell whether every team can be covered over all allowed arcs of ``problem``.

    A max-flow over ``pool`` answers when it covers everyone; otherwise the exact split
    LP with pricing (:func:`~electsec.solvers.flow.solve_split`, which finds every
    allowed arc that could carry more teams without listing all) decides.

    Parameters
    ----------
    problem
        The instance (with an oracle, every arc it allows counts).
    pool
        Allowed arcs to start from (sorted, as :class:`Arcs` are).

    Returns
    -------
    tuple
        Whether all demand can be covered, and the pool grown by the arcs looked at.
    """
    if problem.oracle is None:
        return covers_all(problem, problem.arcs), problem.arcs
    if covers_all(problem, pool):
        return True, pool
    sol = solve_split(dataclasses.replace(problem, arcs=pool, reach=None), widen=False)
    return sol.shortfall == 0, pool.union(sol.arcs)


@dataclass(frozen=True)
class Relaxation:
    """A problem whose rows in ``group`` may use arcs up to a limit ``L`` of our choice.

    Attributes
    ----------
    problem
        The instance; with an oracle its ``max_cost`` holds every row's limit.
    limits
        Each row's limit (``inf``: none), in whole units.
    group
        Rows whose limit is raised (bool per row).
    beyond
        Without an oracle: every arc of the group's rows without limits (whole units).
    """

    problem: Problem
    limits: np.ndarray
    group: np.ndarray
    beyond: Arcs | None = None

    def at(self, value: float) -> Problem:
        """Return the problem with the group's limits raised to ``value`` (never lowered)."""
        base = dataclasses.replace(self.problem, priority=None)
        if self.beyond is None:
            raised = np.where(self.group, np.maximum(self.limits, value + 0.5), self.limits)
            return dataclasses.replace(base, max_cost=raised)
        extra = self.beyond.subset(self.beyond.cost <= value)
        return dataclasses.replace(base, arcs=base.arcs.union(extra))

    def allowed(self, arcs: Arcs, value: float) -> Arcs:
        """Return the arcs of ``arcs`` allowed when the group's limit is ``value``."""
        limit = np.where(self.group, np.maximum(self.limits, value), self.limits)
        return arcs.subset(arcs.cost <= limit[arcs.center])


def smallest_group_limit(relax: Relaxation, pool: Arcs) -> int | None:
    """Find the smallest limit for the group's rows that makes every team coverable.

    Parameters
    ----------
    relax
        The problem, its limits and the group.
    pool
        Allowed arcs to start from (for example the LP's arcs).

    Returns
    -------
    int or None
        The limit in whole units (every pair costing at most it, rounded, is allowed);
        None when even no limit for the group would do.
    """
    problem = relax.problem
    rows = np.flatnonzero(relax.group & (problem.demand > 0))
    if problem.oracle is None:
        assert relax.beyond is not None  # noqa: S101
        candidates = relax.beyond
        if not covers_all(problem, relax.at(math.inf).arcs):
            return None
        return _bisect(_values(relax, candidates), lambda v: covers_all(problem, relax.at(v).arcs))
    near = Arcs.from_arrays(*problem.oracle.nearest(_FIRST_NEAREST, rows))
    ok, pool = exact_cover(relax.at(math.inf), pool.union(near))
    if not ok or not len(_values(relax, pool)):
        return None
    found = 0
    for _ in range(_MAX_ROUNDS):
        found = _bisect(_values(relax, pool), _on_pool(relax, pool))
        # Exact below ``found``? The pool may lack cheaper arcs of blocked regions.
        ok, more = exact_cover(relax.at(found - 1), relax.allowed(pool, found - 1))
        if not ok:
            return found
        pool = pool.union(more)
    return found  # pragma: no cover - each round lowers ``found``; a guard only


def _on_pool(relax: Relaxation, pool: Arcs) -> Callable[[int], bool]:
    """Feasibility of limit ``v`` over the pool's arcs alone (enough when True)."""
    return lambda v: covers_all(relax.problem, relax.allowed(pool, v))


def _values(relax: Relaxation, arcs: Arcs) -> np.ndarray:
    """Distinct costs of the group's arcs beyond the rows' own limits, ascending."""
    mine = relax.group[arcs.center] & (arcs.cost > relax.limits[arcs.center])
    values: np.ndarray = np.unique(arcs.cost[mine])
    return values


def _bisect(values: np.ndarray, feasible: Callable[[int], bool]) -> int:
    """Smallest of ``values`` (ascending) that is feasible; the last one must be."""
    lo, hi = 0, len(values) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if feasible(int(values[mid])):
            hi = mid
        else:
            lo = mid + 1
    return int(values[lo])


@dataclass(frozen=True)
class Suggestion:
    """Teams that cover one blocking region (indices into the problem)."""

    add_at: tuple[tuple[int, int], ...]
    beyond: tuple[tuple[int, float], ...]


def reinforce(problem: Problem, region: CutRegion, beyond: Arcs | None = None) -> Suggestion:
    """Where to add the region's missing teams, and the nearest garrisons out of reach.

    Parameters
    ----------
    problem
        The instance (limits as planned).
    region
        A blocking region of its minimum cut.
    beyond
        Without an oracle: the region rows' arcs without limits (to name the nearest
        garrisons beyond the limit); with one, the oracle is asked.

    Returns
    -------
    Suggestion
        ``add_at``: (garrison, teams) whose extra teams let a max-flow over the region
        cover it (empty when a centre has no garrison in reach); ``beyond``: nearest
        garrisons with teams out of reach, (garrison, cost to the nearest centre).
    """
    rows = region.centers
    arcs = allowed_arcs(problem, rows)
    add_at = _greedy(problem, rows, arcs) if region.garrisons.size else ()
    return Suggestion(add_at, _beyond(problem, rows, arcs, beyond))


def _greedy(problem: Problem, rows: np.ndarray, arcs: Arcs) -> tuple[tuple[int, int], ...]:
    """Add teams where a max-flow over the region gains most, until it is covered."""
    garrisons, col = np.unique(arcs.garrison, return_inverse=True)
    row_of = {int(r): i for i, r in enumerate(rows)}
    local = Arcs.from_arrays(
        np.array([row_of[int(c)] for c in arcs.center], dtype=np.int64), col, arcs.cost
    )
    demand = problem.demand[rows]
    capacity = problem.capacity[garrisons].astype(np.int64)
    reach = np.bincount(col, weights=demand[local.center], minlength=len(garrisons))
    tried = np.argsort(-reach, kind="stable")[:_TRIED]

    def short(cap: np.ndarray) -> int:
        return int(_max_flow(Problem(demand, cap, local), local)[1].sum())

    missing, added = short(capacity), []
    while missing > 0:
        gains = [
            missing - short(capacity + np.eye(1, len(garrisons), g, np.int64)[0] * missing)
            for g in tried
        ]
        best = int(np.argmax(gains))
        if gains[best] <= 0:
            break
        capacity[tried[best]] += gains[best]
        added.append((int(garrisons[tried[best]]), int(gains[best])))
        missing -= gains[best]
    return tuple(added) if missing == 0 else ()


def _beyond(
    problem: Problem, rows: np.ndarray, arcs: Arcs, unlimited: Arcs | None
) -> tuple[tuple[int, float], ...]:
    """Nearest garrisons with teams that the region's centres may not use."""
    k = len(np.unique(arcs.garrison)) + _BEYOND
    if problem.oracle is not None:
        far = Arcs.from_arrays(*problem.oracle.nearest(min(k, problem.n_garrisons), rows))
    elif unlimited is not None:
        far = unlimited.subset(np.isin(unlimited.center, rows))
    else:
        return ()
    far = far.subset(~np.isin(far.garrison, arcs.garrison) & (problem.capacity[far.garrison] > 0))
    best = np.full(problem.n_garrisons, np.inf)
    np.minimum.at(best, far.garrison, far.cost.astype(float))
    order = np.argsort(best, kind="stable")[:_BEYOND]
    return tuple((int(g), float(best[g])) for g in order if np.isfinite(best[g]))


def nearest_allowed(
    problem: Problem, rows: np.ndarray, unlimited: Arcs | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest garrison with teams each row could use without its limit, and the cost.

    Returns
    -------
    tuple of numpy.ndarray
        Per row of ``rows`` sorted: garrison index (-1: none, or not known without an
        oracle or unlimited arcs) and cost (``inf`` with it).
    """
    rows = np.sort(np.asarray(rows, dtype=np.int64))
    garrison = np.full(len(rows), -1, dtype=np.int64)
    cost = np.full(len(rows), np.inf)
    if problem.oracle is not None:
        r, c, value = problem.oracle.nearest(1, rows)
        far = Arcs.from_arrays(r, c, value)
    elif unlimited is not None:
        far = unlimited.subset(np.isin(unlimited.center, rows))
    else:
        return garrison, cost
    far = far.subset(problem.capacity[far.garrison] > 0)
    order = np.lexsort((far.cost, far.center))
    first = np.ones(len(order), dtype=bool)
    first[1:] = far.center[order][1:] != far.center[order][:-1]
    pick = order[first]
    at = np.searchsorted(rows, far.center[pick]) if len(rows) else pick
    garrison[at] = far.garrison[pick]
    cost[at] = far.cost[pick]
    return garrison, cost
