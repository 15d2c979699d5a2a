"""``time_limit_s`` bounds the backup phase too: the joint search stops at its deadline.

No wall-clock asserts: the clock of :mod:`electsec.solvers.backup` (or of the pipeline) is
replaced by one that moves only when it is read, so where the search stops is exact. Each
plan is checked from the raw layers (``check_plan``, and the backup rules recomputed here).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import electsec as es
from checker import check_plan
from electsec.solvers import backup as backup_module
from electsec.solvers import pipeline as pipeline_module
from electsec.solvers.backup import Plan, choose_jointly, needs_backup
from helpers import SlowClock, geodesic_m, layer_arrays, make_instance
from test_backup import check_backups, two_garrisons_one_centre, with_reserve

LIMIT_M = 10_000.0


class CountingClock:
    """A stand-in for the ``time`` module: each reading is one second after the last."""

    def __init__(self, start: float) -> None:
        self.now = start
        self.readings = 0

    def perf_counter(self) -> float:
        self.now += 1.0
        self.readings += 1
        return self.now


def check_partial_backups(plan, centers, garrisons, *, limit_m, per_team):
    """Backups listed are valid (never a primary, within reach and reserve); return the
    covered centres without one."""
    c_ids, _, c_lon, c_lat = layer_arrays(centers, "center_id", "demand")
    g_ids, _, g_lon, g_lat = layer_arrays(garrisons, "garrison_id", "capacity")
    reserve = garrisons.set_index("garrison_id")["reserve"].reindex(g_ids).to_numpy()
    a, b = plan.assignments, plan.backups
    primaries = set(zip(a["center_id"], a["garrison_id"], strict=True))
    assert not [p for p in zip(b["center_id"], b["garrison_id"], strict=True) if p in primaries]
    assert not b["center_id"].duplicated().any()
    ci, gi = c_ids.get_indexer(b["center_id"]), g_ids.get_indexer(b["garrison_id"])
    assert (geodesic_m(g_lon[gi], g_lat[gi], c_lon[ci], c_lat[ci]) <= limit_m + 1e-6).all()
    assert (np.bincount(gi, minlength=len(g_ids)) <= reserve * per_team).all()
    return set(a["center_id"]) - set(b["center_id"])


def joint_inputs():
    """The two-garrison instance as arrays, its primary on the near garrison (no backup)."""
    centers, garrisons = two_garrisons_one_centre()
    instance = es.prepare(centers, garrisons, backup=es.Backup(max_distance_m=LIMIT_M))
    near = int(np.flatnonzero(instance.labels.garrison_ids == "near")[0])
    plan = Plan(np.array([0]), np.array([near]), np.array([2]), np.array([-1]))
    row_center = instance.labels.forces.row_center
    assert needs_backup(plan, row_center, 1).tolist() == [True]
    back = instance.backup
    return instance.problem, plan, row_center, back.arcs, back.capacity, near


@pytest.mark.parametrize("split", [False, True])
def test_joint_search_without_deadline_moves_the_primary(split):
    problem, plan, row_center, arcs, capacity, near = joint_inputs()
    found = choose_jointly(problem, plan, row_center, arcs, capacity, split=split)
    assert not found.timed_out
    assert found.plan.backup.tolist() == [near]
    assert near not in found.plan.garrison.tolist()


@pytest.mark.parametrize("split", [False, True])
def test_joint_search_past_its_deadline_returns_the_plan_it_was_given(split):
    problem, plan, row_center, arcs, capacity, _ = joint_inputs()
    found = choose_jointly(problem, plan, row_center, arcs, capacity, split=split, deadline=-1.0)
    assert found.timed_out
    assert found.plan is plan


def test_model_building_stops_at_the_deadline(monkeypatch):
    # Reading 1 (before building) is in time, reading 2 (inside the build loops) is late:
    # no model is solved, and the plan comes back as it was.
    problem, plan, row_center, arcs, capacity, _ = joint_inputs()
    clock = CountingClock(0.0)
    monkeypatch.setattr(backup_module, "time", clock)

    def never(self, seed):
        raise AssertionError("a model was solved after its deadline")

    monkeypatch.setattr(backup_module._JointModel, "solve", never)
    found = choose_jointly(problem, plan, row_center, arcs, capacity, split=True, deadline=1.5)
    assert found.timed_out
    assert found.plan is plan
    assert clock.readings == 2


def test_cp_sat_gets_only_the_time_left(monkeypatch):
    problem, plan, row_center, arcs, capacity, near = joint_inputs()
    clock = CountingClock(0.0)
    monkeypatch.setattr(backup_module, "time", clock)
    asked = []
    solve = backup_module.cp_sat().CpSolver.solve

    def spy(self, model, *args):
        asked.append((clock.now, self.parameters.max_time_in_seconds))
        return solve(self, model, *args)

    monkeypatch.setattr(backup_module.cp_sat().CpSolver, "solve", spy)
    found = choose_jointly(problem, plan, row_center, arcs, capacity, split=False, deadline=1000.0)
    assert asked, "CP-SAT was not called"
    for now, limit in asked:
        assert limit == pytest.approx(1000.0 - now)  # the reading just before the solve
    assert not found.timed_out
    assert found.plan.backup.tolist() == [near]


@pytest.mark.parametrize("late", ["joint search", "before the joint search"])
@pytest.mark.parametrize("split", [False, True])
def test_time_limit_ending_the_joint_search_is_said_not_proven(monkeypatch, split, late):
    centers, garrisons = two_garrisons_one_centre()
    # Every reading is late: inside the joint search, or already when the pipeline asks
    # whether there is time for it (after the first backup flow).
    module = backup_module if late == "joint search" else pipeline_module
    monkeypatch.setattr(module, "time", SlowClock())
    with pytest.raises(es.InfeasibleError) as info:
        es.solve_assignment(
            centers, garrisons, split=split, backup=es.Backup(LIMIT_M), time_limit_s=60
        )
    d = info.value.diagnosis
    assert d["kind"] == "backup"
    assert d["centers_without_backup"] == ["c0"]
    assert "time limit ended the joint search" in d["reason"]
    assert "raise time_limit_s" in d["reason"]
    partial = info.value.partial
    check_plan(partial, centers, garrisons, split=split)
    missing = check_partial_backups(partial, centers, garrisons, limit_m=LIMIT_M, per_team=1)
    assert missing == {"c0"}
    assert partial.status == "feasible"


def test_coverage_max_past_the_deadline_is_feasible_not_optimal(monkeypatch):
    centers, garrisons = two_garrisons_one_centre()
    monkeypatch.setattr(backup_module, "time", SlowClock())
    plan = es.solve_assignment(
        centers, garrisons, backup=es.Backup(LIMIT_M), coverage="max", time_limit_s=60
    )
    check_plan(plan, centers, garrisons, split=False)
    assert check_partial_backups(plan, centers, garrisons, limit_m=LIMIT_M, per_team=1) == {"c0"}
    assert plan.status == "feasible"


@pytest.mark.parametrize("split", [False, True])
def test_a_limit_that_suffices_keeps_the_exact_plan(split):
    centers, garrisons = two_garrisons_one_centre()
    option = es.Backup(LIMIT_M)
    free = es.solve_assignment(centers, garrisons, split=split, backup=option)
    timed = es.solve_assignment(centers, garrisons, split=split, backup=option, time_limit_s=600)
    check_backups(timed, centers, garrisons, limit_m=LIMIT_M, per_team=1)
    assert timed.objective == free.objective
    assert timed.status == free.status
    assert timed.backups["garrison_id"].tolist() == ["near"]


def test_whole_team_search_leaves_the_backups_their_share(monkeypatch):
    monkeypatch.setattr(pipeline_module, "time", SimpleNamespace(perf_counter=lambda: 100.0))
    with_backup = SimpleNamespace(backup=object())
    assert pipeline_module._before_backups(with_backup, 110.0) == pytest.approx(
        110.0 - 10.0 * pipeline_module.BACKUP_SHARE
    )
    assert pipeline_module._before_backups(SimpleNamespace(backup=None), 110.0) == 110.0
    assert pipeline_module._before_backups(with_backup, None) is None


def test_election_day_whose_joint_search_ran_out_of_time_says_so(monkeypatch):
    centers, garrisons = two_garrisons_one_centre()
    monkeypatch.setattr(backup_module, "time", SlowClock())
    with pytest.raises(es.InfeasibleError) as info:
        es.plan_election(
            {"general": centers.assign(phase="general")},
            garrisons,
            split=True,
            backup={"max_distance_m": LIMIT_M, "centers_per_team": 1},
            time_limit_s=60,
        )
    reason = info.value.diagnosis["reason"]
    assert reason.startswith("on the general day")
    assert "time limit ended the joint search" in reason
    check_plan(info.value.partial, centers, garrisons, split=True)


def test_a_stage_ending_past_the_deadline_is_the_last(monkeypatch):
    # The clock stands still until CP-SAT's first stage returns, then jumps past the
    # deadline: the second stage is not run, and the first stage's plan is kept.
    problem, plan, row_center, arcs, capacity, near = joint_inputs()
    clock = SimpleNamespace(now=0.0)
    monkeypatch.setattr(backup_module, "time", SimpleNamespace(perf_counter=lambda: clock.now))
    solve = backup_module.cp_sat().CpSolver.solve
    calls = []

    def late_after(self, model, *args):
        calls.append(self.parameters.max_time_in_seconds)
        status = solve(self, model, *args)
        clock.now = 10.0
        return status

    monkeypatch.setattr(backup_module.cp_sat().CpSolver, "solve", late_after)
    found = choose_jointly(problem, plan, row_center, arcs, capacity, split=True, deadline=5.0)
    assert calls == [pytest.approx(5.0)]
    assert found.plan.backup.tolist() == [near]
    assert near not in found.plan.garrison.tolist()
    assert found.plan.teams.sum() == 2
    assert not found.timed_out  # every centre got its backup in time


@settings(max_examples=15, deadline=None, derandomize=True, database=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 7), m=st.integers(2, 5), split=st.booleans())
def test_a_limit_that_suffices_changes_no_plan(seed, n, m, split):
    rng = np.random.default_rng(seed)
    centers, garrisons = make_instance(rng, n, m, demand_max=2, capacity_ratio=2.5)
    garrisons = with_reserve(garrisons, rng)
    option = es.Backup(max_distance_m=float(rng.choice([80_000.0, 500_000.0])))

    def outcome(**limit):
        """(kind, plan or None, message) of one call."""
        try:
            plan = es.solve_assignment(centers, garrisons, split=split, backup=option, **limit)
        except es.InfeasibleError as exc:
            return "infeasible", exc.partial, exc.diagnosis["reason"]
        except es.SolverError as exc:
            return "no plan", None, str(exc)
        return "plan", plan, ""

    free, timed = outcome(), outcome(time_limit_s=600)
    assert free[0] == timed[0]
    assert free[2] == timed[2]
    if free[1] is None:
        assert timed[1] is None
        return
    a, b = free[1], timed[1]
    assert (a.status, a.objective) == (b.status, b.objective)
    pd.testing.assert_frame_equal(a.assignments, b.assignments)
    pd.testing.assert_frame_equal(a.backups, b.backups)
    limit_m = option.max_distance_m
    if free[0] == "plan":
        check_plan(b, centers, garrisons, split=split)
        check_backups(b, centers, garrisons, limit_m=limit_m, per_team=1)
    else:
        check_partial_backups(b, centers, garrisons, limit_m=limit_m, per_team=1)
