"""Whole-team plans when not every centre can be covered: most teams, tier by tier.

The plan covers every high-tier team it can, then medium, then low (tiers are the
weights of ``Problem.priority``; no priority: weight 1 everywhere), then costs least.
It starts from the centres the split LP serves whole from one garrison, places the
others greedily in tier order on the garrisons with room, and then, when the pool has
at most ``SolverOptions.proof_max_arcs`` arcs, re-solves it with CP-SAT, where skipping a
centre costs a lexicographic penalty: one team of a tier is worth more than every team
of the lower tiers and every cost together. Larger instances keep the greedy plan
(CP-SAT neighbourhoods around the uncovered centres are not done yet).

The split LP's plan is a bound: no whole-team plan covers more weighted teams. The
weighted objective Σ penalty × uncovered + cost of a plan against the LP's is the gap.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from electsec.config import SolverOptions
from electsec.problem import Arcs, Problem
from electsec.solvers.cpsat import AssignmentModel, cp_sat
from electsec.solvers.diagnose import allowed_arcs
from electsec.solvers.flow import FlowSolution, nearest_beyond

__all__ = ["WholeCover", "cover_whole"]

#: Up to this many (centre, garrison) pairs, the search sees every allowed pair.
EXACT_PAIRS = 200_000
#: Weighted objectives must stay well inside int64 for CP-SAT.
_INT_LIMIT = 2**60


@dataclass(frozen=True)
class WholeCover:
    """A single-sourced partial plan.

    Attributes
    ----------
    assign
        Garrison per centre; -1 where left uncovered (or needing no team).
    objective
        Σ demand × cost of the covered centres, in whole units.
    weighted, weighted_bound
        Σ penalty × uncovered teams + cost of the plan, and the split LP's (a bound).
    proven
        True when no whole-team plan covers more teams in tier order, or as many for less
        (CP-SAT proved it over every allowed pair).
    same_coverage
        The plan covers as many teams per tier as the split LP (the most possible).
    optimal
        ``proven`` and ``same_coverage``.
    """

    assign: np.ndarray
    objective: int
    weighted: int
    weighted_bound: int
    proven: bool
    same_coverage: bool

    @property
    def optimal(self) -> bool:
        """Proven to cover the most teams per tier possible at least cost."""
        return self.proven and self.same_coverage

    @property
    def gap(self) -> float:
        """``(weighted - weighted_bound) / weighted`` (0 when the plan is the bound)."""
        if self.weighted <= 0:
            return 0.0
        return max(0.0, (self.weighted - self.weighted_bound) / self.weighted)


def tier_penalty(problem: Problem, pool: Arcs) -> tuple[np.ndarray, int]:
    """Penalty per uncovered team of each centre, lexicographic over the tiers, and a scale.

    A team of tier ``t`` costs one more than every lower-tier team and every (scaled)
    cost together (cost bound: each centre's demand times its dearest pool arc). Costs
    are divided by the returned scale (1 unless the penalties would leave int64 range;
    the tier order stays exact, costs are then only approximately minimised).
    """
    demand = problem.demand.astype(np.int64)
    tier = _tiers(problem)
    dearest = np.zeros(problem.n_centers, dtype=np.int64)
    np.maximum.at(dearest, pool.center, pool.cost.astype(np.int64))
    cost_bound = int(demand @ dearest)
    growth = 1
    for t in np.unique(tier):
        growth *= int(demand[tier == t].sum()) + 1
    scale = max(1, -(-cost_bound * growth // _INT_LIMIT))
    below = cost_bound // scale + 1
    penalty = np.zeros(problem.n_centers, dtype=np.int64)
    for t in np.unique(tier):
        weight = below + 1
        penalty[tier == t] = weight
        below += weight * int(demand[tier == t].sum())
    return penalty, scale


def _tiers(problem: Problem) -> np.ndarray:
    if problem.priority is None:
        return np.ones(problem.n_centers, dtype=np.int64)
    return np.asarray(problem.priority, dtype=np.int64)


def cover_whole(
    problem: Problem,
    lp: FlowSolution,
    *,
    options: SolverOptions | None = None,
    seed: int = 0,
    deadline: float | None = None,
) -> WholeCover:
    """Return the whole-team plan covering the most teams in tier order, then least cost.

    Parameters
    ----------
    problem
        The instance (not every centre can be covered).
    lp
        The split max-coverage plan from :func:`solve_split` (it may leave teams uncovered).
    options
        Search options (the CP-SAT deterministic budget).
    seed
        CP-SAT's seed; the same seed gives the same plan without a deadline.
    deadline
        A :func:`time.perf_counter` reading by which to stop; None: deterministic
        budgets only.

    Returns
    -------
    WholeCover
    """
    options = options or SolverOptions()
    pool, exact = _pool(problem, lp)
    assign = _greedy(problem, lp, pool)
    penalty, scale = tier_penalty(problem, pool)
    remaining = None if deadline is None else deadline - time.perf_counter()
    if (remaining is not None and remaining <= 0) or len(pool) > options.proof_max_arcs:
        # Out of time, or too large for one model: the greedy plan stands.
        return _cover(problem, lp, pool, assign, penalty, proven=False)
    assign, proven = _exact(problem, pool, assign, (penalty, scale), options, seed, remaining)
    return _cover(problem, lp, pool, assign, penalty, proven=proven and exact and scale == 1)


def _pool(problem: Problem, lp: FlowSolution) -> tuple[Arcs, bool]:
    """Return the arcs to choose from, and whether they are every allowed pair."""
    rows = np.flatnonzero(problem.demand > 0)
    if problem.oracle is None or problem.n_centers * problem.n_garrisons <= EXACT_PAIRS:
        return lp.arcs.union(allowed_arcs(problem, rows)), True
    return lp.arcs.union(nearest_beyond(problem, lp.arcs, rows)), False


def _greedy(problem: Problem, lp: FlowSolution, pool: Arcs) -> np.ndarray:
    """LP-whole centres keep their garrison; the rest go, tier by tier, cheapest first."""
    demand = problem.demand
    assign = np.full(problem.n_centers, -1, dtype=np.int64)
    whole = (lp.flow > 0) & (lp.flow == demand[lp.arcs.center])
    assign[lp.arcs.center[whole]] = lp.arcs.garrison[whole]
    load = np.bincount(
        assign[assign >= 0], weights=demand[assign >= 0], minlength=problem.n_garrisons
    )
    rest = np.flatnonzero((assign < 0) & (demand > 0))
    order = rest[np.lexsort((rest, -demand[rest], -_tiers(problem)[rest]))]
    arc_order = np.lexsort((pool.garrison, pool.cost, pool.center))
    starts = np.searchsorted(pool.center[arc_order], np.arange(problem.n_centers + 1))
    for i in order:
        arcs = arc_order[starts[i] : starts[i + 1]]
        g = pool.garrison[arcs]
        fits = g[load[g] + demand[i] <= problem.capacity[g]]
        if len(fits):
            assign[i] = fits[0]
            load[fits[0]] += demand[i]
    return assign


def _exact(
    problem: Problem,
    pool: Arcs,
    assign: np.ndarray,
    weights: tuple[np.ndarray, int],
    options: SolverOptions,
    seed: int,
    remaining: float | None,
) -> tuple[np.ndarray, bool]:
    """CP-SAT over the pool, hinted with ``assign``: the better plan, and if proven."""
    penalty, scale = weights
    rows = np.flatnonzero(problem.demand > 0)
    keep = np.isin(pool.center, rows)
    order = np.lexsort((pool.garrison[keep], pool.center[keep]))
    center = pool.center[keep][order].astype(np.int64)
    garrison = pool.garrison[keep][order].astype(np.int64)
    demand = problem.demand[center]
    model = AssignmentModel(
        center,
        garrison,
        demand * (pool.cost[keep][order].astype(np.int64) // scale),
        demand,
        problem.capacity,
        items=rows,
        skip_cost=penalty[rows] * problem.demand[rows],
        hint=assign[center] == garrison,
    )
    status = model.solve(
        seed, max_time_s=remaining, deterministic_time=options.proof_deterministic_time
    )
    sat = cp_sat()
    if status not in (sat.OPTIMAL, sat.FEASIBLE):
        return assign, False
    choice = model.choice()
    found = np.full(problem.n_centers, -1, dtype=np.int64)
    found[rows[choice >= 0]] = garrison[choice[choice >= 0]]
    before = _weighted(problem, pool, assign, penalty, scale)
    if _weighted(problem, pool, found, penalty, scale) > before:
        return assign, False  # scaled costs: keep the better plan at true costs
    return found, status == sat.OPTIMAL


def _costs(problem: Problem, pool: Arcs, assign: np.ndarray) -> np.ndarray:
    """Cost of each centre's arc (0 where uncovered)."""
    out = np.zeros(problem.n_centers, dtype=np.int64)
    on = np.flatnonzero(assign >= 0)
    keys = pool.keys(problem.n_garrisons)
    at = np.searchsorted(keys, on.astype(np.int64) * problem.n_garrisons + assign[on])
    out[on] = pool.cost[at]
    return out


def _weighted(
    problem: Problem, pool: Arcs, assign: np.ndarray, penalty: np.ndarray, scale: int = 1
) -> int:
    """Σ penalty × uncovered teams + Σ demand × cost // ``scale``."""
    demand = problem.demand.astype(np.int64)
    uncovered = np.where(assign >= 0, 0, demand)
    return int(uncovered @ penalty) + int(demand @ (_costs(problem, pool, assign) // scale))


def _cover(
    problem: Problem,
    lp: FlowSolution,
    pool: Arcs,
    assign: np.ndarray,
    penalty: np.ndarray | None,
    *,
    proven: bool,
) -> WholeCover:
    demand = problem.demand.astype(np.int64)
    cost = int(demand @ _costs(problem, pool, assign))
    if penalty is None:  # pragma: no cover - see tier_penalty
        return WholeCover(assign, cost, cost, 0, proven=False, same_coverage=False)
    weighted = _weighted(problem, pool, assign, penalty)
    # The split LP is lexicographically optimal (so a bound) only when it was solved to
    # optimality over every allowed arc; otherwise nothing better than 0 is proven.
    bound = int(lp.uncovered.astype(np.int64) @ penalty) + lp.cost if lp.optimal else 0
    tiers = _tiers(problem)
    short = np.where(assign >= 0, 0, demand)
    same = all(short[tiers == t].sum() == lp.uncovered[tiers == t].sum() for t in np.unique(tiers))
    return WholeCover(assign, cost, weighted, min(bound, weighted), proven, bool(same))
