"""What-if scenarios on a prepared :class:`~electsec.problem.Instance`: sweeps, N-1, diffs.

A :class:`Scenario` is a small frozen, picklable edit — garrisons lost, capacities or
demands changed, centres removed — applied to an instance without touching it
(:meth:`Scenario.apply`). :func:`run_scenarios` solves many of them (in this process, or
on any :class:`concurrent.futures.Executor`: a process pool, or a Dask client's
``get_executor()``), :func:`contingency` loses each garrison in turn (N-1), and
:func:`diff_plans` says what changed between two plans.

Tasks are pure functions of (instance, scenario, settings), so a worker that dies can be
retried and the same inputs give the same table whatever the executor.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from electsec.additions import with_centers, with_roads_closed
from electsec.areas import Area, area_of, centers_in, garrisons_in, rows_in
from electsec.assign import _solve_issues, solve
from electsec.budget import Budget
from electsec.costs import CostMatrix
from electsec.diff import PlanDiff, diff_plans
from electsec.errors import ElectsecError, InfeasibleError, InputError, Issue
from electsec.problem import Instance, Labels, input_hash
from electsec.replan import baseline_arrays
from electsec.result import AssignmentResult, label
from electsec.retier import new_limits, new_tiers, raised
from electsec.retier import retiered as retiered_instance
from electsec.solvers.pipeline import Settings
from electsec.solvers.warm import Edit, Reshaped, Solved, WarmBase, solve_whole
from electsec.sweeping import (
    Checkpoint,
    Task,
    answer_key,
    reference,
    run_each,
    run_tallies,
    run_tasks,
    summary,
    task_key,
)
from electsec.validation import is_number

#: Teams (an integer) or a change in per cent (``"-50%"``).
Teams = int | str
#: ``{id or area: value}``: ids, :class:`Area` objects or ``"governorate:…"`` keys.
Selection = Mapping[str, Teams] | Mapping[Area, Teams] | Mapping[str | Area, Teams]
#: ``{centre or area: tier}``.
TierSelection = Mapping[str, str] | Mapping[Area, str] | Mapping[str | Area, str]

__all__ = ["PlanDiff", "Scenario", "Sweep", "contingency", "diff_plans", "run_scenarios"]


@dataclass(frozen=True)
class Scenario:
    """One what-if: an edit of an instance's forces, demand, centres and limits.

    Garrisons and centres are named by id, or selected by area: an :class:`Area`
    (``es.Area(governorate=..., agency=..., polygon=..., ids=...)``, criteria combined
    with *and*; a polygon is a shapely ``Polygon``/``MultiPolygon`` in lon/lat), or the
    shorthands ``"governorate:Baghdad"`` and ``"agency:police"`` as mapping keys. A
    governorate or agency no garrison or centre carries is an error naming the close
    ones; so is an area that selects nothing. Keys apply in the order given (a later key
    wins where two select the same garrison or centre).

    Parameters
    ----------
    name
        How the scenario is called in tables.
    garrisons_lost
        Ids of garrisons that send no team (units that dropped out).
    capacity
        ``{garrison or area: teams}``: each selected garrison's new capacity (reserve
        included), as an integer, or a change in per cent as a string (``"-50%"``,
        ``"+20%"``; rounded down, per garrison).
    demand
        ``{centre or area: teams}``: an integer sets the teams of each selected centre
        (centres with one demand row: one agency); a change in per cent (``"+20%"``)
        scales each selected demand row — each agency's teams at each selected centre,
        only that agency's with ``Area(agency=...)`` — rounded up, per row (a what-if
        never needs fewer teams than the change says).
    centers_removed
        Ids of centres that need no team any more.
    tiers
        ``{centre or area: tier}``: the selected centres' new risk tier (their cover
        priority; and, when the instance was prepared with ``{tier: limit}``, that
        tier's limit). ``Area(agency=...)`` selects the centres needing that agency.
    limits
        New response limits in the instance's unit (metres or seconds): one number for
        every centre, or ``{tier: limit}`` (tiers after ``tiers``; others keep theirs).
        A lowered limit drops the pairs beyond it; a raised one prices the pairs it now
        allows from the instance's own costs (geodesics; or the given cost matrix, whose
        absent pairs stay not allowed — the instance warns when a raised centre gains
        no pair, as a matrix cut at the old limit would).
    centers_added
        New centres: a GeoDataFrame or a path, with the columns of the prepared centres
        (read and validated like them). The instance is then prepared again with them,
        with the options it was prepared with: geodesic costs are computed; an instance
        on a given cost matrix needs ``added_costs`` (or ``network=`` in
        :meth:`apply` for road costs). Not with ``backup=``.
    added_costs
        For ``centers_added`` on a given cost matrix: the costs of the new centres × all
        garrisons (e.g. ``es.distance_matrix(new, garrisons, ...)``).
    roads_closed
        Roads closed, for an instance on road costs (travel times or road distances
        from a :class:`~electsec.network.RoadNetwork`): edge ids (positions in
        ``network.tail``/``network.head``, one per direction), or a lon/lat
        ``Polygon``/``MultiPolygon`` (every edge meeting it). Needs that network:
        ``apply(base, network=...)``. Only the pairs whose route or road access the
        closure can change are searched again (on the driver); the instance is then
        prepared again with its options, on the matrix the closed roads give, cut at
        the instance's largest limit (pairs absent before stay absent; a matrix built
        with ``k=`` is not re-ranked). Added centres are
        priced on the closed network.

    Examples
    --------
    >>> import electsec as es
    >>> base = es.prepare("data/sample/tiny_centers.geojson",
    ...                   "data/sample/tiny_garrisons.geojson")
    >>> lost = es.Scenario("lose one", garrisons_lost=["TG01"]).apply(base)
    >>> int(lost.problem.capacity[list(base.labels.garrison_ids).index("TG01")])
    0
    >>> busy = es.Scenario("busy Baghdad", demand={"governorate:Baghdad": "+50%"},
    ...                    capacity={es.Area(agency="army"): "-20%"}).apply(base)
    >>> int(busy.problem.demand.sum()) > int(base.problem.demand.sum())
    True
    """

    name: str
    garrisons_lost: tuple[str, ...] = ()
    capacity: Selection | None = field(default=None, hash=False)
    demand: Selection | None = field(default=None, hash=False)
    centers_removed: tuple[str, ...] = ()
    tiers: TierSelection | None = field(default=None, hash=False)
    limits: float | Mapping[str, float] | None = field(default=None, hash=False)
    # Layers and matrices are not compared (their == is element-wise).
    centers_added: Any = field(default=None, hash=False, repr=False, compare=False)
    added_costs: CostMatrix | None = field(default=None, hash=False, repr=False, compare=False)
    roads_closed: Any = field(default=None, hash=False)

    def __post_init__(self) -> None:
        for name in ("garrisons_lost", "centers_removed"):
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, Iterable):
                value = (value,)
            object.__setattr__(self, name, tuple(str(v) for v in value))
        if hasattr(self.centers_added, "copy"):  # the caller's frame may change later
            object.__setattr__(self, "centers_added", self.centers_added.copy())

    @property
    def reshapes(self) -> bool:
        """Whether the edit changes allowed pairs or priorities (not a warm task)."""
        return bool(self.tiers) or any(
            v is not None for v in (self.limits, self.centers_added, self.roads_closed)
        )

    def apply(self, base: Instance, *, network: Any = None) -> Instance:
        """Return ``base`` with this scenario's edits (``base`` is not changed).

        Parameters
        ----------
        base
            The prepared instance.
        network
            The road network (:class:`electsec.network.RoadNetwork`, or anything
            ``distance_matrix(network=...)`` takes) that priced a road-cost instance:
            it is needed for ``roads_closed``, and prices ``centers_added`` when no
            ``added_costs`` are given.

        Returns
        -------
        Instance
            A new instance; ``base`` is unchanged.

        Raises
        ------
        InputError
            Unknown ids, names or empty areas (with the closest known ones), or bad
            capacities, demands, tiers, limits or added centres.
        """
        if self.roads_closed is not None:
            base, network = with_roads_closed(base, self.roads_closed, network)
        if self.centers_added is not None:
            base = with_centers(base, self.centers_added, self.added_costs, network)
        elif self.added_costs is not None:
            message = "is for centers_added; give the new centres too"
            raise InputError([Issue("arguments", "added_costs", (), message)])
        labels, forces = base.labels, base.labels.forces
        issues: list[Issue] = []
        garrisons = _positions(labels.garrison_ids)
        total = labels.capacity.copy()
        for g in _known(self.garrisons_lost, garrisons, "garrisons_lost", issues):
            total[g] = forces.reserve[g]  # a lost garrison sends nothing (reserve aside)
        for key, value in (self.capacity or {}).items():
            for g in _selected(key, labels, garrisons, "capacity", issues, garrisons_in):
                total[g] = _new_capacity(int(labels.capacity[g]), value, key, issues)
        demand = forces.demand.copy()
        named = self.centers_removed or self.demand or self.tiers
        centers = _positions(labels.center_ids) if named else {}  # 8,700 names: only if used
        self._edit_demand(labels, centers, demand, issues)
        retiered = self._edit_tiers(base, centers, issues)
        if issues:
            raise InputError(issues)
        if retiered is not None:
            base = retiered(base)
            labels = base.labels
        available = np.maximum(total - forces.reserve, 0)
        forces = dataclasses.replace(forces, capacity=available, demand=demand)
        instance = base.replace(capacity=available, demand=demand)
        labels = dataclasses.replace(labels, capacity=total, forces=forces)
        teams = np.bincount(forces.row_center, weights=demand, minlength=len(labels.center_ids))
        return dataclasses.replace(instance, labels=labels, input_hash=input_hash(labels, teams))

    def _edit_tiers(
        self, base: Instance, centers: dict[str, int], issues: list[Issue]
    ) -> Callable[[Instance], Instance] | None:
        """Check the tier and limit edits; return how to apply them (None: none)."""
        if not self.tiers and self.limits is None:
            return None
        named = {}
        for key, value in (self.tiers or {}).items():
            for c in _selected(key, base.labels, centers, "tiers", issues, centers_in):
                named[c] = value
        tier = new_tiers(base, named, issues)
        limit = new_limits(base, tier, self.limits, issues)
        raised(base, limit, issues)
        return lambda instance: retiered_instance(instance, tier, limit)

    def _edit_demand(
        self,
        labels: Labels,
        centers: dict[str, int],
        demand: np.ndarray,
        issues: list[Issue],
    ) -> None:
        row_center = labels.forces.row_center
        for c in _known(self.centers_removed, centers, "centers_removed", issues):
            demand[row_center == c] = 0
        for key, value in (self.demand or {}).items():
            area = area_of(key)
            if area is not None:
                rows = np.flatnonzero(rows_in(area, labels, "demand", issues))
            else:
                found = _known((str(key),), centers, "demand", issues)
                rows = np.flatnonzero(np.isin(row_center, found))
            _new_demand(demand, rows, row_center, value, str(key), issues)


def _selected(
    key: object,
    labels: Labels,
    positions: dict[str, int],
    option: str,
    issues: list[Issue],
    select: Callable[[Area, Labels, str, list[Issue]], np.ndarray],
) -> list[int]:
    """Positions a mapping key names: an id, an :class:`Area` or a shorthand."""
    area = area_of(key)
    if area is None:
        return _known((str(key),), positions, option, issues)
    return [int(i) for i in np.flatnonzero(select(area, labels, option, issues))]


def _positions(ids: np.ndarray) -> dict[str, int]:
    return {str(i): k for k, i in enumerate(ids)}


def _known(
    ids: Sequence[str], positions: dict[str, int], option: str, issues: list[Issue]
) -> list[int]:
    """Positions of ``ids``; an issue (with the closest known ids) for each unknown one."""
    found = []
    for i in ids:
        if i in positions:
            found.append(positions[i])
            continue
        close = difflib.get_close_matches(i, list(positions), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        issues.append(Issue("arguments", option, (i,), f"unknown id{hint}"))
    return found


def _percent(value: object) -> Fraction | None:
    """Return the change ``"+20%"`` names, exactly (``Fraction(20)``), or None."""
    if not isinstance(value, str) or not value.strip().endswith("%"):
        return None
    try:
        change = Fraction(value.strip()[:-1].strip())
    except (ValueError, ZeroDivisionError):
        return None
    return change if change >= -100 else None


def _new_capacity(current: int, value: int | str, key: object, issues: list[Issue]) -> int:
    change = _percent(value)
    if change is not None:
        return math.floor(current * (1 + change / 100))
    if is_number(value, integer=True) and not isinstance(value, str):
        return int(value)
    message = f"{key}: give teams (an integer ≥ 0) or a change such as '-50%', got {value!r}"
    issues.append(Issue("arguments", "capacity", (str(key),), message))
    return current


def _new_demand(
    demand: np.ndarray,
    rows: np.ndarray,
    row_center: np.ndarray,
    value: object,
    key: str,
    issues: list[Issue],
) -> None:
    """Set (a whole number, per centre) or scale (a change, per row, rounded up) ``rows``."""
    change = _percent(value)
    if change is not None:
        demand[rows] = [math.ceil(int(d) * (1 + change / 100)) for d in demand[rows]]
    elif not is_number(value, minimum=-math.inf, integer=True) or isinstance(value, str):
        message = f"{key}: give teams (an integer ≥ 0) or a change such as '+20%', got {value!r}"
        issues.append(Issue("arguments", "demand", (key,), message))
    elif value < 0:
        issues.append(Issue("arguments", "demand", (key,), "must be ≥ 0"))
    elif (np.bincount(row_center[rows]) > 1).any():
        message = f"{key}: give a whole number of teams for one-agency centres (or a change)"
        issues.append(Issue("arguments", "demand", (key,), message))
    else:
        demand[rows] = value


@dataclass(frozen=True)
class Sweep:
    """The outcome of :func:`run_scenarios`.

    Attributes
    ----------
    table
        One row per scenario: ``scenario, status, teams_short, centers_uncovered,
        objective, objective_change_pct, worst_m`` (or ``worst_s``), ``centers_changed``
        (against the baseline plan) and ``solve_s``.
    plans
        Scenario name → its :class:`AssignmentResult`, or the :class:`ElectsecError` it
        raised (an :class:`InfeasibleError` carries its diagnosis and partial plan).
    baseline
        The plan the changes are counted against.
    """

    table: pd.DataFrame = field(repr=False)
    plans: Mapping[str, AssignmentResult | ElectsecError] = field(repr=False)
    baseline: AssignmentResult = field(repr=False)

    def __repr__(self) -> str:
        return f"Sweep({len(self.table)} scenarios)"


def run_scenarios(
    base: Instance,
    scenarios: Iterable[Scenario],
    *,
    split: bool = False,
    baseline: AssignmentResult | None = None,
    executor: Any = None,
    progress: bool = False,
    checkpoint: str | os.PathLike[str] | None = None,
    network: Any = None,
    **solve_options: Any,
) -> Sweep:
    """Solve every scenario on ``base`` and tabulate what each one changes.

    ``base`` is solved once; every scenario starts its split LP from the arcs the base
    optimum needed and pricing then checks every allowed arc, so each plan is the plan
    :func:`electsec.solve` gives the edited instance (the same split optimum; with
    ``split=False`` the same search from the same LP, within ``time_limit_s`` each) at a
    fraction of a national solve.

    Parameters
    ----------
    base
        The prepared instance (never modified).
    scenarios
        The what-ifs; names must be unique.
    split, solve_options
        As for :func:`electsec.solve` (``objective``, ``coverage``, ``seed``,
        ``time_limit_s`` per scenario).
    baseline
        The plan changes are counted against (default: ``base`` solved the same way).
        With ``stable=True`` in ``solve_options``, each scenario is re-planned close to
        it (``es.solve(..., baseline=baseline)``: fewest changed centres, then least
        cost; ``max_changes`` / ``max_cost_increase_pct`` apply per scenario).
    executor
        Where the scenarios run: None (here, in turn), any
        :class:`concurrent.futures.Executor` (a process pool), or a Dask
        ``distributed.Client`` or its ``get_executor()``. The base goes to each worker
        once; results do not depend on the executor.
    progress
        Show a progress bar on standard error.
    checkpoint
        A folder: each answer is written there as it completes (its table row as
        Parquet, the answer pickled beside), and a sweep given the same folder again
        skips the scenarios already there (resume after an interruption).
    network
        The road network that priced a road-cost ``base``, for scenarios that add
        centres (see :meth:`Scenario.apply`); scenarios are applied here, on the
        driver, and only the edited instances travel to the executor.

    Returns
    -------
    Sweep

    Examples
    --------
    >>> import electsec as es
    >>> base = es.prepare("data/sample/tiny_centers.geojson",
    ...                   "data/sample/tiny_garrisons.geojson")
    >>> sweep = es.run_scenarios(base, [es.Scenario("TG01 lost", garrisons_lost=["TG01"])],
    ...                          split=True, coverage="max")
    >>> list(sweep.table["scenario"])
    ['TG01 lost']
    """
    scenarios = list(scenarios)
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise InputError([Issue("arguments", "scenarios", tuple(twice), "names must be unique")])
    stable = bool(solve_options.pop("stable", False))
    if stable or any(s.reshapes for s in scenarios):
        return _direct_sweep(
            base,
            scenarios,
            stable=stable,
            split=split,
            baseline=baseline,
            where=_Where(executor, progress, checkpoint),
            solve_options=solve_options,
            network=network,
        )
    rows, plans, baseline = _warm_sweep(
        base,
        scenarios,
        split=split,
        solve_options=solve_options,
        baseline=baseline,
        executor=executor,
        progress=progress,
        checkpoint=checkpoint,
    )
    return Sweep(pd.DataFrame(rows, columns=_columns(baseline)), plans, baseline)


def _warm_sweep(
    base: Instance,
    scenarios: list[Scenario],
    *,
    split: bool,
    solve_options: dict[str, Any],
    baseline: AssignmentResult | None,
    executor: Any,
    progress: bool,
    checkpoint: str | os.PathLike[str] | None,
    keep_plans: bool = True,
) -> tuple[list[list[Any]], dict[str, AssignmentResult | ElectsecError], AssignmentResult]:
    """Check the options, apply the scenarios, solve the base once and sweep warm from it."""
    settings, limit = _settings(split, solve_options)
    edited = _apply_all(base, scenarios)
    warm = WarmBase.build(base)
    if baseline is None:
        baseline = solve(base, split=split, **solve_options)
    names = [s.name for s in scenarios]
    rows, plans = _sweep(
        warm,
        list(zip(names, edited, strict=True)),
        settings,
        limit,
        baseline,
        executor=executor,
        progress=progress,
        checkpoint=checkpoint,
        keep_plans=keep_plans,
    )
    return rows, plans, baseline


@dataclass(frozen=True)
class _Where:
    """Where a sweep runs, and how it reports and keeps its answers."""

    executor: Any
    progress: bool
    checkpoint: str | os.PathLike[str] | None


def _direct_sweep(
    base: Instance,
    scenarios: list[Scenario],
    *,
    stable: bool,
    split: bool,
    baseline: AssignmentResult | None,
    where: _Where,
    solve_options: dict[str, Any],
    network: Any = None,
) -> Sweep:
    """Solve every edited instance whole: as ``es.solve``, or close to ``baseline`` when stable.

    Also the path of scenarios that change tiers, limits or centres (the warm start
    carries capacity and demand edits only): their split LP starts from the base
    optimum's pool where its pairs are still allowed (:class:`Reshaped`), which shortens
    pricing, not the optimum. Scenarios are applied here, once.
    """
    edited = _apply_all(base, scenarios, network)  # every bad id, before any solve
    replan = (
        {k: solve_options.pop(k) for k in _REPLAN_OPTIONS if k in solve_options} if stable else {}
    )
    settings, limit = _settings(split, solve_options)
    options = {"split": split, **solve_options}
    if baseline is None:
        baseline = solve(base, **options)
    # Stable re-plans keep to the baseline (their own model); the others start each split
    # LP from where the base optimum lay.
    restart = None if stable else Reshaped.of(WarmBase.build(base))
    named = []
    for s, instance in zip(scenarios, edited, strict=True):
        how: Settings | ElectsecError = settings
        try:
            how = _stable(settings, baseline, instance, replan) if stable else settings
        except ElectsecError as err:  # as es.solve would raise it: that scenario's answer
            how = err
        named.append(_Direct(s.name, instance, how))
    key = {**options, **replan, "baseline": baseline} if stable else options
    rows, plans = _solve_each(named, (limit, restart), _options_key(key), baseline, where)
    return Sweep(pd.DataFrame(rows, columns=_columns(baseline)), plans, baseline)


@dataclass(frozen=True)
class _Direct:
    """One scenario solved whole: its name, edited instance and settings (or its error)."""

    name: str
    instance: Instance
    settings: Settings | ElectsecError


def _stable(
    settings: Settings, plan: AssignmentResult, instance: Instance, replan: Mapping[str, Any]
) -> Settings:
    """Return ``settings`` with ``plan`` read onto ``instance`` (as ``es.solve`` reads it)."""
    if instance.backup is not None:
        message = "stable re-planning does not combine with backup= yet; drop one of them"
        raise InputError([Issue("arguments", "baseline", (), message)])
    return dataclasses.replace(settings, baseline=baseline_arrays(plan, instance, **replan))


def _solve_each(
    named: list[_Direct],
    shared: tuple[float | None, Reshaped | None],
    salt: tuple[Any, ...],
    baseline: AssignmentResult,
    where: _Where,
) -> tuple[list[list[Any]], dict[str, AssignmentResult | ElectsecError]]:
    """Solve each edited instance (skipping those checkpointed); rows and plans in order.

    Workers run the array layer only (:func:`~electsec.solvers.warm.solve_whole`); each
    outcome is labelled here. Each answer is written to the checkpoint as it completes,
    under a key naming the scenario, its edited instance and the options (a stable
    re-plan's baseline by its tables, not its timings), so a sweep given the folder
    again solves only the rest.
    """
    store = None if where.checkpoint is None else Checkpoint(where.checkpoint)
    keys = [answer_key(d.name, d.instance, salt) for d in named]
    columns = _columns(baseline)
    rows: dict[int, list[Any]] = {}
    plans: dict[int, AssignmentResult | ElectsecError] = {}

    def take(i: int, solved: Solved) -> None:
        how = named[i].settings
        plan = (
            _labelled(solved, named[i].instance, how, shared[0])
            if isinstance(how, Settings)
            else how
        )
        plans[i] = plan
        rows[i] = _row(named[i].name, plan, solved.seconds, baseline)

    for i, d in enumerate(named):
        stored = None if store is None else store.load(keys[i])
        if isinstance(d.settings, ElectsecError):
            stored = Solved(d.settings, 0.0)
        if stored is not None:
            take(i, stored)
    todo = [i for i in range(len(named)) if i not in rows]
    tasks = [(keys[i], (named[i].settings, named[i].instance)) for i in todo]
    found = run_each(solve_whole, shared, tasks, executor=where.executor, progress=where.progress)
    for j, solved in found:
        i = todo[j]
        take(i, solved)
        if store is not None:
            store.write(keys[i], solved, dict(zip(columns, rows[i], strict=True)))
    order = range(len(named))
    return [rows[i] for i in order], {named[i].name: plans[i] for i in order}


def _options_key(options: Mapping[str, Any]) -> tuple[Any, ...]:
    """Return the solve options as a checkpoint key part (a baseline plan by its tables)."""
    plan = options.get("baseline")
    tables = (
        ()
        if plan is None
        else tuple(
            pd.util.hash_pandas_object(t, index=False).to_numpy().tobytes()
            for t in (plan.assignments, plan.uncovered)
        )
    )
    rest = sorted((k, v) for k, v in options.items() if k != "baseline")
    return (*rest, tables)


_REPLAN_OPTIONS = ("max_changes", "max_cost_increase_pct")


_SOLVE_OPTIONS = ("objective", "coverage", "seed", "time_limit_s")


def _settings(split: object, options: Mapping[str, Any]) -> tuple[Settings, float | None]:
    """Check the solve options of a sweep once, before anything is solved."""
    unknown = [k for k in options if k not in _SOLVE_OPTIONS]
    given = {k: v for k, v in options.items() if k in _SOLVE_OPTIONS}
    defaults: dict[str, Any] = {"objective": "total", "coverage": "full", "seed": 0}
    merged = {**defaults, "time_limit_s": None, **given}
    issues = _solve_issues(split, *(merged[k] for k in _SOLVE_OPTIONS))
    for key in unknown:
        close = difflib.get_close_matches(key, _SOLVE_OPTIONS, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        message = f"unknown option (give {', '.join(_SOLVE_OPTIONS)}){hint}"
        issues.append(Issue("arguments", key, (), message))
    if issues:
        raise InputError(issues)
    settings = Settings(bool(split), merged["objective"], merged["coverage"], merged["seed"])
    return settings, merged["time_limit_s"]


def _apply_all(
    base: Instance, scenarios: Sequence[Scenario], network: Any = None
) -> list[Instance]:
    """Apply every scenario; one error naming every bad id of every scenario."""
    roads = (s for s in scenarios if s.roads_closed is not None or s.centers_added is not None)
    if network is not None and any(roads):
        from electsec.network import RoadNetwork  # noqa: PLC0415 - road stack on demand

        network = RoadNetwork.build(network)  # once, not once per scenario
    edited, issues = [], []
    for scenario in scenarios:
        try:
            edited.append(scenario.apply(base, network=network))
        except InputError as err:
            issues += [
                dataclasses.replace(i, table=f"scenario {scenario.name!r}") for i in err.issues
            ]
    if issues:
        raise InputError(issues)
    return edited


def _sweep(
    warm: WarmBase,
    named: list[tuple[str, Instance]],
    settings: Settings,
    limit: float | None,
    baseline: AssignmentResult,
    *,
    executor: Any,
    progress: bool,
    checkpoint: str | os.PathLike[str] | None,
    keep_plans: bool = True,
) -> tuple[list[list[Any]], dict[str, AssignmentResult | ElectsecError]]:
    """Solve the edited instances (skipping those checkpointed); rows and plans in order."""
    store = None if checkpoint is None else Checkpoint(checkpoint)
    tasks = [_task(warm, name, inst, settings, limit) for name, inst in named]
    ref = reference(baseline, warm.instance)
    if store is None and not keep_plans:  # rows only: workers send back just those
        tallied = dict(
            run_tallies(warm, ref, tasks, settings, limit, executor=executor, progress=progress)
        )
        return [[named[i][0], *tallied[i].row] for i in range(len(tasks))], {}
    answers: dict[int, Solved] = {}
    for i, task in enumerate(tasks):
        stored = None if store is None else store.load(task.key)
        if stored is not None:
            answers[i] = stored
    todo = [i for i in range(len(tasks)) if i not in answers]
    rows: dict[int, list[Any]] = {}
    plans: dict[int, AssignmentResult | ElectsecError] = {}

    def take(i: int, solved: Solved) -> None:
        rows[i] = summary(named[i][0], solved, named[i][1], ref)
        if keep_plans:
            plans[i] = _labelled(solved, named[i][1], settings, limit)

    for i in list(answers):
        take(i, answers[i])
    found = run_tasks(
        warm, [tasks[i] for i in todo], settings, limit, executor=executor, progress=progress
    )
    for j, solved in found:
        i = todo[j]
        take(i, solved)
        if store is not None:
            store.write(tasks[i].key, solved, dict(zip(_columns(baseline), rows[i], strict=True)))
    order = range(len(tasks))
    return [rows[i] for i in order], {named[i][0]: plans[i] for i in order if i in plans}


def _task(
    warm: WarmBase, name: str, edited: Instance, settings: Settings, limit: float | None
) -> Task:
    problem, before = edited.problem, warm.instance.problem
    if problem.arcs is not before.arcs or problem.priority is not before.priority:
        message = "a warm task carries capacity and demand edits only; solve this one directly"
        raise ValueError(message)
    edit = Edit(
        None if np.array_equal(problem.capacity, before.capacity) else problem.capacity,
        None if np.array_equal(problem.demand, before.demand) else problem.demand,
    )
    return Task(name, edit, task_key(warm, name, edit, settings, limit))


def _labelled(
    solved: Solved, instance: Instance, settings: Settings, limit: float | None
) -> AssignmentResult | ElectsecError:
    """Label a worker's outcome here (the worker needs no pandas); errors are answers."""
    if isinstance(solved.outcome, ElectsecError):
        return solved.outcome
    budget = Budget(limit, time.perf_counter() - solved.seconds)  # times the worker's solve
    try:
        return label(solved.outcome, instance, settings, budget)
    except ElectsecError as err:
        return err


def _row(
    name: str, result: AssignmentResult | ElectsecError, seconds: float, base: AssignmentResult
) -> list[Any]:
    plan = result.partial if isinstance(result, InfeasibleError) else result
    if not isinstance(plan, AssignmentResult):
        return [name, type(result).__name__, None, None, None, None, None, None, seconds]
    status = "infeasible" if isinstance(result, InfeasibleError) else plan.status
    if status != "infeasible" and len(plan.uncovered):
        status = "partial"
    cost = plan.assignments[plan.cost_column]
    change = 100 * (plan.objective - base.objective) / base.objective if base.objective else 0.0
    return [
        name,
        status,
        int(plan.uncovered["teams"].sum()),
        len(plan.uncovered),
        plan.objective,
        change,
        float(cost.max()) if len(cost) else 0.0,
        len(diff_plans(base, plan).centers),
        seconds,
    ]


def _columns(baseline: AssignmentResult) -> list[str]:
    worst = "worst_m" if baseline.unit == "m" else "worst_s"
    return [
        "scenario",
        "status",
        "teams_short",
        "centers_uncovered",
        "objective",
        "objective_change_pct",
        worst,
        "centers_changed",
        "solve_s",
    ]


def contingency(
    base: Instance,
    *,
    split: bool = True,
    executor: Any = None,
    progress: bool = False,
    checkpoint: str | os.PathLike[str] | None = None,
    **solve_options: Any,
) -> pd.DataFrame:
    """Lose every garrison in turn (N-1) and say what each loss costs.

    Each loss starts from the base optimum's arc pool and is priced over every allowed
    arc (see :func:`run_scenarios`): with ``split=True`` every row is the exact optimum
    of that loss, at a fraction of a national solve each (all 500 garrisons of the
    national sample in well under a minute, ``benchmarks/RESULTS.md``).

    Parameters
    ----------
    base
        The prepared instance.
    split, executor, progress, checkpoint, solve_options
        As for :func:`run_scenarios`; ``coverage`` defaults to ``"max"`` so a loss that
        leaves centres uncovered is measured, not raised.

    Returns
    -------
    pandas.DataFrame
        One row per garrison: ``garrison_id, teams_short, centers_uncovered,
        cost_increase_pct``, the worst response after its loss, ``centers_changed`` and
        ``single_point_of_failure`` (its loss leaves teams uncovered), worst first.

    Examples
    --------
    >>> import electsec as es
    >>> base = es.prepare("data/sample/tiny_centers.geojson",
    ...                   "data/sample/tiny_garrisons.geojson")
    >>> table = es.contingency(base)
    >>> len(table) == base.n_garrisons
    True
    """
    solve_options.setdefault("coverage", "max")
    losses = [Scenario(str(g), garrisons_lost=(str(g),)) for g in base.labels.garrison_ids]
    rows, _, baseline = _warm_sweep(
        base,
        losses,
        split=split,
        solve_options=solve_options,
        baseline=None,
        executor=executor,
        progress=progress,
        checkpoint=checkpoint,
        keep_plans=False,
    )
    table = pd.DataFrame(rows, columns=_columns(baseline)).rename(
        columns={"scenario": "garrison_id", "objective_change_pct": "cost_increase_pct"}
    )
    table["single_point_of_failure"] = table["teams_short"].fillna(0) > int(
        baseline.uncovered["teams"].sum()
    )
    order = ["teams_short", "cost_increase_pct"]
    return table.sort_values(order, ascending=False, kind="stable", ignore_index=True)
