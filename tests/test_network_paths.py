"""Road plans draw the road route: ``RoadNetwork.paths`` follows the graph the costs used.

The checks are geometric and independent of the graph code: on road-distance costs a
route's length is its cost; on roads all driven at the off-road speed a route's length is
its travel time × that speed; routes start at the garrison and end at the centre.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

import electsec as es
from electsec.network import RoadNetwork
from test_network import UTM, X0, Y0, grid_graph, layers, random_points


def _pairs(costs: es.CostMatrix, centers, garrisons):
    frame = costs.to_frame()
    return (
        frame,
        centers.geometry.reindex(frame["center_id"]).reset_index(drop=True),
        garrisons.geometry.reindex(frame["garrison_id"]).reset_index(drop=True),
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_route_length_is_the_road_distance(seed):
    rng = np.random.default_rng(seed)
    net = RoadNetwork.from_osmnx(grid_graph(rng, 6))
    centers, garrisons = layers(random_points(rng, 25, 6), random_points(rng, 5, 6))
    costs = es.distance_matrix(centers, garrisons, metric="road_distance", network=net)
    frame, c, g = _pairs(costs, centers, garrisons)
    routes = net.paths(c, g, metric="road_distance")
    assert routes.crs.to_epsg() == 4326
    assert routes.notna().all()
    length = routes.to_crs(UTM).length.to_numpy()
    np.testing.assert_allclose(length, frame["distance_m"], rtol=1e-6, atol=1e-3)
    ends = shapely.get_coordinates(shapely.get_point(routes.to_crs(UTM).to_numpy(), -1))
    np.testing.assert_allclose(ends, shapely.get_coordinates(c.to_numpy()), atol=1e-3)
    starts = shapely.get_coordinates(shapely.get_point(routes.to_crs(UTM).to_numpy(), 0))
    np.testing.assert_allclose(starts, shapely.get_coordinates(g.to_numpy()), atol=1e-3)


def test_route_time_matches_travel_time_when_every_road_runs_at_one_speed():
    rng = np.random.default_rng(3)
    graph = grid_graph(rng, 5)
    for _, _, data in graph.edges(data=True):
        data["travel_time"] = data["length"] / 10.0  # 36 km/h everywhere
    net = RoadNetwork.from_osmnx(graph, offroad_speed_kmh=36.0)
    centers, garrisons = layers(random_points(rng, 15, 5), random_points(rng, 4, 5))
    costs = es.distance_matrix(centers, garrisons, metric="travel_time", network=net)
    frame, c, g = _pairs(costs, centers, garrisons)
    length = net.paths(c, g).to_crs(UTM).length.to_numpy()
    np.testing.assert_allclose(length / 10.0, frame["time_s"], rtol=1e-6, atol=1e-3)


def _roads(rows):
    return gpd.GeoDataFrame(
        {"maxspeed_kmh": [r[0] for r in rows]},
        geometry=[shapely.LineString(r[1]) for r in rows],
        crs=UTM,
    )


def test_a_route_follows_the_road_bends_in_driving_order():
    # One L-shaped road; the centre snaps onto its second leg, 10 m off it.
    net = RoadNetwork.from_roads(
        _roads([(50.0, [(X0, Y0), (X0 + 1000, Y0), (X0 + 1000, Y0 + 1000)])])
    )
    centers, garrisons = layers(np.array([[X0 + 1010, Y0 + 500]]), np.array([[X0, Y0 - 10]]))
    route = net.paths(centers.geometry, garrisons.geometry, metric="road_distance")
    xy = shapely.get_coordinates(route.to_crs(UTM).iloc[0])
    want = [(X0, Y0 - 10), (X0, Y0), (X0 + 1000, Y0), (X0 + 1000, Y0 + 500), (X0 + 1010, Y0 + 500)]
    np.testing.assert_allclose(xy, want, atol=1e-3)


def test_the_fastest_route_is_drawn_for_travel_times_and_the_shortest_for_distances():
    # Two roads join junctions a and b: a straight slow one and a fast detour by `top`;
    # the garrison and the centre sit on spurs beyond a and b.
    a, b, top = (X0, Y0), (X0 + 2000, Y0), (X0 + 1000, Y0 + 1000)
    spurs = [(50.0, [(X0 - 500, Y0), a]), (50.0, [b, (X0 + 2500, Y0)])]
    net = RoadNetwork.from_roads(_roads([(10.0, [a, b]), (100.0, [a, top, b]), *spurs]))
    centers, garrisons = layers(np.array([[X0 + 2400, Y0 - 5]]), np.array([[X0 - 400, Y0 - 5]]))
    fast = net.paths(centers, garrisons, metric="travel_time").to_crs(UTM).iloc[0]
    short = net.paths(centers, garrisons, metric="road_distance").to_crs(UTM).iloc[0]
    assert fast.distance(shapely.Point(top)) < 1e-6
    assert short.distance(shapely.Point(top)) > 900
    assert short.length == pytest.approx(2810.0)


def test_no_route_off_the_network_or_to_an_island():
    rng = np.random.default_rng(4)
    net = RoadNetwork.from_osmnx(grid_graph(rng, 4), max_snap_m=1_000)
    centers, garrisons = layers(
        np.array([[X0 + 30_500, Y0 + 200], [X0 + 500, Y0 + 90_000]]),
        np.array([[X0 + 100, Y0 + 100], [X0 + 100, Y0 + 100]]),
    )
    assert net.paths(centers, garrisons).isna().all()


def test_paths_refuses_unpaired_layers_and_unknown_metrics():
    rng = np.random.default_rng(5)
    net = RoadNetwork.from_osmnx(grid_graph(rng, 4))
    centers, garrisons = layers(random_points(rng, 3, 4), random_points(rng, 2, 4))
    with pytest.raises(es.InputError, match="one garrison per centre"):
        net.paths(centers, garrisons)
    with pytest.raises(es.InputError, match="metric"):
        net.paths(centers.iloc[:2], garrisons, metric="walking")


def test_a_road_plan_maps_its_routes(tmp_path):
    rng = np.random.default_rng(6)
    net = RoadNetwork.from_osmnx(grid_graph(rng, 6))
    centers, garrisons = layers(random_points(rng, 20, 6), random_points(rng, 4, 6))
    costs = es.distance_matrix(centers, garrisons, metric="travel_time", network=net)
    plan = es.solve_assignment(centers, garrisons, costs, split=True)
    straight = plan.to_geodataframe()
    routes = plan.to_geodataframe(network=net)
    assert (routes.geometry.count_coordinates() > 2).mean() > 0.5
    assert routes.drop(columns="geometry").equals(straight.drop(columns="geometry"))
    page = plan.explore(network=net).get_root().render()
    vertices = int(routes.geometry.count_coordinates().sum())
    assert page.count("],") > vertices  # every route vertex is in the page's GeoJSON
