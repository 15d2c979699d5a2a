"""Exact infeasibility diagnosis: which centres cannot be covered, and why.

Given a split plan that covers as much demand as possible (``FlowSolution`` with
uncovered teams), grow the set X of centres from those left uncovered by alternating
search: add every garrison that X can reach through an allowed arc, then every centre
those garrisons serve. At the fixpoint every garrison reachable from X is full and serves
only X, so X needs ``demand(X)`` teams while the garrisons it can reach hold
``capacity(N(X)) = demand(X) - shortfall``: a Hall-violating set, the source side of a
minimum cut. Its connected parts are reported as separate blocking regions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from electsec.problem import Arcs, Problem
from electsec.solvers.flow import FlowSolution

__all__ = ["Cut", "CutRegion", "diagnose"]


@dataclass(frozen=True)
class CutRegion:
    """Centres that need more teams than every garrison they can reach holds."""

    centers: np.ndarray
    garrisons: np.ndarray
    demand: int
    capacity: int

    @property
    def deficit(self) -> int:
        """Teams missing: ``demand - capacity``."""
        return self.demand - self.capacity


@dataclass(frozen=True)
class Cut:
    """Why a plan cannot cover every centre (indices into the problem)."""

    shortfall: int
    unreachable: np.ndarray
    regions: tuple[CutRegion, ...]


def allowed_arcs(problem: Problem, rows: np.ndarray) -> Arcs:
    """Every allowed arc of the centres ``rows`` (oracle or listed arcs)."""
    if problem.oracle is not None:
        return problem.oracle_arcs(np.full(len(rows), np.inf), rows)
    keep = np.isin(problem.arcs.center, rows)
    a = problem.arcs
    return a.subset(keep)


def diagnose(problem: Problem, sol: FlowSolution) -> Cut:
    """Find the unreachable centres and the blocking regions of a max-coverage plan.

    Parameters
    ----------
    problem
        The instance.
    sol
        A plan optimal over every allowed arc (``solve_split``) with ``shortfall > 0``.

    Returns
    -------
    Cut
        Regions whose deficits add up to ``sol.shortfall``.
    """
    n, m = problem.n_centers, problem.n_garrisons
    in_x = sol.uncovered > 0
    served_by = sol.arcs.garrison[sol.flow > 0]
    served_center = sol.arcs.center[sol.flow > 0]
    in_n = np.zeros(m, dtype=bool)
    pending = np.flatnonzero(in_x)
    edges: list[Arcs] = []
    while len(pending):
        arcs = allowed_arcs(problem, pending)
        useful = problem.capacity[arcs.garrison] > 0
        edges.append(arcs.subset(useful))
        new_g = np.setdiff1d(arcs.garrison[useful], np.flatnonzero(in_n))
        in_n[new_g] = True
        reached = np.unique(served_center[np.isin(served_by, new_g)])
        pending = reached[~in_x[reached]]
        in_x[pending] = True
    has_arc = np.zeros(n, dtype=bool)
    all_edges = (
        np.concatenate([e.center for e in edges]) if edges else np.zeros(0, int),
        np.concatenate([e.garrison for e in edges]) if edges else np.zeros(0, int),
    )
    has_arc[all_edges[0]] = True
    unreachable = np.flatnonzero(in_x & ~has_arc & (problem.demand > 0))
    regions = _regions(problem, in_x, in_n, all_edges)
    return Cut(sol.shortfall, unreachable, regions)


def _regions(
    problem: Problem,
    in_x: np.ndarray,
    in_n: np.ndarray,
    edges: tuple[np.ndarray, np.ndarray],
) -> tuple[CutRegion, ...]:
    n, m = problem.n_centers, problem.n_garrisons
    graph = sp.coo_array((np.ones(len(edges[0])), (edges[0], n + edges[1])), shape=(n + m, n + m))
    _, label = connected_components(graph, directed=False)
    nodes = np.r_[np.flatnonzero(in_x), n + np.flatnonzero(in_n)]
    out = []
    for lab in np.unique(label[nodes]):
        members = nodes[label[nodes] == lab]
        centers = members[members < n]
        garrisons = members[members >= n] - n
        region = CutRegion(
            centers,
            garrisons,
            int(problem.demand[centers].sum()),
            int(problem.capacity[garrisons].sum()),
        )
        if region.deficit > 0:
            out.append(region)
    return tuple(sorted(out, key=lambda r: (-r.deficit, int(r.centers.min()))))
