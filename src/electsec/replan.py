"""Stable re-planning inputs: a baseline plan turned into the arrays of an instance.

``es.solve(instance, baseline=plan)`` re-plans with the fewest changed centres (see
:mod:`electsec.solvers.stable` for what a change is and how the plan is found). This
module maps the baseline's ids onto the instance: centres or garrisons the instance no
longer has make forced changes, and a baseline sharing no centre or no garrison with the
instance is refused.
"""

from __future__ import annotations

import numpy as np

from electsec.errors import InputError, Issue
from electsec.problem import Instance
from electsec.result import AssignmentResult
from electsec.solvers.stable import Baseline
from electsec.validation import is_number

__all__ = ["baseline_arrays", "replan_issues"]


def replan_issues(
    baseline: object, max_changes: object, max_cost_increase_pct: object
) -> list[Issue]:
    """Problems with the re-planning options (before anything is solved)."""
    issues = []
    if baseline is not None and not isinstance(baseline, AssignmentResult):
        message = f"must be a plan (AssignmentResult) or None, got {type(baseline).__name__}"
        issues.append(Issue("arguments", "baseline", (), message))
    if max_changes is not None and not is_number(max_changes, integer=True):
        message = f"must be a whole number of centres ≥ 0 or None, got {max_changes!r}"
        issues.append(Issue("arguments", "max_changes", (), message))
    if max_cost_increase_pct is not None and not is_number(max_cost_increase_pct):
        message = f"must be a number of per cent ≥ 0 or None, got {max_cost_increase_pct!r}"
        issues.append(Issue("arguments", "max_cost_increase_pct", (), message))
    if max_changes is not None and max_cost_increase_pct is not None:
        message = "give max_changes or max_cost_increase_pct, not both"
        issues.append(Issue("arguments", "max_changes", (), message))
    if baseline is None and (max_changes is not None or max_cost_increase_pct is not None):
        option = "max_changes" if max_changes is not None else "max_cost_increase_pct"
        issues.append(Issue("arguments", option, (), "needs baseline= (the plan to keep)"))
    return issues


def baseline_arrays(
    plan: AssignmentResult,
    instance: Instance,
    *,
    max_changes: int | None = None,
    max_cost_increase_pct: float | None = None,
) -> Baseline:
    """Map ``plan`` onto ``instance``'s demand rows and garrisons.

    Raises
    ------
    InputError
        The plan shares no centre or no garrison with the instance, or its cost unit
        differs.
    """
    a = plan.assignments
    labels = instance.labels
    centers = {str(c): k for k, c in enumerate(labels.center_ids)}
    garrisons = {str(g): k for k, g in enumerate(labels.garrison_ids)}
    c_ids = a["center_id"].astype(str).to_numpy()
    g_ids = a["garrison_id"].astype(str).to_numpy()
    _check_same_input(plan, instance, c_ids, g_ids, centers, garrisons)
    c = np.array([centers.get(i, -1) for i in c_ids], dtype=np.int64)
    g = np.array([garrisons.get(i, -1) for i in g_ids], dtype=np.int64)
    rows = _rows(instance, c, g)
    forced = np.zeros(instance.n_centers, dtype=bool)
    forced[c[(c >= 0) & (rows < 0)]] = True  # its garrison, or its agency row, is gone
    ok = rows >= 0
    gone = len(set(c_ids[c < 0]) | set(plan.uncovered["center_id"].astype(str)) - set(centers))
    return Baseline(
        rows=rows[ok],
        garrisons=g[ok],
        teams=a["teams"].to_numpy(dtype=np.int64)[ok],
        cost=a[plan.cost_column].to_numpy(dtype=float)[ok],
        forced=forced,
        gone=gone,
        max_changes=None if max_changes is None else int(max_changes),
        max_cost_increase_pct=(
            None if max_cost_increase_pct is None else float(max_cost_increase_pct)
        ),
    )


def _check_same_input(
    plan: AssignmentResult,
    instance: Instance,
    c_ids: np.ndarray,
    g_ids: np.ndarray,
    centers: dict[str, int],
    garrisons: dict[str, int],
) -> None:
    issues = []
    if len(c_ids) and not any(i in centers for i in c_ids):
        message = f"shares no centre with the instance (it has e.g. {c_ids[0]}): another input?"
        issues.append(Issue("arguments", "baseline", (), message))
    if len(g_ids) and not any(i in garrisons for i in g_ids):
        message = f"shares no garrison with the instance (it has e.g. {g_ids[0]}): another input?"
        issues.append(Issue("arguments", "baseline", (), message))
    if plan.unit != instance.unit:
        message = f"costs are in {plan.unit!r}, the instance's in {instance.unit!r}"
        issues.append(Issue("arguments", "baseline", (), message))
    if issues:
        raise InputError(issues)


def _rows(instance: Instance, c: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Demand row of each (centre, garrison) assignment (-1: none in the instance)."""
    forces = instance.labels.forces
    rows = np.full(len(c), -1, dtype=np.int64)
    known = (c >= 0) & (g >= 0)
    if forces.row_agency is None or forces.garrison_agency is None:
        first = np.searchsorted(forces.row_center, c[known])
        rows[known] = first  # one demand row per centre
        return rows
    index = {
        (int(k), str(ag)): r
        for r, (k, ag) in enumerate(zip(forces.row_center, forces.row_agency, strict=True))
    }
    for p in np.flatnonzero(known):
        rows[p] = index.get((int(c[p]), str(forces.garrison_agency[g[p]])), -1)
    return rows
