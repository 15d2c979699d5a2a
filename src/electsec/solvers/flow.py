"""Split plans: min-cost flow (OR-Tools), LP duals from the residual graph, exact pricing.

The transportation LP

    min  Σ c_ig x_ig + P Σ y_i
    s.t. Σ_g x_ig + y_i = d_i      (every centre: covered or reported uncovered)
         Σ_i x_ig      ≤ k_g      (garrison capacity)
         x, y ≥ 0

is solved as a min-cost flow S → garrison → centre → T with an "uncovered" node U → centre
at penalty P. P exceeds the cost of any augmenting path, so the flow first maximises the
teams covered and then minimises cost. Duals (u_i free, w_g ≥ 0) are shortest-path
distances in the residual graph; an arc left out can improve the plan only if
``c_ig < u_i - w_g``, which a radius query around each centre finds without an n × m scan
(only where that radius passes the centre's first candidates). Any duals with ``w ≥ 0``,
once each ``u_i`` is lowered to its cheapest allowed arc, bound the optimum from below
(weak duality): that bound is what a plan stopped by the clock reports.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Literal, overload

import numpy as np
from ortools.graph.python import max_flow, min_cost_flow

from electsec.config import SolverOptions
from electsec.errors import SolverError
from electsec.problem import Arcs, Problem, rank_in_runs

__all__ = [
    "FlowSolution",
    "covers_all",
    "dual_bound",
    "nearest_beyond",
    "solve_split",
    "solve_transport",
]

logger = logging.getLogger(__name__)

_INF = np.int64(2**60)


@dataclass(frozen=True)
class FlowSolution:
    """A split plan over ``arcs`` with its LP duals: optimal, unless ``bound`` is set.

    Attributes
    ----------
    arcs
        The arcs the flow was solved on.
    flow
        Teams on each arc (int64).
    uncovered
        Teams of each centre left uncovered (int64).
    cost
        Σ flow × cost over real arcs (the LP bound when nothing is uncovered).
    center_potential, garrison_potential
        Duals ``u`` (free) and ``w`` (≥ 0; ``_INF`` for garrisons with no capacity).
    penalty
        Cost per uncovered team of each centre used in the model (``_INF`` when the
        model had no "uncovered" node).
    bound, bound_potential
        None when the flow is optimal over every allowed arc. When pricing stopped early
        (out of time), a proven lower bound on the optimum and the centre duals that make
        it (see :func:`dual_bound`); the flow is then a feasible plan, not an optimal one.
    """

    arcs: Arcs
    flow: np.ndarray
    uncovered: np.ndarray
    cost: int
    center_potential: np.ndarray
    garrison_potential: np.ndarray
    penalty: np.ndarray
    bound: int | None = None
    bound_potential: np.ndarray | None = None

    @property
    def shortfall(self) -> int:
        """Teams that cannot be covered."""
        return int(self.uncovered.sum())

    @property
    def optimal(self) -> bool:
        """True when the flow is optimal over every allowed arc."""
        return self.bound is None

    @property
    def lower_bound(self) -> int:
        """The proven lower bound on the optimal split cost (``cost`` when optimal)."""
        return self.cost if self.bound is None else self.bound

    def load(self, n_garrisons: int) -> np.ndarray:
        """Teams sent by each garrison."""
        return np.bincount(self.arcs.garrison, weights=self.flow, minlength=n_garrisons).astype(
            np.int64
        )

    def reduced_cost(self, arcs: Arcs) -> np.ndarray:
        """LP reduced cost ``c - u_i + w_g`` of any arcs (≥ 0 at optimality)."""
        u = self.center_potential[arcs.center]
        rc: np.ndarray = arcs.cost - u + self.garrison_potential[arcs.garrison]
        return rc


def penalty_for(problem: Problem, arcs: Arcs) -> int:
    """Cost per uncovered team: more than any augmenting path can cost."""
    top = int(arcs.cost.max()) if len(arcs) else 0
    if problem.oracle is not None:
        limits = problem.max_cost if problem.max_cost is not None else np.array([np.inf])
        finite = limits[np.isfinite(limits)]
        span = float(finite.max()) if len(finite) == len(limits) else _oracle_span(problem)
        top = max(top, int(np.ceil(span)))
    hops = min(problem.n_centers, problem.n_garrisons) + 2
    return (top + 1) * hops + 1


def _oracle_span(problem: Problem) -> float:
    oracle = problem.oracle
    assert oracle is not None  # noqa: S101
    if oracle.metric == "geodesic":
        return 20_004_000.0  # half the WGS84 meridian: no geodesic is longer
    pts = np.vstack([oracle.center_xy, oracle.garrison_xy])
    return float(np.hypot(*(pts.max(axis=0) - pts.min(axis=0))))


def covers_all(problem: Problem, arcs: Arcs) -> bool:
    """Tell whether ``arcs`` can carry every centre's demand (max-flow test)."""
    return not _max_flow(problem, arcs)[1].any()


@overload
def solve_transport(
    problem: Problem,
    arcs: Arcs,
    *,
    penalty: np.ndarray | int | None,
    if_feasible: Literal[False] = False,
) -> FlowSolution: ...


@overload
def solve_transport(
    problem: Problem, arcs: Arcs, *, penalty: None, if_feasible: Literal[True]
) -> FlowSolution | None: ...


def solve_transport(
    problem: Problem,
    arcs: Arcs,
    *,
    penalty: np.ndarray | int | None,
    if_feasible: bool = False,
) -> FlowSolution | None:
    """Solve the transportation LP on ``arcs`` exactly with OR-Tools min-cost flow.

    Parameters
    ----------
    problem
        Demands and capacities.
    arcs
        Arcs to use.
    penalty
        Cost per uncovered team (one number, or one per centre). None when ``arcs`` are
        known to cover every centre: the model then has no "uncovered" node, and its
        costs stay small (faster to scale).
    if_feasible
        With ``penalty=None``: return None, rather than raise, when ``arcs`` cannot carry
        every team.

    Returns
    -------
    FlowSolution

    Raises
    ------
    SolverError
        If OR-Tools reports anything but an optimal flow (e.g. cost overflow).
    """
    network = _Network.build(problem, arcs, penalty)
    all_flow = network.solve(if_feasible=if_feasible)
    if all_flow is None:
        return None
    n, m = problem.n_centers, problem.n_garrisons
    flow = all_flow[: len(arcs)]
    start = len(arcs) + m + 1  # the U → centre arcs (see _Network)
    uncovered = all_flow[start : start + n] if penalty is not None else np.zeros(n, np.int64)
    cap = np.broadcast_to(np.asarray(_INF if penalty is None else penalty, np.int64), (n,))
    u, w = _potentials(problem, arcs, flow, uncovered, cap)
    return FlowSolution(arcs, flow, uncovered, int(flow @ arcs.cost), u, w, cap)


@dataclass(frozen=True)
class _Network:
    """The flow network S → garrison → centre → T (and S → U → centre), as arc arrays.

    Arcs come in this order: the ``arcs`` (garrison → centre), S → each garrison, then
    with a penalty S → U and U → each centre, and last each centre → T. Nodes are the
    garrisons ``0..m-1``, the centres ``m..m+n-1``, then S, U and T.
    """

    tails: np.ndarray
    heads: np.ndarray
    caps: np.ndarray
    costs: np.ndarray
    source: int
    sink: int
    total: int
    n_arcs: int  # the real arcs, for messages

    @classmethod
    def build(cls, problem: Problem, arcs: Arcs, penalty: np.ndarray | int | None) -> _Network:
        """Lay out the network of :func:`solve_transport`."""
        n, m = problem.n_centers, problem.n_garrisons
        demand = problem.demand.astype(np.int64)
        capacity = problem.capacity.astype(np.int64)
        total = int(demand.sum())
        s, u_node, t = n + m, n + m + 1, n + m + 2
        centers = np.arange(n, dtype=np.int32) + m
        garrisons = np.arange(m, dtype=np.int32)
        uncovered_node = penalty is not None
        k = n if uncovered_node else 0
        tails = np.concatenate(
            [
                arcs.garrison,
                np.full(m, s, np.int32),
                [s] * uncovered_node,
                np.full(k, u_node, np.int32),
                centers,
            ]
        ).astype(np.int32)
        heads = np.concatenate(
            [
                arcs.center + m,
                garrisons,
                [u_node] * uncovered_node,
                centers[:k],
                np.full(n, t, np.int32),
            ]
        ).astype(np.int32)
        caps = np.concatenate(
            [
                np.minimum(demand[arcs.center], capacity[arcs.garrison]),
                capacity,
                [total] * uncovered_node,
                demand[:k],
                demand,
            ]
        ).astype(np.int64)
        costs = np.concatenate(
            [
                arcs.cost,
                np.zeros(m, np.int64),
                [0] * uncovered_node,
                np.broadcast_to(np.asarray(penalty if penalty is not None else 0, np.int64), (k,)),
                np.zeros(n, np.int64),
            ]
        ).astype(np.int64)
        return cls(tails, heads, caps, costs, s, t, total, len(arcs))

    def solve(self, *, if_feasible: bool) -> np.ndarray | None:
        """Flow on every arc of the network (None: infeasible, with ``if_feasible``)."""
        mcf = min_cost_flow.SimpleMinCostFlow()
        mcf.add_arcs_with_capacity_and_unit_cost(self.tails, self.heads, self.caps, self.costs)
        mcf.set_nodes_supplies(
            np.array([self.source, self.sink], np.int32),
            np.array([self.total, -self.total], np.int64),
        )
        tick = time.perf_counter()
        status = mcf.solve()
        logger.debug(
            "min-cost flow on %d arcs: %.2f s", len(self.tails), time.perf_counter() - tick
        )
        if if_feasible and status == mcf.INFEASIBLE:
            return None
        if status != mcf.OPTIMAL:
            msg = f"OR-Tools min-cost flow returned status {status} on {self.n_arcs} arcs"
            raise SolverError(msg)
        flows = mcf.flows(np.arange(len(self.tails), dtype=np.int32))
        return np.asarray(flows, dtype=np.int64)


def _potentials(
    problem: Problem,
    arcs: Arcs,
    flow: np.ndarray,
    uncovered: np.ndarray,
    penalty: np.ndarray,
    rounds: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Shortest-path distances from the source in the residual graph (vectorised B-F).

    They exist (and prove ``flow`` optimal on ``arcs``) only when the flow is optimal;
    else, or when ``rounds`` Bellman-Ford rounds do not settle them, SolverError.
    """
    n, m = problem.n_centers, problem.n_garrisons
    load = np.bincount(arcs.garrison, weights=flow, minlength=m)
    w0 = np.where(load < problem.capacity, np.int64(0), _INF)
    w = w0.copy()
    starts = (
        np.flatnonzero(np.r_[True, arcs.center[1:] != arcs.center[:-1]])
        if len(arcs)
        else np.zeros(0, np.int64)
    )
    rows = arcs.center[starts]
    used = np.flatnonzero(flow > 0)
    used = used[np.argsort(arcs.garrison[used], kind="stable")]
    used_g = arcs.garrison[used]
    g_starts = (
        np.flatnonzero(np.r_[True, used_g[1:] != used_g[:-1]])
        if len(used)
        else np.zeros(0, np.int64)
    )
    u = penalty.astype(np.int64)
    for _ in range(rounds or n + m + 2):
        u_new = penalty.astype(np.int64)
        if len(arcs):
            via = np.minimum.reduceat(w[arcs.garrison] + arcs.cost, starts)  # w ≤ _INF
            u_new[rows] = np.minimum(via, penalty[rows])
        w_new = w0.copy()
        if len(used):
            back = np.minimum.reduceat(u_new[arcs.center[used]] - arcs.cost[used], g_starts)
            g = used_g[g_starts]
            w_new[g] = np.minimum(w_new[g], back)
        if (w_new < 0).any():
            # Labels only fall from round to round, and an optimal flow's are ≥ 0 (a
            # negative path to a garrison would move teams more cheaply from a spare
            # one): this flow is not optimal, as all its remaining rounds would show.
            msg = "a negative residual path: the flow is not optimal"
            raise SolverError(msg)
        if np.array_equal(u_new, u) and np.array_equal(w_new, w):
            break
        u, w = u_new, w_new
    else:  # a negative cycle, i.e. a non-optimal flow (or too few ``rounds``)
        msg = "dual computation did not converge; the flow is not optimal"
        raise SolverError(msg)
    u, w = _ground(problem, arcs, u, w)
    if (w < 0).any() or (u < penalty)[uncovered > 0].any():  # pragma: no cover
        msg = "inconsistent duals; the flow is not optimal"
        raise SolverError(msg)
    return u, w


def _ground(
    problem: Problem, arcs: Arcs, u: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Bring the duals of parts the source cannot reach down from ``_INF`` to finite values.

    Garrisons that are all saturated, with centres no other garrison serves, are not
    reachable in the residual graph: their distances stay near ``_INF``. Any common shift
    keeps their reduced costs, so lower them as far as the arcs from them to the rest
    allow (``w_g ≥ u_i - c`` there, and ``w ≥ 0``). The duals stay optimal, and the bound
    and pricing radii they give are finite.
    """
    big = _INF // 2
    far_g = (w >= big) & (problem.capacity > 0)
    if not far_g.any():
        return u, w
    far_u = (u >= big) & (np.bincount(arcs.center, minlength=problem.n_centers) > 0)
    out = far_g[arcs.garrison] & ~far_u[arcs.center]
    floor = np.zeros(problem.n_garrisons, dtype=np.int64)
    np.maximum.at(floor, arcs.garrison[out], u[arcs.center[out]] - arcs.cost[out])
    shift = int((w[far_g] - floor[far_g]).min())
    u, w = u.copy(), w.copy()
    u[far_u] -= shift
    w[far_g] -= shift
    return u, w


def solve_split(
    problem: Problem,
    options: SolverOptions | None = None,
    *,
    deadline: float | None = None,
    widen: bool = True,
    start: Arcs | None = None,
    lookahead: tuple[np.ndarray, int] | None = None,
) -> FlowSolution:
    """Solve the split plan exactly over every allowed arc.

    When the problem has an oracle, the LP is solved on the candidate arcs, then every
    allowed arc with negative reduced cost is added (found by radius queries) and the LP
    re-solved, until none remains: the result is optimal over all allowed pairs.

    Parameters
    ----------
    problem
        The instance.
    options
        Solver options (pricing limits).
    deadline
        A :func:`time.perf_counter` time. Once every team is covered, pricing stops when
        another round (see :func:`_late`) would end after it, and the plan comes back
        with a proven lower bound (``bound``) instead of an optimality proof.
    widen
        Return the flow over the first candidates as well as the arcs it was solved on
        (with no flow): the single-sourcing search and backups choose among them.
    start
        Arcs to solve the first round on instead of the candidates (a warm start: the
        final pool of a solved instance the problem was derived from). Pricing still
        checks every allowed arc, so the result is optimal over all of them just the
        same; only the number and size of the rounds change. The rounds after the
        first are then re-solved near the priced arcs when that can be proven optimal
        (:mod:`electsec.solvers.resolve`), else whole.
    lookahead
        ``(reference, slack)``: the centre duals of the instance ``start`` came from,
        and a margin. In the first round, centres whose dual moved off ``reference``
        also bring back arcs with reduced cost below ``slack`` (see :func:`_priced`):
        arcs the next rounds would likely need, so fewer rounds. Pricing still stops
        only when no allowed arc has a negative reduced cost.

    Returns
    -------
    FlowSolution
        Optimal over all allowed pairs, or a covering plan with ``bound`` set.
    """
    options = options or SolverOptions()
    arcs = problem.arcs
    weight = problem.priority if problem.priority is not None else np.ones(1, np.int64)
    penalty = penalty_for(problem, arcs) * weight.astype(np.int64)
    # Once the arcs cover every centre, more arcs keep them covered: no penalty needed.
    covered: bool | None = None  # not known before the first solve
    if problem.oracle is not None and len(arcs) > COVER_CHECK_ABOVE_ARCS:
        arcs, covered = _widen_blocked(problem, arcs)
        # The widened set is the first candidate set from here on (pricing scans the
        # first candidates a slimmed pool dropped; ``reach`` still holds for it).
        problem = dataclasses.replace(problem, arcs=arcs)
    first = arcs
    if start is not None and problem.oracle is not None:
        arcs = start  # pricing scans the first candidates it lacks (see ``_dropped``)
    local = start is not None and problem.oracle is not None and LOCAL_RESOLVE
    sol: FlowSolution | None = None
    for round_ in range(options.max_pricing_rounds):
        tick = time.perf_counter()
        sol = _next_flow(problem, arcs, penalty, covered=covered, last=sol if local else None)
        covered = sol.shortfall == 0
        if problem.oracle is None:
            return sol
        solved = time.perf_counter()
        new = _priced(problem, sol, options, lookahead if round_ == 0 else None)
        # Only a covering flow without the penalty node has duals that price every
        # centre by its most negative arc (below the penalty, "short" rows get nearest
        # arcs instead), which the bound needs.
        plain = covered and bool((sol.penalty >= _INF).all())
        bound, floor = _lagrangian(problem, sol, new) if plain else (None, None)
        logger.debug(
            "pricing round %d: %d arcs, cost %d, bound %s, %d new (flow %.2f s, pricing %.2f s)",
            round_,
            len(arcs),
            sol.cost,
            bound,
            len(new),
            solved - tick,
            time.perf_counter() - solved,
        )
        if not len(new):
            return (
                _with_arcs(sol, first, problem.n_garrisons) if arcs is not first and widen else sol
            )
        # Slim the first candidate set once; priced arcs are never dropped (no cycling).
        pool = (_slim(sol, arcs, SLIM_PER_ROW) if arcs is first else arcs).union(new)
        if bound is not None and _late(deadline, tick, solved, len(arcs), len(pool), problem):
            if bound > sol.cost:  # pragma: no cover - weak duality says this cannot happen
                msg = f"Lagrangian bound {bound} above the plan's cost {sol.cost}"
                raise SolverError(msg)
            wider = _with_arcs(sol, first.union(new) if widen else new, problem.n_garrisons)
            return dataclasses.replace(wider, bound=bound, bound_potential=floor)
        arcs = pool
    msg = f"pricing did not converge in {options.max_pricing_rounds} rounds"
    raise SolverError(msg)


#: Rounds after the first of a warm-started split LP re-solve only near the priced arcs
#: (:mod:`electsec.solvers.resolve`); False solves every round whole (benchmarks' A/B).
LOCAL_RESOLVE = True


def _next_flow(
    problem: Problem,
    arcs: Arcs,
    penalty: np.ndarray,
    *,
    covered: bool | None,
    last: FlowSolution | None,
) -> FlowSolution:
    """Return the LP optimum on ``arcs``: near the priced arcs when ``last`` covered all."""
    if last is not None and not last.shortfall and bool((last.penalty >= _INF).all()):
        from electsec.solvers.resolve import resolve_locally  # noqa: PLC0415 - it imports flow

        found = resolve_locally(problem, last, arcs)
        if found is not None:
            return found
    return _solve_covering(problem, arcs, penalty, covered=covered)


def _priced(
    problem: Problem,
    sol: FlowSolution,
    options: SolverOptions,
    lookahead: tuple[np.ndarray, int] | None,
) -> Arcs:
    """Price every allowed arc; with a look-ahead, moved rows also bring near-improving arcs.

    Returns no arc exactly when none has a negative reduced cost. The look-ahead applies
    to covering flows without the penalty node only: there every centre is priced by
    its most negative arcs first, so "no negative arc among those found" proves that
    none exists (rows at the penalty get nearest arcs whatever their reduced cost).
    """
    per_center = options.first_candidates(problem.n_centers)
    plain = not sol.shortfall and bool((sol.penalty >= _INF).all())
    if lookahead is None or not plain:
        return price(problem, sol, max_per_center=per_center)
    reference, margin = lookahead
    slack = np.where(sol.center_potential != reference, margin, 0).astype(np.int64)
    new = price(problem, sol, max_per_center=per_center, slack=slack)
    if (sol.reduced_cost(new) < 0).any():
        return new
    return new.subset(np.zeros(len(new), dtype=bool))  # optimal: nothing improves


def _late(
    deadline: float | None, tick: float, solved: float, arcs: int, pool: int, problem: Problem
) -> bool:
    """Tell whether a round on ``pool`` arcs would end after ``deadline``.

    The flow's time is scaled from the last round by the network's size (arcs, centre
    and garrison arcs): OR-Tools' time grows about linearly with it at this scale, give
    or take a fifth (hence :data:`ROUND_SAFETY`).
    """
    if deadline is None:
        return False
    now = time.perf_counter()
    nodes = problem.n_centers + problem.n_garrisons
    flow_s = (solved - tick) * (pool + nodes) / (arcs + nodes)
    return now + ROUND_SAFETY * (flow_s + now - solved) > deadline


#: Factor on the estimated time of the next pricing round before it is started.
ROUND_SAFETY = 1.25


#: Above this many first candidates, blocked regions are widened before the first solve.
COVER_CHECK_ABOVE_ARCS = 1_000_000
#: Times the first candidates of blocked regions are widened before penalties take over.
COVER_WIDENINGS = 3


def _widen_blocked(problem: Problem, arcs: Arcs) -> tuple[Arcs, bool]:
    """Give the centres of blocked regions more candidates until the arcs cover everyone.

    A max-flow finds the teams the candidates cannot carry; the region blocking them
    (alternating through the garrisons they could use and the centres those serve) gets
    twice as many nearest garrisons. A large network then starts without the "uncovered"
    node, whose huge penalty makes OR-Tools' cost scaling slow, and pricing never has to
    search around a centre whose dual is that penalty. Returns the arcs and whether they
    cover every team (after :data:`COVER_WIDENINGS` tries, penalties decide the rest).
    """
    assert problem.oracle is not None  # noqa: S101
    for _ in range(COVER_WIDENINGS):
        flow, short = _max_flow(problem, arcs)
        if not short.any():
            return arcs, True
        region = _blocked_region(problem, arcs, flow, np.flatnonzero(short))
        wider = arcs.union(nearest_beyond(problem, arcs, region))
        logger.debug(
            "widened %d blocked centres: %d -> %d arcs", len(region), len(arcs), len(wider)
        )
        if len(wider) == len(arcs):
            return arcs, False
        arcs = wider
    return arcs, not _max_flow(problem, arcs)[1].any()


def _max_flow(problem: Problem, arcs: Arcs) -> tuple[np.ndarray, np.ndarray]:
    """Teams on each arc in a maximum flow, and each centre's teams left uncovered."""
    n, m = problem.n_centers, problem.n_garrisons
    demand = problem.demand.astype(np.int64)
    s, t = n + m, n + m + 1
    tails = np.concatenate([np.full(m, s), arcs.garrison, np.arange(n) + m]).astype(np.int32)
    heads = np.concatenate([np.arange(m), arcs.center + m, np.full(n, t)]).astype(np.int32)
    caps = np.concatenate([problem.capacity, demand[arcs.center], demand]).astype(np.int64)
    solver = max_flow.SimpleMaxFlow()
    solver.add_arcs_with_capacity(tails, heads, caps)
    solver.solve(s, t)
    flows = np.asarray(solver.flows(np.arange(m, m + len(arcs) + n, dtype=np.int32)))
    return flows[: len(arcs)].astype(np.int64), demand - flows[len(arcs) :]


def _blocked_region(
    problem: Problem, arcs: Arcs, flow: np.ndarray, short: np.ndarray
) -> np.ndarray:
    """Centres that reach the ``short`` ones by alternating candidate and flow arcs."""
    starts = np.searchsorted(arcs.center, np.arange(problem.n_centers + 1))
    used = flow > 0
    served_by, served = arcs.garrison[used], arcs.center[used]
    in_region = np.zeros(problem.n_centers, dtype=bool)
    in_region[short] = True
    seen = np.zeros(problem.n_garrisons, dtype=bool)
    pending = short
    while len(pending):
        count = starts[pending + 1] - starts[pending]
        at = np.repeat(starts[pending] - np.cumsum(count) + count, count) + np.arange(count.sum())
        garrisons = np.unique(arcs.garrison[at])
        seen[garrisons] = True
        reached = np.unique(served[seen[served_by]])
        pending = reached[~in_region[reached]]
        in_region[pending] = True
    return np.flatnonzero(in_region)


def _solve_covering(
    problem: Problem, arcs: Arcs, penalty: np.ndarray, *, covered: bool | None
) -> FlowSolution:
    """Solve without the "uncovered" node when the arcs may cover everyone (it is faster).

    OR-Tools checks feasibility before it optimises, so trying is no dearer than a
    separate max-flow test; only if the arcs cannot carry every team is the model with
    penalties solved.
    """
    if covered is not False:
        sol = solve_transport(problem, arcs, penalty=None, if_feasible=True)
        if sol is not None:
            return sol
    return solve_transport(problem, arcs, penalty=penalty)


def dual_bound(
    demand: np.ndarray, capacity: np.ndarray, center: np.ndarray, garrison: np.ndarray
) -> int:
    """Lagrangian lower bound ``Σ d_i u_i - Σ k_g w_g`` of dual values.

    It bounds the split optimum from below whenever ``w ≥ 0`` and ``u_i - w_g ≤ c_ig`` for
    every allowed arc (weak duality), whatever flow the duals came from.
    """
    held = capacity > 0
    return int(demand @ center) - int(capacity[held] @ garrison[held])


def _lagrangian(problem: Problem, sol: FlowSolution, new: Arcs) -> tuple[int, np.ndarray]:
    """Return a proven lower bound on the split optimum, and the centre duals behind it.

    ``new`` must hold, for every centre, its most negative reduced-cost arc among those
    left out of ``sol.arcs`` (pricing returns them first). Lowering each centre dual by
    that arc's violation makes the duals feasible for every allowed arc, hence
    :func:`dual_bound` (for a covering flow).
    """
    u = sol.center_potential.copy()
    np.minimum.at(u, new.center, sol.center_potential[new.center] + sol.reduced_cost(new))
    return dual_bound(problem.demand, problem.capacity, u, sol.garrison_potential), u


#: A first candidate set larger than this is slimmed after the first round (see :func:`_slim`).
SLIM_ABOVE_ARCS = 100_000
#: Smallest-reduced-cost arcs each row keeps in a slimmed pool.
SLIM_PER_ROW = 3


def _slim(sol: FlowSolution, arcs: Arcs, per_row: int) -> Arcs:
    """Keep the arcs in use and each row's ``per_row`` smallest reduced costs.

    Every re-solve starts from scratch, so a smaller pool is a faster round. Exactness
    does not depend on the pool: pricing checks every allowed arc against the oracle and
    brings back any dropped arc that could improve the plan.
    """
    if len(arcs) <= SLIM_ABOVE_ARCS:
        return arcs
    rc = sol.reduced_cost(arcs)  # ≥ 0: the flow is optimal on ``arcs``
    # Arcs are sorted by centre: one stable sort on (centre, rc) packed into an int64 runs
    # on presorted runs, ~10 × faster than a lexsort here.
    packed = (arcs.center.astype(np.int64) << 40) | np.clip(rc, 0, (1 << 40) - 1)
    order = np.argsort(packed, kind="stable")
    rank = rank_in_runs(arcs.center[order])
    keep = np.zeros(len(arcs), dtype=bool)
    keep[order[rank < per_row]] = True
    keep |= sol.flow > 0
    return arcs.subset(keep)


def _with_arcs(sol: FlowSolution, more: Arcs, m: int) -> FlowSolution:
    """Return the same flow and duals over a larger pool (``more`` has no flow).

    The single-sourcing search and backups get the slimmed alternatives back. When
    pricing finished, every allowed arc has a non-negative reduced cost, so the duals
    stay optimal over the larger pool.
    """
    arcs = sol.arcs.union(more)
    flow = np.zeros(len(arcs), dtype=np.int64)
    flow[np.searchsorted(arcs.keys(m), sol.arcs.keys(m))] = sol.flow
    return FlowSolution(
        arcs,
        flow,
        sol.uncovered,
        sol.cost,
        sol.center_potential,
        sol.garrison_potential,
        sol.penalty,
    )


def nearest_beyond(
    problem: Problem, pool: Arcs, rows: np.ndarray, count: int | None = None
) -> Arcs:
    """Return the nearest allowed garrisons of ``rows``, more than ``pool`` gives them.

    As many as the most any of the rows has in ``pool``, plus ``count`` (None: as many
    again, i.e. twice as many). Arcs already in ``pool`` come back too.
    """
    assert problem.oracle is not None  # noqa: S101
    have = int(np.bincount(pool.center, minlength=problem.n_centers)[rows].max())
    k = have + (have if count is None else count)
    return Arcs.from_arrays(*problem.oracle.nearest(k, rows, max_cost=problem.max_cost))


def price(
    problem: Problem,
    sol: FlowSolution,
    *,
    max_per_center: int,
    slack: np.ndarray | int = 0,
) -> Arcs:
    """Find allowed arcs missing from ``sol.arcs`` whose reduced cost is below ``slack``.

    With ``slack = 0`` these are the arcs that would improve the LP. A per-centre
    ``slack`` finds every arc that could appear in a plan within that margin of the bound
    (reduced-cost fixing). At most ``max_per_center`` per centre, most negative first.
    """
    assert problem.oracle is not None  # noqa: S101
    slack_per = np.broadcast_to(np.asarray(slack, dtype=np.int64), (problem.n_centers,))
    # The cheapest garrison potential each row could pair with (its agency's, if any).
    w_min = problem.oracle.floor(sol.garrison_potential, problem.n_centers)
    radius = sol.center_potential - w_min + slack_per
    # A centre whose dual is at the uncovered penalty (uncovered, or in a saturated part
    # reached only through the uncovered node) would make every allowed garrison a
    # candidate; give it its next nearest ones instead, whatever their reduced cost (it
    # gains garrisons every round until its dual drops or it has them all, so pricing
    # still only stops at the optimum). Such rows are not priced by their most negative
    # arc, so no bound is taken from a round that has them (see ``solve_split``).
    short = (problem.demand > 0) & (sol.center_potential >= sol.penalty)
    rows = np.flatnonzero((problem.demand > 0) & (radius > 0) & ~short)
    known = sol.arcs.keys(problem.n_garrisons)
    u, w = sol.center_potential, sol.garrison_potential

    def hopeful(r: np.ndarray, g: np.ndarray, lower: np.ndarray) -> np.ndarray:
        # c ≥ lower, so rc = c - u + w < slack needs lower < u - w + slack (+0.5: rounding).
        ok: np.ndarray = lower < u[r] - w[g] + slack_per[r] + 0.5
        ok[ok] = _missing(r[ok].astype(np.int64) * problem.n_garrisons + g[ok], known)
        return ok

    if problem.reach is not None:
        # Every garrison closer than ``reach`` is a first candidate: look further only
        # where the radius passes it, and check the first candidates off the pool here.
        rows = rows[radius[rows] + 0.5 > problem.reach[rows]]
    found = problem.oracle_arcs(radius[rows].astype(float) + 0.5, rows, admit=hopeful)
    if problem.reach is not None:
        found = found.union(_dropped(problem, sol, known, slack_per))
    rc = sol.reduced_cost(found)
    keep = _fresh(found, known, problem.n_garrisons) & (rc < slack_per[found.center])
    cand = found.subset(keep)
    rc = rc[keep]
    order = np.lexsort((rc, cand.center))
    rank = rank_in_runs(cand.center[order])
    pick = order[rank < max_per_center]
    picked = Arcs.from_arrays(cand.center[pick], cand.garrison[pick], cand.cost[pick])
    if not short.any():
        return picked
    nearest = nearest_beyond(problem, sol.arcs, np.flatnonzero(short), max_per_center)
    keep = _fresh(nearest, known, problem.n_garrisons)
    return picked.union(nearest.subset(keep))


def _dropped(problem: Problem, sol: FlowSolution, known: np.ndarray, slack: np.ndarray) -> Arcs:
    """First candidates missing from the pool whose reduced cost is below ``slack``."""
    first = problem.arcs
    if first is sol.arcs:  # the first round solves on ``problem.arcs`` itself
        return first.subset(np.zeros(len(first), dtype=bool))
    # Reduced costs first (two gathers), membership only for the few arcs below ``slack``:
    # the other order searches every first candidate in the pool's keys each round.
    # rc = c - u + w < slack, with one gather per side
    low = (
        first.cost + sol.garrison_potential[first.garrison]
        < (sol.center_potential + slack)[first.center]
    )
    low[low] = _fresh(first.subset(low), known, problem.n_garrisons)
    return first.subset(low)


def _fresh(arcs: Arcs, known: np.ndarray, m: int) -> np.ndarray:
    """Mask of ``arcs`` not in the pool whose sorted keys are ``known``."""
    return _missing(arcs.keys(m), known)


def _missing(keys: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Mask of ``keys`` absent from the sorted array ``known``."""
    if not len(known):
        return np.ones(len(keys), dtype=bool)
    at = np.minimum(np.searchsorted(known, keys), len(known) - 1)
    missing: np.ndarray = known[at] != keys
    return missing
