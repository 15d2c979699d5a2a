"""Backup coverage: a second garrison's reserve for every covered centre.

Given the primary plan, choosing backups is a transportation problem (each centre needs
one backup; a garrison backs up at most ``reserve × centers_per_team`` centres; a centre's
own primary garrisons are excluded), solved exactly as a min-cost flow. Only when that
fails while backups exist for everyone in principle — a centre's only reachable reserves
sit at its own primary garrisons — do primaries and backups have to be chosen together:
a CP-SAT model around each centre concerned (its neighbours by shared garrisons, 200,
then 800, then 3,200 centres) until a proven lower bound on the centres left without
backup is met. Small instances are finally solved whole, over every allowed pair, so
there a remaining shortfall is proven.

A ``deadline`` (a :func:`time.perf_counter` reading) bounds the joint search: the clock is
read before each neighbourhood, every 1,024 items while a model is built, and
CP-SAT gets the time left; when it passes, the best plan so far is returned and marked
``timed_out`` (so no shortfall is claimed as proven).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from electsec.problem import Arcs, Problem, rank_in_runs
from electsec.solvers.cpsat import cp_sat
from electsec.solvers.flow import solve_transport

if TYPE_CHECKING:  # CP-SAT imports pandas: loaded when a model is built (cpsat.cp_sat)
    from ortools.sat.python import cp_model

__all__ = ["JointSearch", "Plan", "assign_backups", "choose_jointly", "needs_backup"]

logger = logging.getLogger(__name__)

#: Centres in the first joint neighbourhood; it grows fourfold while backups are missing.
_FIRST_NEIGHBOURHOOD = 200
#: Largest joint neighbourhood (all centres when there are no more than this).
_MAX_NEIGHBOURHOOD = 3200
#: Alternatives per freed centre (primary and backup) in a large joint model.
_ARCS_PER_CENTER = 12
#: CP-SAT deterministic time of the two joint stages: (most backups, then least primary
#: cost) as one weighted objective, then least backup cost.
_DETERMINISTIC_TIME = (2.0, 1.0)
#: Items between two clock readings while a joint model is built.
_CHECK_EVERY = 1024

_T = TypeVar("_T")


@dataclass(frozen=True)
class Plan:
    """A primary plan with its backups, over arrays.

    Attributes
    ----------
    row, garrison, teams
        The primary plan: teams garrison sends to each demand row.
    backup
        Backup garrison of each centre (-1: none).
    """

    row: np.ndarray
    garrison: np.ndarray
    teams: np.ndarray
    backup: np.ndarray


@dataclass(frozen=True)
class JointSearch:
    """What :func:`choose_jointly` found.

    Attributes
    ----------
    plan
        The best plan found (never worse than the one given).
    timed_out
        Whether the deadline ended the search while centres still lacked a backup that
        it had not ruled out: their shortfall is then not proven.
    """

    plan: Plan
    timed_out: bool = False


class _OutOfTimeError(Exception):
    """The deadline passed while a joint model was being built."""


def assign_backups(
    need: np.ndarray,
    primary_pairs: tuple[np.ndarray, np.ndarray],
    arcs: Arcs,
    capacity: np.ndarray,
) -> np.ndarray:
    """Cheapest backups given the primaries, exactly (min-cost flow).

    Parameters
    ----------
    need
        Whether each centre needs a backup (bool, one per centre).
    primary_pairs
        ``(centers, garrisons)`` of the primary plan; those pairs are excluded.
    arcs
        Allowed backup arcs (centre, garrison, cost), within the backup limit.
    capacity
        Centres each garrison can back up.

    Returns
    -------
    numpy.ndarray
        Backup garrison per centre; -1 where none is needed or none could be found.
    """
    n, m = len(need), len(capacity)
    used = np.unique(primary_pairs[0].astype(np.int64) * m + primary_pairs[1])
    usable = need[arcs.center] & ~np.isin(arcs.keys(m), used)
    kept = arcs.subset(usable)
    problem = Problem(need.astype(np.int64), capacity.astype(np.int64), kept)
    penalty = (int(kept.cost.max(initial=0)) + 1) * (min(n, m) + 2) + 1
    sol = solve_transport(problem, kept, penalty=penalty)
    backup = np.full(n, -1, dtype=np.int64)
    on = sol.flow > 0
    backup[kept.center[on]] = kept.garrison[on]
    return backup


def choose_jointly(
    problem: Problem,
    plan: Plan,
    row_center: np.ndarray,
    arcs: Arcs,
    capacity: np.ndarray,
    *,
    split: bool,
    least_missing: int = 0,
    seed: int = 0,
    deadline: float | None = None,
) -> JointSearch:
    """Re-choose primaries and backups together around the centres left without backup.

    Each joint model first gives backups to as many centres as it can, then keeps the
    primary cost least, then the backup cost. Neighbourhoods grow fourfold until no more
    than ``least_missing`` centres lack a backup or every centre was free.

    Parameters
    ----------
    problem
        The primary problem over demand rows (its arcs are the primary candidates).
    plan
        The current primary plan and its backups (``-1`` where missing).
    row_center
        Centre of each demand row.
    arcs, capacity
        Backup arcs and backup capacities, as for :func:`assign_backups`.
    split
        Whether a row's teams may come from several garrisons.
    least_missing
        A lower bound on the centres that cannot get a backup in any plan (from the
        backup flow without the "not a primary" rule); reaching it stops the search.
    seed
        CP-SAT seed (one worker: repeatable).
    deadline
        ``time.perf_counter()`` reading by which to stop, or None (deterministic limits
        only).

    Returns
    -------
    JointSearch
        The best plan found (never worse than ``plan``), and whether time ran out.
    """
    need = needs_backup(plan, row_center, len(plan.backup))
    hopeful = np.zeros(len(need), dtype=bool)
    hopeful[arcs.center] = True

    def done() -> bool:
        return int((need & (plan.backup < 0)).sum()) <= least_missing

    def joint(free: np.ndarray) -> Plan | None:
        """Solve the joint model over ``free``; None when the deadline passed first."""
        try:
            model = _JointModel(
                problem, plan, row_center, arcs, capacity, need, free, split, deadline
            )
        except _OutOfTimeError:
            return None
        return model.solve(seed)

    size = _FIRST_NEIGHBOURHOOD
    while size <= _MAX_NEIGHBOURHOOD and not done():
        # One neighbourhood per centre still without backup, so each gets its own room.
        for i in np.flatnonzero(need & (plan.backup < 0) & hopeful):
            if done():
                return JointSearch(plan)
            if plan.backup[i] < 0:
                free = _neighbourhood(problem, plan, row_center, arcs, need, int(i), size)
                found = joint(free)
                if found is None:
                    return JointSearch(plan, timed_out=True)
                plan = found
        size *= 4
    if not done() and int(need.sum()) <= _MAX_NEIGHBOURHOOD:  # small: free every centre
        found = joint(np.flatnonzero(need))
        if found is None:
            return JointSearch(plan, timed_out=True)
        plan = found
    return JointSearch(plan, timed_out=not done() and _late(deadline))


def needs_backup(plan: Plan, row_center: np.ndarray, n_centers: int) -> np.ndarray:
    """Centres that need a backup: those the plan sends any team to."""
    need = np.zeros(n_centers, dtype=bool)
    need[row_center[plan.row[plan.teams > 0]]] = True
    return need


def _neighbourhood(
    problem: Problem,
    plan: Plan,
    row_center: np.ndarray,
    arcs: Arcs,
    need: np.ndarray,
    seed_center: int,
    size: int,
) -> np.ndarray:
    """Centres to free: the seed, then those sharing garrisons with it."""
    missing = np.array([seed_center], dtype=np.int64)
    free = set(missing.tolist())
    frontier = missing
    while len(frontier) and len(free) < size:
        rows = np.flatnonzero(np.isin(row_center, frontier))
        garrisons = np.union1d(
            arcs.garrison[np.isin(arcs.center, frontier)],
            problem.arcs.garrison[np.isin(problem.arcs.center, rows)],
        )
        touching = np.union1d(
            row_center[plan.row[np.isin(plan.garrison, garrisons)]],
            np.flatnonzero(np.isin(plan.backup, garrisons)),
        )
        frontier = np.setdiff1d(touching[need[touching]], np.fromiter(free, np.int64))
        free.update(frontier[: max(size - len(free), 0)].tolist())
    return np.array(sorted(free), dtype=np.int64)


class _JointModel:
    """CP-SAT: primaries and backups of the ``free`` centres; the rest stays fixed."""

    def __init__(
        self,
        problem: Problem,
        plan: Plan,
        row_center: np.ndarray,
        arcs: Arcs,
        capacity: np.ndarray,
        need: np.ndarray,
        free: np.ndarray,
        split: bool,  # noqa: FBT001
        deadline: float | None = None,
    ) -> None:
        if _late(deadline):
            raise _OutOfTimeError
        self.deadline = deadline
        self.problem, self.plan, self.free = problem, plan, free
        self.rows = np.flatnonzero(np.isin(row_center, free))
        self.row_center = row_center
        self.arcs = arcs
        self.model: cp_model.CpModel = cp_sat().CpModel()
        small = int(need.sum()) <= _MAX_NEIGHBOURHOOD and bool(
            np.isin(np.flatnonzero(need), free).all()
        )
        self.p_arcs, self.teams, self.use = self._primaries(small=small, split=split)
        self.b_arcs, self.back = self._backups(need, small=small)
        self._capacities(capacity)
        p = problem.arcs
        self.primary_cost = sum(
            int(p.cost[a]) * t for a, t in self._tick(zip(self.p_arcs, self.teams, strict=True))
        )
        self.backup_cost = sum(
            int(arcs.cost[b]) * y for b, y in self._tick(zip(self.b_arcs, self.back, strict=True))
        )
        self._values: list[int] = []
        self._hint(set(plan.row[plan.teams > 0].tolist()))

    def _tick(self, items: Iterable[_T]) -> Iterator[_T]:
        """Yield ``items``, raising :class:`_OutOfTimeError` once the deadline has passed."""
        return _ticking(items, self.deadline)

    def _primaries(
        self, *, small: bool, split: bool
    ) -> tuple[np.ndarray, list[cp_model.IntVar], list[cp_model.IntVar]]:
        """Add the free rows' primary arcs: team and use variables, and each row's demand."""
        model, plan, p = self.model, self.plan, self.problem.arcs
        m = self.problem.n_garrisons
        sent = np.isin(p.keys(m), plan.row.astype(np.int64) * m + plan.garrison)
        p_arcs = _nearest(p, np.isin(p.center, self.rows), np.where(sent, p.garrison, -1), small)
        demand = self.problem.demand[p.center[p_arcs]]
        teams = [
            model.new_int_var(0, int(d), f"t{a}")
            for a, d in self._tick(zip(p_arcs, demand, strict=True))
        ]
        use = [model.new_bool_var(f"u{a}") for a in self._tick(p_arcs)]
        for t, u, d in self._tick(zip(teams, use, demand, strict=True)):
            if split:
                model.add(t <= int(d) * u)
            else:
                model.add(t == int(d) * u)
        by_row = _group(self._tick(p.center[p_arcs].tolist()))
        for r in self._tick(self.rows):
            ks = by_row.get(int(r), [])
            model.add(sum(teams[k] for k in ks) == int(self.problem.demand[r]))
            if not split:
                model.add_exactly_one(use[k] for k in ks)
        return p_arcs, teams, use

    def _backups(
        self, need: np.ndarray, *, small: bool
    ) -> tuple[np.ndarray, list[cp_model.IntVar]]:
        """Add the free centres' backup arcs: at most one each, never a primary garrison."""
        model, arcs, p = self.model, self.arcs, self.problem.arcs
        b_arcs = _nearest(
            arcs, np.isin(arcs.center, self.free), self.plan.backup[arcs.center], small
        )
        back = [model.new_bool_var(f"y{b}") for b in self._tick(b_arcs)]
        by_center = _group(self._tick(arcs.center[b_arcs].tolist()))
        for i in self._tick(self.free):
            ks = by_center.get(int(i), [])
            if need[i]:
                model.add(sum(back[k] for k in ks) <= 1)
            else:
                model.add(sum(back[k] for k in ks) == 0)
        # A backup differs from every primary garrison of the centre.
        n_g = np.int64(self.problem.n_garrisons)
        primary_keys = self.row_center[p.center[self.p_arcs]] * n_g + p.garrison[self.p_arcs]
        primary_of = _group(self._tick(primary_keys.tolist()))
        backup_keys = arcs.center[b_arcs] * n_g + arcs.garrison[b_arcs]
        for k, key in enumerate(self._tick(backup_keys.tolist())):
            for j in primary_of.get(int(key), []):
                model.add_bool_or([back[k].Not(), self.use[j].Not()])
        return b_arcs, back

    def _capacities(self, capacity: np.ndarray) -> None:
        """Cap each garrison at what the fixed centres leave of its capacity and reserve."""
        plan, p, arcs, m = self.plan, self.problem.arcs, self.arcs, self.problem.n_garrisons
        fixed = ~np.isin(plan.row, self.rows)
        load = np.bincount(plan.garrison[fixed], weights=plan.teams[fixed], minlength=m)
        backed = plan.backup[plan.backup >= 0]
        backed_fixed = backed[~np.isin(np.flatnonzero(plan.backup >= 0), self.free)]
        b_load = np.bincount(backed_fixed, minlength=m)
        for g, ks in _group(self._tick(p.garrison[self.p_arcs].tolist())).items():
            self.model.add(
                sum(self.teams[k] for k in ks) <= int(self.problem.capacity[g] - load[g])
            )
        for g, ks in _group(self._tick(arcs.garrison[self.b_arcs].tolist())).items():
            self.model.add(sum(self.back[k] for k in ks) <= int(capacity[g] - b_load[g]))

    def _hint(self, covered_rows: set[int]) -> None:
        p, plan, arcs = self.problem.arcs, self.plan, self.arcs
        sent = {
            (int(r), int(g)): int(t)
            for r, g, t in self._tick(zip(plan.row, plan.garrison, plan.teams, strict=True))
            if int(r) in covered_rows
        }
        for k, a in enumerate(self._tick(self.p_arcs)):
            t = sent.get((int(p.center[a]), int(p.garrison[a])), 0)
            self.model.add_hint(self.teams[k], t)
            self.model.add_hint(self.use[k], t > 0)
        for k, b in enumerate(self._tick(self.b_arcs)):
            self.model.add_hint(self.back[k], plan.backup[arcs.center[b]] == arcs.garrison[b])

    def solve(self, seed: int) -> Plan:
        """Most backups, then least primary cost, then least backup cost (lexicographic).

        The first two are one weighted objective (a missing backup outweighs any primary
        cost), so every solution CP-SAT finds from the hint trades them correctly. Each
        stage gets the time left before the deadline; a stage that finds nothing keeps
        the previous stage's solution (or the plan as it was).
        """
        sat = cp_sat()
        solver: cp_model.CpSolver = sat.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.random_seed = seed
        p = self.problem.arcs
        weight = int((p.cost[self.p_arcs] * self.problem.demand[p.center[self.p_arcs]]).sum()) + 1
        missing = len(self.back) - sum(self.back)  # a constant offset does not matter
        found = False
        for k, objective in enumerate((weight * missing + self.primary_cost, self.backup_cost)):
            if _late(self.deadline):
                break  # keep what the previous stage found
            self.model.minimize(objective)
            solver.parameters.max_deterministic_time = _DETERMINISTIC_TIME[k]
            if self.deadline is not None:
                left = self.deadline - time.perf_counter()
                solver.parameters.max_time_in_seconds = max(left, 1e-3)
            status = solver.solve(self.model)
            if status not in (sat.OPTIMAL, sat.FEASIBLE):
                break  # keep what the previous stage found (or the plan as it was)
            found = True
            logger.debug(
                "joint stage %d: %d centres, %s, %.2f s",
                k,
                len(self.free),
                solver.status_name(status),
                solver.wall_time,
            )
            variables = [*self.teams, *self.use, *self.back]
            self._values = [solver.value(v) for v in variables]
            if k == 1 or _late(self.deadline):
                break  # the last stage, or no time for it: new hints would go unused
            self.model.add(objective <= round(solver.objective_value))
            self.model.clear_hints()  # type: ignore[no-untyped-call]
            try:
                for var, value in self._tick(zip(variables, self._values, strict=True)):
                    self.model.add_hint(var, value)
            except _OutOfTimeError:
                break
        return self._plan() if found else self.plan

    def _plan(self) -> Plan:
        p, plan = self.problem.arcs, self.plan
        keep = ~np.isin(plan.row, self.rows)
        n_t = len(self.teams)
        teams = np.array(self._values[:n_t], dtype=np.int64)
        on = teams > 0
        backup = plan.backup.copy()
        backup[self.free] = -1
        chosen = np.array(self._values[2 * n_t :], dtype=bool)
        backup[self.arcs.center[self.b_arcs[chosen]]] = self.arcs.garrison[self.b_arcs[chosen]]
        return Plan(
            row=np.concatenate([plan.row[keep], p.center[self.p_arcs[on]]]).astype(np.int64),
            garrison=np.concatenate([plan.garrison[keep], p.garrison[self.p_arcs[on]]]).astype(
                np.int64
            ),
            teams=np.concatenate([plan.teams[keep], teams[on]]),
            backup=backup,
        )


def _nearest(arcs: Arcs, mask: np.ndarray, current: np.ndarray, small: bool) -> np.ndarray:  # noqa: FBT001
    """Pick the arcs under ``mask`` a joint model may use.

    All of them when ``small``; else the nearest few per centre (or row), plus those in use
    (``arcs.garrison == current``).
    """
    mine = np.flatnonzero(mask)
    if small:
        return mine
    order = mine[np.lexsort((arcs.cost[mine], arcs.center[mine]))]
    rank = rank_in_runs(arcs.center[order])
    used = current[order] == arcs.garrison[order]
    return np.sort(order[(rank < _ARCS_PER_CENTER) | used])


def _late(deadline: float | None) -> bool:
    """Whether ``deadline`` (a ``time.perf_counter()`` reading) has passed."""
    return deadline is not None and time.perf_counter() >= deadline


def _ticking(items: Iterable[_T], deadline: float | None) -> Iterator[_T]:
    """Yield ``items``; every ``_CHECK_EVERY`` items, raise :class:`_OutOfTimeError` if late."""
    if deadline is None:
        yield from items
        return
    for k, item in enumerate(items):
        if k % _CHECK_EVERY == 0 and _late(deadline):
            raise _OutOfTimeError
        yield item


def _group(keys: Iterable[int]) -> dict[int, list[int]]:
    """Positions of each distinct key."""
    out: dict[int, list[int]] = {}
    for k, key in enumerate(keys):
        out.setdefault(int(key), []).append(k)
    return out
