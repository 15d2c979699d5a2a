"""Generate a synthetic road network for the sample region: ``data/sample/roads.gpkg``.

**Synthetic.** These are not real roads. Towns are recovered from the sample layers
(``centers.geojson`` names each centre after the town it was scattered around); the
rivers and the ridge are rough hand-drawn traces of the Tigris, the Euphrates and the
Hamrin range, a few vertices each. Everything else is drawn from
``numpy.random.default_rng(seed)``.

The network:

* **Major roads** (``trunk``/``primary``/``secondary``) join the towns: a minimum spanning
  tree plus each town's nearest neighbours, gently bent, with bridges wherever they meet
  a river.
* **Town streets** around each town: a square grid sized to the town's spread of
  centres; every fifth street is a two-way ``tertiary`` avenue and the others are one-way
  ``residential`` streets in alternating directions, inside a two-way ring (so the grid
  stays strongly connected). Major roads end at the town's central junction.
* **Rural roads** (``unclassified``): a coarse grid covering every cell near a centre or
  garrison, so that no sample point is more than half a cell from a road. Where a rural
  road meets a river or the ridge it is dropped, except at bridges/passes about every
  40 km; each town's grid joins the rural grid at its nearest rural junction.

Lines meet only at shared end points (junctions): a road drawn across another without a
shared end point is a bridge or an overpass.

Usage, from the repository root::

    python data/sample/make_roads.py                 # seed 2025 -> data/sample/roads.gpkg
    python data/sample/make_roads.py --street-spacing-m 150 --out /tmp/big_roads.gpkg

``build_roads`` is imported by ``benchmarks/bench_network.py`` to make a denser network.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
from scipy.spatial import cKDTree, distance_matrix

HERE = Path(__file__).resolve().parent
DEFAULT_SEED = 2025
UTM = "EPSG:32638"  # UTM 38N covers Iraq well enough for a synthetic layer
#: Rough traces (lon, lat) of the barriers that rural roads cross only at bridges/passes.
BARRIERS: dict[str, list[tuple[float, float]]] = {
    "Tigris": [
        (42.70, 37.10), (42.95, 36.60), (43.13, 36.34), (43.30, 35.90), (43.45, 35.30),
        (43.75, 34.60), (43.88, 34.20), (44.20, 33.60), (44.38, 33.33), (44.60, 33.10),
        (45.00, 32.70), (45.82, 32.50), (46.50, 31.95), (47.15, 31.84), (47.43, 31.00),
        (47.80, 30.50), (48.50, 29.90),
    ],
    "Euphrates": [
        (41.00, 34.45), (41.90, 34.40), (42.40, 34.10), (43.30, 33.45), (43.80, 33.30),
        (44.10, 32.80), (44.40, 32.50), (44.90, 32.00), (45.30, 31.30), (46.20, 31.00),
        (47.43, 31.00),
    ],
    "Hamrin ridge": [(44.00, 35.00), (44.60, 34.60), (45.10, 34.20), (45.50, 33.90)],
}  # fmt: skip
BRIDGE_EVERY_M = 40_000.0
SPEEDS_KMH = {
    "trunk": 90,
    "primary": 80,
    "secondary": 60,
    "tertiary": 50,
    "unclassified": 40,
    "residential": 30,
}


def load_towns(centers: gpd.GeoDataFrame) -> pd.DataFrame:
    """Towns from the sample centres: name, UTM position, size and spread of centres."""
    name = centers["name"].str.extract(r"^(.*?) (?:rural |special )?centre \d+$")[0]
    urban = ~centers["name"].str.contains(" rural centre ")
    pts = centers.to_crs(UTM).geometry
    frame = pd.DataFrame({"town": name, "x": pts.x, "y": pts.y})[urban.to_numpy()]
    towns = frame.groupby("town").agg(
        x=("x", "median"), y=("y", "median"), n=("x", "size"), sx=("x", "std"), sy=("y", "std")
    )
    towns["spread_m"] = np.sqrt(towns[["sx", "sy"]].fillna(1500).pow(2).mean(axis=1))
    return towns.drop(columns=["sx", "sy"]).sort_index()


def bent_line(
    rng: np.random.Generator, a: np.ndarray, b: np.ndarray, *, piece_m: float
) -> list[shapely.LineString]:
    """Return a gently bent road from ``a`` to ``b``, cut into pieces of about ``piece_m``."""
    length = float(np.hypot(*(b - a)))
    n = max(1, int(np.ceil(length / piece_m)))
    t = np.linspace(0.0, 1.0, n + 1)
    normal = np.array([-(b - a)[1], (b - a)[0]]) / max(length, 1.0)
    bend = rng.normal(0, 0.04) * length * np.sin(np.pi * t)
    pts = a + np.outer(t, b - a) + np.outer(bend, normal)
    pts[0], pts[-1] = a, b
    return [shapely.LineString(pts[i : i + 2]) for i in range(n)]


def major_roads(
    rng: np.random.Generator, towns: pd.DataFrame, *, piece_m: float
) -> list[dict[str, object]]:
    """Roads between towns: spanning tree plus nearest neighbours."""
    xy = towns[["x", "y"]].to_numpy()
    dist = distance_matrix(xy, xy)
    tree = minimum_spanning_tree(dist).tocoo()
    pairs = {(min(i, j), max(i, j)) for i, j in zip(tree.row, tree.col, strict=True)}
    _, near = cKDTree(xy).query(xy, k=min(4, len(xy)))
    for i, row in enumerate(near):
        for j in row[1:]:
            if dist[i, j] < 120_000:
                pairs.add((min(i, int(j)), max(i, int(j))))
    size = towns["n"].to_numpy()
    rows = []
    for i, j in sorted(pairs):
        small = min(size[i], size[j])
        highway = "trunk" if small >= 150 else "primary" if small >= 40 else "secondary"
        rows += [
            {"highway": highway, "oneway": "no", "geometry": line}
            for line in bent_line(rng, xy[i], xy[j], piece_m=piece_m)
        ]
    return rows


def town_streets(
    rng: np.random.Generator, towns: pd.DataFrame, *, spacing_m: float
) -> list[dict[str, object]]:
    """Return a square street grid around each town, centred on its central junction."""
    rows = []
    for _, town in towns.iterrows():
        half = max(1, int(np.ceil(2.5 * town["spread_m"] / spacing_m)))
        ticks = np.arange(-half, half + 1)
        shift = int(rng.integers(0, 5))
        for axis in (0, 1):
            for line_no in ticks:
                avenue = (line_no + shift) % 5 == 0 or abs(line_no) == half  # ring road
                for s in ticks[:-1]:
                    a = np.array([s, line_no] if axis == 0 else [line_no, s], dtype=float)
                    b = a + (np.array([1.0, 0.0]) if axis == 0 else np.array([0.0, 1.0]))
                    if not avenue and line_no % 2:
                        a, b = b, a  # alternate one-way directions
                    p = np.array([town["x"], town["y"]]) + spacing_m * np.vstack([a, b])
                    rows.append(
                        {
                            "highway": "tertiary" if avenue else "residential",
                            "oneway": "no" if avenue else "yes",
                            "geometry": shapely.LineString(p),
                        }
                    )
    return rows


def rural_roads(
    towns: pd.DataFrame,
    points_xy: np.ndarray,
    barriers: list[shapely.LineString],
    *,
    cell_m: float,
) -> list[dict[str, object]]:
    """Return a coarse grid over the cells holding points, cut at barriers but bridges."""
    cells = np.unique(np.floor(points_xy / cell_m).astype(np.int64), axis=0)
    around = (cells[:, None, :] + np.array([(0, 0), (1, 0), (0, 1), (1, 1)])).reshape(-1, 2)
    corners = np.unique(around, axis=0)
    edges = set()
    for cx, cy in cells:
        edges |= {((cx, cy), (cx + 1, cy)), ((cx, cy + 1), (cx + 1, cy + 1))}
        edges |= {((cx, cy), (cx, cy + 1)), ((cx + 1, cy), (cx + 1, cy + 1))}
    lines = [shapely.LineString(np.array([a, b], dtype=float) * cell_m) for a, b in sorted(edges)]
    keep = np.ones(len(lines), dtype=bool)
    for barrier in barriers:
        crossing = np.flatnonzero(shapely.intersects(lines, barrier))
        where = shapely.line_locate_point(
            barrier, shapely.centroid(shapely.intersection(np.array(lines)[crossing], barrier))
        )
        keep[crossing[(where % BRIDGE_EVERY_M) >= cell_m]] = False
    rows = [
        {"highway": "unclassified", "oneway": "no", "geometry": line}
        for line, ok in zip(lines, keep, strict=True)
        if ok
    ]
    # Link each town's central junction to the nearest rural junction.
    tree = cKDTree(corners * cell_m)
    txy = towns[["x", "y"]].to_numpy()
    _, idx = tree.query(txy)
    rows += [
        {
            "highway": "tertiary",
            "oneway": "no",
            "geometry": shapely.LineString([p, corners[i] * cell_m]),
        }
        for p, i in zip(txy, idx, strict=True)
        if np.hypot(*(p - corners[i] * cell_m)) > 0
    ]
    return rows


def link_components(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Feeder roads joining each piece of the network to the largest one, at the closest pair."""
    lines = np.array([r["geometry"] for r in rows])
    ends = np.concatenate(
        [
            shapely.get_coordinates(shapely.get_point(lines, 0)),
            shapely.get_coordinates(shapely.get_point(lines, -1)),
        ]
    )
    xy, node = np.unique(ends, axis=0, return_inverse=True)
    node = node.ravel()
    a, b = node[: len(lines)], node[len(lines) :]
    graph = coo_array((np.ones(len(a)), (a, b)), shape=(len(xy), len(xy)))
    n, label = connected_components(graph, directed=False)
    main = np.argmax(np.bincount(label))
    tree = cKDTree(xy[label == main])
    main_xy = xy[label == main]
    feeders = []
    for comp in range(n):
        if comp == main:
            continue
        mine = xy[label == comp]
        dist, idx = tree.query(mine)
        best = int(np.argmin(dist))
        line = shapely.LineString([mine[best], main_xy[idx[best]]])
        feeders.append({"highway": "unclassified", "oneway": "no", "geometry": line})
    return feeders


def build_roads(
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    *,
    seed: int = DEFAULT_SEED,
    street_spacing_m: float = 1_500.0,
    rural_cell_m: float = 8_000.0,
    piece_m: float = 5_000.0,
) -> gpd.GeoDataFrame:
    """Build the synthetic road layer (EPSG:4326) for the given sample layers.

    Parameters
    ----------
    centers, garrisons
        The sample layers (``centers`` must have the generator's ``name`` column).
    seed
        Seed of the random bends and grid offsets.
    street_spacing_m
        Town street spacing; smaller gives a denser network (150 m: ~10^5-10^6 nodes).
    rural_cell_m
        Rural grid spacing; every sample point is within about half of it of a road.
    piece_m
        Major roads are cut into pieces about this long (each cut is a junction).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``highway``, ``maxspeed_kmh``, ``oneway`` and LineString geometry.
    """
    rng = np.random.default_rng(seed)
    towns = load_towns(centers)
    barriers = [
        shapely.LineString(
            gpd.GeoSeries(shapely.points(v), crs="EPSG:4326").to_crs(UTM).get_coordinates()
        )
        for v in BARRIERS.values()
    ]
    points = pd.concat([centers.to_crs(UTM).geometry, garrisons.to_crs(UTM).geometry])
    points_xy = np.column_stack([points.x, points.y])
    rows = major_roads(rng, towns, piece_m=piece_m)
    rows += town_streets(rng, towns, spacing_m=street_spacing_m)
    rows += rural_roads(towns, points_xy, barriers, cell_m=rural_cell_m)
    rows += link_components(rows)
    roads = gpd.GeoDataFrame(rows, crs=UTM)
    roads["maxspeed_kmh"] = roads["highway"].map(SPEEDS_KMH).astype("int64")
    roads = roads[["highway", "maxspeed_kmh", "oneway", "geometry"]]
    return roads.to_crs("EPSG:4326")


def main(argv: list[str] | None = None) -> None:
    """Write ``roads.gpkg`` and print a connectivity check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--street-spacing-m", type=float, default=1_500.0)
    parser.add_argument("--dir", type=Path, default=HERE, help="folder of the sample layers")
    parser.add_argument("--out", type=Path, default=None, help="default: DIR/roads.gpkg")
    args = parser.parse_args(argv)
    args.out = args.out or args.dir / "roads.gpkg"
    centers = gpd.read_file(args.dir / "centers.geojson")
    garrisons = gpd.read_file(args.dir / "garrisons.geojson")
    roads = build_roads(centers, garrisons, seed=args.seed, street_spacing_m=args.street_spacing_m)
    roads["geometry"] = shapely.set_precision(roads.geometry.to_numpy(), 1e-6)
    args.out.unlink(missing_ok=True)
    roads.to_file(args.out, driver="GPKG", layer="roads")
    print(f"wrote {len(roads)} roads to {args.out}")
    print(roads["highway"].value_counts().to_string())
    check(roads, centers, garrisons)


def check(roads: gpd.GeoDataFrame, centers: gpd.GeoDataFrame, garrisons: gpd.GeoDataFrame) -> None:
    """Every sample point lies within 5 km of a road and all reach each other by road."""
    from electsec.network import RoadNetwork  # noqa: PLC0415 - only for the check

    net = RoadNetwork.from_roads(roads)
    snap = pd.concat([net.snap(centers), net.snap(garrisons)])
    print(
        f"{net}; snap distance median {snap['snap_distance_m'].median():.0f} m, max "
        f"{snap['snap_distance_m'].max():.0f} m"
    )
    if not snap["on_network"].all():
        raise SystemExit(f"{(~snap['on_network']).sum()} points are more than 5 km from a road")
    _, label = connected_components(net._graph("time"), directed=True, connection="strong")
    used = np.unique(label[snap["nearest_node"].to_numpy()])
    if len(used) != 1:
        raise SystemExit(f"sample points fall in {len(used)} strongly connected components")


if __name__ == "__main__":
    main()
