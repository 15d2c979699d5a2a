"""Backup coverage: a second garrison's reserve for every covered centre.

Given the primary plan, choosing backups is a transportation problem (each centre needs
one backup; a garrison backs up at most ``reserve × centers_per_team`` centres; a centre's
own primary garrisons are excluded), solved exactly as a min-cost flow. Only when that
fails while backups exist for everyone in principle — a centre's only reachable reserves
sit at its own primary garrisons — do primaries and backups have to be chosen together:
a CP-SAT model over the centres concerned and their neighbours, growing until it
succeeds or proves there is no joint plan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from electsec.errors import SolverError
from electsec.problem import Arcs, Problem
from electsec.solvers.flow import solve_transport

__all__ = ["Plan", "assign_backups", "choose_jointly"]

#: Centres in the first joint neighbourhood; it grows fourfold while that is infeasible.
_FIRST_NEIGHBOURHOOD = 200
#: CP-SAT deterministic time per joint model (machine independent).
_DETERMINISTIC_TIME = 20.0


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
    kept = Arcs(arcs.center[usable], arcs.garrison[usable], arcs.cost[usable])
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
    seed: int = 0,
) -> Plan | None:
    """Re-choose primaries and backups together around the centres left without backup.

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
    seed
        CP-SAT seed (one worker: repeatable).

    Returns
    -------
    Plan or None
        A plan in which every centre that needs one has a backup, or None when there is
        none (proven on the whole instance).
    """
    need = _needs(plan, row_center, len(plan.backup))
    missing = np.flatnonzero(need & (plan.backup < 0))
    size, before = _FIRST_NEIGHBOURHOOD, -1
    while True:
        free = _neighbourhood(problem, plan, row_center, arcs, missing, size)
        if len(free) == before:  # nothing more is connected: free every centre
            free = np.union1d(free, np.flatnonzero(need))
        everything = bool(np.isin(np.flatnonzero(need), free).all())
        found = _JointModel(problem, plan, row_center, arcs, capacity, free, split).solve(seed)
        if found is not None:
            return found
        if everything:
            return None
        size, before = size * 4, len(free)


def _needs(plan: Plan, row_center: np.ndarray, n_centers: int) -> np.ndarray:
    need = np.zeros(n_centers, dtype=bool)
    need[row_center[plan.row[plan.teams > 0]]] = True
    return need


def _neighbourhood(
    problem: Problem,
    plan: Plan,
    row_center: np.ndarray,
    arcs: Arcs,
    missing: np.ndarray,
    size: int,
) -> np.ndarray:
    """Centres to free: the missing ones, then those sharing garrisons with them."""
    need = _needs(plan, row_center, len(plan.backup))
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
        free: np.ndarray,
        split: bool,  # noqa: FBT001
    ) -> None:
        self.problem, self.plan, self.free = problem, plan, free
        self.rows = np.flatnonzero(np.isin(row_center, free))
        self.row_center = row_center
        m = problem.n_garrisons
        model = cp_model.CpModel()
        self.model = model
        fixed = ~np.isin(plan.row, self.rows)
        load = np.bincount(plan.garrison[fixed], weights=plan.teams[fixed], minlength=m)
        backed = plan.backup[plan.backup >= 0]
        backed_fixed = backed[~np.isin(np.flatnonzero(plan.backup >= 0), free)]
        b_load = np.bincount(backed_fixed, minlength=m)

        p = problem.arcs
        self.p_arcs = np.flatnonzero(np.isin(p.center, self.rows))
        demand = problem.demand[p.center[self.p_arcs]]
        self.teams = [
            model.new_int_var(0, int(d), f"t{a}") for a, d in zip(self.p_arcs, demand, strict=True)
        ]
        self.use = [model.new_bool_var(f"u{a}") for a in self.p_arcs]
        for t, u, d in zip(self.teams, self.use, demand, strict=True):
            if split:
                model.add(t <= int(d) * u)
            else:
                model.add(t == int(d) * u)
        by_row = _group(p.center[self.p_arcs])
        for r in self.rows:
            ks = by_row.get(int(r), [])
            model.add(sum(self.teams[k] for k in ks) == int(problem.demand[r]))
            if not split:
                model.add_exactly_one(self.use[k] for k in ks)

        self.arcs = arcs
        self.b_arcs = np.flatnonzero(np.isin(arcs.center, free))
        self.back = [model.new_bool_var(f"y{b}") for b in self.b_arcs]
        need = _needs(plan, row_center, len(plan.backup))
        covered_rows = set(plan.row[plan.teams > 0].tolist())
        by_center = _group(arcs.center[self.b_arcs])
        for i in free:
            ks = by_center.get(int(i), [])
            if need[i]:
                model.add_exactly_one(self.back[k] for k in ks)
            else:
                model.add(sum(self.back[k] for k in ks) == 0)
        # A backup differs from every primary garrison of the centre.
        n_g = np.int64(m)
        primary_of = _group(row_center[p.center[self.p_arcs]] * n_g + p.garrison[self.p_arcs])
        backup_keys = arcs.center[self.b_arcs] * n_g + arcs.garrison[self.b_arcs]
        for k, key in enumerate(backup_keys):
            for j in primary_of.get(int(key), []):
                model.add_bool_or([self.back[k].Not(), self.use[j].Not()])
        for g, ks in _group(p.garrison[self.p_arcs]).items():
            model.add(sum(self.teams[k] for k in ks) <= int(problem.capacity[g] - load[g]))
        for g, ks in _group(arcs.garrison[self.b_arcs]).items():
            model.add(sum(self.back[k] for k in ks) <= int(capacity[g] - b_load[g]))
        self.primary_cost = sum(
            int(p.cost[a]) * t for a, t in zip(self.p_arcs, self.teams, strict=True)
        )
        self.backup_cost = sum(
            int(arcs.cost[b]) * y for b, y in zip(self.b_arcs, self.back, strict=True)
        )
        self._hint(covered_rows)

    def _hint(self, covered_rows: set[int]) -> None:
        p, plan = self.problem.arcs, self.plan
        sent = {
            (int(r), int(g)): int(t)
            for r, g, t in zip(plan.row, plan.garrison, plan.teams, strict=True)
            if int(r) in covered_rows
        }
        for k, a in enumerate(self.p_arcs):
            t = sent.get((int(p.center[a]), int(p.garrison[a])), 0)
            self.model.add_hint(self.teams[k], t)
            self.model.add_hint(self.use[k], t > 0)

    def solve(self, seed: int) -> Plan | None:
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.random_seed = seed
        solver.parameters.max_deterministic_time = _DETERMINISTIC_TIME
        self.model.minimize(self.primary_cost)
        status = solver.solve(self.model)
        if status == cp_model.INFEASIBLE:
            return None
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            msg = "backup coverage: CP-SAT found no joint plan within its time"
            raise SolverError(msg)
        # Lexicographic: keep the primary cost, then make the backups as near as possible.
        self.model.add(self.primary_cost <= round(solver.objective_value))
        self.model.clear_hints()  # type: ignore[no-untyped-call]
        for var in [*self.teams, *self.use, *self.back]:
            self.model.add_hint(var, solver.value(var))
        self.model.minimize(self.backup_cost)
        second = solver.solve(self.model)
        if second in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return self._plan(solver)
        msg = "backup coverage: CP-SAT lost the joint plan it had found"  # pragma: no cover
        raise SolverError(msg)  # pragma: no cover

    def _plan(self, solver: cp_model.CpSolver) -> Plan:
        p, plan = self.problem.arcs, self.plan
        keep = ~np.isin(plan.row, self.rows)
        teams = np.array([solver.value(t) for t in self.teams], dtype=np.int64)
        on = teams > 0
        backup = plan.backup.copy()
        backup[self.free] = -1
        chosen = np.array([solver.value(y) for y in self.back], dtype=bool)
        backup[self.arcs.center[self.b_arcs[chosen]]] = self.arcs.garrison[self.b_arcs[chosen]]
        return Plan(
            row=np.concatenate([plan.row[keep], p.center[self.p_arcs[on]]]).astype(np.int64),
            garrison=np.concatenate([plan.garrison[keep], p.garrison[self.p_arcs[on]]]).astype(
                np.int64
            ),
            teams=np.concatenate([plan.teams[keep], teams[on]]),
            backup=backup,
        )


def _group(keys: np.ndarray) -> dict[int, list[int]]:
    """Positions of each distinct key."""
    out: dict[int, list[int]] = {}
    for k, key in enumerate(keys.tolist()):
        out.setdefault(int(key), []).append(k)
    return out
