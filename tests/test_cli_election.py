"""``electsec election``: both days, their timelines and orders, and every bad flag named.

The written files are checked against the input layers independently: the special day
keeps ⌈0.5 × capacity⌉ of each garrison's teams, every assigned pair has a movement whose
times follow from the geodesic distance at the stated speed (pyproj, here), and every
movement is in exactly one garrison's order.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from electsec.cli import EXIT_INFEASIBLE, EXIT_INPUT, EXIT_OK, main
from helpers import geodesic_m, needs_browser, render_offline

DAYS = ["--date-special", "2025-11-09", "--date-general", "2025-11-11"]


@pytest.fixture
def layers(repo_root, tmp_path):
    """The tiny sample as two days: one layer with a phase column, and the garrisons."""
    sample = repo_root / "data" / "sample"
    centers = gpd.read_file(sample / "tiny_centers.geojson")
    centers["phase"] = ["special"] * 10 + ["general"] * 30
    path = tmp_path / "centers.geojson"
    centers.to_file(path, driver="GeoJSON")
    garrisons = gpd.read_file(sample / "tiny_garrisons.geojson")
    garrisons["command"] = ["North OC"] * 3 + ["South OC"] * 3
    gpath = tmp_path / "garrisons.geojson"
    garrisons.to_file(gpath, driver="GeoJSON")
    return str(path), str(gpath), centers, garrisons


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_election_writes_both_days_timelines_and_orders(layers, tmp_path, capsys):
    centers_path, garrisons_path, centers, garrisons = layers
    out = tmp_path / "out"
    args = [centers_path, garrisons_path, *DAYS, "--min-retained", "0.5", "--split"]
    assert main(["election", *args, "--speed-kmh", "36", "--no-map", "--out", str(out)]) == 0
    assert "written:" in capsys.readouterr().out
    for name in ("summary.csv", "forces_by_day.csv", "election.json", "report.html"):
        assert (out / name).stat().st_size > 0
    for name in ("movements.csv", "by_hour.csv", "timeline.html", "orders/index.html"):
        assert (out / name).stat().st_size > 0
    # the special day keeps ⌈0.5 × capacity⌉ of every garrison
    forces = pd.read_csv(out / "forces_by_day.csv")
    special = forces[forces["phase"] == "special"].set_index("garrison_id")
    capacity = garrisons.set_index("garrison_id")["capacity"]
    expected = [math.ceil(c / 2) for c in capacity]
    assert list(special["retained"].reindex(capacity.index)) == expected
    # every assigned pair of each day has one movement with times from the geodesic at 36 km/h
    moves = pd.read_csv(out / "movements.csv", parse_dates=["depart", "in_place_by", "return_at"])
    points = centers.set_index("center_id").geometry
    homes = garrisons.set_index("garrison_id").geometry
    for phase, date in (("special", "2025-11-09"), ("general", "2025-11-11")):
        plan = pd.read_csv(out / phase / "assignments.csv")
        day = moves[moves["phase"] == phase]
        assert sorted(zip(plan["center_id"], plan["garrison_id"], plan["teams"], strict=True)) == (
            sorted(zip(day["center_id"], day["garrison_id"], day["teams"], strict=True))
        )
        metres = geodesic_m(
            homes.reindex(day["garrison_id"]).x,
            homes.reindex(day["garrison_id"]).y,
            points.reindex(day["center_id"]).x,
            points.reindex(day["center_id"]).y,
        )
        travel = pd.to_timedelta(metres / 10.0, unit="s")  # 36 km/h = 10 m/s
        in_place = pd.Timestamp(f"{date} 06:00")
        assert (day["in_place_by"] == in_place).all()
        gap = (day["depart"] + travel - in_place).abs().max()
        assert gap < pd.Timedelta(milliseconds=5)
        back = day["return_at"] - (pd.Timestamp(f"{date} 20:00") + travel)
        assert back.abs().max() < pd.Timedelta(milliseconds=5)
    # every movement is in exactly one garrison's order
    keys = [
        (r["phase"], r["garrison_id"], r["center_id"])
        for p in sorted((out / "orders" / "garrisons").glob("*.csv"))
        for r in _rows(p)
        if r["duty"] == "guard"
    ]
    assert sorted(keys) == sorted(
        zip(moves["phase"], moves["garrison_id"], moves["center_id"], strict=True)
    )
    assert len(list((out / "orders" / "commands").glob("*.html"))) == 2


def test_special_layer_and_json(layers, tmp_path, capsys):
    _, garrisons_path, centers, _ = layers
    special = tmp_path / "special.geojson"
    general = tmp_path / "general.geojson"
    centers.iloc[:10].drop(columns="phase").to_file(special, driver="GeoJSON")
    centers.iloc[10:].to_file(general, driver="GeoJSON")
    out = tmp_path / "out"
    argv = ["election", str(general), garrisons_path, "--special", str(special), *DAYS]
    assert main([*argv, "--json", "--no-map", "--out", str(out)]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert [d["phase"] for d in data["days"]] == ["special", "general"]
    assert [d["date"] for d in data["days"]] == ["2025-11-09", "2025-11-11"]
    assert str(out / "orders" / "index.html") in data["written"]


@pytest.mark.parametrize(
    ("extra", "flag"),
    [
        (["--date-special", "2025-13-01"], "--date-special"),
        (["--date-special", "2025-11-09"], "--date-general"),  # the general day has no date
        ([*DAYS, "--speed-kmh", "0"], "--speed-kmh"),
        ([*DAYS, "--polls-open", "25:00"], "--polls-open"),
        ([*DAYS, "--polls-close", "06:00"], "--polls-close"),
        ([*DAYS, "--earliest-departure", "soon"], "--earliest-departure"),
        ([*DAYS, "--in-place-min", "-5"], "--in-place-min"),
        ([*DAYS, "--min-retained", "1.5"], "--min-retained"),
        ([*DAYS, "--min-retained", "no_such_column"], "--min-retained"),
        ([*DAYS, "--max-time-min", "30"], "--max-time-min"),
        ([*DAYS, "--date", "extra=2025-11-12"], "--date"),
        ([*DAYS, "--in-place-min", "x"], "--in-place-min"),  # argparse refuses it
        ([*DAYS, "--bogus"], "--bogus"),
    ],
)
def test_bad_flags_exit_2_naming_the_flag(layers, tmp_path, capsys, extra, flag):
    centers_path, garrisons_path, _, _ = layers
    argv = ["election", centers_path, garrisons_path, *extra, "--out", str(tmp_path / "o")]
    assert main(argv) == EXIT_INPUT
    err = capsys.readouterr().err
    assert flag in err
    assert "Traceback" not in err
    assert not (tmp_path / "o" / "orders").exists()


def test_a_layer_without_phase_needs_special(repo_root, tmp_path, capsys):
    sample = repo_root / "data" / "sample"
    centers = gpd.read_file(sample / "tiny_centers.geojson").drop(columns="phase")
    path = tmp_path / "c.geojson"
    centers.to_file(path, driver="GeoJSON")
    argv = ["election", str(path), str(sample / "tiny_garrisons.geojson"), *DAYS]
    assert main([*argv, "--out", str(tmp_path / "o")]) == EXIT_INPUT
    assert "--special" in capsys.readouterr().err


def test_out_must_be_a_folder_and_files_must_exist(layers, tmp_path, capsys):
    centers_path, garrisons_path, _, _ = layers
    file = tmp_path / "file"
    file.write_text("x")
    argv = ["election", centers_path, garrisons_path, *DAYS]
    assert main([*argv, "--out", str(file)]) == EXIT_INPUT
    assert "--out" in capsys.readouterr().err
    missing = ["--special", str(tmp_path / "none.geojson"), "--roads", str(tmp_path / "r.gpkg")]
    assert main([*argv, *missing, "--out", str(tmp_path / "o")]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "--special" in err
    assert "--roads" in err


def test_a_day_that_cannot_be_covered_exits_3_with_its_diagnosis(layers, tmp_path, capsys):
    centers_path, garrisons_path, _, _ = layers
    out = tmp_path / "out"
    argv = ["election", centers_path, garrisons_path, *DAYS, "--min-retained", "1"]
    assert main([*argv, "--out", str(out)]) == EXIT_INFEASIBLE
    assert "special day" in capsys.readouterr().err
    assert json.loads((out / "diagnosis.json").read_text())["error"] == "InfeasibleError"


def test_coverage_max_writes_the_short_day_with_its_uncovered_centres(layers, tmp_path, capsys):
    centers_path, garrisons_path, centers, _ = layers
    out = tmp_path / "out"
    argv = ["election", centers_path, garrisons_path, *DAYS, "--min-retained", "1"]
    assert main([*argv, "--coverage", "max", "--no-map", "--out", str(out)]) == EXIT_INFEASIBLE
    err = capsys.readouterr().err
    # every garrison keeps all its teams on the special day: none of its centres is covered
    special_ids = sorted(centers.loc[centers["phase"] == "special", "center_id"])
    uncovered = pd.read_csv(out / "special" / "uncovered.csv")
    assert sorted(uncovered["center_id"]) == special_ids
    assert f"special day leaves {len(special_ids)} centres uncovered" in err
    assert all(i in err for i in special_ids)
    assert "general day leaves" not in err
    assert len(pd.read_csv(out / "general" / "uncovered.csv")) == 0
    # the covered day still has its timeline and orders; the short day has no movement
    movements = pd.read_csv(out / "movements.csv")
    general_ids = set(centers.loc[centers["phase"] == "general", "center_id"])
    assert set(movements["center_id"]) == general_ids
    for name in ("timeline.html", "orders/index.html", "report.html", "summary.csv"):
        assert (out / name).stat().st_size > 0
    assert not (out / "diagnosis.json").exists()


def test_coverage_max_on_a_coverable_election_exits_0(layers, tmp_path, capsys):
    centers_path, garrisons_path, _, _ = layers
    argv = ["election", centers_path, garrisons_path, *DAYS, "--coverage", "max", "--no-map"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == EXIT_OK
    assert "uncovered" not in capsys.readouterr().err


def test_roads_route_the_orders_and_time_the_days(layers, repo_root, tmp_path):
    centers_path, garrisons_path, _, _ = layers
    roads = repo_root / "data" / "sample" / "roads.gpkg"
    out = tmp_path / "out"
    argv = ["election", centers_path, garrisons_path, *DAYS, "--roads", str(roads), "--split"]
    assert main([*argv, "--no-map", "--out", str(out)]) == EXIT_OK
    moves = pd.read_csv(out / "movements.csv")
    assert set(moves["travel_source"]) == {"costs"}  # the plans' own road travel times
    for phase in ("special", "general"):
        plan = pd.read_csv(out / phase / "assignments.csv").set_index(["center_id", "garrison_id"])
        day = moves[moves["phase"] == phase].set_index(["center_id", "garrison_id"])
        np.testing.assert_allclose(day["travel_s"], plan["time_s"].reindex(day.index), atol=1)
    rows = [r for p in (out / "orders" / "garrisons").glob("*.csv") for r in _rows(p)]
    assert sum(r["route"] == "road" for r in rows) > len(rows) / 2


def test_the_command_line_never_shows_a_traceback(layers, tmp_path):
    centers_path, garrisons_path, _, _ = layers
    argv = ["election", centers_path, garrisons_path, "--date-special", "9/11/2025"]
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-m", "electsec.cli", *argv, "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == EXIT_INPUT
    assert "--date-special" in done.stderr
    assert "Traceback" not in done.stderr


@needs_browser
def test_the_pages_it_writes_open_offline(layers, tmp_path):
    centers_path, garrisons_path, _, _ = layers
    out = tmp_path / "out"
    argv = ["election", centers_path, garrisons_path, *DAYS, "--min-retained", "0.5"]
    assert main([*argv, "--split", "--no-map", "--out", str(out)]) == EXIT_OK
    order = next((out / "orders" / "garrisons").glob("*.html"))
    command = next((out / "orders" / "commands").glob("*.html"))
    for page in (out / "orders" / "index.html", order, command, out / "timeline.html"):
        drawn = render_offline(tmp_path, page)
        assert drawn["errors"] == [], page
        assert drawn["requests"] == [], page
    drawn = render_offline(tmp_path, out / "report.html")
    assert drawn["requests"] == []
    assert drawn["leaflet"] == 2  # one map per day, drawn with no network
