"""The service interface: requests on stdin, the data directory, flags with '-', exit codes.

Every JSON the command prints is validated with ``jsonschema`` against the published
response schema; path escape attempts are refused before anything is read.
"""

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import jsonschema
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import electsec as es
from electsec import cli
from electsec.cli import EXIT_INFEASIBLE, EXIT_INPUT, EXIT_OK, EXIT_SOLVER, main
from electsec.schema import request_schema, response_schema
from electsec.service import read_request, read_roads

SAMPLE_NAMES = ("tiny_centers.geojson", "tiny_garrisons.geojson")


@pytest.fixture
def layers(repo_root):
    sample = repo_root / "data" / "sample"
    return [json.loads((sample / name).read_text()) for name in SAMPLE_NAMES]


@pytest.fixture
def request_(layers):
    return {"centers": layers[0], "garrisons": layers[1], "options": {"split": True}}


@pytest.fixture
def data_dir(tmp_path, repo_root):
    folder = tmp_path / "data"
    folder.mkdir()
    for name in SAMPLE_NAMES:
        shutil.copy(repo_root / "data" / "sample" / name, folder / name)
    return folder


def _run(monkeypatch, capsys, argv, request):
    """Run the command with ``request`` on stdin; return the code, the JSON and stderr."""
    text = request if isinstance(request, str) else json.dumps(request)
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    code = main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    data = json.loads(captured.out) if captured.out.strip() else None
    if data is not None:
        jsonschema.validate(data, response_schema())
    return code, data, captured.err


def _messages(data):
    return " | ".join(f"{i['column']}: {i['message']}" for i in data["issues"])


# -- requests from the docs ---------------------------------------------------------------


def _readme_requests(repo_root):
    text = (repo_root / "README.md").read_text()
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.DOTALL)]


def test_the_readme_request_is_valid_and_plans(repo_root, monkeypatch, capsys):
    requests = _readme_requests(repo_root)
    assert requests, "the README shows a JSON request"
    for request in requests:
        jsonschema.validate(request, request_schema())
        code, data, _ = _run(monkeypatch, capsys, ["plan", "-"], request)
        assert code == EXIT_OK
        assert data["status"] == "optimal"


def test_a_valid_request_plans_like_the_library(monkeypatch, capsys, request_, tiny):
    code, data, _ = _run(monkeypatch, capsys, ["plan", "-"], request_)
    assert code == EXIT_OK
    expected = es.solve_assignment(*tiny, split=True).to_dict()
    assert data["assignments"] == expected["assignments"]


def test_reading_a_request_does_not_modify_it(request_):
    before = json.dumps(request_, sort_keys=True)
    read_request(request_)
    assert json.dumps(request_, sort_keys=True) == before


def test_integral_floats_count_as_integers(monkeypatch, capsys, request_):
    request_["options"].update(k=6.0, seed=3.0)
    jsonschema.validate(request_, request_schema())  # JSON Schema: 6.0 is an integer
    code, data, _ = _run(monkeypatch, capsys, ["plan", "-"], request_)
    assert code == EXIT_OK
    assert data["parameters"]["k"] == 6


# -- bad requests: every problem at once, unknown names with a suggestion ------------------


def test_every_problem_of_a_request_is_reported_at_once(monkeypatch, capsys, request_):
    request_["options"] = {"max_distance_km": 15, "split": "yes", "seed": -1}
    request_["centers"]["features"][2]["properties"]["demand"] = -1
    request_["extra"] = 1
    code, data, _ = _run(monkeypatch, capsys, ["plan", "-"], request_)
    assert code == EXIT_INPUT
    assert data["schema_version"] == "1.0"
    text = _messages(data)
    assert "did you mean 'max_distance_m'?" in text
    assert "options.split" in text
    assert "options.seed" in text
    assert "features[*].properties.demand" in text
    assert "unknown field 'extra'" in text


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", '"centers"', '{"centers": {}}', "\udcff"])
def test_bad_json_exits_2_with_json(monkeypatch, capsys, text):
    code, data, _ = _run(monkeypatch, capsys, ["plan", "-"], text)
    assert code == EXIT_INPUT
    assert data["error"] == "InputError"


def test_bad_json_and_bad_flags_are_reported_together(monkeypatch, capsys):
    argv = ["plan", "-", "--max-time-min", "5", "--no-map"]
    code, data, _ = _run(monkeypatch, capsys, argv, "{")
    assert code == EXIT_INPUT
    assert {i["column"] for i in data["issues"]} == {"stdin", "--max-time-min", "--no-map"}


def test_non_finite_numbers_are_refused(monkeypatch, capsys, request_):
    request_["options"]["time_limit_s"] = float("inf")
    code, data, _ = _run(monkeypatch, capsys, ["plan", "-"], request_)
    assert code == EXIT_INPUT
    assert "options.time_limit_s" in _messages(data)


# -- files only inside the data directory --------------------------------------------------


def test_file_paths_are_refused_without_a_data_dir(monkeypatch, capsys, request_, data_dir):
    request_["garrisons"] = str(data_dir / "tiny_garrisons.geojson")
    code, data, _ = _run(monkeypatch, capsys, ["plan", "-"], request_)
    assert code == EXIT_INPUT
    assert "--data-dir" in _messages(data)


def test_files_inside_the_data_dir_are_read(monkeypatch, capsys, request_, data_dir):
    request_["centers"] = "tiny_centers.geojson"
    request_["garrisons"] = {"path": "./tiny_garrisons.geojson"}
    argv = ["plan", "-", "--data-dir", str(data_dir)]
    code, data, _ = _run(monkeypatch, capsys, argv, request_)
    assert code == EXIT_OK
    assert sum(a["teams"] for a in data["assignments"]) == 88


def _escapes(data_dir, tmp_path):
    """Paths a client might try, each meant to reach a file outside ``data_dir``."""
    secret = tmp_path / "secret.geojson"
    secret.write_text((data_dir / "tiny_garrisons.geojson").read_text())
    (data_dir / "link.geojson").symlink_to(secret)
    (data_dir / "sub").mkdir()
    (data_dir / "sub" / "up").symlink_to(tmp_path)
    (data_dir / "etc.geojson").symlink_to("/etc/passwd")
    os.mkfifo(data_dir / "fifo.geojson")
    (data_dir / "zero.geojson").symlink_to("/dev/zero")
    (data_dir / "folder.geojson").mkdir()
    (data_dir / "indirect.vrt").write_text("<OGRVRTDataSource/>")
    return {
        "../secret.geojson": "without '..'",
        "sub/../../secret.geojson": "without '..'",
        str(secret): "without '..'",
        "/etc/passwd": "without '..'",
        "~/secret.geojson": "without '..'",
        "link.geojson": "leads out",
        "sub/up/secret.geojson": "leads out",
        "etc.geojson": "leads out",
        "fifo.geojson": "not a regular file",
        "folder.geojson": "not a regular file",
        "zero.geojson": "leads out",
        "indirect.vrt": "only these file types",
        "missing.geojson": "no such file",
    }


def test_path_escapes_are_refused(monkeypatch, capsys, request_, data_dir, tmp_path):
    for path, why in _escapes(data_dir, tmp_path).items():
        for value in (path, {"path": path}):
            request_["garrisons"] = value
            argv = ["plan", "-", "--data-dir", str(data_dir)]
            code, data, _ = _run(monkeypatch, capsys, argv, request_)
            assert code == EXIT_INPUT, path
            text = _messages(data)
            assert why in text, (path, text)
            assert str(tmp_path) not in text.replace(
                str(path), ""
            )  # the server's layout stays hidden


def test_a_fifo_is_refused_without_being_opened(request_, data_dir):
    os.mkfifo(data_dir / "pipe.csv")  # opening it would block this test forever
    request_["centers"] = "pipe.csv"
    with pytest.raises(es.InputError, match="not a regular file"):
        read_request(request_, data_dir=data_dir)


def test_a_device_named_directly_is_refused(request_):
    request_["centers"] = "zero"
    with pytest.raises(es.InputError, match="not a regular file"):
        read_request(request_, data_dir="/dev")


def test_a_shapefile_part_linked_out_is_refused(request_, data_dir, tmp_path, tiny):
    folder = tmp_path / "outside"
    folder.mkdir()
    tiny[1].reset_index()[["garrison_id", "capacity", "geometry"]].rename(
        columns={"garrison_id": "gid"}
    ).to_file(folder / "g.shp")
    for part in folder.iterdir():
        target = data_dir / part.name
        if part.suffix == ".shp":
            shutil.copy(part, target)
        else:
            target.symlink_to(part)
    request_["garrisons"] = "g.shp"
    with pytest.raises(es.InputError, match="leads out"):
        read_request(request_, data_dir=data_dir)


def test_data_dir_is_refused_without_a_request(monkeypatch, capsys, tmp_path, repo_root):
    paths = [str(repo_root / "data" / "sample" / n) for n in SAMPLE_NAMES]
    argv = ["diagnose", *paths, "--data-dir", str(tmp_path), "--json"]
    code, data, _ = _run(monkeypatch, capsys, argv, "")
    assert code == EXIT_INPUT
    assert "--data-dir" in _messages(data)


# -- roads reachable from a request ---------------------------------------------------------


@pytest.fixture
def road_file(repo_root, data_dir):
    roads = gpd.read_file(
        repo_root / "data" / "sample" / "roads.gpkg", bbox=(44.0, 32.3, 44.7, 33.6)
    )
    path = data_dir / "roads.gpkg"
    roads.to_file(path, layer="roads", driver="GPKG", engine="pyogrio")
    return path, roads


def test_roads_in_a_request_plan_on_travel_times(
    monkeypatch, capsys, request_, road_file, data_dir
):
    path, roads = road_file
    by_flag = ["plan", "-", "--roads", str(path)]
    code, flagged, _ = _run(monkeypatch, capsys, by_flag, request_)
    assert code == EXIT_OK
    assert flagged["unit"] == "s"
    request_["roads"] = json.loads(roads.to_json())
    code, inline, _ = _run(monkeypatch, capsys, ["plan", "-"], request_)
    assert code == EXIT_OK
    request_["roads"] = {"path": "roads.gpkg", "layer": "roads"}
    argv = ["plan", "-", "--data-dir", str(data_dir)]
    code, from_file, _ = _run(monkeypatch, capsys, argv, request_)
    assert code == EXIT_OK
    assert inline["assignments"] == flagged["assignments"] == from_file["assignments"]
    assert inline["objective"] == pytest.approx(flagged["objective"])


def test_road_limits_in_a_request_are_seconds(monkeypatch, capsys, request_, road_file):
    request_["roads"] = json.loads(road_file[1].to_json())
    request_["options"]["max_time_s"] = 60
    code, data, _ = _run(monkeypatch, capsys, ["plan", "-"], request_)
    assert code == EXIT_INFEASIBLE
    assert data["error"] == "InfeasibleError"
    request_["options"] = {"max_distance_m": 20_000}
    code, data, _ = _run(monkeypatch, capsys, ["plan", "-"], request_)
    assert code == EXIT_INPUT
    assert "max_time_s" in _messages(data)


def test_km_flags_with_a_request_that_has_roads_are_refused(
    monkeypatch, capsys, request_, road_file
):
    request_["roads"] = json.loads(road_file[1].to_json())
    code, data, _ = _run(monkeypatch, capsys, ["plan", "-", "--max-distance-km", "5"], request_)
    assert code == EXIT_INPUT
    assert "--max-time-min" in _messages(data)
    code, data, _ = _run(monkeypatch, capsys, ["plan", "-", "--max-time-min", "1"], request_)
    assert code == EXIT_INFEASIBLE


# -- flags with '-' apply (and win) or are refused ---------------------------------------------


def test_flags_with_a_request_apply_and_win(monkeypatch, capsys, request_):
    request_["options"] = {"split": False, "max_distance_m": 2_000}
    code, data, err = _run(monkeypatch, capsys, ["plan", "-", "--split"], request_)
    assert code == EXIT_INFEASIBLE  # the request's 2 km limit still applies
    assert data["partial"]["split"] is True
    argv = ["plan", "-", "--max-distance-km", "200", "--seed", "4"]
    code, data, err = _run(monkeypatch, capsys, argv, request_)
    assert code == EXIT_OK
    assert data["split"] is False
    assert (
        "--max-distance-km/--tier-limit-km replaces the request's option 'max_distance_m'" in err
    )


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["plan", "-", "tiny_garrisons.geojson"], "GARRISONS"),
        (["plan", "-", "--no-map"], "--no-map"),
        (["plan", "-", "--centers-per-team", "2"], "--centers-per-team"),
        (["plan", "-", "--roads", "missing.gpkg"], "--roads"),
        (["plan", "-", "--data-dir", "no/such/dir"], "--data-dir"),
        (["plan", "-", "--tier-limit-km", "high"], "--tier-limit-km"),
    ],
)
def test_flags_that_cannot_apply_are_refused(monkeypatch, capsys, request_, argv, named):
    code, data, _ = _run(monkeypatch, capsys, argv, request_)
    assert code == EXIT_INPUT
    assert named in _messages(data)


def test_backup_flags_join_the_request(monkeypatch, capsys, request_):
    for feature in request_["garrisons"]["features"]:
        feature["properties"]["reserve"] = 1
    request_["options"]["backup"] = {"max_distance_m": 100_000}
    argv = ["plan", "-", "--centers-per-team", "20"]
    code, data, _ = _run(monkeypatch, capsys, argv, request_)
    assert code == EXIT_OK
    assert data["backups"]


def test_diagnose_and_report_read_requests_too(monkeypatch, capsys, request_, tmp_path):
    code, data, _ = _run(monkeypatch, capsys, ["diagnose", "-"], request_)
    assert (code, data["feasible"]) == (EXIT_OK, True)
    code, data, _ = _run(
        monkeypatch, capsys, ["diagnose", "-", "--max-distance-km", "2"], request_
    )
    assert code == EXIT_INFEASIBLE
    out = tmp_path / "r.html"
    code, data, _ = _run(monkeypatch, capsys, ["report", "-", "--out", str(out)], request_)
    assert code == EXIT_OK
    assert data["report"] == str(out)


# -- every exit path is 0, 2, 3 or 4, with JSON that follows the schema -------------------------


@pytest.fixture
def paths(repo_root):
    return [str(repo_root / "data" / "sample" / n) for n in SAMPLE_NAMES]


def _bad_outs(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    return {
        "plan": [str(a_file), str(a_file / "below")],
        "diagnose": [str(a_file), str(a_file / "below")],
        "report": [str(tmp_path), str(a_file / "r.html")],
    }


def test_an_unusable_out_exits_2(monkeypatch, capsys, paths, tmp_path):
    for command, outs in _bad_outs(tmp_path).items():
        for out in outs:
            argv = [command, *paths, "--out", out, "--json"]
            code, data, _ = _run(monkeypatch, capsys, argv, "")
            assert code == EXIT_INPUT, (command, out)
            assert "--out" in _messages(data)


@pytest.mark.parametrize("flag", ["--roads", "--basemap"])
def test_missing_road_and_basemap_files_exit_2(monkeypatch, capsys, paths, tmp_path, flag):
    argv = ["report", *paths, "--out", str(tmp_path / "r.html"), flag, "nope.gpkg", "--json"]
    code, data, _ = _run(monkeypatch, capsys, argv, "")
    assert code == EXIT_INPUT
    assert flag in _messages(data)


def test_an_unreadable_basemap_exits_2(monkeypatch, capsys, paths, tmp_path):
    basemap = tmp_path / "broken.geojson"
    basemap.write_text("{not json")
    argv = ["report", *paths, "--out", str(tmp_path / "r.html"), "--basemap", str(basemap)]
    code, _, err = _run(monkeypatch, capsys, argv, "")
    assert code == EXIT_INPUT
    assert "--basemap" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["plan", "-", "--bogus"],
        ["plan", "-", "--k", "many"],
        ["frobnicate"],
        ["plan", "-", "--json", "--split=1"],
    ],
)
def test_usage_errors_exit_2_with_json_for_services(monkeypatch, capsys, argv):
    code, data, err = _run(monkeypatch, capsys, argv, "{}")
    assert code == EXIT_INPUT
    assert "usage:" in err
    if "-" in argv:
        assert data["error"] == "InputError"


def test_an_unexpected_error_is_one_line_and_exit_4(
    monkeypatch, capsys, request_, paths, tmp_path
):
    def broken(request, **_):
        raise ZeroDivisionError("boom\nsecond line")

    monkeypatch.setattr(cli, "solve_request", broken)
    code, data, _ = _run(monkeypatch, capsys, ["plan", "-"], request_)
    assert code == EXIT_SOLVER
    assert data == {
        "error": "InternalError",
        "schema_version": "1.0",
        "message": "internal error: ZeroDivisionError: boom",
    }
    code, data, err = _run(monkeypatch, capsys, ["diagnose", *paths], "")
    assert code == EXIT_SOLVER
    assert err.count("\n") == 1
    assert "--debug" in err
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "diagnose", *paths])


def test_solver_errors_exit_4_with_json(monkeypatch, capsys, request_):
    def stuck(request, **_):
        raise es.SolverError("no plan within the time limit")

    monkeypatch.setattr(cli, "solve_request", stuck)
    for command in ("plan", "diagnose", "report"):
        argv = [command, "-"] + (["--out", "unused.html"] if command == "report" else [])
        code, data, _ = _run(monkeypatch, capsys, argv, request_)
        assert code == EXIT_SOLVER, command
        assert data["error"] == "SolverError"


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"electsec {es.__version__}"


def test_every_command_json_follows_the_schema(monkeypatch, capsys, paths, tmp_path):
    runs = {
        ("plan", "--out", str(tmp_path / "p"), "--no-map"): EXIT_OK,
        (
            "plan",
            "--out",
            str(tmp_path / "q"),
            "--no-map",
            "--max-distance-km",
            "2",
        ): EXIT_INFEASIBLE,
        ("diagnose",): EXIT_OK,
        ("diagnose", "--tier-limit-km", "high=1"): EXIT_INFEASIBLE,
        ("report", "--out", str(tmp_path / "r.html")): EXIT_OK,
        (
            "report",
            "--out",
            str(tmp_path / "s.html"),
            "--tier-limit-km",
            "high=1",
        ): EXIT_INFEASIBLE,
        ("diagnose", "--k", "0"): EXIT_INPUT,
    }
    seen = set()
    for (command, *flags), expected in runs.items():
        code, data, _ = _run(monkeypatch, capsys, [command, *paths, *flags, "--json"], "")
        assert code == expected, (command, flags)
        seen.add(data.get("error", command))
    assert seen == {"plan", "diagnose", "report", "InfeasibleError", "InputError"}


def test_a_road_line_of_one_point_is_bad_input(monkeypatch, capsys, request_):
    line = {"type": "LineString", "coordinates": [[44.3, 33.3]]}
    feature = {"type": "Feature", "geometry": line, "properties": {"highway": "primary"}}
    request_["roads"] = {"type": "FeatureCollection", "features": [feature]}
    code, data, _ = _run(monkeypatch, capsys, ["plan", "-"], request_)
    assert code == EXIT_INPUT
    assert "roads.features[*].geometry" in _messages(data)
    with pytest.raises(es.InputError, match="invalid GeoJSON road features"):
        read_roads(request_["roads"])


def test_the_installed_command_never_ends_in_a_traceback(tmp_path):
    def run(*argv, stdin=""):
        done = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
            [sys.executable, "-m", "electsec.cli", *argv],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert "Traceback" not in done.stderr
        return done.returncode, done.stdout

    assert run("--version") == (0, f"electsec {es.__version__}\n")
    assert run("plan", "-", "--bogus")[0] == EXIT_INPUT
    code, out = run("plan", "-", stdin='{"centers": "/etc/passwd", "garrisons": "/etc/passwd"}')
    assert code == EXIT_INPUT
    assert json.loads(out)["error"] == "InputError"
    code, _ = run("diagnose", "x.geojson", "y.geojson", "--roads", str(tmp_path / "no.gpkg"))
    assert code == EXIT_INPUT


_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 10**7)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "high", "total", "max", "full", "tier", "x.geojson", "../x"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["high", "low", "max_distance_m", "police"]), inner, max_size=2
        )
    ),
    max_leaves=6,
)
_OPTIONS = sorted(request_schema()["$defs"]["options"]["properties"])
_PROPERTIES = ["demand", "center_id", "tier", "agency", "governorate"]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    options=st.dictionaries(st.sampled_from(_OPTIONS), _VALUES, max_size=3),
    edits=st.lists(
        st.tuples(st.integers(0, 39), st.sampled_from(_PROPERTIES), _VALUES), max_size=2
    ),
)
def test_no_request_ends_in_an_internal_error(monkeypatch, capsys, layers, options, edits):
    request = {"centers": json.loads(json.dumps(layers[0])), "garrisons": layers[1]}
    request["options"] = {"time_limit_s": 2, **options}
    for position, name, value in edits:
        request["centers"]["features"][position]["properties"][name] = value
    code, data, _ = _run(monkeypatch, capsys, ["plan", "-"], request)
    assert code in (EXIT_OK, EXIT_INPUT, EXIT_INFEASIBLE, EXIT_SOLVER)
    assert data.get("error") != "InternalError", data


BAGHDAD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "roads" / "baghdad_osm"


def _points_on(lines, n, seed, id_name, value_name, value):
    rng = np.random.default_rng(seed)
    xy = shapely.get_coordinates(lines.geometry.to_numpy())
    chosen = xy[rng.choice(len(xy), size=n, replace=False)]
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [float(x), float(y)]},
            "properties": {id_name: f"{id_name[0]}{i}", value_name: value},
        }
        for i, (x, y) in enumerate(chosen)
    ]
    return {"type": "FeatureCollection", "features": features}


@pytest.mark.skipif(not (BAGHDAD / "Baghdad.osm").exists(), reason="no shared Baghdad extract")
def test_a_request_plans_on_the_baghdad_osm_file_in_the_data_dir(monkeypatch, capsys):
    lines = read_roads(BAGHDAD / "Baghdad.osm", layer="lines")
    lines = lines[lines["highway"].notna()]
    request = {
        "centers": _points_on(lines, 30, 1, "center_id", "demand", 1),
        "garrisons": _points_on(lines, 5, 2, "garrison_id", "capacity", 30),
        "roads": {"path": "Baghdad.osm", "layer": "lines"},
        "options": {"split": True, "coverage": "max"},
    }
    argv = ["plan", "-", "--data-dir", str(BAGHDAD)]
    code, data, _ = _run(monkeypatch, capsys, argv, request)
    assert code == EXIT_OK
    assert data["unit"] == "s"
    assert data["assignments"]
    request["roads"] = "../baghdad_osm/Baghdad.osm"
    code, data, _ = _run(monkeypatch, capsys, argv, request)
    assert code == EXIT_INPUT
