"""Real OpenStreetMap roads (issue 13): central Baghdad through three routes.

The shared extract ``../shared/data/roads/baghdad_osm/Baghdad.osm`` (an openstreetmap.org
map export: every way with a node inside its ``<bounds>``, whole) is read three ways:

* ``roads``: its ``lines`` layer read with geopandas (pyogrio) into
  ``RoadNetwork.from_roads``, what a planner gets from ``ogr2ogr``;
* ``osm``: ``RoadNetwork.from_osm`` on the file (the ``lines`` layer plus the closed
  ``highway`` ways GDAL files as polygons; the agreement columns compare with it);
* ``osmnx``: ``RoadNetwork.from_osmnx(ox.graph_from_xml(path))`` (osmnx's own parser and
  topology; simplified, as by default), the same unsimplified (``osmnx-raw``:
  ``simplify=False``), and simplified only where the class stays the same
  (``osmnx-classes``: ``ox.simplify_graph(raw, edge_attrs_differ=["highway"])``). osmnx's
  default simplification merges ways of different classes into one edge (e.g.
  ``["residential", "unclassified"]``), whose speed can then only be guessed (electsec
  takes the mean of the class speeds, as osmnx does).

Centres and garrisons are random points (seeded) on drivable roads, uniform by length, in
two samples: ``bounds``: on any drivable road inside the export's ``<bounds>`` (outside
them the export holds only fragments of ways); ``core``: on the strongly connected
drivable network inside the bounds, computed by osmnx (independently of electsec), i.e.
roads from which every other such road can be driven and back. A centre is reachable when
at least one garrison reaches it in finite time. Agreement: relative difference of travel
times on the pairs both routes reach (median, p95, max), against ``osm``.

Run from the repository root::

    .venv/bin/python benchmarks/bench_osm_baghdad.py
    .venv/bin/python benchmarks/bench_osm_baghdad.py --centers 318 --garrisons 20 --seed 13
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BAGHDAD_OSM = ROOT.parent / "shared" / "data" / "roads" / "baghdad_osm" / "Baghdad.osm"
ROUTES = ("roads", "osm", "osmnx", "osmnx-raw", "osmnx-classes")


def bounds(path: Path) -> tuple[float, float, float, float]:
    """The export's ``<bounds>`` as (min lon, min lat, max lon, max lat)."""
    head = path.read_text(encoding="utf-8")[:4000]
    found = re.search(r"<bounds ([^>]*)/?>", head)
    if found is None:
        msg = f"{path} has no <bounds> element"
        raise ValueError(msg)
    attrs = dict(re.findall(r'(\w+)="([^"]*)"', found.group(1)))
    return tuple(float(attrs[k]) for k in ("minlon", "minlat", "maxlon", "maxlat"))  # type: ignore[return-value]


def osmnx_graph(path: Path, *, simplify: bool) -> Any:
    import osmnx as ox

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # osmnx's own notes are not ours
        return ox.graph_from_xml(path, simplify=simplify, retain_all=True)


def drivable_lines(path: Path, *, core: bool) -> Any:
    """Drivable road lines inside the bounds (``core``: strongly connected, by osmnx)."""
    import geopandas as gpd
    import osmnx as ox
    import shapely

    from electsec.network import DEFAULT_SPEEDS_KMH

    if core:
        g = osmnx_graph(path, simplify=False)
        keep = [
            (u, v, k)
            for u, v, k, d in g.edges(keys=True, data=True)
            if d.get("highway") in DEFAULT_SPEEDS_KMH
        ]
        g = ox.truncate.largest_component(g.edge_subgraph(keep).copy(), strongly=True)
        lines = ox.convert.graph_to_gdfs(g, nodes=False)[["geometry"]].reset_index(drop=True)
    else:
        lines = gpd.read_file(path, layer="lines")
        lines = lines[lines["highway"].isin(list(DEFAULT_SPEEDS_KMH))][["geometry"]]
    clipped = lines.geometry.intersection(shapely.box(*bounds(path)))
    clipped = gpd.GeoSeries(clipped[~clipped.is_empty], crs=lines.crs).explode(index_parts=False)
    return clipped[clipped.geom_type == "LineString"]


def sample_layers(path: Path, n: int, m: int, *, seed: int, core: bool) -> tuple[Any, Any]:
    """``n`` centres and ``m`` garrisons, uniform by length on the drivable lines."""
    import geopandas as gpd
    import shapely

    import electsec as es

    lines = drivable_lines(path, core=core)
    rng = np.random.default_rng(seed)
    weight = lines.to_crs(lines.estimate_utm_crs()).length.to_numpy()
    pick = rng.choice(len(lines), n + m, p=weight / weight.sum())
    points = shapely.line_interpolate_point(
        lines.to_numpy()[pick], rng.uniform(0, 1, n + m), normalized=True
    )
    centers = gpd.GeoDataFrame(
        {"center_id": [f"C{i:03d}" for i in range(n)], "demand": 1},
        geometry=points[:n],
        crs=lines.crs,
    )
    garrisons = gpd.GeoDataFrame(
        {"garrison_id": [f"G{j:02d}" for j in range(m)], "capacity": n},
        geometry=points[n:],
        crs=lines.crs,
    )
    return es.read_polling_centers(centers), es.read_garrisons(garrisons)


def build(route: str, path: Path) -> tuple[Any, float]:
    """The RoadNetwork of one route and its build time (s; osmnx parsing included)."""
    import geopandas as gpd

    from electsec.network import RoadNetwork

    t0 = time.perf_counter()
    if route == "roads":
        net = RoadNetwork.from_roads(gpd.read_file(path, layer="lines"))
    elif route == "osm":
        net = RoadNetwork.from_osm(path)
    elif route == "osmnx-classes":
        import osmnx as ox

        raw = osmnx_graph(path, simplify=False)
        net = RoadNetwork.from_osmnx(ox.simplify_graph(raw, edge_attrs_differ=["highway"]))
    else:
        net = RoadNetwork.from_osmnx(osmnx_graph(path, simplify=route == "osmnx"))
    return net, time.perf_counter() - t0


def travel_times(net: Any, centers: Any, garrisons: Any) -> tuple[Any, float]:
    """Travel times (s) of every reachable pair, indexed by (centre, garrison); share reached."""
    import electsec as es

    costs = es.distance_matrix(centers, garrisons, metric="travel_time", network=net)
    times = costs.to_frame().set_index(["center_id", "garrison_id"])["time_s"]
    return times, 1.0 - len(costs.unreachable) / len(centers)


def agreement(times: Any, reference: Any) -> dict[str, float]:
    """Relative travel-time difference on the pairs both reach, and pairs on one side only."""
    common = times.index.intersection(reference.index)
    rel = (times.loc[common] - reference.loc[common]).abs() / reference.loc[common]
    signed = (times.loc[common] - reference.loc[common]) / reference.loc[common]
    return {
        "pairs": float(len(common)),
        "one_side_only": float(len(times.index.symmetric_difference(reference.index))),
        "median": float(rel.median()),
        "p95": float(rel.quantile(0.95)),
        "max": float(rel.max()),
        "signed_median": float(signed.median()),
    }


def run(path: Path, n: int, m: int, seed: int) -> list[dict[str, Any]]:
    nets = {route: build(route, path) for route in ROUTES}
    rows = []
    for sample in ("bounds", "core"):
        centers, garrisons = sample_layers(path, n, m, seed=seed, core=sample == "core")
        found = {r: travel_times(nets[r][0], centers, garrisons) for r in ROUTES}
        for route in ROUTES:
            times, share = found[route]
            agree = agreement(times, found["osm"][0])
            rows.append(
                {
                    "sample": sample,
                    "route": route,
                    "reachable %": 100 * share,
                    "build s": nets[route][1],
                    **{
                        k: (f"{100 * v:.3f}" if k not in ("pairs", "one_side_only") else int(v))
                        for k, v in agree.items()
                    },
                }
            )
    return rows


def main() -> None:
    from _harness import code_version, machine, print_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--centers", type=int, default=318)
    parser.add_argument("--garrisons", type=int, default=20)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--osm", type=Path, default=BAGHDAD_OSM)
    args = parser.parse_args()
    print(f"# bench_osm_baghdad — {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(machine())
    print(code_version())
    print(
        f"\n{args.centers} centres, {args.garrisons} garrisons, seed {args.seed}; "
        "agreement columns are % relative difference against route 'osm'\n"
    )
    rows = run(args.osm, args.centers, args.garrisons, args.seed)
    print_table(rows, list(rows[0]))


if __name__ == "__main__":
    main()
