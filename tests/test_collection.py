"""Collection points (warehouses, tally centre, airfields): reading and validation."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

import electsec as es

SAMPLE = "data/sample/collection_points.geojson"


def _layer(**overrides: list[object]) -> gpd.GeoDataFrame:
    data: dict[str, list[object]] = {
        "point_id": ["W1", "W2", "T", "A"],
        "kind": ["warehouse", "warehouse", "tally", "airfield"],
        "governorates": ["Babil", "Baghdad;Diyala", "", "Babil"],
        "opens": ["18:00", "19:30", None, "19:00"],
        "closes": ["08:00", "23:00", None, "07:00"],
        "convoys_per_hour": [30, None, None, None],
        "boxes_capacity": [100, None, None, None],
    }
    data |= overrides
    points = [shapely.Point(44.0 + i / 10, 33.0) for i in range(4)]
    return gpd.GeoDataFrame(data, geometry=points, crs="EPSG:4326")


def test_the_sample_has_a_warehouse_per_governorate_one_tally_and_airfields(repo_root):
    points = es.read_collection_points(repo_root / SAMPLE)
    governorates = gpd.read_file(repo_root / "data/sample/governorates.geojson")["governorate"]
    warehouses = points[points.index.str.startswith("WH-")]
    assert (warehouses["kind"] == "warehouse").all()
    served = sorted(g for row in warehouses["governorates"] for g in row)
    assert served == sorted(governorates)  # one governorate warehouse each
    assert (points["kind"] == "tally").sum() == 1
    assert (points["kind"] == "airfield").sum() >= 3
    assert points.index.is_unique
    pd.testing.assert_frame_equal(es.read_collection_points(points), points)


def test_the_sample_boxes_average_the_iraqi_stations_per_centre(repo_root):
    boxes = pd.read_csv(repo_root / "data/sample/center_boxes.csv", dtype={"center_id": str})
    centers = gpd.read_file(repo_root / "data/sample/centers.geojson")
    general = boxes.set_index("center_id")["boxes"].reindex(centers["center_id"])
    assert general.notna().all()
    assert (general >= 1).all()
    assert 4.3 < general.mean() < 4.7  # 39,285 stations / 8,703 centres = 4.51


def test_hours_and_limits_are_normalised():
    points = es.read_collection_points(_layer())
    assert points.loc["W1", "opens_min"] == 18 * 60
    assert points.loc["W1", "closes_min"] == 24 * 60 + 8 * 60  # next morning
    assert points.loc["W2", "closes_min"] == 23 * 60
    assert (points.loc["T", "opens_min"], points.loc["T", "closes_min"]) == (0, 24 * 60)
    assert points.loc["W2", "governorates"] == ("Baghdad", "Diyala")
    assert points.loc["W1", "convoys_per_hour"] == 30
    assert pd.isna(points.loc["W2", "boxes_capacity"])
    assert points.index.name == "point_id"


def test_every_problem_is_named_with_its_ids():
    bad = _layer(
        kind=["warehouse", "warehous", "tally", "airfield"],
        opens=["25:00", "19:30", None, "x"],
        boxes_capacity=[-3, 2.5, None, None],
        governorates=["Babil", "Baghdad", "", ""],
    )
    with pytest.raises(es.InputError) as info:
        es.read_collection_points(bad)
    found = {(i.column, tuple(i.ids)) for i in info.value.issues}
    assert ("kind", ("W2",)) in found
    assert ("opens", ("W1", "A")) in found
    assert ("boxes_capacity", ("W1", "W2")) in found


def test_the_layer_needs_one_tally_and_served_governorates():
    two = _layer(kind=["warehouse", "tally", "tally", "airfield"])
    with pytest.raises(es.InputError, match="exactly one row of kind 'tally'"):
        es.read_collection_points(two)
    unserved = _layer(governorates=["Babil", "", "", "Babil"])
    with pytest.raises(es.InputError) as info:
        es.read_collection_points(unserved)
    assert [i.ids for i in info.value.issues] == [("W2",)]


def test_the_caller_frame_is_not_mutated():
    layer = _layer()
    before = layer.copy()
    es.read_collection_points(layer)
    pd.testing.assert_frame_equal(layer, before)


def test_the_sample_flies_the_desert_out_by_helicopter(repo_root):
    """Iraq 2025: army helicopters from the desert, the air force from the airports."""
    points = es.read_collection_points(repo_root / SAMPLE)
    centers = gpd.read_file(repo_root / "data/sample/centers.geojson")
    geod = pyproj.Geod(ellps="WGS84")
    fields = points[points["kind"] == "airfield"]
    for governorate in ("Al-Anbar", "Al-Muthanna", "Al-Najaf"):
        mine = points[points["governorates"].map(lambda g, name=governorate: name in g)]
        zones = mine[(mine["kind"] == "airfield") & (mine["slot_min"] == 15)]
        stores = mine[mine["kind"] == "warehouse"]
        assert len(zones) == len(stores) >= 1  # a landing zone at every collection point
        spots = {(round(g.x, 6), round(g.y, 6)) for g in zones.geometry}
        assert spots == {(round(g.x, 6), round(g.y, 6)) for g in stores.geometry}
        # every centre of the governorate within 100 km of one of its collection points
        group = centers[centers["governorate"] == governorate]
        ones = np.ones(len(group))
        nearest = np.min(
            [
                geod.inv(group.geometry.x, group.geometry.y, p.x * ones, p.y * ones)[2]
                for p in stores.geometry
            ],
            axis=0,
        )
        assert nearest.max() <= 100_000
    by_road = {"Babil", "Diyala"}  # near Baghdad: no airfield of their own
    air_force = fields[fields["slot_min"] == 30]
    assert not any(by_road & set(g) for g in air_force["governorates"])
    assert {"Al-Basrah", "Ninewa", "Erbil", "Kirkuk"} <= {g for r in air_force["governorates"]
                                                          for g in r}  # fmt: skip
