"""Malformed inputs give an InputError naming the problem, never a wrong plan or a traceback."""

from __future__ import annotations

import pickle

import geopandas as gpd
import pandas as pd
import pytest
import shapely

import electsec as es
from electsec.validation import MAX_TEAMS


def _frame(**columns: object) -> pd.DataFrame:
    base: dict[str, object] = {
        "center_id": ["a", "b"],
        "lon": [44.0, 44.1],
        "lat": [33.0, 33.1],
        "demand": [1, 2],
    }
    base.update(columns)
    return pd.DataFrame(base)


def _points(crs: str, xy: list[tuple[float, float]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"center_id": [f"c{i}" for i in range(len(xy))], "demand": [1] * len(xy)},
        geometry=[shapely.Point(x, y) for x, y in xy],
        crs=crs,
    )


FRAME_CASES = {
    "bool among ints": (_frame(demand=pd.Series([True, 2], dtype=object)), "True/False"),
    "2**53+1 float round trip": (_frame(demand=[2**53 + 1, 1]), "largest team count"),
    "10**20 wraps": (_frame(demand=pd.Series([10**20, 1], dtype=object)), "largest team count"),
    "too many teams": (_frame(demand=[MAX_TEAMS + 1, 1]), "largest team count"),
    "negative": (_frame(demand=[-1, 1]), "negative"),
    "fraction": (_frame(demand=[1.5, 1]), "whole number"),
    "text": (_frame(demand=["two", 1]), "not a number"),
    "text nan": (_frame(demand=["nan", 1]), "not a number"),
    "missing": (_frame(demand=[None, 1]), "missing"),
    "infinite": (_frame(demand=[float("inf"), 1]), "finite"),
    "bool column": (_frame(demand=[True, False]), "True/False"),
    "duplicate ids": (_frame(center_id=["a", "a"]), "unique"),
    "empty id": (_frame(center_id=[None, "b"]), "empty"),
    "longitude 400": (_frame(lon=[400.0, 44.0]), "outside lon"),
    "latitude 100": (_frame(lat=[100.0, 33.0]), "outside lon"),
    "no demand column": (_frame().drop(columns="demand"), "'demand' is missing"),
    "no id column": (_frame().drop(columns="center_id"), "center_id"),
    "no coordinates": (_frame().drop(columns=["lon", "lat"]), "lon/lat"),
}
GEO_CASES = {
    "geocentric EPSG:4978": (
        _points("EPSG:4978", [(4e6, 3e6), (4.1e6, 3e6)]),
        "geocentric",
    ),
    "lon/lat in a projected CRS": (_points("EPSG:32638", [(44, 33), (45, 34)]), "lon/lat"),
    "outside UTM area": (_points("EPSG:32638", [(5e5, 3.6e6), (-9e7, 3.6e6)]), "outside"),
    "unknown CRS string": (
        _points("EPSG:4326", [(44, 33)]).set_crs(None, allow_override=True),
        "EPSG:999999",
    ),
}


def _snapshot(obj: object) -> bytes:
    return pickle.dumps(obj)


@pytest.mark.parametrize("name", sorted(FRAME_CASES))
def test_bad_frames(name):
    frame, words = FRAME_CASES[name]
    before = _snapshot(frame)
    with pytest.raises(es.InputError, match=words):
        es.read_polling_centers(frame)
    assert _snapshot(frame) == before


@pytest.mark.parametrize("name", sorted(FRAME_CASES))
def test_bad_garrison_frames(name):
    frame, words = FRAME_CASES[name]
    frame = frame.rename(columns={"center_id": "garrison_id", "demand": "capacity"})
    words = words.replace("demand", "capacity").replace("center_id", "garrison_id")
    before = _snapshot(frame)
    with pytest.raises(es.InputError, match=words):
        es.read_garrisons(frame)
    assert _snapshot(frame) == before


@pytest.mark.parametrize("name", sorted(GEO_CASES))
def test_bad_geodataframes(name):
    frame, words = GEO_CASES[name]
    before = _snapshot(frame)
    crs = "EPSG:999999" if name == "unknown CRS string" else None
    with pytest.raises(es.InputError, match=words):
        es.read_polling_centers(frame, crs=crs)
    assert _snapshot(frame) == before


def test_exact_big_count_is_kept_when_in_range():
    frame = _frame(demand=pd.Series([MAX_TEAMS, "7"], dtype=object))
    assert es.read_polling_centers(frame)["demand"].tolist() == [MAX_TEAMS, 7]


LIMIT_CASES = {
    "tier in wrong case": ({"High": 5000}, "did you mean 'high'"),
    "tier misspelt": ({"hgh": 5000}, "did you mean 'high'"),
    "unknown tier": ({"extreme": 5000}, "which no centre has"),
    "negative tier limit": ({"high": -1}, "finite numbers"),
    "bool tier limit": ({"high": True}, "finite numbers"),
    "bool limit": (True, "finite number"),
    "nan limit": (float("nan"), "finite number"),
    "column misspelt": ("tier_limt", "do not have"),
}


@pytest.mark.parametrize("name", sorted(LIMIT_CASES))
def test_bad_limits(tiny, name):
    centers, garrisons = tiny
    limit, words = LIMIT_CASES[name]
    before = (_snapshot(centers), _snapshot(garrisons))
    with pytest.raises(es.InputError, match=words):
        es.solve_assignment(centers, garrisons, split=True, max_distance_m=limit)
    assert (_snapshot(centers), _snapshot(garrisons)) == before


@pytest.mark.parametrize(
    ("jurisdiction", "words"),
    [
        ({"police": ["Sulaymaniyah"]}, "is not one of the centres' governorates"),
        ({"polise": ["Baghdad"]}, "did you mean 'police'"),
    ],
)
def test_bad_jurisdiction(tiny, jurisdiction, words):
    centers, garrisons = tiny
    centers = centers.assign(agency="police")
    garrisons = garrisons.assign(agency="police")
    with pytest.raises(es.InputError, match=words):
        es.solve_assignment(centers, garrisons, split=True, jurisdiction=jurisdiction)


def test_cli_misspelt_tier(tmp_path, repo_root):
    from electsec.cli import main

    out = tmp_path / "out"
    code = main(
        [
            "plan",
            str(repo_root / "data/sample/tiny_centers.geojson"),
            str(repo_root / "data/sample/tiny_garrisons.geojson"),
            "--tier-limit-km",
            "hgh=15",
            "--out",
            str(out),
        ]
    )
    assert code == 2
    assert not out.exists() or not any(out.iterdir())


def test_geojson_circle_is_an_input_error():
    data = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"center_id": "a", "demand": 1},
                "geometry": {"type": "Circle", "coordinates": [44, 33]},
            }
        ],
    }
    before = _snapshot(data)
    with pytest.raises(es.InputError, match="Point"):
        es.read_polling_centers(data)
    assert _snapshot(data) == before


@pytest.mark.parametrize(
    ("extra", "words"),
    [(["--roads", "missing.gpkg"], "--roads"), (["--out", "afile"], "is a file")],
)
def test_cli_bad_paths_exit_2(tmp_path, repo_root, capsys, extra, words):
    from electsec.cli import main

    (tmp_path / "afile").write_text("x")
    extra = [str(tmp_path / e) if e.endswith(("gpkg", "afile")) else e for e in extra]
    args = [
        "plan",
        str(repo_root / "data/sample/tiny_centers.geojson"),
        str(repo_root / "data/sample/tiny_garrisons.geojson"),
    ]
    assert main([*args, *extra]) == 2
    assert words in capsys.readouterr().err
    assert (tmp_path / "afile").read_text() == "x"


def test_json_request_unknown_option_exits_2(repo_root, monkeypatch, capsys):
    import io
    import json

    from electsec.cli import main

    def layer(name):
        return json.loads((repo_root / f"data/sample/tiny_{name}.geojson").read_text())

    request = {
        "centers": layer("centers"),
        "garrisons": layer("garrisons"),
        "options": {"max_distanse_m": 5000},
    }
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(request)))
    assert main(["plan", "-"]) == 2
    assert "did you mean 'max_distance_m'" in capsys.readouterr().out


@pytest.mark.parametrize("defect", ["missing geometry", "longitude 400"])
def test_distance_matrix_validates_frames_that_look_validated(tiny, defect):
    centers, garrisons = tiny
    centers = centers.copy()
    if defect == "missing geometry":
        centers.loc[centers.index[0], "geometry"] = None
    else:
        centers.loc[centers.index[0], "geometry"] = shapely.Point(400, 33)
    before = _snapshot(centers)
    with pytest.raises(es.InputError, match="geometry"):
        es.distance_matrix(centers, garrisons, k=2)
    assert _snapshot(centers) == before


# -- files of each format -------------------------------------------------------------


def _layer_frame(demand: list[object] | None = None) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"center_id": ["a", "b"], "demand": demand or [1, 2]},
        geometry=[shapely.Point(44.0, 33.0), shapely.Point(44.1, 33.1)],
        crs="EPSG:4326",
    )


def _csv(tmp_path, text):
    path = tmp_path / "centers.csv"
    path.write_text(text)
    return path, {}


def _two_layer_gpkg(tmp_path):
    path = tmp_path / "two.gpkg"
    _layer_frame().to_file(path, layer="centers")
    _layer_frame().to_file(path, layer="other")
    return path


FILE_CASES = {
    "csv negative demand": (
        lambda p: _csv(p, "center_id,demand,lon,lat\na,-1,44,33\n"),
        "negative",
    ),
    "csv without coordinates": (lambda p: _csv(p, "center_id,demand\na,1\n"), "lon/lat"),
    "gpkg with two layers and no layer=": (lambda p: (_two_layer_gpkg(p), {}), "2 layers"),
    "gpkg unknown layer": (
        lambda p: (_two_layer_gpkg(p), {"layer": "nope"}),
        "no layer 'nope'",
    ),
    "gpkg layer out of range": (
        lambda p: (_two_layer_gpkg(p), {"layer": 5}),
        "out of range",
    ),
    "parquet duplicate ids": (
        lambda p: (_write(p / "c.parquet", _layer_frame().assign(center_id="a")), {}),
        "unique",
    ),
    "shapefile fractional demand": (
        lambda p: (_write(p / "c.shp", _layer_frame([1.5, 2.0])), {}),
        "whole number",
    ),
    "geojson with a line": (
        lambda p: (
            _write(
                p / "c.geojson",
                _layer_frame().set_geometry(
                    [shapely.LineString([(44, 33), (45, 34)]), shapely.Point(44, 33)]
                ),
            ),
            {},
        ),
        "Point",
    ),
    "missing file": (lambda p: (p / "absent.geojson", {}), "not found"),
    "layer of a csv": (
        lambda p: (_csv(p, "center_id,demand,lon,lat\na,1,44,33\n")[0], {"layer": "x"}),
        "no layers",
    ),
}


def _write(path, frame):
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_file(path)
    return path


@pytest.mark.parametrize("name", sorted(FILE_CASES))
def test_bad_files(tmp_path, name):
    make, words = FILE_CASES[name]
    path, kwargs = make(tmp_path)
    with pytest.raises(es.InputError, match=words):
        es.read_polling_centers(path, **kwargs)


def test_the_named_layer_is_read(tmp_path):
    path = _two_layer_gpkg(tmp_path)
    assert list(es.read_polling_centers(path, layer="other").index) == ["a", "b"]


def test_layer_needs_a_file():
    with pytest.raises(es.InputError, match="not a file path"):
        es.read_polling_centers(_layer_frame(), layer="centers")


# -- parameters of solve_assignment ----------------------------------------------------

PARAMETER_CASES = {
    "split not a bool": ({"split": "yes"}, "split"),
    "unknown objective": ({"objective": "min"}, "objective"),
    "unknown coverage": ({"coverage": "all"}, "coverage"),
    "zero time limit": ({"time_limit_s": 0}, "time_limit_s"),
    "negative time limit": ({"time_limit_s": -1}, "time_limit_s"),
    "nan time limit": ({"time_limit_s": float("nan")}, "time_limit_s"),
    "bool time limit": ({"time_limit_s": True}, "time_limit_s"),
    "negative seed": ({"seed": -1}, "seed"),
    "zero k": ({"k": 0}, "k must|positive integer"),
    "unknown backup field": ({"backup": {"max_distance_m": 5, "bogus": 1}}, "unknown field"),
    "backup per team 0": (
        {"backup": es.Backup(max_distance_m=5, centers_per_team=0)},
        "centers_per_team",
    ),
    "options not SolverOptions": ({"options": "fast"}, "SolverOptions"),
    "time limit without travel times": ({"max_time_s": 600}, "travel-time"),
    "both limits": ({"max_time_s": 600, "max_distance_m": 5_000}, "not both"),
    "costs not a CostMatrix": ({"costs": "matrix"}, "CostMatrix"),
}


@pytest.mark.parametrize("name", sorted(PARAMETER_CASES))
def test_bad_parameters(tiny, name):
    kwargs, words = PARAMETER_CASES[name]
    before = [_snapshot(layer) for layer in tiny]
    with pytest.raises(es.InputError, match=words):
        es.solve_assignment(*tiny, **kwargs)
    assert [_snapshot(layer) for layer in tiny] == before


def test_cli_unwritable_out_exits_2(repo_root, capsys):
    from electsec.cli import main

    sample = repo_root / "data" / "sample"
    args = ["plan", str(sample / "tiny_centers.geojson"), str(sample / "tiny_garrisons.geojson")]
    assert main([*args, "--out", "/proc/electsec-out", "--no-map"]) == 2
    assert "cannot read or write" in capsys.readouterr().err


def test_costs_too_large_for_int64_solvers_are_refused(tiny):
    import numpy as np
    import scipy.sparse as sp

    centers, garrisons = tiny
    huge = sp.csr_array(np.full((len(centers), len(garrisons)), 1e17))
    costs = es.CostMatrix(huge, centers.index, garrisons.index)
    with pytest.raises(es.InputError, match="beyond int64"):
        es.solve_assignment(centers, garrisons, costs, split=True)
