"""One sweep row from a solved edit, computed where it was solved (numpy only).

A sweep that keeps no plans (:func:`electsec.contingency`, :func:`electsec.robustness`)
needs of each answer only its table row and which centres lost teams. :func:`tally_edit`
solves an edit and returns just that (:class:`Tally`, a few hundred bytes) instead of the
whole :class:`~electsec.solvers.pipeline.Outcome` (arrays over every demand row): a
worker then ships back next to nothing, and the driver does no per-answer work but
adding it up. :func:`tally` is also what the driver uses on answers it holds whole, so
both paths give the same row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from electsec.errors import ElectsecError
from electsec.problem import Instance
from electsec.solvers.pipeline import Draft, Outcome, Settings
from electsec.solvers.warm import Edit, Solved, WarmBase, load_cached, solve_edit

__all__ = ["Reference", "Tally", "tally", "tally_cached", "tally_edit"]


@dataclass(frozen=True)
class Reference:
    """The plan a sweep counts changes against, as arrays.

    Attributes
    ----------
    keys
        Sorted ``centre * n_garrisons + garrison`` of every (centre, garrison) it uses.
    teams
        Teams each centre receives.
    objective
        Its objective.
    """

    keys: np.ndarray
    teams: np.ndarray
    objective: float

    @classmethod
    def from_plan(
        cls,
        center: np.ndarray,
        garrison: np.ndarray,
        teams: np.ndarray,
        objective: float,
        instance: Instance,
    ) -> Reference:
        """Build from a plan's (centre, garrison, teams) positions in ``instance``."""
        return cls(*_signature(center, garrison, teams, instance), float(objective))

    @property
    def digest(self) -> str:
        """SHA-256 of the arrays (names the reference in worker caches)."""
        digest = hashlib.sha256(self.keys.tobytes())
        digest.update(self.teams.tobytes())
        digest.update(repr(self.objective).encode())
        return digest.hexdigest()[:24]

    def changed(self, instance: Instance, draft: Draft) -> int:
        """Centres whose garrisons or teams differ in ``draft`` (as :func:`diff_plans`)."""
        center = instance.labels.forces.row_center[draft.rows]
        keys, teams = _signature(center, draft.cols, draft.teams, instance)
        moved = np.setxor1d(keys, self.keys, assume_unique=True) // instance.n_garrisons
        return len(np.union1d(moved, np.flatnonzero(teams != self.teams)))


def _signature(
    center: np.ndarray, garrison: np.ndarray, teams: np.ndarray, instance: Instance
) -> tuple[np.ndarray, np.ndarray]:
    keys = np.unique(np.asarray(center, np.int64) * instance.n_garrisons + garrison)
    per_center = np.bincount(center, weights=teams, minlength=instance.n_centers)
    return keys, per_center.astype(np.int64)


@dataclass(frozen=True)
class Tally:
    """What a sweep keeps of one answer.

    Attributes
    ----------
    row
        ``status, teams_short, centers_uncovered, objective, objective_change_pct,
        worst, centers_changed, solve_s`` (the sweep table's columns after the name;
        all but ``status`` and ``solve_s`` are None when no plan was found).
    short_centers
        Centres that did not get all their teams (sorted), or None when no plan was
        found (then no centre counts as kept).
    """

    row: tuple[Any, ...]
    short_centers: np.ndarray | None


def tally(solved: Solved, instance: Instance, reference: Reference) -> Tally:
    """Sum one answer up: its row and short centres, from the outcome's arrays (no labels).

    Parameters
    ----------
    solved
        The answer.
    instance
        The edited instance, or the base (an edit of capacities or demands keeps the
        cost lookup, the demand rows and the garrisons).
    reference
        The plan changes are counted against.
    """
    out = solved.outcome
    if isinstance(out, ElectsecError) or out.unplaced.size:
        why = type(out).__name__ if isinstance(out, ElectsecError) else "SolverError"
        return Tally((why, None, None, None, None, None, None, solved.seconds), None)
    draft = out.plan
    short = draft.uncovered
    infeasible = out.shortage is not None or out.backup_shortage is not None
    status = "infeasible" if infeasible else draft.status
    if status != "infeasible" and (short > 0).any():
        status = "partial"
    base = reference.objective
    change = 100 * (draft.objective - base) / base if base else 0.0
    row = (
        status,
        int(short.sum()),
        int((short > 0).sum()),
        draft.objective,
        change,
        _worst(draft, instance),
        reference.changed(instance, draft),
        solved.seconds,
    )
    return Tally(row, _short_centers(out, instance))


def _worst(draft: Draft, instance: Instance) -> float:
    """Return the largest exact cost of any assignment of ``draft`` (0 when it has none).

    With the whole-unit costs of its arcs at hand, only the assignments whose rounded
    cost is within one unit of the largest can hold the largest exact cost, so only
    those are looked up (a geodesic per assignment otherwise).
    """
    if not len(draft.rows):
        return 0.0
    rows, cols = draft.rows, draft.cols
    if draft.cost is not None:
        near = draft.cost >= draft.cost.max() - 1
        rows, cols = rows[near], cols[near]
    return float(np.max(instance.cost(rows, cols)))


def _short_centers(outcome: Outcome, instance: Instance) -> np.ndarray:
    row_center = instance.labels.forces.row_center
    uncovered = outcome.plan.uncovered
    return np.unique(row_center[np.flatnonzero(uncovered > 0)])


def tally_edit(
    base: WarmBase,
    reference: Reference,
    edit: Edit,
    settings: Settings,
    time_limit_s: float | None,
) -> Tally:
    """:func:`~electsec.solvers.warm.solve_edit`, then :func:`tally` of its answer."""
    return tally(solve_edit(base, edit, settings, time_limit_s), base.instance, reference)


def tally_cached(
    key: str, path: str, edit: Edit, settings: Settings, time_limit_s: float | None
) -> Tally:
    """:func:`tally_edit` on the ``(base, reference)`` pickled at ``path`` (read once).

    For process pools: the driver writes both to a file once; each worker reads it the
    first time a task needs it (:func:`~electsec.solvers.warm.load_cached`).
    """
    base, reference = load_cached(key, path)
    return tally_edit(base, reference, edit, settings, time_limit_s)
