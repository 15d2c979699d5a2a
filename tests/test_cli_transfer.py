"""``electsec transfer`` and ``electsec election --points``: the written night, checked.

The files are checked against the inputs independently: every centre of the layer is
picked up once (stops.csv) or dropped once; every convoy of routes.geojson has one escort
whose movement (movements.csv, the timeline written back) starts its escort no earlier
than its release and is back after the hand-over; a manifest per convoy; bad flags exit 2
naming the flag, without a traceback.
"""

from __future__ import annotations

import csv
import subprocess
import sys

import geopandas as gpd
import pandas as pd
import pytest

from electsec.cli import EXIT_INPUT, EXIT_OK, main

FAST = ["--transfer-time-limit", "3", "--max-iterations", "200", "--no-map"]


@pytest.fixture
def sample(repo_root):
    s = repo_root / "data" / "sample"
    return {
        "centers": str(s / "tiny_centers.geojson"),
        "garrisons": str(s / "tiny_garrisons.geojson"),
        "points": str(s / "collection_points.geojson"),
    }


def _boxes_csv(sample, tmp_path):
    ids = gpd.read_file(sample["centers"])["center_id"]
    path = tmp_path / "boxes.csv"
    pd.DataFrame({"center_id": ids, "boxes": [1 + i % 7 for i in range(len(ids))]}).to_csv(
        path, index=False
    )
    return path, dict(zip(ids, [1 + i % 7 for i in range(len(ids))], strict=True))


def _check_night(out, centers, boxes):
    """Check the written night from its files alone."""
    stops = pd.read_csv(out / "stops.csv", dtype={"place_id": str})
    dropped = pd.read_csv(out / "dropped.csv", dtype={"center_id": str})
    picked = stops[stops["action"] == "pickup"]
    assert picked["place_id"].is_unique
    assert set(picked["place_id"]).isdisjoint(dropped["center_id"])
    assert set(picked["place_id"]) | set(dropped["center_id"]) == set(centers)
    for row in picked.itertuples():
        assert row.boxes == boxes[row.place_id]
        assert len(row.box_ids.split(";")) == row.boxes
    routes = gpd.read_file(out / "routes.geojson")
    escorts = pd.read_csv(out / "escorts.csv")
    assert sorted(escorts["convoy_id"]) == sorted(routes["convoy_id"])
    moves = pd.read_csv(out / "movements.csv", parse_dates=["release", "return_at",
                        "escort_start", "escort_end"])  # fmt: skip
    legs = moves[moves["escort_convoy"].notna()]
    assert sorted(legs["escort_convoy"]) == sorted(routes["convoy_id"])
    assert (legs["escort_start"] >= legs["release"]).all()
    assert (legs["return_at"] > legs["escort_end"]).all()
    handover = routes.set_index("convoy_id")["handover_s"]
    for leg in legs.itertuples():  # seconds after midnight of the leg's own day
        end_s = int(handover[leg.escort_convoy])
        assert leg.escort_end == pd.Timestamp(leg.date) + pd.Timedelta(seconds=end_s)
    manifests = sorted(p.stem for p in (out / "manifests").glob("*.csv"))
    assert manifests == sorted(c.replace("/", "_") for c in routes["convoy_id"])
    media = pd.read_csv(out / "media.csv")
    assert set(media["warehouse_id"]) == set(routes["warehouse_id"])
    assert (out / "report.html").stat().st_size > 0
    assert (out / "transfer.json").stat().st_size > 0


def test_transfer_writes_the_night_with_escorts(sample, tmp_path, capsys):
    boxes_path, boxes = _boxes_csv(sample, tmp_path)
    out = tmp_path / "out"
    args = [sample["centers"], sample["garrisons"], "--points", sample["points"], "--split",
            "--boxes", str(boxes_path), "--date", "2025-11-11", *FAST,
            "--out", str(out)]  # fmt: skip
    assert main(["transfer", *args]) == EXIT_OK
    assert "written:" in capsys.readouterr().out
    assert (out / "plan" / "assignments.csv").is_file()
    centers = gpd.read_file(sample["centers"])["center_id"]
    _check_night(out, centers, boxes)


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--ready-at", "25:99"], "--ready-at"),
        (["--boxes-per-vehicle", "0"], "--boxes-per-vehicle"),
        (["--transfer-time-limit", "-1"], "--transfer-time-limit"),
        (["--date", "11/11/2025"], "--date"),
        (["--boxes", "nowhere.csv"], "--boxes"),
        (["--count-min", "-5"], "--count-min"),
    ],
)
def test_bad_flags_exit_2_naming_the_flag(sample, tmp_path, capsys, flags, named):
    args = [sample["centers"], sample["garrisons"], "--points", sample["points"], *flags]
    assert main(["transfer", *args, "--out", str(tmp_path / "o")]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert named in err
    assert "Traceback" not in err


def test_a_missing_points_file_or_flag_exits_2(sample, tmp_path, capsys):
    base = [sample["centers"], sample["garrisons"], "--out", str(tmp_path / "o")]
    assert main(["transfer", *base, "--points", str(tmp_path / "none.geojson")]) == EXIT_INPUT
    assert "--points" in capsys.readouterr().err
    assert main(["transfer", *base]) == EXIT_INPUT  # argparse: --points is required
    assert "--points" in capsys.readouterr().err


def test_bad_boxes_rows_are_named_and_no_traceback(sample, tmp_path):
    bad = tmp_path / "boxes.csv"
    bad.write_text("center_id,boxes\nTC001,3\n", encoding="utf-8")  # the others are missing
    cmd = [sys.executable, "-m", "electsec.cli", "transfer", sample["centers"],
           sample["garrisons"], "--points", sample["points"], "--boxes", str(bad),
           "--split", *FAST, "--out", str(tmp_path / "o")]  # fmt: skip
    done = subprocess.run(  # noqa: S603 - our own interpreter
        cmd, capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == EXIT_INPUT
    assert "--boxes" in done.stderr
    assert "TC002" in done.stderr
    assert "Traceback" not in done.stderr


def test_election_runs_the_transfer_after_the_general_day(sample, repo_root, tmp_path):
    centers = gpd.read_file(sample["centers"])
    centers["phase"] = ["special"] * 10 + ["general"] * 30
    path = tmp_path / "centers.geojson"
    centers.to_file(path, driver="GeoJSON")
    out = tmp_path / "out"
    args = [str(path), sample["garrisons"], "--date-special", "2025-11-09", "--date-general",
            "2025-11-11", "--split", "--points", sample["points"], *FAST,
            "--out", str(out)]  # fmt: skip
    assert main(["election", *args]) == EXIT_OK
    general = centers[centers["phase"] == "general"]["center_id"]
    _check_night(out / "transfer", general, dict.fromkeys(general, 5))
    moves = pd.read_csv(out / "transfer" / "movements.csv")
    assert set(moves[moves["escort_convoy"].notna()]["phase"]) == {"general"}
    with (out / "transfer" / "escorts.csv").open(newline="", encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) >= 1


def test_election_refuses_transfer_flags_without_points(sample, tmp_path, capsys):
    args = [sample["centers"], sample["garrisons"], "--date-general", "2025-11-11",
            "--ready-at", "21:00", "--out", str(tmp_path / "o")]  # fmt: skip
    assert main(["election", *args]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "--ready-at" in err
    assert "--points" in err


def _routes_of(out):
    routes = gpd.read_file(out / "routes.geojson").drop(columns="geometry")
    stops = pd.read_csv(out / "stops.csv", dtype={"place_id": str})
    return routes.sort_values("convoy_id").reset_index(drop=True), stops


def test_transfer_from_a_saved_plan_equals_the_solved_one(sample, tmp_path):
    base = [sample["centers"], sample["garrisons"], "--points", sample["points"],
            "--date", "2025-11-11", *FAST]  # fmt: skip
    solved = tmp_path / "solved"
    assert main(["transfer", *base, "--split", "--out", str(solved)]) == EXIT_OK
    again = tmp_path / "again"
    args = [*base, "--plan", str(solved / "plan"), "--out", str(again)]
    assert main(["transfer", *args]) == EXIT_OK
    (r1, s1), (r2, s2) = _routes_of(solved), _routes_of(again)
    pd.testing.assert_frame_equal(r1, r2)
    pd.testing.assert_frame_equal(s1, s2)
    a1 = pd.read_csv(solved / "plan" / "assignments.csv")
    pd.testing.assert_frame_equal(a1, pd.read_csv(again / "plan" / "assignments.csv"))


def test_read_plan_gives_back_the_solved_assignment(sample, tmp_path):
    import electsec as es
    from electsec import cli
    from electsec.saved_plan import read_plan

    plan = es.solve_assignment(sample["centers"], sample["garrisons"], split=True)
    cli._write(plan, tmp_path / "p", with_map=False)
    back = read_plan(tmp_path / "p", sample["centers"], sample["garrisons"])
    written = plan.assignments.assign(distance_m=plan.assignments["distance_m"].round())
    pd.testing.assert_frame_equal(back.assignments, written, check_dtype=False)  # whole metres
    assert back.center_points.equals(plan.center_points)
    assert back.garrison_points.equals(plan.garrison_points)
    pd.testing.assert_frame_equal(back.center_info, plan.center_info)
    kw = {"time_limit_s": 5, "max_iterations": 200, "seed": 3}
    n1 = es.plan_transfer(plan, sample["points"], **kw)
    n2 = es.plan_transfer(back, sample["points"], **kw)
    pd.testing.assert_frame_equal(n1.stops, n2.stops)


def test_a_bad_plan_folder_exits_2_naming_the_file_or_ids(sample, tmp_path, capsys):
    base = ["transfer", sample["centers"], sample["garrisons"], "--points", sample["points"],
            *FAST, "--out", str(tmp_path / "o")]  # fmt: skip
    assert main([*base, "--plan", str(tmp_path / "nowhere")]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "--plan" in err
    assert "nowhere" in err
    assert "Traceback" not in err
    (tmp_path / "empty").mkdir()
    assert main([*base, "--plan", str(tmp_path / "empty")]) == EXIT_INPUT
    assert "assignments.csv" in capsys.readouterr().err
    saved = tmp_path / "saved"
    assert main([*base[:-2], "--split", "--out", str(saved)]) == EXIT_OK
    capsys.readouterr()
    path = saved / "plan" / "assignments.csv"
    table = pd.read_csv(path, dtype=str)
    table.loc[0, "center_id"] = "XX999"
    table.to_csv(path, index=False)
    assert main([*base, "--plan", str(saved / "plan")]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "XX999" in err
    assert "Traceback" not in err
    assert main([*base, "--phase", "general"]) == EXIT_INPUT  # --phase needs --plan
    assert "--phase" in capsys.readouterr().err


def test_transfer_reads_an_election_folder_by_phase(sample, tmp_path, capsys):
    centers = gpd.read_file(sample["centers"])
    centers["phase"] = ["special"] * 10 + ["general"] * 30
    path = tmp_path / "centers.geojson"
    centers.to_file(path, driver="GeoJSON")
    election = tmp_path / "election"
    args = [str(path), sample["garrisons"], "--date-special", "2025-11-09", "--date-general",
            "2025-11-11", "--split", "--no-map", "--out", str(election)]  # fmt: skip
    assert main(["election", *args]) == EXIT_OK
    base = ["transfer", str(path), sample["garrisons"], "--points", sample["points"], *FAST,
            "--plan", str(election)]  # fmt: skip
    out = tmp_path / "night"
    assert main([*base, "--phase", "special", "--out", str(out)]) == EXIT_OK
    special = centers[centers["phase"] == "special"]["center_id"]
    _check_night(out, special, dict.fromkeys(special, 5))
    capsys.readouterr()
    assert main([*base, "--phase", "runoff", "--out", str(tmp_path / "x")]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "runoff" in err
    assert "special" in err
