"""Scenario kinds of issue #14: areas, raised limits, added centres — each equals prepare.

The key check of every kind: applying the scenario gives the plan ``es.prepare`` gives on
the layers edited by hand here (same objective, same assignments), and the base instance
is left as it was.
"""

import dataclasses
import pickle
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import electsec as es
from checker import check_plan
from helpers import geodesic_m, make_instance

TIER_LIMITS = {"high": 4000.0, "medium": 8000.0, "low": 20000.0}
#: Random instances' box (about 75 × 65 km: lon min, lon max, lat min, lat max).
AROUND_BAGHDAD = (44.0, 44.8, 33.0, 33.6)
#: A box around the south of Baghdad (lon/lat).
SOUTH = shapely.box(44.2, 33.0, 44.5, 33.3)


def _plan(instance):
    return es.solve(instance, split=True, coverage="max")


def _same_plan(a, b):
    """Same objective, same (centre, garrison, teams, cost) rows, same uncovered centres."""
    assert a.objective == pytest.approx(b.objective, rel=1e-12)
    key = ["center_id", "garrison_id"]
    cols = [*key, "teams", a.cost_column]
    left = a.assignments[cols].sort_values(key, ignore_index=True)
    right = b.assignments[cols].sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(left, right)
    assert sorted(a.uncovered["center_id"]) == sorted(b.uncovered["center_id"])


def _applied(scenario, base, **kw):
    """Apply and check purity: the base pickles to the same bytes after."""
    before = pickle.dumps(base)
    arrays = [base.problem.demand.copy(), base.problem.capacity.copy(), base.labels.capacity]
    edited = scenario.apply(base, **kw)
    assert pickle.dumps(base) == before
    np.testing.assert_array_equal(base.problem.demand, arrays[0])
    np.testing.assert_array_equal(base.problem.capacity, arrays[1])
    return edited


def _up(teams, percent):
    """Rounded-up ``teams × (1 + percent/100)``, in integers (independent of the library)."""
    return -(-teams * (100 + percent) // 100)


# --- 1. selection by area -------------------------------------------------------------


def test_capacity_by_agency_and_governorate_equals_the_edited_layers(tiny):
    centers, garrisons = tiny
    base = es.prepare(centers, garrisons)
    scenario = es.Scenario(
        "cuts",
        capacity={"agency:army": "-50%", es.Area(governorate="Babil", agency="police"): 2},
    )
    edited = _applied(scenario, base)
    fewer = garrisons.copy()
    army = fewer["agency"] == "army"
    fewer.loc[army, "capacity"] = fewer.loc[army, "capacity"] // 2
    fewer.loc[(fewer["governorate"] == "Babil") & (fewer["agency"] == "police"), "capacity"] = 2
    direct = es.prepare(centers, fewer)
    _same_plan(_plan(edited), _plan(direct))
    check_plan(_plan(edited), centers, fewer, split=True)
    again = pickle.loads(pickle.dumps(scenario))  # noqa: S301 - our own bytes
    assert again.apply(base).input_hash == edited.input_hash


def test_demand_by_polygon_and_governorate_equals_the_edited_layers(tiny):
    centers, garrisons = tiny
    base = es.prepare(centers, garrisons)
    scenario = es.Scenario("busy", demand={es.Area(polygon=SOUTH): "+50%", "governorate:Babil": 1})
    edited = _applied(scenario, base)
    busy = centers.copy()
    lon, lat = busy.geometry.x, busy.geometry.y
    inside = (lon >= 44.2) & (lon <= 44.5) & (lat >= 33.0) & (lat <= 33.3)
    assert 0 < inside.sum() < len(busy)
    busy.loc[inside, "demand"] = [_up(int(d), 50) for d in busy.loc[inside, "demand"]]
    busy.loc[busy["governorate"] == "Babil", "demand"] = 1
    _same_plan(_plan(edited), _plan(es.prepare(busy, garrisons)))
    assert edited.input_hash == es.prepare(busy, garrisons).input_hash


def test_tiers_raised_in_an_area_equal_preparing_them_so(tiny):
    centers, garrisons = tiny
    base = es.prepare(centers, garrisons, max_distance_m=TIER_LIMITS)
    scenario = es.Scenario("alert", tiers={es.Area(polygon=SOUTH, governorate="Baghdad"): "high"})
    edited = _applied(scenario, base)
    alert = centers.copy()
    lon, lat = alert.geometry.x, alert.geometry.y
    inside = (lon >= 44.2) & (lon <= 44.5) & (lat >= 33.0) & (lat <= 33.3)
    alert.loc[inside & (alert["governorate"] == "Baghdad"), "tier"] = "high"
    direct = es.prepare(alert, garrisons, max_distance_m=TIER_LIMITS)
    _same_plan(_plan(edited), _plan(direct))
    np.testing.assert_array_equal(edited.problem.priority, direct.problem.priority)


def test_per_cent_demand_of_several_agencies_scales_each_row(tiny):
    centers, garrisons = tiny
    multi = centers.copy()
    multi["demand_police"] = multi["demand"]
    multi["demand_army"] = (np.arange(len(multi)) % 3).astype(np.int64)
    multi["demand"] = multi["demand_police"] + multi["demand_army"]
    base = es.prepare(multi, garrisons)
    everyone = _applied(es.Scenario("all", demand={"governorate:Baghdad": "+50%"}), base)
    police = _applied(es.Scenario("police", demand={es.Area(agency="police"): "+50%"}), base)
    for edited, agencies in ((everyone, ("police", "army")), (police, ("police",))):
        direct = multi.copy()
        mask = direct["governorate"] == "Baghdad" if len(agencies) == 2 else direct["demand"] > -1
        for agency in agencies:
            column = f"demand_{agency}"
            direct.loc[mask, column] = [_up(int(d), 50) for d in direct.loc[mask, column]]
        direct["demand"] = direct["demand_police"] + direct["demand_army"]
        _same_plan(_plan(edited), _plan(es.prepare(direct, garrisons)))
    with pytest.raises(es.InputError, match="one-agency"):
        es.Scenario("x", demand={"governorate:Baghdad": 2}).apply(base)


def test_unknown_names_and_empty_areas_are_errors(tiny):
    base = es.prepare(*tiny)
    bad = es.Scenario(
        "bad",
        capacity={"agency:armmy": 1, es.Area(governorate="Babel"): "+10%"},
        demand={es.Area(polygon=shapely.box(33.0, 44.2, 33.3, 44.5)): "+10%"},  # lat/lon
        tiers={es.Area(agency="police"): "high"},
    )
    with pytest.raises(es.InputError) as caught:
        bad.apply(base)
    text = str(caught.value)
    assert "did you mean 'army'" in text
    assert "did you mean 'Babil'" in text
    assert "selects no demand row" in text
    assert "do not ask for agencies" in text
    projected = es.Scenario(
        "utm", demand={es.Area(polygon=shapely.box(4e5, 3.6e6, 5e5, 3.7e6)): 1}
    )
    with pytest.raises(es.InputError, match="not lon/lat"):
        projected.apply(base)
    with pytest.raises(es.InputError, match="Polygon"):
        es.Scenario("pt", demand={es.Area(polygon=shapely.Point(44, 33)): 1}).apply(base)


# --- 2. raised limits -----------------------------------------------------------------


@pytest.mark.parametrize(
    "options", [{}, {"k": 3}, {"costs": "matrix"}, {"costs": "matrix", "k": 2}]
)
def test_a_raised_limit_equals_preparing_with_it(tiny, options):
    centers, garrisons = tiny
    options = dict(options)
    if "costs" in options:  # the given matrix's pairs, not the geodesic oracle
        options["costs"] = es.distance_matrix(centers, garrisons)
    base = es.prepare(centers, garrisons, max_distance_m=3000.0, **options)
    edited = _applied(es.Scenario("looser", limits=9000.0), base)
    direct = es.prepare(centers, garrisons, max_distance_m=9000.0, **options)
    np.testing.assert_array_equal(edited.limits, direct.limits)
    plan = _plan(edited)
    _same_plan(plan, _plan(direct))
    assert len(plan.uncovered) < len(_plan(base).uncovered)  # the raise matters
    check_plan(plan, centers, garrisons, split=True, max_distance_m=9000.0)
    assert not edited.warnings


def test_a_looser_tier_equals_preparing_it_so(tiny):
    centers, garrisons = tiny
    base = es.prepare(centers, garrisons, max_distance_m=TIER_LIMITS)
    moved = list(centers.index[centers["tier"] == "high"][:-1])  # one high stays
    scenario = es.Scenario("calmer", tiers=dict.fromkeys(moved, "low"), limits={"medium": 12e3})
    calmer = centers.copy()
    calmer.loc[moved, "tier"] = "low"
    direct = es.prepare(calmer, garrisons, max_distance_m={**TIER_LIMITS, "medium": 12e3})
    _same_plan(_plan(_applied(scenario, base)), _plan(direct))


def test_a_matrix_cut_at_the_old_limit_warns_and_allows_nothing_new(tiny):
    centers, garrisons = tiny
    cut = es.distance_matrix(centers, garrisons, max_distance_m=3000.0)
    base = es.prepare(centers, garrisons, cut, max_distance_m=3000.0)
    edited = _applied(es.Scenario("looser", limits=9000.0), base)
    direct = es.prepare(centers, garrisons, cut, max_distance_m=9000.0)
    _same_plan(_plan(edited), _plan(direct))  # pairs absent from the matrix stay absent
    (warning,) = edited.warnings
    assert "cost matrix" in warning
    assert "distance_matrix" in warning
    assert warning in _plan(edited).warnings


def test_a_raise_without_a_cost_source_is_refused(tiny):
    base = es.prepare(*tiny, max_distance_m=3000.0)
    derived = base.replace(keep_arcs=np.ones(len(base.problem.arcs), dtype=bool))
    with pytest.raises(es.InputError, match=r"re-run es\.prepare with the larger max_distance_m"):
        es.Scenario("looser", limits=9000.0).apply(derived)


# --- 3. added centres -----------------------------------------------------------------


@pytest.mark.parametrize("limit", [None, TIER_LIMITS])
def test_added_centres_equal_preparing_them_with_the_rest(tiny, limit):
    centers, garrisons = tiny
    base = es.prepare(centers.iloc[:30], garrisons, max_distance_m=limit)
    scenario = es.Scenario("new", centers_added=centers.iloc[30:].reset_index())
    edited = _applied(scenario, base)
    direct = es.prepare(centers, garrisons, max_distance_m=limit)
    assert edited.input_hash == direct.input_hash
    np.testing.assert_array_equal(edited.problem.priority, direct.problem.priority)
    _same_plan(_plan(edited), _plan(direct))
    check_plan(_plan(edited), centers, garrisons, split=True)
    again = pickle.loads(pickle.dumps(scenario)).apply(base)  # noqa: S301
    _same_plan(_plan(again), _plan(direct))


def test_added_centres_on_a_given_matrix_need_their_costs(tiny, tmp_path):
    centers, garrisons = tiny
    old, new = centers.iloc[:30], centers.iloc[30:]
    base = es.prepare(old, garrisons, es.distance_matrix(old, garrisons), max_distance_m=9e3)
    path = tmp_path / "new.geojson"
    new.reset_index().to_file(path)
    with pytest.raises(es.InputError, match="added_costs"):
        es.Scenario("no costs", centers_added=path).apply(base)
    scenario = es.Scenario(
        "new", centers_added=path, added_costs=es.distance_matrix(new, garrisons)
    )
    edited = _applied(scenario, base)
    direct = es.prepare(
        centers, garrisons, es.distance_matrix(centers, garrisons), max_distance_m=9e3
    )
    _same_plan(_plan(edited), _plan(direct))


def test_bad_added_centres_are_named(tiny):
    centers, garrisons = tiny
    base = es.prepare(centers.iloc[:30], garrisons)
    with pytest.raises(es.InputError, match="already among") as caught:
        es.Scenario("dup", centers_added=centers.iloc[25:]).apply(base)
    assert caught.value.issues[0].ids == tuple(centers.index[25:30])
    with pytest.raises(es.InputError, match="'tier' column"):
        es.Scenario("cols", centers_added=centers.iloc[30:].drop(columns="tier")).apply(base)
    broken = centers.iloc[30:].copy()
    broken["demand"] = -1
    with pytest.raises(es.InputError, match="centers_added"):
        es.Scenario("neg", centers_added=broken).apply(base)
    with pytest.raises(es.InputError, match="drop added_costs"):
        es.Scenario(
            "geo", centers_added=centers.iloc[30:], added_costs=es.distance_matrix(*tiny)
        ).apply(base)


# --- sweeps and random instances ------------------------------------------------------


def test_a_sweep_of_the_new_kinds_equals_solving_each_directly(tiny):
    centers, garrisons = tiny
    base = es.prepare(centers.iloc[:30], garrisons, max_distance_m=6000.0)
    scenarios = [
        es.Scenario(
            "area", capacity={"agency:police": "-30%"}, demand={"governorate:Babil": "+40%"}
        ),
        es.Scenario("looser", limits=12000.0),
        es.Scenario("new", centers_added=centers.iloc[30:], garrisons_lost=["TG02"]),
    ]
    here = es.run_scenarios(base, scenarios, split=True, coverage="max")
    with ProcessPoolExecutor(max_workers=2) as pool:
        there = es.run_scenarios(base, scenarios, split=True, coverage="max", executor=pool)
    columns = [c for c in here.table.columns if c != "solve_s"]
    pd.testing.assert_frame_equal(here.table[columns], there.table[columns])
    # "Directly": es.prepare on layers edited by hand (the sweep applies the scenarios).
    old = centers.iloc[:30]
    cut, busy, fewer = garrisons.copy(), old.copy(), garrisons.copy()
    police = cut["agency"] == "police"
    cut.loc[police, "capacity"] = cut.loc[police, "capacity"] * 70 // 100
    babil = busy["governorate"] == "Babil"
    busy.loc[babil, "demand"] = [_up(int(d), 40) for d in busy.loc[babil, "demand"]]
    fewer.loc[fewer.index == "TG02", "capacity"] = 0
    by_hand = {
        "area": es.prepare(busy, cut, max_distance_m=6000.0),
        "looser": es.prepare(old, garrisons, max_distance_m=12000.0),
        "new": es.prepare(centers, fewer, max_distance_m=6000.0),
    }
    for s in scenarios:
        direct = _plan(by_hand[s.name])
        _same_plan(here.plans[s.name], direct)
        _same_plan(there.plans[s.name], direct)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**16),
    cut=st.integers(-60, 60),
    grow=st.integers(0, 100),
    raise_to=st.sampled_from([None, 80e3, 150e3]),
    added=st.integers(0, 6),
)
def test_random_scenarios_equal_preparing_the_edited_layers(seed, cut, grow, raise_to, added):
    centers, garrisons = make_instance(np.random.default_rng(seed), 40 + added, 8)
    centers = es.read_polling_centers(centers)
    garrisons = es.read_garrisons(garrisons)
    west = shapely.box(43.0, 31.0, 44.5, 35.0)
    old = centers.iloc[:40]
    base = es.prepare(old, garrisons, max_distance_m=60e3)
    scenario = es.Scenario(
        "random",
        capacity={es.Area(polygon=west): f"{cut:+d}%"},
        demand={"c0": 3, es.Area(ids=["c1", "c2"]): f"+{grow}%"},
        limits=raise_to,
        centers_added=centers.iloc[40:] if added else None,
    )
    if not (garrisons.geometry.x <= 44.5).any():  # the area would select nothing
        with pytest.raises(es.InputError, match="selects no garrison"):
            scenario.apply(base)
        return
    edited = _applied(scenario, base)
    layers_c = centers.copy() if added else old.copy()
    layers_g = garrisons.copy()
    in_west = layers_g.geometry.x <= 44.5
    layers_g.loc[in_west, "capacity"] = [
        int(c) * (100 + cut) // 100 for c in layers_g.loc[in_west, "capacity"]
    ]
    layers_c.loc["c0", "demand"] = 3
    for c in ("c1", "c2"):
        layers_c.loc[c, "demand"] = _up(int(layers_c.loc[c, "demand"]), grow)
    direct = es.prepare(layers_c, layers_g, max_distance_m=raise_to or 60e3)
    assert edited.input_hash == direct.input_hash
    _same_plan(_plan(edited), _plan(direct))


@pytest.mark.parametrize("form", ["demand_columns", "agency_column"])
def test_added_centres_keep_agencies_jurisdictions_and_reserves(tiny, form):
    centers, garrisons = tiny
    several = centers.copy()
    if form == "demand_columns":
        several["demand_police"] = several["demand"]
        several["demand_army"] = (np.arange(len(several)) % 3).astype(np.int64)
        several["demand"] = several["demand_police"] + several["demand_army"]
    else:
        several["agency"] = np.where(np.arange(len(several)) % 2 == 0, "police", "army")
    held = garrisons.copy()
    held["reserve"] = [1, 0, 2, 0, 0, 1]
    options = {"jurisdiction": {"police": ["Baghdad"]}, "max_distance_m": TIER_LIMITS}
    base = es.prepare(several.iloc[:30], held, **options)
    edited = _applied(es.Scenario("new", centers_added=several.iloc[30:]), base)
    direct = es.prepare(several, held, **options)
    assert edited.input_hash == direct.input_hash
    _same_plan(_plan(edited), _plan(direct))


# --- direct scenarios start their split LP from the base's pool (solvers.warm.Reshaped) ---


def _start_arcs(base, edited):
    from electsec.solvers.warm import Reshaped, WarmBase

    return Reshaped.of(WarmBase.build(base)).start(edited)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**16),
    limit=st.sampled_from([None, 30e3, 45e3, 90e3]),
    added=st.integers(0, 8),
    lost=st.integers(0, 7),
)
def test_a_restarted_sweep_is_the_exact_optimum_of_the_edited_layers(seed, limit, added, lost):
    """The sweep's plan against an independent LP (scipy) on layers edited by hand."""
    from reference import reference_optimum

    rng = np.random.default_rng(seed)
    centers, garrisons = make_instance(rng, 45 + added, 8, capacity_ratio=1.4, box=AROUND_BAGHDAD)
    centers, garrisons = es.read_polling_centers(centers), es.read_garrisons(garrisons)
    base = es.prepare(centers.iloc[:45], garrisons, max_distance_m=60e3)
    lost_id = str(garrisons.index[lost])
    scenario = es.Scenario(
        "edit",
        limits=limit,
        centers_added=centers.iloc[45:] if added else None,
        garrisons_lost=[lost_id],
    )
    if limit is None and not added:
        scenario = dataclasses.replace(scenario, tiers=None, limits=60e3)  # a direct one still
    edited = scenario.apply(base)
    start = _start_arcs(base, edited)
    assert start is not None  # the restart is what is tested
    assert len(start)
    # Every start arc is allowed in the edited instance, at its geodesic (whole metres).
    lon, lat = edited.labels.center_lonlat[start.center].T
    g_lon, g_lat = edited.labels.garrison_lonlat[start.garrison].T
    metres = geodesic_m(lon, lat, g_lon, g_lat)
    assert (metres <= (limit or 60e3)).all()
    np.testing.assert_allclose(start.cost, np.round(metres), atol=1)
    fewer = garrisons.copy()
    fewer.loc[lost_id, "capacity"] = 0
    layer = centers if added else centers.iloc[:45]
    exact = reference_optimum(layer, fewer, split=True, max_distance_m=limit or 60e3)
    sweep = es.run_scenarios(base, [scenario], split=True)
    plan = sweep.plans["edit"]
    if exact is None:
        assert isinstance(plan, es.InfeasibleError)
        return
    check_plan(plan, layer, fewer, split=True, max_distance_m=limit or 60e3)
    assert plan.objective == pytest.approx(exact, abs=0.5)
    assert plan.objective == pytest.approx(es.solve(edited, split=True).objective, rel=1e-12)


@pytest.mark.parametrize("form", ["demand_columns", "agency_column"])
def test_a_restart_with_agencies_keeps_each_rows_pairs(tiny, form):
    centers, garrisons = tiny
    several = centers.copy()
    if form == "demand_columns":
        several["demand_police"] = several["demand"]
        several["demand_army"] = (np.arange(len(several)) % 3).astype(np.int64)
        several["demand"] = several["demand_police"] + several["demand_army"]
    else:
        several["agency"] = np.where(np.arange(len(several)) % 2 == 0, "police", "army")
    options = {"jurisdiction": {"police": ["Baghdad"]}, "max_distance_m": TIER_LIMITS}
    base = es.prepare(several.iloc[:30], garrisons, **options)
    scenarios = [
        es.Scenario("new", centers_added=several.iloc[30:]),
        es.Scenario("retier", tiers={"TC002": "low", "TC004": "high"}),
    ]
    sweep = es.run_scenarios(base, scenarios, split=True, coverage="max")
    for s in scenarios:
        edited = s.apply(base)
        start = _start_arcs(base, edited)
        assert start is not None
        assert len(start)
        agency = edited.labels.forces.row_agency[start.center]
        garrison = edited.labels.garrison_ids[start.garrison]
        np.testing.assert_array_equal(agency, garrisons.loc[garrison, "agency"].to_numpy())
        _same_plan(sweep.plans[s.name], _plan(edited))
