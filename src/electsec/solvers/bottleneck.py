"""Fastest worst case: the smallest response limit under which every centre can be covered.

Bisection over the sorted distinct arc costs, each step a max-flow feasibility test
(OR-Tools), finds the exact bottleneck ``T*``; a min-cost flow on the arcs ≤ ``T*`` then
minimises the total at that optimum (lexicographic).
"""

from __future__ import annotations

import numpy as np

from electsec.problem import Arcs, Problem
from electsec.solvers.diagnose import allowed_arcs
from electsec.solvers.flow import covers_all

__all__ = ["bottleneck", "covers_all", "smallest_uniform_limit"]


def bottleneck(problem: Problem, upper: int | None = None) -> tuple[int, Arcs] | None:
    """Find the smallest cost limit ``T*`` under which all demand can be covered.

    Parameters
    ----------
    problem
        The instance (every allowed arc counts, oracle arcs included).
    upper
        A limit known to be feasible (for example the largest arc of a plan); saves
        listing arcs beyond it. None: every allowed arc.

    Returns
    -------
    tuple or None
        ``T*`` and every allowed arc with cost ≤ ``T*`` (sorted, each pair once); None
        when even all allowed arcs cannot cover the demand.
    """
    rows = np.flatnonzero(problem.demand > 0)
    if problem.oracle is not None and upper is not None:
        arcs = _oracle_arcs(problem, rows, upper)
        listed = _listed(problem, rows, upper)
        arcs = Arcs(
            np.concatenate([arcs.center, listed.center]),
            np.concatenate([arcs.garrison, listed.garrison]),
            np.concatenate([arcs.cost, listed.cost]),
        )
    else:
        arcs = allowed_arcs(problem, rows)
        if upper is not None:
            arcs = _cheaper(arcs, upper)
    if not len(rows):
        return 0, Arcs.from_arrays(arcs.center, arcs.garrison, arcs.cost)
    if not covers_all(problem, arcs):
        return None
    return _bisect(problem, arcs, rows)


def _bisect(problem: Problem, arcs: Arcs, rows: np.ndarray) -> tuple[int, Arcs]:
    """Bisection over the distinct costs of ``arcs`` (which cover all demand)."""
    cheapest = np.full(problem.n_centers, np.iinfo(np.int64).max)
    np.minimum.at(cheapest, arcs.center, arcs.cost)
    values = np.unique(arcs.cost)
    values = values[values >= cheapest[rows].max()]
    lo, hi = 0, len(values) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if covers_all(problem, _cheaper(arcs, int(values[mid]))):
            hi = mid
        else:
            lo = mid + 1
    limit = int(values[lo])
    kept = _cheaper(arcs, limit)  # unsorted, maybe with duplicates: normalise once here
    return limit, Arcs.from_arrays(kept.center, kept.garrison, kept.cost)


def _oracle_arcs(problem: Problem, rows: np.ndarray, limit: float) -> Arcs:
    """Oracle arcs within ``limit`` (and the problem's own limits), unsorted."""
    assert problem.oracle is not None  # noqa: S101
    radius = np.full(len(rows), float(limit))
    if problem.max_cost is not None:
        radius = np.minimum(radius, problem.max_cost[rows])
    r, c, cost = problem.oracle.within(radius, rows)
    return Arcs(r.astype(np.int32), c.astype(np.int32), np.rint(cost).astype(np.int64))


def _cheaper(arcs: Arcs, limit: int) -> Arcs:
    return arcs.subset(arcs.cost <= limit)


def _listed(problem: Problem, rows: np.ndarray, limit: int) -> Arcs:
    a = problem.arcs
    keep = np.isin(a.center, rows) & (a.cost <= limit)
    return a.subset(keep)


def smallest_uniform_limit(problem: Problem) -> int | None:
    """Find the smallest single response limit for every centre that makes the plan feasible.

    Ignores the problem's own limits (that is the point: what limit *would* work). Needs an
    oracle; returns None without one or when even unlimited pairs cannot cover demand.

    The search first bisects over the few nearest garrisons of each centre (doubling how
    many until they cover the demand), which gives a feasible limit ``U ≥ T*``; only then
    are all arcs up to ``U`` listed, and one max-flow usually shows ``U`` is already
    ``T*`` (the bottleneck arcs are nearly always among the nearest).
    """
    if problem.oracle is None or problem.capacity.sum() < problem.demand.sum():
        return None
    unlimited = Problem(problem.demand, problem.capacity, problem.arcs, oracle=problem.oracle)
    rows = np.flatnonzero(problem.demand > 0)
    if not len(rows):
        return 0
    oracle = problem.oracle
    k = _FIRST_NEAREST
    while True:
        r, c, cost = oracle.nearest(k, rows)
        if len(np.unique(r)) < len(rows):
            return None  # some centre has no allowed garrison at any distance
        near = Arcs(r.astype(np.int32), c.astype(np.int32), np.rint(cost).astype(np.int64))
        if covers_all(unlimited, near):
            break
        if k >= problem.n_garrisons:
            return None
        k *= 2
    upper, _ = _bisect(unlimited, near, rows)
    # Every arc under ``upper`` (costs rounded as the solvers see them), membership only.
    r, c, _ = oracle.within(np.full(len(rows), upper - 0.5), rows, exact=False)
    below = Arcs(r.astype(np.int32), c.astype(np.int32), np.zeros(len(r), np.int64))
    if not covers_all(unlimited, below):
        return upper  # the usual case: the nearest garrisons already set the limit
    return _bisect(unlimited, _oracle_arcs(unlimited, rows, upper - 1), rows)[0]


#: Nearest garrisons per centre in the first bound of :func:`smallest_uniform_limit`.
_FIRST_NEAREST = 16
