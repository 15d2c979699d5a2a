"""Honest unreachability: every centre that cannot be served gets its true reason, with
numbers, in ``plan.uncovered`` and the diagnosis; warnings a planner must see are on the
plan and printed by the CLI (issue #13, item 2)."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout

import geopandas as gpd
import jsonschema
import pytest
import shapely

import electsec as es
from checker import check_plan
from electsec.cli import EXIT_INFEASIBLE, main
from electsec.errors import Diagnosis
from electsec.network import RoadNetwork
from electsec.schema import response_schema
from helpers import GEOD, points_frame

UTM = "EPSG:32638"
X0, Y0 = 440_000.0, 3_690_000.0  # around Baghdad, UTM 38N


def _roads() -> gpd.GeoDataFrame:
    """A main road with a garrison, a 1 km piece 10 km away with none, a lone garrison's
    piece 20 km away with no centre."""
    lines = [
        shapely.LineString([(X0, Y0), (X0 + 2000, Y0), (X0 + 4000, Y0)]),
        shapely.LineString([(X0, Y0 + 10_000), (X0 + 1000, Y0 + 10_000)]),
        shapely.LineString([(X0 + 20_000, Y0), (X0 + 20_500, Y0)]),
    ]
    return gpd.GeoDataFrame(
        {"highway": ["primary", "residential", "track"]}, geometry=lines, crs=UTM
    )


def _layers() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    centers = gpd.GeoDataFrame(
        {"center_id": ["ON", "PIECE", "FAR"], "demand": [2, 3, 1]},
        # ON 50 m from the main road; PIECE 30 m from the 1 km piece; FAR 8 km off any road.
        geometry=gpd.points_from_xy(
            [X0 + 3000, X0 + 500, X0 + 2000], [Y0 + 50, Y0 + 10_030, Y0 - 8000]
        ),
        crs=UTM,
    )
    garrisons = gpd.GeoDataFrame(
        {"garrison_id": ["G_MAIN", "G_LONE"], "capacity": [10, 10]},
        geometry=gpd.points_from_xy([X0 + 100, X0 + 20_200], [Y0 + 20, Y0 + 10]),
        crs=UTM,
    )
    return es.read_polling_centers(centers), es.read_garrisons(garrisons)


@pytest.fixture
def road_case():
    centers, garrisons = _layers()
    net = RoadNetwork.from_roads(_roads())
    costs = es.distance_matrix(centers, garrisons, metric="travel_time", network=net)
    return centers, garrisons, costs


def test_the_cost_matrix_carries_the_road_facts_and_warnings(road_case):
    _, _, costs = road_case
    road = costs.road
    assert road is not None
    assert road.snap_distance_m[2] == pytest.approx(8000, abs=1)
    assert road.off_road(range(3)).tolist() == [False, False, True]
    assert road.isolated(range(3)).tolist() == [False, True, False]
    assert road.piece_nodes[1] == 2
    assert road.piece_km[1] == pytest.approx(1.0)
    assert road.piece_garrisons.tolist() == [1, 0, 0]
    text = "\n".join(costs.warnings)
    assert "1 centre(s) lie more than max_snap_m=5,000 m from any road" in text
    assert "FAR" in text
    assert "1 centre(s) are on road pieces not connected to any garrison" in text
    assert "PIECE" in text
    assert "1 garrison(s) are on road pieces not connected to any centre" in text
    assert "G_LONE" in text


def test_each_unreachable_centre_gets_its_true_reason(road_case):
    centers, garrisons, costs = road_case
    with pytest.raises(es.InfeasibleError) as info:
        es.solve_assignment(centers, garrisons, costs, split=True)
    diagnosis = info.value.diagnosis
    why = {u.center: u for u in diagnosis.unserved}
    assert set(why) == {"PIECE", "FAR"}
    assert why["FAR"].cause == "off_road"
    assert dict(why["FAR"].facts)["snap_distance_m"] == pytest.approx(8000, abs=1)
    assert "no road within max_snap_m=5,000 m (the nearest road is 8,000 m away)" in (
        why["FAR"].message
    )
    piece = dict(why["PIECE"].facts)
    assert why["PIECE"].cause == "road_piece"
    assert piece["piece_nodes"] == 2
    assert piece["piece_km"] == pytest.approx(1.0)
    assert piece["nearest_garrison"] == "G_MAIN"
    assert piece["nearest_garrison_m"] == pytest.approx(
        float(((500 - 100) ** 2 + (10_030 - 20) ** 2) ** 0.5), abs=1
    )
    assert "its road piece (2 nodes, 1.0 km of road) is not connected" in why["PIECE"].message
    assert "limits" not in str(info.value)  # no limit was set: the old, false reason
    partial = info.value.partial
    reasons = partial.uncovered.set_index("center_id")
    assert reasons.loc["FAR", "reason"] == why["FAR"].message
    assert reasons.loc["PIECE", "cause"] == "road_piece"
    assert partial.warnings == costs.warnings
    data = info.value.to_dict()
    jsonschema.validate(json.loads(json.dumps(data)), response_schema())
    assert data["partial"]["warnings"] == list(costs.warnings)
    assert Diagnosis.from_dict(diagnosis.to_dict()) == diagnosis


def test_max_coverage_plans_name_the_same_reasons(road_case):
    centers, garrisons, costs = road_case
    plan = es.solve_assignment(centers, garrisons, costs, split=True, coverage="max")
    causes = dict(zip(plan.uncovered["center_id"], plan.uncovered["cause"], strict=True))
    assert causes == {"PIECE": "road_piece", "FAR": "off_road"}
    assert plan.to_dict()["warnings"] == list(costs.warnings)


def test_beyond_the_limit_names_the_nearest_garrison_and_the_limit():
    centers = points_frame(
        "center_id", ["NEAR", "FAR"], "demand", [1, 1], [44.0, 44.3], [33.0, 33.0]
    )
    garrisons = points_frame("garrison_id", ["G"], "capacity", [5], [44.02], [33.0])
    with pytest.raises(es.InfeasibleError) as info:
        es.solve_assignment(centers, garrisons, split=True, max_distance_m=15_000)
    (only,) = info.value.diagnosis.unserved
    facts = dict(only.facts)
    metres = GEOD.inv(44.3, 33.0, 44.02, 33.0)[2]
    assert (only.center, only.cause, facts["nearest_garrison"]) == ("FAR", "beyond_limit", "G")
    assert facts["distance_m"] == pytest.approx(metres, abs=1)
    assert facts["limit"] == 15_000
    assert f"is {metres / 1000:.1f} km away; the limit is 15.0 km" in only.message
    check_plan(info.value.partial, centers, garrisons, split=True, max_distance_m=15_000)
    assert info.value.partial.warnings == ()


def test_agency_and_jurisdiction_rules_are_named():
    centers = points_frame(
        "center_id", ["ARMY", "POLICE"], "demand", [1, 1], [44.0, 44.5], [33.0, 33.0]
    )
    centers["agency"] = ["army", "police"]
    centers["governorate"] = ["Baghdad", "Anbar"]
    garrisons = points_frame(
        "garrison_id", ["POL", "ARM"], "capacity", [5, 5], [44.01, 44.4], [33.0, 33.0]
    )
    garrisons["agency"] = ["police", "army"]
    with pytest.raises(es.InfeasibleError) as info:
        es.solve_assignment(
            centers,
            garrisons,
            split=True,
            max_distance_m=10_000,
            jurisdiction={"police": ["Baghdad"]},
        )
    why = {u.center: u for u in info.value.diagnosis.unserved}
    assert why["ARMY"].cause == "agency"
    assert dict(why["ARMY"].facts)["other_agency_garrisons"] == 1
    assert why["ARMY"].agency == "army"
    assert "the nearest army garrison, ARM, is" in why["ARMY"].message
    assert why["POLICE"].cause == "jurisdiction"
    assert why["POLICE"].message == "police may not operate in Anbar (jurisdiction)"


def test_the_cli_prints_warnings_on_stderr_and_keeps_them_in_the_json(tmp_path):
    centers, garrisons = _layers()
    paths = [tmp_path / "centers.geojson", tmp_path / "garrisons.geojson"]
    centers.reset_index().to_file(paths[0])
    garrisons.reset_index().to_file(paths[1])
    _roads().to_file(tmp_path / "roads.gpkg")
    args = ["plan", *map(str, paths), "--split", "--roads", str(tmp_path / "roads.gpkg")]
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([*args, "--out", str(tmp_path / "out"), "--no-map"])
    assert code == EXIT_INFEASIBLE
    assert "WARNING: 1 centre(s) lie more than max_snap_m=5,000 m from any road" in err.getvalue()
    assert "no road within max_snap_m" in err.getvalue()  # the diagnosis names the reason
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        main([*args, "--out", str(tmp_path / "json"), "--no-map", "--json"])
    data = json.loads(out.getvalue())
    assert "WARNING" not in err.getvalue()
    assert any("not connected to any garrison" in w for w in data["partial"]["warnings"])


def test_a_centre_behind_a_one_way_street_has_no_route():
    # A two-way road with the garrison, then a one-way street leading away from it and
    # back: the centre sits on a one-way spur that only leads out towards the garrison.
    roads = gpd.GeoDataFrame(
        {"highway": ["primary", "residential"], "oneway": ["no", "yes"]},
        geometry=[
            shapely.LineString([(X0, Y0), (X0 + 2000, Y0)]),
            shapely.LineString([(X0 + 2000, Y0 + 1000), (X0 + 2000, Y0)]),
        ],
        crs=UTM,
    )
    centers = es.read_polling_centers(
        gpd.GeoDataFrame(
            {"center_id": ["SPUR"], "demand": [1]},
            geometry=gpd.points_from_xy([X0 + 2010], [Y0 + 900]),
            crs=UTM,
        )
    )
    garrisons = es.read_garrisons(
        gpd.GeoDataFrame(
            {"garrison_id": ["G"], "capacity": [3]},
            geometry=gpd.points_from_xy([X0 + 10], [Y0 + 10]),
            crs=UTM,
        )
    )
    net = RoadNetwork.from_roads(roads)
    costs = es.distance_matrix(centers, garrisons, metric="travel_time", network=net)
    plan = es.solve_assignment(centers, garrisons, costs, split=True, coverage="max")
    (row,) = plan.uncovered.itertuples()
    assert row.cause == "no_route"
    assert row.reason.startswith("no garrison can reach it by road: its road piece (3 nodes")
    assert "1 nodes, 0.0 km of the piece no garrison can reach" in row.reason
