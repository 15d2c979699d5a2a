"""Stable re-planning: the plan that changes the fewest centres relative to a baseline.

A centre is *unchanged* when every garrison sends it exactly the teams it sent in the
baseline (same garrisons, same team split); anything else — a garrison added or dropped,
teams moved between its garrisons, teams left uncovered — changes it. Centres whose
baseline can no longer be kept (its garrison or centre is gone, or its demand changed)
are *forced* changes.

Counting changed centres is a fixed charge, not a flow objective (a centre of demand 3
moving one team costs as much as moving all three), so split plans are solved exactly
as a MILP with HiGHS (:func:`scipy.optimize.milp`) on the candidate arcs: one binary
``z_i`` per centre that could keep its baseline, linking constraints
``x_a ≥ b_a (1 - z_i)`` on its baseline arcs and ``Σ x_a ≤ d_i z_i`` on its other arcs,
and two lexicographic phases (fewest changes, then least cost among plans with that many
changes). Before either, when every centre that can keep its baseline does and the others
fit in what is left, that is the fewest changes: split plans then need one min-cost flow
for the others (priced over every allowed pair), whole-team plans one small CP-SAT model
over them. Otherwise whole-team plans use one CP-SAT model over all centres, hinted with
the fresh plan, with the change count weighted above any cost. ``max_changes`` (least
cost with at most that many changes) and ``max_cost_increase_pct`` (fewest changes at a
cost within that much of the fresh optimum) trade one against the other.

Why the split MILP and not a flow: the flow "penalise each team off its baseline arc"
minimises teams moved, which equals centres changed only when every centre needs one
team; the sample's centres need 1–6.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from electsec.config import SolverOptions
from electsec.problem import Arcs, Problem
from electsec.solvers.cpsat import AssignmentModel, cp_sat
from electsec.solvers.flow import solve_split, solve_transport

if TYPE_CHECKING:  # CP-SAT imports pandas: loaded when a model is built (cpsat.cp_sat)
    from ortools.sat.python import cp_model

__all__ = ["Baseline", "Changes", "StableSolution", "count_changes", "solve_stable"]

_FLOOR_S = 0.05


@dataclass(frozen=True)
class Baseline:
    """A plan to stay close to, over one instance's arrays.

    Attributes
    ----------
    rows, garrisons, teams, cost
        The baseline's assignments that still exist in the instance (demand row,
        garrison index, teams, and the cost the baseline reported).
    forced
        Bool per centre: a change whatever the plan — its baseline cannot be kept (a
        garrison or agency row of it no longer exists, or its teams differ from its
        demand now), or it has demand now and had no teams in the baseline.
    gone
        Centres of the baseline that are not in the instance (each a change).
    max_changes
        At most this many changed centres (forced and gone ones included), at least cost.
    max_cost_increase_pct
        Fewest changes among plans costing at most this per cent above the fresh plan.
    """

    rows: np.ndarray
    garrisons: np.ndarray
    teams: np.ndarray
    cost: np.ndarray
    forced: np.ndarray
    gone: int = 0
    max_changes: int | None = None
    max_cost_increase_pct: float | None = None

    @property
    def n_forced(self) -> int:
        """Changes no plan can avoid: forced centres and gone ones."""
        return int(self.forced.sum()) + self.gone


@dataclass(frozen=True)
class Changes:
    """How a plan differs from its baseline (reported in ``AssignmentResult.replan``)."""

    centers_changed: int
    teams_moved: int
    forced_changes: int
    fresh_objective: float


@dataclass(frozen=True)
class StableSolution:
    """A stable plan over demand rows (``flow[a]`` teams on ``arcs``), or None if none fits.

    ``optimal`` says both lexicographic steps were proven optimal on ``arcs``; ``bound``
    is the proven lower bound on the cost at the chosen change count; ``proven`` that the
    optimum holds over every allowed pair, not only ``arcs`` (priced beyond them).
    """

    arcs: Arcs
    flow: np.ndarray
    uncovered: np.ndarray
    optimal: bool
    bound: float
    fewest_changes: int | None = None
    proven: bool = False


@dataclass(frozen=True)
class Limits:
    """What the stable plan must keep from the fresh one.

    ``levels`` and ``short`` say, per priority level (highest first), how many teams of
    rows at or above that level the fresh plan leaves uncovered (the stable plan may
    leave no more); ``max_cost`` caps Σ cost × teams (None: no cap).
    """

    priority: np.ndarray
    levels: np.ndarray
    short: np.ndarray
    max_cost: float | None = None


def _arc_baseline(arcs: Arcs, baseline: Baseline, n_garrisons: int) -> np.ndarray:
    """Baseline teams on each arc (``arcs`` must contain every baseline pair)."""
    keys = arcs.keys(n_garrisons)
    bkeys = baseline.rows.astype(np.int64) * n_garrisons + baseline.garrisons
    b = np.zeros(len(arcs), dtype=np.int64)
    np.add.at(b, np.searchsorted(keys, bkeys), baseline.teams)
    return b


def _candidates(baseline: Baseline, row_center: np.ndarray) -> np.ndarray:
    """Centres that could keep their baseline (not forced, with baseline teams)."""
    has = np.zeros(len(baseline.forced), dtype=bool)
    has[row_center[baseline.rows]] = True
    keep: np.ndarray = np.flatnonzero(has & ~baseline.forced)
    return keep


def _milp_rows(
    arcs: Arcs,
    b: np.ndarray,
    demand: np.ndarray,
    capacity: np.ndarray,
    row_center: np.ndarray,
    keep: np.ndarray,
    n_centers: int,
) -> list[LinearConstraint]:
    """Cover, capacity and linking rows over variables ``[x (arcs), s (rows), z (keep)]``."""
    n_a, n_r, n_k, m = len(arcs), len(demand), len(keep), len(capacity)
    a = np.arange(n_a)
    z_of = np.full(n_centers, -1)
    z_of[keep] = np.arange(n_k)
    cover = sp.hstack([_incidence(arcs.center, a, n_r, n_a), sp.eye(n_r), _zeros(n_r, n_k)])
    cap = sp.hstack([_incidence(arcs.garrison, a, m, n_a), _zeros(m, n_r + n_k)])
    arc_z = z_of[row_center[arcs.center]]
    other = np.flatnonzero((arc_z >= 0) & (b == 0))
    centre_demand = np.bincount(row_center, weights=demand, minlength=n_centers)[keep]
    link = sp.hstack(
        [_incidence(arc_z[other], other, n_k, n_a), _zeros(n_k, n_r), -sp.diags(centre_demand)]
    )
    base = np.flatnonzero((b > 0) & (arc_z >= 0))
    fix = sp.hstack(
        [
            _incidence(np.arange(len(base)), base, len(base), n_a),
            _zeros(len(base), n_r),
            sp.csr_matrix((b[base], (np.arange(len(base)), arc_z[base])), shape=(len(base), n_k)),
        ]
    )
    return [
        LinearConstraint(cover.tocsr(), demand, demand),
        LinearConstraint(cap.tocsr(), -np.inf, capacity),
        LinearConstraint(link.tocsr(), -np.inf, 0),
        LinearConstraint(fix.tocsr(), b[base], np.inf),
    ]


def _incidence(row: np.ndarray, col: np.ndarray, n_rows: int, n_cols: int) -> sp.csr_matrix:
    data = np.ones(len(row))
    return sp.csr_matrix((data, (np.asarray(row), np.asarray(col))), shape=(n_rows, n_cols))


def _zeros(n_rows: int, n_cols: int) -> sp.csr_matrix:
    return sp.csr_matrix((n_rows, n_cols))


def _level_rows(limits: Limits, n_a: int, n_k: int) -> list[LinearConstraint]:
    """No more uncovered teams at or above each priority level than the fresh plan."""
    if not len(limits.levels):
        return []
    at_or_above = (limits.priority[None, :] >= limits.levels[:, None]).astype(float)
    matrix = sp.hstack(
        [
            _zeros(len(limits.levels), n_a),
            sp.csr_matrix(at_or_above),
            _zeros(len(limits.levels), n_k),
        ]
    )
    return [LinearConstraint(matrix.tocsr(), -np.inf, limits.short)]


def solve_stable(
    arcs: Arcs,
    demand: np.ndarray,
    capacity: np.ndarray,
    row_center: np.ndarray,
    baseline: Baseline,
    limits: Limits,
    *,
    deadline: float | None,
    pricing: tuple[Problem, SolverOptions] | None = None,
) -> StableSolution | None:
    """Split plan with the fewest changed centres, then least cost (exact on ``arcs``).

    Parameters
    ----------
    arcs
        The candidate arcs (rows × garrisons); must include every baseline pair.
    demand, capacity, row_center
        Teams per demand row, teams per garrison, centre of each row.
    baseline
        The plan to stay close to, with its ``max_changes`` / ``max_cost_increase_pct``.
    limits
        Coverage to keep and the cost cap (from ``max_cost_increase_pct``).
    deadline
        ``time.perf_counter()`` reading to stop by, or None.
    pricing
        The whole problem (with its oracle) and options: when every centre that can
        keep its baseline does, the rest is then solved with pricing over every
        allowed pair (``proven``), not only on ``arcs``.

    Returns
    -------
    StableSolution or None
        None when no plan meets ``max_changes`` or the cost cap on ``arcs``.
    """
    b = _arc_baseline(arcs, baseline, len(capacity))
    keep = _candidates(baseline, row_center)
    if baseline.max_changes in (None, baseline.n_forced):
        found = _keep_all(arcs, b, demand, capacity, row_center, keep, limits, pricing)
        if found is not None:
            return dataclasses.replace(found, fewest_changes=baseline.n_forced)
    n_a, n_r, n_k = len(arcs), len(demand), len(keep)
    n_centers = len(baseline.forced)
    rows = _milp_rows(arcs, b, demand, capacity, row_center, keep, n_centers)
    rows += _level_rows(limits, n_a, n_k)
    cost = np.concatenate([arcs.cost.astype(float), np.zeros(n_r + n_k)])
    changes = np.concatenate([np.zeros(n_a + n_r), np.ones(n_k)])
    if limits.max_cost is not None:
        rows.append(LinearConstraint(cost[None, :], -np.inf, limits.max_cost))
    short = demand if len(limits.levels) else np.zeros(n_r)  # uncovered teams allowed
    upper = np.concatenate([np.full(n_a, np.inf), short, np.ones(n_k)])
    model = _Model(rows, Bounds(0, upper), np.concatenate([np.zeros(n_a + n_r), np.ones(n_k)]))
    fewest = None
    allowed = None if baseline.max_changes is None else baseline.max_changes - baseline.n_forced
    if allowed is None:
        first = model.run(changes, deadline)
        if first is None:
            return None
        allowed, fewest = round(first.fun), round(first.fun) + baseline.n_forced
    if allowed < 0:
        return None
    model.rows.append(LinearConstraint(changes[None, :], -np.inf, allowed))
    second = model.run(cost, deadline)
    if second is None:
        return None
    flow = np.rint(second.x[:n_a]).astype(np.int64)
    uncovered = np.rint(second.x[n_a : n_a + n_r]).astype(np.int64)
    dual = second.mip_dual_bound  # None when presolve solved it outright
    bound = float(second.fun if dual is None else np.ceil(dual - 1e-6))
    return StableSolution(arcs, flow, uncovered, model.optimal, bound, fewest)


def _keep_all(
    arcs: Arcs,
    b: np.ndarray,
    demand: np.ndarray,
    capacity: np.ndarray,
    row_center: np.ndarray,
    keep: np.ndarray,
    limits: Limits,
    pricing: tuple[Problem, SolverOptions] | None,
) -> StableSolution | None:
    """Keep every centre that can keep its baseline; one exact transport for the rest.

    When that covers every team (within the cost cap), no plan changes fewer centres
    (only forced ones change) and, among plans changing only those, the transport is
    the cheapest: the lexicographic optimum, without the MILP. None otherwise.
    """
    kept_row = np.isin(row_center, keep)
    on_kept = kept_row[arcs.center]
    used = np.bincount(arcs.garrison[on_kept], weights=b[on_kept], minlength=len(capacity))
    residual = capacity - used.astype(np.int64)
    if (residual < 0).any():
        return None
    rest = arcs.subset(~on_kept)
    problem = Problem(np.where(kept_row, 0, demand).astype(np.int64), residual, rest)
    if pricing is None:
        sol = solve_transport(problem, rest, penalty=None, if_feasible=True)
        if sol is None:
            return None
        rest_flow = sol.flow
    else:
        whole, options = pricing
        problem = dataclasses.replace(whole, demand=problem.demand, capacity=residual, arcs=rest)
        lp = solve_split(problem, options, widen=False)
        if lp.shortfall or not lp.optimal:
            return None
        outside = ~kept_row[lp.arcs.center]
        rest, rest_flow = lp.arcs.subset(outside), lp.flow[outside]
    out, flow = _merge(arcs.subset(on_kept), b[on_kept], rest, rest_flow, len(capacity))
    cost = float(flow @ out.cost)
    if limits.max_cost is not None and cost > limits.max_cost:
        return None
    none = np.zeros(len(demand), dtype=np.int64)
    return StableSolution(out, flow, none, optimal=True, bound=cost, proven=pricing is not None)


def _merge(
    a: Arcs, a_flow: np.ndarray, b: Arcs, b_flow: np.ndarray, m: int
) -> tuple[Arcs, np.ndarray]:
    """Two disjoint arc sets and their flows as one sorted set."""
    order = np.argsort(np.concatenate([a.keys(m), b.keys(m)]), kind="stable")
    merged = Arcs(
        np.concatenate([a.center, b.center])[order],
        np.concatenate([a.garrison, b.garrison])[order],
        np.concatenate([a.cost, b.cost])[order],
    )
    return merged, np.concatenate([a_flow, b_flow]).astype(np.int64)[order]


class _Model:
    """One HiGHS MILP, run with different objectives (the lexicographic phases)."""

    def __init__(
        self, rows: list[LinearConstraint], bounds: Bounds, integrality: np.ndarray
    ) -> None:
        self.rows, self.bounds, self.integrality = rows, bounds, integrality
        self.optimal = True

    def run(self, objective: np.ndarray, deadline: float | None) -> Any:
        # Exact (no relative gap). Presolve off: on the national sample with one team
        # cut from a garrison the least-cost step took 106 s with it and 22 s without.
        options: dict[str, Any] = {"disp": False, "mip_rel_gap": 0.0, "presolve": False}
        if deadline is not None:
            options["time_limit"] = max(_FLOOR_S, deadline - time.perf_counter())
        found = milp(
            objective,
            constraints=self.rows,
            integrality=self.integrality,
            bounds=self.bounds,
            options=options,
        )
        if found.x is None:
            self.optimal = False
            return None
        self.optimal = self.optimal and found.status == 0
        return found


def count_changes(
    baseline: Baseline,
    rows: np.ndarray,
    garrisons: np.ndarray,
    teams: np.ndarray,
    row_center: np.ndarray,
    n_garrisons: int,
) -> tuple[int, int]:
    """Return (centres changed, teams moved) of a plan against ``baseline``.

    A centre changed when its (garrison, teams) pairs differ from the baseline's, or it is
    forced or gone; a team moved when a garrison sends it to a centre beyond what that
    garrison sent there in the baseline.
    """
    new = _pairs(rows, garrisons, teams, n_garrisons)
    old = _pairs(baseline.rows, baseline.garrisons, baseline.teams, n_garrisons)
    keys = np.union1d(new[0], old[0])
    after = _on(keys, *new)
    before = _on(keys, *old)
    differ = keys[after != before] // n_garrisons
    changed = np.zeros(len(baseline.forced), dtype=bool)
    changed[row_center[differ]] = True
    changed |= baseline.forced
    moved = int(np.maximum(after - before, 0).sum())
    return int(changed.sum()) + baseline.gone, moved


def _pairs(
    rows: np.ndarray, garrisons: np.ndarray, teams: np.ndarray, m: int
) -> tuple[np.ndarray, np.ndarray]:
    keys = np.asarray(rows, dtype=np.int64) * m + np.asarray(garrisons, dtype=np.int64)
    unique, inverse = np.unique(keys, return_inverse=True)
    total = np.bincount(inverse, weights=np.asarray(teams), minlength=len(unique))
    return unique, total.astype(np.int64)


def _on(keys: np.ndarray, have: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.zeros(len(keys), dtype=np.int64)
    out[np.searchsorted(keys, have)] = values
    return out


def _whole_keep(
    arcs: Arcs, b: np.ndarray, demand: np.ndarray, row_center: np.ndarray, keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Centres that can keep a whole-team baseline, and the arc each row keeps."""
    whole = np.zeros(len(demand), dtype=bool)
    kept_arc = np.full(len(demand), -1)
    on = np.flatnonzero(b > 0)
    single = np.bincount(arcs.center[on], minlength=len(demand)) == 1
    full = b[on] == demand[arcs.center[on]]
    ok = on[single[arcs.center[on]] & full]
    whole[arcs.center[ok]] = True
    kept_arc[arcs.center[ok]] = ok
    bad = np.zeros(int(row_center.max(initial=-1)) + 1, dtype=bool)
    bad[row_center[~whole & (demand > 0)]] = True
    return keep[~bad[keep]], kept_arc


def solve_stable_whole(  # noqa: PLR0913 - the arrays of one model
    arcs: Arcs,
    demand: np.ndarray,
    capacity: np.ndarray,
    row_center: np.ndarray,
    baseline: Baseline,
    limits: Limits,
    *,
    hint: np.ndarray,
    seed: int,
    max_time_s: float | None,
    deterministic_time: float,
) -> StableSolution | None:
    """Whole-team plan with the fewest changed centres, then least cost (CP-SAT).

    ``hint`` (an arc per row, -1: uncovered) is a feasible plan to start from. The change
    count is weighted above any cost in one objective. Returns None when CP-SAT finds no
    plan within ``max_changes`` and the cost cap in its time.
    """
    cp_model = cp_sat()

    b = _arc_baseline(arcs, baseline, len(capacity))
    candidates = _candidates(baseline, row_center)
    keep, kept_arc = _whole_keep(arcs, b, demand, row_center, candidates)
    split_before = len(candidates) - len(keep)  # split in the baseline: cannot stay whole
    if baseline.max_changes in (None, baseline.n_forced + split_before) and not limits.short.any():
        found = _keep_all_whole(
            arcs,
            demand,
            capacity,
            kept_arc,
            np.isin(row_center, keep),
            limits,
            seed=seed,
            max_time_s=max_time_s,
            deterministic_time=deterministic_time,
        )
        if found is not None:
            return found
    model = cp_model.CpModel()
    x = [model.new_bool_var("") for _ in range(len(arcs))]
    z = {int(k): model.new_bool_var("") for k in keep}
    weight = demand[arcs.center] * arcs.cost
    skip = _whole_rows(model, x, arcs, demand, capacity, limits, hint)
    for r in np.flatnonzero(kept_arc >= 0):
        if int(row_center[r]) in z:
            model.add_bool_or([x[kept_arc[r]], z[int(row_center[r])]])
    changes = sum(z.values())
    cost = cp_model.LinearExpr.weighted_sum(x, [int(w) for w in weight])
    if limits.max_cost is not None:
        model.add(cost <= int(np.floor(limits.max_cost)))
    if baseline.max_changes is not None:
        model.add(changes <= baseline.max_changes - baseline.n_forced - split_before)
    big = int(weight.sum()) + 1
    model.minimize(big * changes + cost if baseline.max_changes is None else cost)
    for k, var in z.items():
        rows = np.flatnonzero((row_center == k) & (kept_arc >= 0))
        model.add_hint(var, bool((hint[rows] != kept_arc[rows]).any()))
    solver = cp_model.CpSolver()
    solver.parameters.random_seed = seed
    solver.parameters.num_workers = 1
    solver.parameters.max_deterministic_time = deterministic_time
    if max_time_s is not None:
        solver.parameters.max_time_in_seconds = max(_FLOOR_S, max_time_s)
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    chosen = np.array([solver.value(v) for v in x], dtype=bool)
    flow = np.where(chosen, demand[arcs.center], 0).astype(np.int64)
    uncovered = np.array([demand[r] * solver.value(s) for r, s in skip], dtype=np.int64)
    left = np.zeros(len(demand), dtype=np.int64)
    left[[r for r, _ in skip]] = uncovered
    optimal = status == cp_model.OPTIMAL
    return StableSolution(arcs, flow, left, optimal, float(solver.value(cost)) if optimal else 0.0)


def _keep_all_whole(
    arcs: Arcs,
    demand: np.ndarray,
    capacity: np.ndarray,
    kept_arc: np.ndarray,
    kept_row: np.ndarray,
    limits: Limits,
    *,
    seed: int,
    max_time_s: float | None,
    deterministic_time: float,
) -> StableSolution | None:
    """Whole teams: keep every keepable centre; place the others on what is left.

    A small CP-SAT model over the rows that must change only. When it places them all
    (within the cost cap), no plan changes fewer centres; when CP-SAT proves it optimal,
    no plan changing only those costs less. None when it places not all in time.
    """
    cp_model = cp_sat()

    kept = np.flatnonzero(kept_row & (kept_arc >= 0))
    used = np.bincount(
        arcs.garrison[kept_arc[kept]], weights=demand[kept], minlength=len(capacity)
    )
    residual = capacity - used.astype(np.int64)
    rows = np.flatnonzero(~kept_row & (demand > 0))
    if (residual < 0).any():
        return None
    pairs = np.flatnonzero(np.isin(arcs.center, rows))
    flow = np.zeros(len(arcs), dtype=np.int64)
    flow[kept_arc[kept]] = demand[kept]
    optimal = True
    if len(rows):
        weight = demand[arcs.center[pairs]]
        model = AssignmentModel(
            arcs.center[pairs],
            arcs.garrison[pairs],
            weight * arcs.cost[pairs],
            weight,
            residual,
            items=rows,
        )
        status = model.solve(seed, max_time_s=max_time_s, deterministic_time=deterministic_time)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None
        chosen = pairs[model.choice()]
        flow[chosen] = demand[arcs.center[chosen]]
        optimal = status == cp_model.OPTIMAL
    cost = float(flow @ arcs.cost)
    if limits.max_cost is not None and cost > limits.max_cost:
        return None
    none = np.zeros(len(demand), dtype=np.int64)
    return StableSolution(arcs, flow, none, optimal=optimal, bound=cost if optimal else 0.0)


def _whole_rows(
    model: cp_model.CpModel,
    x: list[Any],
    arcs: Arcs,
    demand: np.ndarray,
    capacity: np.ndarray,
    limits: Limits,
    hint: np.ndarray,
) -> list[tuple[int, Any]]:
    """One garrison per row (or none, within the coverage limits), capacities, the hint."""
    skips: list[tuple[int, Any]] = []
    starts = np.searchsorted(arcs.center, np.arange(len(demand)))
    ends = np.searchsorted(arcs.center, np.arange(len(demand)), side="right")
    for r in np.flatnonzero(demand > 0):
        group = x[starts[r] : ends[r]]
        if len(limits.levels):
            skip = model.new_bool_var("")
            skips.append((int(r), skip))
            group = [*group, skip]
            model.add_hint(skip, bool(hint[r] < 0))
        model.add_exactly_one(group)
    for r in np.flatnonzero(demand == 0):
        for var in x[starts[r] : ends[r]]:
            model.add(var == 0)
    for level, short in zip(limits.levels, limits.short, strict=True):
        terms = [(s, int(demand[r])) for r, s in skips if limits.priority[r] >= level]
        if terms:
            model.add(sum(w * s for s, w in terms) <= int(short))
    for g in range(len(capacity)):
        on = np.flatnonzero(arcs.garrison == g)
        if len(on) and int(demand[arcs.center[on]].sum()) > int(capacity[g]):
            model.add(sum(int(demand[arcs.center[a]]) * x[a] for a in on) <= int(capacity[g]))
    for a in hint[hint >= 0]:
        model.add_hint(x[int(a)], 1)
    return skips
