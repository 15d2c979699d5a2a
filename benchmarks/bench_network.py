"""Road travel times at national scale: electsec against networkx's Dijkstra (issue 5).

The full sample (8,703 centres × 500 garrisons) on a dense synthetic road network from
``data/sample/make_roads.py`` (town streets every ``--street-spacing-m``, default 250 m:
about 213,000 junctions). Two queries:

* ``limit``: every pair within a 2-hour drive (``max_time_s=7200``);
* ``k``: the 25 nearest garrisons of each centre by travel time (no limit).

electsec: ``distance_matrix(metric="travel_time", network=RoadNetwork)``, timed after the
network is built (building it is timed separately). networkx: the *same graph* electsec
searched (roads plus the snapped centres and garrisons as virtual nodes, exported from
electsec), then ``single_source_dijkstra_path_length`` from each garrison — with
``cutoff=7200`` for the limit query, without for k (then the 25 cheapest per centre).
networkx takes ~1 s per garrison, so it runs on ``--nx-garrisons`` garrisons (every
``500 / n``-th) and its time is scaled to 500; its costs are compared with electsec's on
those garrisons (the limit query must agree exactly).

Each side runs in its own spawned process (peak RSS per side). Issue 5 target: ≤ 10 s and
≤ 2 GB for the matrix. Run from the repository root::

    .venv/bin/python benchmarks/bench_network.py
    .venv/bin/python benchmarks/bench_network.py --street-spacing-m 300 --nx-garrisons 10
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from _harness import code_version, machine, peak_rss_mb, print_table, run_isolated

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
LIMIT_S = 7200.0
K = 25


def _setup(spacing: float) -> tuple[Any, Any, Any, dict[str, float]]:
    sys.path.insert(0, str(SAMPLE))
    import geopandas as gpd
    from make_roads import build_roads

    import electsec as es
    from electsec.network import RoadNetwork

    centers = es.read_polling_centers(gpd.read_file(SAMPLE / "centers.geojson"))
    garrisons = es.read_garrisons(gpd.read_file(SAMPLE / "garrisons.geojson"))
    t0 = time.perf_counter()
    roads = build_roads(centers, garrisons, street_spacing_m=spacing)
    t1 = time.perf_counter()
    net = RoadNetwork.from_roads(roads)
    t2 = time.perf_counter()
    info = {
        "roads": len(roads),
        "nodes": net.n_nodes,
        "edges": net.n_edges,
        "generate_s": t1 - t0,
        "build_s": t2 - t1,
    }
    return centers, garrisons, net, info


def electsec_side(spacing: float, query: str) -> dict[str, Any]:
    import electsec as es

    centers, garrisons, net, info = _setup(spacing)
    base_rss = peak_rss_mb()
    kwargs: dict[str, Any] = {"max_time_s": LIMIT_S} if query == "limit" else {"k": K}
    t0 = time.perf_counter()
    costs = es.distance_matrix(centers, garrisons, metric="travel_time", network=net, **kwargs)
    wall = time.perf_counter() - t0
    frame = costs.to_frame()
    return {
        **info,
        "wall_s": wall,
        "base_rss_mb": base_rss,
        "arcs": costs.nnz,
        "unreachable": len(costs.unreachable),
        "frame": frame,
    }


def networkx_side(spacing: float, query: str, n_garrisons: int) -> dict[str, Any]:
    import networkx as nx
    import pandas as pd

    from electsec.network import augmented_graph, points_xy

    centers, garrisons, net, info = _setup(spacing)
    c_snap = net.snap_xy(points_xy(centers, net.crs))
    g_snap = net.snap_xy(points_xy(garrisons, net.crs))
    offroad = 3.6 / net.offroad_speed_kmh
    graph, g_node, c_node = augmented_graph(net, "time", offroad, c_snap, g_snap)
    g = nx.from_scipy_sparse_array(graph, create_using=nx.DiGraph)
    base_rss = peak_rss_mb()
    centre_of = {int(v): i for i, v in enumerate(c_node)}
    picked = np.unique(np.linspace(0, len(garrisons) - 1, n_garrisons).astype(int))
    rows = []
    t0 = time.perf_counter()
    for j in picked:
        if g_snap.segment[j] < 0:
            continue
        cutoff = LIMIT_S if query == "limit" else None
        lengths = nx.single_source_dijkstra_path_length(g, int(g_node[j]), cutoff=cutoff)
        rows += [(centre_of[v], j, d) for v, d in lengths.items() if v in centre_of]
    wall = time.perf_counter() - t0
    frame = pd.DataFrame(rows, columns=["row", "col", "time_s"])
    frame["center_id"] = centers.index[frame["row"]]
    frame["garrison_id"] = garrisons.index[frame["col"]]
    return {
        **info,
        "wall_s": wall,
        "wall_s_all": wall * len(garrisons) / len(picked),
        "garrisons_run": len(picked),
        "base_rss_mb": base_rss,
        "frame": frame[["center_id", "garrison_id", "time_s"]],
    }


def compare(ours: Any, theirs: Any, query: str) -> str:
    """Agreement on the garrisons networkx ran."""
    mine = ours[ours["garrison_id"].isin(set(theirs["garrison_id"]))]
    if query == "k":
        # networkx ran without a limit: each of electsec's k-nearest arcs must be there,
        # with the same time.
        joined = mine.merge(theirs, on=["center_id", "garrison_id"], how="left")
        missing = int(joined["time_s_y"].isna().sum())
        diff = float(np.nanmax(np.abs(joined["time_s_x"] - joined["time_s_y"]), initial=0.0))
        return f"{len(mine)} arcs checked, {missing} missing, max |Δ| {diff:.2e} s"
    joined = mine.merge(theirs, on=["center_id", "garrison_id"], how="outer")
    only = int(joined.isna().any(axis=1).sum())
    diff = float(np.nanmax(np.abs(joined["time_s_x"] - joined["time_s_y"]), initial=0.0))
    return f"{len(joined)} arcs compared, {only} on one side only, max |Δ| {diff:.2e} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--street-spacing-m", type=float, default=250.0)
    parser.add_argument("--nx-garrisons", type=int, default=20)
    parser.add_argument("--queries", default="limit,k")
    parser.add_argument("--timeout", type=float, default=1200.0)
    args = parser.parse_args()
    print(f"# bench_network — {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(machine())
    print(code_version())
    for query in args.queries.split(","):
        ours = run_isolated(electsec_side, args.street_spacing_m, query, timeout_s=args.timeout)
        theirs = run_isolated(
            networkx_side, args.street_spacing_m, query, args.nx_garrisons, timeout_s=args.timeout
        )
        for side in (ours, theirs):
            if "error" in side:
                print(side["error"], side.get("traceback", ""))
                return
        print(
            f"\n## query {query!r}: {'max_time_s=7200' if query == 'limit' else f'k={K}'} — "
            f"network {ours['nodes']:,} nodes, {ours['edges']:,} directed edges "
            f"({ours['roads']:,} road lines; generated in {ours['generate_s']:.1f} s, "
            f"RoadNetwork built in {ours['build_s']:.1f} s)\n"
        )
        rows = [
            {
                "side": "electsec distance_matrix",
                "wall s": ours["wall_s"],
                "arcs": ours["arcs"],
                "peak RSS MB": ours["peak_rss_mb"],
                "Δ RSS MB": ours["peak_rss_mb"] - ours["base_rss_mb"],
            },
            {
                "side": f"networkx Dijkstra, {theirs['garrisons_run']} garrisons",
                "wall s": theirs["wall_s"],
                "arcs": len(theirs["frame"]),
                "peak RSS MB": theirs["peak_rss_mb"],
                "Δ RSS MB": theirs["peak_rss_mb"] - theirs["base_rss_mb"],
            },
            {
                "side": "networkx, scaled to 500 garrisons",
                "wall s": theirs["wall_s_all"],
                "arcs": "",
                "peak RSS MB": "",
                "Δ RSS MB": "",
            },
        ]
        print_table(rows, ["side", "wall s", "arcs", "peak RSS MB", "Δ RSS MB"])
        print(
            f"\nratio networkx (scaled) / electsec: {theirs['wall_s_all'] / ours['wall_s']:.0f}×"
        )
        print(f"unreachable centres: {ours['unreachable']}")
        print(f"agreement: {compare(ours['frame'], theirs['frame'], query)}")


if __name__ == "__main__":
    main()
