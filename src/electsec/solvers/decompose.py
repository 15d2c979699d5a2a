"""Independent regions: the allowed centre–garrison graph falls apart, so do the solves.

Two demand rows are linked when they may share a garrison. Where the allowed pairs can
be listed (explicit arcs, finite response limits) or are kept apart by construction
(agencies never share a garrison), the connected components are independent problems:
the LP optimum and its duals restrict to each, and the single-sourcing search runs on
each separately — in this process, or in parallel through any
:class:`concurrent.futures.Executor` (a process pool, or a Dask ``Client.get_executor()``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from electsec.config import SolverOptions
from electsec.oracle import ArcOracle, GroupedOracle
from electsec.problem import Arcs, Problem
from electsec.solvers.flow import FlowSolution, dual_bound
from electsec.solvers.single import SingleSolution, solve_single

__all__ = ["Part", "regions", "restrict", "solve_regions"]


@dataclass(frozen=True)
class Part:
    """Rows and garrisons (problem indices, sorted) that no other part can touch."""

    rows: np.ndarray
    garrisons: np.ndarray


def regions(problem: Problem, *, min_rows: int = SolverOptions.region_min_centers) -> list[Part]:
    """Split a problem into independent parts (one part when it does not split).

    Parameters
    ----------
    problem
        The instance.
    min_rows
        Components are packed together, in order, until a part has this many rows
        (fewer, larger tasks).

    Returns
    -------
    list of Part
    """
    n, m = problem.n_centers, problem.n_garrisons
    linked = _allowed(problem)
    if linked is None:
        return [Part(np.arange(n), np.arange(m))]
    center, garrison = linked
    graph = sp.coo_array(
        (np.ones(len(center), dtype=np.int8), (center, n + garrison)), shape=(n + m, n + m)
    )
    _, label = connected_components(graph, directed=False)
    parts: list[Part] = []
    rows: list[np.ndarray] = []
    gars: list[np.ndarray] = []
    order = np.argsort(label, kind="stable")
    bounds = np.flatnonzero(np.r_[True, label[order][1:] != label[order][:-1], True])
    for lo, hi in pairwise(bounds):
        nodes = order[lo:hi]
        rows.append(nodes[nodes < n])
        gars.append(nodes[nodes >= n] - n)
        if sum(map(len, rows)) >= min_rows:
            parts.append(Part(np.sort(np.concatenate(rows)), np.sort(np.concatenate(gars))))
            rows, gars = [], []
    if rows:
        parts.append(Part(np.sort(np.concatenate(rows)), np.sort(np.concatenate(gars))))
    return parts


def _allowed(problem: Problem) -> tuple[np.ndarray, np.ndarray] | None:
    """List every allowed (row, garrison) link, or None when that is not cheap."""
    oracle = problem.oracle
    if oracle is None:
        return problem.arcs.center.astype(np.int64), problem.arcs.garrison.astype(np.int64)
    limits = (
        problem.max_cost if problem.max_cost is not None else np.full(problem.n_centers, np.inf)
    )
    if isinstance(oracle, ArcOracle):
        if not np.isfinite(limits).all():
            return None
        r, c, _ = oracle.within(limits, exact=False)
        return r, c.astype(np.int64)
    # Agencies: rows of different groups never share a garrison; list each group's links
    # where its limits are finite, else link all its rows through one of its garrisons.
    centers, garrisons = [], []
    for members, sub in oracle.groups:
        if not len(sub.garrison_index):
            continue
        if np.isfinite(limits[members]).all():
            r, c, _ = sub.within(limits[members], exact=False)
            centers.append(members[r])
            garrisons.append(c.astype(np.int64))
        else:
            centers.append(members)
            garrisons.append(np.full(len(members), sub.garrison_index[0], dtype=np.int64))
            everyone = np.repeat(members[:1], len(sub.garrison_index))
            centers.append(everyone)
            garrisons.append(sub.garrison_index.astype(np.int64))
    if not centers:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(centers).astype(np.int64), np.concatenate(garrisons)


def restrict(problem: Problem, lp: FlowSolution, part: Part) -> tuple[Problem, FlowSolution]:
    """Cut out one part's sub-problem, renumbered, with the LP optimum and duals."""
    rows, gars = part.rows, part.garrisons
    sub_arcs = _sub_arcs(problem.arcs, rows, gars)
    oracle = None if problem.oracle is None else _sub_oracle(problem.oracle, rows, gars)
    sub = Problem(
        problem.demand[rows],
        problem.capacity[gars],
        sub_arcs,
        oracle=oracle,
        max_cost=None if problem.max_cost is None else problem.max_cost[rows],
        priority=None if problem.priority is None else problem.priority[rows],
        reach=None if problem.reach is None else problem.reach[rows],
    )
    keep = np.isin(lp.arcs.center, rows)
    lp_arcs = _sub_arcs(lp.arcs, rows, gars)
    flow = lp.flow[keep]
    # Duals restricted to a part stay feasible for it: the part's bound is their share.
    floor = None if lp.bound_potential is None else lp.bound_potential[rows]
    sub_lp = FlowSolution(
        lp_arcs,
        flow,
        lp.uncovered[rows],
        int(flow @ lp_arcs.cost),
        lp.center_potential[rows],
        lp.garrison_potential[gars],
        lp.penalty[rows],
        bound=None
        if floor is None
        else dual_bound(sub.demand, sub.capacity, floor, lp.garrison_potential[gars]),
        bound_potential=floor,
    )
    return sub, sub_lp


def _sub_arcs(arcs: Arcs, rows: np.ndarray, gars: np.ndarray) -> Arcs:
    keep = np.isin(arcs.center, rows)
    return Arcs(
        np.searchsorted(rows, arcs.center[keep]).astype(np.int32),
        np.searchsorted(gars, arcs.garrison[keep]).astype(np.int32),
        arcs.cost[keep],
    )


def _sub_oracle(
    oracle: ArcOracle | GroupedOracle, rows: np.ndarray, gars: np.ndarray
) -> ArcOracle | GroupedOracle:
    if isinstance(oracle, ArcOracle):
        return _sub_tree(oracle, rows, gars)
    groups = []
    for members, sub in oracle.groups:
        mine = np.flatnonzero(np.isin(members, rows))
        if len(mine):
            groups.append((np.searchsorted(rows, members[mine]), _sub_tree(sub, mine, gars)))
    return GroupedOracle(len(rows), groups)


def _sub_tree(oracle: ArcOracle, rows: np.ndarray, gars: np.ndarray) -> ArcOracle:
    """Build the oracle of ``rows`` (its own centre indices) and the garrisons ``gars``."""
    inside = np.isin(oracle.garrison_index, gars)
    return ArcOracle(
        oracle.center_xy[rows],
        oracle.garrison_xy[inside],
        metric=oracle.metric,
        garrison_index=np.searchsorted(gars, oracle.garrison_index[inside]),
    )


def solve_regions(
    problem: Problem,
    lp: FlowSolution,
    *,
    options: SolverOptions | None = None,
    deadline: float | None = None,
    seed: int = 0,
    executor: Executor | None = None,
) -> SingleSolution:
    """Single-sourcing, each independent region on its own (see :func:`solve_single`).

    Parameters
    ----------
    problem, lp, options, seed
        As for :func:`electsec.solvers.single.solve_single`.
    deadline
        A :func:`time.perf_counter` reading by which to stop, or None. Run here, each
        region in turn gets its share (by rows) of what is left when it starts; run on an
        executor, every region gets all that is left when the regions are sent (workers
        may sit on other machines, so they are given seconds, not a clock reading).
    executor
        Runs the regions in parallel when given (their results do not depend on it).

    Returns
    -------
    SingleSolution
        The regions' plans put together; bound and objective are their sums.
    """
    options = options or SolverOptions()
    parts = regions(problem, min_rows=options.region_min_centers)
    if len(parts) == 1:
        return solve_single(problem, lp, options=options, deadline=deadline, seed=seed)
    pieces = [restrict(problem, lp, part) for part in parts]
    results: Iterator[SingleSolution]
    if executor is not None:
        left = None if deadline is None else max(0.05, deadline - time.perf_counter())
        tasks = [(*piece, options, left, seed) for piece in pieces]
        results = executor.map(_solve_task, tasks)
    else:
        results = _in_turn(pieces, options, deadline, seed)
    assign = np.full(problem.n_centers, -1, dtype=np.int64)
    cost = np.zeros(problem.n_centers, dtype=np.int64)
    objective = bound = 0
    optimal = True
    for part, found in zip(parts, results, strict=True):
        placed = found.assign >= 0
        assign[part.rows[placed]] = part.garrisons[found.assign[placed]]
        cost[part.rows] = found.cost
        objective += int(found.objective)
        bound += int(found.bound)
        optimal &= bool(found.optimal)
    return SingleSolution(assign, cost, objective, min(bound, objective), optimal)


def _in_turn(
    pieces: list[tuple[Problem, FlowSolution]],
    options: SolverOptions,
    deadline: float | None,
    seed: int,
) -> Iterator[SingleSolution]:
    """Solve the regions one by one, each within its share of the time left."""
    rows_left = sum(p.n_centers for p, _ in pieces)
    for sub, sub_lp in pieces:
        share = None
        if deadline is not None:
            now = time.perf_counter()
            share = now + max(0.0, deadline - now) * sub.n_centers / max(rows_left, 1)
        rows_left -= sub.n_centers
        yield solve_single(sub, sub_lp, options=options, deadline=share, seed=seed)


def _solve_task(
    task: tuple[Problem, FlowSolution, SolverOptions | None, float | None, int],
) -> SingleSolution:
    problem, lp, options, time_limit_s, seed = task
    return solve_single(problem, lp, options=options, time_limit_s=time_limit_s, seed=seed)
