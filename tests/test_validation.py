"""Bad input gets one typed error naming every offending row, and nothing is mutated.

Each test builds a valid layer, breaks it in one way and checks that the reader raises
:class:`electsec.InputError` (also a ``ValueError``) whose ``issues`` and message name the
offending ids, and that the caller's frame is exactly as it was.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon

import electsec as es

UTM = "EPSG:32638"  # UTM zone 38N: Iraq lies inside its area of use


@dataclass(frozen=True)
class Kind:
    """One layer type: its reader, table name and default column names."""

    table: str
    read: Callable[..., gpd.GeoDataFrame]
    id_col: str
    value_col: str


CENTERS = Kind("centers", es.read_polling_centers, "center_id", "demand")
GARRISONS = Kind("garrisons", es.read_garrisons, "garrison_id", "capacity")
KINDS = [pytest.param(CENTERS, id="centers"), pytest.param(GARRISONS, id="garrisons")]


def make_layer(kind: Kind = CENTERS, crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    """A valid layer of four sites around Baghdad with ids A..D."""
    frame = gpd.GeoDataFrame(
        {kind.id_col: ["A", "B", "C", "D"], kind.value_col: [1, 2, 3, 4], "name": list("wxyz")},
        geometry=gpd.points_from_xy([44.36, 44.42, 44.45, 43.99], [33.31, 33.35, 32.48, 33.10]),
        crs="EPSG:4326",
    )
    return frame.to_crs(crs)


def rejected(
    frame: gpd.GeoDataFrame | pd.DataFrame,
    *,
    kind: Kind = CENTERS,
    column: str | None,
    ids: tuple[str, ...] = (),
    text: str = "",
    **kwargs: Any,
) -> es.InputError:
    """Read ``frame``, expect an InputError and check it; return the error.

    One issue must be about ``kind.table``/``column``, name every id of ``ids`` (which
    must also appear in the message) and contain ``text``. The frame must be unchanged.
    """
    before = frame.copy(deep=True)
    with pytest.raises(es.InputError) as info:
        kind.read(frame, **kwargs)
    err = info.value
    assert isinstance(err, ValueError)
    assert isinstance(err, es.ElectsecError)
    matching = [
        issue
        for issue in err.issues
        if issue.table == kind.table and issue.column == column and text in issue.message
    ]
    assert matching, f"no {kind.table}.{column} issue containing {text!r} in {err}"
    assert any(set(ids) <= set(issue.ids) for issue in matching), err.issues
    for label in ids:
        assert label in str(err)
    assert_unchanged(frame, before)
    return err


def assert_unchanged(frame: gpd.GeoDataFrame | pd.DataFrame, before: pd.DataFrame) -> None:
    """``frame`` equals its deep copy ``before``, geometry compared bit for bit."""
    if not isinstance(frame, gpd.GeoDataFrame):
        pd.testing.assert_frame_equal(frame, before)
        return
    assert frame.crs == before.crs
    assert frame.geometry.name == before.geometry.name
    # As WKB, so that POINT (44 NaN) equals itself (geopandas' own assert says it does not).
    wkb = {"geometry": lambda f: shapely.to_wkb(f.geometry.to_numpy())}
    pd.testing.assert_frame_equal(
        pd.DataFrame(frame).assign(**wkb), pd.DataFrame(before).assign(**wkb)
    )


# -- ids -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_duplicate_ids(kind: Kind) -> None:
    frame = make_layer(kind)
    frame[kind.id_col] = ["A", "B", "A", "B"]
    err = rejected(frame, kind=kind, column=kind.id_col, ids=("A", "B"), text="unique")
    assert len(err.issues) == 1


def test_duplicate_numeric_ids_after_normalisation() -> None:
    frame = make_layer()
    frame["center_id"] = [1, 2, 3.0, 3]  # 3.0 and 3 are both the id "3"
    rejected(frame, column="center_id", ids=("3",), text="unique")


@pytest.mark.parametrize("missing", [None, np.nan], ids=["None", "nan"])
def test_null_id(missing: object) -> None:
    frame = make_layer()
    frame["center_id"] = pd.Series(["A", missing, "C", "D"], dtype=object)
    rejected(frame, column="center_id", ids=("row 1",), text="empty")


def test_missing_id_column() -> None:
    frame = make_layer().drop(columns="center_id")
    rejected(frame, column="center_id", text="missing")


def test_id_col_argument_names_the_column() -> None:
    frame = make_layer()
    rejected(frame, column="code", text="id_col", id_col="code")


# -- geometry --------------------------------------------------------------------------


def test_missing_geometry() -> None:
    frame = make_layer()
    frame.loc[1, "geometry"] = None
    rejected(frame, column="geometry", ids=("B",), text="missing")


def test_empty_point() -> None:
    frame = make_layer()
    frame.loc[2, "geometry"] = Point()
    rejected(frame, column="geometry", ids=("C",), text="empty")


@pytest.mark.parametrize(
    "shape",
    [
        LineString([(44.0, 33.0), (44.1, 33.1)]),
        Polygon([(44.0, 33.0), (44.1, 33.0), (44.1, 33.1)]),
    ],
    ids=["LineString", "Polygon"],
)
def test_non_point_geometry(shape: object) -> None:
    frame = make_layer()
    frame.loc[3, "geometry"] = shape
    rejected(frame, column="geometry", ids=("D",), text="Point")


@pytest.mark.parametrize(
    "xy",
    [(np.nan, 33.0), (44.0, np.nan), (np.nan, np.nan), (np.inf, 33.0), (44.0, -np.inf)],
    ids=["nan-x", "nan-y", "nan-xy", "inf-x", "-inf-y"],
)
@pytest.mark.parametrize("crs", ["EPSG:4326", UTM])
def test_non_finite_coordinates(xy: tuple[float, float], crs: str) -> None:
    frame = make_layer(crs=crs)
    frame.loc[0, "geometry"] = Point(*xy)
    err = rejected(frame, column="geometry", ids=("A",), text="finite")
    assert len(err.issues) == 1


@pytest.mark.parametrize(
    "xy",
    [(181.0, 33.0), (-180.5, 33.0), (44.0, 90.5), (44.0, -91.0), (4.4e5, 3.7e6)],
    ids=["lon>180", "lon<-180", "lat>90", "lat<-90", "metres"],
)
def test_lonlat_out_of_range(xy: tuple[float, float]) -> None:
    frame = make_layer()
    frame.loc[1, "geometry"] = Point(*xy)
    rejected(frame, column="geometry", ids=("B",), text="-180..180")


def test_degrees_in_a_projected_crs() -> None:
    frame = make_layer().set_crs(UTM, allow_override=True)  # lon/lat labelled as metres
    err = rejected(frame, column="geometry", text="degrees")
    assert "EPSG:4326" in str(err)


def test_coordinates_far_outside_the_projected_crs_area() -> None:
    frame = make_layer(crs=UTM)
    frame.loc[2, "geometry"] = Point(-4.0e6, 9.0e6)  # nowhere near zone 38N
    rejected(frame, column="geometry", ids=("C",), text="area")


def test_missing_crs() -> None:
    frame = make_layer().set_crs(None, allow_override=True)
    rejected(frame, column="geometry", text="no CRS")


def test_missing_crs_is_fixed_by_the_crs_argument() -> None:
    frame = make_layer().set_crs(None, allow_override=True)
    before = frame.copy(deep=True)
    out = es.read_polling_centers(frame, crs="EPSG:4326")
    assert out.crs == "EPSG:4326"
    assert_unchanged(frame, before)


def test_conflicting_crs_argument() -> None:
    frame = make_layer()
    err = rejected(frame, column="geometry", text="was passed", crs=UTM)
    assert "EPSG:4326" in str(err)
    assert UTM in str(err)


@pytest.mark.parametrize("hint", ["EPSG:4326", "OGC:CRS84", "WGS84"])
def test_crs_argument_equal_to_the_layer_crs_is_accepted(hint: str) -> None:
    # geopandas keeps x/y = lon/lat whatever the CRS's axis order, so these are the same.
    out = es.read_polling_centers(make_layer(), crs=hint)
    assert out.crs == "EPSG:4326"


# -- team counts -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_missing_value_column(kind: Kind) -> None:
    frame = make_layer(kind).drop(columns=kind.value_col)
    rejected(frame, kind=kind, column=kind.value_col, text="missing")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("bad", "text"),
    [
        (np.nan, "NaN"),
        (None, "NaN"),
        (-1, "negative"),
        (1.5, "whole number"),
        ("abc", "not a number"),
        (np.inf, "finite"),
    ],
    ids=["nan", "None", "negative", "fraction", "text", "inf"],
)
def test_bad_value(kind: Kind, bad: object, text: str) -> None:
    frame = make_layer(kind)
    frame[kind.value_col] = pd.Series([1, bad, 3, bad], dtype=object)
    rejected(frame, kind=kind, column=kind.value_col, ids=("B", "D"), text=text)


@pytest.mark.parametrize("kind", KINDS)
def test_nullable_integer_with_missing_value(kind: Kind) -> None:
    frame = make_layer(kind)
    frame[kind.value_col] = pd.array([1, None, 3, 4], dtype="Int64")
    rejected(frame, kind=kind, column=kind.value_col, ids=("B",), text="NaN")


@pytest.mark.parametrize("kind", KINDS)
def test_boolean_value_column(kind: Kind) -> None:
    frame = make_layer(kind)
    frame[kind.value_col] = [True, False, True, True]
    rejected(frame, kind=kind, column=kind.value_col, text="True/False")


def test_value_col_argument_names_the_column() -> None:
    frame = make_layer(GARRISONS)
    rejected(frame, kind=GARRISONS, column="teams", text="capacity_col", capacity_col="teams")


def test_every_offending_id_is_listed() -> None:
    n = 12
    frame = gpd.GeoDataFrame(
        {"center_id": [f"PC{i:02d}" for i in range(n)], "demand": [-1] * n},
        geometry=gpd.points_from_xy(np.linspace(44, 45, n), np.full(n, 33.0)),
        crs="EPSG:4326",
    )
    err = rejected(frame, column="demand", ids=("PC00", "PC04"), text="negative")
    assert err.issues[0].ids == tuple(frame["center_id"])
    assert f"and {n - 5} more" in str(err)


# -- whole layers ----------------------------------------------------------------------


def test_no_garrisons() -> None:
    frame = gpd.GeoDataFrame(
        {
            "garrison_id": pd.Series([], dtype=object),
            "capacity": pd.Series([], dtype=np.int64),
        },
        geometry=gpd.GeoSeries([], crs="EPSG:4326"),
    )
    rejected(frame, kind=GARRISONS, column=None, text="no rows")


def test_empty_feature_collection_of_garrisons() -> None:
    with pytest.raises(es.InputError) as info:
        es.read_garrisons({"type": "FeatureCollection", "features": []})
    assert all(issue.table == "garrisons" for issue in info.value.issues)


def test_several_problems_are_reported_in_one_error() -> None:
    frame = make_layer()
    frame.loc[2, "center_id"] = "A"  # duplicate id
    frame.loc[1, "demand"] = -2  # negative demand
    frame.loc[3, "geometry"] = None  # missing geometry
    err = rejected(frame, column="center_id", ids=("A",), text="unique")
    assert len(err.issues) == 3
    found = {(issue.column, issue.ids) for issue in err.issues}
    assert found == {("center_id", ("A",)), ("demand", ("B",)), ("geometry", ("D",))}
    assert str(err).startswith("3 problem(s)")


def test_error_is_json_ready() -> None:
    frame = make_layer()
    frame["demand"] = [1, -1, 2.5, 3]
    err = rejected(frame, column="demand", ids=("B",), text="negative")
    data = json.loads(json.dumps(err.to_dict()))
    assert data["error"] == "InputError"
    found = [(i["table"], i["column"], i["ids"]) for i in data["issues"]]
    assert found == [("centers", "demand", ["B"]), ("centers", "demand", ["C"])]
    assert all(isinstance(i["message"], str) for i in data["issues"])


# -- arguments of solve_assignment -------------------------------------------------------


@pytest.fixture
def tiny_layers() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Two valid layers: four centres, two garrisons with room for all."""
    centers = make_layer(CENTERS)
    garrisons = make_layer(GARRISONS).iloc[:2].assign(capacity=[10, 10])
    return centers, garrisons


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("time_limit_s", 0),
        ("time_limit_s", -1),
        ("time_limit_s", math.nan),
        ("time_limit_s", math.inf),
        ("time_limit_s", "10"),
        ("split", "yes"),
        ("split", 1),
        ("seed", "a"),
        ("seed", 1.5),
        ("objective", "fastest"),
        ("k", 0),
        ("k", -2),
        ("k", 2.5),
        ("max_distance_m", -5),
        ("max_distance_m", math.nan),
        ("max_distance_m", "far"),
    ],
)
def test_bad_solve_argument(
    tiny_layers: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame], argument: str, value: object
) -> None:
    centers, garrisons = tiny_layers
    with pytest.raises(es.InputError) as info:
        es.solve_assignment(centers, garrisons, **{argument: value})
    err = info.value
    assert isinstance(err, ValueError)
    assert [issue.column for issue in err.issues] == [argument]
    assert err.issues[0].table == "arguments"
    assert argument in str(err)


def test_solve_assignment_validates_raw_layers(
    tiny_layers: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame],
) -> None:
    centers, garrisons = tiny_layers
    centers.loc[0, "demand"] = -1
    before = centers.copy(deep=True)
    with pytest.raises(es.InputError) as info:
        es.solve_assignment(centers, garrisons)
    assert info.value.issues[0].ids == ("A",)
    assert_unchanged(centers, before)


def test_solve_assignment_reports_every_problem_at_once(
    tiny_layers: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame],
) -> None:
    centers, garrisons = tiny_layers
    centers.loc[0, "demand"] = -1
    garrisons.loc[1, "capacity"] = -1
    with pytest.raises(es.InputError) as info:
        es.solve_assignment(centers, garrisons, split="yes", k=0)
    columns = {issue.column for issue in info.value.issues}
    assert columns == {"split", "k", "demand", "capacity"}
