"""Warm-started scenario solves: what a sweep's workers run (numpy, scipy and OR-Tools only).

A sweep solves many edits of one instance (a garrison lost, capacities or demands changed).
The base is solved once; its final LP arc pool (the priced arcs the optimum needed) is
kept in a :class:`WarmBase`, sent to each worker once, and every edit starts its split LP
from that pool instead of from the national candidates. Pricing then checks every allowed
arc against the oracle as in a cold solve, so the split optimum is exactly the cold one
(see :func:`electsec.solvers.flow.solve_split`); only the rounds are smaller and fewer.

Tasks carry only the arrays an edit changes. They are pure functions of (base, edit,
settings): a task lost with its worker can be run again anywhere with the same answer.
"""

from __future__ import annotations

import hashlib
import pickle
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from electsec.budget import Budget
from electsec.errors import ElectsecError
from electsec.problem import Arcs, Instance, Problem
from electsec.solvers.flow import (
    FlowSolution,
    _Network,
    _with_arcs,
    price,
    solve_split,
)
from electsec.solvers.pipeline import Outcome, Settings, solve_instance
from electsec.solvers.resolve import proven

__all__ = [
    "Edit",
    "Reshaped",
    "Solved",
    "WarmBase",
    "load_cached",
    "repair",
    "solve_cached",
    "solve_edit",
    "solve_whole",
]


@dataclass(frozen=True)
class WarmBase:
    """A solved base instance: the instance, its final LP pool and a key naming both.

    Attributes
    ----------
    instance
        The base instance (never modified).
    start
        The arcs the base split LP ended on; every edit starts from them.
    key
        SHA-256 of the pickled instance: workers cache the base under it.
    served, served_flow
        The arcs the base optimum uses and its flow on them.
    covered
        Whether the base optimum covers every centre.
    center_potential
        The base optimum's centre duals: an edit's split LP looks ahead from them.
    """

    instance: Instance
    start: Arcs
    key: str
    served: Arcs
    served_flow: np.ndarray
    covered: bool
    center_potential: np.ndarray

    @classmethod
    def build(cls, instance: Instance) -> WarmBase:
        """Solve the base split LP once and keep its pool."""
        lp = solve_split(instance.problem, instance.options, widen=False)
        digest = hashlib.sha256(pickle.dumps(instance, protocol=pickle.HIGHEST_PROTOCOL))
        used = lp.flow > 0
        key = "sha256:" + digest.hexdigest()
        served, flow, covered = lp.arcs.subset(used), lp.flow[used], not lp.shortfall
        return cls(instance, lp.arcs, key, served, flow, covered, lp.center_potential)

    def start_for(self, edit: Edit) -> Arcs:
        """Return the pool an edit starts from.

        The base pool, plus every first candidate of the rows the edit touches (served by
        a garrison that lost teams, or with a new demand): fewer pricing rounds.
        """
        problem = self.instance.problem
        touched = np.zeros(problem.n_centers, dtype=bool)
        if edit.capacity is not None:
            fewer = edit.capacity < problem.capacity
            touched[self.served.center[fewer[self.served.garrison]]] = True
        if edit.demand is not None:
            touched |= edit.demand != problem.demand
        if not touched.any():
            return self.start
        return self.start.union(problem.arcs.subset(touched[problem.arcs.center]))


@dataclass(frozen=True)
class Reshaped:
    """A solved base's final LP pool, by demand row id: a start for instances prepared again.

    Scenarios that change tiers, limits or centres give an instance whose rows and
    allowed pairs differ from the base's, so the pool cannot be reused as it is. What
    carries over is the pool's (row, garrison) pairs: :meth:`start` asks the edited
    instance's own oracle for each base row's arcs up to that row's costliest pool arc,
    and keeps those of the pool's pairs. Every start arc is thus allowed in the edited
    instance, with its cost there, and pricing still checks every allowed arc: the split
    optimum is the cold one; only the pricing rounds are fewer.

    Attributes
    ----------
    rows
        Sorted ids of the demand rows the pool has arcs for (centre, and agency).
    radius
        Per such row, the cost of its costliest pool arc.
    pairs
        The pool's arcs as sorted keys ``position in rows × garrisons + garrison``.
    garrison_ids
        The base's garrisons (a start needs the same ones, in the same order).
    """

    rows: np.ndarray
    radius: np.ndarray
    pairs: np.ndarray
    garrison_ids: np.ndarray

    @classmethod
    def of(cls, base: WarmBase) -> Reshaped:
        """Keep ``base``'s pool by row id."""
        pool, labels = base.start, base.instance.labels
        ids = _row_ids(labels.center_ids, labels.forces.row_center, labels.forces.row_agency)
        rows, position = np.unique(ids[pool.center], return_inverse=True)
        radius = np.full(len(rows), -np.inf)
        np.maximum.at(radius, position, pool.cost.astype(float))
        m = len(labels.garrison_ids)
        pairs = np.unique(position.astype(np.int64) * m + pool.garrison)
        return cls(rows, radius, pairs, labels.garrison_ids)

    def start(self, instance: Instance) -> Arcs | None:
        """Return the arcs to start ``instance``'s split LP from (None: solve it cold)."""
        problem, labels = instance.problem, instance.labels
        same = np.array_equal(labels.garrison_ids, self.garrison_ids)
        if problem.oracle is None or instance.backup is not None or not same or not len(self.rows):
            return None
        forces = labels.forces
        ids = _row_ids(labels.center_ids, forces.row_center, forces.row_agency)
        at = np.minimum(np.searchsorted(self.rows, ids), len(self.rows) - 1)
        rows = np.flatnonzero(self.rows[at] == ids)
        if not len(rows):
            return None
        # Costs are whole units rounded from the exact ones: one unit more keeps every arc.
        near = problem.oracle_arcs(self.radius[at[rows]] + 1, rows)
        key = at[near.center].astype(np.int64) * problem.n_garrisons + near.garrison
        found = np.minimum(np.searchsorted(self.pairs, key), len(self.pairs) - 1)
        return near.subset(self.pairs[found] == key)


def _row_ids(
    center_ids: np.ndarray, row_center: np.ndarray, agency: np.ndarray | None
) -> np.ndarray:
    """Return one id per demand row: its centre's id, and its agency when there are agencies."""
    centers: np.ndarray = np.asarray(center_ids).astype(str)[row_center]
    if agency is None:
        return centers
    ids: np.ndarray = np.char.add(np.char.add(centers, "\x00"), np.asarray(agency).astype(str))
    return ids


@dataclass(frozen=True)
class Edit:
    """What one scenario changes: the new capacities and demands (None: as the base).

    Attributes
    ----------
    capacity
        Teams each garrison can send (reserve excluded), or None.
    demand
        Teams each demand row needs, or None.
    """

    capacity: np.ndarray | None = None
    demand: np.ndarray | None = None

    @property
    def is_empty(self) -> bool:
        """True when the edit changes nothing."""
        return self.capacity is None and self.demand is None

    def apply(self, instance: Instance) -> Instance:
        """Return ``instance`` with the edit's arrays (``instance`` is not changed)."""
        return instance.replace(capacity=self.capacity, demand=self.demand)


@dataclass(frozen=True)
class Solved:
    """A task's answer: the outcome (or the error raised) and the seconds it took."""

    outcome: Outcome | ElectsecError
    seconds: float


def solve_edit(
    base: WarmBase, edit: Edit, settings: Settings, time_limit_s: float | None
) -> Solved:
    """Solve one edit of ``base``, warm-started from its LP pool.

    Parameters
    ----------
    base
        The solved base.
    edit
        The scenario's arrays.
    settings
        Split or whole teams, objective, coverage, seed.
    time_limit_s
        Wall-clock budget of this one solve, or None.

    Returns
    -------
    Solved
        Errors the solvers raise on purpose are returned, not raised, so they cross
        process boundaries as answers.
    """
    started = time.perf_counter()
    budget = Budget(time_limit_s, started)
    try:
        instance = edit.apply(base.instance)
        pool = base.start_for(edit)
        widen = not settings.split or instance.backup is not None
        lp = repair(base, instance.problem, pool, edit, widen=widen)
        look = (base.center_potential, LOOKAHEAD_SLACK)
        outcome: Outcome | ElectsecError = solve_instance(
            instance, settings, budget, start=pool, lp=lp, lookahead=look
        )
    except ElectsecError as err:
        outcome = err
    return Solved(outcome, time.perf_counter() - started)


def solve_whole(
    time_limit_s: float | None, restart: Reshaped | None, settings: Settings, instance: Instance
) -> Solved:
    """Solve an edited instance whole, as ``es.solve`` does, and return its arrays.

    For scenarios the warm repair cannot carry (tiers, limits, added centres, closed
    roads, stable re-plans: ``settings.baseline``). With ``restart`` the split LP starts
    from the base's pool (:class:`Reshaped`); the optimum is the same. The worker needs
    the array layer only: the driver labels the outcome.
    """
    started = time.perf_counter()
    budget = Budget(time_limit_s, started)
    try:
        start = None if restart is None else restart.start(instance)
        outcome: Outcome | ElectsecError = solve_instance(instance, settings, budget, start=start)
    except ElectsecError as err:
        outcome = err
    return Solved(outcome, time.perf_counter() - started)


#: Slack (whole cost units) of the first pricing round of a split LP solved from the pool:
#: rows whose dual moved also bring arcs this close to improving, so fewer pricing rounds
#: (flow solves) follow; a wider slack brings many more arcs for few rounds saved. Tuned
#: on the national sample with five garrisons lost: 1,000 when every round was solved
#: whole; 3,000 once the later rounds are re-solved locally (solvers.resolve), 10,000
#: slower (benchmarks/RESULTS.md, "Local re-solves").
LOOKAHEAD_SLACK = 3_000
#: Rows → garrisons → rows steps the repair region grows from the touched rows.
REPAIR_HOPS = 3
#: Bellman-Ford rounds the repaired flow's duals may take (the national base takes ~20).
REPAIR_ROUNDS = 200


def repair(
    base: WarmBase, problem: Problem, pool: Arcs, edit: Edit, *, widen: bool
) -> FlowSolution | None:
    """Re-solve only around the edit and prove the result optimal over every arc.

    The rows near the edit (:func:`_region`) are re-solved with every other row's flow
    kept from the base optimum. The merged flow is optimal on ``pool`` exactly when its
    residual graph has no negative cycle, i.e. when Bellman-Ford settles its duals, and
    optimal over every allowed arc when pricing with those duals finds no arc. When
    either check fails the region grows (by the rows of the priced arcs, and one more
    step) and is solved again, :data:`REPAIR_TRIES` times at most. The result is the
    exact LP optimum, or None (then solve as usual).
    """
    if not base.covered or problem.oracle is None or edit.is_empty:
        return None
    region = _region(base, problem, pool, edit)
    if region.sum() > max(REPAIR_MIN_ROWS, REPAIR_START_SHARE * problem.n_centers):
        return None  # several losses far apart: the region rarely settles (see below)
    for _ in range(REPAIR_TRIES):
        if region.sum() > max(REPAIR_MIN_ROWS, REPAIR_MAX_SHARE * problem.n_centers):
            return None  # hardly local: solving from the pool is cheaper
        flow = _local_flow(base, problem, pool, region)
        if flow is None:
            return None
        duals = proven(problem, pool, flow, rounds=REPAIR_ROUNDS)
        if duals is not None:
            new = price(problem, duals, max_per_center=REPAIR_PRICED)
            if not len(new):
                return _with_arcs(duals, problem.arcs, problem.n_garrisons) if widen else duals
            pool = pool.union(new)
            region[new.center] = True
        _grow(base, pool, region, 1)
    return None


#: Largest share of the rows a repair region may hold (beyond its first rows).
REPAIR_MAX_SHARE = 0.5
#: Largest share of the rows the first region may hold. On the national sample single
#: losses start small and mostly settle; several losses far apart start large and rarely
#: do, after local flows that are time lost before the usual solve (tuned by profiling;
#: figures not recorded).
REPAIR_START_SHARE = 0.35
#: A region may always hold this many rows (small instances re-solve cheaply).
REPAIR_MIN_ROWS = 2_000
#: Local solves a repair tries before giving up.
REPAIR_TRIES = 4
#: Arcs per row a repair's pricing brings back.
REPAIR_PRICED = 5


def _local_flow(
    base: WarmBase, problem: Problem, pool: Arcs, region: np.ndarray
) -> np.ndarray | None:
    """Flow on ``pool``: the region's rows re-solved, every other row's kept from the base."""
    rows = np.flatnonzero(region)
    keep_out = ~region[base.served.center]
    load_out = np.bincount(
        base.served.garrison[keep_out],
        weights=base.served_flow[keep_out],
        minlength=problem.n_garrisons,
    ).astype(np.int64)
    left = problem.capacity - load_out
    if (left < 0).any():
        return None
    mask = region[pool.center]
    sub_arcs = Arcs(
        np.searchsorted(rows, pool.center[mask]).astype(np.int32),
        pool.garrison[mask],
        pool.cost[mask],
    )
    found = _Network.build(Problem(problem.demand[rows], left, sub_arcs), sub_arcs, None).solve(
        if_feasible=True
    )
    if found is None:
        return None
    flow = np.zeros(len(pool), dtype=np.int64)
    flow[np.flatnonzero(mask)] = found[: len(sub_arcs)]
    m = problem.n_garrisons
    flow[np.searchsorted(pool.keys(m), base.served.keys(m)[keep_out])] = base.served_flow[keep_out]
    return flow


def _grow(base: WarmBase, pool: Arcs, region: np.ndarray, hops: int) -> None:
    """Add, ``hops`` times, the rows served by a garrison a region row has a pool arc to."""
    for _ in range(hops):
        near = np.zeros(len(base.instance.problem.capacity), dtype=bool)
        near[pool.garrison[region[pool.center]]] = True
        region[base.served.center[near[base.served.garrison]]] = True


def _region(base: WarmBase, problem: Problem, pool: Arcs, edit: Edit) -> np.ndarray:
    """Return the mask of rows the edit touches, grown :data:`REPAIR_HOPS` times through the pool.

    A step adds every garrison a region row has a pool arc to, then every row such a
    garrison serves in the base plan.
    """
    n, m = problem.n_centers, problem.n_garrisons
    before = base.instance.problem
    changed_g = np.zeros(m, dtype=bool)
    if edit.capacity is not None:
        changed_g = edit.capacity != before.capacity
    region = np.zeros(n, dtype=bool)
    region[base.served.center[changed_g[base.served.garrison]]] = True
    region[pool.center[changed_g[pool.garrison]]] = True
    if edit.demand is not None:
        region |= edit.demand != before.demand
    _grow(base, pool, region, REPAIR_HOPS)
    return region


#: What this worker process has loaded, by key (the last one only).
_CACHE: dict[str, Any] = {}


def load_cached(key: str, path: str) -> Any:
    """Return the object pickled at ``path``, read once per worker process under ``key``.

    For executors without a way to broadcast data (process pools): the driver writes
    what every task needs (the base) to a file once, and each worker reads it the first
    time a task asks for ``key``.
    """
    found = _CACHE.get(key)
    if found is None:
        with Path(path).open("rb") as f:
            found = pickle.load(f)  # noqa: S301 - the file this sweep's driver just wrote
        _CACHE.clear()
        _CACHE[key] = found
    return found


def solve_cached(
    key: str, path: str, edit: Edit, settings: Settings, time_limit_s: float | None
) -> Solved:
    """:func:`solve_edit` on the base pickled at ``path``, loaded once per worker process."""
    base: WarmBase = load_cached(key, path)
    return solve_edit(base, edit, settings, time_limit_s)
