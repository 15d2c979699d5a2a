"""``solve_assignment``: validated layers in, a verified plan (or a diagnosis) out."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from electsec.config import Backup, SolverOptions
from electsec.costs import ArcOracle, CostMatrix, GroupedOracle, build_oracle, limit_issues
from electsec.errors import InfeasibleError, InputError, Issue, SolverError
from electsec.forces import Forces, Jurisdiction, jurisdiction_mapping, read_forces
from electsec.io import Source, read_garrisons, read_polling_centers
from electsec.problem import Arcs, Problem, rank_in_runs
from electsec.result import AssignmentResult
from electsec.solvers.backup import Plan, assign_backups, choose_jointly, needs_backup
from electsec.solvers.bottleneck import bottleneck, smallest_uniform_limit
from electsec.solvers.decompose import solve_regions
from electsec.solvers.diagnose import Diagnosis, allowed_arcs, diagnose
from electsec.solvers.flow import FlowSolution, solve_split, solve_transport
from electsec.solvers.single import SingleSolution
from electsec.validation import response_limits

__all__ = ["solve_assignment"]

logger = logging.getLogger(__name__)

CostLookup = Callable[[np.ndarray, np.ndarray], np.ndarray]


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
        Finding the first covering plan is never given up for time.
    seed
        Seed for the search; the same inputs and seed give the same plan.
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
    executor
        A :class:`concurrent.futures.Executor` (a process pool, or a Dask client's
        ``get_executor()``) that runs the single-sourcing search of independent regions
        in parallel. Regions are the connected parts of the allowed pairs (agencies never
        share a garrison; finite response limits cut the country apart). The plan does not
        depend on it.
    options
        Solver tuning (:class:`electsec.config.SolverOptions`).

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
    started = time.perf_counter()
    centers, garrisons = _validated(
        centers,
        garrisons,
        _argument_issues(
            split=split,
            objective=objective,
            time_limit_s=time_limit_s,
            seed=seed,
            coverage=coverage,
        )
        + limit_issues(k=k, max_distance_m=max_distance_m, per_center=True)
        + _time_limit_issues(costs, max_distance_m, max_time_s),
    )
    options = options or SolverOptions()
    forces = read_forces(centers, garrisons, jurisdiction)
    backup = _backup_option(backup, costs)
    if max_time_s is not None:
        limits = response_limits(centers, max_time_s, name="max_time_s")
    else:
        limits = response_limits(centers, max_distance_m)
    if limits is not None:
        limits = limits[forces.row_center]
    problem, lookup, unit = _build_problem(centers, garrisons, forces, costs, limits, k, options)
    logger.debug("%d candidate arcs in %.2f s", len(problem.arcs), time.perf_counter() - started)
    priority = _tier_priority(centers)
    problem = dataclasses.replace(
        problem, priority=None if priority is None else priority[forces.row_center]
    )
    params: dict[str, Any] = {
        "split": split,
        "objective": objective,
        "max_distance_m": max_distance_m,
        "max_time_s": max_time_s,
        "k": k,
        "time_limit_s": time_limit_s,
        "seed": seed,
        "coverage": coverage,
        "costs": "given" if costs is not None else "geodesic",
    }
    if backup is not None:
        params["backup"] = dataclasses.asdict(backup)
    if jurisdiction is not None:
        params["jurisdiction"] = {
            a: sorted(places) for a, places in jurisdiction_mapping(jurisdiction).items()
        }
    context = _Context(centers, garrisons, forces, problem, lookup, unit, split, params, started)
    if backup is not None:
        context.backups = _BackupStage(backup, centers, garrisons, forces, costs, seed)
    budget = _remaining(time_limit_s, started, problem.n_centers)
    deadline = None if budget is None else time.perf_counter() + budget
    lp = solve_split(problem, options, deadline=deadline, widen=not split or backup is not None)
    context.use(problem, lp)
    if lp.shortfall:
        partial, why = _short(context, lp, costs, k)
        if why is None:  # coverage="max": the partial plan is the answer
            return partial
        raise InfeasibleError(why, partial=partial)
    total_problem, total_lp = problem, lp
    if objective == "max":
        problem, lp = _fastest_worst_case(problem, lp, options, params)
        context.use(problem, lp)
    if split:
        return _finish(context, context.from_flow(lp))

    def search(problem: Problem, lp: FlowSolution) -> SingleSolution:
        budget = _remaining(time_limit_s, started, problem.n_centers)
        return solve_regions(
            problem, lp, options=options, time_limit_s=budget, seed=seed, executor=executor
        )

    single = search(problem, lp)
    if objective == "max" and ((single.assign < 0) & (problem.demand > 0)).any():
        # Whole teams do not pack within the worst-case limit: fall back to the total plan.
        problem = total_problem
        context.use(problem, total_lp)
        single = search(problem, total_lp)
        single = SingleSolution(
            single.assign, single.cost, single.objective, single.bound, optimal=False
        )
    unplaced = np.flatnonzero((single.assign < 0) & (problem.demand > 0))
    if len(unplaced):
        ids = [str(i) for i in dict.fromkeys(context.center_ids(unplaced))]
        msg = (
            f"{len(ids)} centre(s) could not be served whole by one garrison within the "
            f"limits, though a split plan exists (use split=True, or raise capacity "
            f"near them): {', '.join(ids[:10])}"
        )
        raise SolverError(msg)
    return _finish(context, context.from_single(single))


def _short(
    context: _Context, lp: FlowSolution, costs: CostMatrix | None, k: int | None
) -> tuple[AssignmentResult, dict[str, Any] | None]:
    """Return the plan covering the most teams and, unless coverage="max", why not all."""
    problem = context.problem
    found = diagnose(problem, lp)
    context.unreachable = found.unreachable
    partial = context.from_flow(lp) if context.split else context.whole_only(lp)
    if context.params["coverage"] == "max":
        return partial, None
    diagnosis = context.diagnosis(found)
    if context.unit == "m":
        fix = smallest_uniform_limit(problem)
        # Costs are whole metres inside; every pair rounding to ``fix`` is within +0.5 m.
        diagnosis["smallest_feasible_max_distance_m"] = None if fix is None else fix + 0.5
    elif costs is not None:
        unlimited = _problem_from_costs(
            context.centers, context.garrisons, context.forces, costs, None, k
        )[0]
        found_limit = bottleneck(unlimited)
        diagnosis["smallest_feasible_max_time_s"] = (
            None if found_limit is None else found_limit[0] + 0.5
        )
    return partial, diagnosis


def _finish(context: _Context, plan: AssignmentResult) -> AssignmentResult:
    """Raise when centres were left without a backup and full coverage was asked for."""
    full = context.params["coverage"] == "full"
    if context.backups is None or not len(context.backup_missing) or not full:
        return plan
    raise InfeasibleError(context.backups.diagnosis(context), partial=plan)


def _fastest_worst_case(
    problem: Problem, lp: FlowSolution, options: SolverOptions, params: dict[str, Any]
) -> tuple[Problem, FlowSolution]:
    """Restrict to the arcs within the exact bottleneck limit and re-solve the total."""
    upper = int(lp.arcs.cost[lp.flow > 0].max(initial=0))
    found = bottleneck(problem, upper=upper)
    assert found is not None  # noqa: S101 - the plan ``lp`` covers everything within ``upper``
    limit, arcs = found
    params["worst_case_limit"] = limit
    restricted = Problem(problem.demand, problem.capacity, arcs)
    return restricted, solve_split(restricted, options)


#: Cover order when forces are short: a team of a higher tier is covered first.
TIER_PRIORITY = {"high": 3, "medium": 2, "low": 1}


def _remaining(time_limit_s: float | None, started: float, rows: int) -> float | None:
    """Return what is left of the caller's budget for the solvers."""
    if time_limit_s is None:
        return None
    # Keep a little of the budget for turning the plan (``rows`` demand rows) into tables.
    margin = min(0.5, 0.03 * time_limit_s) + TABLE_S_PER_ROW * rows
    return max(0.01, time_limit_s - margin - (time.perf_counter() - started))


#: Budget kept per demand row for building the result tables (a million rows: 3 s).
TABLE_S_PER_ROW = 3e-6


def _tier_priority(centers: gpd.GeoDataFrame) -> np.ndarray | None:
    if "tier" not in centers.columns:
        return None
    tiers = centers["tier"].astype(str).str.lower()
    priority: np.ndarray = tiers.map(TIER_PRIORITY).fillna(1).to_numpy(np.int64)
    return priority


def _time_limit_issues(
    costs: CostMatrix | None, max_distance_m: object, max_time_s: object
) -> list[Issue]:
    """Check that a time limit comes with travel times and a distance limit with metres."""
    unit = costs.unit if isinstance(costs, CostMatrix) else "m"
    issues = []
    if max_time_s is not None and max_distance_m is not None:
        issues.append(
            Issue("arguments", "max_time_s", (), "give max_time_s or max_distance_m, not both")
        )
    elif max_time_s is not None and unit != "s":
        issues.append(
            Issue(
                "arguments",
                "max_time_s",
                (),
                "needs travel-time costs: pass "
                "costs=distance_matrix(..., metric='travel_time', network=...)",
            )
        )
    elif max_distance_m is not None and unit != "m":
        issues.append(
            Issue(
                "arguments",
                "max_distance_m",
                (),
                "the costs are travel times (s); use max_time_s instead",
            )
        )
    return issues


def _validated(
    centers: Source, garrisons: Source, issues: list[Issue]
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Read both layers, raising one InputError with every problem (arguments too)."""
    layers = []
    for read, source in ((read_polling_centers, centers), (read_garrisons, garrisons)):
        try:
            layers.append(read(source))
        except InputError as exc:
            issues = issues + list(exc.issues)
    if issues:
        raise InputError(issues)
    return layers[0], layers[1]


def _argument_issues(
    *, split: Any, objective: Any, time_limit_s: Any, seed: Any, coverage: Any = "full"
) -> list[Issue]:
    issues = []
    if not isinstance(split, bool):
        issues.append(Issue("arguments", "split", (), f"must be True or False, got {split!r}"))
    if objective not in ("total", "max"):
        issues.append(
            Issue("arguments", "objective", (), f"must be 'total' or 'max', got {objective!r}")
        )
    if time_limit_s is not None and not (
        isinstance(time_limit_s, int | float)
        and not isinstance(time_limit_s, bool)
        and math.isfinite(time_limit_s)
        and time_limit_s > 0
    ):
        issues.append(
            Issue(
                "arguments",
                "time_limit_s",
                (),
                f"must be a positive number of seconds or None, got {time_limit_s!r}",
            )
        )
    if coverage not in ("full", "max"):
        issues.append(
            Issue("arguments", "coverage", (), f"must be 'full' or 'max', got {coverage!r}")
        )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        issues.append(Issue("arguments", "seed", (), f"must be an integer, got {seed!r}"))
    return issues


def _build_problem(
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    forces: Forces,
    costs: CostMatrix | None,
    limits: np.ndarray | None,
    k: int | None,
    options: SolverOptions,
) -> tuple[Problem, CostLookup, str]:
    demand, capacity = forces.demand, forces.capacity
    if costs is not None:
        return _problem_from_costs(centers, garrisons, forces, costs, limits, k)
    oracle = _oracle(centers, garrisons, forces, capacity > 0)
    everyone = oracle
    if k is not None:
        # k counts every garrison (of the row's agency), as distance_matrix(k=...) does.
        everyone = _oracle(centers, garrisons, forces, np.ones(len(capacity), dtype=bool))
        arcs = Arcs.from_arrays(*everyone.nearest(k, max_cost=limits))
        problem = Problem(demand, capacity, arcs)
    else:
        k_first = options.first_candidates(len(demand))
        r, c, cost, reach = oracle.candidates(k_first, max_cost=limits)
        first = Arcs.from_arrays(r, c, cost)
        problem = Problem(demand, capacity, first, oracle=oracle, max_cost=limits, reach=reach)
    return problem, everyone.pair_cost, "m"


def _oracle(
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    forces: Forces,
    garrison_mask: np.ndarray,
) -> ArcOracle | GroupedOracle:
    """Build the geodesic query engine over demand rows (one tree per agency)."""
    if forces.identity:
        return build_oracle(centers, garrisons, garrison_mask=garrison_mask)
    base = build_oracle(centers, garrisons)
    groups = [
        (
            rows,
            ArcOracle(
                base.center_xy[forces.row_center[rows]],
                base.garrison_xy[cols],
                garrison_index=cols,
            ),
        )
        for rows, cols in forces.groups(garrison_mask)
    ]
    return GroupedOracle(len(forces.demand), groups)


def _problem_from_costs(
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    forces: Forces,
    costs: CostMatrix,
    limits: np.ndarray | None,
    k: int | None,
) -> tuple[Problem, CostLookup, str]:
    i, g, value = _matrix_arcs(centers, garrisons, costs)
    r, keep = _rows_of_arcs(forces, i, g)
    r, g, value = r[keep], g[keep], value[keep]
    if limits is not None:
        within = value <= limits[r]
        r, g, value = r[within], g[within], value[within]
    arcs = Arcs.from_arrays(r, g, value)
    if k is not None:
        arcs = _k_cheapest(arcs, k)
    lookup = _table_lookup(r, g, value, len(garrisons))
    return Problem(forces.demand, forces.capacity, arcs), lookup, costs.unit


def _table_lookup(r: np.ndarray, c: np.ndarray, cost: np.ndarray, m: int) -> CostLookup:
    """Exact cost of listed (row, garrison) pairs, looked up by key."""
    table = pd.Series(cost, index=r.astype(np.int64) * m + c)

    def lookup(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        found: np.ndarray = table.loc[rows.astype(np.int64) * m + cols].to_numpy(float)
        return found

    return lookup


def _matrix_arcs(
    centers: gpd.GeoDataFrame, garrisons: gpd.GeoDataFrame, costs: CostMatrix
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the (centre, garrison, cost) entries of a cost matrix, checked and aligned."""
    if not isinstance(costs, CostMatrix):
        raise InputError(
            [
                Issue(
                    "costs",
                    None,
                    (),
                    f"must be a CostMatrix from distance_matrix(), got {type(costs).__name__}",
                )
            ]
        )
    row = _align(costs.center_ids, centers.index, "centers")
    col = _align(costs.garrison_ids, garrisons.index, "garrisons")
    coo = costs.matrix.tocoo()
    r, c, value = row[coo.row], col[coo.col], np.asarray(coo.data, dtype=float)
    bad = ~np.isfinite(value) | (value < 0)
    if bad.any():
        ids = tuple(dict.fromkeys(str(centers.index[i]) for i in r[bad]))
        raise InputError(
            [
                Issue(
                    "costs",
                    None,
                    ids,
                    "costs must be finite and ≥ 0; leave "
                    "unreachable pairs out of the matrix instead",
                )
            ]
        )
    return r.astype(np.int64), c.astype(np.int64), value


def _rows_of_arcs(
    forces: Forces, center: np.ndarray, garrison: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Map centre arcs to demand-row arcs: the row of the garrison's agency, if allowed."""
    if forces.identity:
        return center, np.ones(len(center), dtype=bool)
    codes = {a: j for j, a in enumerate(forces.agencies)}
    n_a = max(len(codes), 1)
    row_code = (
        np.zeros(len(forces.row_center), np.int64)
        if forces.row_agency is None
        else np.array([codes[a] for a in forces.row_agency], dtype=np.int64)
    )
    g_code = (
        np.zeros(len(garrison), np.int64)
        if forces.garrison_agency is None
        else np.array([codes[a] for a in forces.garrison_agency], dtype=np.int64)[garrison]
    )
    row_key = forces.row_center * n_a + row_code  # sorted: rows are by centre, then agency
    key = center * n_a + g_code
    pos = np.minimum(np.searchsorted(row_key, key), max(len(row_key) - 1, 0))
    keep = (
        (row_key[pos] == key) & forces.allowed[pos]
        if len(row_key)
        else np.zeros(len(key), dtype=bool)
    )
    return pos, keep


def _align(labels: pd.Index, ids: pd.Index, table: str) -> np.ndarray:
    labels = pd.Index(labels.astype(str))
    missing = ids.difference(labels)
    extra = labels.difference(ids)
    if len(missing) or len(extra):
        issues = []
        if len(missing):
            issues.append(
                Issue(
                    "costs",
                    None,
                    tuple(missing),
                    f"{table} missing from the cost matrix; rebuild it with distance_matrix()",
                )
            )
        if len(extra):
            issues.append(
                Issue(
                    "costs",
                    None,
                    tuple(extra),
                    f"ids in the cost matrix are not among the {table}",
                )
            )
        raise InputError(issues)
    return ids.get_indexer(labels)


def _k_cheapest(arcs: Arcs, k: int) -> Arcs:
    order = np.lexsort((arcs.garrison, arcs.cost, arcs.center))
    rank = rank_in_runs(arcs.center[order])
    pick = order[rank < k]
    return Arcs.from_arrays(arcs.center[pick], arcs.garrison[pick], arcs.cost[pick])


class _Context:
    """What is needed to turn solver arrays (over demand rows) back into labelled results."""

    def __init__(
        self,
        centers: gpd.GeoDataFrame,
        garrisons: gpd.GeoDataFrame,
        forces: Forces,
        problem: Problem,
        lookup: CostLookup,
        unit: str,
        split: bool,  # noqa: FBT001
        params: dict[str, Any],
        started: float,
    ) -> None:
        self.centers = centers
        self.garrisons = garrisons
        self.forces = forces
        self.problem = problem
        self.lookup = lookup
        self.unit = unit
        self.split = split
        self.params = params
        self.started = started
        self.unreachable = np.zeros(0, dtype=np.int64)
        self.split_only = np.zeros(0, dtype=np.int64)
        self.backups: _BackupStage | None = None
        self.pool: Arcs = problem.arcs
        self.backup_missing = np.zeros(0, dtype=np.int64)
        self.backup_need = np.zeros(len(centers), dtype=bool)

    def use(self, problem: Problem, lp: FlowSolution) -> None:
        """Build results for ``problem``; its LP's arcs are the pool backups choose from."""
        self.problem = problem
        self.pool = lp.arcs

    def center_ids(self, rows: np.ndarray) -> np.ndarray:
        """Centre id of each demand row."""
        ids: np.ndarray = self.centers.index[self.forces.row_center[rows]].to_numpy()
        return ids

    def from_flow(self, lp: FlowSolution) -> AssignmentResult:
        """Return the split plan: optimal, or feasible with a proven bound if pricing stopped."""
        used = lp.flow > 0
        rows, cols, teams = lp.arcs.center[used], lp.arcs.garrison[used], lp.flow[used]
        objective = float(teams @ lp.arcs.cost[used])
        return self._result(
            rows,
            cols,
            teams,
            uncovered=lp.uncovered,
            status="optimal" if lp.optimal else "feasible",
            objective=objective,
            bound=float(lp.lower_bound),
        )

    def provenance(self) -> dict[str, Any]:
        """Versions, the input hash and timings, for services that audit plans."""
        return {
            "electsec_version": _version("electsec"),
            "ortools_version": _version("ortools"),
            "input_hash": input_hash(self.centers, self.garrisons),
            "timings_s": {"total": round(time.perf_counter() - self.started, 6)},
        }

    def whole_only(self, lp: FlowSolution) -> AssignmentResult:
        """Single-sourced partial plan: rows the flow serves whole from one garrison."""
        demand = self.problem.demand
        whole = (lp.flow > 0) & (lp.flow == demand[lp.arcs.center])
        rows, cols = lp.arcs.center[whole], lp.arcs.garrison[whole]
        uncovered = demand.copy()
        uncovered[rows] = 0
        uncovered[demand == 0] = 0
        self.split_only = np.flatnonzero((lp.uncovered == 0) & (uncovered > 0))
        objective = float(demand[rows] @ lp.arcs.cost[whole])
        return self._result(
            rows,
            cols,
            demand[rows],
            uncovered=uncovered,
            status="feasible",
            objective=objective,
            bound=objective,
        )

    def from_single(self, single: SingleSolution) -> AssignmentResult:
        rows = np.flatnonzero(single.assign >= 0)
        teams = self.problem.demand[rows]
        uncovered = np.zeros(self.problem.n_centers, dtype=np.int64)
        status = "optimal" if single.optimal else "feasible"
        return self._result(
            rows,
            single.assign[rows],
            teams,
            uncovered=uncovered,
            status=status,
            objective=float(single.objective),
            bound=float(single.bound),
        )

    def diagnosis(self, diag: Diagnosis) -> dict[str, Any]:
        demand = int(self.problem.demand.sum())
        capacity = int(self.problem.capacity.sum())
        if demand > capacity:
            reason = f"total demand {demand} exceeds total capacity {capacity}"
        else:
            reason = (
                f"{diag.shortfall} team(s) cannot reach their centres within the "
                f"limits ({len(diag.regions)} blocking region(s))"
            )
        return {
            "total_demand": demand,
            "total_capacity": capacity,
            "shortfall": diag.shortfall,
            "unreachable_centers": list(dict.fromkeys(self.center_ids(diag.unreachable))),
            "blocking_regions": self.regions(diag),
            "reason": reason,
        }

    def regions(self, diag: Diagnosis, *, rows_are_centers: bool = False) -> list[dict[str, Any]]:
        """Blocking regions with ids, governorates and (with agencies) the agencies."""
        governorate = (
            self.centers["governorate"].astype(str).to_numpy()
            if "governorate" in self.centers.columns
            else None
        )
        out = []
        for r in diag.regions:
            centers = r.centers if rows_are_centers else self.forces.row_center[r.centers]
            region: dict[str, Any] = {
                "centers": list(dict.fromkeys(map(str, self.centers.index[centers]))),
                "garrisons": [str(g) for g in self.garrisons.index[r.garrisons]],
                "demand": r.demand,
                "capacity": r.capacity,
                "deficit": r.deficit,
                "extra_teams_needed": r.deficit,
                "governorates": sorted(set(governorate[centers]))
                if governorate is not None
                else [],
            }
            if self.forces.row_agency is not None and not rows_are_centers:
                region["agencies"] = sorted(set(self.forces.row_agency[r.centers]))
            out.append(region)
        return out

    def _result(
        self,
        rows: np.ndarray,
        cols: np.ndarray,
        teams: np.ndarray,
        *,
        uncovered: np.ndarray,
        status: str,
        objective: float,
        bound: float,
    ) -> AssignmentResult:
        backups = None
        if self.backups is not None:
            plan = self.backups.attach(self, Plan(rows, cols, teams, np.zeros(0, np.int64)))
            if not np.array_equal(plan.row, rows) or not np.array_equal(plan.garrison, cols):
                rows, cols, teams = plan.row, plan.garrison, plan.teams
                new = float(teams @ np.rint(self.lookup(rows, cols)))
                status = status if new == objective else "feasible"
                objective = new
            backups = self.backups.table(self, plan.backup)
            self.backup_need = needs_backup(plan, self.forces.row_center, len(self.centers))
            self.backup_missing = np.flatnonzero(self.backup_need & (plan.backup < 0))
        cost_col = "distance_m" if self.unit == "m" else "time_s"
        table = {
            "center_id": self.center_ids(np.asarray(rows)),
            "garrison_id": self.garrisons.index[cols].to_numpy(),
            "teams": np.asarray(teams, dtype=np.int64),
            cost_col: self.lookup(np.asarray(rows), np.asarray(cols)),
        }
        if self.forces.row_agency is not None:
            table["agency"] = self.forces.row_agency[rows]
        assignments = pd.DataFrame(table).sort_values(
            ["center_id", "garrison_id"], ignore_index=True
        )
        gap = (objective - bound) / objective if objective > 0 else 0.0
        return AssignmentResult(
            status=status,
            objective=objective,
            bound=bound,
            gap=max(gap, 0.0),
            assignments=assignments,
            garrison_load=self._load(cols, teams, backups),
            uncovered=self._uncovered(uncovered),
            unit=self.unit,
            split=self.split,
            solve_time_s=time.perf_counter() - self.started,
            parameters=self.params,
            provenance=self.provenance(),
            center_points=_points(self.centers),
            garrison_points=_points(self.garrisons),
            backups=backups,
        )

    def _load(
        self, cols: np.ndarray, teams: np.ndarray, backups: pd.DataFrame | None
    ) -> pd.DataFrame:
        used = np.bincount(cols, weights=teams, minlength=self.problem.n_garrisons)
        capacity = self.garrisons["capacity"].to_numpy(np.int64)
        available = self.forces.capacity
        load = pd.DataFrame(
            {
                "garrison_id": self.garrisons.index.to_numpy(),
                "capacity": capacity,
                "used": used.astype(np.int64),
                "utilization": np.divide(
                    used, available, out=np.zeros(len(available)), where=available > 0
                ),
            }
        )
        if self.forces.garrison_agency is not None:
            load.insert(1, "agency", self.forces.garrison_agency)
        if self.forces.reserve.any() or backups is not None:
            load["reserve"] = self.forces.reserve
        if backups is not None:
            backed = backups["garrison_id"].dropna().value_counts()
            load["backup_centers"] = (
                load["garrison_id"].map(backed).fillna(0).astype(np.int64).to_numpy()
            )
            assert self.backups is not None  # noqa: S101
            load["backup_capacity"] = self.backups.capacity
        return load

    def _uncovered(self, uncovered: np.ndarray) -> pd.DataFrame:
        short = np.flatnonzero(uncovered > 0)
        reason = np.where(
            np.isin(short, self.unreachable),
            "no garrison within the limits",
            "not enough teams within reach",
        )
        reason = np.where(
            np.isin(short, self.split_only),
            "the split plan covers it, but not whole from one garrison",
            reason,
        )
        table = {
            "center_id": self.center_ids(short),
            "teams": uncovered[short].astype(np.int64),
            "reason": reason,
        }
        if self.forces.row_agency is not None:
            agency = self.forces.row_agency[short]
            barred = ~self.forces.allowed[short]
            table["reason"] = np.where(
                barred,
                [f"{a} may not operate in this governorate (jurisdiction)" for a in agency],
                reason,
            )
            table["agency"] = agency
        return pd.DataFrame(table)


class _BackupStage:
    """Backups for a finished primary plan (see :mod:`electsec.solvers.backup`)."""

    def __init__(
        self,
        option: Backup,
        centers: gpd.GeoDataFrame,
        garrisons: gpd.GeoDataFrame,
        forces: Forces,
        costs: CostMatrix | None,
        seed: int,
    ) -> None:
        self.seed = seed
        self.capacity = forces.reserve * option.centers_per_team
        limit = option.max_distance_m if option.max_distance_m is not None else option.max_time_s
        self.limit = math.inf if limit is None else float(limit)
        if costs is None:
            oracle = build_oracle(centers, garrisons, garrison_mask=self.capacity > 0)
            r, c, cost = oracle.within(self.limit)
            self.lookup: CostLookup = oracle.pair_cost
        else:
            r, c, cost = _matrix_arcs(centers, garrisons, costs)
            keep = (cost <= self.limit) & (self.capacity[c] > 0)
            r, c, cost = r[keep], c[keep], cost[keep]
            self.lookup = _table_lookup(r, c, cost, len(garrisons))
        self.arcs = Arcs.from_arrays(r, c, cost)

    def attach(self, context: _Context, plan: Plan) -> Plan:
        """Give the plan its backups, re-choosing primaries nearby only where needed."""
        row_center = context.forces.row_center
        need = needs_backup(plan, row_center, len(context.centers))
        primary = (row_center[plan.row], plan.garrison)
        backup = assign_backups(need, primary, self.arcs, self.capacity)
        plan = Plan(plan.row, plan.garrison, plan.teams, backup)
        missing = int((need & (backup < 0)).sum())
        if not missing:
            return plan
        # Without the "not a primary" rule: no plan can leave fewer centres without backup.
        relaxed = assign_backups(need, (primary[0][:0], primary[1][:0]), self.arcs, self.capacity)
        least = int((need & (relaxed < 0)).sum())
        if missing == least:
            return plan
        rows, cols = plan.row, plan.garrison
        pool = context.pool.union(Arcs.from_arrays(rows, cols, context.lookup(rows, cols)))
        if context.problem.n_centers * context.problem.n_garrisons <= _EXACT_JOINT_PAIRS:
            # Small enough to offer every allowed pair: "no joint plan" is then proven.
            every = np.arange(context.problem.n_centers)
            pool = pool.union(allowed_arcs(context.problem, every))
        problem = Problem(context.problem.demand, context.problem.capacity, pool)
        joint = choose_jointly(
            problem,
            plan,
            row_center,
            self.arcs,
            self.capacity,
            split=context.split,
            least_missing=least,
            seed=self.seed,
        )
        if context.split:
            joint = self._polish(joint, problem, row_center, need)
        return _sorted(joint)

    def _polish(
        self, plan: Plan, problem: Problem, row_center: np.ndarray, need: np.ndarray
    ) -> Plan:
        """Split plans: best primaries given the backups, then best backups given those.

        Both steps are exact min-cost flows and the plan before each is feasible for it,
        so neither can make the plan worse.
        """
        pool = problem.arcs
        allowed = plan.backup[row_center[pool.center]] != pool.garrison
        arcs = pool.subset(allowed)
        n = problem.n_centers
        covered = np.bincount(plan.row, weights=plan.teams, minlength=n).astype(np.int64)
        sol = solve_transport(Problem(covered, problem.capacity, arcs), arcs, penalty=None)
        on = sol.flow > 0
        primary = (row_center[arcs.center[on]], arcs.garrison[on])
        backup = assign_backups(need, primary, self.arcs, self.capacity)
        if ((backup < 0) & need & (plan.backup >= 0)).any():  # pragma: no cover - cannot happen
            return plan
        return Plan(
            arcs.center[on].astype(np.int64),
            arcs.garrison[on].astype(np.int64),
            sol.flow[on],
            backup,
        )

    def table(self, context: _Context, backup: np.ndarray) -> pd.DataFrame:
        """One row per centre with a backup: its garrison and the cost to it."""
        cost_col = "distance_m" if context.unit == "m" else "time_s"
        have = np.flatnonzero(backup >= 0)
        out = pd.DataFrame(
            {
                "center_id": context.centers.index[have].to_numpy(),
                "garrison_id": context.garrisons.index[backup[have]].to_numpy(),
                cost_col: self.lookup(have, backup[have]),
            }
        )
        return out.sort_values("center_id", ignore_index=True)

    def diagnosis(self, context: _Context) -> dict[str, Any]:
        """Why some centres have no backup: a Hall check on the reserves (verifiable)."""
        missing = context.backup_missing
        demand = context.backup_need.astype(np.int64)
        problem = Problem(demand, self.capacity, self.arcs)
        penalty = (int(self.arcs.cost.max(initial=0)) + 1) * (len(demand) + 2)
        found = diagnose(problem, solve_transport(problem, self.arcs, penalty=penalty))
        ids = context.centers.index
        reason = f"{len(missing)} centre(s) get no backup"
        if found.shortfall:
            reason += (
                f": no plan can back up {found.shortfall} of them with the reserves within "
                f"{self.limit:g} {context.unit} ({len(found.regions)} blocking region(s))"
            )
        if len(missing) > found.shortfall:
            reason += (
                f"{';' if found.shortfall else ':'} for {len(missing) - found.shortfall}, "
                "the only reserves in reach sit at garrisons that serve them, and the joint "
                "search found no other plan"
            )
        return {
            "kind": "backup",
            "total_demand": int(demand.sum()),
            "total_capacity": int(self.capacity.sum()),
            "shortfall": len(missing),
            "unreachable_centers": [str(ids[i]) for i in found.unreachable],
            "blocking_regions": context.regions(found, rows_are_centers=True),
            "centers_without_backup": [str(ids[i]) for i in missing],
            "reason": reason,
        }


#: Up to this many (row, garrison) pairs, joint backup choice sees every allowed pair.
_EXACT_JOINT_PAIRS = 200_000


def _sorted(plan: Plan) -> Plan:
    order = np.lexsort((plan.garrison, plan.row))
    return Plan(plan.row[order], plan.garrison[order], plan.teams[order], plan.backup)


def _backup_option(option: Any, costs: CostMatrix | None) -> Backup | None:
    """Validate the ``backup`` argument (a :class:`Backup` or a mapping of its fields)."""
    if option is None:
        return None
    if isinstance(option, Mapping):
        try:
            option = Backup(**option)
        except TypeError as exc:
            raise InputError([Issue("arguments", "backup", (), f"unknown field: {exc}")]) from exc
    if not isinstance(option, Backup):
        raise InputError(
            [Issue("arguments", "backup", (), f"must be a Backup or a dict, got {option!r}")]
        )
    unit = costs.unit if isinstance(costs, CostMatrix) else "m"
    issues = []
    per_team = option.centers_per_team
    if isinstance(per_team, bool) or not isinstance(per_team, int | np.integer) or per_team < 1:
        issues.append(
            Issue(
                "arguments",
                "backup",
                (),
                f"centers_per_team must be an integer ≥ 1, got {per_team!r}",
            )
        )
    for name, value in (
        ("max_distance_m", option.max_distance_m),
        ("max_time_s", option.max_time_s),
    ):
        if value is not None and not (
            isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
        ):
            issues.append(
                Issue("arguments", "backup", (), f"{name} must be a number ≥ 0, got {value!r}")
            )
    wanted = "max_distance_m" if unit == "m" else "max_time_s"
    other = "max_time_s" if unit == "m" else "max_distance_m"
    if getattr(option, other) is not None:
        issues.append(
            Issue(
                "arguments", "backup", (), f"the costs are in {unit!r}: give {wanted}, not {other}"
            )
        )
    elif costs is None and option.max_distance_m is None:
        issues.append(
            Issue(
                "arguments",
                "backup",
                (),
                "needs a backup response limit: Backup(max_distance_m=...)",
            )
        )
    if issues:
        raise InputError(issues)
    return option


def input_hash(centers: gpd.GeoDataFrame, garrisons: gpd.GeoDataFrame) -> str:
    """SHA-256 of the validated inputs: ids, team counts and lon/lat (1e-7 degrees)."""
    digest = hashlib.sha256()
    for layer, column in ((centers, "demand"), (garrisons, "capacity")):
        points = _points(layer)
        digest.update("\x1f".join(layer.index.astype(str)).encode())
        digest.update(layer[column].to_numpy(np.int64).tobytes())
        xy = np.column_stack([points.x.to_numpy(), points.y.to_numpy()])
        digest.update(np.rint(xy * 1e7).astype(np.int64).tobytes())
    return "sha256:" + digest.hexdigest()


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _points(layer: gpd.GeoDataFrame) -> gpd.GeoSeries:
    geom = layer.geometry
    return geom.to_crs("EPSG:4326") if not geom.crs.equals("EPSG:4326") else geom.copy()
