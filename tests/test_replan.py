"""Stable re-planning (``baseline=``) and plan diffs, against an independent exact MILP.

The reference below is written from the definition, not from the library's model: a
centre is unchanged when every garrison sends it exactly its baseline teams, modelled as
``|x_ig - b_ig| <= d_i z_i`` for every pair (the library links only baseline and
non-baseline arcs in aggregate), with integer ``x`` over every pair and costs rounded to
whole metres as the solvers see them.
"""

from __future__ import annotations

import copy

import jsonschema
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

import electsec as es
from checker import check_plan
from electsec.schema import response_schema
from helpers import dense_distances, make_instance
from test_report import WEB_ASSET, _chromium, needs_browser

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None)


def _reference(centers, garrisons, capacity, baseline, *, split, max_changes=None, cap=None):
    """(fewest changes, least cost with them) by a direct MILP over every pair."""
    c_ids, demand, g_ids, _, dist = dense_distances(centers, garrisons)
    n, m = dist.shape
    cost = np.rint(dist).ravel()
    b = np.zeros((n, m))
    a = baseline.assignments
    for c, g, t in zip(a["center_id"], a["garrison_id"], a["teams"], strict=True):
        b[c_ids.get_loc(c), g_ids.get_loc(g)] += t
    b = b.ravel()
    nx = n * m
    row = np.repeat(np.arange(n), m)
    col = np.tile(np.arange(m), n)
    eye = sp.eye(nx)
    z_of = sp.csr_matrix((np.repeat(demand, m).astype(float), (np.arange(nx), row)), (nx, n))
    cons = [
        LinearConstraint(
            sp.hstack(
                [
                    sp.csr_matrix((np.ones(nx), (row, np.arange(nx))), (n, nx)),
                    sp.csr_matrix((n, n)),
                ]
            ),
            demand,
            demand,
        ),
        LinearConstraint(
            sp.hstack(
                [
                    sp.csr_matrix((np.ones(nx), (col, np.arange(nx))), (m, nx)),
                    sp.csr_matrix((m, n)),
                ]
            ),
            -np.inf,
            capacity,
        ),
        LinearConstraint(sp.hstack([eye, -z_of]), -np.inf, b),
        LinearConstraint(sp.hstack([-eye, -z_of]), -np.inf, -b),
    ]
    costs = np.concatenate([cost, np.zeros(n)])
    changes = np.concatenate([np.zeros(nx), np.ones(n)])
    if cap is not None:
        cons.append(LinearConstraint(costs[None, :], -np.inf, cap))
    integrality = np.ones(nx + n)
    upper = np.concatenate([np.repeat(demand, m).astype(float), np.ones(n)])
    bounds = Bounds(0, upper)
    if not split:
        return _reference_whole(
            demand, capacity, cost.reshape(n, m), b.reshape(n, m), max_changes, cap
        )
    if max_changes is None:
        first = milp(changes, constraints=cons, integrality=integrality, bounds=bounds)
        assert first.status == 0, first.message
        max_changes = round(first.fun)
    cons.append(LinearConstraint(changes[None, :], -np.inf, max_changes))
    second = milp(costs, constraints=cons, integrality=integrality, bounds=bounds)
    if second.status != 0:
        return None
    return round(second.x[nx:].sum()), round(second.fun)


def _reference_whole(demand, capacity, cost, b, max_changes, cap):
    """The same for whole teams: y_ig binary, one garrison per centre with demand."""
    m = cost.shape[1]
    use = np.flatnonzero(demand > 0)
    k = len(use)
    if k == 0:
        return 0, 0
    ny = k * m
    row = np.repeat(np.arange(k), m)
    col = np.tile(np.arange(m), k)
    d = demand[use].astype(float)
    w = np.repeat(d, m)
    base = (b[use] > 0).ravel() & (b[use].ravel() == w)  # kept only if whole in the baseline
    # z_i >= 1 - y_{i, b(i)}; a centre not whole in the baseline always changes.
    keep_pos = np.flatnonzero(base)
    forced = np.ones(k)
    forced[row[keep_pos]] = 0
    cons = [
        LinearConstraint(
            sp.hstack(
                [
                    sp.csr_matrix((np.ones(ny), (row, np.arange(ny))), (k, ny)),
                    sp.csr_matrix((k, k)),
                ]
            ),
            1,
            1,
        ),
        LinearConstraint(
            sp.hstack([sp.csr_matrix((w, (col, np.arange(ny))), (m, ny)), sp.csr_matrix((m, k))]),
            -np.inf,
            capacity,
        ),
        LinearConstraint(
            sp.hstack(
                [
                    sp.csr_matrix(
                        (np.ones(len(keep_pos)), (np.arange(len(keep_pos)), keep_pos)),
                        (len(keep_pos), ny),
                    ),
                    sp.csr_matrix(
                        (np.ones(len(keep_pos)), (np.arange(len(keep_pos)), row[keep_pos])),
                        (len(keep_pos), k),
                    ),
                ]
            ),
            1,
            np.inf,
        ),
        LinearConstraint(sp.hstack([sp.csr_matrix((k, ny)), sp.eye(k)]), forced, np.inf),
    ]
    costs = np.concatenate([w * cost[use].ravel(), np.zeros(k)])
    changes = np.concatenate([np.zeros(ny), np.ones(k)])
    if cap is not None:
        cons.append(LinearConstraint(costs[None, :], -np.inf, cap))
    bounds = Bounds(0, 1)
    gone = int(((b.sum(axis=1) > 0) & (demand == 0)).sum())
    if max_changes is None:
        first = milp(changes, constraints=cons, integrality=np.ones(ny + k), bounds=bounds)
        if first.status != 0:
            return None
        max_changes = round(first.fun) + gone
    cons.append(LinearConstraint(changes[None, :], -np.inf, max_changes - gone))
    second = milp(costs, constraints=cons, integrality=np.ones(ny + k), bounds=bounds)
    if second.status != 0:
        return None
    return round(second.x[ny:].sum()) + gone, round(second.fun)


def _case(seed, n, m, *, split, ratio=2.5, cut=False):
    """A random instance, its plan, and the instance with one garrison lost.

    With ``cut``, the garrison keeps all but one of the teams it sends instead: nothing is
    forced, so the re-plan must choose which centres give way (the MILP path).
    """
    rng = np.random.default_rng(seed)
    centers, garrisons = make_instance(rng, n, m, demand_max=3, capacity_ratio=ratio)
    instance = es.prepare(centers, garrisons)
    baseline = es.solve(instance, split=split, seed=1)
    lost = str(rng.choice(garrisons["garrison_id"]))
    left = 0
    if cut:
        load = baseline.garrison_load.set_index("garrison_id")["used"]
        left = max(int(load[lost]) - 1, 0)
    edited = es.Scenario("lost", capacity={lost: left}).apply(instance)
    capacity = np.where(garrisons["garrison_id"] == lost, left, garrisons["capacity"])
    return centers, garrisons, baseline, edited, capacity


def _solve(edited, **kw):
    try:
        return es.solve(edited, seed=1, **kw)
    except (es.InfeasibleError, es.SolverError):
        assume(False)
        raise


@SETTINGS
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 9),
    m=st.integers(2, 4),
    ratio=st.sampled_from([1.2, 2.5]),
    cut=st.booleans(),
)
def test_split_replan_is_the_exact_fewest_changes_then_least_cost(seed, n, m, ratio, cut):
    centers, garrisons, baseline, edited, capacity = _case(
        seed, n, m, split=True, ratio=ratio, cut=cut
    )
    kept = copy.deepcopy(baseline.to_dict())
    plan = _solve(edited, split=True, baseline=baseline)
    check_plan(plan, centers, garrisons.assign(capacity=capacity), split=True)
    changes, cost = _reference(centers, garrisons, capacity, baseline, split=True)
    assert plan.replan["centers_changed"] == changes
    assert round(plan.objective) == cost
    assert plan.status == "optimal"
    assert len(es.diff_plans(baseline, plan).centers) == changes
    assert plan.replan["forced_changes"] <= changes
    assert es.diff_plans(baseline, plan).teams_moved == plan.replan["teams_moved"]
    assert baseline.to_dict() == kept  # the baseline plan is not changed


@SETTINGS
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(2, 9),
    m=st.integers(2, 4),
    extra=st.integers(0, 3),
    cut=st.booleans(),
)
def test_max_changes_gives_the_least_cost_within_that_many(seed, n, m, extra, cut):
    centers, garrisons, baseline, edited, capacity = _case(seed, n, m, split=True, cut=cut)
    fewest = _solve(edited, split=True, baseline=baseline).replan["centers_changed"]
    limit = fewest + extra
    plan = _solve(edited, split=True, baseline=baseline, max_changes=limit)
    check_plan(plan, centers, garrisons.assign(capacity=capacity), split=True)
    found = _reference(centers, garrisons, capacity, baseline, split=True, max_changes=limit)
    assert found is not None
    assert plan.replan["centers_changed"] <= limit
    assert round(plan.objective) == found[1]
    if fewest > 0:
        with pytest.raises(es.InputError, match=f"the fewest possible is {fewest}"):
            es.solve(edited, split=True, baseline=baseline, max_changes=fewest - 1)


@SETTINGS
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(2, 9),
    m=st.integers(2, 4),
    pct=st.sampled_from([0.0, 0.5, 2.0, 10.0]),
    cut=st.booleans(),
)
def test_max_cost_increase_pct_gives_the_fewest_changes_within_the_cap(seed, n, m, pct, cut):
    centers, garrisons, baseline, edited, capacity = _case(seed, n, m, split=True, cut=cut)
    fresh = _solve(edited, split=True)
    plan = _solve(edited, split=True, baseline=baseline, max_cost_increase_pct=pct)
    check_plan(plan, centers, garrisons.assign(capacity=capacity), split=True)
    cap = np.floor(fresh.objective * (1 + pct / 100))
    changes, cost = _reference(centers, garrisons, capacity, baseline, split=True, cap=cap)
    assert plan.objective <= cap
    assert plan.replan["centers_changed"] == changes
    assert round(plan.objective) == cost
    assert plan.replan["fresh_objective"] == fresh.objective


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(1, 8), m=st.integers(2, 4), cut=st.booleans())
def test_whole_team_replan_matches_the_reference_when_proven(seed, n, m, cut):
    centers, garrisons, baseline, edited, capacity = _case(seed, n, m, split=False, cut=cut)
    plan = _solve(edited, split=False, baseline=baseline)
    check_plan(plan, centers, garrisons.assign(capacity=capacity), split=False)
    found = _reference(centers, garrisons, capacity, baseline, split=False)
    assert found is not None
    assert plan.replan["centers_changed"] >= found[0]
    assert len(es.diff_plans(baseline, plan).centers) == plan.replan["centers_changed"]
    if plan.status == "optimal":
        assert (plan.replan["centers_changed"], round(plan.objective)) == found


def test_the_same_instance_changes_nothing(tiny):
    instance = es.prepare(*tiny)
    for split in (True, False):
        plan = es.solve(instance, split=split)
        again = es.solve(instance, split=split, baseline=plan)
        assert again.replan["centers_changed"] == 0
        assert again.replan["teams_moved"] == 0
        assert again.objective == plan.objective
        assert again.summary()["centers_changed"] == 0


def test_losing_a_garrison_changes_only_its_centres_when_others_have_room(tiny):
    centers, garrisons = tiny
    garrisons = garrisons.copy()
    garrisons["capacity"] = garrisons["capacity"] * 3
    instance = es.prepare(centers, garrisons)
    plan = es.solve(instance, split=True)
    served = set(plan.assignments.loc[plan.assignments["garrison_id"] == "TG01", "center_id"])
    edited = es.Scenario("lost", garrisons_lost=["TG01"]).apply(instance)
    fresh = es.solve(edited, split=True)
    stable = es.solve(edited, split=True, baseline=plan)
    diff = es.diff_plans(plan, stable)
    assert set(diff.centers["center_id"]) == served
    assert stable.replan["forced_changes"] == len(served)
    assert len(es.diff_plans(plan, fresh).centers) >= len(served)
    assert stable.objective >= fresh.objective
    assert stable.replan["cost_increase_pct"] == pytest.approx(
        100 * (stable.objective - fresh.objective) / fresh.objective
    )
    jsonschema.validate(stable.to_dict(), response_schema())
    lines = diff.to_geodataframe()
    assert len(lines) == len(diff.pairs)
    assert set(lines["change"]) <= {"added", "dropped", "more", "fewer"}
    assert (lines.geometry.geom_type == "LineString").all()


def test_removed_centres_and_new_ones_are_forced_changes(tiny):
    instance = es.prepare(*tiny)
    plan = es.solve(instance, split=True)
    gone = str(plan.assignments["center_id"].iloc[0])
    edited = es.Scenario("fewer", centers_removed=[gone]).apply(instance)
    stable = es.solve(edited, split=True, baseline=plan)
    assert stable.replan["centers_changed"] == 1
    assert stable.replan["forced_changes"] == 1
    assert list(es.diff_plans(plan, stable).centers["center_id"]) == [gone]


def test_bad_baselines_are_input_errors(tiny, make_instance):
    instance = es.prepare(*tiny)
    plan = es.solve(instance, split=True)
    other = es.solve(es.prepare(*make_instance(3, 5, 2)), split=True)
    with pytest.raises(es.InputError, match="shares no centre"):
        es.solve(instance, split=True, baseline=other)
    with pytest.raises(es.InputError, match="baseline"):
        es.solve(instance, baseline="plan.json")
    with pytest.raises(es.InputError, match="not both"):
        es.solve(instance, baseline=plan, max_changes=3, max_cost_increase_pct=1.0)
    with pytest.raises(es.InputError, match="needs baseline"):
        es.solve(instance, max_changes=3)
    with pytest.raises(es.InputError, match="max_changes"):
        es.solve(instance, baseline=plan, max_changes=-1)
    with pytest.raises(es.InputError, match="max_cost_increase_pct"):
        es.solve_assignment(*tiny, baseline=plan, max_cost_increase_pct="5%")
    with pytest.raises(es.InputError, match="must be a plan"):
        es.diff_plans(plan, "other")


def test_solve_assignment_takes_a_baseline(tiny):
    plan = es.solve_assignment(*tiny, split=True)
    again = es.solve_assignment(*tiny, split=True, baseline=plan, max_changes=0)
    assert again.replan["centers_changed"] == 0
    assert again.to_dict()["replan"]["teams_moved"] == 0


def test_run_scenarios_replans_stably_when_asked(tiny):
    base = es.prepare(*tiny)
    lose = [es.Scenario("TG01 lost", garrisons_lost=["TG01"])]
    fresh = es.run_scenarios(base, lose, split=True, coverage="max")
    stable = es.run_scenarios(base, lose, split=True, coverage="max", stable=True)
    direct = es.solve(lose[0].apply(base), split=True, coverage="max", baseline=stable.baseline)
    plan = stable.plans["TG01 lost"]
    assert plan.replan == direct.replan
    assert plan.objective == direct.objective
    changed = stable.table["centers_changed"].iloc[0]
    assert changed == direct.replan["centers_changed"]
    assert changed <= fresh.table["centers_changed"].iloc[0]


@needs_browser
def test_report_has_a_changes_section_that_renders_offline(tiny, tmp_path):
    instance = es.prepare(*tiny)
    plan = es.solve(instance, split=True)
    edited = es.Scenario("TG01 lost", garrisons_lost=["TG01"]).apply(instance)
    stable = es.solve(edited, split=True, coverage="max", baseline=plan)
    path = stable.report(tmp_path / "report.html", baseline=plan)
    page = path.read_text()
    diff = es.diff_plans(plan, stable)
    assert f"Changes from the baseline plan ({len(diff.centers)} centres)" in page
    assert not WEB_ASSET.search(page)
    dom = _chromium(tmp_path, path.as_uri(), "--dump-dom").stdout
    assert "Garrison loads changed" in dom
    assert all(str(c) in dom for c in diff.centers["center_id"])


def test_a_large_loss_is_proven_over_every_pair_beyond_the_candidates():
    """Above the exact-pool size the kept-all step prices beyond the candidate arcs."""
    from scipy.optimize import linprog

    rng = np.random.default_rng(7)
    centers, garrisons = make_instance(rng, 2_000, 120, demand_max=3, capacity_ratio=2.5)
    instance = es.prepare(centers, garrisons)
    assert instance.problem.oracle is not None  # every pair allowed, priced on demand
    baseline = es.solve(instance, split=True)
    lost = str(baseline.garrison_load.nlargest(1, "used")["garrison_id"].iloc[0])
    plan = es.solve(
        es.Scenario("lost", garrisons_lost=[lost]).apply(instance), split=True, baseline=baseline
    )
    capacity = np.where(garrisons["garrison_id"] == lost, 0, garrisons["capacity"])
    check_plan(plan, centers, garrisons.assign(capacity=capacity), split=True)
    a = baseline.assignments
    moved = set(a.loc[a["garrison_id"] == lost, "center_id"])
    assert plan.replan["centers_changed"] == len(moved) == plan.replan["forced_changes"]
    assert plan.status == "optimal"
    # Reference: the kept centres as before, the moved ones by an LP over every pair.
    c_ids, demand, g_ids, _, dist = dense_distances(centers, garrisons)
    kept = a[~a["center_id"].isin(moved)]
    used = kept.groupby("garrison_id")["teams"].sum().reindex(g_ids, fill_value=0).to_numpy()
    rows = [c_ids.get_loc(c) for c in sorted(moved)]
    cost = np.rint(dist[rows]).ravel()
    k, m = len(rows), len(g_ids)
    eq = np.kron(np.eye(k), np.ones(m))
    ub = np.kron(np.ones(k), np.eye(m))
    lp = linprog(cost, A_ub=ub, b_ub=capacity - used, A_eq=eq, b_eq=demand[rows], method="highs")
    assert lp.status == 0
    kept_cost = float((kept["teams"] * np.rint(kept["distance_m"])).sum())
    assert plan.objective == pytest.approx(kept_cost + lp.fun, abs=0.5)


def test_stable_plans_and_settings_pickle(tiny):
    import pickle

    from electsec.replan import baseline_arrays
    from electsec.solvers.pipeline import Settings

    instance = es.prepare(*tiny)
    plan = es.solve(instance, split=True)
    stable = es.solve(instance, split=True, baseline=plan)
    assert pickle.loads(pickle.dumps(stable)).replan == stable.replan  # noqa: S301 - our own bytes
    settings = Settings(split=True, baseline=baseline_arrays(plan, instance, max_changes=3))
    back = pickle.loads(pickle.dumps(settings))  # noqa: S301 - our own bytes
    assert back.baseline.max_changes == 3
    np.testing.assert_array_equal(back.baseline.teams, settings.baseline.teams)


def test_objective_max_keeps_the_fresh_worst_trip(tiny):
    instance = es.prepare(*tiny)
    plan = es.solve(instance, split=True, objective="max")
    edited = es.Scenario("TG01 lost", garrisons_lost=["TG01"]).apply(instance)
    fresh = es.solve(edited, split=True, objective="max", coverage="max")
    stable = es.solve(edited, split=True, objective="max", coverage="max", baseline=plan)
    worst = np.rint(fresh.assignments["distance_m"]).max()
    assert np.rint(stable.assignments["distance_m"]).max() <= worst
    assert stable.uncovered["teams"].sum() == fresh.uncovered["teams"].sum()
    assert stable.replan["centers_changed"] <= len(es.diff_plans(plan, fresh).centers)


def test_whole_team_replan_of_a_split_baseline_honours_max_changes(tiny):
    centers, garrisons = tiny
    instance = es.prepare(centers, garrisons)
    split = es.solve(instance, split=True)
    fewest = es.solve(instance, baseline=split).replan["centers_changed"]
    plan = es.solve(instance, baseline=split, max_changes=fewest)
    check_plan(plan, centers, garrisons, split=False)
    assert plan.replan["centers_changed"] <= fewest
    assert plan.replan["centers_changed"] == len(es.diff_plans(split, plan).centers)


@pytest.mark.parametrize("split", [True, False])
def test_short_forces_keep_the_fresh_coverage_per_tier(tiny, split):
    centers, garrisons = tiny
    centers = centers.copy()
    centers["tier"] = np.where(np.arange(len(centers)) % 3 == 0, "high", "low")
    instance = es.prepare(centers, garrisons)
    plan = es.solve(instance, split=split)
    edited = es.Scenario("TG01 lost", garrisons_lost=["TG01"]).apply(instance)
    fresh = es.solve(edited, split=split, coverage="max")
    stable = es.solve(edited, split=split, coverage="max", baseline=plan)
    capacity = np.where(garrisons.index == "TG01", 0, garrisons["capacity"])
    check_plan(stable, centers, garrisons.assign(capacity=capacity), split=split)
    assert len(fresh.uncovered) > 0  # the loss leaves teams short

    def high_covered(p):
        high = set(centers.index[centers["tier"] == "high"])
        return int(p.assignments.loc[p.assignments["center_id"].isin(high), "teams"].sum())

    assert high_covered(stable) == high_covered(fresh)
    assert stable.uncovered["teams"].sum() == fresh.uncovered["teams"].sum()
    assert stable.replan["centers_changed"] <= len(es.diff_plans(plan, fresh).centers)
