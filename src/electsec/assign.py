"""The public facade: ``solve_assignment`` = ``solve(prepare(...))``.

prepare → solve → label (DESIGN §3): :func:`electsec.prepare` turns layers into a
frozen :class:`~electsec.problem.Instance`; :func:`solve` runs the array solvers
(:func:`electsec.solvers.pipeline.solve_instance`) within one time budget and labels the
outcome (:func:`electsec.result.label`).
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Executor
from typing import Any, Literal

from electsec.budget import Budget
from electsec.config import Backup, SolverOptions
from electsec.costs import CostMatrix
from electsec.errors import InputError, Issue
from electsec.forces import Jurisdiction
from electsec.io import Source
from electsec.preparation import prepare
from electsec.problem import Instance
from electsec.replan import baseline_arrays, replan_issues
from electsec.result import AssignmentResult, label
from electsec.solvers.pipeline import Settings, solve_instance
from electsec.solvers.stable import Baseline
from electsec.validation import is_number

__all__ = ["solve", "solve_assignment"]


def solve_assignment(  # noqa: PLR0913 - the public contract (DESIGN.md §4)
    centers: Source,
    garrisons: Source,
    costs: CostMatrix | None = None,
    *,
    split: bool = False,
    objective: Literal["total", "max"] = "total",
    max_distance_m: float | dict[str, float] | str | None = None,
    max_time_s: float | dict[str, float] | str | None = None,
    k: int | None = None,
    time_limit_s: float | None = None,
    seed: int = 0,
    coverage: Literal["full", "max"] = "full",
    backup: Backup | Mapping[str, Any] | None = None,
    jurisdiction: Jurisdiction | None = None,
    executor: Executor | None = None,
    options: SolverOptions | None = None,
    baseline: AssignmentResult | None = None,
    max_changes: int | None = None,
    max_cost_increase_pct: float | None = None,
) -> AssignmentResult:
    r"""Assign teams from garrisons to polling centres at least total cost.

    Every centre receives its ``demand`` teams within garrison capacities. Inputs are
    validated in full first; every problem found is reported at once.

    Parameters
    ----------
    centers
        Polling centres: anything :func:`read_polling_centers` reads.
    garrisons
        Garrisons: anything :func:`read_garrisons` reads.
    costs
        Centre × garrison costs from :func:`distance_matrix`; its arcs are then the only
        allowed pairs. When None, geodesic distances are used and every pair is allowed
        (within ``max_distance_m`` / ``k``), priced exactly without a dense matrix.
    split
        False: each centre is served by exactly one garrison. True: a centre's teams may
        come from several garrisons.
    objective
        ``"total"``: minimise Σ teams × cost. ``"max"``: first minimise the largest cost
        on any used pair (the worst response, found exactly by bisection with max-flow
        tests), then the total at that limit; ``parameters["worst_case_limit"]`` holds
        the proven limit. With ``split=False`` the plan is then sought within that limit.
    max_distance_m
        Response limit: pairs farther apart are never used. One number, a mapping
        ``{tier: metres}`` applied through the centres' ``tier`` column (tiers not named
        are unlimited), or the name of a column of ``centers`` with each centre's limit.
    max_time_s
        The same in seconds, for travel-time ``costs`` (from
        ``distance_matrix(..., metric="travel_time", network=...)``).
    k
        Only the ``k`` nearest garrisons of each centre are allowed.
    time_limit_s
        Wall-clock budget for the whole call, validation and the exact split LP included
        (None: the deterministic budget in ``options``). It cuts the single-sourcing
        search short, and the split LP's pricing once every team is covered and another
        round would not fit: the plan is then ``"feasible"`` with a proven ``bound`` and
        ``gap`` (at a million stations the first round is typically within 0.1 %).
        The call returns within about ``time_limit_s`` + 0.5 s nationally (+ 3 s at a
        million stations; measured in ``benchmarks/RESULTS.md``). Two steps are never
        given up for time, so a very small limit can be overrun by them: the split LP's
        first covering flow, and the cheap packing of a first whole-team plan (regret
        insertion, ejection moves, worst-fit decreasing). If even those place some
        centre in no garrison whole, :class:`SolverError` is raised naming the centres
        (with ``coverage="max"``, the plan covering the most teams is returned instead).
        With ``backup``, the split LP's pricing and the whole-team search leave half the
        time left to the backups, whose joint search stops at the limit: the plan is
        then ``"feasible"``, and centres it had no time to back up are reported as not
        proven (raise ``time_limit_s``). The backup flows themselves (three at most)
        are never given up.
    seed
        Seed for the search, an integer in [0, 2**31) (CP-SAT's range); the same
        inputs and seed give the same plan.
    coverage
        ``"full"``: every centre must be covered, else :class:`InfeasibleError`.
        ``"max"``: return the plan covering the most teams instead — high-tier centres
        first, then medium, then low (by the ``tier`` column), then least cost — with
        ``.uncovered`` listing the centres left short and why.
    backup
        Backup coverage (:class:`electsec.config.Backup`, or a mapping of its fields):
        every covered centre also gets a backup garrison, different from the garrisons
        serving it and within the backup limit, drawn from the garrisons' ``reserve``
        teams; ``.backups`` lists them and ``.garrison_load`` the reserve load. Reserves
        are always held back from the plan, with or without this option.
    jurisdiction
        Where each agency may operate, when garrisons have an ``agency`` column:
        ``{agency: [governorates]}`` (through the centres' ``governorate`` column), a
        table with ``agency`` and ``governorate`` columns, or such pairs; agencies not
        named operate anywhere. Centres say which agencies they need with
        ``demand_<agency>`` columns (summing to ``demand``) or an ``agency`` column.
        Or ``"command"``: each garrison serves only centres of its own command (a
        ``command`` column on both layers: the centre's area, the garrison's command).
    executor
        A :class:`concurrent.futures.Executor` (a process pool, or a Dask client's
        ``get_executor()``) that runs the single-sourcing search of independent regions
        in parallel. Regions are the connected parts of the allowed pairs (agencies never
        share a garrison; finite response limits cut the country apart). The plan does not
        depend on it.
    options
        Solver tuning (:class:`electsec.config.SolverOptions`).
    baseline
        A plan to stay close to (stable re-planning): the plan returned changes the
        fewest centres relative to it, then costs least, among plans covering as many
        teams (per tier) as a fresh solve — and, with ``objective="max"``, no longer a
        worst trip. A centre *changes* when any garrison sends it other teams than in the
        baseline (a garrison added or dropped, or a different team split); centres or
        garrisons gone, and demand changed, are forced changes. Exact for split plans (a
        two-phase MILP with HiGHS); whole-team plans use CP-SAT hinted with the fresh
        plan. ``.replan`` and ``summary()`` report ``centers_changed`` and ``teams_moved``.
        Not combined with ``backup``.
    max_changes
        With ``baseline``: the least-cost plan changing at most this many centres
        (forced changes included); :class:`InputError` names the fewest possible when
        it is too small.
    max_cost_increase_pct
        With ``baseline``: the fewest changes among plans costing at most this per cent
        above the fresh plan (then least cost). Give this or ``max_changes``, not both.

    Returns
    -------
    AssignmentResult
        ``status`` is ``"optimal"`` only when proven over every allowed pair.

    Raises
    ------
    InputError
        Bad layers or arguments (every problem listed, with the offending ids).
    InfeasibleError
        Demand cannot be met; ``.diagnosis`` says which centres and why, ``.partial``
        holds the plan covering the most teams.
    SolverError
        No plan found within the limits.

    Notes
    -----
    With ``x_ig`` the teams garrison ``g`` sends to centre ``i``, demand ``d_i``,
    capacity ``k_g`` and cost ``c_ig``, the split plan solves

    .. math:: \min \sum c_{ig} x_{ig} \;\text{s.t.}\; \sum_g x_{ig} = d_i,\;
              \sum_i x_{ig} \le k_g,\; x \ge 0

    exactly as a min-cost flow; single-sourcing adds ``x_ig ∈ {0, d_i}`` and is solved by
    rounding that flow and a large-neighbourhood search with CP-SAT, with ``bound`` the
    LP optimum (or better) and ``gap`` proven.

    Examples
    --------
    >>> import electsec as es
    >>> plan = es.solve_assignment("data/sample/tiny_centers.geojson",
    ...                            "data/sample/tiny_garrisons.geojson")
    >>> plan.status
    'optimal'
    >>> int(plan.assignments["teams"].sum()) == int(plan.garrison_load["used"].sum())
    True

    Hold back one team per garrison as a quick-reaction reserve and give every centre a
    backup garrison within 50 km that is not the one serving it:

    >>> garrisons = es.read_garrisons("data/sample/tiny_garrisons.geojson")
    >>> garrisons["reserve"] = 1
    >>> plan = es.solve_assignment("data/sample/tiny_centers.geojson", garrisons,
    ...                            backup=es.Backup(max_distance_m=50_000, centers_per_team=20))
    >>> merged = plan.assignments.merge(plan.backups, on="center_id", suffixes=("", "_backup"))
    >>> bool((merged["garrison_id"] != merged["garrison_id_backup"]).all())
    True

    Teams of one agency only, and only where it may operate:

    >>> centers = es.read_polling_centers("data/sample/tiny_centers.geojson")
    >>> centers["agency"] = "police"
    >>> plan = es.solve_assignment(centers, "data/sample/tiny_garrisons.geojson",
    ...                            split=True, jurisdiction={"police": ["Baghdad"]},
    ...                            coverage="max")
    >>> sorted(plan.assignments["agency"].unique())
    ['police']
    """
    budget = Budget(time_limit_s)  # the clock covers validation and preparation too
    issues = _solve_issues(split, objective, coverage, seed, time_limit_s)
    issues += replan_issues(baseline, max_changes, max_cost_increase_pct)
    try:
        instance = prepare(
            centers,
            garrisons,
            costs,
            max_distance_m=max_distance_m,
            max_time_s=max_time_s,
            k=k,
            jurisdiction=jurisdiction,
            backup=backup,
            options=options,
        )
    except InputError as exc:
        raise InputError([*issues, *exc.issues]) from None
    if issues:
        raise InputError(issues)
    stable = _baseline(instance, baseline, max_changes, max_cost_increase_pct)
    settings = Settings(split, objective, coverage, seed, stable)
    return _solve(instance, settings, budget, executor)


def solve(  # noqa: PLR0913 - the public contract (DESIGN.md §4)
    instance: Instance,
    *,
    split: bool = False,
    objective: Literal["total", "max"] = "total",
    coverage: Literal["full", "max"] = "full",
    seed: int = 0,
    time_limit_s: float | None = None,
    executor: Executor | None = None,
    baseline: AssignmentResult | None = None,
    max_changes: int | None = None,
    max_cost_increase_pct: float | None = None,
) -> AssignmentResult:
    """Solve a prepared instance: how to solve it, given what it is.

    Parameters
    ----------
    instance
        From :func:`electsec.prepare` (it is not modified, and may be solved many times).
    split, objective, coverage, seed, time_limit_s, executor
        As for :func:`electsec.solve_assignment`; ``time_limit_s`` bounds this call.
    baseline, max_changes, max_cost_increase_pct
        Stable re-planning, as for :func:`electsec.solve_assignment`: the plan changing
        the fewest centres relative to ``baseline`` (a plan of this or an edited
        instance, e.g. before a garrison was lost), then least cost.

    Returns
    -------
    AssignmentResult
        The same plan ``solve_assignment`` gives for the same inputs and options.

    Raises
    ------
    InputError
        Bad options, or ``instance`` is not an :class:`~electsec.problem.Instance`.
    InfeasibleError
        Demand cannot be met (``.diagnosis``, ``.partial``).
    SolverError
        No plan found within the limits.

    Examples
    --------
    >>> import electsec as es
    >>> instance = es.prepare("data/sample/tiny_centers.geojson",
    ...                       "data/sample/tiny_garrisons.geojson")
    >>> split = es.solve(instance, split=True)
    >>> whole = es.solve(instance)
    >>> split.objective <= whole.objective
    True

    Lose a garrison and re-plan changing as few centres as possible:

    >>> lost = es.Scenario("TG01 lost", garrisons_lost=["TG01"]).apply(instance)
    >>> stable = es.solve(lost, split=True, coverage="max", baseline=split)
    >>> fresh = es.solve(lost, split=True, coverage="max")
    >>> stable.replan["centers_changed"] <= len(es.diff_plans(split, fresh).centers)
    True
    """
    budget = Budget(time_limit_s)
    issues = _solve_issues(split, objective, coverage, seed, time_limit_s)
    issues += replan_issues(baseline, max_changes, max_cost_increase_pct)
    if not isinstance(instance, Instance):
        message = f"must be an Instance from es.prepare(), got {type(instance).__name__}"
        issues.insert(0, Issue("arguments", "instance", (), message))
    if issues:
        raise InputError(issues)
    stable = _baseline(instance, baseline, max_changes, max_cost_increase_pct)
    settings = Settings(split, objective, coverage, seed, stable)
    return _solve(instance, settings, budget, executor)


def _baseline(
    instance: Instance,
    plan: AssignmentResult | None,
    max_changes: int | None,
    max_cost_increase_pct: float | None,
) -> Baseline | None:
    if plan is None:
        return None
    if instance.backup is not None:
        message = "stable re-planning does not combine with backup= yet; drop one of them"
        raise InputError([Issue("arguments", "baseline", (), message)])
    return baseline_arrays(
        plan, instance, max_changes=max_changes, max_cost_increase_pct=max_cost_increase_pct
    )


def _solve(
    instance: Instance, settings: Settings, budget: Budget, executor: Executor | None
) -> AssignmentResult:
    outcome = solve_instance(instance, settings, budget, executor)
    return label(outcome, instance, settings, budget)


def _solve_issues(
    split: object, objective: object, coverage: object, seed: object, time_limit_s: object
) -> list[Issue]:
    """Problems with the options of ``solve`` (how to solve, not what)."""
    issues = []
    if not isinstance(split, bool):
        issues.append(Issue("arguments", "split", (), f"must be True or False, got {split!r}"))
    if objective not in ("total", "max"):
        message = f"must be 'total' or 'max', got {objective!r}"
        issues.append(Issue("arguments", "objective", (), message))
    if time_limit_s is not None and not is_number(time_limit_s, strict=True):
        message = f"must be a positive number of seconds or None, got {time_limit_s!r}"
        issues.append(Issue("arguments", "time_limit_s", (), message))
    if coverage not in ("full", "max"):
        message = f"must be 'full' or 'max', got {coverage!r}"
        issues.append(Issue("arguments", "coverage", (), message))
    if not (is_number(seed, integer=True) and seed < 2**31):
        message = f"must be an integer in [0, 2**31), got {seed!r}"
        issues.append(Issue("arguments", "seed", (), message))
    return issues
