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


# --- warm-started sweeps (issue #14): equal to direct solves, checkpoints, progress ---

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from electsec.solvers.flow import solve_split  # noqa: E402
from electsec.solvers.warm import Edit, WarmBase, repair  # noqa: E402


@pytest.fixture(scope="module")
def national_cut():
    """A few hundred random centres and 30 garrisons (one connected instance)."""
    from helpers import make_instance

    centers, garrisons = make_instance(np.random.default_rng(14), 300, 30, capacity_ratio=1.25)
    return es.read_polling_centers(centers), es.read_garrisons(garrisons)


def test_every_loss_equals_solving_the_edited_layers(national_cut):
    centers, garrisons = national_cut
    base = es.prepare(centers, garrisons)
    ids = list(garrisons.index[:12])
    sweep = es.run_scenarios(
        base, [es.Scenario(g, garrisons_lost=[g]) for g in ids], split=True, coverage="max"
    )
    for g in ids:
        fewer = garrisons.copy()
        fewer.loc[g, "capacity"] = 0
        direct = es.solve_assignment(centers, fewer, split=True, coverage="max")
        warm = sweep.plans[g]
        assert warm.objective == direct.objective  # exact: both are the split optimum
        assert warm.status == direct.status == "optimal"
        check_plan(warm, centers, fewer, split=True)
        _same(warm, direct)  # costs are distinct here, so the optimum is unique


def test_single_sourcing_sweeps_equal_direct_solves(tiny):
    centers, garrisons = tiny
    base = es.prepare(centers, garrisons)
    scenarios = [es.Scenario(g, garrisons_lost=[g]) for g in ("TG02", "TG04")]
    sweep = es.run_scenarios(base, scenarios, coverage="max")
    for s in scenarios:
        fewer = garrisons.copy()
        fewer.loc[s.name, "capacity"] = 0
        direct = es.solve_assignment(centers, fewer, coverage="max")
        _same(sweep.plans[s.name], direct)
        check_plan(sweep.plans[s.name], centers, fewer, split=False)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**16),
    lost=st.lists(st.integers(0, 29), min_size=1, max_size=3),
    bump=st.integers(0, 3),
)
def test_the_local_repair_is_the_exact_optimum_or_declines(seed, lost, bump):
    from helpers import make_instance

    centers, garrisons = make_instance(np.random.default_rng(seed), 200, 30, capacity_ratio=1.4)
    base = es.prepare(centers, garrisons)
    warm = WarmBase.build(base)
    capacity = base.problem.capacity.copy()
    capacity[lost] = 0
    demand = base.problem.demand.copy()
    demand[seed % len(demand)] += bump
    edit = Edit(capacity, demand if bump else None)
    problem = edit.apply(base).problem
    fixed = repair(warm, problem, warm.start_for(edit), edit, widen=False)
    cold = solve_split(problem, base.options, widen=False)
    if fixed is not None:  # declining is allowed (the sweep then solves as usual)
        assert cold.shortfall == 0
        assert fixed.cost == cold.cost
        assert (fixed.reduced_cost(fixed.arcs) >= 0).all()
        load = np.bincount(fixed.arcs.garrison, weights=fixed.flow, minlength=len(capacity))
        assert (load <= capacity).all()
        got = np.bincount(fixed.arcs.center, weights=fixed.flow, minlength=len(demand))
        assert (got == demand).all()


def test_the_repair_is_used_for_garrison_losses(national_cut):
    base = es.prepare(*national_cut)
    warm = WarmBase.build(base)
    used = 0
    for g in range(10):
        capacity = base.problem.capacity.copy()
        capacity[g] = 0
        edit = Edit(capacity, None)
        problem = edit.apply(base).problem
        used += repair(warm, problem, warm.start_for(edit), edit, widen=False) is not None
    assert used >= 8  # the fast path is the normal one, not the exception


def test_an_interrupted_sweep_resumes_from_its_checkpoint(base, tmp_path, monkeypatch):
    from electsec import sweeping

    scenarios = [es.Scenario(f"lose {g}", garrisons_lost=[g]) for g in base.labels.garrison_ids]
    full = es.run_scenarios(base, scenarios, split=True, coverage="max")
    real = sweeping.solve_edit
    calls = []

    def dying(*args):
        if len(calls) == 3:
            raise KeyboardInterrupt  # the sweep is stopped halfway
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(sweeping, "solve_edit", dying)
    with pytest.raises(KeyboardInterrupt):
        es.run_scenarios(base, scenarios, split=True, coverage="max", checkpoint=tmp_path)
    assert len(list(tmp_path.glob("*.parquet"))) == 3
    calls.clear()
    monkeypatch.setattr(sweeping, "solve_edit", lambda *a: calls.append(1) or real(*a))
    resumed = es.run_scenarios(base, scenarios, split=True, coverage="max", checkpoint=tmp_path)
    assert len(calls) == len(scenarios) - 3  # only the rest were solved
    columns = [c for c in full.table.columns if c != "solve_s"]
    pd.testing.assert_frame_equal(full.table[columns], resumed.table[columns])
    for name in full.plans:
        _same(full.plans[name], resumed.plans[name])
    stored = sweeping.Checkpoint(tmp_path).table()
    assert sorted(stored["scenario"]) == sorted(full.table["scenario"])


def test_a_checkpoint_of_another_base_is_not_reused(base, tiny, tmp_path):
    scenarios = [es.Scenario("lose TG01", garrisons_lost=["TG01"])]
    es.run_scenarios(base, scenarios, split=True, coverage="max", checkpoint=tmp_path)
    centers, garrisons = tiny
    other = es.prepare(centers.iloc[:30], garrisons)
    again = es.run_scenarios(other, scenarios, split=True, coverage="max", checkpoint=tmp_path)
    assert len(list(tmp_path.glob("*.pkl"))) == 2
    assert again.plans["lose TG01"].assignments["center_id"].nunique() <= 30


def test_unknown_or_bad_sweep_options_are_named(base):
    with pytest.raises(es.InputError, match="did you mean coverage") as caught:
        es.run_scenarios(base, [es.Scenario("a")], coverag="max", seed=-1)
    assert {i.column for i in caught.value.issues} == {"coverag", "seed"}
    with pytest.raises(es.InputError, match="scenario 'b'"):
        es.run_scenarios(base, [es.Scenario("a"), es.Scenario("b", garrisons_lost=["nope"])])


def test_a_tqdm_bar_goes_to_stderr_with_its_total_and_final_count(base, capfd):
    table = es.contingency(base, progress=True)
    out, err = capfd.readouterr()
    total = len(table)
    assert out == ""
    assert f"{total}/{total}" in err  # tqdm's "n/total" at the end of the run
    assert "100%" in err
    assert "scenarios" in err  # the bar's label


def test_no_bar_and_nothing_printed_by_default(base, capfd):
    es.contingency(base)
    es.contingency(base, progress=False)
    assert capfd.readouterr() == ("", "")


TIER_LIMITS = {"high": 4000.0, "medium": 8000.0, "low": 20000.0}


def _direct(plan_a, plan_b):
    assert plan_a.objective == pytest.approx(plan_b.objective)
    key = ["center_id", "garrison_id"]
    cols = [*key, "teams", "distance_m"]
    a = plan_a.assignments[cols].sort_values(key, ignore_index=True)
    b = plan_b.assignments[cols].sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(a, b)
    assert list(plan_a.uncovered["center_id"]) == list(plan_b.uncovered["center_id"])


@pytest.mark.parametrize("options", [{}, {"k": 3}, {"costs": "matrix"}])
def test_a_lowered_limit_equals_preparing_with_it(tiny, options):
    centers, garrisons = tiny
    options = dict(options)
    if "costs" in options:  # the PairCosts lookup rather than the geodesic oracle
        options["costs"] = es.distance_matrix(centers, garrisons)
    base = es.prepare(centers, garrisons, **options)
    before = pickle.dumps(base)
    edited = es.Scenario("tight", limits=3000.0).apply(base)
    assert pickle.dumps(base) == before
    direct = es.prepare(centers, garrisons, max_distance_m=3000.0, **options)
    plan = es.solve(edited, split=True, coverage="max")
    _direct(plan, es.solve(direct, split=True, coverage="max"))
    assert len(plan.uncovered)  # the limit bites
    check_plan(plan, centers, garrisons, split=True, max_distance_m=3000.0)
    loose = es.solve(base, split=True, coverage="max")
    assert plan.objective != loose.objective or len(loose.uncovered) != len(plan.uncovered)


def test_moving_a_centre_to_a_tighter_tier_equals_preparing_it_so(tiny):
    centers, garrisons = tiny
    base = es.prepare(centers, garrisons, max_distance_m=TIER_LIMITS)
    moved = list(centers.index[centers["tier"] == "low"][:6])
    tiers = dict.fromkeys(moved, "high")
    edited = es.Scenario("raised risk", tiers=tiers).apply(base)
    retiered = centers.copy()
    retiered.loc[moved, "tier"] = "high"
    direct = es.prepare(retiered, garrisons, max_distance_m=TIER_LIMITS)
    plan = es.solve(edited, split=True, coverage="max")
    _direct(plan, es.solve(direct, split=True, coverage="max"))
    np.testing.assert_array_equal(edited.problem.priority, direct.problem.priority)
    assert list(edited.labels.tier) == list(direct.labels.tier)
    check_plan(plan, retiered, garrisons, split=True)
    used = plan.assignments.set_index("center_id")["distance_m"]
    assert (used.reindex(moved).dropna() <= TIER_LIMITS["high"]).all()


def test_per_tier_limits_keep_the_tiers_not_named(tiny):
    centers, garrisons = tiny
    base = es.prepare(centers, garrisons, max_distance_m=TIER_LIMITS)
    edited = es.Scenario("tight medium", limits={"medium": 5000.0}).apply(base)
    direct = es.prepare(centers, garrisons, max_distance_m={**TIER_LIMITS, "medium": 5000.0})
    np.testing.assert_array_equal(edited.limits, direct.limits)
    _direct(
        es.solve(edited, split=True, coverage="max"), es.solve(direct, split=True, coverage="max")
    )


@pytest.mark.parametrize(
    ("scenario", "limit", "tiers"),
    [
        (es.Scenario("looser", limits={"high": 9000.0}), {**TIER_LIMITS, "high": 9000.0}, {}),
        (  # medium → low: 20 km
            es.Scenario("calmer", tiers={"TC001": "low", "TC002": "low"}),
            TIER_LIMITS,
            {"TC001": "low", "TC002": "low"},
        ),
        (es.Scenario("all looser", limits=1e9), 1e9, {}),
    ],
)
def test_raising_a_limit_prices_the_pairs_it_allows(tiny, scenario, limit, tiers):
    centers, garrisons = tiny
    base = es.prepare(centers, garrisons, max_distance_m=TIER_LIMITS)
    retiered = centers.copy()
    for center, tier in tiers.items():
        retiered.loc[center, "tier"] = tier
    direct = es.prepare(retiered, garrisons, max_distance_m=limit)
    edited = scenario.apply(base)
    np.testing.assert_array_equal(edited.limits, direct.limits)
    _direct(
        es.solve(edited, split=True, coverage="max"), es.solve(direct, split=True, coverage="max")
    )


def test_bad_tiers_and_limits_are_named(tiny, base):
    centers, garrisons = tiny
    bad = es.Scenario(
        "bad", tiers={"TC999": "high", "TC001": "", "TC002": "hihg"}, limits={"extreme": 10.0}
    )
    with pytest.raises(es.InputError) as caught:
        bad.apply(base)
    found = {(i.column, i.ids) for i in caught.value.issues}
    assert found == {
        ("tiers", ("TC999",)),
        ("tiers", ("TC001",)),
        ("tiers", ("TC002",)),
        ("limits", ("extreme",)),
    }
    with pytest.raises(es.InputError) as caught:
        es.Scenario("word", limits="far").apply(base)
    assert [i.column for i in caught.value.issues] == ["limits"]
    untiered = es.prepare(centers.drop(columns="tier"), garrisons)
    with pytest.raises(es.InputError, match="no 'tier' column"):
        es.Scenario("t", tiers={"TC001": "high"}).apply(untiered)


def test_a_sweep_with_tiers_and_limits_equals_direct_solves(tiny):
    centers, garrisons = tiny
    base = es.prepare(centers, garrisons, max_distance_m=TIER_LIMITS)
    scenarios = [
        es.Scenario("tighter", limits={"low": 6000.0, "medium": 6000.0}, garrisons_lost=["TG01"]),
        es.Scenario("retier", tiers={"TC001": "high", "TC003": "medium"}),
        es.Scenario("plain", capacity={"TG02": "-50%"}),
    ]
    here = es.run_scenarios(base, scenarios, split=True, coverage="max")
    with ProcessPoolExecutor(max_workers=2) as pool:
        there = es.run_scenarios(base, scenarios, split=True, coverage="max", executor=pool)
    pd.testing.assert_frame_equal(
        here.table.drop(columns="solve_s"), there.table.drop(columns="solve_s")
    )
    for s in scenarios:
        direct = es.solve(s.apply(base), split=True, coverage="max")
        _same(here.plans[s.name], direct)
        _direct(here.plans[s.name], direct)
    fewer = garrisons.copy()
    fewer.loc["TG01", "capacity"] = 0
    check_plan(here.plans["tighter"], centers, fewer, split=True, max_distance_m=6000.0)


# --- checkpoints of sweeps solved directly (tiers, limits, added centres, stable) -------


def _mixed(tiny):
    """A base on the first 30 centres and a sweep mixing warm-able and direct scenarios."""
    centers, garrisons = tiny
    base = es.prepare(centers.iloc[:30], garrisons, max_distance_m=TIER_LIMITS)
    scenarios = [
        es.Scenario("lose TG01", garrisons_lost=["TG01"]),
        es.Scenario("retier", tiers={"TC001": "high", "TC003": "low"}),
        es.Scenario("half TG02", capacity={"TG02": "-50%"}),
        es.Scenario("looser", limits={"low": 30000.0}, garrisons_lost=["TG03"]),
        es.Scenario("new", centers_added=centers.iloc[30:], garrisons_lost=["TG02"]),
        es.Scenario("busy", demand={"governorate:Baghdad": "+50%"}),
    ]
    return base, scenarios


class _StopError(Exception):
    """The sweep is stopped (a crash, a ^C) right after some answers were stored."""


def _stopping_after(k, monkeypatch):
    """Make the k-th checkpoint write the last one; return the list of writes made."""
    from electsec import sweeping

    monkeypatch.undo()  # the real write, not a previous stopping one
    real, writes = sweeping.Checkpoint.write, []

    def write(self, key, answer, row):
        if len(writes) == k:
            raise _StopError
        real(self, key, answer, row)
        writes.append(row["scenario"])

    monkeypatch.setattr(sweeping.Checkpoint, "write", write)
    return writes


def _resumed(base, scenarios, tmp_path, monkeypatch, *, executor=None, **options):
    """Stop a sweep after 3 answers, resume it; return (resumed sweep, solves on resume)."""
    writes = _stopping_after(3, monkeypatch)
    with pytest.raises(_StopError):
        es.run_scenarios(base, scenarios, executor=executor, checkpoint=tmp_path, **options)
    assert len(writes) == 3
    assert len(list(tmp_path.glob("*.pkl"))) == 3
    writes = _stopping_after(len(scenarios), monkeypatch)
    again = es.run_scenarios(base, scenarios, executor=executor, checkpoint=tmp_path, **options)
    return again, writes


@pytest.mark.parametrize("pool", [False, True])
def test_a_mixed_sweep_stopped_halfway_resumes_from_its_checkpoint(
    tiny, tmp_path, monkeypatch, pool
):
    base, scenarios = _mixed(tiny)
    options = {"split": True, "coverage": "max"}
    full = es.run_scenarios(base, scenarios, **options)
    if pool:
        with ProcessPoolExecutor(max_workers=2) as executor:
            resumed, solved = _resumed(
                base, scenarios, tmp_path, monkeypatch, executor=executor, **options
            )
    else:
        resumed, solved = _resumed(base, scenarios, tmp_path, monkeypatch, **options)
    assert len(solved) == len(scenarios) - 3  # the stored three were not solved again
    columns = [c for c in full.table.columns if c != "solve_s"]
    pd.testing.assert_frame_equal(full.table[columns], resumed.table[columns])
    for s in scenarios:
        direct = es.solve(s.apply(base), **options)
        _same(resumed.plans[s.name], full.plans[s.name])
        _same(resumed.plans[s.name], direct)
        _direct(resumed.plans[s.name], direct)
    from electsec import sweeping

    stored = sweeping.Checkpoint(tmp_path).table()
    assert sorted(stored["scenario"]) == sorted(s.name for s in scenarios)


def test_a_stable_sweep_resumes_from_its_checkpoint(tiny, tmp_path, monkeypatch):
    base = es.prepare(*tiny)
    scenarios = [es.Scenario(f"lose {g}", garrisons_lost=[g]) for g in base.labels.garrison_ids]
    options = {"split": True, "coverage": "max", "stable": True}
    full = es.run_scenarios(base, scenarios, **options)
    resumed, solved = _resumed(base, scenarios, tmp_path, monkeypatch, **options)
    assert len(solved) == len(scenarios) - 3
    columns = [c for c in full.table.columns if c != "solve_s"]
    pd.testing.assert_frame_equal(full.table[columns], resumed.table[columns])
    for s in scenarios:
        direct = es.solve(s.apply(base), split=True, coverage="max", baseline=full.baseline)
        _same(resumed.plans[s.name], direct)
        assert resumed.plans[s.name].replan == direct.replan


def test_a_checkpoint_is_not_reused_for_other_options_or_another_baseline(tiny, tmp_path):
    base, scenarios = _mixed(tiny)
    es.run_scenarios(base, scenarios[:2], split=True, coverage="max", checkpoint=tmp_path)
    es.run_scenarios(base, scenarios[:2], split=False, coverage="max", checkpoint=tmp_path)
    assert len(list(tmp_path.glob("*.pkl"))) == 4
    lost = es.Scenario("x", garrisons_lost=["TG04"]).apply(base)
    other = es.solve(lost, split=True, coverage="max")
    for baseline in (None, other):
        es.run_scenarios(
            base,
            scenarios[:2],
            split=True,
            coverage="max",
            stable=True,
            baseline=baseline,
            checkpoint=tmp_path,
        )
    assert len(list(tmp_path.glob("*.pkl"))) == 8
