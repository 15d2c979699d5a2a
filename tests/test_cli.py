"""The ``electsec`` command: outputs, summaries, JSON and exit codes."""

import json

import geopandas as gpd
import pandas as pd
import pytest

from electsec.cli import EXIT_INFEASIBLE, EXIT_INPUT, EXIT_OK, main


@pytest.fixture
def tiny_paths(repo_root):
    sample = repo_root / "data" / "sample"
    return str(sample / "tiny_centers.geojson"), str(sample / "tiny_garrisons.geojson")


def test_plan_writes_every_output(tiny_paths, tmp_path, capsys):
    assert main(["plan", *tiny_paths, "--out", str(tmp_path)]) == EXIT_OK
    assert "status" in capsys.readouterr().out
    for name in ("assignments.csv", "plan.geojson", "plan.gpkg", "summary.json", "map.html"):
        assert (tmp_path / name).stat().st_size > 0
    table = pd.read_csv(tmp_path / "assignments.csv")
    assert list(table.columns) == ["center_id", "garrison_id", "teams", "distance_m"]
    lines = gpd.read_file(tmp_path / "plan.gpkg", layer="assignments")
    assert len(lines) == len(table)
    assert lines.crs.to_epsg() == 4326


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
