"""``es.prepare``: the one place layers become arrays, and arguments are checked.

Stage 1 of prepare → solve → label (DESIGN §3). Validated layers (or anything the readers
take) and the options that define the problem go in; a frozen, numpy-only
:class:`electsec.problem.Instance` comes out: the array :class:`~electsec.problem.Problem`
the solvers take, the labels that turn their answer back into ids and places, a picklable
exact-cost lookup, the backup arcs and the parameters. Every problem with the inputs is
reported at once in one :class:`InputError`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from electsec.config import Backup, SolverOptions
from electsec.costs import CostMatrix, build_oracle, limit_issues, lonlat
from electsec.errors import InputError, Issue
from electsec.forces import (
    COMMAND,
    Forces,
    Jurisdiction,
    is_command,
    jurisdiction_mapping,
    read_forces,
)
from electsec.io import Source, read_garrisons, read_polling_centers
from electsec.oracle import ArcOracle, GroupedOracle
from electsec.problem import (
    Arcs,
    BackupArcs,
    CostLookup,
    Instance,
    Labels,
    PairCosts,
    Parameters,
    Problem,
    input_hash,
    rank_in_runs,
)
from electsec.solvers.flow import penalty_for
from electsec.validation import is_number, response_limits

__all__ = ["TIER_PRIORITY", "prepare"]

#: Cover order when forces are short: a team of a higher tier is covered first.
TIER_PRIORITY = {"high": 3, "medium": 2, "low": 1}


def prepare(
    centers: Source,
    garrisons: Source,
    costs: CostMatrix | None = None,
    *,
    max_distance_m: float | dict[str, float] | str | None = None,
    max_time_s: float | dict[str, float] | str | None = None,
    k: int | None = None,
    jurisdiction: Jurisdiction | None = None,
    backup: Backup | Mapping[str, Any] | None = None,
    options: SolverOptions | None = None,
) -> Instance:
    """Turn layers and the options that define the problem into an :class:`Instance`.

    Parameters
    ----------
    centers, garrisons, costs, max_distance_m, max_time_s, k, jurisdiction, backup
        As for :func:`electsec.solve_assignment`.
    options
        Solver tuning (:class:`electsec.config.SolverOptions`), kept with the instance.

    Returns
    -------
    Instance
        Frozen and picklable; ``es.solve(instance, ...)`` solves it, and
        ``instance.replace(...)`` derives variants without touching it.

    Raises
    ------
    InputError
        Every problem with the layers and the arguments, with the offending ids.

    Examples
    --------
    >>> import pickle
    >>> import electsec as es
    >>> instance = es.prepare("data/sample/tiny_centers.geojson",
    ...                       "data/sample/tiny_garrisons.geojson")
    >>> instance
    Instance(40 centres × 6 garrisons, 40 demand rows, unit='m')
    >>> es.solve(pickle.loads(pickle.dumps(instance))).status
    'optimal'
    """
    issues = limit_issues(k=k, max_distance_m=max_distance_m, per_center=True)
    issues += _unit_issues(costs, max_distance_m, max_time_s)
    issues += _options_issues(options)
    centers, garrisons = read_layers(centers, garrisons, issues)
    options = options or SolverOptions()
    forces, backup_option, limits = _checked(
        centers, garrisons, costs, jurisdiction, backup, max_distance_m, max_time_s
    )
    problem, cost, unit, unlimited = _problem(
        centers, garrisons, forces, costs, limits, k, options
    )
    priority = _tier_priority(centers)
    if priority is not None:
        problem = dataclasses.replace(problem, priority=priority[forces.row_center])
    _check_size(problem)
    params: dict[str, Any] = {"max_distance_m": max_distance_m, "max_time_s": max_time_s, "k": k}
    params["costs"] = "given" if costs is not None else "geodesic"
    if backup_option is not None:
        params["backup"] = dataclasses.asdict(backup_option)
    if is_command(jurisdiction):
        params["jurisdiction"] = COMMAND
    elif jurisdiction is not None:
        allowed = jurisdiction_mapping(jurisdiction)
        params["jurisdiction"] = {a: sorted(places) for a, places in allowed.items()}
    labels = _labels(centers, garrisons, forces, unit)
    return Instance(
        problem=problem,
        labels=labels,
        cost=cost,
        parameters=Parameters(params),
        input_hash=input_hash(labels, centers["demand"].to_numpy(np.int64)),
        backup=_backup_arcs(backup_option, centers, garrisons, forces, costs),
        unlimited=unlimited,
        options=options,
        limits=limits,
        road=None if costs is None else costs.road,
        warnings=() if costs is None else tuple(costs.warnings),
    )


#: Largest integer the flow and CP-SAT models may need to hold (int64, with headroom).
MAX_MODEL_INT = 2**62


def _check_size(problem: Problem) -> None:
    """Refuse instances whose solver integers would overflow int64.

    The min-cost flow prices an uncovered team above any augmenting path (the largest
    cost × the path length, × the tier weight); that penalty times every team must stay
    below :data:`MAX_MODEL_INT`.
    """
    penalty = penalty_for(problem, problem.arcs) * max(TIER_PRIORITY.values())
    teams = int(problem.demand.sum()) + 1
    if penalty * teams < MAX_MODEL_INT:
        return
    message = (
        f"{teams - 1} teams at costs up to {int(problem.arcs.cost.max(initial=0))} need "
        f"integers beyond int64 in the solvers; plan regions separately or give costs in "
        f"coarser units"
    )
    raise InputError([Issue("centers", "demand", (), message)])


def read_layers(
    centers: Source, garrisons: Source, issues: list[Issue] | None = None
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Read both layers, raising one InputError with every problem (``issues`` first).

    Layers the readers returned pass as they are (the readers are idempotent).
    """
    issues = list(issues or [])
    layers = []
    for read, source in ((read_polling_centers, centers), (read_garrisons, garrisons)):
        try:
            layers.append(read(source))
        except InputError as exc:
            issues += exc.issues
    if issues:
        raise InputError(issues)
    return layers[0], layers[1]


def _checked(
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    costs: CostMatrix | None,
    jurisdiction: Jurisdiction | None,
    backup: Backup | Mapping[str, Any] | None,
    max_distance_m: object,
    max_time_s: object,
) -> tuple[Forces, Backup | None, np.ndarray | None]:
    """Agencies, the backup option and the limits: every problem in one InputError."""
    issues: list[Issue] = []
    found: list[Any] = []
    for check in (
        lambda: read_forces(centers, garrisons, jurisdiction),
        lambda: backup_option(backup, costs),
        lambda: (
            response_limits(centers, max_time_s, name="max_time_s")
            if max_time_s is not None
            else response_limits(centers, max_distance_m)
        ),
    ):
        try:
            found.append(check())
        except InputError as exc:
            issues += exc.issues
    issues += _phase_issues(centers)
    if issues:
        raise InputError(issues)
    forces, option, limits = found
    return forces, option, None if limits is None else limits[forces.row_center]


def _phase_issues(centers: gpd.GeoDataFrame) -> list[Issue]:
    """Centres of several voting days must not be planned against one day's forces."""
    if "phase" not in centers.columns:
        return []
    phases = centers["phase"].dropna().astype(str)
    kinds = sorted(set(phases))
    if len(kinds) <= 1:
        return []
    first = kinds[0]
    message = (
        f"holds {len(kinds)} voting days ({', '.join(kinds)}); one plan is for one day's "
        f"forces: plan each day on its own, e.g. centers[centers['phase'] == {first!r}]"
    )
    minority = phases.index[phases != phases.mode().iloc[0]]
    return [Issue("centers", "phase", tuple(minority), message)]


def _unit_issues(
    costs: CostMatrix | None, max_distance_m: object, max_time_s: object
) -> list[Issue]:
    """Check that a time limit comes with travel times and a distance limit with metres."""
    unit = costs.unit if isinstance(costs, CostMatrix) else "m"
    if max_time_s is not None and max_distance_m is not None:
        message = "give max_time_s or max_distance_m, not both"
        return [Issue("arguments", "max_time_s", (), message)]
    if max_time_s is not None and unit != "s":
        message = (
            "needs travel-time costs: pass "
            "costs=distance_matrix(..., metric='travel_time', network=...)"
        )
        return [Issue("arguments", "max_time_s", (), message)]
    if max_distance_m is not None and unit != "m":
        message = "the costs are travel times (s); use max_time_s instead"
        return [Issue("arguments", "max_distance_m", (), message)]
    return []


def _options_issues(options: object) -> list[Issue]:
    if options is None or isinstance(options, SolverOptions):
        return []
    message = f"must be a SolverOptions, got {type(options).__name__}"
    return [Issue("arguments", "options", (), message)]


def _problem(
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    forces: Forces,
    costs: CostMatrix | None,
    limits: np.ndarray | None,
    k: int | None,
    options: SolverOptions,
) -> tuple[Problem, CostLookup, str, Problem | None]:
    """Build the array problem, its cost lookup, its unit and (given costs) the unlimited one."""
    if costs is not None:
        problem, table = problem_from_costs(centers, garrisons, forces, costs, limits, k)
        unlimited = None
        if limits is not None:
            unlimited = problem_from_costs(centers, garrisons, forces, costs, None, k)[0]
        return problem, table, costs.unit, unlimited
    demand, capacity = forces.demand, forces.capacity
    oracle = _oracle(centers, garrisons, forces, capacity > 0)
    if k is not None:
        # k counts every garrison (of the row's agency), as distance_matrix(k=...) does.
        everyone = _oracle(centers, garrisons, forces, np.ones(len(capacity), dtype=bool))
        arcs = Arcs.from_arrays(*everyone.nearest(k, max_cost=limits))
        return Problem(demand, capacity, arcs), everyone.pair_cost, "m", None
    first, reach = first_arcs(oracle, options, len(demand), limits)
    problem = Problem(demand, capacity, first, oracle=oracle, max_cost=limits, reach=reach)
    return problem, oracle.pair_cost, "m", None


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


def problem_from_costs(
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    forces: Forces,
    costs: CostMatrix,
    limits: np.ndarray | None,
    k: int | None,
) -> tuple[Problem, PairCosts]:
    """Build the problem whose allowed pairs are the arcs of ``costs`` (within limits)."""
    i, g, value = matrix_arcs(centers, garrisons, costs)
    r, keep = _rows_of_arcs(forces, i, g)
    keep[keep] = forces.may_serve(r[keep], g[keep])
    r, g, value = r[keep], g[keep], value[keep]
    # Every pair of the matrix is priced (not only those within the limits), so that a
    # scenario raising a limit prices the pairs it allows exactly as prepare would.
    lookup = PairCosts.from_arcs(r, g, value, len(garrisons))
    return Problem(forces.demand, forces.capacity, limited_arcs(r, g, value, limits, k)), lookup


def first_arcs(
    oracle: ArcOracle | GroupedOracle,
    options: SolverOptions,
    n_rows: int,
    limits: np.ndarray | None,
) -> tuple[Arcs, np.ndarray]:
    """Return the geodesic arcs a problem starts from (within ``limits``) and the reach."""
    k_first = options.first_candidates(n_rows)
    r, c, cost, reach = oracle.candidates(k_first, max_cost=limits)
    return Arcs.from_arrays(r, c, cost), reach


def limited_arcs(
    row: np.ndarray,
    garrison: np.ndarray,
    cost: np.ndarray,
    limits: np.ndarray | None,
    k: int | None,
) -> Arcs:
    """Return the priced pairs within their row's limit, the ``k`` cheapest per row."""
    if limits is not None:
        within = cost <= limits[row]
        row, garrison, cost = row[within], garrison[within], cost[within]
    arcs = Arcs.from_arrays(row, garrison, cost)
    return arcs if k is None else k_cheapest(arcs, k)


def matrix_arcs(
    centers: gpd.GeoDataFrame, garrisons: gpd.GeoDataFrame, costs: CostMatrix
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the (centre, garrison, cost) entries of a cost matrix, checked and aligned."""
    if not isinstance(costs, CostMatrix):
        message = f"must be a CostMatrix from distance_matrix(), got {type(costs).__name__}"
        raise InputError([Issue("costs", None, (), message)])
    row = _align(costs.center_ids, centers.index, "centers")
    col = _align(costs.garrison_ids, garrisons.index, "garrisons")
    coo = costs.matrix.tocoo()
    r, c, value = row[coo.row], col[coo.col], np.asarray(coo.data, dtype=float)
    bad = ~np.isfinite(value) | (value < 0)
    if bad.any():
        ids = tuple(dict.fromkeys(str(centers.index[i]) for i in r[bad]))
        message = "costs must be finite and ≥ 0; leave unreachable pairs out of the matrix instead"
        raise InputError([Issue("costs", None, ids, message)])
    return r.astype(np.int64), c.astype(np.int64), value


def _rows_of_arcs(
    forces: Forces, center: np.ndarray, garrison: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Map centre arcs to demand-row arcs: the row of the garrison's agency, if allowed."""
    if forces.identity:
        return center, np.ones(len(center), dtype=bool)
    codes = {a: j for j, a in enumerate(forces.agencies)}
    n_a = max(len(codes), 1)
    row_code = _codes(forces.row_agency, codes, len(forces.row_center))
    g_code = _codes(forces.garrison_agency, codes, len(forces.capacity))[garrison]
    row_key = forces.row_center * n_a + row_code  # sorted: rows are by centre, then agency
    key = center * n_a + g_code
    if not len(row_key):
        return np.zeros(len(key), np.int64), np.zeros(len(key), dtype=bool)
    pos = np.minimum(np.searchsorted(row_key, key), len(row_key) - 1)
    return pos, (row_key[pos] == key) & forces.allowed[pos]


def _codes(agency: np.ndarray | None, codes: dict[str, int], size: int) -> np.ndarray:
    if agency is None:
        return np.zeros(size, np.int64)
    return np.array([codes[a] for a in agency], dtype=np.int64)


def _align(labels: pd.Index, ids: pd.Index, table: str) -> np.ndarray:
    labels = pd.Index(labels.astype(str))
    missing = ids.difference(labels)
    extra = labels.difference(ids)
    issues = []
    if len(missing):
        message = f"{table} missing from the cost matrix; rebuild it with distance_matrix()"
        issues.append(Issue("costs", None, tuple(missing), message))
    if len(extra):
        message = f"ids in the cost matrix are not among the {table}"
        issues.append(Issue("costs", None, tuple(extra), message))
    if issues:
        raise InputError(issues)
    return ids.get_indexer(labels)


def k_cheapest(arcs: Arcs, k: int) -> Arcs:
    """Keep the ``k`` cheapest arcs of each demand row (ties by garrison)."""
    order = np.lexsort((arcs.garrison, arcs.cost, arcs.center))
    rank = rank_in_runs(arcs.center[order])
    pick = order[rank < k]
    return Arcs.from_arrays(arcs.center[pick], arcs.garrison[pick], arcs.cost[pick])


def _tier_priority(centers: gpd.GeoDataFrame) -> np.ndarray | None:
    if "tier" not in centers.columns:
        return None
    tiers = centers["tier"].astype(str).str.lower()
    priority: np.ndarray = tiers.map(TIER_PRIORITY).fillna(1).to_numpy(np.int64)
    return priority


def _labels(
    centers: gpd.GeoDataFrame, garrisons: gpd.GeoDataFrame, forces: Forces, unit: str
) -> Labels:
    governorate = (
        centers["governorate"].astype(str).to_numpy(dtype=object)
        if "governorate" in centers.columns
        else None
    )
    return Labels(
        center_ids=centers.index.to_numpy(dtype=object),
        garrison_ids=garrisons.index.to_numpy(dtype=object),
        center_lonlat=lonlat(centers),
        garrison_lonlat=lonlat(garrisons),
        governorate=governorate,
        capacity=garrisons["capacity"].to_numpy(np.int64),
        forces=forces,
        unit=unit,
        center_attributes=_attributes(centers, _CENTER_ATTRIBUTES),
        garrison_attributes=_attributes(garrisons, _GARRISON_ATTRIBUTES),
        tier=None
        if "tier" not in centers.columns
        else centers["tier"].astype(str).to_numpy(dtype=object),
    )


def _backup_arcs(
    option: Backup | None,
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    forces: Forces,
    costs: CostMatrix | None,
) -> BackupArcs | None:
    """Centre → garrison arcs a backup may use, and how many centres each may back up."""
    if option is None:
        return None
    capacity = forces.reserve * option.centers_per_team
    value = option.max_distance_m if option.max_distance_m is not None else option.max_time_s
    limit = math.inf if value is None else float(value)
    lookup: CostLookup
    if costs is None:
        oracle = build_oracle(centers, garrisons, garrison_mask=capacity > 0)
        r, c, cost = oracle.within(limit)
        lookup = oracle.pair_cost
    else:
        r, c, cost = matrix_arcs(centers, garrisons, costs)
        keep = (cost <= limit) & (capacity[c] > 0)
        r, c, cost = r[keep], c[keep], cost[keep]
        lookup = PairCosts.from_arcs(r, c, cost, len(garrisons))
    if forces.center_class is not None:
        keep = forces.may_serve_centers(r, c)
        r, c, cost = r[keep], c[keep], cost[keep]
    return BackupArcs(Arcs.from_arrays(r, c, cost), capacity, limit, lookup)


def backup_option(option: Any, costs: CostMatrix | None) -> Backup | None:
    """Validate the ``backup`` argument (a :class:`Backup` or a mapping of its fields)."""
    if option is None:
        return None
    if isinstance(option, Mapping):
        try:
            option = Backup(**option)
        except TypeError as exc:
            raise InputError([Issue("arguments", "backup", (), f"unknown field: {exc}")]) from exc
    if not isinstance(option, Backup):
        message = f"must be a Backup or a dict, got {option!r}"
        raise InputError([Issue("arguments", "backup", (), message)])
    unit = costs.unit if isinstance(costs, CostMatrix) else "m"
    messages = _backup_messages(option, unit, given_costs=costs is not None)
    if messages:
        raise InputError([Issue("arguments", "backup", (), m) for m in messages])
    return option


def _backup_messages(option: Backup, unit: str, *, given_costs: bool) -> list[str]:
    messages = []
    per_team = option.centers_per_team
    if not is_number(per_team, minimum=1, integer=True):
        messages.append(f"centers_per_team must be an integer ≥ 1, got {per_team!r}")
    for name in ("max_distance_m", "max_time_s"):
        value = getattr(option, name)
        if value is not None and not is_number(value):
            messages.append(f"{name} must be a number ≥ 0, got {value!r}")
    wanted, other = (
        ("max_distance_m", "max_time_s") if unit == "m" else ("max_time_s", "max_distance_m")
    )
    if getattr(option, other) is not None:
        messages.append(f"the costs are in {unit!r}: give {wanted}, not {other}")
    elif not given_costs and option.max_distance_m is None:
        messages.append("needs a backup response limit: Backup(max_distance_m=...)")
    return messages


#: Descriptive input columns carried to the outputs (tables, layers, map tooltips).
_CENTER_ATTRIBUTES = ("name", "governorate", "tier", "agency", "command")
_GARRISON_ATTRIBUTES = ("name", "governorate", "agency", "command")


def _attributes(layer: gpd.GeoDataFrame, columns: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Return the descriptive columns ``layer`` has, as object arrays of ``str``."""
    return {
        column: layer[column]
        .astype(object)
        .where(layer[column].notna(), "")
        .astype(str)
        .to_numpy(dtype=object)
        for column in columns
        if column in layer.columns
    }
