"""Re-solve a split LP after pricing added arcs, around the arcs that improve it only.

Each pricing round of :func:`electsec.solvers.flow.solve_split` used to solve the whole
network again from scratch to take in a few hundred priced arcs. When the last flow
covered every team, most of it stays optimal: only rows near the improving arcs move.
:func:`resolve_locally` re-solves those rows with every other row's flow kept, then
proves the merged flow optimal on the whole pool (its residual graph has no negative
cycle: Bellman-Ford settles its duals). Pricing then checks every allowed arc against
those duals as after a full solve, so the LP optimum is the same; only the flow solves
are smaller. When the proof fails the region grows and is tried again, a few times at
most, and then the caller solves the whole network as before.
"""

from __future__ import annotations

import numpy as np

from electsec.errors import SolverError
from electsec.problem import Arcs, Problem
from electsec.solvers.flow import _INF, FlowSolution, _Network, _potentials

__all__ = ["local_flow", "resolve_locally"]

#: Largest share of the rows a local re-solve may hold (beyond :data:`MIN_ROWS`).
MAX_SHARE = 0.5
#: A local region may always hold this many rows.
MIN_ROWS = 500
#: Rows → garrisons → rows steps the region first grows from the improving arcs' rows.
#: On the national sample with five garrisons lost, 3 steps give regions of a fifth to a
#: quarter of the rows that are proven at the first or second try (2 steps fail more
#: often, 4 solve larger regions; benchmarks/RESULTS.md, "Local re-solves").
HOPS = 3
#: Local solves tried before the whole network is solved.
TRIES = 2
#: Bellman-Ford rounds the merged flow's duals may take: the national pool's settle in
#: about 20; a flow that is not optimal never settles, so a low cap fails it sooner.
ROUNDS = 50


def resolve_locally(problem: Problem, last: FlowSolution, pool: Arcs) -> FlowSolution | None:
    """Return the LP optimum on ``pool``, re-solved near the arcs ``last`` lacks.

    Parameters
    ----------
    problem
        The instance.
    last
        The previous round's :class:`~electsec.solvers.flow.FlowSolution`: a flow that
        covers every team, optimal on its own arcs (a subset of ``pool``).
    pool
        The arcs of this round: ``last``'s arcs and the priced ones.

    Returns
    -------
    FlowSolution or None
        The flow with its duals, proven optimal on ``pool``; None when no local region
        up to :data:`MAX_SHARE` of the rows could be proven (solve the whole network).
    """
    m = problem.n_garrisons
    flow0 = np.zeros(len(pool), dtype=np.int64)
    used = last.flow > 0
    flow0[np.searchsorted(pool.keys(m), last.arcs.keys(m)[used])] = last.flow[used]
    region = np.zeros(problem.n_centers, dtype=bool)
    region[pool.center[last.reduced_cost(pool) < 0]] = True
    if not region.any():
        return None  # nothing improves: not a pricing round (the caller solves as before)
    served = flow0 > 0
    grow(pool, served, region, HOPS)
    cap = max(MIN_ROWS, MAX_SHARE * problem.n_centers)
    for _ in range(TRIES):
        if region.sum() > cap:
            return None
        flow = local_flow(problem, pool, flow0, region)
        if flow is not None:
            found = proven(problem, pool, flow)
            if found is not None:
                return found
        grow(pool, served, region, 1)
    return None


def grow(pool: Arcs, served: np.ndarray, region: np.ndarray, hops: int) -> None:
    """Add, ``hops`` times, the rows a garrison serves (``served``) that a region row can use."""
    for _ in range(hops):
        near = np.zeros(int(pool.garrison.max(initial=-1)) + 1, dtype=bool)
        near[pool.garrison[region[pool.center]]] = True
        region[pool.center[served & near[pool.garrison]]] = True


def local_flow(
    problem: Problem, pool: Arcs, flow0: np.ndarray, region: np.ndarray
) -> np.ndarray | None:
    """Flow on ``pool``: the region's rows re-solved, every other row's kept from ``flow0``.

    None when the teams left by the rows kept cannot carry the region's demand.
    """
    rows = np.flatnonzero(region)
    inside = region[pool.center]
    load_out = np.bincount(
        pool.garrison[~inside], weights=flow0[~inside], minlength=problem.n_garrisons
    ).astype(np.int64)
    left = problem.capacity - load_out
    if (left < 0).any():
        return None
    sub = Arcs(
        np.searchsorted(rows, pool.center[inside]).astype(np.int32),
        pool.garrison[inside],
        pool.cost[inside],
    )
    found = _Network.build(Problem(problem.demand[rows], left, sub), sub, None).solve(
        if_feasible=True
    )
    if found is None:
        return None
    flow = np.where(inside, 0, flow0)
    flow[np.flatnonzero(inside)] = found[: len(sub)]
    return flow


def proven(
    problem: Problem, pool: Arcs, flow: np.ndarray, *, rounds: int = ROUNDS
) -> FlowSolution | None:
    """Return ``flow`` with its duals if it is optimal on ``pool`` (covering), else None.

    ``rounds`` bounds the Bellman-Ford rounds that settle the duals.
    """
    n = problem.n_centers
    penalty = np.full(n, _INF, dtype=np.int64)
    uncovered = np.zeros(n, dtype=np.int64)
    try:
        u, w = _potentials(problem, pool, flow, uncovered, penalty, rounds=rounds)
    except SolverError:
        return None
    return FlowSolution(pool, flow, uncovered, int(flow @ pool.cost), u, w, penalty)
