"""``solve_instance``: an :class:`~electsec.problem.Instance` in, one frozen :class:`Outcome` out.

Stage 2 of prepare → solve → label (DESIGN §3), over arrays only. The split LP comes
first (exact min-cost flow with pricing); then, as asked, the fastest worst case, the
single-sourcing search and the backups. Each step returns a new frozen object; nothing is
written after construction. One :class:`~electsec.budget.Budget` on one clock is passed
down. When not every centre can be covered the outcome carries the plan covering the most
teams and the array-level reasons (:class:`CoverShortage`, :class:`BackupShortage`); the
label stage turns those into ids, tables and errors.
"""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from electsec.budget import Budget
from electsec.errors import InputError, Issue, SolverError
from electsec.problem import Arcs, BackupArcs, Instance, Problem
from electsec.solvers.backup import (
    JointSearch,
    Plan,
    assign_backups,
    choose_jointly,
    needs_backup,
)
from electsec.solvers.bottleneck import bottleneck, smallest_uniform_limit
from electsec.solvers.cover import WholeCover, cover_whole
from electsec.solvers.decompose import solve_regions
from electsec.solvers.diagnose import Cut, allowed_arcs, diagnose
from electsec.solvers.flow import FlowSolution, solve_split, solve_transport
from electsec.solvers.relax import (
    Relaxation,
    Suggestion,
    nearest_allowed,
    reinforce,
    smallest_group_limit,
)
from electsec.solvers.single import SingleSolution
from electsec.solvers.stable import (
    Baseline,
    Changes,
    Limits,
    StableSolution,
    count_changes,
    solve_stable,
    solve_stable_whole,
)

__all__ = ["BackupShortage", "CoverShortage", "Draft", "Outcome", "Settings", "solve_instance"]

#: Up to this many (row, garrison) pairs, joint backup choice sees every allowed pair.
EXACT_JOINT_PAIRS = 200_000
#: Share of the time left that the split LP and the whole-team search leave the backups.
BACKUP_SHARE = 0.5
_EMPTY = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class Settings:
    """How to solve an instance (what ``es.solve`` takes besides the instance)."""

    split: bool = False
    objective: Literal["total", "max"] = "total"
    coverage: Literal["full", "max"] = "full"
    seed: int = 0
    baseline: Baseline | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Draft:
    """A plan over demand rows: ``teams`` sent by garrison ``cols`` to row ``rows``.

    ``uncovered`` holds each row's teams left uncovered; ``objective`` and ``bound`` are
    in whole units, as the solvers optimised them. ``shortfall``, for whole-team plans
    that cannot cover everyone: (teams left uncovered, the fewest any plan leaves: the
    split LP's). ``cost``: each assignment's whole-unit cost, when at hand (split plans
    from the flow), else None.
    """

    rows: np.ndarray
    cols: np.ndarray
    teams: np.ndarray
    uncovered: np.ndarray
    status: str
    objective: float
    bound: float
    shortfall: tuple[int, int] | None = None
    cost: np.ndarray | None = None


@dataclass(frozen=True)
class CoverShortage:
    """Why not every centre can be covered: the minimum cut and the totals.

    ``limit_key`` names the "smallest uniform limit that would work" entry of the
    diagnosis (``smallest_feasible_max_distance_m`` or ``..._time_s``), or is None.
    ``tier_limits``: per tier with a limit, the smallest limit for that tier alone that
    would work (None: none would), or None when not searched. ``suggestions``: one
    :class:`~electsec.solvers.relax.Suggestion` per blocking region.
    """

    cut: Cut
    total_demand: int
    total_capacity: int
    limit_key: str | None = None
    smallest_limit: float | None = None
    tier_limits: tuple[tuple[str, float | None], ...] | None = None
    suggestions: tuple[Suggestion, ...] = ()


@dataclass(frozen=True)
class BackupShortage:
    """Why some covered centres get no backup: a Hall check on the reserves.

    ``timed_out``: the time limit ended the joint search before it had ruled out the
    centres missing beyond the Hall shortfall (their shortfall is not proven).
    """

    cut: Cut
    missing: np.ndarray
    total_demand: int
    total_capacity: int
    limit: float
    timed_out: bool = False


@dataclass(frozen=True)
class Outcome:
    """Everything the label stage needs, over arrays.

    Attributes
    ----------
    plan
        The plan (full, or the one covering the most teams).
    unreachable
        Demand rows with no allowed garrison (only when forces are short).
    split_only
        Rows the split plan covers but no single garrison can serve whole (partial
        single-sourcing plans).
    unplaced
        Rows the single-sourcing search could not serve whole although a split plan
        exists; non-empty means no whole-team plan was found.
    backup
        Backup garrison of each centre (-1: none), or None without backups.
    backup_missing
        Centres that need a backup and have none.
    worst_case_limit
        With ``objective="max"``: the proven shortest possible worst trip.
    shortage, backup_shortage
        Why not everything is covered; None when it is, or when ``coverage="max"``.
    changes
        With a baseline: how the plan differs from it.
    cut
        The minimum cut when forces are short (whatever the coverage), else None.
    nearest
        Per row of ``unreachable``: the nearest garrison it could use without its limit
        and the cost (-1 and ``inf`` when there is none or it is not known).
    """

    plan: Draft
    unreachable: np.ndarray = field(default_factory=lambda: _EMPTY)
    split_only: np.ndarray = field(default_factory=lambda: _EMPTY)
    unplaced: np.ndarray = field(default_factory=lambda: _EMPTY)
    backup: np.ndarray | None = None
    backup_missing: np.ndarray = field(default_factory=lambda: _EMPTY)
    worst_case_limit: int | None = None
    shortage: CoverShortage | None = None
    backup_shortage: BackupShortage | None = None
    changes: Changes | None = None
    cut: Cut | None = None
    nearest: tuple[np.ndarray, np.ndarray] = (_EMPTY, np.zeros(0))


def solve_instance(
    instance: Instance,
    settings: Settings,
    budget: Budget,
    executor: Executor | None = None,
    *,
    start: Arcs | None = None,
    lp: FlowSolution | None = None,
    lookahead: tuple[np.ndarray, int] | None = None,
) -> Outcome:
    """Solve ``instance`` as ``settings`` say, within ``budget``.

    Parameters
    ----------
    instance
        From :func:`electsec.prepare`.
    settings
        Split or whole teams, objective, coverage and seed.
    budget
        The call's time budget (its clock started where the public call began).
    executor
        Runs the single-sourcing search of independent regions in parallel.
    start
        Arcs to start the split LP from (see :func:`~electsec.solvers.flow.solve_split`):
        the final pool of the instance this one was edited from. The LP optimum does not
        depend on it.
    lp
        The split LP over every allowed arc, when already solved (a warm repair, or a
        warm solve from the pool, see :mod:`electsec.solvers.warm`): it is used instead
        of solving.
    lookahead
        ``(center_potential, slack)`` of the instance this one was edited from: the
        split LP's first pricing round also brings the arcs of rows whose dual moved
        that are within ``slack`` of improving (see
        :func:`~electsec.solvers.flow.solve_split`); the optimum does not depend on it.

    Returns
    -------
    Outcome
        With ``settings.baseline``: the plan changing the fewest centres (then least
        cost) among those as good as the fresh plan in coverage (and, with
        ``objective="max"``, in worst trip); see :mod:`electsec.solvers.stable`.
    """
    if settings.baseline is None:
        return _fresh(instance, settings, budget, executor, start, lp, lookahead)
    first = _first_half(budget, settings)
    outcome = _fresh(instance, settings, first, executor, start, lp, lookahead)
    if outcome.shortage is not None or outcome.unplaced.size:
        return _with_changes(instance, settings.baseline, outcome, outcome.plan.objective)
    return _stable(instance, settings, outcome, budget)


def _fresh(
    instance: Instance,
    settings: Settings,
    budget: Budget,
    executor: Executor | None,
    start: Arcs | None,
    lp: FlowSolution | None,
    lookahead: tuple[np.ndarray, int] | None,
) -> Outcome:
    """Solve without a baseline (the body of :func:`solve_instance`)."""
    problem, options = instance.problem, instance.options
    widen = not settings.split or instance.backup is not None
    deadline = budget.deadline(rows=problem.n_centers)
    if lp is None:
        look = None if widen else lookahead  # the look-ahead prices split plans only
        # With backups, the LP's pricing leaves them (and the whole-team search) a share.
        lp_by = _before_backups(instance, deadline)
        lp = solve_split(
            problem, options, deadline=lp_by, widen=widen, start=start, lookahead=look
        )
    if lp.shortfall:
        return _short(instance, settings, lp, deadline)
    worst = None
    total_lp = lp
    if settings.objective == "max":
        problem, lp, worst = _fastest_worst_case(problem, lp, instance)
    if settings.split:
        return _finish(instance, settings, problem, lp, _from_flow(lp), worst, deadline)
    single = _search(problem, lp, instance, settings, budget, executor)
    if settings.objective == "max" and _unplaced(problem, single).size:
        # Whole teams do not pack within the worst-case limit: fall back to the total plan.
        problem, lp = instance.problem, total_lp
        single = _search(problem, lp, instance, settings, budget, executor)
        single = dataclasses.replace(single, optimal=False)
    unplaced = _unplaced(problem, single)
    if unplaced.size and settings.coverage == "max":
        return _whole_short(instance, settings, instance.problem, total_lp, budget, worst)
    if unplaced.size:
        return Outcome(_from_single(problem, single), unplaced=unplaced, worst_case_limit=worst)
    plan = _from_single(problem, single)
    deadline = budget.deadline(rows=problem.n_centers)
    return _finish(instance, settings, problem, lp, plan, worst, deadline)


def _search(
    problem: Problem,
    lp: FlowSolution,
    instance: Instance,
    settings: Settings,
    budget: Budget,
    executor: Executor | None,
) -> SingleSolution:
    return solve_regions(
        problem,
        lp,
        options=instance.options,
        deadline=_before_backups(instance, budget.deadline(rows=problem.n_centers)),
        seed=settings.seed,
        executor=executor,
    )


def _unplaced(problem: Problem, single: SingleSolution) -> np.ndarray:
    return np.flatnonzero((single.assign < 0) & (problem.demand > 0))


def _fastest_worst_case(
    problem: Problem, lp: FlowSolution, instance: Instance
) -> tuple[Problem, FlowSolution, int]:
    """Restrict to the arcs within the exact bottleneck limit and re-solve the total."""
    upper = int(lp.arcs.cost[lp.flow > 0].max(initial=0))
    found = bottleneck(problem, upper=upper)
    assert found is not None  # noqa: S101 - the plan ``lp`` covers everything within ``upper``
    limit, arcs = found
    restricted = Problem(problem.demand, problem.capacity, arcs)
    return restricted, solve_split(restricted, instance.options), limit


def _from_flow(lp: FlowSolution) -> Draft:
    """Return the split plan: optimal, or feasible with a proven bound if pricing stopped."""
    used = lp.flow > 0
    teams = lp.flow[used]
    return Draft(
        lp.arcs.center[used],
        lp.arcs.garrison[used],
        teams,
        lp.uncovered,
        "optimal" if lp.optimal else "feasible",
        float(teams @ lp.arcs.cost[used]),
        float(lp.lower_bound),
        cost=lp.arcs.cost[used],
    )


def _whole_cover(
    instance: Instance, settings: Settings, lp: FlowSolution, deadline: float | None
) -> tuple[Draft, np.ndarray]:
    """Single-sourced partial plan covering the most teams in tier order, then least cost.

    ``bound`` is the cost when the plan is proven optimal (as many teams per tier as the
    split LP, at proven least cost); the split LP's cost when it covers as many teams
    per tier but the cost is not proven; else 0 (only a cost bound: coverage below the
    split LP's is reported by ``shortfall``).
    """
    problem = instance.problem
    found = cover_whole(
        problem, lp, options=instance.options, seed=settings.seed, deadline=deadline
    )
    demand = problem.demand
    rows = np.flatnonzero(found.assign >= 0)
    uncovered = np.where(found.assign >= 0, 0, demand).astype(np.int64)
    split_only = np.flatnonzero((lp.uncovered == 0) & (uncovered > 0))
    draft = Draft(
        rows,
        found.assign[rows],
        demand[rows],
        uncovered,
        "optimal" if found.optimal else "feasible",
        float(found.objective),
        _cost_bound(found, lp),
        shortfall=(int(uncovered.sum()), int(lp.uncovered.sum())),
    )
    return draft, split_only


def _cost_bound(found: WholeCover, lp: FlowSolution) -> float:
    if found.optimal:
        return float(found.objective)
    if found.same_coverage and lp.optimal:
        return float(min(lp.cost, found.objective))
    return 0.0


def _whole_short(
    instance: Instance,
    settings: Settings,
    problem: Problem,
    lp: FlowSolution,
    budget: Budget,
    worst: int | None,
) -> Outcome:
    """Whole teams do not pack although a split plan covers everyone: cover the most."""
    deadline = budget.deadline(rows=problem.n_centers)
    draft, split_only = _whole_cover(instance, settings, lp, _before_backups(instance, deadline))
    draft, backup, _, _ = _with_backups(instance, settings, problem, lp.arcs, draft, deadline)
    return Outcome(draft, split_only=split_only, backup=backup, worst_case_limit=worst)


def _from_single(problem: Problem, single: SingleSolution) -> Draft:
    rows = np.flatnonzero(single.assign >= 0)
    return Draft(
        rows,
        single.assign[rows],
        problem.demand[rows],
        np.zeros(problem.n_centers, dtype=np.int64),
        "optimal" if single.optimal else "feasible",
        float(single.objective),
        float(single.bound),
    )


def _short(
    instance: Instance, settings: Settings, lp: FlowSolution, deadline: float | None
) -> Outcome:
    """Return the plan covering the most teams and, unless coverage="max", why not all."""
    problem = instance.problem
    cut = diagnose(problem, lp)
    split_only = _EMPTY
    if settings.split:
        draft = _from_flow(lp)
    else:
        search = _before_backups(instance, deadline)
        draft, split_only = _whole_cover(instance, settings, lp, search)
    draft, backup, _, _ = _with_backups(instance, settings, problem, lp.arcs, draft, deadline)
    shortage = None
    if settings.coverage == "full":
        shortage = _cover_shortage(instance, cut, lp)
    unlimited = _unlimited(instance)
    return Outcome(
        draft,
        unreachable=cut.unreachable,
        split_only=split_only,
        backup=backup,
        shortage=shortage,
        cut=cut,
        nearest=nearest_allowed(
            problem, cut.unreachable, None if unlimited is None else unlimited.arcs
        ),
    )


def _cover_shortage(instance: Instance, cut: Cut, lp: FlowSolution) -> CoverShortage:
    problem = instance.problem
    demand, capacity = int(problem.demand.sum()), int(problem.capacity.sum())
    unlimited = _unlimited(instance)
    if instance.unit == "m" and problem.oracle is not None:
        key, fix = "smallest_feasible_max_distance_m", smallest_uniform_limit(problem)
    else:
        key = (
            "smallest_feasible_max_distance_m"
            if instance.unit == "m"
            else ("smallest_feasible_max_time_s")
        )
        found = bottleneck(unlimited) if unlimited is not None else None
        fix = None if found is None else found[0]
        if unlimited is None and problem.oracle is None and instance.limits is not None:
            key = None  # the arcs beyond the limits were never listed: not searched
    beyond = None if unlimited is None else unlimited.arcs
    return CoverShortage(
        cut,
        demand,
        capacity,
        key,
        # Costs are whole units inside; every pair rounding to ``fix`` is within +0.5.
        None if fix is None else fix + 0.5,
        tier_limits=_tier_limits(instance, lp, unlimited),
        suggestions=tuple(reinforce(problem, r, beyond) for r in cut.regions),
    )


def _unlimited(instance: Instance) -> Problem | None:
    """Return the problem without limits, with the current teams (None with an oracle)."""
    problem = instance.problem
    if problem.oracle is not None:
        return None
    if instance.unlimited is None:
        return None if instance.limits is not None else problem
    return dataclasses.replace(
        instance.unlimited, demand=problem.demand, capacity=problem.capacity, priority=None
    )


def _tier_limits(
    instance: Instance, lp: FlowSolution, unlimited: Problem | None
) -> tuple[tuple[str, float | None], ...] | None:
    """Per tier with a limit: the smallest limit for it alone that would work (+0.5)."""
    tiers, limits, problem = instance.labels.tier, instance.limits, instance.problem
    if tiers is None or limits is None or (problem.oracle is None and unlimited is None):
        return None
    row_tier = tiers[instance.labels.forces.row_center]
    weight = problem.priority if problem.priority is not None else np.ones(len(row_tier))
    top = {t: -int(weight[row_tier == t].max()) for t in set(row_tier)}
    out = []
    for tier in sorted(top, key=lambda t: (top[t], t)):
        group = row_tier == tier
        if not np.isfinite(limits[group]).any():
            continue  # nothing to raise
        beyond = None
        if problem.oracle is None:
            assert unlimited is not None  # noqa: S101
            beyond = unlimited.arcs.subset(group[unlimited.arcs.center])
        found = smallest_group_limit(Relaxation(problem, limits, group, beyond), lp.arcs)
        out.append((str(tier), None if found is None else found + 0.5))
    return tuple(out)


def _finish(
    instance: Instance,
    settings: Settings,
    problem: Problem,
    lp: FlowSolution,
    draft: Draft,
    worst: int | None,
    deadline: float | None,
) -> Outcome:
    """Attach the backups; with full coverage, say why some centres have none."""
    draft, backup, need, timed_out = _with_backups(
        instance, settings, problem, lp.arcs, draft, deadline
    )
    missing = _EMPTY if backup is None else np.flatnonzero(need & (backup < 0))
    shortage = None
    if instance.backup is not None and missing.size and settings.coverage == "full":
        shortage = _backup_shortage(instance.backup, need, missing, timed_out=timed_out)
    return Outcome(
        draft,
        backup=backup,
        backup_missing=missing,
        worst_case_limit=worst,
        backup_shortage=shortage,
    )


def _backup_shortage(
    backup: BackupArcs, need: np.ndarray, missing: np.ndarray, *, timed_out: bool
) -> BackupShortage:
    demand = need.astype(np.int64)
    problem = Problem(demand, backup.capacity, backup.arcs)
    penalty = (int(backup.arcs.cost.max(initial=0)) + 1) * (len(demand) + 2)
    cut = diagnose(problem, solve_transport(problem, backup.arcs, penalty=penalty))
    total = int(backup.capacity.sum())
    # Only centres beyond the Hall shortfall can be the time limit's doing.
    unproven = timed_out and len(missing) > cut.shortfall
    return BackupShortage(cut, missing, int(demand.sum()), total, backup.limit, timed_out=unproven)


def _before_backups(instance: Instance, deadline: float | None) -> float | None:
    """Return the deadline of a phase before the backups that leaves them their share.

    With backups, the split LP's pricing and the whole-team search each stop when
    ``BACKUP_SHARE`` of the time left remains, so the backups (their flows, and a joint
    search if they need one) run within the limit too.
    """
    if deadline is None or instance.backup is None:
        return deadline
    return deadline - (deadline - time.perf_counter()) * BACKUP_SHARE


def _with_backups(
    instance: Instance,
    settings: Settings,
    problem: Problem,
    pool: Arcs,
    draft: Draft,
    deadline: float | None,
) -> tuple[Draft, np.ndarray | None, np.ndarray, bool]:
    """Give the plan its backups.

    Returns the (possibly re-chosen) plan, the backups, the centres needing one, and
    whether the time limit cut the joint search short (the plan is then "feasible").
    """
    if instance.backup is None:
        return draft, None, np.zeros(0, dtype=bool), False
    plan = Plan(draft.rows, draft.cols, draft.teams, _EMPTY)
    found = _attach(instance, settings, problem, pool, plan, deadline)
    plan = found.plan
    if found.timed_out:
        draft = dataclasses.replace(draft, status="feasible")
    if not np.array_equal(plan.row, draft.rows) or not np.array_equal(plan.garrison, draft.cols):
        new = float(plan.teams @ np.rint(instance.cost(plan.row, plan.garrison)))
        status = draft.status if new == draft.objective else "feasible"
        draft = dataclasses.replace(
            draft,
            rows=plan.row,
            cols=plan.garrison,
            teams=plan.teams,
            status=status,
            objective=new,
            cost=None,
        )
    need = needs_backup(plan, instance.labels.forces.row_center, instance.n_centers)
    return draft, plan.backup, need, found.timed_out


def _attach(
    instance: Instance,
    settings: Settings,
    problem: Problem,
    pool: Arcs,
    plan: Plan,
    deadline: float | None,
) -> JointSearch:
    """Backups for a finished plan, re-choosing primaries nearby only where needed."""
    backup = instance.backup
    assert backup is not None  # noqa: S101
    row_center = instance.labels.forces.row_center
    need = needs_backup(plan, row_center, instance.n_centers)
    primary = (row_center[plan.row], plan.garrison)
    chosen = assign_backups(need, primary, backup.arcs, backup.capacity)
    plan = Plan(plan.row, plan.garrison, plan.teams, chosen)
    missing = int((need & (chosen < 0)).sum())
    if not missing:
        return JointSearch(plan)
    if deadline is not None and time.perf_counter() >= deadline:
        return JointSearch(plan, timed_out=True)  # no time to bound or search further
    # Without the "not a primary" rule: no plan can leave fewer centres without backup.
    relaxed = assign_backups(need, (primary[0][:0], primary[1][:0]), backup.arcs, backup.capacity)
    least = int((need & (relaxed < 0)).sum())
    if missing == least:
        return JointSearch(plan)
    joint_problem = _joint_pool(instance, problem, pool, plan)
    search = choose_jointly(
        joint_problem,
        plan,
        row_center,
        backup.arcs,
        backup.capacity,
        split=settings.split,
        least_missing=least,
        seed=settings.seed,
        deadline=deadline,
    )
    joint = search.plan
    if settings.split and (deadline is None or time.perf_counter() < deadline):
        joint = _polish(joint, joint_problem, row_center, need, backup)
    order = np.lexsort((joint.garrison, joint.row))
    joint = Plan(joint.row[order], joint.garrison[order], joint.teams[order], joint.backup)
    return JointSearch(joint, timed_out=search.timed_out)


def _joint_pool(instance: Instance, problem: Problem, pool: Arcs, plan: Plan) -> Problem:
    """Return the primary arcs the joint backup search may choose from."""
    rows, cols = plan.row, plan.garrison
    arcs = pool.union(Arcs.from_arrays(rows, cols, instance.cost(rows, cols)))
    if problem.n_centers * problem.n_garrisons <= EXACT_JOINT_PAIRS:
        # Small enough to offer every allowed pair: "no joint plan" is then proven.
        arcs = arcs.union(allowed_arcs(problem, np.arange(problem.n_centers)))
    return Problem(problem.demand, problem.capacity, arcs)


def _polish(
    plan: Plan, problem: Problem, row_center: np.ndarray, need: np.ndarray, backup: BackupArcs
) -> Plan:
    """Split plans: best primaries given the backups, then best backups given those.

    Both steps are exact min-cost flows and the plan before each is feasible for it,
    so neither can make the plan worse.
    """
    pool = problem.arcs
    arcs = pool.subset(plan.backup[row_center[pool.center]] != pool.garrison)
    covered = np.bincount(plan.row, weights=plan.teams, minlength=problem.n_centers)
    sol = solve_transport(
        Problem(covered.astype(np.int64), problem.capacity, arcs), arcs, penalty=None
    )
    on = sol.flow > 0
    primary = (row_center[arcs.center[on]], arcs.garrison[on])
    chosen = assign_backups(need, primary, backup.arcs, backup.capacity)
    if ((chosen < 0) & need & (plan.backup >= 0)).any():  # pragma: no cover - cannot happen
        return plan
    return Plan(
        arcs.center[on].astype(np.int64), arcs.garrison[on].astype(np.int64), sol.flow[on], chosen
    )


def _first_half(budget: Budget, settings: Settings) -> Budget:
    """Give the fresh whole-team search half a wall-clock budget (the re-plan the rest)."""
    if settings.split or budget.limit_s is None:
        return budget
    return Budget(budget.limit_s / 2, started=budget.started)


def _stable(instance: Instance, settings: Settings, fresh: Outcome, budget: Budget) -> Outcome:
    """Re-plan close to ``settings.baseline``, as good as ``fresh`` in coverage."""
    assert settings.baseline is not None  # noqa: S101
    problem, draft = instance.problem, fresh.plan
    baseline, arcs, exact = _stable_arcs(instance, settings, draft)
    limits = _limits(problem, draft, baseline, settings)
    row_center = instance.labels.forces.row_center
    args = (arcs, problem.demand, problem.capacity, row_center, baseline, limits)
    deadline = budget.deadline(rows=problem.n_centers)
    if settings.split:
        # Pricing may add any allowed arc: only without a worst-trip limit on the pool.
        priced = not exact and settings.objective == "total"
        pricing = (problem, instance.options) if priced else None
        sol = solve_stable(*args, deadline=deadline, pricing=pricing)
    else:
        hint = _hint(arcs, draft, problem.n_centers, problem.n_garrisons)
        left = None if deadline is None else deadline - time.perf_counter()
        sol = solve_stable_whole(
            *args,
            hint=hint,
            seed=settings.seed,
            max_time_s=left,
            deterministic_time=instance.options.proof_deterministic_time,
        )
    if sol is None:
        _refuse(instance, settings, baseline, limits, args, deadline)
        return _with_changes(instance, baseline, fresh, draft.objective)
    stable = _stable_draft(sol, draft, exact=exact)
    return _with_changes(instance, baseline, Outcome(stable), draft.objective)


def _stable_draft(sol: StableSolution, fresh: Draft, *, exact: bool) -> Draft:
    used = sol.flow > 0
    objective = float(sol.flow[used] @ sol.arcs.cost[used])
    optimal = sol.optimal and (exact or sol.proven) and fresh.status == "optimal"
    bound = sol.bound if optimal else min(fresh.bound, objective)
    return Draft(
        sol.arcs.center[used].astype(np.int64),
        sol.arcs.garrison[used].astype(np.int64),
        sol.flow[used],
        sol.uncovered,
        "optimal" if optimal else "feasible",
        objective,
        bound,
        shortfall=fresh.shortfall and (int(sol.uncovered.sum()), fresh.shortfall[1]),
    )


def _with_changes(
    instance: Instance, baseline: Baseline, outcome: Outcome, fresh_objective: float
) -> Outcome:
    plan = outcome.plan
    centers, teams = count_changes(
        baseline,
        plan.rows,
        plan.cols,
        plan.teams,
        instance.labels.forces.row_center,
        instance.n_garrisons,
    )
    changes = Changes(centers, teams, baseline.n_forced, fresh_objective)
    return dataclasses.replace(outcome, changes=changes)


def _stable_arcs(
    instance: Instance, settings: Settings, draft: Draft
) -> tuple[Baseline, Arcs, bool]:
    """Return the baseline's allowed pairs, the arcs to re-plan on, and if they are all."""
    assert settings.baseline is not None  # noqa: S101
    problem, row_center = instance.problem, instance.labels.forces.row_center
    baseline, kept = _admissible(problem, row_center, settings.baseline)
    exact = problem.oracle is None
    if exact:
        pool = problem.arcs
    elif problem.n_centers * problem.n_garrisons <= EXACT_JOINT_PAIRS:
        pool, exact = allowed_arcs(problem, np.arange(problem.n_centers)), True
    else:
        cost = np.rint(instance.cost(draft.rows, draft.cols))
        pool = problem.arcs.union(kept).union(Arcs.from_arrays(draft.rows, draft.cols, cost))
    if settings.objective == "max":
        worst = np.rint(instance.cost(draft.rows, draft.cols)).max(initial=0)
        pool = pool.subset(pool.cost <= worst)
    m = problem.n_garrisons
    keys = baseline.rows.astype(np.int64) * m + baseline.garrisons
    drop = ~np.isin(keys, pool.keys(m)) | (problem.capacity[baseline.garrisons] == 0)
    return _forced(baseline, row_center, problem.demand, drop), pool, exact


def _admissible(
    problem: Problem, row_center: np.ndarray, baseline: Baseline
) -> tuple[Baseline, Arcs]:
    """Drop baseline pairs the instance no longer allows (their centres are then forced)."""
    rows, garrisons = baseline.rows, baseline.garrisons
    if problem.oracle is None:
        allowed = problem.arcs
    else:
        unique, inverse = np.unique(rows, return_inverse=True)
        radius = np.zeros(len(unique))
        np.maximum.at(radius, inverse, np.asarray(baseline.cost, dtype=float) + 1.0)
        allowed = problem.oracle_arcs(radius, unique)
    keys = allowed.keys(problem.n_garrisons)
    wanted = rows.astype(np.int64) * problem.n_garrisons + garrisons
    found = np.isin(wanted, keys)
    kept = allowed.subset(np.isin(keys, wanted[found]))
    return _forced(baseline, row_center, problem.demand, ~found), kept


def _forced(
    baseline: Baseline, row_center: np.ndarray, demand: np.ndarray, drop: np.ndarray
) -> Baseline:
    """Drop the baseline pairs ``drop`` (by position); mark every centre no plan can keep.

    Forced: centres with a dropped pair, whose baseline teams differ from a row's demand
    now, or with demand now and no baseline teams.
    """
    forced = baseline.forced.copy()
    forced[row_center[baseline.rows[drop]]] = True
    keep = ~drop
    rows, teams = baseline.rows[keep], baseline.teams[keep]
    had = np.bincount(rows, weights=teams, minlength=len(demand))
    forced[row_center[np.flatnonzero(had != demand)]] = True
    return dataclasses.replace(
        baseline,
        rows=rows,
        garrisons=baseline.garrisons[keep],
        teams=teams,
        cost=baseline.cost[keep],
        forced=forced,
    )


def _limits(problem: Problem, draft: Draft, baseline: Baseline, settings: Settings) -> Limits:
    """Coverage per priority level as good as the fresh plan's; the cost cap if asked."""
    priority = problem.priority if problem.priority is not None else np.ones(problem.n_centers)
    levels = np.zeros(0)
    short = np.zeros(0)
    if settings.coverage == "max":
        levels = np.unique(priority)[::-1]
        short = np.array([draft.uncovered[priority >= p].sum() for p in levels], dtype=float)
    cap = None
    if baseline.max_cost_increase_pct is not None:
        cap = float(np.floor(draft.objective * (1 + baseline.max_cost_increase_pct / 100)))
    return Limits(priority, levels, short, cap)


def _hint(arcs: Arcs, draft: Draft, n_rows: int, m: int) -> np.ndarray:
    """Return the arc each row takes in the fresh whole-team plan (-1: uncovered)."""
    hint = np.full(n_rows, -1, dtype=np.int64)
    pos = np.searchsorted(arcs.keys(m), draft.rows.astype(np.int64) * m + draft.cols)
    hint[draft.rows] = pos
    return hint


def _refuse(
    instance: Instance,
    settings: Settings,
    baseline: Baseline,
    limits: Limits,
    args: tuple[Any, ...],
    deadline: float | None,
) -> None:
    """Raise when no plan meets ``max_changes`` (saying the fewest possible).

    Without ``max_changes`` the fresh plan always qualifies (it is within any cost cap),
    so a whole-team search that found nothing in time leaves the fresh plan standing.
    """
    if baseline.max_changes is None:
        return
    if not settings.split:
        message = (
            f"no whole-team plan changing at most {baseline.max_changes} centres was found "
            f"in time ({instance.n_centers} centres); raise time_limit_s or max_changes"
        )
        raise SolverError(message)
    free = dataclasses.replace(baseline, max_changes=None)
    arcs, demand, capacity, row_center = args[:4]
    found = solve_stable(arcs, demand, capacity, row_center, free, limits, deadline=deadline)
    known = "" if found is None else f"; the fewest possible is {found.fewest_changes}"
    message = f"no plan changes at most {baseline.max_changes} centres{known}"
    raise InputError([Issue("arguments", "max_changes", (), message)])
