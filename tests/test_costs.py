"""Distance matrices: exact values, and sparse queries that never miss a pair.

Every sparse result (``k`` nearest, within ``max_distance_m``, or both) is compared with a
brute-force filter of the dense matrix computed here independently (pyproj for geodesics,
numpy for straight lines).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import electsec as es
from electsec.oracle import ArcOracle

GEOD = pyproj.Geod(ellps="WGS84")
UTM = "EPSG:32638"  # UTM zone 38N (42°E–48°E)

Layers = tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]
Pairs = set[tuple[int, int]]


# -- building layers and the brute-force reference ------------------------------------


def random_lonlat(rng: np.random.Generator, n: int, region: str) -> np.ndarray:
    """``n`` random lon/lat points in a named region."""
    if region == "global":
        lon = rng.uniform(-180, 180, n)
        lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))  # uniform on the sphere
    elif region == "antimeridian":  # both sides of ±180°
        lon = (rng.uniform(178, 182, n) + 180) % 360 - 180
        lat = rng.uniform(-20, 20, n)
    elif region == "poles":
        lon = rng.uniform(-180, 180, n)
        lat = rng.choice([-1, 1], n) * rng.uniform(88.5, 90, n)
    elif region == "iraq":
        lon = rng.uniform(42.5, 47.5, n)
        lat = rng.uniform(29.5, 37, n)
    else:
        raise ValueError(region)
    return np.column_stack([lon, lat])


def make_layers(
    center_lonlat: np.ndarray, garrison_lonlat: np.ndarray, *, crs: str = "EPSG:4326"
) -> Layers:
    """Validated layers from lon/lat arrays, reprojected to ``crs``."""
    n, m = len(center_lonlat), len(garrison_lonlat)
    centers = gpd.GeoDataFrame(
        {"center_id": [f"C{i}" for i in range(n)], "demand": np.ones(n, dtype=int)},
        geometry=gpd.points_from_xy(center_lonlat[:, 0], center_lonlat[:, 1]),
        crs="EPSG:4326",
    ).to_crs(crs)
    garrisons = gpd.GeoDataFrame(
        {"garrison_id": [f"G{j}" for j in range(m)], "capacity": np.ones(m, dtype=int)},
        geometry=gpd.points_from_xy(garrison_lonlat[:, 0], garrison_lonlat[:, 1]),
        crs="EPSG:4326",
    ).to_crs(crs)
    return es.read_polling_centers(centers), es.read_garrisons(garrisons)


def brute_dense(centers: gpd.GeoDataFrame, garrisons: gpd.GeoDataFrame, metric: str) -> Any:
    """The full n × m cost matrix, computed without electsec."""
    n, m = len(centers), len(garrisons)
    if metric == "geodesic":
        a = centers.geometry.to_crs("EPSG:4326")
        b = garrisons.geometry.to_crs("EPSG:4326")
        ax, ay = np.repeat(a.x.to_numpy(), m), np.repeat(a.y.to_numpy(), m)
        bx, by = np.tile(b.x.to_numpy(), n), np.tile(b.y.to_numpy(), n)
        _, _, dist = GEOD.inv(ax, ay, bx, by)
        return np.asarray(dist).reshape(n, m)
    b = garrisons.geometry.to_crs(centers.crs)
    dx = centers.geometry.x.to_numpy()[:, None] - b.x.to_numpy()[None, :]
    dy = centers.geometry.y.to_numpy()[:, None] - b.y.to_numpy()[None, :]
    return np.hypot(dx, dy)


def brute_dense_lonlat(
    centers: list[tuple[float, float]], garrisons: list[tuple[float, float]]
) -> np.ndarray:
    a, b = np.array(centers), np.array(garrisons)
    n, m = len(a), len(b)
    _, _, dist = GEOD.inv(
        np.repeat(a[:, 0], m), np.repeat(a[:, 1], m), np.tile(b[:, 0], n), np.tile(b[:, 1], n)
    )
    return np.asarray(dist).reshape(n, m)


def brute_pairs(dense: np.ndarray, *, k: int | None = None, limit: float | None = None) -> Pairs:
    """Pairs kept by a brute-force filter: the ``k`` nearest (ties by garrison order)
    among those at most ``limit`` away."""
    pairs: Pairs = set()
    columns = np.arange(dense.shape[1])
    for i, row in enumerate(dense):
        order = np.lexsort((columns, row))
        if limit is not None:
            order = order[row[order] <= limit]
        if k is not None:
            order = order[:k]
        pairs |= {(i, int(j)) for j in order}
    return pairs


def stored_pairs(costs: es.CostMatrix) -> Pairs:
    coo = costs.matrix.tocoo()
    return set(zip(coo.row.tolist(), coo.col.tolist(), strict=True))


def assert_costs_match(costs: es.CostMatrix, dense: np.ndarray) -> None:
    """Every stored cost equals the brute-force cost of its pair."""
    coo = costs.matrix.tocoo()
    np.testing.assert_allclose(coo.data, dense[coo.row, coo.col], rtol=1e-9, atol=1e-6)


# Geodesic point sets in several regions, and euclidean ones in a projected CRS.
SCENARIOS = [
    pytest.param(("geodesic", "global", "EPSG:4326", 11), id="geodesic-global"),
    pytest.param(("geodesic", "antimeridian", "EPSG:4326", 12), id="geodesic-antimeridian"),
    pytest.param(("geodesic", "poles", "EPSG:4326", 13), id="geodesic-poles"),
    pytest.param(("geodesic", "iraq", UTM, 14), id="geodesic-utm-input"),
    pytest.param(("euclidean", "iraq", UTM, 15), id="euclidean-utm"),
]


@pytest.fixture
def scenario(request: pytest.FixtureRequest) -> tuple[str, Layers, np.ndarray]:
    """(metric, layers, brute-force dense matrix) for one entry of SCENARIOS."""
    metric, region, crs, seed = request.param
    rng = np.random.default_rng(seed)
    layers = make_layers(random_lonlat(rng, 40, region), random_lonlat(rng, 25, region), crs=crs)
    return metric, layers, brute_dense(*layers, metric)


# -- dense -----------------------------------------------------------------------------


def test_geodesic_values_equal_pyproj() -> None:
    rng = np.random.default_rng(1)
    a, b = random_lonlat(rng, 30, "global"), random_lonlat(rng, 20, "global")
    centers, garrisons = make_layers(a, b)
    got = es.distance_matrix(centers, garrisons).matrix.toarray()
    for i, j in zip(rng.integers(0, 30, 200), rng.integers(0, 20, 200), strict=True):
        _, _, expected = GEOD.inv(a[i, 0], a[i, 1], b[j, 0], b[j, 1])
        np.testing.assert_allclose(got[i, j], expected, rtol=1e-9)


@pytest.mark.parametrize("scenario", SCENARIOS, indirect=True)
def test_dense_lists_every_pair(scenario: tuple[str, Layers, np.ndarray]) -> None:
    metric, (centers, garrisons), dense = scenario
    costs = es.distance_matrix(centers, garrisons, metric=metric)
    assert costs.matrix.shape == (len(centers), len(garrisons))
    assert costs.nnz == len(centers) * len(garrisons)
    np.testing.assert_allclose(costs.matrix.toarray(), dense, rtol=1e-9, atol=1e-6)
    assert costs.metric == metric
    assert costs.unit == "m"


def test_euclidean_equals_numpy_hypot() -> None:
    rng = np.random.default_rng(2)
    centers, garrisons = make_layers(
        random_lonlat(rng, 15, "iraq"), random_lonlat(rng, 10, "iraq"), crs=UTM
    )
    got = es.distance_matrix(centers, garrisons, metric="euclidean").matrix.toarray()
    cx, cy = centers.geometry.x.to_numpy(), centers.geometry.y.to_numpy()
    gx, gy = garrisons.geometry.x.to_numpy(), garrisons.geometry.y.to_numpy()
    expected = np.hypot(cx[:, None] - gx[None, :], cy[:, None] - gy[None, :])
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("crs", ["EPSG:4326", "OGC:CRS84"])
def test_euclidean_on_lonlat_is_refused(crs: str) -> None:
    rng = np.random.default_rng(3)
    centers, garrisons = make_layers(random_lonlat(rng, 3, "iraq"), random_lonlat(rng, 2, "iraq"))
    centers = centers.set_crs(crs, allow_override=True)
    garrisons = garrisons.set_crs(crs, allow_override=True)
    with pytest.raises(es.InputError, match="projected"):
        es.distance_matrix(centers, garrisons, metric="euclidean")


@pytest.mark.parametrize("metric", ["geodesic", "euclidean"])
def test_layers_in_different_crs(metric: str) -> None:
    rng = np.random.default_rng(4)
    a, b = random_lonlat(rng, 12, "iraq"), random_lonlat(rng, 8, "iraq")
    common = "EPSG:4326" if metric == "geodesic" else UTM
    reference = es.distance_matrix(*make_layers(a, b, crs=common), metric=metric)
    centers_utm, _ = make_layers(a, b, crs=UTM)
    _, garrisons_lonlat = make_layers(a, b, crs="EPSG:4326")
    mixed = es.distance_matrix(centers_utm, garrisons_lonlat, metric=metric)
    np.testing.assert_allclose(
        mixed.matrix.toarray(), reference.matrix.toarray(), rtol=1e-9, atol=1e-4
    )


# -- sparse queries against brute force -------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS, indirect=True)
@pytest.mark.parametrize("k", [1, 3, 25, 40])
def test_k_nearest_matches_brute_force(scenario: tuple[str, Layers, np.ndarray], k: int) -> None:
    metric, (centers, garrisons), dense = scenario
    costs = es.distance_matrix(centers, garrisons, metric=metric, k=k)
    assert costs.nnz == len(centers) * min(k, len(garrisons))
    assert stored_pairs(costs) == brute_pairs(dense, k=k)
    assert_costs_match(costs, dense)


@pytest.mark.parametrize("scenario", SCENARIOS, indirect=True)
def test_max_distance_matches_brute_force(scenario: tuple[str, Layers, np.ndarray]) -> None:
    metric, (centers, garrisons), dense = scenario
    # Exact entries of the dense matrix, so that a pair lies right on each limit, and
    # limits between entries.
    on_pairs = np.sort(dense.ravel())[::25]
    limits = [*on_pairs, *(on_pairs * 0.999), 0.0, float(dense.max()), float(dense.max()) * 2]
    for limit in map(float, limits):
        costs = es.distance_matrix(centers, garrisons, metric=metric, max_distance_m=limit)
        assert stored_pairs(costs) == brute_pairs(dense, limit=limit), limit
        assert costs.nnz == int((dense <= limit).sum())
        assert_costs_match(costs, dense)


@pytest.mark.parametrize("scenario", SCENARIOS, indirect=True)
@pytest.mark.parametrize(("k", "quantile"), [(1, 0.02), (3, 0.1), (3, 0.5), (10, 0.2)])
def test_k_and_max_distance_combined(
    scenario: tuple[str, Layers, np.ndarray], k: int, quantile: float
) -> None:
    metric, (centers, garrisons), dense = scenario
    limit = float(np.quantile(dense, quantile, method="nearest"))
    costs = es.distance_matrix(centers, garrisons, metric=metric, k=k, max_distance_m=limit)
    assert stored_pairs(costs) == brute_pairs(dense, k=k, limit=limit)
    assert_costs_match(costs, dense)


@pytest.mark.parametrize("metric", ["geodesic", "euclidean"])
@pytest.mark.parametrize(
    ("limits", "nnz"),
    [({}, 2), ({"k": 1}, 1), ({"max_distance_m": 0.0}, 1), ({"k": 2, "max_distance_m": 0.0}, 1)],
    ids=["dense", "k", "max", "k+max"],
)
def test_zero_distance_is_an_explicit_stored_zero(
    metric: str, limits: dict[str, Any], nnz: int
) -> None:
    garrison_at_center = np.array([[44.40, 33.30], [44.90, 33.80]])
    crs = "EPSG:4326" if metric == "geodesic" else UTM
    centers, garrisons = make_layers(garrison_at_center[:1], garrison_at_center, crs=crs)
    costs = es.distance_matrix(centers, garrisons, metric=metric, **limits)
    assert costs.nnz == nnz
    assert costs.matrix.has_canonical_format
    coo = costs.matrix.tocoo()
    assert (0, 0) in set(zip(coo.row.tolist(), coo.col.tolist(), strict=True))
    assert costs.matrix[0, 0] == 0.0
    frame = costs.to_frame()
    zero = frame[(frame["center_id"] == "C0") & (frame["garrison_id"] == "G0")]
    assert zero["distance_m"].tolist() == [0.0]


# -- the CostMatrix object -------------------------------------------------------------


def test_to_frame() -> None:
    rng = np.random.default_rng(5)
    centers, garrisons = make_layers(random_lonlat(rng, 6, "iraq"), random_lonlat(rng, 4, "iraq"))
    costs = es.distance_matrix(centers, garrisons, k=2)
    frame = costs.to_frame()
    assert list(frame.columns) == ["center_id", "garrison_id", "distance_m"]
    assert len(frame) == costs.nnz == 12
    assert set(frame["center_id"]) == set(centers.index)
    assert set(frame["garrison_id"]) <= set(garrisons.index)
    assert frame["distance_m"].dtype == np.float64
    dense = brute_dense(centers, garrisons, "geodesic")
    rows = centers.index.get_indexer(frame["center_id"])
    cols = garrisons.index.get_indexer(frame["garrison_id"])
    np.testing.assert_allclose(frame["distance_m"], dense[rows, cols], rtol=1e-9)
    assert costs.cost_column == "distance_m"
    pd.testing.assert_index_equal(costs.center_ids, centers.index)
    pd.testing.assert_index_equal(costs.garrison_ids, garrisons.index)
    assert "12 arcs" in repr(costs)


def test_raw_geodataframes_are_validated() -> None:
    rng = np.random.default_rng(6)
    centers, garrisons = make_layers(random_lonlat(rng, 5, "iraq"), random_lonlat(rng, 3, "iraq"))
    raw_centers = centers.reset_index()
    raw_garrisons = garrisons.reset_index().assign(capacity=lambda f: f["capacity"] * 1.0)
    got = es.distance_matrix(raw_centers, raw_garrisons, k=2)
    expected = es.distance_matrix(centers, garrisons, k=2)
    assert stored_pairs(got) == stored_pairs(expected)
    raw_centers.loc[0, "demand"] = -1
    with pytest.raises(es.InputError, match="negative"):
        es.distance_matrix(raw_centers, raw_garrisons)


@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        ({"k": 0}, "k"),
        ({"k": -3}, "k"),
        ({"k": 2.5}, "k"),
        ({"k": True}, "k"),
        ({"max_distance_m": -5}, "max_distance_m"),
        ({"max_distance_m": float("nan")}, "max_distance_m"),
        ({"max_distance_m": float("inf")}, "max_distance_m"),
        ({"max_distance_m": "10"}, "max_distance_m"),
        ({"max_distance_m": "far"}, "max_distance_m"),
        ({"metric": "manhattan"}, "metric"),
    ],
)
def test_bad_arguments(arguments: dict[str, Any], name: str) -> None:
    rng = np.random.default_rng(7)
    centers, garrisons = make_layers(random_lonlat(rng, 3, "iraq"), random_lonlat(rng, 2, "iraq"))
    with pytest.raises(es.InputError) as info:
        es.distance_matrix(centers, garrisons, **arguments)
    assert [issue.column for issue in info.value.issues] == [name]
    assert name in str(info.value)


# -- property: sparse queries equal brute force for any small point set ----------------

LONS = st.one_of(
    st.floats(-180, 180),
    st.sampled_from([-180.0, 180.0, 179.9999, -179.9999, 0.0]),
)
LATS = st.one_of(
    st.floats(-90, 90),
    st.sampled_from([-90.0, 90.0, 89.9999, -89.9999, 0.0]),
)
LONLAT_POINTS = st.lists(st.tuples(LONS, LATS), min_size=1, max_size=8)
# Projected metres (UTM 38N): arbitrary, or on a coarse grid so that ties and coincident
# points occur.
XY_POINTS = st.lists(
    st.one_of(
        st.tuples(st.floats(300_000, 700_000), st.floats(3_300_000, 4_100_000)),
        st.tuples(st.integers(0, 40), st.integers(0, 40)).map(
            lambda p: (400_000.0 + 250.0 * p[0], 3_700_000.0 + 250.0 * p[1])
        ),
    ),
    min_size=1,
    max_size=8,
)
PROPERTY_SETTINGS = settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def oracle_dense(oracle: ArcOracle) -> np.ndarray:
    rows, cols, cost = oracle.all_pairs()
    dense = np.full((len(oracle.center_xy), oracle.n_garrisons), np.nan)
    dense[rows, cols] = cost
    return dense


def check_oracle(oracle: ArcOracle, dense: np.ndarray, k: int, radius: float) -> None:
    """``within`` and ``nearest`` return exactly the brute-force pairs and costs."""
    for (rows, cols, cost), expected in [
        (oracle.within(radius), brute_pairs(dense, limit=radius)),
        (oracle.nearest(k), brute_pairs(dense, k=k)),
        (oracle.nearest(k, max_cost=radius), brute_pairs(dense, k=k, limit=radius)),
    ]:
        got = list(zip(rows.tolist(), cols.tolist(), strict=True))
        assert len(got) == len(set(got))  # no pair twice
        assert set(got) == expected
        np.testing.assert_allclose(cost, dense[rows, cols], rtol=1e-12, atol=0)
    check_reach(oracle, dense, k, radius)


def check_reach(oracle: ArcOracle, dense: np.ndarray, k: int, radius: float) -> None:
    """Every pair (within ``max_cost``) cheaper than a centre's ``reach`` is a candidate."""
    for limit in (None, radius):
        rows, cols, cost, reach = oracle.candidates(k, max_cost=limit)
        np.testing.assert_allclose(cost, dense[rows, cols], rtol=1e-12, atol=0)
        got = set(zip(rows.tolist(), cols.tolist(), strict=True))
        cap = np.inf if limit is None else limit
        i, j = np.nonzero((dense < reach[:, None]) & (dense <= cap))
        assert set(zip(i.tolist(), j.tolist(), strict=True)) <= got
        if k < dense.shape[1]:  # a lower bound on the k-th cost; else every pair is listed
            assert (reach <= np.sort(dense, axis=1)[:, k - 1]).all()
        else:
            assert np.isinf(reach).all()


@PROPERTY_SETTINGS
@given(
    centers=LONLAT_POINTS,
    garrisons=LONLAT_POINTS,
    k=st.integers(1, 9),
    pick=st.integers(0, 10**6),
    scale=st.floats(0.0, 1.5),
)
def test_geodesic_oracle_never_misses_a_pair(
    centers: list[tuple[float, float]],
    garrisons: list[tuple[float, float]],
    k: int,
    pick: int,
    scale: float,
) -> None:
    oracle = ArcOracle(np.array(centers), np.array(garrisons), metric="geodesic")
    dense = oracle_dense(oracle)
    np.testing.assert_allclose(dense, brute_dense_lonlat(centers, garrisons), rtol=1e-12)
    on_a_pair = float(dense.ravel()[pick % dense.size])
    for radius in (on_a_pair, on_a_pair * scale):
        check_oracle(oracle, dense, k, radius)


@PROPERTY_SETTINGS
@given(
    centers=XY_POINTS,
    garrisons=XY_POINTS,
    k=st.integers(1, 9),
    pick=st.integers(0, 10**6),
    scale=st.floats(0.0, 1.5),
)
def test_euclidean_oracle_never_misses_a_pair(
    centers: list[tuple[float, float]],
    garrisons: list[tuple[float, float]],
    k: int,
    pick: int,
    scale: float,
) -> None:
    c, g = np.array(centers), np.array(garrisons)
    oracle = ArcOracle(c, g, metric="euclidean")
    dense = oracle_dense(oracle)
    expected = np.hypot(c[:, None, 0] - g[None, :, 0], c[:, None, 1] - g[None, :, 1])
    np.testing.assert_allclose(dense, expected, rtol=1e-12)
    on_a_pair = float(dense.ravel()[pick % dense.size])
    for radius in (on_a_pair, on_a_pair * scale):
        check_oracle(oracle, dense, k, radius)


@PROPERTY_SETTINGS
@given(
    metric=st.sampled_from(["geodesic", "euclidean"]),
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 12),
    m=st.integers(1, 12),
    k=st.one_of(st.none(), st.integers(1, 14)),
    quantile=st.one_of(st.none(), st.floats(0.0, 1.0)),
)
def test_distance_matrix_equals_filtered_dense(
    metric: str, seed: int, n: int, m: int, k: int | None, quantile: float | None
) -> None:
    rng = np.random.default_rng(seed)
    crs = "EPSG:4326" if metric == "geodesic" else UTM
    centers, garrisons = make_layers(
        random_lonlat(rng, n, "iraq"), random_lonlat(rng, m, "iraq"), crs=crs
    )
    dense = es.distance_matrix(centers, garrisons, metric=metric)
    reference = dense.matrix.toarray()
    np.testing.assert_allclose(reference, brute_dense(centers, garrisons, metric), rtol=1e-9)
    limit = None if quantile is None else float(np.quantile(reference, quantile, method="nearest"))
    costs = es.distance_matrix(centers, garrisons, metric=metric, k=k, max_distance_m=limit)
    assert stored_pairs(costs) == brute_pairs(reference, k=k, limit=limit)
    assert_costs_match(costs, reference)


@pytest.mark.parametrize("metric", ["geodesic", "euclidean"])
def test_oracle_rows_and_per_row_radius(metric: str) -> None:
    rng = np.random.default_rng(8)
    centers = random_lonlat(rng, 20, "iraq")
    garrisons = random_lonlat(rng, 15, "iraq")
    if metric == "euclidean":
        to_utm = pyproj.Transformer.from_crs("EPSG:4326", UTM, always_xy=True)
        centers = np.column_stack(to_utm.transform(centers[:, 0], centers[:, 1]))
        garrisons = np.column_stack(to_utm.transform(garrisons[:, 0], garrisons[:, 1]))
    keep = np.array([1, 2, 4, 7, 8, 11, 14])  # garrisons in the tree, by problem index
    oracle = ArcOracle(centers, garrisons[keep], metric=metric, garrison_index=keep)
    full = oracle_dense(ArcOracle(centers, garrisons, metric=metric))
    rows = np.array([0, 3, 5, 19])
    radius = full[rows].min(axis=1) * np.array([1.0, 2.0, 3.0, 0.0])
    r, c, cost = oracle.within(radius, rows)
    expected = {
        (int(i), int(j))
        for i, lim in zip(rows, radius, strict=True)
        for j in keep
        if full[i, j] <= lim
    }
    assert set(zip(r.tolist(), c.tolist(), strict=True)) == expected
    np.testing.assert_allclose(cost, full[r, c], rtol=1e-12)
    r, c, _ = oracle.nearest(2, rows)
    assert set(c.tolist()) <= set(keep.tolist())
    for i in rows:
        best = keep[np.lexsort((keep, full[i, keep]))[:2]]
        assert set(c[r == i].tolist()) == set(best.tolist())
