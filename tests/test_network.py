"""Road travel times: checked against networkx shortest paths on independently split graphs.

The reference here never uses electsec's graph code: it snaps each point to the nearest
road by brute force (shapely), splits that road at the snapped point inside a networkx
graph (chaining several points on one road in order), adds the off-road leg, and runs
networkx's Dijkstra from every garrison.
"""

from __future__ import annotations

import itertools
import logging
import sys
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import electsec as es
from electsec.network import DEFAULT_SPEEDS_KMH, RoadNetwork

nx = pytest.importorskip("networkx")

UTM = "EPSG:32638"
X0, Y0 = 440_000.0, 3_690_000.0  # around Baghdad, UTM 38N
BAGHDAD_OSM = Path(__file__).resolve().parents[2] / "shared/data/roads/baghdad_osm/Baghdad.osm"


# -- hand-built graphs ------------------------------------------------------------------


def grid_graph(
    rng: np.random.Generator, side: int, *, spacing: float = 1000.0, oneway: float = 0.25
) -> nx.MultiDiGraph:
    """A jittered grid with random gaps, speeds and one-way streets, plus an island."""
    g = nx.MultiDiGraph(crs=UTM)
    pos = {}
    for i in range(side):
        for j in range(side):
            pos[(i, j)] = (
                X0 + i * spacing + rng.uniform(-150, 150),
                Y0 + j * spacing + rng.uniform(-150, 150),
            )
    # The island: a triangle 30 km east, not connected to the grid.
    for n, (dx, dy) in enumerate([(0, 0), (1500, 0), (0, 1500)]):
        pos[("island", n)] = (X0 + 30_000 + dx, Y0 + dy)
    for n, (x, y) in pos.items():
        g.add_node(n, x=x, y=y)

    def road(u: object, v: object, speed: float, *, one_way: bool) -> None:
        length = float(np.hypot(pos[u][0] - pos[v][0], pos[u][1] - pos[v][1]))
        for a, b in [(u, v)] if one_way else [(u, v), (v, u)]:
            g.add_edge(a, b, length=length, travel_time=length / (speed / 3.6))

    for i in range(side):
        for j in range(side):
            for di, dj in ((1, 0), (0, 1)):
                if i + di < side and j + dj < side and rng.random() < 0.85:
                    speed = float(rng.choice([30.0, 50.0, 80.0]))
                    road((i, j), (i + di, j + dj), speed, one_way=bool(rng.random() < oneway))
    # Keep the grid strongly connected through a two-way ring road.
    ring = [(i, 0) for i in range(side)] + [(side - 1, j) for j in range(1, side)]
    ring += [(i, side - 1) for i in range(side - 2, -1, -1)]
    ring += [(0, j) for j in range(side - 2, 0, -1)]
    for u, v in zip(ring, [*ring[1:], ring[0]], strict=True):
        road(u, v, 60.0, one_way=False)
    island = [("island", n) for n in range(3)]
    for u, v in zip(island, [*island[1:], island[0]], strict=True):
        road(u, v, 40.0, one_way=False)
    return g


def layers(
    center_xy: np.ndarray, garrison_xy: np.ndarray, *, capacity: int = 10
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    centers = gpd.GeoDataFrame(
        {"center_id": [f"C{i:03d}" for i in range(len(center_xy))], "demand": 1},
        geometry=gpd.points_from_xy(center_xy[:, 0], center_xy[:, 1]),
        crs=UTM,
    )
    garrisons = gpd.GeoDataFrame(
        {"garrison_id": [f"G{j:02d}" for j in range(len(garrison_xy))], "capacity": capacity},
        geometry=gpd.points_from_xy(garrison_xy[:, 0], garrison_xy[:, 1]),
        crs=UTM,
    )
    return (
        es.read_polling_centers(centers),
        es.read_garrisons(garrisons),
    )


def reference(  # noqa: PLR0912 - one brute-force reference, read top to bottom
    g: nx.MultiDiGraph,
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    *,
    weight: str = "travel_time",
    offroad_kmh: float = 20.0,
    max_snap_m: float = 5000.0,
) -> pd.DataFrame:
    """Every reachable (centre, garrison) cost by brute-force snapping + networkx."""
    per_m = 3.6 / offroad_kmh if weight == "travel_time" else 1.0
    h = nx.DiGraph()
    roads: dict[tuple[object, object], dict[str, float]] = {}
    for u, v, d in g.edges(data=True):
        h.add_edge(u, v, w=min(d[weight], h.edges[u, v]["w"] if h.has_edge(u, v) else np.inf))
        key = (u, v) if str(u) < str(v) else (v, u)
        roads.setdefault(key, {})
    keys = [k for k in roads if k[0] != k[1]]
    lines = [
        shapely.LineString(
            [(g.nodes[a]["x"], g.nodes[a]["y"]), (g.nodes[b]["x"], g.nodes[b]["y"])]
        )
        for a, b in keys
    ]
    on_road: dict[int, list[tuple[float, object, float]]] = {}
    for kind, layer in (("c", centers), ("g", garrisons)):
        for label, point in layer.geometry.items():
            dist = [line.distance(point) for line in lines]
            best = int(np.argmin(dist))
            if dist[best] > max_snap_m:
                continue
            f = lines[best].project(point, normalized=True)
            on_road.setdefault(best, []).append((f, (kind, label), dist[best]))
    for best, points in on_road.items():
        a, b = keys[best]
        points.sort(key=lambda p: p[0])
        chain = [(0.0, a), *[(f, ("snap", node)) for f, node, _ in points], (1.0, b)]
        for direction in ((a, b), (b, a)):
            if not h.has_edge(*direction):
                continue
            w = h.edges[direction]["w"]
            seq = chain if direction == (a, b) else chain[::-1]
            for (f0, n0), (f1, n1) in itertools.pairwise(seq):
                h.add_edge(n0, n1, w=abs(f1 - f0) * w)
        for (f0, n0), (f1, n1) in itertools.pairwise(chain):
            if f0 == f1:  # the same place (a point snapped onto a junction)
                h.add_edge(n0, n1, w=0.0)
                h.add_edge(n1, n0, w=0.0)
        for _, node, dist in points:
            if node[0] == "g":
                h.add_edge(node, ("snap", node), w=dist * per_m)
            else:
                h.add_edge(("snap", node), node, w=dist * per_m)
    rows = []
    for gid in garrisons.index:
        if ("g", gid) not in h:
            continue
        lengths = nx.single_source_dijkstra_path_length(h, ("g", gid), weight="w")
        rows += [
            (node[1], gid, cost)
            for node, cost in lengths.items()
            if isinstance(node, tuple) and node[0] == "c"
        ]
    return pd.DataFrame(rows, columns=["center_id", "garrison_id", "cost"])


def random_points(rng: np.random.Generator, n: int, side: int, spacing: float = 1000.0):
    return np.column_stack(
        [
            X0 + rng.uniform(-500, (side - 1) * spacing + 500, n),
            Y0 + rng.uniform(-500, (side - 1) * spacing + 500, n),
        ]
    )


def as_table(costs: es.CostMatrix) -> pd.DataFrame:
    frame = costs.to_frame()
    return frame.rename(columns={costs.cost_column: "cost"})


def assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    key = ["center_id", "garrison_id"]
    got = got.sort_values(key, ignore_index=True)
    want = want.sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(got[key], want[key], check_dtype=False)
    np.testing.assert_allclose(got["cost"], want["cost"], rtol=1e-9, atol=1e-6)


# -- exact costs against networkx ---------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("metric", ["travel_time", "road_distance"])
def test_costs_match_networkx_with_oneway_roads_and_island(seed, metric):
    rng = np.random.default_rng(seed)
    side = 7
    g = grid_graph(rng, side)
    c_xy = np.vstack([random_points(rng, 40, side), [[X0 + 30_500, Y0 + 200]]])
    g_xy = np.vstack([random_points(rng, 6, side), [[X0 + 30_100, Y0 + 1000]]])
    centers, garrisons = layers(c_xy, g_xy)
    costs = es.distance_matrix(centers, garrisons, metric=metric, network=g)
    assert costs.unit == ("s" if metric == "travel_time" else "m")
    assert costs.metric == metric
    want = reference(
        g, centers, garrisons, weight="travel_time" if metric == "travel_time" else "length"
    )
    assert_same(as_table(costs), want)
    # The island: its centre reaches only the island garrison, nobody else reaches it.
    frame = costs.to_frame()
    assert set(frame.loc[frame["center_id"] == "C040", "garrison_id"]) == {"G06"}
    assert set(frame.loc[frame["garrison_id"] == "G06", "center_id"]) == {"C040"}
    assert np.isfinite(costs.matrix.data).all()


def test_oneway_street_by_hand():
    # 0 -> 1 -> 2 in a line, 1 km apart; 1 -> 2 is one-way; 36 km/h = 10 m/s.
    g = nx.MultiDiGraph(crs=UTM)
    for n in range(3):
        g.add_node(n, x=X0 + 1000 * n, y=Y0)
    for u, v in ((0, 1), (1, 0), (1, 2)):
        g.add_edge(u, v, length=1000.0, travel_time=100.0)
    centers, garrisons = layers(
        np.array([[X0 + 2000, Y0], [X0, Y0], [X0 + 1500, Y0 + 100]]),
        np.array([[X0, Y0], [X0 + 2000, Y0]]),
    )
    costs = es.distance_matrix(centers, garrisons, metric="travel_time", network=g)
    table = as_table(costs).set_index(["center_id", "garrison_id"])["cost"].to_dict()
    # C002 is 100 m off the road at 20 km/h: 18 s, plus 150 s along the road from G00.
    assert table == pytest.approx(
        {
            ("C000", "G00"): 200.0,
            ("C000", "G01"): 0.0,
            ("C001", "G00"): 0.0,
            ("C002", "G00"): 150.0 + 18.0,
        }
    )
    # G01 sits at the end of the one-way street: it can reach nobody else.
    assert costs.unreachable == ()


def test_island_centres_are_listed_unreachable(caplog):
    rng = np.random.default_rng(5)
    g = grid_graph(rng, 5)
    c_xy = np.vstack([random_points(rng, 10, 5), [[X0 + 30_500, Y0 + 200]]])
    centers, garrisons = layers(c_xy, random_points(rng, 3, 5))
    with caplog.at_level(logging.INFO, logger="electsec.network"):
        costs = es.distance_matrix(centers, garrisons, metric="travel_time", network=g, k=2)
    assert costs.unreachable == ("C010",)
    assert costs.matrix[[10], :].nnz == 0
    assert "C010" in caplog.text


def test_k_nearest_terminates_with_many_centres_on_an_island():
    rng = np.random.default_rng(6)
    g = grid_graph(rng, 5)
    island = np.column_stack([X0 + 30_000 + rng.uniform(0, 1500, 30), Y0 + rng.uniform(0, 50, 30)])
    centers, garrisons = layers(
        np.vstack([random_points(rng, 20, 5), island]), random_points(rng, 4, 5)
    )
    costs = es.distance_matrix(centers, garrisons, metric="travel_time", network=g, k=3)
    assert set(costs.unreachable) == {f"C{i:03d}" for i in range(20, 50)}
    full = as_table(es.distance_matrix(centers, garrisons, metric="travel_time", network=g))
    want = full.sort_values(["center_id", "cost", "garrison_id"]).groupby("center_id").head(3)
    assert_same(as_table(costs), want)


def test_snap_limit_lists_far_centres_instead_of_snapping_them():
    g = grid_graph(np.random.default_rng(7), 4)
    far = [X0 + 1000, Y0 - 8000]  # 8 km south of the grid: across the valley
    centers, garrisons = layers(
        np.array([[X0 + 1000, Y0 + 1000], far]), np.array([[X0 + 2000, Y0 + 2000]])
    )
    strict = es.distance_matrix(centers, garrisons, metric="travel_time", network=g)
    assert strict.unreachable == ("C001",)
    assert strict.matrix[[1], :].nnz == 0
    net = RoadNetwork.build(g, max_snap_m=20_000, offroad_speed_kmh=10)
    report = net.snap(centers)
    assert report["on_network"].tolist() == [True, True]
    assert report.loc["C001", "snap_distance_m"] == pytest.approx(
        g.nodes[(1, 0)]["y"] - far[1], abs=200
    )
    loose = es.distance_matrix(centers, garrisons, metric="travel_time", network=net)
    assert loose.unreachable == ()
    want = reference(g, centers, garrisons, offroad_kmh=10, max_snap_m=20_000)
    assert_same(as_table(loose), want)
    # The off-road leg dominates: at least 7.5 km at 10 km/h.
    assert loose.to_frame().set_index("center_id").loc["C001", "time_s"] > 7500 * 0.36


def test_snap_report_of_default_network():
    g = grid_graph(np.random.default_rng(8), 3)
    centers, _ = layers(np.array([[X0, Y0 - 6000.0], [X0 + 10, Y0 + 10]]), np.array([[X0, Y0]]))
    report = RoadNetwork.build(g).snap(centers)
    assert report["on_network"].tolist() == [False, True]
    assert report.loc["C001", "snap_distance_m"] < 200


# -- limits and k ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "limit"), [(1, None), (3, None), (20, None), (2, 400.0), (None, 300)]
)
def test_k_and_limit_match_the_filtered_full_matrix(k, limit):
    rng = np.random.default_rng(11)
    side = 8
    g = grid_graph(rng, side)
    centers, garrisons = layers(random_points(rng, 120, side), random_points(rng, 15, side))
    full = as_table(es.distance_matrix(centers, garrisons, metric="travel_time", network=g))
    got = es.distance_matrix(
        centers, garrisons, metric="travel_time", network=g, k=k, max_time_s=limit
    )
    want = full if limit is None else full[full["cost"] <= limit]
    if k is not None:
        want = want.sort_values(["center_id", "cost", "garrison_id"])
        want = want.groupby("center_id").head(k)
    assert_same(as_table(got), want)
    reached = set(want["center_id"])
    assert set(got.unreachable) == set(centers.index) - reached


def test_more_centres_than_garrisons_and_the_reverse_agree():
    rng = np.random.default_rng(12)
    g = grid_graph(rng, 6)
    a, b = random_points(rng, 4, 6), random_points(rng, 30, 6)
    few_centres = layers(a, b)
    many_centres = layers(b, a)
    one = as_table(es.distance_matrix(*few_centres, metric="road_distance", network=g))
    two = as_table(es.distance_matrix(*many_centres, metric="road_distance", network=g))
    # Reverse roles: the cost from garrison j to centre i becomes i to j on the reversed
    # graph, so compare each with its own reference instead.
    assert_same(one, reference(g, *few_centres, weight="length"))
    assert_same(two, reference(g, *many_centres, weight="length"))


def test_bad_arguments_are_input_errors():
    g = grid_graph(np.random.default_rng(3), 3)
    centers, garrisons = layers(
        random_points(np.random.default_rng(4), 3, 3), np.array([[X0, Y0]])
    )
    with pytest.raises(es.InputError, match="network"):
        es.distance_matrix(centers, garrisons, metric="travel_time")
    with pytest.raises(es.InputError, match="max_time_s"):
        es.distance_matrix(centers, garrisons, metric="travel_time", network=g, max_distance_m=5)
    with pytest.raises(es.InputError, match="max_time_s"):
        es.distance_matrix(centers, garrisons, metric="travel_time", network=g, max_time_s=-1)
    with pytest.raises(es.InputError, match="network"):
        es.distance_matrix(centers, garrisons, metric="travel_time", network=[1, 2])
    with pytest.raises(es.InputError, match="offroad_speed_kmh"):
        RoadNetwork.build(g, offroad_speed_kmh=0)
    roads = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1, 1)])], crs=UTM)
    with pytest.raises(es.InputError, match="speed column"):
        RoadNetwork.from_roads(roads)


# -- a road layer (GeoDataFrame) without networkx -------------------------------------------


def roads_from_graph(g: nx.MultiDiGraph) -> gpd.GeoDataFrame:
    """One LineString per road; a one-way road is drawn in its direction."""
    rows = []
    left = [(u, v, d["length"], d["travel_time"]) for u, v, d in g.edges(data=True)]
    while left:
        u, v, length, time = left.pop()
        twin = (v, u, length, time)
        both = twin in left
        if both:
            left.remove(twin)
        xy = [(g.nodes[n]["x"], g.nodes[n]["y"]) for n in (u, v)]
        rows.append(
            {
                "maxspeed_kmh": length / time * 3.6,
                "oneway": "no" if both else "yes",
                "geometry": shapely.LineString(xy),
            }
        )
    return gpd.GeoDataFrame(rows, crs=UTM).to_crs("EPSG:4326")


def test_road_layer_needs_no_networkx(monkeypatch):
    rng = np.random.default_rng(21)
    g = grid_graph(rng, 6)
    roads = roads_from_graph(g)
    centers, garrisons = layers(random_points(rng, 30, 6), random_points(rng, 5, 6))
    centers, garrisons = centers.to_crs("EPSG:4326"), garrisons.to_crs("EPSG:4326")
    monkeypatch.setitem(sys.modules, "networkx", None)  # any import of networkx fails
    net = RoadNetwork.from_roads(roads)
    costs = es.distance_matrix(centers, garrisons, metric="travel_time", network=net)
    monkeypatch.undo()
    assert net.crs.to_epsg() == 32638  # an estimated UTM zone
    assert net.n_nodes == g.number_of_nodes()
    got = as_table(costs)
    want = reference(g, centers.to_crs(UTM), garrisons.to_crs(UTM))
    # The road layer went through lon/lat and back: allow millimetres of rounding.
    key = ["center_id", "garrison_id"]
    got, want = got.sort_values(key, ignore_index=True), want.sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(got[key], want[key], check_dtype=False)
    np.testing.assert_allclose(got["cost"], want["cost"], rtol=1e-6, atol=1e-2)


def test_road_layer_classes_reverse_oneway_and_bridges():
    # Two roads cross without a shared end point (a bridge over a road): no junction.
    roads = gpd.GeoDataFrame(
        {
            "highway": ["primary", "residential", "unknown_class"],
            "oneway": [None, "-1", "no"],
        },
        geometry=[
            shapely.LineString([(X0, Y0), (X0 + 2000, Y0)]),
            shapely.LineString([(X0 + 1000, Y0 - 1000), (X0 + 1000, Y0 + 1000)]),
            shapely.LineString([(X0 + 2000, Y0), (X0 + 3000, Y0)]),
        ],
        crs=UTM,
    )
    net = RoadNetwork.from_roads(roads, drivable_only=False)  # keep the unknown class
    assert net.n_nodes == 5
    assert net.n_edges == 2 + 1 + 2  # the residential road runs against its drawing
    centers, garrisons = layers(
        np.array([[X0 + 3000, Y0], [X0 + 1000, Y0 - 1000]]), np.array([[X0, Y0]])
    )
    costs = as_table(es.distance_matrix(centers, garrisons, metric="travel_time", network=net))
    primary = 2000 / (DEFAULT_SPEEDS_KMH["primary"] / 3.6)
    fallback = 1000 / (30 / 3.6)
    # C001 is 1 km straight down from the crossing, but the bridge has no ramp: the
    # centre snaps to the residential road's end and is reached from... nowhere.
    assert costs.set_index("center_id")["cost"].to_dict() == pytest.approx(
        {"C000": primary + fallback}
    )


# -- a plan on travel times ---------------------------------------------------------------


def check_travel_time_plan(plan, centers, garrisons, costs: es.CostMatrix) -> None:
    """Teams, capacities, and every time_s equals the matrix entry (independent check)."""
    a = plan.assignments
    assert "time_s" in a.columns
    assert "distance_m" not in a.columns
    demand = centers["demand"]
    got = a.groupby("center_id")["teams"].sum().reindex(centers.index, fill_value=0)
    missing = plan.uncovered.set_index("center_id")["teams"].reindex(centers.index, fill_value=0)
    pd.testing.assert_series_equal(got + missing, demand, check_names=False)
    used = a.groupby("garrison_id")["teams"].sum().reindex(garrisons.index, fill_value=0)
    assert (used <= garrisons["capacity"]).all()
    table = costs.to_frame().set_index(["center_id", "garrison_id"])["time_s"]
    pairs = list(zip(a["center_id"], a["garrison_id"], strict=True))
    assert set(pairs) <= set(table.index), "a plan uses a pair unreachable by road"
    np.testing.assert_allclose(a["time_s"].to_numpy(), table.loc[pairs].to_numpy())
    objective = float((a["teams"] * np.rint(a["time_s"])).sum())
    assert plan.objective == pytest.approx(objective, abs=len(a))


@pytest.mark.parametrize("split", [True, False])
def test_plan_on_travel_times(split):
    rng = np.random.default_rng(31)
    side = 7
    g = grid_graph(rng, side)
    centers, garrisons = layers(
        random_points(rng, 60, side), random_points(rng, 6, side), capacity=14
    )
    costs = es.distance_matrix(centers, garrisons, metric="travel_time", network=g, k=4)
    plan = es.solve_assignment(centers, garrisons, costs, split=split)
    check_travel_time_plan(plan, centers, garrisons, costs)
    want = reference(g, centers, garrisons).set_index(["center_id", "garrison_id"])["cost"]
    pairs = list(zip(plan.assignments["center_id"], plan.assignments["garrison_id"], strict=True))
    np.testing.assert_allclose(plan.assignments["time_s"], want.loc[pairs].to_numpy(), rtol=1e-9)


# -- real roads: central Baghdad (OpenStreetMap) -----------------------------------------------

DRIVABLE = set(DEFAULT_SPEEDS_KMH) - {"track"}


@pytest.fixture(scope="module")
def baghdad():
    if not BAGHDAD_OSM.exists():
        pytest.skip(f"{BAGHDAD_OSM} is not available")
    ox = pytest.importorskip("osmnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # osmnx's own deprecation notes are not ours
        g = ox.graph_from_xml(BAGHDAD_OSM, retain_all=True)
        drop = [
            (u, v, key)
            for u, v, key, d in g.edges(keys=True, data=True)
            if not (
                {d.get("highway")}
                if isinstance(d.get("highway"), str)
                else set(d.get("highway") or [])
            )
            & DRIVABLE
        ]
        g.remove_edges_from(drop)
        g.remove_nodes_from([n for n in list(g.nodes) if g.degree(n) == 0])
        g = ox.add_edge_speeds(g, hwy_speeds=dict(DEFAULT_SPEEDS_KMH))
        g = ox.add_edge_travel_times(g)
    return g


def test_baghdad_plan_matches_networkx(baghdad):
    g = baghdad
    rng = np.random.default_rng(2025)
    nodes = list(g.nodes)
    pick = rng.choice(len(nodes), 60, replace=False)
    lon = np.array([g.nodes[nodes[i]]["x"] for i in pick])
    lat = np.array([g.nodes[nodes[i]]["y"] for i in pick])
    c = gpd.GeoDataFrame(
        {"center_id": [f"B{i:02d}" for i in range(50)], "demand": rng.integers(1, 4, 50)},
        geometry=gpd.points_from_xy(lon[:50], lat[:50]),
        crs="EPSG:4326",
    )
    gar = gpd.GeoDataFrame(
        {"garrison_id": [f"BG{j}" for j in range(10)], "capacity": 16},
        geometry=gpd.points_from_xy(lon[50:], lat[50:]),
        crs="EPSG:4326",
    )
    centers, garrisons = es.read_polling_centers(c), es.read_garrisons(gar)
    net = RoadNetwork.from_osmnx(g)
    assert net.n_nodes == g.number_of_nodes()
    assert net.snap(centers)["snap_distance_m"].max() < 1e-3  # centres stand on junctions
    costs = es.distance_matrix(centers, garrisons, metric="travel_time", network=net)
    # Reference: networkx Dijkstra from each garrison's node (one-way streets included).
    want = []
    for j, gid in enumerate(garrisons.index):
        lengths = nx.single_source_dijkstra_path_length(
            g, nodes[pick[50 + j]], weight="travel_time"
        )
        want += [
            (cid, gid, lengths[nodes[pick[i]]])
            for i, cid in enumerate(centers.index)
            if nodes[pick[i]] in lengths
        ]
    want = pd.DataFrame(want, columns=["center_id", "garrison_id", "cost"])
    assert_same(as_table(costs), want)
    assert len(want) < len(centers) * len(garrisons)  # some pairs are cut off by one-ways
    assert set(costs.unreachable) == set(centers.index) - set(want["center_id"])
    # Plan the centres that can be reached (a one-way dead end cuts a few off).
    served = centers.drop(index=list(costs.unreachable))
    costs = es.distance_matrix(served, garrisons, metric="travel_time", network=net)
    assert costs.unreachable == ()
    plan = es.solve_assignment(served, garrisons, costs)
    check_travel_time_plan(plan, served, garrisons, costs)


def test_max_time_s_limits_a_travel_time_plan():
    rng = np.random.default_rng(31)
    side = 7
    g = grid_graph(rng, side)
    centers, garrisons = layers(
        random_points(rng, 60, side), random_points(rng, 6, side), capacity=14
    )
    costs = es.distance_matrix(centers, garrisons, metric="travel_time", network=g)
    free = es.solve_assignment(centers, garrisons, costs, split=True)
    limit = float(free.assignments["time_s"].max())
    plan = es.solve_assignment(centers, garrisons, costs, split=True, max_time_s=limit)
    assert plan.objective == free.objective
    assert plan.parameters["max_time_s"] == limit
    tight = limit / 3
    with pytest.raises(es.InfeasibleError) as info:
        es.solve_assignment(centers, garrisons, costs, split=True, max_time_s=tight)
    assert info.value.diagnosis["shortfall"] > 0
    assert (info.value.partial.assignments["time_s"] <= tight).all()


def test_time_and_distance_limits_need_matching_costs():
    rng = np.random.default_rng(32)
    g = grid_graph(rng, 5)
    centers, garrisons = layers(random_points(rng, 8, 5), random_points(rng, 3, 5), capacity=9)
    costs = es.distance_matrix(centers, garrisons, metric="travel_time", network=g)
    with pytest.raises(es.InputError, match="max_time_s"):
        es.solve_assignment(centers, garrisons, costs, max_distance_m=1000)
    with pytest.raises(es.InputError, match="travel-time costs"):
        es.solve_assignment(centers, garrisons, max_time_s=600)
