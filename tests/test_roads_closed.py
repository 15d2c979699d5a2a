"""Scenario roads_closed: re-pricing the affected pairs equals a matrix on the closed roads."""

import pickle

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import electsec as es
from conftest import SAMPLE
from electsec import closures
from electsec.network import RoadNetwork

LIMIT_S = 1800.0


@pytest.fixture(scope="module")
def roads():
    """The tiny sample, its road network and the instance on its travel times."""
    centers = es.read_polling_centers(SAMPLE / "tiny_centers.geojson")
    garrisons = es.read_garrisons(SAMPLE / "tiny_garrisons.geojson")
    net = RoadNetwork.from_roads(gpd.read_file(SAMPLE / "roads.gpkg"))
    costs = es.distance_matrix(centers, garrisons, metric="travel_time", network=net)
    base = es.prepare(centers, garrisons, costs, max_time_s=LIMIT_S)
    return centers, garrisons, net, base


def _around(layer, ident, half_deg):
    x, y = layer.geometry.x[ident], layer.geometry.y[ident]
    return shapely.box(x - half_deg, y - half_deg, x + half_deg, y + half_deg)


def _direct(centers, garrisons, net, edges):
    closed = net.without(edges)
    costs = es.distance_matrix(
        centers, garrisons, metric="travel_time", network=closed, max_time_s=LIMIT_S
    )
    return es.prepare(centers, garrisons, costs, max_time_s=LIMIT_S)


def _check(plan, centers, garrisons, closed):
    """Independent checks: teams within capacity and demand, each used pair drivable."""
    table = plan.assignments
    used = table.groupby("garrison_id")["teams"].sum()
    assert (used <= garrisons["capacity"].reindex(used.index)).all()
    got = table.groupby("center_id")["teams"].sum()
    assert (got <= centers["demand"].reindex(got.index)).all()
    routes = closed.paths(centers.loc[table["center_id"]], garrisons.loc[table["garrison_id"]])
    assert routes.notna().all()  # every pair used can still be driven
    assert (table["time_s"] <= LIMIT_S).all()


def _plan(instance):
    return es.solve(instance, split=True, coverage="max")


def _same(edited, direct):
    """Same allowed pairs and costs (all a plan may use: within the limit), same plan."""
    np.testing.assert_array_equal(
        edited.problem.arcs.keys(edited.n_garrisons), direct.problem.arcs.keys(direct.n_garrisons)
    )
    mine, theirs = edited.cost.values <= LIMIT_S, direct.cost.values <= LIMIT_S
    np.testing.assert_array_equal(edited.cost.keys[mine], direct.cost.keys[theirs])
    np.testing.assert_allclose(edited.cost.values[mine], direct.cost.values[theirs], rtol=1e-12)
    a, b = _plan(edited), _plan(direct)
    assert a.objective == pytest.approx(b.objective, rel=1e-12)
    key = ["center_id", "garrison_id"]
    pd.testing.assert_frame_equal(
        a.assignments[[*key, "teams", "time_s"]].sort_values(key, ignore_index=True),
        b.assignments[[*key, "teams", "time_s"]].sort_values(key, ignore_index=True),
    )
    assert sorted(a.uncovered["center_id"]) == sorted(b.uncovered["center_id"])
    return a


def test_closing_roads_in_a_polygon_equals_costs_on_the_closed_network(roads):
    centers, garrisons, net, base = roads
    polygon = _around(garrisons, "TG01", 0.02)
    scenario = es.Scenario("closed", roads_closed=polygon)
    before = pickle.dumps(base)
    edited = pickle.loads(pickle.dumps(scenario)).apply(base, network=net)  # noqa: S301
    assert pickle.dumps(base) == before
    direct = _direct(centers, garrisons, net, net.edges_in(polygon))
    plan = _same(edited, direct)
    assert plan.objective != _plan(base).objective  # the closure matters
    _check(plan, centers, garrisons, net.without(net.edges_in(polygon)))
    assert edited.road is not None
    np.testing.assert_array_equal(edited.road.piece_nodes, direct.road.piece_nodes)


def test_closing_edges_by_id_re_searches_only_the_pairs_they_touch(roads, monkeypatch):
    centers, garrisons, net, base = roads
    edges = [int(e) for e in net.edges_in(_around(centers, "TC005", 0.005))]
    searched = []
    real = closures.shortest_arcs

    def spy(graph, c_node, g_node, c_idx, g_idx, limit):
        searched.append(len(c_idx) * len(g_idx))
        return real(graph, c_node, g_node, c_idx, g_idx, limit)

    monkeypatch.setattr(closures, "shortest_arcs", spy)
    monkeypatch.setattr(closures, "_detection_pays", lambda *_: True)  # 6 garrisons only
    edited = es.Scenario("closed", roads_closed=edges).apply(base, network=net)
    assert 0 < sum(searched) < base.n_centers * base.n_garrisons  # some pairs, not all
    _same(edited, _direct(centers, garrisons, net, edges))


def test_a_sweep_with_closures_equals_solving_each_directly(roads):
    # "Directly": a matrix built on the closed network and layers edited by hand, not
    # Scenario.apply (the sweep itself applies the scenarios).
    centers, garrisons, net, base = roads
    north, south = _around(garrisons, "TG02", 0.03), _around(garrisons, "TG05", 0.03)
    scenarios = [
        es.Scenario("north", roads_closed=north),
        es.Scenario("south", roads_closed=south, garrisons_lost="TG06"),
        es.Scenario("plain", capacity={"TG03": "-50%"}),
    ]
    fewer, half = garrisons.copy(), garrisons.copy()
    fewer.loc["TG06", "capacity"] = 0
    half.loc["TG03", "capacity"] = garrisons.loc["TG03", "capacity"] // 2
    by_hand = {
        "north": _direct(centers, garrisons, net, net.edges_in(north)),
        "south": _direct(centers, fewer, net, net.edges_in(south)),
        "plain": _direct(centers, half, net, []),
    }
    sweep = es.run_scenarios(base, scenarios, split=True, coverage="max", network=net)
    for s in scenarios:
        direct = _plan(by_hand[s.name])
        assert sweep.plans[s.name].objective == pytest.approx(direct.objective, rel=1e-12)
        assert sweep.plans[s.name].to_dict()["assignments"] == direct.to_dict()["assignments"]


def test_closures_without_a_network_or_road_costs_are_refused(roads, tiny):
    *_, net, base = roads
    with pytest.raises(es.InputError, match="network=") as caught:
        es.Scenario("x", roads_closed=[0]).apply(base)
    assert caught.value.issues[0].column == "roads_closed"
    with pytest.raises(es.InputError, match="road costs"):
        es.Scenario("x", roads_closed=[0]).apply(es.prepare(*tiny), network=net)
    with pytest.raises(es.InputError, match="edge ids") as caught:
        es.Scenario("x", roads_closed=[0, -1, net.n_edges, "a"]).apply(base, network=net)
    assert caught.value.issues[0].ids == ("-1", str(net.n_edges), "a")
    with pytest.raises(es.InputError, match="meets no road"):
        es.Scenario("x", roads_closed=shapely.box(10, 10, 10.1, 10.1)).apply(base, network=net)
    with pytest.raises(es.InputError, match="network="):
        es.run_scenarios(base, [es.Scenario("x", roads_closed=[0])], split=True)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    pick=st.integers(0, 39),
    half=st.sampled_from([0.003, 0.01, 0.04]),
    detect=st.booleans(),
    cut=st.booleans(),
)
def test_random_closures_equal_the_closed_network(roads, monkeypatch, pick, half, detect, cut):
    centers, garrisons, net, base = roads
    if cut:  # the base matrix itself cut at the limit: a re-snapped point may come nearer
        costs = es.distance_matrix(
            centers, garrisons, metric="travel_time", network=net, max_time_s=LIMIT_S
        )
        base = es.prepare(centers, garrisons, costs, max_time_s=LIMIT_S)
    polygon = _around(centers, centers.index[pick], half)
    if not len(net.edges_in(polygon)):
        return
    # Both ways: the affected pairs only, or every pair searched again.
    monkeypatch.setattr(closures, "_detection_pays", lambda *_: detect)
    edited = es.Scenario("closed", roads_closed=polygon).apply(base, network=net)
    _same(edited, _direct(centers, garrisons, net, net.edges_in(polygon)))


def test_added_centres_on_road_costs_are_priced_on_the_network(roads):
    centers, garrisons, net, _ = roads
    old, new = centers.iloc[:30], centers.iloc[30:]
    costs = es.distance_matrix(old, garrisons, metric="travel_time", network=net)
    base = es.prepare(old, garrisons, costs, max_time_s=LIMIT_S)
    with pytest.raises(es.InputError, match="network= for road costs"):
        es.Scenario("new", centers_added=new).apply(base)
    edited = es.Scenario("new", centers_added=new).apply(base, network=net)
    whole = es.distance_matrix(centers, garrisons, metric="travel_time", network=net)
    _same(edited, es.prepare(centers, garrisons, whole, max_time_s=LIMIT_S))
    polygon = _around(garrisons, "TG01", 0.02)
    both = es.Scenario("both", centers_added=new, roads_closed=polygon)
    _same(both.apply(base, network=net), _direct(centers, garrisons, net, net.edges_in(polygon)))


BAGHDAD_OSM = SAMPLE.parents[2] / "shared" / "data" / "roads" / "baghdad_osm" / "Baghdad.osm"


@pytest.fixture(scope="module")
def baghdad():
    """Centres and garrisons on central Baghdad's OSM roads (the shared extract)."""
    if not BAGHDAD_OSM.exists():
        pytest.skip(f"{BAGHDAD_OSM} absent")
    import sys

    sys.path.insert(0, str(SAMPLE.parents[1] / "benchmarks"))
    import bench_osm_baghdad as bench

    net = RoadNetwork.from_osm(BAGHDAD_OSM)
    centers, garrisons = bench.sample_layers(BAGHDAD_OSM, 80, 6, seed=4, core=True)
    costs = es.distance_matrix(centers, garrisons, metric="travel_time", network=net)
    return centers, garrisons, net, es.prepare(centers, garrisons, costs, max_time_s=LIMIT_S)


@pytest.mark.parametrize(("pick", "half"), [(0, 0.004), (17, 0.01), (42, 0.02)])
def test_closures_on_the_baghdad_osm_roads_equal_the_closed_network(baghdad, pick, half):
    centers, garrisons, net, base = baghdad
    polygon = _around(centers, centers.index[pick], half)
    edges = net.edges_in(polygon)
    assert len(edges)  # real streets inside: the closure has something to close
    scenario = es.Scenario("closed", roads_closed=polygon)
    edited = scenario.apply(base, network=net)
    _same(edited, _direct(centers, garrisons, net, edges))
    sweep = es.run_scenarios(base, [scenario], split=True, network=net, coverage="max")
    direct = _plan(edited)
    assert sweep.table["objective"].iloc[0] == pytest.approx(direct.objective)
    _check(direct, centers, garrisons, net.without(edges))
