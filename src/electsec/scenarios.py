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
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from electsec.assign import solve
from electsec.diff import PlanDiff, diff_plans
from electsec.errors import ElectsecError, InfeasibleError, InputError, Issue
from electsec.problem import Instance, input_hash
from electsec.result import AssignmentResult
from electsec.validation import is_number

__all__ = ["PlanDiff", "Scenario", "Sweep", "contingency", "diff_plans", "run_scenarios"]


@dataclass(frozen=True)
class Scenario:
    """One what-if: an edit of an instance's forces and demand.

    Parameters
    ----------
    name
        How the scenario is called in tables.
    garrisons_lost
        Ids of garrisons that send no team (units that dropped out).
    capacity
        ``{garrison_id: teams}``: a garrison's new capacity (reserve included), as an
        integer, or a change in per cent as a string (``"-50%"``, ``"+20%"``; rounded
        down).
    demand
        ``{center_id: teams}``: a centre's new demand (centres with one demand row).
    centers_removed
        Ids of centres that need no team any more.

    Examples
    --------
    >>> import electsec as es
    >>> base = es.prepare("data/sample/tiny_centers.geojson",
    ...                   "data/sample/tiny_garrisons.geojson")
    >>> lost = es.Scenario("lose one", garrisons_lost=["TG01"]).apply(base)
    >>> int(lost.problem.capacity[list(base.labels.garrison_ids).index("TG01")])
    0
    """

    name: str
    garrisons_lost: tuple[str, ...] = ()
    capacity: Mapping[str, int | str] | None = field(default=None, hash=False)
    demand: Mapping[str, int] | None = field(default=None, hash=False)
    centers_removed: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("garrisons_lost", "centers_removed"):
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, Iterable):
                value = (value,)
            object.__setattr__(self, name, tuple(str(v) for v in value))

    def apply(self, base: Instance) -> Instance:
        """Return ``base`` with this scenario's edits (``base`` is not changed).

        Raises
        ------
        InputError
            Unknown ids (with the closest known ones), or bad capacities or demands.
        """
        labels, forces = base.labels, base.labels.forces
        issues: list[Issue] = []
        garrisons = _positions(labels.garrison_ids)
        centers = _positions(labels.center_ids)
        total = labels.capacity.copy()
        for g in _known(self.garrisons_lost, garrisons, "garrisons_lost", issues):
            total[g] = forces.reserve[g]  # a lost garrison sends nothing (reserve aside)
        for key, value in (self.capacity or {}).items():
            for g in _known((str(key),), garrisons, "capacity", issues):
                total[g] = _new_capacity(int(labels.capacity[g]), value, key, issues)
        demand = forces.demand.copy()
        self._edit_demand(centers, forces.row_center, demand, issues)
        if issues:
            raise InputError(issues)
        available = np.maximum(total - forces.reserve, 0)
        forces = dataclasses.replace(forces, capacity=available, demand=demand)
        instance = base.replace(capacity=available, demand=demand)
        labels = dataclasses.replace(labels, capacity=total, forces=forces)
        teams = np.bincount(forces.row_center, weights=demand, minlength=len(labels.center_ids))
        return dataclasses.replace(instance, labels=labels, input_hash=input_hash(labels, teams))

    def _edit_demand(
        self,
        centers: dict[str, int],
        row_center: np.ndarray,
        demand: np.ndarray,
        issues: list[Issue],
    ) -> None:
        for c in _known(self.centers_removed, centers, "centers_removed", issues):
            demand[row_center == c] = 0
        for key, value in (self.demand or {}).items():
            for c in _known((str(key),), centers, "demand", issues):
                rows = np.flatnonzero(row_center == c)
                if len(rows) != 1 or not is_number(value, minimum=-math.inf, integer=True):
                    message = f"{key}: give a whole number of teams for a one-agency centre"
                    issues.append(Issue("arguments", "demand", (key,), message))
                elif value < 0:
                    issues.append(Issue("arguments", "demand", (key,), "must be ≥ 0"))
                else:
                    demand[rows] = value


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


def _new_capacity(current: int, value: int | str, key: str, issues: list[Issue]) -> int:
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            change = float(value.strip()[:-1])
        except ValueError:
            change = float("nan")
        if np.isfinite(change) and change >= -100:
            return int(np.floor(current * (1 + change / 100)))
    elif is_number(value, integer=True):
        return int(value)
    message = f"{key}: give teams (an integer ≥ 0) or a change such as '-50%', got {value!r}"
    issues.append(Issue("arguments", "capacity", (key,), message))
    return current


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
    executor: Executor | None = None,
    **solve_options: Any,
) -> Sweep:
    """Solve every scenario on ``base`` and tabulate what each one changes.

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
        Runs the scenarios in parallel (results do not depend on it).

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
    options = {"split": split, **solve_options}
    if baseline is None:
        baseline = solve(base, **options)
    if stable:  # re-plan each scenario close to the baseline (fewest changed centres)
        options["baseline"] = baseline
    tasks = [(base, s, options) for s in scenarios]
    results = list(executor.map(_run_one, tasks) if executor else map(_run_one, tasks))
    plans = {s.name: r for s, (r, _) in zip(scenarios, results, strict=True)}
    rows = [
        _row(s.name, r, seconds, baseline)
        for s, (r, seconds) in zip(scenarios, results, strict=True)
    ]
    return Sweep(pd.DataFrame(rows, columns=_columns(baseline)), plans, baseline)


def _run_one(
    task: tuple[Instance, Scenario, dict[str, Any]],
) -> tuple[AssignmentResult | ElectsecError, float]:
    """Solve one scenario (a pure function of its task: safe to retry anywhere)."""
    base, scenario, options = task
    started = time.perf_counter()
    try:
        outcome: AssignmentResult | ElectsecError = solve(scenario.apply(base), **options)
    except ElectsecError as err:
        outcome = err
    return outcome, time.perf_counter() - started


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


def contingency(
    base: Instance,
    *,
    split: bool = True,
    executor: Executor | None = None,
    **solve_options: Any,
) -> pd.DataFrame:
    """Lose every garrison in turn (N-1) and say what each loss costs.

    Parameters
    ----------
    base
        The prepared instance.
    split, executor, solve_options
        As for :func:`run_scenarios`; ``coverage`` defaults to ``"max"`` so a loss that
        leaves centres uncovered is measured, not raised.

    Returns
    -------
    pandas.DataFrame
        One row per garrison: ``garrison_id, teams_short, centers_uncovered,
        cost_increase_pct``, the worst response after its loss, ``centers_changed`` and
        ``single_point_of_failure`` (its loss leaves teams uncovered), worst first.
    """
    solve_options.setdefault("coverage", "max")
    ids = [str(g) for g in base.labels.garrison_ids]
    scenarios = [Scenario(g, garrisons_lost=(g,)) for g in ids]
    sweep = run_scenarios(base, scenarios, split=split, executor=executor, **solve_options)
    table = sweep.table.rename(
        columns={"scenario": "garrison_id", "objective_change_pct": "cost_increase_pct"}
    )
    table["single_point_of_failure"] = table["teams_short"].fillna(0) > int(
        sweep.baseline.uncovered["teams"].sum()
    )
    order = ["teams_short", "cost_increase_pct"]
    return table.sort_values(order, ascending=False, kind="stable", ignore_index=True)
