"""Reading polling centres and garrisons from every source form the readers accept.

Every reader returns a validated copy: index = id (``str``, named after ``id_col``), the
team count as int64, Point geometry, the source's CRS, and every other column kept.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import Point

import electsec as es

LON = [44.361, 44.421, 44.452, 43.987]
LAT = [33.312, 33.354, 32.481, 33.102]
UTM = "EPSG:32638"  # UTM zone 38N, covers Baghdad


@dataclass(frozen=True)
class Kind:
    """One layer type: its reader and default column names."""

    name: str
    read: Callable[..., gpd.GeoDataFrame]
    id_col: str
    value_col: str
    value_arg: str  # the reader's keyword naming the value column


CENTERS = Kind("centers", es.read_polling_centers, "center_id", "demand", "demand_col")
GARRISONS = Kind("garrisons", es.read_garrisons, "garrison_id", "capacity", "capacity_col")
KINDS = [pytest.param(CENTERS, id="centers"), pytest.param(GARRISONS, id="garrisons")]


@pytest.fixture
def repo_root() -> Path:
    """The repository root, from this file's location (not the working directory)."""
    return Path(__file__).resolve().parents[1]


def make_layer(
    kind: Kind,
    *,
    crs: str = "EPSG:4326",
    ids: list[Any] | None = None,
    id_col: str | None = None,
    value_col: str | None = None,
) -> gpd.GeoDataFrame:
    """A valid layer of four sites (lon/lat built in EPSG:4326, then reprojected)."""
    frame = gpd.GeoDataFrame(
        {
            id_col or kind.id_col: ids if ids is not None else ["S1", "S2", "S3", "S4"],
            value_col or kind.value_col: [1, 2, 0, 5],
            "name": ["north", "east", "south", "west"],
            "tier": ["low", "high", "low", "medium"],
        },
        geometry=gpd.points_from_xy(LON, LAT),
        crs="EPSG:4326",
    )
    return frame.to_crs(crs)


def assert_normalised(
    out: gpd.GeoDataFrame,
    source: gpd.GeoDataFrame,
    *,
    id_col: str,
    value_col: str,
    crs: str,
) -> None:
    """``out`` is the reader's normalised form of the valid layer ``source``.

    Whatever the source called them, the id is the index ``center_id``/``garrison_id``
    and the teams are ``demand``/``capacity``, so a validated layer reads as it is.
    """
    assert isinstance(out, gpd.GeoDataFrame)
    assert out.index.name in ("center_id", "garrison_id")
    teams = "demand" if out.index.name == "center_id" else "capacity"
    assert id_col not in out.columns or id_col == teams
    assert value_col == teams or value_col not in out.columns
    assert out.index.is_unique
    assert all(type(label) is str for label in out.index)
    assert list(out.index) == [str(i) for i in source[id_col]]
    assert out[teams].dtype == np.int64
    assert out[teams].tolist() == [int(v) for v in source[value_col]]
    assert (out.geom_type == "Point").all()
    assert out.crs is not None
    assert out.crs.equals(pyproj.CRS(crs))
    np.testing.assert_allclose(out.geometry.x, source.geometry.x, rtol=0, atol=1e-6)
    np.testing.assert_allclose(out.geometry.y, source.geometry.y, rtol=0, atol=1e-6)
    assert out["name"].tolist() == source["name"].tolist()
    assert out["tier"].tolist() == source["tier"].tolist()


def write(layer: gpd.GeoDataFrame, path: Path) -> Path:
    """Write ``layer`` to ``path`` in the format its suffix names."""
    if path.suffix == ".parquet":
        layer.to_parquet(path)
    else:
        layer.to_file(path)
    return path


# -- files -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("crs", ["EPSG:4326", UTM])
@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".parquet"])
def test_reads_vector_files(kind: Kind, crs: str, suffix: str, tmp_path: Path) -> None:
    layer = make_layer(kind, crs=crs)
    path = write(layer, tmp_path / f"{kind.name}{suffix}")
    out = kind.read(path)
    assert_normalised(out, layer, id_col=kind.id_col, value_col=kind.value_col, crs=crs)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("crs", ["EPSG:4326", UTM])
def test_reads_shapefile(kind: Kind, crs: str, tmp_path: Path) -> None:
    # Shapefile field names are at most 10 characters, so name the columns explicitly.
    layer = make_layer(kind, crs=crs, id_col="site", value_col="teams")
    path = write(layer, tmp_path / f"{kind.name}.shp")
    out = kind.read(path, id_col="site", **{kind.value_arg: "teams"})
    assert_normalised(out, layer, id_col="site", value_col="teams", crs=crs)


@pytest.mark.parametrize("kind", KINDS)
def test_reads_path_given_as_str(kind: Kind, tmp_path: Path) -> None:
    layer = make_layer(kind)
    path = write(layer, tmp_path / "layer.geojson")
    out = kind.read(str(path))
    assert_normalised(out, layer, id_col=kind.id_col, value_col=kind.value_col, crs="EPSG:4326")


@pytest.mark.parametrize("kind", KINDS)
def test_reads_csv_with_lon_lat_columns(kind: Kind, tmp_path: Path) -> None:
    layer = make_layer(kind, ids=[1, 2, 3, 4])
    table = pd.DataFrame(layer.drop(columns="geometry")).assign(lon=LON, lat=LAT)
    path = tmp_path / "sites.csv"
    table.to_csv(path, index=False)
    out = kind.read(path)
    assert list(out.index) == ["1", "2", "3", "4"]
    assert_normalised(out, layer, id_col=kind.id_col, value_col=kind.value_col, crs="EPSG:4326")
    assert "lon" not in out.columns
    assert "lat" not in out.columns


@pytest.mark.parametrize("kind", KINDS)
def test_reads_csv_with_wkt_geometry_and_crs(kind: Kind, tmp_path: Path) -> None:
    layer = make_layer(kind, crs=UTM)
    table = pd.DataFrame(layer.drop(columns="geometry")).assign(wkt=layer.geometry.to_wkt())
    path = tmp_path / "sites.csv"
    table.to_csv(path, index=False)
    out = kind.read(path, crs=UTM)
    assert_normalised(out, layer, id_col=kind.id_col, value_col=kind.value_col, crs=UTM)


def test_csv_wkt_without_crs_is_refused(tmp_path: Path) -> None:
    layer = make_layer(CENTERS, crs=UTM)
    table = pd.DataFrame(layer.drop(columns="geometry")).assign(geometry=layer.geometry.to_wkt())
    path = tmp_path / "sites.csv"
    table.to_csv(path, index=False)
    with pytest.raises(es.InputError, match="no CRS"):
        es.read_polling_centers(path)


def test_reads_csv_with_projected_x_y_and_crs(tmp_path: Path) -> None:
    layer = make_layer(CENTERS, crs=UTM)
    table = pd.DataFrame(layer.drop(columns="geometry")).assign(
        x=layer.geometry.x, y=layer.geometry.y
    )
    path = tmp_path / "sites.csv"
    table.to_csv(path, index=False)
    out = es.read_polling_centers(path, crs=UTM)
    assert_normalised(out, layer, id_col="center_id", value_col="demand", crs=UTM)


def test_csv_with_unreadable_wkt_reports_the_row(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text("center_id,demand,geometry\nA,1,POINT (44 33)\nB,2,POINT (44 oops\n")
    with pytest.raises(es.InputError) as info:
        es.read_polling_centers(path, crs="EPSG:4326")
    assert info.value.issues[0].ids == ("B",)


# -- in-memory sources -----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("crs", ["EPSG:4326", UTM])
def test_reads_geodataframe(kind: Kind, crs: str) -> None:
    layer = make_layer(kind, crs=crs)
    before = layer.copy(deep=True)
    out = kind.read(layer)
    assert_normalised(out, layer, id_col=kind.id_col, value_col=kind.value_col, crs=crs)
    assert_geodataframe_equal(layer, before)


@pytest.mark.parametrize("kind", KINDS)
def test_reads_geodataframe_indexed_by_id(kind: Kind) -> None:
    layer = make_layer(kind).set_index(kind.id_col)
    before = layer.copy(deep=True)
    out = kind.read(layer)
    assert list(out.index) == ["S1", "S2", "S3", "S4"]
    assert out.index.name == kind.id_col
    assert out[kind.value_col].dtype == np.int64
    assert_geodataframe_equal(layer, before)


@pytest.mark.parametrize("kind", KINDS)
def test_reads_dataframe_with_lon_lat(kind: Kind) -> None:
    layer = make_layer(kind, ids=[10, 20, 30, 40])
    table = pd.DataFrame(layer.drop(columns="geometry")).assign(longitude=LON, latitude=LAT)
    before = table.copy(deep=True)
    out = kind.read(table)
    assert list(out.index) == ["10", "20", "30", "40"]
    assert_normalised(out, layer, id_col=kind.id_col, value_col=kind.value_col, crs="EPSG:4326")
    pd.testing.assert_frame_equal(table, before)


@pytest.mark.parametrize("kind", KINDS)
def test_reads_geojson_feature_collection_dict(kind: Kind) -> None:
    layer = make_layer(kind)
    features = layer.to_geo_dict()
    before = copy.deepcopy(features)
    out = kind.read(features)
    assert_normalised(out, layer, id_col=kind.id_col, value_col=kind.value_col, crs="EPSG:4326")
    assert features == before


def test_feature_collection_dict_with_projected_crs() -> None:
    layer = make_layer(CENTERS, crs=UTM)
    out = es.read_polling_centers(layer.to_geo_dict(), crs=UTM)
    assert_normalised(out, layer, id_col="center_id", value_col="demand", crs=UTM)


def test_custom_id_and_value_columns() -> None:
    layer = make_layer(CENTERS, id_col="code", value_col="teams")
    out = es.read_polling_centers(layer, id_col="code", demand_col="teams")
    assert_normalised(out, layer, id_col="code", value_col="teams", crs="EPSG:4326")
    garrisons = make_layer(GARRISONS, id_col="unit", value_col="squads")
    out = es.read_garrisons(garrisons, id_col="unit", capacity_col="squads")
    assert_normalised(out, garrisons, id_col="unit", value_col="squads", crs="EPSG:4326")


# -- ids and values ----------------------------------------------------------------------


def _numeric_id_sources(tmp_path: Path) -> dict[str, Any]:
    ints = make_layer(CENTERS, ids=[1, 2, 3, 4])
    floats = make_layer(CENTERS, ids=[1.0, 2.0, 3.0, 4.0])
    table = pd.DataFrame(floats.drop(columns="geometry")).assign(lon=LON, lat=LAT)
    csv = tmp_path / "ids.csv"  # a CSV is text: ids written as 1, 2 (not 1.0) stay "1", "2"
    table.astype({"center_id": np.int64}).to_csv(csv, index=False)
    return {
        "int GeoDataFrame": ints,
        "float GeoDataFrame": floats,
        "float DataFrame": table,
        "int CSV": csv,
        "int GeoJSON": write(ints, tmp_path / "ints.geojson"),
        "float GeoPackage": write(floats, tmp_path / "floats.gpkg"),
        "float GeoParquet": write(floats, tmp_path / "floats.parquet"),
        "int dict": ints.to_geo_dict(),
        "float dict": floats.to_geo_dict(),
    }


@pytest.mark.parametrize(
    "source_name",
    [
        "int GeoDataFrame",
        "float GeoDataFrame",
        "float DataFrame",
        "int CSV",
        "int GeoJSON",
        "float GeoPackage",
        "float GeoParquet",
        "int dict",
        "float dict",
    ],
)
def test_numeric_ids_become_plain_strings(source_name: str, tmp_path: Path) -> None:
    source = _numeric_id_sources(tmp_path)[source_name]
    out = es.read_polling_centers(source)
    assert list(out.index) == ["1", "2", "3", "4"]


def test_non_integral_float_ids_keep_their_decimals() -> None:
    out = es.read_polling_centers(make_layer(CENTERS, ids=[1.5, 2.0, 2.5, 3.0]))
    assert list(out.index) == ["1.5", "2", "2.5", "3"]


def test_csv_ids_keep_leading_zeros(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text("center_id,demand,lon,lat\n007,1,44.1,33.1\n010,2,44.2,33.2\n")
    out = es.read_polling_centers(path)
    assert list(out.index) == ["007", "010"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "values",
    [[1.0, 2.0, 0.0, 5.0], ["1", "2", "0", "5"], np.array([1, 2, 0, 5], dtype=np.int32)],
    ids=["float", "text", "int32"],
)
def test_whole_number_values_become_int64(kind: Kind, values: Any) -> None:
    layer = make_layer(kind)
    layer[kind.value_col] = values
    out = kind.read(layer)
    assert out[kind.value_col].dtype == np.int64
    assert out[kind.value_col].tolist() == [1, 2, 0, 5]


# -- the caller's object is never modified -------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_result_is_an_independent_copy(kind: Kind) -> None:
    layer = make_layer(kind)
    before = layer.copy(deep=True)
    out = kind.read(layer)
    out[kind.value_col] = 99
    out["name"] = "changed"
    out.geometry = gpd.GeoSeries([Point(0, 0)] * len(out), index=out.index, crs=out.crs)
    assert_geodataframe_equal(layer, before)


@pytest.mark.parametrize("kind", KINDS)
def test_caller_frame_unchanged_when_validation_fails(kind: Kind) -> None:
    layer = make_layer(kind)
    layer.loc[0, kind.value_col] = -3
    layer.loc[1, kind.id_col] = "S1"
    layer.loc[2, "geometry"] = None
    before = layer.copy(deep=True)
    with pytest.raises(es.InputError):
        kind.read(layer)
    assert_geodataframe_equal(layer, before)


def test_caller_dataframe_unchanged_when_validation_fails() -> None:
    table = pd.DataFrame(
        {"center_id": [1, 1], "demand": [1.5, 2], "lon": [44.0, 500.0], "lat": [33.0, 33.0]}
    )
    before = table.copy(deep=True)
    with pytest.raises(es.InputError):
        es.read_polling_centers(table)
    pd.testing.assert_frame_equal(table, before)


def test_caller_dict_unchanged_when_validation_fails() -> None:
    features = make_layer(CENTERS).to_geo_dict()
    features["features"][0]["properties"]["demand"] = "many"
    before = copy.deepcopy(features)
    with pytest.raises(es.InputError):
        es.read_polling_centers(features)
    assert features == before


# -- sources that cannot be read -----------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(es.InputError, match="not found"):
        es.read_polling_centers(tmp_path / "nowhere.geojson")


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.geojson"
    path.write_text("{ this is not json")
    with pytest.raises(es.InputError, match="cannot read"):
        es.read_polling_centers(path)


@pytest.mark.parametrize(
    "source",
    [[(44.0, 33.0)], 42, None],
    ids=["list", "int", "None"],
)
def test_unsupported_source_type(source: object) -> None:
    with pytest.raises(es.InputError, match="cannot read"):
        es.read_polling_centers(source)  # type: ignore[arg-type]


def test_dict_that_is_not_a_feature_collection() -> None:
    with pytest.raises(es.InputError, match="FeatureCollection"):
        es.read_polling_centers({"type": "Feature", "geometry": None, "properties": {}})


def test_table_without_coordinates() -> None:
    table = pd.DataFrame({"center_id": ["A"], "demand": [1], "place": ["Baghdad"]})
    with pytest.raises(es.InputError, match="lon/lat"):
        es.read_polling_centers(table)


# -- the shipped sample files --------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_name", "kind", "rows", "prefix"),
    [
        ("centers.geojson", CENTERS, 8703, "PC"),
        ("garrisons.geojson", GARRISONS, 500, "G"),
        ("tiny_centers.geojson", CENTERS, 40, "TC"),
        ("tiny_garrisons.geojson", GARRISONS, 6, "TG"),
    ],
)
def test_sample_files_load(
    repo_root: Path, file_name: str, kind: Kind, rows: int, prefix: str
) -> None:
    out = kind.read(repo_root / "data" / "sample" / file_name)
    assert len(out) == rows
    assert out.index.name == kind.id_col
    assert out.index.is_unique
    assert all(label.startswith(prefix) for label in out.index)
    assert out[kind.value_col].dtype == np.int64
    assert (out[kind.value_col] > 0).all()
    assert (out.geom_type == "Point").all()
    assert out.crs.equals(pyproj.CRS("EPSG:4326"), ignore_axis_order=True)
    assert out.geometry.x.between(38, 49).all()
    assert out.geometry.y.between(29, 38).all()
    assert {"name", "governorate"} <= set(out.columns)


def test_tiny_sample_totals(repo_root: Path) -> None:
    sample = repo_root / "data" / "sample"
    centers = es.read_polling_centers(sample / "tiny_centers.geojson")
    garrisons = es.read_garrisons(sample / "tiny_garrisons.geojson")
    assert int(centers["demand"].sum()) == 88
    assert int(garrisons["capacity"].sum()) == 114
