"""General assignment problem (GAP) over arrays: agents with capacities, jobs assigned whole.

The model: ``m`` agents (garrisons) and ``n`` jobs (polling centres); job ``j`` at agent
``i`` costs ``cost[i, j]`` and uses ``weight[i, j]`` of the agent's ``capacity[i]`` (the
resource use may differ by agent: a team of one agency may count differently at a
garrison of another). Every job goes to exactly one allowed agent, no agent exceeds its
capacity, and Σ cost is minimised (or maximised).

The benchmarks (``bench_gap.py``) and ``tests/test_gap.py`` use it; it is not part of the
electsec package. Its exact models are electsec's CP-SAT assignment model
(:class:`electsec.solvers.cpsat.AssignmentModel`, the one single-sourcing solves), with a
resource use per (agent, job) pair.

Method (measured on the OR-Library and Yagiura benchmarks, see ``bench_gap.py``):

1. **LP relaxation** with HiGHS (:func:`scipy.optimize.linprog`, interior point with
   crossover; dual simplex if that fails). Its duals give a lower bound that holds for any
   dual values (it is recomputed from them, not trusted from the solver), and reduced
   costs: an arc whose reduced cost exceeds ``incumbent - bound`` can appear in no better
   plan, so every exact model below is built on that *core* only.
2. **Greedy regret** start (Martello & Toth) on the LP reduced costs.
3. **Full CP-SAT model** on the core, hinted with the incumbent, for a short while: small
   instances are proven optimal here.
4. **Large-neighbourhood search**: alternately free every job of a few related agents
   (agents that compete for the same jobs by reduced cost) or jobs scattered over all
   agents, and re-solve that sub-GAP with CP-SAT (one worker, seeded, deterministic time
   limit) on the residual capacities, hinted with the current plan; keep strict
   improvements, and move to a plan of equal cost when the sub-problem returns one.
   Random tie-breaks in the sub-problem's objective (below the cost's last unit, so they
   never trade against it) make it return another plan of the same cost, so the search
   walks across plateaus instead of stopping at its hint. A neighbourhood offers only
   arcs of small reduced cost (a random fraction of ``incumbent - bound``; good plans use
   almost no others), which keeps the models small. Each kind grows after a few
   sub-problems in a row are solved to optimality without improvement and shrinks when
   one times out. When the search stalls, the core model is tried for a while (proof
   attempts; each failed one doubles the wait before the next and halves the time kept
   for step 5).
5. **Final CP-SAT model** on the (re-priced, smaller) core, hinted with the incumbent, for
   the rest of the budget: it may still improve the plan, and its best bound is the proof.
   It is skipped (the search keeps the time) when the core is too large to load in time.

Every step depends only on the inputs and ``seed``, except where ``time_limit_s`` cuts it
short; with ``num_workers=1`` and a generous limit two runs return the same plan.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import scipy.sparse as sp
from ortools.sat.python import cp_model
from scipy.optimize import linprog

from electsec.errors import InfeasibleError, InputError, Issue, SolverError
from electsec.solvers.cpsat import AssignmentModel

__all__ = ["GapInstance", "GapSolution", "read_gap_instances", "solve_gap"]

logger = logging.getLogger(__name__)

Sense = Literal["min", "max"]
Method = Literal["lns", "cpsat"]

_TOL = 1e-6


class GapInstance(NamedTuple):
    """One GAP instance as read from a benchmark file (agent-major ``m × n`` arrays)."""

    cost: np.ndarray
    weight: np.ndarray
    capacity: np.ndarray


@dataclass(frozen=True)
class GapSolution:
    """A GAP plan with its proof.

    Attributes
    ----------
    assignment
        Agent index per job (int64, length ``n``).
    objective
        Σ cost of the plan, in the caller's sense.
    bound
        Proven bound on the optimum: a lower bound for ``sense="min"``, an upper bound
        for ``"max"`` (the LP relaxation or CP-SAT's best bound, whichever is tighter).
    gap
        ``|objective - bound| / max(|objective|, 1)``.
    status
        ``"optimal"`` when ``objective == bound``, else ``"feasible"``.
    sense
        ``"min"`` or ``"max"``.
    lp_bound
        The LP relaxation value (before rounding), in the caller's sense.
    wall_time_s
        Seconds spent in :func:`solve_gap`.
    stats
        Counters of the search (neighbourhoods tried, improvements, core sizes).
    """

    assignment: np.ndarray
    objective: int
    bound: int
    gap: float
    status: str
    sense: str
    lp_bound: float
    wall_time_s: float
    stats: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- reading


def read_gap_instances(path: str | Path) -> list[GapInstance]:
    """Read an OR-Library GAP file (``P`` problems) or a Yagiura file (one problem).

    Parameters
    ----------
    path
        A whitespace-separated integer file: optionally ``P``, then per problem ``m n``,
        the ``m × n`` costs (agent-major), the ``m × n`` resource uses and ``m`` capacities.

    Returns
    -------
    list of GapInstance
        The problems in file order.
    """
    tokens = np.array(re.split(r"\s+", Path(path).read_text().strip()), dtype=np.int64)

    def problem_size(at: int) -> int:
        m, n = int(tokens[at]), int(tokens[at + 1])
        return 2 + 2 * m * n + m

    if len(tokens) >= 2 and problem_size(0) == len(tokens):
        starts, count = [0], 1
    else:
        count, pos, starts = int(tokens[0]), 1, []
        for _ in range(count):
            starts.append(pos)
            pos += problem_size(pos)
        if pos != len(tokens):
            msg = f"{path}: {len(tokens)} tokens do not match {count} GAP problems"
            raise ValueError(msg)
    out = []
    for at in starts:
        m, n = int(tokens[at]), int(tokens[at + 1])
        body = tokens[at + 2 : at + problem_size(at)]
        out.append(
            GapInstance(
                body[: m * n].reshape(m, n).copy(),
                body[m * n : 2 * m * n].reshape(m, n).copy(),
                body[2 * m * n :].copy(),
            )
        )
    return out


# --------------------------------------------------------------------------- the solver


def solve_gap(
    cost: Any,
    weight: Any,
    capacity: Any,
    *,
    allowed: Any = None,
    sense: Sense = "min",
    time_limit_s: float = 60.0,
    seed: int = 0,
    num_workers: int = 1,
    method: Method = "lns",
) -> GapSolution:
    """Solve a generalized assignment problem.

    Parameters
    ----------
    cost
        ``m × n`` integer costs (agent ``i``, job ``j``).
    weight
        ``m × n`` non-negative integer resource use of job ``j`` at agent ``i``.
    capacity
        ``m`` non-negative integer agent capacities.
    allowed
        Optional ``m × n`` boolean mask of the pairs that may be used (default: all).
    sense
        ``"min"`` (default) or ``"max"``.
    time_limit_s
        Wall-clock budget in seconds.
    seed
        Seed of CP-SAT and of the neighbourhood choice.
    num_workers
        CP-SAT workers of the full-model solves (neighbourhoods always use one).
        ``num_workers=1`` is repeatable run to run.
    method
        ``"lns"`` (default: LP bound, greedy start, core CP-SAT and neighbourhood search)
        or ``"cpsat"`` (the plain full CP-SAT model, no hint, no search of ours; a
        baseline).

    Returns
    -------
    GapSolution
        The best plan found, its proven bound and gap.

    Raises
    ------
    InputError
        Arrays of the wrong shape, non-integer or negative weights/capacities.
    InfeasibleError
        No assignment exists (a job with no allowed agent that fits, total resource use
        above capacity, an infeasible LP relaxation, or CP-SAT's proof).
    SolverError
        No feasible plan was found within ``time_limit_s``.

    Examples
    --------
    >>> sol = solve_gap([[1, 5], [4, 2]], [[1, 1], [1, 1]], [1, 1])
    >>> sol.assignment.tolist(), sol.objective, sol.status
    ([0, 1], 3, 'optimal')
    """
    started = time.monotonic()
    deadline = started + max(float(time_limit_s), 0.0)
    c, w, cap, ok = _validate(cost, weight, capacity, allowed, sense)
    sign = 1 if sense == "min" else -1
    inst = _Instance(sign * c, w, cap, ok)
    _check_trivially_infeasible(inst)
    if method == "cpsat":
        result = _plain_cpsat(inst, deadline, seed, num_workers)
    elif method == "lns":
        result = _Search(inst, deadline, seed, num_workers).run()
    else:
        msg = f"unknown method {method!r}"
        raise InputError([Issue("arguments", "method", (), msg)])
    assign, obj, bound, lp_value, stats = result
    objective, proven = sign * obj, sign * bound
    status = "optimal" if obj <= bound else "feasible"
    if status == "optimal":
        proven = objective
    return GapSolution(
        assignment=assign,
        objective=int(objective),
        bound=int(proven),
        gap=abs(objective - proven) / max(abs(objective), 1),
        status=status,
        sense=sense,
        lp_bound=float(sign * lp_value),
        wall_time_s=time.monotonic() - started,
        stats=stats,
    )


def _validate(
    cost: Any, weight: Any, capacity: Any, allowed: Any, sense: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    issues: list[Issue] = []

    def as_int(name: str, value: Any) -> np.ndarray:
        arr = np.asarray(value)
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
            issues.append(Issue("arguments", name, (), "must be an integer array"))
            return np.zeros((0,), dtype=np.int64)
        if not np.issubdtype(arr.dtype, np.integer) and (
            not np.all(np.isfinite(arr)) or not np.all(arr == np.rint(arr))
        ):
            issues.append(Issue("arguments", name, (), "must hold whole numbers"))
            return np.zeros((0,), dtype=np.int64)
        return np.asarray(arr, dtype=np.int64)

    c, w, cap = as_int("cost", cost), as_int("weight", weight), as_int("capacity", capacity)
    if sense not in ("min", "max"):
        issues.append(Issue("arguments", "sense", (), f"must be 'min' or 'max', not {sense!r}"))
    if not issues:
        if c.ndim != 2 or w.shape != c.shape:
            issues.append(Issue("arguments", "weight", (), "cost and weight must be m × n"))
        elif cap.shape != (c.shape[0],):
            issues.append(Issue("arguments", "capacity", (), f"must have length {c.shape[0]}"))
        else:
            bad_w = np.flatnonzero((w < 0).any(axis=0))
            if len(bad_w):
                msg = "resource use must be ≥ 0 (ids are job indices)"
                issues.append(Issue("arguments", "weight", tuple(bad_w.tolist()), msg))
            bad_cap = np.flatnonzero(cap < 0)
            if len(bad_cap):
                msg = "capacity must be ≥ 0 (ids are agent indices)"
                issues.append(Issue("arguments", "capacity", tuple(bad_cap.tolist()), msg))
    ok = np.ones(c.shape, dtype=bool)
    if allowed is not None and not issues:
        ok = np.asarray(allowed)
        if ok.shape != c.shape or ok.dtype != bool:
            issues.append(Issue("arguments", "allowed", (), "must be a boolean m × n mask"))
    if issues:
        raise InputError(issues)
    return c, w, cap, ok.copy()


class _Instance:
    """The instance in min sense, with the usable arcs (allowed and fitting) listed."""

    def __init__(
        self, cost: np.ndarray, weight: np.ndarray, capacity: np.ndarray, allowed: np.ndarray
    ) -> None:
        self.cost = cost
        self.weight = weight
        self.capacity = capacity
        self.m, self.n = cost.shape
        self.usable = allowed & (weight <= capacity[:, None])
        agent, job = np.nonzero(self.usable)
        order = np.lexsort((agent, job))
        self.arc_agent = agent[order].astype(np.int64)
        self.arc_job = job[order].astype(np.int64)
        self.arc_cost = cost[self.arc_agent, self.arc_job]
        self.arc_weight = weight[self.arc_agent, self.arc_job]
        self.arc_index = np.full((self.m, self.n), -1, dtype=np.int64)
        self.arc_index[self.arc_agent, self.arc_job] = np.arange(len(self.arc_job))

    def objective(self, assign: np.ndarray) -> int:
        return int(self.cost[assign, np.arange(self.n)].sum())

    def load(self, assign: np.ndarray) -> np.ndarray:
        placed = np.flatnonzero(assign >= 0)
        w = self.weight[assign[placed], placed]
        return np.bincount(assign[placed], weights=w, minlength=self.m).astype(np.int64)


def _min_use(inst: _Instance) -> np.ndarray:
    """Smallest resource use of each job over its usable agents (0 if it has none)."""
    big = np.iinfo(np.int64).max
    low = np.where(inst.usable, inst.weight, big).min(axis=0, initial=big)
    return np.where(inst.usable.any(axis=0), low, 0)


def _check_trivially_infeasible(inst: _Instance) -> None:
    no_agent = np.flatnonzero(~inst.usable.any(axis=0))
    if len(no_agent):
        raise InfeasibleError(
            _diagnosis(
                inst,
                f"{len(no_agent)} job(s) have no allowed agent with enough capacity",
                unreachable=no_agent.tolist(),
            )
        )
    if int(_min_use(inst).sum()) > int(inst.capacity.sum()):
        raise InfeasibleError(
            _diagnosis(
                inst,
                "the jobs need more resource than all agents hold, even at their "
                "least-using agents",
            )
        )


def _diagnosis(
    inst: _Instance, reason: str, *, unreachable: list[int] | None = None
) -> dict[str, Any]:
    total_demand, total_capacity = int(_min_use(inst).sum()), int(inst.capacity.sum())
    return {
        "reason": reason,
        "total_demand": total_demand,
        "total_capacity": total_capacity,
        "shortfall": max(0, total_demand - total_capacity),
        "unreachable_centers": unreachable or [],
        "blocking_regions": [],
        "n_agents": inst.m,
        "n_jobs": inst.n,
    }


# --------------------------------------------------------------------------- LP bound


@dataclass
class _Lp:
    value: float  # LP optimum (float) as HiGHS reports it
    bound: float  # rigorous lower bound recomputed from the duals
    rc: np.ndarray  # per arc, shifted so that each job's smallest is 0 (obj ≥ bound + Σ rc)
    x: np.ndarray  # LP solution per arc


def _solve_lp(inst: _Instance) -> _Lp:
    """LP relaxation; raises InfeasibleError when even the relaxation is infeasible."""
    k = len(inst.arc_job)
    cols = np.arange(k)
    a_eq = sp.csr_matrix((np.ones(k), (inst.arc_job, cols)), shape=(inst.n, k))
    a_ub = sp.csr_matrix(
        (inst.arc_weight.astype(float), (inst.arc_agent, cols)), shape=(inst.m, k)
    )
    # The interior-point method (with crossover to a vertex) is much faster here than
    # dual simplex on the large instances (Yagiura e801600: 1.2 s against 37 s); the
    # bound below is recomputed from whatever duals come back, so either is safe.
    for method in ("highs-ipm", "highs"):
        res = linprog(
            inst.arc_cost.astype(float),
            A_ub=a_ub,
            b_ub=inst.capacity.astype(float),
            A_eq=a_eq,
            b_eq=np.ones(inst.n),
            bounds=(0, None),
            method=method,
        )
        if res.status in (0, 2):
            break
    if res.status == 2:
        raise InfeasibleError(
            _diagnosis(inst, "even the fractional relaxation cannot fit every job (LP)")
        )
    if res.status != 0:
        msg = f"LP relaxation failed: {res.message}"
        raise SolverError(msg)
    u = np.asarray(res.eqlin.marginals, dtype=float)
    lam = np.minimum(np.asarray(res.ineqlin.marginals, dtype=float), 0.0)
    # obj(x) = Σ rc x + Σ u_j + Σ λ_i load_i ≥ Σ rc x + Σ u_j + Σ λ_i cap_i for λ ≤ 0.
    rc = inst.arc_cost - u[inst.arc_job] - lam[inst.arc_agent] * inst.arc_weight
    low = np.full(inst.n, np.inf)
    np.minimum.at(low, inst.arc_job, rc)
    bound = float(u.sum() + lam @ inst.capacity + low.sum())
    return _Lp(float(res.fun), bound, rc - low[inst.arc_job], np.asarray(res.x))


def _ceil(value: float) -> int:
    return math.ceil(value - _TOL * max(1.0, abs(value)))


# --------------------------------------------------------------------------- CP-SAT


class _Model(AssignmentModel):
    """The shared assignment model over a subset of arcs (sorted by job).

    ``skip`` lists jobs that may stay unassigned at ``penalty`` each (repair steps).
    ``tiebreak`` (small non-negative integers per arc) orders plans of equal cost without
    changing the order of the others: the objective becomes ``cost × scale + tiebreak``
    with ``scale`` above any plan's Σ tiebreak.
    """

    def __init__(
        self,
        inst: _Instance,
        arcs: np.ndarray,
        capacity: np.ndarray,
        hint: np.ndarray | None,
        *,
        skip: np.ndarray | None = None,
        penalty: int = 0,
        tiebreak: np.ndarray | None = None,
    ) -> None:
        job, agent = inst.arc_job[arcs], inst.arc_agent[arcs]
        jobs = np.unique(job) if skip is None else np.union1d(job, skip)
        cost = inst.arc_cost[arcs]
        if tiebreak is not None:
            scale = int(tiebreak.max(initial=0)) * len(jobs) + 1
            cost = cost * scale + tiebreak
            penalty *= scale
        super().__init__(
            job,
            agent,
            cost,
            inst.arc_weight[arcs],
            capacity,
            items=jobs,
            skip_cost=None if skip is None else np.full(len(jobs), penalty, dtype=np.int64),
            skippable=None if skip is None else np.isin(jobs, skip),
            hint=None if hint is None else agent == hint[job],
        )
        self.inst = inst
        self.arcs = arcs

    @property
    def jobs(self) -> np.ndarray:
        """The jobs of the model, sorted."""
        return self.items

    def agents(self) -> np.ndarray:
        """Agent per job of the model (aligned with ``self.jobs``), -1 where skipped."""
        choice = self.choice()
        placed = choice >= 0
        out = np.full(len(self.items), -1, dtype=np.int64)
        out[placed] = self.inst.arc_agent[self.arcs[choice[placed]]]
        return out


def _plain_cpsat(
    inst: _Instance, deadline: float, seed: int, workers: int
) -> tuple[np.ndarray, int, int, float, dict[str, Any]]:
    """Solve the baseline: one full CP-SAT model, no hint, no bound of ours."""
    model = _Model(inst, np.arange(len(inst.arc_job)), inst.capacity, None)
    status = model.solve(seed, workers=workers, max_time_s=deadline - time.monotonic())
    if status == cp_model.INFEASIBLE:
        raise InfeasibleError(_diagnosis(inst, "no whole assignment fits (proven by CP-SAT)"))
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        msg = "CP-SAT found no feasible assignment within the time limit"
        raise SolverError(msg)
    assign = np.full(inst.n, -1, dtype=np.int64)
    assign[model.jobs] = model.agents()
    obj = inst.objective(assign)
    bound = obj if status == cp_model.OPTIMAL else _ceil(model.solver.best_objective_bound)
    return assign, obj, bound, float("nan"), {"method": "cpsat"}


# --------------------------------------------------------------------------- the search

_NONE = np.iinfo(np.int64).max
#: Largest core (arcs) on which the short first full CP-SAT solve is tried; beyond it,
#: loading the model alone eats that budget and the search goes straight to the LNS.
_FIRST_CORE_MAX_ARCS = 20_000
#: Largest core on which the final CP-SAT solve runs; above it (measured: 80,000 arcs of
#: Yagiura e801600) CP-SAT does not even finish loading the model in the time kept, so
#: the neighbourhood search keeps that time instead.
_FINAL_CORE_MAX_ARCS = 40_000
#: Neighbourhoods in a row without improvement before a proof attempt on the core (the
#: count doubles after each attempt that neither proves nor improves the plan).
_PROOF_AFTER_STALL = 40
#: Jobs freed by the first neighbourhoods (the size then adapts to the solve times).
_LNS_JOBS = 50
#: A neighbourhood offers its jobs only arcs whose reduced cost is at most one of these
#: fractions of (incumbent - LP bound), drawn at random: good plans use almost only
#: such arcs (on the OR-Library D instances the best known plans use none above 3 while
#: the incumbent is 50 above the bound), and the small model is solved much faster.
_TAU_FRACTIONS = (1 / 32, 1 / 16, 1 / 8)
#: Neighbourhood solves order plans of equal cost by random tie-breaks in [0, this): the
#: search then walks across plateaus of equal cost instead of returning to its hint
#: (OR-Library d20100 at 60 s, one worker: seed 0 gave 6218 without; seeds 0, 1, 2 give
#: 6212, 6217, 6215 with).
_TIEBREAK = 8
#: Optimally solved neighbourhoods in a row without improvement before one grows.
_GROW_AFTER = 4
#: Deterministic time limit of one neighbourhood solve.
_DET_TIME = 0.3


class _Search:
    """LP bound → LP rounding + greedy regret → core CP-SAT → LNS → final core CP-SAT.

    The incumbent may leave jobs unassigned (-1) until the repair steps place them; its
    value then counts ``penalty`` per unassigned job, more than any plan's cost spread.
    """

    def __init__(self, inst: _Instance, deadline: float, seed: int, workers: int) -> None:
        self.inst = inst
        self.deadline = deadline
        self.seed = seed
        self.workers = max(1, int(workers))
        self.rng = np.random.default_rng(seed)
        self.budget = max(deadline - time.monotonic(), 0.0)
        self.stats: dict[str, Any] = {"method": "lns", "neighbourhoods": 0, "improvements": 0}
        self.assign = np.full(inst.n, -1, dtype=np.int64)
        self.best = _NONE
        self.bound = -_NONE
        spread = int(np.ptp(inst.arc_cost)) if len(inst.arc_cost) else 0
        self.penalty: int = spread * max(int(inst.n), 1) + 1
        self.reserve = 0.25  # share of the budget kept for the final core solve
        self._core_size: tuple[int | None, int] = (None, 0)  # (incumbent, core arcs) cache

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def value(self, assign: np.ndarray) -> int:
        placed = assign >= 0
        cost = int(self.inst.cost[assign[placed], np.flatnonzero(placed)].sum(dtype=np.int64))
        return cost + self.penalty * int((~placed).sum())

    @property
    def complete(self) -> bool:
        return bool((self.assign >= 0).all())

    def run(self) -> tuple[np.ndarray, int, int, float, dict[str, Any]]:
        """Run every phase within the deadline; return plan, value, bound, LP, stats."""
        inst = self.inst
        self.lp = _solve_lp(inst)
        self.bound = _ceil(self.lp.bound)
        self.stats["lp_s"] = round(self.budget - self.left(), 3)
        self._take(_start(inst, self.lp))
        self._take(_greedy_regret(inst, self.lp.rc, np.full(inst.n, -1, dtype=np.int64)))
        self.stats["start_unassigned"] = int((self.assign < 0).sum())
        self.stats["start_value"] = self.best if self.complete else None
        if not self.done() and len(self._core_arcs()) <= _FIRST_CORE_MAX_ARCS:
            self._core_solve(min(max(1.0, 0.05 * self.budget), 0.25 * self.budget), "first")
        if not self.done():
            self._lns()
        final_fits = not self.complete or self._core_len() <= _FINAL_CORE_MAX_ARCS
        if not self.done() and self.left() > 0.05 and final_fits:
            self._core_solve(self.left(), "final")
        if not self.complete:
            msg = "no feasible assignment found within the time limit"
            raise SolverError(msg)
        self.stats["wall_s"] = round(self.budget - self.left(), 3)
        return self.assign.copy(), self.best, min(self.bound, self.best), self.lp.value, self.stats

    def done(self) -> bool:
        return self.complete and self.best <= self.bound

    def _take(self, assign: np.ndarray) -> bool:
        obj = self.value(assign)
        if obj < self.best:
            self.assign, self.best = assign.copy(), obj
            return True
        return False

    def _core_len(self) -> int:
        """Arcs in the current core (cached per incumbent)."""
        if self._core_size[0] != self.best:
            self._core_size = (self.best, len(self._core_arcs()))
        return self._core_size[1]

    def _reserve(self) -> float:
        """Seconds the search keeps for the final core solve (none if it would not run)."""
        size = self._core_len()
        if size > _FINAL_CORE_MAX_ARCS:
            return 0.0
        share = self.reserve if size <= _FIRST_CORE_MAX_ARCS else min(self.reserve, 0.1)
        return share * self.budget

    def _slack(self) -> float:
        """Largest reduced cost an arc of a strictly better complete plan can have."""
        if not self.complete:
            return np.inf
        return self.best - 1 - self.lp.bound + _TOL * max(1.0, abs(self.lp.bound))

    # -- exact model on the reduced-cost core ---------------------------------------
    def _core_arcs(self) -> np.ndarray:
        """Arcs a strictly better plan may use (all when the incumbent is incomplete)."""
        inst = self.inst
        keep = self.lp.rc <= self._slack()
        placed = self.assign >= 0
        keep[inst.arc_index[self.assign[placed], np.flatnonzero(placed)]] = True
        return np.flatnonzero(keep)

    def _core_solve(self, seconds: float, tag: str) -> None:
        inst = self.inst
        if seconds <= 0.01:
            return
        upper = self.best if self.complete else None
        arcs = self._core_arcs()
        self.stats[f"core_arcs_{tag}"] = len(arcs)
        model = _Model(inst, arcs, inst.capacity, self.assign)
        status = model.solve(self.seed, workers=self.workers, max_time_s=min(seconds, self.left()))
        self.stats[f"core_status_{tag}"] = model.solver.status_name(status)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            assign = np.full(inst.n, -1, dtype=np.int64)
            assign[model.jobs] = model.agents()
            self._take(assign)
        if status == cp_model.OPTIMAL:
            core_bound = round(model.solver.objective_value)
        elif status == cp_model.FEASIBLE:
            core_bound = _ceil(model.solver.best_objective_bound)
        elif status == cp_model.INFEASIBLE:
            if upper is None:
                raise InfeasibleError(
                    _diagnosis(inst, "no whole assignment fits (proven by CP-SAT)")
                )
            core_bound = upper  # no plan better than the incumbent exists
        else:
            return
        # Any plan better than ``upper`` uses core arcs only, so min(upper, core) bounds all.
        self.bound = max(self.bound, core_bound if upper is None else min(upper, core_bound))

    # -- large-neighbourhood search -------------------------------------------------
    def _lns(self) -> None:
        inst = self.inst
        if inst.m < 2:
            return
        self.related = _related_agents(inst, self.lp.rc)
        # about _LNS_JOBS jobs per neighbourhood to start with
        size = min(inst.m, max(2, round(_LNS_JOBS * inst.m / max(inst.n, 1))))
        jobs = min(inst.n, _LNS_JOBS)
        det_time = _DET_TIME
        stall = 0  # neighbourhoods since the last improvement
        calm = [0, 0]  # per kind: optimal solves in a row without improvement
        proof_after = _PROOF_AFTER_STALL
        while self.left() > self._reserve() and not self.done():
            if stall >= proof_after and self.complete:
                stall = 0
                if self._core_len() <= _FIRST_CORE_MAX_ARCS:
                    if not self._mid_proof():
                        proof_after *= 2  # the core is hard: search longer before the next
                    continue
            kind = int(self.stats["neighbourhoods"] % 2 == 1 and self.complete)
            if kind:  # scattered jobs that may move to any agent (chains of moves)
                improved, optimal = self._resolve(np.arange(inst.m), det_time, jobs)
            else:  # every job of a few agents that compete for the same jobs
                improved, optimal = self._resolve(self._pick_agents(size), det_time)
            # grow after _GROW_AFTER easy solves of this kind in a row, shrink on a timeout
            calm[kind] = calm[kind] + 1 if optimal and not improved else 0
            grow = calm[kind] >= _GROW_AFTER
            calm[kind] = 0 if grow else calm[kind]
            step = 1 if grow else 0 if optimal else -1
            if kind:
                jobs = min(inst.n, max(4, jobs + step * max(1, jobs // 8)))
            else:
                size = min(inst.m, max(2, size + step))
            self.stats["neighbourhoods"] += 1
            stall = 0 if improved else stall + 1
            self.stats["improvements"] += int(improved)
        self.stats["final_size"] = size
        self.stats["final_jobs"] = jobs

    def _mid_proof(self) -> bool:
        """Try to prove (or beat) the incumbent on the core; False if it did neither."""
        before = self.best
        self.stats["proof_attempts"] = self.stats.get("proof_attempts", 0) + 1
        self._core_solve(min(0.1 * self.budget, self.left() - self._reserve()), "mid")
        if self.done() or self.best < before:
            return True
        self.reserve = max(0.05, self.reserve / 2)  # a longer final solve is unlikely to
        return False

    def _pick_agents(self, size: int) -> np.ndarray:
        inst = self.inst
        unplaced = np.flatnonzero(self.assign < 0)
        if len(unplaced):  # repair: start next to an unassigned job
            j = int(unplaced[self.rng.integers(len(unplaced))])
            arcs = np.flatnonzero(inst.arc_job == j)
            first = int(inst.arc_agent[arcs[np.argmin(self.lp.rc[arcs])]])
        else:
            first = int(self.rng.integers(inst.m))
        chosen = [first]
        pool = [int(b) for b in self.related[first][: 3 * size]]
        while len(chosen) < size and pool:
            a = pool.pop(int(self.rng.integers(min(len(pool), 3))))
            if a not in chosen:
                chosen.append(a)
                pool.extend(int(b) for b in self.related[a][:size] if int(b) not in chosen)
        while len(chosen) < size:
            a = int(self.rng.integers(inst.m))
            if a not in chosen:
                chosen.append(a)
        return np.asarray(chosen, dtype=np.int64)

    def _resolve(
        self, agents: np.ndarray, det_time: float, scattered: int = 0
    ) -> tuple[bool, bool]:
        """Free jobs and re-solve them on the residual capacities of ``agents``.

        With ``scattered`` = 0 the freed jobs are every job of ``agents`` (and unassigned
        jobs near them); otherwise ``scattered`` jobs drawn with probability growing with
        the reduced cost of their current arc. Once the plan is complete, the freed jobs
        may use their current arc and arcs of reduced cost up to a random fraction of
        ``incumbent - LP bound`` (:data:`_TAU_FRACTIONS`); the sub-problem is solved
        exactly on those arcs. Returns (improved, solved to optimality).
        """
        inst = self.inst
        assign = self.assign
        if scattered:
            current_rc = self.lp.rc[inst.arc_index[assign, np.arange(inst.n)]]
            p = 1.0 + current_rc / max(float(current_rc.mean()), 1e-9)
            mine = np.sort(
                self.rng.choice(inst.n, size=min(scattered, inst.n), replace=False, p=p / p.sum())
            )
        else:
            mine = np.flatnonzero(np.isin(assign, agents))
        unplaced = np.flatnonzero(assign < 0)
        if len(unplaced):
            reach = inst.usable[agents][:, unplaced].any(axis=0)
            unplaced = unplaced[reach][:64]
        free = np.union1d(mine, unplaced)
        if not len(free):
            return False, True
        arcs = inst.arc_index[np.ix_(agents, free)].ravel()
        arcs = arcs[arcs >= 0]
        current = inst.arc_index[assign[mine], mine]
        limit = self._slack()
        if np.isfinite(limit):  # a heuristic cut on top of the exact one (see _TAU_FRACTIONS)
            gap = self.best - self.lp.bound
            limit = min(limit, gap * _TAU_FRACTIONS[self.rng.integers(len(_TAU_FRACTIONS))])
        arcs = np.union1d(arcs[self.lp.rc[arcs] <= limit], current)
        w = inst.weight[assign[mine], mine]
        load = inst.load(assign)
        capacity = inst.capacity - load + np.bincount(assign[mine], weights=w, minlength=inst.m)
        model = _Model(
            inst,
            arcs,
            capacity.astype(np.int64),
            assign,
            skip=unplaced if len(unplaced) else None,
            penalty=self.penalty,
            tiebreak=self.rng.integers(0, _TIEBREAK, size=len(arcs)),
        )
        status = model.solve(
            self.seed + self.stats["neighbourhoods"],
            workers=1,
            max_time_s=max(0.01, self.left()),
            deterministic_time=det_time,
        )
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return False, False
        new = assign.copy()
        new[model.jobs] = model.agents()
        if self._take(new):
            return True, status == cp_model.OPTIMAL
        if self.value(new) == self.best:  # another plan of the same cost: walk the plateau
            self.assign = new
        return False, status == cp_model.OPTIMAL


def _related_agents(inst: _Instance, rc: np.ndarray, top: int = 4) -> list[np.ndarray]:
    """For each agent, the other agents sharing most jobs' cheapest arcs, closest first."""
    m = inst.m
    order = np.lexsort((rc, inst.arc_job))
    rank = np.arange(len(order)) - np.searchsorted(inst.arc_job[order], inst.arc_job[order])
    best = order[rank < top]
    job, agent = inst.arc_job[best], inst.arc_agent[best]
    weight = np.zeros((m, m), dtype=np.int64)
    for shift in range(1, top):
        same = job[shift:] == job[:-shift]
        np.add.at(weight, (agent[shift:][same], agent[:-shift][same]), 1)
    weight = weight + weight.T
    out = []
    for a in range(m):
        order_a = np.argsort(-weight[a], kind="stable")
        out.append(order_a[order_a != a])
    return out


def _start(inst: _Instance, lp: _Lp) -> np.ndarray:
    """LP rounding: keep the jobs the LP assigns whole; complete greedily."""
    assign = np.full(inst.n, -1, dtype=np.int64)
    whole = lp.x > 1 - 1e-6
    assign[inst.arc_job[whole]] = inst.arc_agent[whole]
    return _greedy_regret(inst, lp.rc, assign)


def _greedy_regret(inst: _Instance, rc: np.ndarray, assign: np.ndarray) -> np.ndarray:
    """Martello-Toth regret heuristic on reduced costs, completing ``assign``.

    Jobs that fit nowhere when their turn comes stay at -1.
    """
    m = inst.m
    assign = assign.copy()
    desir = np.full((m, inst.n), np.inf)
    desir[inst.arc_agent, inst.arc_job] = rc + 1e-3 * inst.arc_cost
    weight = inst.weight
    placed = np.flatnonzero(assign >= 0)
    residual = inst.capacity - np.bincount(
        assign[placed], weights=weight[assign[placed], placed], minlength=m
    ).astype(np.int64)
    open_jobs = assign < 0
    while open_jobs.any():
        idx = np.flatnonzero(open_jobs)
        d = np.where(weight[:, idx] <= residual[:, None], desir[:, idx], np.inf)
        low = d.min(axis=0)
        stuck = ~np.isfinite(low)
        if stuck.any():
            open_jobs[idx[stuck]] = False
            continue
        if m >= 2:
            second = np.partition(d, 1, axis=0)[1]
            regret = np.where(np.isfinite(second), second - low, 1e18)
        else:
            regret = -low
        k = int(np.argmax(regret))
        j, i = int(idx[k]), int(np.argmin(d[:, k]))
        assign[j] = i
        residual[i] -= weight[i, j]
        open_jobs[j] = False
    return assign
