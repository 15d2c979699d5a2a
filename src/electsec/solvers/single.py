"""Single-sourcing plans: each centre is served by exactly one garrison.

Start from the optimal split plan (the LP bound): centres it serves from one garrison keep
it, the split ones are placed on the residual capacities. Then a large-neighbourhood search
frees small groups of centres around the worst-placed ones and re-solves each group exactly
with CP-SAT (one worker, seeded, deterministic time limits), hinted with the current plan,
on the arcs with the smallest LP reduced costs. Finally, when the remaining gap is small
enough, LP reduced-cost fixing leaves a core of arcs that can still matter and one CP-SAT
model on that core proves optimality (or tightens the bound).

Every step depends only on the inputs and the seed, never on the clock, unless a
``time_limit_s`` cuts the search short.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from electsec.config import SolverOptions
from electsec.errors import SolverError
from electsec.problem import Arcs, Problem, rank_in_runs
from electsec.solvers.cpsat import AssignmentModel, cp_sat
from electsec.solvers.flow import FlowSolution, nearest_beyond, price

__all__ = ["SingleSolution", "solve_single"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SingleSolution:
    """A single-sourcing plan.

    Attributes
    ----------
    assign
        Garrison index per centre; -1 for centres needing no team or left unplaced.
    cost
        Cost of each centre's arc (0 where unassigned), in whole units.
    objective
        Σ demand × cost.
    bound
        Proven lower bound on the optimum over all allowed arcs.
    optimal
        True when ``objective == bound`` was proven.
    """

    assign: np.ndarray
    cost: np.ndarray
    objective: int
    bound: int
    optimal: bool


class _State:
    """The incumbent plan and the arc pool it is built from."""

    def __init__(self, problem: Problem, lp: FlowSolution, pool: Arcs) -> None:
        self.problem = problem
        self.lp = lp
        self.pool = pool
        self.rc = lp.reduced_cost(pool)
        n = problem.n_centers
        self.ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(pool.center, minlength=n), out=self.ptr[1:])
        self.assign = np.full(n, -1, dtype=np.int64)
        self.arc_of = np.full(n, -1, dtype=np.int64)
        self.load = np.zeros(problem.n_garrisons, dtype=np.int64)

    def place(self, i: int, arc: int) -> None:
        """Serve centre ``i`` through pool arc ``arc`` (or unplace it with -1)."""
        d = self.problem.demand[i]
        if self.arc_of[i] >= 0:
            self.load[self.assign[i]] -= d
        self.arc_of[i] = arc
        self.assign[i] = self.pool.garrison[arc] if arc >= 0 else -1
        if arc >= 0:
            self.load[self.assign[i]] += d

    def objective(self) -> int:
        """Σ demand × cost of the incumbent."""
        placed = self.arc_of >= 0
        return int(self.problem.demand[placed] @ self.pool.cost[self.arc_of[placed]])

    def center_arcs(self, i: int) -> np.ndarray:
        """Pool arc indices of centre ``i``."""
        return np.arange(self.ptr[i], self.ptr[i + 1])


def solve_single(
    problem: Problem,
    lp: FlowSolution,
    *,
    options: SolverOptions | None = None,
    time_limit_s: float | None = None,
    seed: int = 0,
    deadline: float | None = None,
) -> SingleSolution:
    """Find a single-sourcing plan starting from the optimal split plan ``lp``.

    The first whole-team plan keeps the centres the LP serves whole and places the split
    ones by exact local repairs; when those cannot place everyone (or the clock stops
    them), regret insertion on the residual capacities and then worst-fit-decreasing
    packing from scratch are tried, and the pool of garrisons around centres still
    unplaced is widened. Then a large-neighbourhood search improves the plan.

    Parameters
    ----------
    problem
        The instance.
    lp
        Split plan from :func:`solve_split`, with no uncovered demand: optimal over every
        allowed arc, or stopped early with a proven ``bound`` (the plan is then never
        proven optimal, and its bound is the LP's).
    options
        Search options.
    time_limit_s
        Wall-clock budget from now; None means the deterministic budgets only.
    seed
        Seed for CP-SAT and neighbourhood choice.
    deadline
        A :func:`time.perf_counter` reading by which to stop (overrides
        ``time_limit_s``). Local repairs use at most half of what is left; the packing
        fallbacks take milliseconds and always run.

    Returns
    -------
    SingleSolution
        The best plan found; centres it could not place whole are left at -1.
    """
    options = options or SolverOptions()
    if deadline is None and time_limit_s is not None:
        deadline = time.perf_counter() + time_limit_s
    rng = np.random.default_rng(seed)
    state = _State(problem, lp, lp.arcs)
    _round(state)
    state = _first_plan(state, options, seed, _half_of(deadline), deadline)
    if not _all_placed(state):  # whole teams do not pack
        return _result(state, bound=lp.lower_bound, optimal=False)
    _search(state, options, rng, seed, deadline)
    return _prove(state, options, seed, deadline)


def _all_placed(state: _State) -> bool:
    return bool((state.assign[state.problem.demand > 0] >= 0).all())


def _first_plan(
    state: _State,
    options: SolverOptions,
    seed: int,
    deadline: float | None,
    last: float | None = None,
) -> _State:
    """Place every centre whole if possible, by ``deadline`` (the search gets the rest).

    Exact local repairs, then regret insertion and ejection moves (under a clock,
    insertion first and repairs for what is left), on the LP's pool, widened around
    centres still unplaced (up to ``POOL_WIDENINGS`` times, while time is left);
    worst-fit-decreasing packing on the widest pool when all that leaves some centre
    unplaced, and on twice as many garrisons per centre as a last resort. Ejection
    moves stop at ``last`` (the call's deadline), the rest at ``deadline``.
    """
    for widening in range(POOL_WIDENINGS + 1):
        if deadline is not None:  # under a clock, a fast start leaves the search more time
            _insert(state)
        if not _out_of_time(deadline):
            _repair(state, options, seed, deadline)
        _insert(state)
        _eject(state, last)  # cheap moves: up to the call's own deadline, not the half
        if _all_placed(state) or widening == POOL_WIDENINGS or _out_of_time(deadline):
            break
        wider = _widened(state)
        if wider is None:
            break
        state = wider
    if _all_placed(state):
        return state
    packed = _worst_fit(state)
    small = state.problem.n_centers <= WIDE_PACKING_CENTERS
    if not _all_placed(packed) and state.problem.oracle is not None and small:
        # Last resort, past the clock if need be: pack on twice the garrisons per centre.
        every = np.arange(state.problem.n_centers)
        wide = state.pool.union(nearest_beyond(state.problem, state.pool, every))
        packed = _worst_fit(_State(state.problem, state.lp, wide))
    return packed if _all_placed(packed) else state


def _half_of(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    now = time.perf_counter()
    return now + max(0.0, deadline - now) / 2


def _insert(state: _State) -> None:
    """Regret insertion: place unplaced centres, largest regret first, on residual capacity.

    A centre's regret is how much worse (in reduced cost) its second-best garrison with
    room is than its best; centres with the most to lose go first (ties: larger demand),
    each at its best garrison that still has room when its turn comes.
    """
    demand = state.problem.demand
    unplaced = np.flatnonzero((demand > 0) & (state.arc_of < 0))
    regret = np.array([_fitting(state, int(i))[1] for i in unplaced], dtype=float)
    for i in unplaced[np.lexsort((unplaced, -demand[unplaced], -regret))]:
        arc, _ = _fitting(state, int(i))
        if arc >= 0:
            state.place(int(i), arc)


def _eject(state: _State, deadline: float | None) -> None:
    """Ejection moves: make room for each unplaced centre by moving one centre away.

    For an unplaced centre ``i`` and a garrison ``g`` it may use that lacks room, a
    centre ``j`` at ``g`` with at least the missing demand moves to another garrison
    with room; of all such moves the cheapest in reduced cost is made. Stops at
    ``deadline``.
    """
    problem, pool = state.problem, state.pool
    demand = problem.demand
    members = _members(state.assign, problem.n_garrisons)
    unplaced = np.flatnonzero((demand > 0) & (state.arc_of < 0))
    for i in unplaced[np.lexsort((unplaced, -demand[unplaced]))]:
        if _out_of_time(deadline):
            return
        move = _best_ejection(state, int(i), members)
        if move is None:
            continue
        arc, j, alt = move
        if j >= 0:
            members[int(pool.garrison[state.arc_of[j]])].remove(j)
            state.place(j, alt)
            members[int(pool.garrison[alt])].append(j)
        state.place(int(i), arc)
        members[int(pool.garrison[arc])].append(int(i))


def _best_ejection(state: _State, i: int, members: list[list[int]]) -> tuple[int, int, int] | None:
    """Cheapest ``(arc for i, centre j to move or -1, j's new arc)``, or None."""
    problem, pool, rc = state.problem, state.pool, state.rc
    demand, room = problem.demand, problem.capacity - state.load
    best: tuple[float, int, int, int] | None = None
    for arc in state.center_arcs(i):
        g = int(pool.garrison[arc])
        need = demand[i] - room[g]
        if need <= 0:
            return int(arc), -1, -1
        for j in members[g]:
            if demand[j] < need:
                continue
            alt = state.center_arcs(j)
            h = pool.garrison[alt]
            alt = alt[(h != g) & (room[h] >= demand[j])]
            if not len(alt):
                continue
            a = int(alt[np.argmin(rc[alt])])
            delta = rc[arc] * demand[i] + (rc[a] - rc[state.arc_of[j]]) * demand[j]
            if best is None or delta < best[0]:
                best = (float(delta), int(arc), j, a)
    return None if best is None else best[1:]


def _fitting(state: _State, i: int) -> tuple[int, float]:
    """Best pool arc of centre ``i`` whose garrison has room, and its regret (or -1, 0)."""
    arcs = state.center_arcs(i)
    room = (state.problem.capacity - state.load)[state.pool.garrison[arcs]]
    arcs = arcs[room >= state.problem.demand[i]]
    if not len(arcs):
        return -1, 0.0
    rc = state.rc[arcs]
    order = np.lexsort((state.pool.cost[arcs], rc))
    regret = float(rc[order[1]] - rc[order[0]]) if len(arcs) > 1 else np.inf
    return int(arcs[order[0]]), regret


def _worst_fit(state: _State) -> _State:
    """Worst-fit decreasing from scratch: largest centres first, to the roomiest garrison.

    Ignores the LP and the incumbent: a packing of last resort for tight instances where
    the plan built around the LP cannot place everyone.
    """
    problem = state.problem
    out = _State(problem, state.lp, state.pool)
    order = np.lexsort((np.arange(problem.n_centers), -problem.demand))
    for i in order[problem.demand[order] > 0]:
        arcs = out.center_arcs(int(i))
        room = (problem.capacity - out.load)[out.pool.garrison[arcs]]
        if len(arcs) and room.max() >= problem.demand[i]:
            out.place(int(i), int(arcs[np.argmax(room)]))
    return out


#: Up to this many demand rows, packing on twice the garrisons per centre is the last resort.
WIDE_PACKING_CENTERS = 100_000
#: Times the pool around centres that cannot be placed whole is widened before giving up.
POOL_WIDENINGS = 3


def _widened(state: _State) -> _State | None:
    """Return the state over a pool with more garrisons around the unplaced centres.

    The split LP needs few arcs; whole teams may need garrisons it never priced. The
    unplaced centres, and the centres served by the garrisons they can use, get twice as
    many nearest allowed garrisons; placements carry over. None when there are no more.
    """
    problem, pool = state.problem, state.pool
    if problem.oracle is None:
        return None
    unplaced = np.flatnonzero((problem.demand > 0) & (state.arc_of < 0))
    near = np.unique(pool.garrison[np.isin(pool.center, unplaced)])
    rows = np.union1d(unplaced, np.flatnonzero(np.isin(state.assign, near)))
    wider = pool.union(nearest_beyond(problem, pool, rows))
    if len(wider) == len(pool):
        return None
    out = _State(problem, state.lp, wider)
    placed = np.flatnonzero(state.arc_of >= 0)
    keys = wider.keys(problem.n_garrisons)
    at = np.searchsorted(keys, pool.keys(problem.n_garrisons)[state.arc_of[placed]])
    for i, arc in zip(placed, at, strict=True):
        out.place(int(i), int(arc))
    return out


def _round(state: _State) -> None:
    """Keep the centres the LP serves whole from one garrison; the split ones wait."""
    lp, pool, demand = state.lp, state.pool, state.problem.demand
    full = np.flatnonzero((lp.flow > 0) & (lp.flow == demand[pool.center]))
    for arc in full:
        state.place(int(pool.center[arc]), int(arc))


def _repair(state: _State, options: SolverOptions, seed: int, deadline: float | None) -> None:
    """Place the centres the LP split, one local neighbourhood at a time.

    Around an unplaced centre, free every centre served by its cheapest garrisons and
    their closest competitors, together with the other unplaced centres that want those
    garrisons, and re-solve exactly (covering first, then cost). A centre that still
    cannot be placed gets a neighbourhood twice as large next time. Stops at
    ``deadline``; the caller then places the rest by insertion or packing.
    """
    neighbours = _garrison_neighbours(state)
    size = np.full(state.problem.n_centers, options.lns_neighbourhood)
    for _ in range(4 * state.problem.n_centers + 8):
        unplaced = np.flatnonzero((state.problem.demand > 0) & (state.arc_of < 0))
        if not len(unplaced) or _out_of_time(deadline):
            return
        i = int(unplaced[0])
        if size[i] > 64 * options.lns_neighbourhood:
            return  # whole teams do not pack around it; reported by the caller
        garrisons = _cheapest_garrisons(state, i, 3)
        free = _cluster(state, garrisons, neighbours, int(size[i]))
        wanting = unplaced[np.isin(_top_garrisons(state, unplaced), garrisons).any(axis=1)]
        _resolve(
            state,
            np.union1d(free, np.r_[i, wanting]),
            options,
            seed,
            deadline,
            arcs_per_center=2 * options.lns_arcs_per_center,
        )
        size[i] *= 2


def _cheapest_garrisons(state: _State, i: int, count: int) -> np.ndarray:
    arcs = state.center_arcs(i)
    arcs = arcs[np.argsort(state.rc[arcs], kind="stable")[:count]]
    return np.asarray(state.pool.garrison[arcs], dtype=np.int64)


def _top_garrisons(state: _State, centers: np.ndarray, count: int = 3) -> np.ndarray:
    """Return the ``count`` cheapest garrisons (by reduced cost) per centre, -1 padded."""
    out = np.full((len(centers), count), -1, dtype=np.int64)
    for row, i in enumerate(centers):
        top = _cheapest_garrisons(state, int(i), count)
        out[row, : len(top)] = top
    return out


def _cluster(
    state: _State, garrisons: np.ndarray, neighbours: list[np.ndarray], size: int
) -> np.ndarray:
    """Centres served by ``garrisons`` and then their closest competitors, up to ``size``."""
    members = _members(state.assign, state.problem.n_garrisons)
    chosen: list[int] = []
    for g in garrisons:
        chosen.extend(members[int(g)])
    for g in garrisons:
        for h in neighbours[int(g)]:
            if len(chosen) >= size:
                break
            chosen.extend(members[int(h)])
    return np.unique(np.asarray(chosen[: 2 * size], dtype=np.int64))


def _search(
    state: _State,
    options: SolverOptions,
    rng: np.random.Generator,
    seed: int,
    deadline: float | None,
) -> None:
    """Improve the plan with exactly solved neighbourhoods until the search stalls.

    Even steps free every centre served by a cluster of garrisons that compete for the
    same centres (a sub-GAP over those garrisons); odd steps free the centres reached from
    a high-regret centre through its cheapest garrisons.
    """
    lp_cost = state.lp.lower_bound
    neighbours = _garrison_neighbours(state)
    stall = 0
    for step in range(options.lns_max_neighbourhoods):
        current = state.objective()
        if current - lp_cost <= options.gap_tolerance * max(current, 1):
            return
        if stall >= options.lns_max_stall or _out_of_time(deadline):
            return
        if step % 2 == 0:
            free = _garrison_cluster(state, neighbours, rng, options)
            arcs_per_center = 2 * options.lns_arcs_per_center
        else:
            seed_center = _pick_seed(state, rng)
            if seed_center < 0:
                return
            free = _neighbourhood(state, np.array([seed_center]), options.lns_neighbourhood)
            arcs_per_center = options.lns_arcs_per_center
        improved = _resolve(state, free, options, seed, deadline, arcs_per_center=arcs_per_center)
        stall = 0 if improved else stall + 1
    logger.debug("single-sourcing search used its neighbourhood budget")


def _garrison_neighbours(state: _State) -> list[np.ndarray]:
    """For each garrison, the garrisons sharing most centres' cheapest arcs, best first."""
    pool, m = state.pool, state.problem.n_garrisons
    order = np.lexsort((state.rc, pool.center))
    rank = rank_in_runs(pool.center[order])
    top = order[rank < 4]
    center, garrison = pool.center[top], pool.garrison[top]
    pair_a, pair_b = [], []
    for shift in range(1, 4):
        same = center[shift:] == center[:-shift]
        pair_a.append(garrison[shift:][same])
        pair_b.append(garrison[:-shift][same])
    a = np.concatenate(pair_a + pair_b)
    b = np.concatenate(pair_b + pair_a)
    weight = (
        np.bincount(a.astype(np.int64) * m + b, minlength=m * m) if m * m < 50_000_000 else None
    )
    if weight is None:  # pragma: no cover - very many garrisons: unweighted adjacency
        key = np.unique(a.astype(np.int64) * m + b)
        return [key[(key // m) == g] % m for g in range(m)]
    weight = weight.reshape(m, m)
    return [
        np.flatnonzero(weight[g])[np.argsort(-weight[g][weight[g] > 0], kind="stable")]
        for g in range(m)
    ]


def _garrison_cluster(
    state: _State,
    neighbours: list[np.ndarray],
    rng: np.random.Generator,
    options: SolverOptions,
) -> np.ndarray:
    """Centres served by the garrison of a high-regret centre and its closest competitors."""
    seed_center = _pick_seed(state, rng)
    if seed_center >= 0:
        g = int(state.assign[seed_center])
    else:
        used = np.flatnonzero(state.load > 0)
        g = int(used[rng.integers(len(used))])
    return _cluster(state, np.array([g]), neighbours, options.lns_neighbourhood)


def _pick_seed(state: _State, rng: np.random.Generator) -> int:
    """Draw a placed centre among the largest regrets (LP reduced cost × demand)."""
    placed = np.flatnonzero(state.arc_of >= 0)
    regret = state.rc[state.arc_of[placed]] * state.problem.demand[placed]
    ok = regret > 0
    if not ok.any():
        return -1
    cand = placed[ok]
    top = np.argsort(-regret[ok], kind="stable")[: max(8, len(cand) // 10)]
    return int(cand[top[rng.integers(len(top))]])


def _neighbourhood(state: _State, seeds: np.ndarray, size: int) -> np.ndarray:
    """Centres reached from ``seeds`` through shared garrisons, breadth first."""
    pool, assign = state.pool, state.assign
    chosen = dict.fromkeys(int(i) for i in seeds)
    seen_g: set[int] = set()
    frontier = list(chosen)
    members = _members(assign, state.problem.n_garrisons)
    while frontier and len(chosen) < size:
        nxt: list[int] = []
        for i in frontier:
            arcs = state.center_arcs(i)
            arcs = arcs[np.argsort(state.rc[arcs], kind="stable")][:4]
            for g in pool.garrison[arcs]:
                if int(g) in seen_g:
                    continue
                seen_g.add(int(g))
                for j in members[int(g)]:
                    if j not in chosen and len(chosen) < size:
                        chosen[j] = None
                        nxt.append(j)
        frontier = nxt
    return np.fromiter(chosen, dtype=np.int64)


def _members(assign: np.ndarray, m: int) -> list[list[int]]:
    placed = np.flatnonzero(assign >= 0)
    order = placed[np.argsort(assign[placed], kind="stable")]
    bounds = np.searchsorted(assign[order], np.arange(m + 1))
    return [order[bounds[g] : bounds[g + 1]].tolist() for g in range(m)]


def _resolve(
    state: _State,
    free: np.ndarray,
    options: SolverOptions,
    seed: int,
    deadline: float | None,
    *,
    arcs_per_center: int | None,
    deterministic_time: float | None = None,
) -> bool:
    """Re-solve the centres ``free`` exactly on residual capacities; True if improved."""
    problem, pool = state.problem, state.pool
    free = np.sort(free[problem.demand[free] > 0])
    if not len(free):
        return False
    arc_lists = []
    for i in free:
        arcs = state.center_arcs(int(i))
        if arcs_per_center is not None and len(arcs) > arcs_per_center:
            arcs = arcs[np.argsort(state.rc[arcs], kind="stable")[:arcs_per_center]]
            if state.arc_of[i] >= 0 and state.arc_of[i] not in arcs:
                arcs = np.append(arcs, state.arc_of[i])
        arc_lists.append(arcs)
    arcs = np.concatenate(arc_lists)
    owner = np.repeat(free, [len(a) for a in arc_lists])
    freed_load = np.bincount(
        state.assign[free][state.arc_of[free] >= 0],
        weights=problem.demand[free][state.arc_of[free] >= 0],
        minlength=problem.n_garrisons,
    ).astype(np.int64)
    residual = problem.capacity - state.load + freed_load
    before_cost = _cost_of(state, free)
    unplaced_before = int((state.arc_of[free] < 0).sum())
    choice = _solve_cp(
        state,
        owner,
        arcs,
        residual,
        seed,
        deadline,
        deterministic_time or options.subproblem_deterministic_time,
    )
    if choice is None:
        return False
    new_unplaced = int((choice < 0).sum())
    new_cost = int((problem.demand[owner] * pool.cost[arcs])[choice[choice >= 0]].sum())
    better = (new_unplaced, new_cost) < (unplaced_before, before_cost)
    if better:
        for i in free:
            state.place(int(i), -1)
        for k, i in enumerate(free):
            if choice[k] >= 0:
                state.place(int(i), int(arcs[choice[k]]))
    return better


def _cost_of(state: _State, centers: np.ndarray) -> int:
    placed = centers[state.arc_of[centers] >= 0]
    return int(state.problem.demand[placed] @ state.pool.cost[state.arc_of[placed]])


def _solve_cp(
    state: _State,
    owner: np.ndarray,
    arcs: np.ndarray,
    residual: np.ndarray,
    seed: int,
    deadline: float | None,
    deterministic_time: float,
) -> np.ndarray | None:
    """CP-SAT on freed centres (sorted, ``owner`` grouped); chosen position per centre.

    A centre may stay unplaced at a large penalty, so the model is always feasible and
    covering more centres always comes first.
    """
    model = _assignment_model(state, owner, arcs, residual, allow_skip=True)
    status = _solve_model(model, seed, deadline, deterministic_time)
    sat = cp_sat()
    if status not in (sat.OPTIMAL, sat.FEASIBLE):
        return None
    return model.choice()


def _assignment_model(
    state: _State,
    owner: np.ndarray,
    arcs: np.ndarray,
    residual: np.ndarray,
    *,
    allow_skip: bool,
) -> AssignmentModel:
    """Build the assignment model over candidate ``arcs`` of the centres in ``owner``.

    The incumbent plan is the hint; a skipped centre costs its demand times more than
    any plan of the others.
    """
    problem, pool = state.problem, state.pool
    demand = problem.demand[owner]
    cost = demand * pool.cost[arcs]
    skip_cost = None
    if allow_skip:
        centers = np.unique(owner)
        penalty = int(cost.max(initial=0)) * (len(centers) + 1) + 1
        skip_cost = penalty * problem.demand[centers]
    return AssignmentModel(
        owner,
        pool.garrison[arcs],
        cost,
        demand,
        residual,
        skip_cost=skip_cost,
        hint=arcs == state.arc_of[owner],
    )


def _solve_model(
    model: AssignmentModel, seed: int, deadline: float | None, deterministic_time: float
) -> Any:
    """Solve with one worker, seeded, within the deterministic and wall budgets."""
    max_time_s = None if deadline is None else deadline - time.perf_counter()
    return model.solve(seed, max_time_s=max_time_s, deterministic_time=deterministic_time)


def _prove(
    state: _State, options: SolverOptions, seed: int, deadline: float | None
) -> SingleSolution:
    """Reduced-cost fixing, then one exact CP-SAT model on the core if it is small."""
    problem, lp = state.problem, state.lp
    upper = state.objective()
    gap = upper - lp.lower_bound
    if gap <= 0:
        return _result(state, bound=lp.lower_bound, optimal=True)
    if not lp.optimal:  # reduced-cost fixing needs the duals of the true LP optimum
        return _result(state, bound=lp.lower_bound, optimal=False)
    demand = np.maximum(problem.demand, 1)
    slack = np.ceil(gap / demand).astype(np.int64)
    core = _core_arcs(state, slack, max_arcs=options.proof_max_arcs, deadline=deadline)
    if core is None:
        return _result(state, bound=lp.cost, optimal=False)
    state_core = _State(problem, lp, core)
    for i in np.flatnonzero(state.arc_of >= 0):
        arcs = state_core.center_arcs(int(i))
        hit = arcs[state_core.pool.garrison[arcs] == state.assign[i]]
        state_core.place(int(i), int(hit[0]))
    everyone = np.flatnonzero(problem.demand > 0)
    model_bound = _exact(state_core, everyone, options, seed, deadline)
    if state_core.objective() < upper:
        state = state_core
    upper = state.objective()
    bound = max(lp.cost, min(upper, model_bound))
    return _result(state, bound=bound, optimal=bound >= upper)


def _core_arcs(
    state: _State, slack: np.ndarray, *, max_arcs: int, deadline: float | None
) -> Arcs | None:
    """Every allowed arc that can appear in a plan better than the incumbent.

    Returns None as soon as the core is known to exceed ``max_arcs`` (the arcs already in
    the pool are a subset of it, so they are counted first) or time is up.
    """
    problem, lp = state.problem, state.lp
    keep = (state.rc * problem.demand[state.pool.center]) < state.objective() - lp.cost
    current = np.zeros(len(state.pool), dtype=bool)
    current[state.arc_of[state.arc_of >= 0]] = True
    pool = state.pool
    core = pool.subset(keep | current)
    if len(core) > max_arcs or _out_of_time(deadline):
        return None
    if problem.oracle is not None:
        extra = price(problem, lp, max_per_center=problem.n_garrisons, slack=slack)
        core = core.union(extra)
    return core if len(core) <= max_arcs and not _out_of_time(deadline) else None


def _exact(
    state: _State, free: np.ndarray, options: SolverOptions, seed: int, deadline: float | None
) -> int:
    """Solve the whole core model; apply a better plan; return its proven lower bound."""
    problem, pool = state.problem, state.pool
    arcs = np.concatenate([state.center_arcs(int(i)) for i in free])
    owner = pool.center[arcs].astype(np.int64)
    model = _assignment_model(state, owner, arcs, problem.capacity, allow_skip=False)
    status = _solve_model(model, seed, deadline, options.proof_deterministic_time)
    sat = cp_sat()
    if status == sat.INFEASIBLE:  # pragma: no cover - the hint is feasible
        msg = "exact single-sourcing model reported infeasible despite a feasible hint"
        raise SolverError(msg)
    if status in (sat.OPTIMAL, sat.FEASIBLE):
        choice = model.choice()
        if int(model.cost[choice].sum()) < state.objective():
            for k, i in enumerate(model.items):
                state.place(int(i), int(arcs[choice[k]]))
    if status == sat.OPTIMAL:
        return round(model.solver.objective_value)
    if status == sat.FEASIBLE:
        return int(np.ceil(model.solver.best_objective_bound))
    return 0


def _result(state: _State, *, bound: int, optimal: bool) -> SingleSolution:
    placed = state.arc_of >= 0
    cost = np.zeros(state.problem.n_centers, dtype=np.int64)
    cost[placed] = state.pool.cost[state.arc_of[placed]]
    objective = state.objective()
    return SingleSolution(
        state.assign.copy(), cost, objective, min(bound, objective) if optimal else bound, optimal
    )


def _out_of_time(deadline: float | None) -> bool:
    return deadline is not None and time.perf_counter() >= deadline
