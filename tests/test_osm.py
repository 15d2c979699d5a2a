"""OpenStreetMap roads that connect (issue 13): noding, drivable classes, tags, three routes.

Unit tests build tiny road layers by hand. The Baghdad tests read the shared extract
(``<repo>/../shared/data/roads/baghdad_osm/Baghdad.osm``, skipped when absent) three ways
and compare them with each other, using the sampling of ``benchmarks/bench_osm_baghdad.py``.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

import electsec as es
from electsec.cli import EXIT_INPUT, main
from electsec.network import DEFAULT_SPEEDS_KMH, RoadNetwork, read_osm_roads
from electsec.osm import NO_HIGHWAY, maxspeed_kmh, osm_tags

ROOT = Path(__file__).resolve().parents[1]
BAGHDAD_OSM = ROOT.parent / "shared" / "data" / "roads" / "baghdad_osm" / "Baghdad.osm"
UTM = "EPSG:32638"
X0, Y0 = 440_000.0, 3_690_000.0
needs_baghdad = pytest.mark.skipif(not BAGHDAD_OSM.exists(), reason=f"{BAGHDAD_OSM} absent")


def layer(lines: list[list[tuple[float, float]]], **columns: list[object]) -> gpd.GeoDataFrame:
    """Road lines in metres around Baghdad (coordinates relative to X0, Y0)."""
    geometry = [shapely.LineString([(X0 + x, Y0 + y) for x, y in line]) for line in lines]
    columns.setdefault("highway", ["residential"] * len(lines))
    return gpd.GeoDataFrame(columns, geometry=geometry, crs=UTM)


def points(xy: list[tuple[float, float]], prefix: str, value: str) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {f"{prefix}_id": [f"{prefix[0].upper()}{i}" for i in range(len(xy))], value: 1},
        geometry=[shapely.Point(X0 + x, Y0 + y) for x, y in xy],
        crs=UTM,
    )
    if prefix == "center":
        return es.read_polling_centers(frame, demand_col=value)
    return es.read_garrisons(frame, capacity_col=value)


def times(net: RoadNetwork, centers_xy, garrisons_xy) -> dict[tuple[str, str], float]:
    centers = points(centers_xy, "center", "demand")
    garrisons = points(garrisons_xy, "garrison", "capacity")
    costs = es.distance_matrix(centers, garrisons, metric="travel_time", network=net)
    frame = costs.to_frame()
    return {
        (c, g): t
        for c, g, t in zip(frame["center_id"], frame["garrison_id"], frame["time_s"], strict=True)
    }


def residential_s(metres: float) -> float:
    return metres / (DEFAULT_SPEEDS_KMH["residential"] / 3.6)


# -- junctions ------------------------------------------------------------------------------


def test_lines_join_at_a_shared_interior_vertex():
    # A "+": both lines pass through (1000, 0) as an interior vertex.
    roads = layer([[(0, 0), (1000, 0), (2000, 0)], [(1000, -1000), (1000, 0), (1000, 1000)]])
    net = RoadNetwork.from_roads(roads)
    assert net.n_nodes == 5
    assert net.n_edges == 8
    assert net.build_report.interior_junctions == 1
    got = times(net, [(1000, 1000)], [(0, 0)])
    assert got == {("C0", "G0"): pytest.approx(residential_s(2000))}


def test_an_end_point_on_another_lines_vertex_joins_it():
    # A "T": the stem ends on the bar's interior vertex.
    roads = layer([[(0, 0), (1000, 0), (2000, 0)], [(1000, 1000), (1000, 0)]])
    net = RoadNetwork.from_roads(roads)
    assert (net.n_nodes, net.n_edges) == (4, 6)
    got = times(net, [(1000, 1000)], [(2000, 0)])
    assert got[("C0", "G0")] == pytest.approx(residential_s(2000))


def test_the_caller_frame_is_not_mutated():
    roads = layer([[(0, 0), (1000, 0)], [(0, 0), (0, 900)]], other_tags=['"oneway"=>"yes"', None])
    before = roads.copy()
    RoadNetwork.from_roads(roads, node_crossings=True)
    pd.testing.assert_frame_equal(roads, before)


@pytest.mark.parametrize(
    ("tags", "joined"),
    [
        ({}, True),
        ({"bridge": ["yes", None]}, False),
        ({"tunnel": [None, "yes"]}, False),
        ({"layer": ["1", None]}, False),
        ({"layer": ["1", "1"]}, True),
        ({"other_tags": ['"bridge"=>"yes","layer"=>"1"', None]}, False),
    ],
)
def test_crossings_join_only_on_request_and_never_bridges(tags, joined):
    # Two lines cross at (1000, 0) with no vertex there.
    roads = layer([[(0, 0), (2000, 0)], [(1000, -1000), (1000, 1000)]], **tags)
    plain = RoadNetwork.from_roads(roads)
    assert (plain.n_nodes, plain.n_edges) == (4, 4)
    net = RoadNetwork.from_roads(roads, node_crossings=True)
    report = net.build_report
    assert (report.crossings_joined, report.crossings_left) == ((1, 0) if joined else (0, 1))
    got = times(net, [(1000, 1000)], [(0, 0)])
    if joined:
        assert (net.n_nodes, net.n_edges) == (5, 8)
        assert got == {("C0", "G0"): pytest.approx(residential_s(2000))}
    else:
        assert (net.n_nodes, net.n_edges) == (4, 4)
        assert got == {}  # the other road is out of reach: no junction


def test_crossings_also_join_a_t_junction_without_a_shared_vertex():
    roads = layer([[(0, 0), (2000, 0)], [(1000, 1000), (1000, 0)]])
    assert RoadNetwork.from_roads(roads).n_nodes == 4  # touches, but no vertex: apart
    net = RoadNetwork.from_roads(roads, node_crossings=True)
    assert (net.n_nodes, net.n_edges) == (4, 6)
    assert net.build_report.crossings_joined == 1


def test_two_roads_between_the_same_junctions_both_take_points():
    # A straight street and a bend both join (0, 0) and (2000, 0).
    roads = layer([[(0, 0), (2000, 0)], [(0, 0), (1000, 1000), (2000, 0)]])
    net = RoadNetwork.from_roads(roads)
    centers = points([(1000, 1000)], "center", "demand")
    assert net.snap(centers)["snap_distance_m"].iloc[0] == pytest.approx(0.0, abs=1e-6)
    got = times(net, [(1000, 1000)], [(0, 0)])
    assert got[("C0", "G0")] == pytest.approx(residential_s(1000 * np.sqrt(2)))


def test_a_loop_back_to_its_junction_takes_points_both_ways():
    loop = [(0, 0), (500, 500), (0, 1000), (-500, 500), (0, 0)]
    roads = layer([[(0, -1000), (0, 0)], loop])
    net = RoadNetwork.from_roads(roads)
    half = 2 * 500 * np.sqrt(2)
    got = times(net, [(500, 500), (-500, 500)], [(0, -1000)])
    assert got[("C0", "G0")] == pytest.approx(residential_s(1000 + half / 2))
    assert got[("C1", "G0")] == pytest.approx(residential_s(1000 + half / 2))
    one_way = RoadNetwork.from_roads(roads.assign(oneway=[None, "yes"]))
    got = times(one_way, [(500, 500), (-500, 500)], [(0, -1000)])
    assert got[("C0", "G0")] == pytest.approx(residential_s(1000 + half / 2))
    assert got[("C1", "G0")] == pytest.approx(residential_s(1000 + 3 * half / 2))


STEPS = ((1, 0), (-1, 0), (0, 1), (0, -1))


@st.composite
def lattice_lines(draw: st.DrawFn) -> list[list[tuple[int, int]]]:
    """Walks of unit steps on a lattice: lines meet only at vertices, never mid-segment."""
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        x, y = draw(st.integers(0, 4)), draw(st.integers(0, 4))
        walk = [(x, y)]
        for step in draw(st.lists(st.sampled_from(STEPS), min_size=1, max_size=6)):
            nxt = (walk[-1][0] + step[0], walk[-1][1] + step[1])
            if nxt not in walk:
                walk.append(nxt)
        if len(walk) >= 2:
            lines.append(walk)
    return lines or [[(0, 0), (1, 0)]]


@settings(max_examples=30, deadline=None)
@given(lines=lattice_lines(), cuts=st.lists(st.integers(0, 100), max_size=4))
def test_splitting_a_line_at_its_vertices_changes_no_travel_time(lines, cuts):
    # Lines on a 1 km lattice share vertices wherever they meet; cutting a line into two at
    # an interior vertex must give the same network, so the same travel times.
    scaled = [[(1000.0 * x, 1000.0 * y) for x, y in line] for line in lines]
    pieces = [list(line) for line in scaled]
    for cut in cuts:
        k = cut % len(pieces)
        line = pieces[k]
        if len(line) > 2:
            at = 1 + cut % (len(line) - 2)
            pieces[k : k + 1] = [line[: at + 1], line[at:]]
    probes = [(480.0, 37.0), (2031.0, 1890.0), (3964.0, 3520.0), (-45.0, 3977.0)]
    whole = times(RoadNetwork.from_roads(layer(scaled)), probes, probes[:2])
    split = times(RoadNetwork.from_roads(layer(pieces)), probes, probes[:2])
    assert whole.keys() == split.keys()
    for key, value in whole.items():
        assert split[key] == pytest.approx(value, rel=1e-9, abs=1e-6)


# -- which lines are roads ------------------------------------------------------------------


def test_footways_and_lines_without_a_class_are_dropped_and_reported(caplog):
    roads = layer(
        [[(0, 0), (1000, 0)], [(1000, 0), (2000, 0)], [(2000, 0), (3000, 0)], [(0, 0), (0, 9)]],
        highway=["residential", "footway", None, "path"],
    )
    with caplog.at_level(logging.WARNING, logger="electsec.osm"):
        net = RoadNetwork.from_roads(roads)
    report = net.build_report
    assert (report.lines, report.kept) == (4, 1)
    assert dict(report.dropped) == {"footway": 1, NO_HIGHWAY: 1, "path": 1}
    assert report.n_dropped == 3
    assert "dropped 3 of 4 road lines" in caplog.text
    assert "footway 1" in caplog.text
    assert net.n_edges == 2
    every = RoadNetwork.from_roads(roads, drivable_only=False)
    assert every.build_report.dropped == {}
    assert every.build_report.fallback_speed == 3
    assert every.n_edges == 8


def test_a_speed_table_names_the_drivable_classes_and_their_speeds():
    roads = layer([[(0, 0), (1000, 0)], [(1000, 0), (2000, 0)]], highway=["residential", "track"])
    net = RoadNetwork.from_roads(roads, highway_speeds_kmh={"residential": 36.0})
    assert dict(net.build_report.dropped) == {"track": 1}
    got = times(net, [(1000, 0)], [(0, 0)])
    assert got[("C0", "G0")] == pytest.approx(100.0)  # 1 km at 36 km/h


def test_a_layer_without_a_class_column_keeps_every_line_at_its_speed():
    roads = layer([[(0, 0), (1000, 0)]], maxspeed_kmh=[72.0]).drop(columns="highway")
    net = RoadNetwork.from_roads(roads)
    assert net.build_report.dropped == {}
    assert times(net, [(1000, 0)], [(0, 0)])[("C0", "G0")] == pytest.approx(50.0)


def test_the_sample_road_layer_is_built_as_before(repo_root):
    roads = gpd.read_file(repo_root / "data" / "sample" / "roads.gpkg")
    net = RoadNetwork.from_roads(roads)
    assert net.build_report.dropped == {}
    assert net.build_report.fallback_speed == 0
    assert net.build_report.kept == len(roads)


def test_bad_tables_and_empty_results_are_input_errors():
    roads = layer([[(0, 0), (1000, 0)]], highway=["footway"])
    with pytest.raises(es.InputError, match="no drivable road among 1 lines"):
        RoadNetwork.from_roads(roads)
    with pytest.raises(es.InputError, match="highway_speeds_kmh") as err:
        RoadNetwork.from_roads(roads, highway_speeds_kmh={"footway": 0, "path": "fast"})
    assert set(err.value.issues[0].ids) == {"footway", "path"}
    with pytest.raises(es.InputError, match="must be a mapping"):
        RoadNetwork.from_roads(roads, highway_speeds_kmh=["footway"])


# -- OSM tags -------------------------------------------------------------------------------


def test_other_tags_are_parsed_when_the_columns_are_absent():
    frame = pd.DataFrame(
        {
            "other_tags": [
                '"oneway"=>"yes","maxspeed"=>"50"',
                '"name"=>"a \\"quoted\\" street","maxspeed"=>"30 mph","layer"=>"-1"',
                None,
                '"junction"=>"roundabout"',
            ],
            "oneway": [None, "-1", None, None],
        }
    )
    tags = osm_tags(frame)
    assert tags["oneway"].tolist() == [None, "-1", None, None]  # the column wins
    assert tags["maxspeed"].tolist() == ["50", "30 mph", None, None]
    assert tags["layer"].tolist() == [None, "-1", None, None]
    assert tags["junction"].tolist() == [None, None, None, "roundabout"]
    assert osm_tags(frame.drop(columns="oneway"))["oneway"].tolist() == ["yes", None, None, None]


def test_maxspeed_values_become_kmh():
    got = maxspeed_kmh(pd.Series(["50", "30 mph", "60;80", "none", None, 0, ["70", "90"], 45.0]))
    want = [50.0, 30 * 1.609344, 60.0, np.nan, np.nan, np.nan, 70.0, 45.0]
    np.testing.assert_allclose(got, want)


def test_oneway_maxspeed_and_roundabouts_from_other_tags():
    roads = layer(
        [[(0, 0), (1000, 0)], [(1000, 0), (2000, 0)], [(2000, 0), (3000, 0)]],
        other_tags=['"oneway"=>"yes","maxspeed"=>"36"', '"junction"=>"roundabout"', None],
    )
    net = RoadNetwork.from_roads(roads.drop(columns=[]))
    assert net.n_edges == 1 + 1 + 2
    forward = times(net, [(3000, 0)], [(0, 0)])
    assert forward[("C0", "G0")] == pytest.approx(100.0 + residential_s(2000))
    assert times(net, [(0, 0)], [(3000, 0)]) == {}  # one-way and roundabout: no way back


# -- files ----------------------------------------------------------------------------------


def test_from_osm_refuses_a_missing_or_foreign_file(tmp_path):
    with pytest.raises(es.InputError, match="file not found"):
        RoadNetwork.from_osm(tmp_path / "nowhere.osm")
    other = tmp_path / "roads.geojson"
    layer([[(0, 0), (1000, 0)]]).to_file(other)
    with pytest.raises(es.InputError, match="not an OpenStreetMap"):
        RoadNetwork.from_osm(other)


def test_from_file_lists_the_layers_when_one_is_wrong_or_missing(tmp_path):
    path = tmp_path / "two.gpkg"
    layer([[(0, 0), (1000, 0)]]).to_file(path, layer="roads")
    layer([[(0, 0), (0, 1000)]]).to_file(path, layer="rivers")
    with pytest.raises(es.InputError, match=r"has 2 layers \(roads, rivers\)"):
        RoadNetwork.from_file(path)
    with pytest.raises(es.InputError, match=r"no layer 'streets' .*'rivers', 'roads'"):
        RoadNetwork.from_file(path, layer="streets")
    with pytest.raises(es.InputError, match="file not found"):
        RoadNetwork.from_file(tmp_path / "nowhere.gpkg")
    assert RoadNetwork.from_file(path, layer="rivers").n_edges == 2


@pytest.fixture
def tiny_paths(repo_root):
    sample = repo_root / "data" / "sample"
    return str(sample / "tiny_centers.geojson"), str(sample / "tiny_garrisons.geojson")


def test_cli_roads_layer_names_the_layers_and_exits_2(tiny_paths, tmp_path, capsys):
    path = tmp_path / "two.gpkg"
    layer([[(0, 0), (1000, 0)]]).to_file(path, layer="roads")
    layer([[(0, 0), (0, 1000)]]).to_file(path, layer="rivers")
    centers, garrisons = tiny_paths
    args = ["plan", str(centers), str(garrisons), "--out", str(tmp_path / "out"), "--no-map"]
    code = main([*args, "--roads", str(path), "--roads-layer", "streets"])
    assert code == EXIT_INPUT
    err = capsys.readouterr().err
    assert "no layer 'streets'" in err
    assert "'rivers', 'roads'" in err
    assert main([*args, "--roads-layer", "roads"]) == EXIT_INPUT  # no --roads to take it from
    assert "--roads-layer" in capsys.readouterr().err


# -- osmnx graphs ---------------------------------------------------------------------------


def osmnx_like(edges: list[tuple[int, int, dict[str, object]]]):
    nx = pytest.importorskip("networkx")
    g = nx.MultiDiGraph(crs=UTM)
    for n, (x, y) in enumerate([(0, 0), (1000, 0), (2000, 0), (3000, 0)]):
        g.add_node(n, x=X0 + x, y=Y0 + y)
    for u, v, data in edges:
        g.add_edge(u, v, length=1000.0, **data)
        g.add_edge(v, u, length=1000.0, **data)
    return g


def test_from_osmnx_imputes_speeds_and_drops_undrivable_edges(caplog):
    g = osmnx_like(
        [
            (0, 1, {"highway": "residential"}),
            (1, 2, {"highway": ["residential", "unclassified"], "maxspeed": "72"}),
            (2, 3, {"highway": ["residential", "footway"]}),
        ]
    )
    with caplog.at_level(logging.WARNING, logger="electsec.osm"):
        net = RoadNetwork.from_osmnx(g, max_snap_m=500)  # C1's road was a footway
    assert dict(net.build_report.dropped) == {"footway": 2}
    assert "dropped 2 of 6 graph edges" in caplog.text
    got = times(net, [(2000, 0), (3000, 0)], [(0, 0)])
    assert got == {("C0", "G0"): pytest.approx(residential_s(1000) + 50.0)}
    # No maxspeed: merged classes drive at their mean speed (as osmnx does).
    del g.edges[1, 2, 0]["maxspeed"]
    net = RoadNetwork.from_osmnx(g, drivable_only=False)
    mean_kmh = (DEFAULT_SPEEDS_KMH["residential"] + DEFAULT_SPEEDS_KMH["unclassified"]) / 2
    got = times(net, [(2000, 0)], [(1000, 0)])
    assert got[("C0", "G0")] == pytest.approx(1000 / (mean_kmh / 3.6))


# -- central Baghdad ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_osm_baghdad

    yield bench_osm_baghdad
    sys.path.remove(str(ROOT / "benchmarks"))


@pytest.fixture(scope="module")
def baghdad_routes(bench):
    if not BAGHDAD_OSM.exists():
        pytest.skip(f"{BAGHDAD_OSM} absent")
    pytest.importorskip("osmnx")
    return {route: bench.build(route, BAGHDAD_OSM)[0] for route in bench.ROUTES}


@needs_baghdad
@pytest.mark.parametrize("sample", ["core", "bounds"])
def test_baghdad_three_routes_reach_the_same_centres_in_the_same_time(
    bench, baghdad_routes, sample
):
    centers, garrisons = bench.sample_layers(BAGHDAD_OSM, 318, 20, seed=13, core=sample == "core")
    found = {r: bench.travel_times(n, centers, garrisons) for r, n in baghdad_routes.items()}
    reference, share = found["osm"]
    # On the strongly connected drivable core every centre is reached; on any drivable road
    # inside the bounds a few lie on one-way pieces or islands of the OSM data itself.
    assert share >= (0.99 if sample == "core" else 0.95)
    for route, (got, got_share) in found.items():
        assert got_share == share, route
        agree = bench.agreement(got, reference)
        assert agree["one_side_only"] == 0, route
        assert agree["median"] < 0.01, (route, agree)
        # osmnx's default simplification merges ways of different classes into one edge,
        # whose speed is then a mean: simplified with edge_attrs_differ=["highway"] or
        # not at all, osmnx agrees to 0.2 % (benchmarks/RESULTS.md).
        assert agree["p95"] < (0.02 if route == "osmnx" else 0.01), (route, agree)


@needs_baghdad
def test_baghdad_build_report_counts_what_was_dropped():
    net = RoadNetwork.from_osm(BAGHDAD_OSM)
    report = net.build_report
    assert report.lines == 1662 + 4  # four closed highway ways GDAL files as polygons
    ways = read_osm_roads(BAGHDAD_OSM)
    assert len(ways) == 1666
    assert "28652789" in set(ways["osm_id"].astype(str))  # the loop road osmnx drives
    assert dict(report.dropped) == {"footway": 231, NO_HIGHWAY: 77, "path": 1, "pedestrian": 1}
    assert report.kept == 1666 - 310
    assert report.interior_junctions > 1000
    assert RoadNetwork.from_osm(BAGHDAD_OSM, node_crossings=True).build_report.crossings_left > 0


@needs_baghdad
def test_cli_plans_on_an_osm_file(tmp_path, capsys):
    centers, garrisons = readme_layers(tmp_path)
    out = tmp_path / "out"
    code = main(
        ["plan", str(centers), str(garrisons), "--out", str(out), "--no-map", "--json",
         "--roads", str(BAGHDAD_OSM)]
    )  # fmt: skip
    assert code in (0, 3), capsys.readouterr().err
    assert (out / "summary.json").exists()


def readme_layers(tmp_path: Path) -> tuple[Path, Path]:
    box = (44.3245, 33.2979, 44.3919, 33.3297)
    paths = []
    for name, reader in (("centers", es.read_polling_centers), ("garrisons", es.read_garrisons)):
        layer_ = reader(ROOT / "data" / "sample" / f"{name}.geojson").cx[
            box[0] : box[2], box[1] : box[3]
        ]
        path = tmp_path / f"{name}.geojson"
        layer_.reset_index().to_file(path)
        paths.append(path)
    return paths[0], paths[1]


# -- the README runs verbatim ---------------------------------------------------------------


def readme_road_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### On roads", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_the_readme_has_road_and_osm_blocks():
    blocks = readme_road_blocks()
    assert len(blocks) >= 2
    assert any("from_osm(" in b for b in blocks)
    assert any("graph_from_xml(" in b for b in blocks)


@needs_baghdad
def test_the_readme_osm_blocks_run_verbatim_on_the_baghdad_extract(monkeypatch):
    pytest.importorskip("osmnx")
    monkeypatch.chdir(ROOT)
    for block in readme_road_blocks():
        if "Baghdad.osm" not in block:
            continue  # the sample block runs in test_the_readme_sample_road_block_runs
        code = block.replace('"Baghdad.osm"', repr(os.fspath(BAGHDAD_OSM)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # osmnx's own notes are not ours
            exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - our own README


def test_the_readme_sample_road_block_runs(monkeypatch):
    monkeypatch.chdir(ROOT)
    sample = [b for b in readme_road_blocks() if "roads.gpkg" in b]
    assert sample
    namespace: dict[str, object] = {}
    exec(compile(sample[0], "README.md", "exec"), namespace)  # noqa: S102 - our own README
    assert namespace["plan"].status in ("optimal", "feasible")


def test_two_roads_of_one_length_between_the_same_junctions_stay_two_roads():
    # Found by the property above: both roads from (3, 0) to (2, 2) are 3 km long, and the
    # centre beside the second one was snapped onto the first (39.6 s instead of 11.16 s).
    lines = [
        [(3, 0), (3, 1), (3, 2), (2, 2)],
        [(0, 0), (1, 0)],
        [(4, 0), (3, 0), (2, 0), (2, 1), (2, 2)],
    ]
    scaled = [[(1000.0 * x, 1000.0 * y) for x, y in line] for line in lines]
    probes = [(480.0, 37.0), (2031.0, 1890.0), (3964.0, 3520.0), (-45.0, 3977.0)]
    got = times(RoadNetwork.from_roads(layer(scaled)), probes, probes[:2])
    assert got[("C1", "G1")] == pytest.approx(2 * 31.0 / (20.0 / 3.6))  # off-road there and back
