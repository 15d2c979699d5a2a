"""Scenarios: pure edits of an Instance; sweeps equal direct solves on any executor."""

import pickle
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import pytest

import electsec as es
from checker import check_plan
from golden_cases import canonical, untimed


@pytest.fixture
def base(tiny):
    return es.prepare(*tiny)


def _same(a, b):
    assert canonical(untimed(a.to_dict())) == canonical(untimed(b.to_dict()))


def test_applying_a_scenario_leaves_the_base_unchanged(base):
    before = pickle.dumps(base)
    scenario = es.Scenario(
        "mixed",
        garrisons_lost=["TG01"],
        capacity={"TG02": "-50%", "TG03": 5},
        centers_removed=["TC001"],
    )
    edited = scenario.apply(base)
    assert pickle.dumps(base) == before
    ids = list(base.labels.garrison_ids)
    assert edited.problem.capacity[ids.index("TG01")] == 0
    assert (
        edited.labels.capacity[ids.index("TG02")] == base.labels.capacity[ids.index("TG02")] // 2
    )
    assert edited.labels.capacity[ids.index("TG03")] == 5
    center = list(base.labels.center_ids).index("TC001")
    assert edited.problem.demand[center] == 0


def test_a_scenario_equals_solving_the_edited_layers(tiny):
    centers, garrisons = tiny
    base = es.prepare(centers, garrisons)
    fewer = garrisons.copy()
    fewer.loc["TG01", "capacity"] = 0
    fewer.loc["TG02", "capacity"] = int(garrisons.loc["TG02", "capacity"]) // 2
    direct = es.solve_assignment(centers, fewer, split=True, coverage="max")
    scenario = es.Scenario("two", garrisons_lost=["TG01"], capacity={"TG02": "-50%"})
    sweep = es.run_scenarios(base, [scenario], split=True, coverage="max")
    _same(sweep.plans["two"], direct)
    check_plan(sweep.plans["two"], centers, fewer, split=True)


def test_unknown_ids_are_named_with_the_closest_known_ones(base):
    with pytest.raises(es.InputError, match="did you mean TG01") as caught:
        es.Scenario("typo", garrisons_lost=["TG1"], capacity={"TG02": "half"}).apply(base)
    assert {i.column for i in caught.value.issues} == {"garrisons_lost", "capacity"}


def test_a_sweep_table_has_a_row_per_scenario(base):
    scenarios = [
        es.Scenario("none"),
        es.Scenario("lose TG01", garrisons_lost="TG01"),
        es.Scenario("lose all", garrisons_lost=list(base.labels.garrison_ids)),
    ]
    sweep = es.run_scenarios(base, scenarios, split=True)
    table = sweep.table.set_index("scenario")
    assert list(table.index) == ["none", "lose TG01", "lose all"]
    assert table.loc["none", "centers_changed"] == 0
    assert table.loc["none", "objective_change_pct"] == 0
    assert table.loc["lose all", "status"] == "infeasible"
    assert isinstance(sweep.plans["lose all"], es.InfeasibleError)
    assert table.loc["lose all", "teams_short"] == int(base.problem.demand.sum())


def test_a_sweep_on_a_process_pool_equals_the_sweep_here(base):
    scenarios = [es.Scenario(f"lose {g}", garrisons_lost=[g]) for g in base.labels.garrison_ids]
    here = es.run_scenarios(base, scenarios, split=True, coverage="max")
    with ProcessPoolExecutor(max_workers=2) as pool:
        there = es.run_scenarios(base, scenarios, split=True, coverage="max", executor=pool)
    columns = [c for c in here.table.columns if c != "solve_s"]
    pd.testing.assert_frame_equal(here.table[columns], there.table[columns])
    for name in here.plans:
        _same(here.plans[name], there.plans[name])


def test_duplicate_scenario_names_are_refused(base):
    with pytest.raises(es.InputError, match="unique"):
        es.run_scenarios(base, [es.Scenario("a"), es.Scenario("a")])


def test_contingency_finds_the_single_points_of_failure(tiny):
    centers, garrisons = tiny
    table = es.contingency(es.prepare(centers, garrisons))
    assert sorted(table["garrison_id"]) == sorted(garrisons.index)
    for _, row in table.iterrows():
        fewer = garrisons.copy()
        fewer.loc[row["garrison_id"], "capacity"] = 0
        direct = es.solve_assignment(centers, fewer, split=True, coverage="max")
        assert row["teams_short"] == int(direct.uncovered["teams"].sum())
        assert row["single_point_of_failure"] == (row["teams_short"] > 0)
    assert (np.diff(table["teams_short"].to_numpy()) <= 0).all(), "worst first"


def test_diff_plans_lists_what_changed(base):
    a = es.solve(base, split=True)
    b = es.solve(es.Scenario("x", garrisons_lost=["TG01"]).apply(base), split=True, coverage="max")
    diff = es.diff_plans(a, b)
    served_by_lost = set(a.assignments.loc[a.assignments["garrison_id"] == "TG01", "center_id"])
    assert served_by_lost <= set(diff.centers["center_id"])
    assert diff.objective_change == b.objective - a.objective
    loads = diff.garrisons.set_index("garrison_id")
    assert loads.loc["TG01", "used_after"] == 0
    assert (loads["change"] != 0).all()
    assert es.diff_plans(a, a).centers.empty
