"""General GAP solver (``benchmarks/gap_solver.py``): exactness against scipy ``milp``, an
independent checker, benchmarks.

The reference model here is written from scratch (dense binaries, HiGHS through
``scipy.optimize.milp``) and shares nothing with ``gap_solver`` (conftest puts the
benchmarks folder on the path).
"""

from __future__ import annotations

import csv
import doctest
import time
from pathlib import Path

import gap_solver as g
import numpy as np
import pytest
import scipy.sparse as sp
from gap_solver import GapSolution, read_gap_instances, solve_gap
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from electsec.errors import InfeasibleError, InputError

ROOT = Path(__file__).resolve().parents[1]
GAP_DATA = ROOT.parent / "shared" / "benchmarks" / "gap"
needs_data = pytest.mark.skipif(
    not (GAP_DATA / "known_values.csv").exists(), reason="shared GAP benchmark data absent"
)


#: Hypothesis settings of the property tests here (each sets its own example count).
PROPERTY = settings(derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reference(cost, weight, capacity, allowed=None, sense="min"):
    """Exact optimum by HiGHS on the dense binary model, or None when infeasible."""
    m, n = cost.shape
    allowed = np.ones((m, n), dtype=bool) if allowed is None else allowed
    sign = 1 if sense == "min" else -1
    # variable k = i * n + j
    each_job = sp.kron(np.ones((1, m)), sp.identity(n))
    per_agent = sp.block_diag([weight[i][None, :] for i in range(m)])
    res = milp(
        sign * cost.ravel().astype(float),
        constraints=[
            LinearConstraint(each_job, 1, 1),
            LinearConstraint(per_agent, -np.inf, capacity.astype(float)),
        ],
        integrality=np.ones(m * n),
        bounds=Bounds(0, allowed.ravel().astype(float)),
    )
    if res.status == 2:
        return None
    assert res.status == 0, res.message
    return round(sign * res.fun)


def check_plan(cost, weight, capacity, sol: GapSolution, allowed=None):
    """Independent checker: every job once at an allowed agent, capacity, objective."""
    m, n = cost.shape
    a = np.asarray(sol.assignment)
    assert a.shape == (n,)
    assert ((a >= 0) & (a < m)).all()
    jobs = np.arange(n)
    if allowed is not None:
        assert allowed[a, jobs].all()
    load = np.bincount(a, weights=weight[a, jobs], minlength=m)
    assert (load <= capacity).all()
    assert int(cost[a, jobs].sum()) == sol.objective


def draw(seed: int, m: int, n: int, *, tightness: float, masked: bool):
    rng = np.random.default_rng(seed)
    cost = rng.integers(-5, 40, size=(m, n))
    weight = rng.integers(1, 12, size=(m, n))
    capacity = np.maximum(1, (tightness * weight.mean(axis=0).sum() / m)).astype(np.int64)
    capacity = (capacity * rng.uniform(0.7, 1.3, size=m)).astype(np.int64)
    allowed = rng.random((m, n)) < 0.8 if masked else None
    return cost, weight, capacity, allowed


@settings(PROPERTY, max_examples=30)
@given(
    seed=st.integers(0, 2**32 - 1),
    m=st.integers(1, 5),
    n=st.integers(1, 12),
    tightness=st.floats(0.9, 2.0),
    masked=st.booleans(),
    sense=st.sampled_from(["min", "max"]),
)
def test_matches_exact_milp(seed, m, n, tightness, masked, sense):
    cost, weight, capacity, allowed = draw(seed, m, n, tightness=tightness, masked=masked)
    best = reference(cost, weight, capacity, allowed, sense)
    if best is None:
        with pytest.raises(InfeasibleError):
            solve_gap(cost, weight, capacity, allowed=allowed, sense=sense, time_limit_s=10)
        return
    sol = solve_gap(cost, weight, capacity, allowed=allowed, sense=sense, time_limit_s=10)
    check_plan(cost, weight, capacity, sol, allowed)
    assert sol.sense == sense
    if sense == "min":
        assert sol.bound <= best <= sol.objective
    else:
        assert sol.bound >= best >= sol.objective
    if sol.status == "optimal":
        assert sol.objective == best == sol.bound
        assert sol.gap == 0
    assert sol.gap == pytest.approx(abs(sol.objective - sol.bound) / max(abs(sol.objective), 1))


def test_small_instances_are_proven_optimal():
    for seed in range(5):
        cost, weight, capacity, _ = draw(seed, 4, 12, tightness=1.5, masked=False)
        sol = solve_gap(cost, weight, capacity, time_limit_s=10)
        assert sol.status == "optimal"
        assert sol.objective == reference(cost, weight, capacity)


def test_agent_specific_weights_change_the_plan():
    # job 1 is cheap at agent 0 but uses 3 there; agent 0 holds 3, so both cannot go there
    cost = np.array([[1, 1], [10, 10]])
    weight = np.array([[2, 3], [1, 1]])
    sol = solve_gap(cost, weight, [3, 2])
    assert sol.status == "optimal"
    assert sol.objective == 11
    check_plan(cost, weight, np.array([3, 2]), sol)


def test_max_sense_maximises():
    cost = np.array([[5, 1, 4], [2, 6, 3]])
    weight = np.ones((2, 3), dtype=int)
    sol = solve_gap(cost, weight, [2, 2], sense="max")
    assert sol.objective == 15 == reference(cost, weight, np.array([2, 2]), sense="max")
    assert sol.bound == 15
    assert sol.status == "optimal"


def test_infeasible_capacity_raises_with_diagnosis():
    cost = np.zeros((2, 4), dtype=int)
    weight = np.full((2, 4), 3)
    with pytest.raises(InfeasibleError) as info:
        solve_gap(cost, weight, [5, 5])  # 4 jobs of 3 cannot pack into two bins of 5
    diagnosis = info.value.diagnosis
    assert diagnosis["reason"]
    assert diagnosis["total_demand"] == 12
    assert diagnosis["total_capacity"] == 10


def test_integral_infeasibility_is_proven():
    # the LP fits (total 12 ≤ 12) but whole jobs of 4 do not pack into bins of 6
    cost = np.zeros((2, 3), dtype=int)
    weight = np.full((2, 3), 4)
    with pytest.raises(InfeasibleError, match="proven by CP-SAT"):
        solve_gap(cost, weight, [6, 6])


def test_job_with_no_allowed_agent_is_named():
    cost = np.ones((2, 3), dtype=int)
    weight = np.ones((2, 3), dtype=int)
    allowed = np.array([[True, False, True], [True, False, False]])
    with pytest.raises(InfeasibleError) as info:
        solve_gap(cost, weight, [3, 3], allowed=allowed)
    assert info.value.diagnosis["unreachable_centers"] == [1]


def test_bad_input_is_an_input_error():
    with pytest.raises(InputError):
        solve_gap(np.ones((2, 3)), np.ones((3, 2)), [1, 1])
    with pytest.raises(InputError):
        solve_gap(np.ones((2, 3)), -np.ones((2, 3)), [1, 1])
    with pytest.raises(InputError):
        solve_gap(np.full((2, 3), 0.5), np.ones((2, 3)), [3, 3])
    with pytest.raises(InputError):
        solve_gap(np.ones((2, 3)), np.ones((2, 3)), [3, 3], sense="maximise")  # type: ignore[arg-type]


def test_repeatable_with_one_worker():
    cost, weight, capacity, _ = draw(7, 5, 40, tightness=1.05, masked=False)
    runs = [solve_gap(cost, weight, capacity, time_limit_s=20, seed=3) for _ in range(2)]
    assert runs[0].objective == runs[1].objective
    assert (runs[0].assignment == runs[1].assignment).all()


def test_plain_cpsat_baseline_agrees_on_small():
    cost, weight, capacity, _ = draw(11, 3, 10, tightness=1.4, masked=False)
    plain = solve_gap(cost, weight, capacity, method="cpsat", time_limit_s=10)
    assert plain.objective == reference(cost, weight, capacity)
    assert plain.status == "optimal"


def test_docstring_examples_run():
    result = doctest.testmod(g)
    assert result.attempted >= 1
    assert result.failed == 0


def _known() -> dict[str, dict[str, str]]:
    with (GAP_DATA / "known_values.csv").open() as fh:
        return {row["instance"]: row for row in csv.DictReader(fh)}


@needs_data
@pytest.mark.parametrize("sense", ["max", "min"])
def test_orlib_gap1_optima(sense):
    known = _known()
    problems = read_gap_instances(GAP_DATA / "gap1.txt")
    assert len(problems) == 5
    for p, inst in enumerate(problems, start=1):
        row = known[f"gap1-{p}"]
        expected = int(row["max_opt_orlib"] if sense == "max" else row["min_best_ub"])
        sol = solve_gap(inst.cost, inst.weight, inst.capacity, sense=sense, time_limit_s=20)
        check_plan(inst.cost, inst.weight, inst.capacity, sol)
        assert sol.status == "optimal"
        assert sol.objective == expected


@needs_data
def test_reads_single_problem_yagiura_files():
    (inst,) = read_gap_instances(GAP_DATA / "yagiura" / "e05100")
    assert inst.cost.shape == inst.weight.shape == (5, 100)
    assert inst.capacity.shape == (5,)


def test_neighbourhood_search_repairs_and_improves():
    """White-box: the LNS places unassigned jobs and never makes the plan worse."""
    cost, weight, capacity, _ = draw(5, 6, 60, tightness=1.05, masked=False)
    inst = g._Instance(cost, weight, capacity, np.ones(cost.shape, dtype=bool))
    search = g._Search(inst, deadline=np.inf, seed=0, workers=1)
    search.lp = g._solve_lp(inst)
    search.bound = g._ceil(search.lp.bound)
    search.budget, search.reserve = 3.0, 0.0
    search.deadline = time.monotonic() + 3.0
    search._lns()  # from nothing: every job starts unassigned
    assert search.complete
    repaired = search.best
    search.deadline = time.monotonic() + 2.0
    search._lns()
    assert search.best <= repaired
    best = reference(cost, weight, capacity)
    assert search.bound <= best <= search.best
    a = search.assign
    load = np.bincount(a, weights=weight[a, np.arange(60)], minlength=6)
    assert (load <= capacity).all()
    assert search.best == int(cost[a, np.arange(60)].sum())


@settings(PROPERTY, max_examples=25)
@given(
    seed=st.integers(0, 2**32 - 1),
    m=st.integers(1, 4),
    n=st.integers(1, 10),
    spread=st.integers(1, 16),
)
def test_tiebreak_keeps_the_optimum(seed, m, n, spread):
    """Tie-breaks in the objective never trade against cost: the optimum stays optimal."""
    cost, weight, capacity, _ = draw(seed, m, n, tightness=1.6, masked=False)
    best = reference(cost, weight, capacity)
    inst = g._Instance(cost, weight, capacity, np.ones(cost.shape, dtype=bool))
    if not inst.usable.any(axis=0).all():  # solve_gap stops before any model (no arc)
        assert best is None
        return
    arcs = np.arange(len(inst.arc_job))
    tiebreak = np.random.default_rng(seed).integers(0, spread, size=len(arcs))
    model = g._Model(inst, arcs, capacity, None, tiebreak=tiebreak)
    status = model.solve(0, workers=1, max_time_s=10)
    if best is None:
        assert status == g.cp_model.INFEASIBLE
        return
    assert status == g.cp_model.OPTIMAL
    assign = np.full(n, -1, dtype=np.int64)
    assign[model.jobs] = model.agents()
    load = np.bincount(assign, weights=weight[assign, np.arange(n)], minlength=m)
    assert (load <= capacity).all()
    assert inst.objective(assign) == best
    # among the optimal plans it is one of least Σ tiebreak (checked on the scaled costs)
    scale = int(tiebreak.max()) * n + 1
    scaled = cost * scale
    scaled[inst.arc_agent, inst.arc_job] += tiebreak
    assert round(model.solver.objective_value) == reference(scaled, weight, capacity)
    chosen = inst.arc_index[assign, np.arange(n)]
    assert round(model.solver.objective_value) == best * scale + int(tiebreak[chosen].sum())


def _search_on(cost, weight, capacity, seed):
    inst = g._Instance(cost, weight, capacity, np.ones(cost.shape, dtype=bool))
    search = g._Search(inst, deadline=time.monotonic() + 600.0, seed=seed, workers=1)
    search.lp = g._solve_lp(inst)
    search.bound = g._ceil(search.lp.bound)
    search._take(g._start(inst, search.lp))
    return search


@settings(PROPERTY, max_examples=10)
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(2, 5), n=st.integers(8, 30))
def test_plateau_walk_never_worsens_or_breaks_the_plan(seed, m, n):
    """White-box: neighbourhood steps (with moves to equal-cost plans) stay feasible and
    never raise the cost; the plan always matches the value kept."""
    cost, weight, capacity, _ = draw(seed, m, n, tightness=1.3, masked=False)
    if reference(cost, weight, capacity) is None:
        return
    search = _search_on(cost, weight, capacity, seed % 1000)
    if not search.complete:
        return
    search.related = g._related_agents(search.inst, search.lp.rc)
    values = [search.best]
    for step in range(12):
        if step % 2:
            search._resolve(np.arange(m), 0.3, max(2, n // 3))
        else:
            search._resolve(search._pick_agents(2), 0.3)
        search.stats["neighbourhoods"] += 1
        a = search.assign
        load = np.bincount(a, weights=weight[a, np.arange(n)], minlength=m)
        assert (a >= 0).all()
        assert (load <= capacity).all()
        assert search.best == int(cost[a, np.arange(n)].sum())
        values.append(search.best)
    assert values == sorted(values, reverse=True)


def test_neighbourhood_steps_repeat_for_a_seed():
    """Two searches with the same seed take the same steps (deterministic time limits)."""
    cost, weight, capacity, _ = draw(9, 6, 50, tightness=1.05, masked=False)
    plans = []
    for _ in range(2):
        search = _search_on(cost, weight, capacity, 4)
        search.related = g._related_agents(search.inst, search.lp.rc)
        for step in range(10):
            if step % 2:
                search._resolve(np.arange(6), 0.3, 15)
            else:
                search._resolve(search._pick_agents(3), 0.3)
            search.stats["neighbourhoods"] += 1
        plans.append(search.assign.copy())
    assert (plans[0] == plans[1]).all()
