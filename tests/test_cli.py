"""The ``electsec`` command: outputs, summaries, JSON and exit codes."""

import json

import geopandas as gpd
import pandas as pd
import pytest

import electsec as es
from electsec.cli import EXIT_INFEASIBLE, EXIT_INPUT, EXIT_OK, main


@pytest.fixture
def tiny_paths(repo_root):
    sample = repo_root / "data" / "sample"
    return str(sample / "tiny_centers.geojson"), str(sample / "tiny_garrisons.geojson")


def test_plan_writes_every_output(tiny_paths, tmp_path, capsys):
    assert main(["plan", *tiny_paths, "--out", str(tmp_path)]) == EXIT_OK
    assert "status" in capsys.readouterr().out
    for name in (
        "assignments.csv",
        "garrison_load.csv",
        "uncovered.csv",
        "plan.geojson",
        "plan.gpkg",
        "summary.json",
        "map.html",
    ):
        assert (tmp_path / name).stat().st_size > 0
    table = pd.read_csv(tmp_path / "assignments.csv")
    assert list(table.columns) == [
        "center_id",
        "center_name",
        "center_governorate",
        "center_tier",
        "garrison_id",
        "garrison_name",
        "garrison_governorate",
        "garrison_agency",
        "teams",
        "distance_km",
        "distance_m",
    ]
    lines = gpd.read_file(tmp_path / "plan.gpkg", layer="assignments")
    assert len(lines) == len(table)
    assert lines.crs.to_epsg() == 4326
    assert "center_name" in lines.columns
    assert pd.read_csv(tmp_path / "uncovered.csv").empty  # a header, no rows


def test_tables_carry_names_and_rounded_distances(tiny_paths, tmp_path):
    assert main(["plan", *tiny_paths, "--out", str(tmp_path), "--json", "--no-map"]) == EXIT_OK
    table = pd.read_csv(tmp_path / "assignments.csv", dtype={"distance_m": "int64"})
    centers = gpd.read_file(tiny_paths[0]).set_index("center_id")
    garrisons = gpd.read_file(tiny_paths[1]).set_index("garrison_id")
    row = table.iloc[0]
    assert row["center_name"] == centers.loc[row["center_id"], "name"]
    assert row["garrison_agency"] == garrisons.loc[row["garrison_id"], "agency"]
    text = (tmp_path / "assignments.csv").read_text()
    assert all(len(v.split(".")[-1]) <= 1 for v in table["distance_km"].astype(str))
    assert (table["distance_km"] - table["distance_m"] / 1000).abs().max() <= 0.05 + 1e-9
    assert "." not in text.splitlines()[1].split(",")[-1]  # whole metres
    load = pd.read_csv(tmp_path / "garrison_load.csv")
    assert {"name", "governorate", "agency", "capacity", "used", "utilization"} <= set(load)
    assert len(load) == len(garrisons)
    layer = gpd.read_file(tmp_path / "plan.gpkg", layer="garrison_load")
    assert layer.geom_type.eq("Point").all()


def test_an_infeasible_run_says_infeasible_in_every_output(tiny_paths, tmp_path):
    code = main(["plan", *tiny_paths, "--out", str(tmp_path), "--split", "--max-distance-km", "2"])
    assert code == EXIT_INFEASIBLE
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "infeasible"
    assert summary["solver_status"] == "optimal"  # of the partial plan it wrote
    uncovered = pd.read_csv(tmp_path / "uncovered.csv")
    assert len(uncovered) == summary["centers_uncovered"] > 0
    assert {"name", "governorate", "tier", "teams", "reason"} <= set(uncovered)
    layer = gpd.read_file(tmp_path / "plan.gpkg", layer="uncovered")
    assert sorted(layer["center_id"]) == sorted(uncovered["center_id"])


def test_plan_json_is_the_result_dict(tiny_paths, tmp_path, capsys):
    assert main(["plan", *tiny_paths, "--out", str(tmp_path), "--json", "--no-map"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "optimal"
    assert sum(a["teams"] for a in data["assignments"]) == 88


def test_bad_input_exits_2_and_names_the_problem(tmp_path, capsys):
    centers = tmp_path / "centers.csv"
    centers.write_text("center_id,demand,lon,lat\na,-1,44.3,33.3\n")
    garrisons = tmp_path / "garrisons.csv"
    garrisons.write_text("garrison_id,capacity,lon,lat\ng,3,44.4,33.3\n")
    code = main(["plan", str(centers), str(garrisons), "--out", str(tmp_path / "out")])
    assert code == EXIT_INPUT
    assert "demand" in capsys.readouterr().err


def test_infeasible_plan_exits_3_with_a_diagnosis(tiny_paths, tmp_path):
    code = main(
        [
            "plan",
            *tiny_paths,
            "--out",
            str(tmp_path),
            "--split",
            "--max-distance-km",
            "2",
            "--no-map",
        ]
    )
    assert code == EXIT_INFEASIBLE
    diagnosis = json.loads((tmp_path / "diagnosis.json").read_text())
    assert diagnosis["shortfall"] > 0
    assert (tmp_path / "assignments.csv").exists()  # the partial plan


def test_diagnose_reports_tier_limits(tiny_paths, capsys):
    assert main(["diagnose", *tiny_paths]) == EXIT_OK
    assert "feasible" in capsys.readouterr().out
    assert main(["diagnose", *tiny_paths, "--tier-limit-km", "high=1"]) == EXIT_INFEASIBLE
    out = capsys.readouterr().out
    assert "INFEASIBLE" in out
    assert "smallest single limit" in out


def test_help_reads_like_a_manual(capsys):
    with pytest.raises(SystemExit) as info:
        main(["plan", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "exit codes" in text
    assert "--max-distance-km" in text


def test_report_command_writes_an_offline_page(tiny_paths, tmp_path, repo_root):
    out = tmp_path / "report.html"
    basemap = repo_root / "data" / "sample" / "governorates.geojson"
    code = main(
        [
            "report",
            *tiny_paths,
            "--out",
            str(out),
            "--tier-limit-km",
            "high=1",
            "--basemap",
            str(basemap),
        ]
    )
    assert code == EXIT_INFEASIBLE  # the partial plan and its diagnosis are reported
    page = out.read_text()
    assert "Diagnosis" in page
    assert "cdn." not in page


def test_plan_on_road_travel_times(tiny_paths, tmp_path, repo_root, capsys):
    roads = repo_root / "data" / "sample" / "roads.gpkg"
    code = main(
        [
            "plan",
            *tiny_paths,
            "--roads",
            str(roads),
            "--split",
            "--out",
            str(tmp_path),
            "--no-map",
            "--json",
        ]
    )
    assert code == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["unit"] == "s"
    assert all(a["time_s"] > 0 for a in data["assignments"])
    code = main(["diagnose", *tiny_paths, "--roads", str(roads), "--tier-limit-min", "high=1"])
    assert code == EXIT_INFEASIBLE
    assert "min" in capsys.readouterr().out


def test_a_road_plan_draws_its_road_routes(tiny_paths, tmp_path, repo_root):
    roads = repo_root / "data" / "sample" / "roads.gpkg"
    code = main(["plan", *tiny_paths, "--roads", str(roads), "--split", "--out", str(tmp_path)])
    assert code == EXIT_OK
    lines = gpd.read_file(tmp_path / "plan.geojson")
    assert (lines.geometry.count_coordinates() > 2).all()  # routes, not straight lines
    table = pd.read_csv(tmp_path / "assignments.csv")
    assert {"time_min", "time_s"} <= set(table.columns)
    assert "leaflet" in (tmp_path / "map.html").read_text()


def test_a_road_report_draws_road_routes(tiny_paths, tmp_path, repo_root):
    from electsec.network import RoadNetwork

    roads = repo_root / "data" / "sample" / "roads.gpkg"
    page = tmp_path / "routed.html"
    args = ["report", *tiny_paths, "--roads", str(roads), "--split", "--out", str(page)]
    assert main(args) == EXIT_OK
    net = RoadNetwork.from_roads(gpd.read_file(roads))
    costs = es.distance_matrix(*tiny_paths, metric="travel_time", network=net)
    routes = es.solve_assignment(*tiny_paths, costs, split=True).to_geodataframe(network=net)
    route = routes.geometry.iloc[0]
    lon, lat = route.coords[len(route.coords) // 2]  # a bend of the road, not an end
    assert f"[{lon!r}, {lat!r}]" in page.read_text()


@pytest.mark.parametrize(
    ("given", "named"),
    [
        (["--max-distance-km", "20"], "--max-time-min"),
        (["--tier-limit-km", "high=15"], "--tier-limit-min"),
        (["--backup-km", "20"], "--backup-min"),
    ],
)
def test_kilometre_flags_with_roads_name_the_minute_flag(
    tiny_paths, repo_root, capsys, given, named
):
    roads = repo_root / "data" / "sample" / "roads.gpkg"
    assert main(["diagnose", *tiny_paths, "--roads", str(roads), *given]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert given[0] in err
    assert named in err


@pytest.mark.parametrize(
    ("given", "named"),
    [
        (["--max-time-min", "20"], "--max-distance-km"),
        (["--tier-limit-min", "high=15"], "--tier-limit-km"),
        (["--backup-min", "20"], "--backup-km"),
    ],
)
def test_minute_flags_without_roads_need_roads(tiny_paths, capsys, given, named):
    assert main(["diagnose", *tiny_paths, *given]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "--roads" in err
    assert named in err


def test_a_limit_and_tier_limits_together_are_refused(tiny_paths, capsys):
    argv = ["diagnose", *tiny_paths, "--max-distance-km", "50", "--tier-limit-km", "high=15"]
    assert main(argv) == EXIT_INPUT
    assert "not both" in capsys.readouterr().err


def test_a_bad_tier_limit_names_the_flag(tiny_paths, capsys):
    assert main(["diagnose", *tiny_paths, "--tier-limit-km", "high=far"]) == EXIT_INPUT
    assert "--tier-limit-km" in capsys.readouterr().err
