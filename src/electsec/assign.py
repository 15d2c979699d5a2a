"""``solve_assignment``: validated layers in, a verified plan (or a diagnosis) out."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from electsec.config import SolverOptions
from electsec.costs import CostMatrix, build_oracle, limit_issues
from electsec.errors import InfeasibleError, InputError, Issue, SolverError
from electsec.io import Source, read_garrisons, read_polling_centers
from electsec.problem import Arcs, Problem
from electsec.result import AssignmentResult
from electsec.solvers.bottleneck import bottleneck, smallest_uniform_limit
from electsec.solvers.diagnose import Diagnosis, diagnose
from electsec.solvers.flow import FlowSolution, solve_split
from electsec.solvers.single import SingleSolution, solve_single
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
        (None: the deterministic budget in ``options``). Only the single-sourcing search
        is cut short by it: split plans are exact, and finding the first whole-team plan
        is never given up for time.
    seed
        Seed for the search; the same inputs and seed give the same plan.
    coverage
        ``"full"``: every centre must be covered, else :class:`InfeasibleError`.
        ``"max"``: return the plan covering the most teams instead — high-tier centres
        first, then medium, then low (by the ``tier`` column), then least cost — with
        ``.uncovered`` listing the centres left short and why.
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
    if max_time_s is not None:
        limits = response_limits(centers, max_time_s, name="max_time_s")
    else:
        limits = response_limits(centers, max_distance_m)
    problem, lookup, unit = _build_problem(centers, garrisons, costs, limits, k, options)
    problem = dataclasses.replace(problem, priority=_tier_priority(centers))
    params = {
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
    context = _Context(centers, garrisons, problem, lookup, unit, split, params, started)
    lp = solve_split(problem, options)
    if lp.shortfall:
        found = diagnose(problem, lp)
        context.unreachable = found.unreachable
        partial = context.from_flow(lp, status="optimal") if split else context.whole_only(lp)
        if coverage == "max":
            return partial
        diagnosis = context.diagnosis(found)
        if unit == "m":
            fix = smallest_uniform_limit(problem)
            # Costs are whole metres inside; every pair rounding to ``fix`` is within +0.5 m.
            diagnosis["smallest_feasible_max_distance_m"] = None if fix is None else fix + 0.5
        elif costs is not None:
            unlimited = _problem_from_costs(
                centers, garrisons, costs, None, k, problem.demand, problem.capacity
            )[0]
            found_limit = bottleneck(unlimited)
            diagnosis["smallest_feasible_max_time_s"] = (
                None if found_limit is None else found_limit[0] + 0.5
            )
        raise InfeasibleError(diagnosis, partial=partial)
    total_problem, total_lp = problem, lp
    if objective == "max":
        problem, lp = _fastest_worst_case(problem, lp, options, params)
        context.problem = problem
    if split:
        return context.from_flow(lp, status="optimal")
    single = solve_single(
        problem, lp, options=options, time_limit_s=_remaining(time_limit_s, started), seed=seed
    )
    if objective == "max" and ((single.assign < 0) & (problem.demand > 0)).any():
        # Whole teams do not pack within the worst-case limit: fall back to the total plan.
        context.problem = problem = total_problem
        single = solve_single(
            problem,
            total_lp,
            options=options,
            time_limit_s=_remaining(time_limit_s, started),
            seed=seed,
        )
        single = SingleSolution(
            single.assign, single.cost, single.objective, single.bound, optimal=False
        )
    unplaced = np.flatnonzero((single.assign < 0) & (problem.demand > 0))
    if len(unplaced):
        ids = [str(centers.index[i]) for i in unplaced]
        msg = (
            f"{len(ids)} centre(s) could not be served whole by one garrison within the "
            f"limits, though a split plan exists (use split=True, or raise capacity "
            f"near them): {', '.join(ids[:10])}"
        )
        raise SolverError(msg)
    return context.from_single(single)


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


def _remaining(time_limit_s: float | None, started: float) -> float | None:
    """Return what is left of the caller's budget for the single-sourcing search."""
    if time_limit_s is None:
        return None
    return max(0.01, time_limit_s - (time.perf_counter() - started))


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
    costs: CostMatrix | None,
    limits: np.ndarray | None,
    k: int | None,
    options: SolverOptions,
) -> tuple[Problem, CostLookup, str]:
    demand = centers["demand"].to_numpy(np.int64)
    capacity = garrisons["capacity"].to_numpy(np.int64)
    if costs is not None:
        return _problem_from_costs(centers, garrisons, costs, limits, k, demand, capacity)
    oracle = build_oracle(centers, garrisons, garrison_mask=capacity > 0)
    if k is not None:
        # k counts every garrison, as distance_matrix(k=...) does, empty ones included.
        everyone = build_oracle(centers, garrisons)
        arcs = Arcs.from_arrays(*everyone.nearest(k, max_cost=limits))
        problem = Problem(demand, capacity, arcs)
    else:
        k_first = options.first_candidates(len(demand))
        first = Arcs.from_arrays(*oracle.candidates(k_first, max_cost=limits))
        problem = Problem(demand, capacity, first, oracle=oracle, max_cost=limits)

    def lookup(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        position = np.searchsorted(oracle.garrison_index, cols)
        return oracle.cost(rows, position)

    return problem, lookup, "m"


def _problem_from_costs(
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    costs: CostMatrix,
    limits: np.ndarray | None,
    k: int | None,
    demand: np.ndarray,
    capacity: np.ndarray,
) -> tuple[Problem, CostLookup, str]:
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
    keep = np.ones(len(r), dtype=bool)
    if limits is not None:
        keep &= value <= limits[r]
    arcs = Arcs.from_arrays(r[keep], c[keep], value[keep])
    if k is not None:
        arcs = _k_cheapest(arcs, k)
    table = pd.Series(value, index=r.astype(np.int64) * len(capacity) + c)

    def lookup(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        found: np.ndarray = table.loc[rows.astype(np.int64) * len(capacity) + cols].to_numpy(float)
        return found

    return Problem(demand, capacity, arcs), lookup, costs.unit


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
    center = arcs.center[order]
    rank = np.arange(len(order)) - np.searchsorted(center, center)
    pick = order[rank < k]
    return Arcs.from_arrays(arcs.center[pick], arcs.garrison[pick], arcs.cost[pick])


class _Context:
    """What is needed to turn solver arrays back into labelled results."""

    def __init__(
        self,
        centers: gpd.GeoDataFrame,
        garrisons: gpd.GeoDataFrame,
        problem: Problem,
        lookup: CostLookup,
        unit: str,
        split: bool,  # noqa: FBT001
        params: dict[str, Any],
        started: float,
    ) -> None:
        self.centers = centers
        self.garrisons = garrisons
        self.problem = problem
        self.lookup = lookup
        self.unit = unit
        self.split = split
        self.params = params
        self.started = started
        self.unreachable = np.zeros(0, dtype=np.int64)
        self.split_only = np.zeros(0, dtype=np.int64)

    def from_flow(self, lp: FlowSolution, *, status: str) -> AssignmentResult:
        used = lp.flow > 0
        rows, cols, teams = lp.arcs.center[used], lp.arcs.garrison[used], lp.flow[used]
        objective = float(teams @ lp.arcs.cost[used])
        return self._result(
            rows,
            cols,
            teams,
            uncovered=lp.uncovered,
            status=status,
            objective=objective,
            bound=objective,
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
        """Single-sourced partial plan: centres the flow serves whole from one garrison."""
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
        c_ids, g_ids = self.centers.index, self.garrisons.index
        demand = int(self.problem.demand.sum())
        capacity = int(self.problem.capacity.sum())
        governorate = (
            self.centers["governorate"].astype(str).to_numpy()
            if "governorate" in self.centers.columns
            else None
        )
        regions = [
            {
                "centers": [str(c_ids[i]) for i in r.centers],
                "garrisons": [str(g_ids[g]) for g in r.garrisons],
                "demand": r.demand,
                "capacity": r.capacity,
                "deficit": r.deficit,
                "extra_teams_needed": r.deficit,
                "governorates": sorted(set(governorate[r.centers]))
                if governorate is not None
                else [],
            }
            for r in diag.regions
        ]
        if demand > capacity:
            reason = f"total demand {demand} exceeds total capacity {capacity}"
        else:
            reason = (
                f"{diag.shortfall} team(s) cannot reach their centres within the "
                f"limits ({len(regions)} blocking region(s))"
            )
        return {
            "total_demand": demand,
            "total_capacity": capacity,
            "shortfall": diag.shortfall,
            "unreachable_centers": [str(c_ids[i]) for i in diag.unreachable],
            "blocking_regions": regions,
            "reason": reason,
        }

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
        cost_col = "distance_m" if self.unit == "m" else "time_s"
        assignments = pd.DataFrame(
            {
                "center_id": self.centers.index[rows].to_numpy(),
                "garrison_id": self.garrisons.index[cols].to_numpy(),
                "teams": np.asarray(teams, dtype=np.int64),
                cost_col: self.lookup(np.asarray(rows), np.asarray(cols)),
            }
        )
        assignments = assignments.sort_values(["center_id", "garrison_id"], ignore_index=True)
        used = np.bincount(cols, weights=teams, minlength=self.problem.n_garrisons)
        capacity = self.problem.capacity
        load = pd.DataFrame(
            {
                "garrison_id": self.garrisons.index.to_numpy(),
                "capacity": capacity,
                "used": used.astype(np.int64),
                "utilization": np.divide(
                    used, capacity, out=np.zeros(len(capacity)), where=capacity > 0
                ),
            }
        )
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
        uncovered_table = pd.DataFrame(
            {
                "center_id": self.centers.index[short].to_numpy(),
                "teams": uncovered[short].astype(np.int64),
                "reason": reason,
            }
        )
        gap = (objective - bound) / objective if objective > 0 else 0.0
        return AssignmentResult(
            status=status,
            objective=objective,
            bound=bound,
            gap=max(gap, 0.0),
            assignments=assignments,
            garrison_load=load,
            uncovered=uncovered_table,
            unit=self.unit,
            split=self.split,
            solve_time_s=time.perf_counter() - self.started,
            parameters=self.params,
            provenance=self.provenance(),
            center_points=_points(self.centers),
            garrison_points=_points(self.garrisons),
        )


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
