"""Roads closed (issue #14): re-pricing the affected pairs against a whole new matrix.

The national sample (8,703 centres × 500 garrisons) on travel times over
``data/sample/roads.gpkg`` (12,023 junctions), or with ``--street-spacing-m`` over the
dense synthetic network of ``data/sample/make_roads.py`` (as ``bench_network.py``),
limited to ``--limit-s`` (default one hour). Each closure is a
lon/lat box of ``--half-deg`` around a garrison. Two sides, each in its own spawned
process (peak RSS per side), both timed from a prepared base instance and a built
network:

* ``scenario``: ``es.Scenario(roads_closed=box).apply(base, network=net)`` — only the
  pairs whose road access or shortest path the closure touches are searched again;
* ``rebuild``: ``distance_matrix(..., network=net.without(edges))`` and ``es.prepare`` on
  it, what a planner would do without the scenario.

Both must give the same allowed pairs (within the limit) and costs: the scenario's cost
lookup may also keep re-priced pairs beyond the limit, which no plan can use. Peak RSS
includes the set-up (the base matrix), the same on both sides. Run from the repository root::

    .venv/bin/python benchmarks/bench_roads_closed.py
    .venv/bin/python benchmarks/bench_roads_closed.py --half-deg 0.01 0.05 --closures 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from _harness import code_version, machine, print_table, run_isolated

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"


def _setup(limit_s: float, spacing: float | None) -> tuple[Any, Any, Any, Any]:
    import geopandas as gpd

    import electsec as es
    from electsec.network import RoadNetwork

    centers = es.read_polling_centers(SAMPLE / "centers.geojson")
    garrisons = es.read_garrisons(SAMPLE / "garrisons.geojson")
    if spacing is None:
        roads = gpd.read_file(SAMPLE / "roads.gpkg")
    else:
        sys.path.insert(0, str(SAMPLE))
        from make_roads import build_roads

        roads = build_roads(centers, garrisons, street_spacing_m=spacing)
    net = RoadNetwork.from_roads(roads)
    costs = es.distance_matrix(
        centers, garrisons, metric="travel_time", network=net, max_time_s=limit_s
    )
    base = es.prepare(centers, garrisons, costs, max_time_s=limit_s)
    return centers, garrisons, net, base


def _box(garrisons: Any, j: int, half: float) -> Any:
    import shapely

    x, y = garrisons.geometry.x.iloc[j], garrisons.geometry.y.iloc[j]
    return shapely.box(x - half, y - half, x + half, y + half)


def _side(side: str, limit_s: float, spacing: float | None, j: int, half: float) -> dict[str, Any]:
    import electsec as es

    version = code_version()
    centers, garrisons, net, base = _setup(limit_s, spacing)
    box = _box(garrisons, j, half)
    es.Scenario("warm")  # load the scenario modules before the clock starts
    started = time.perf_counter()
    if side == "scenario":
        edited = es.Scenario("closed", roads_closed=box).apply(base, network=net)
    else:
        closed = net.without(net.edges_in(box))
        costs = es.distance_matrix(
            centers, garrisons, metric="travel_time", network=closed, max_time_s=limit_s
        )
        edited = es.prepare(centers, garrisons, costs, max_time_s=limit_s)
    seconds = time.perf_counter() - started
    table = edited.cost
    within = table.values <= limit_s
    return {
        "seconds": seconds,
        "edges": len(net.edges_in(box)),
        "nodes": net.n_nodes,
        "keys": table.keys[within],
        "values": table.values[within],
        "arcs": edited.problem.arcs.keys(edited.n_garrisons),
        "code": version,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit-s", type=float, default=3600.0)
    parser.add_argument("--half-deg", type=float, nargs="+", default=[0.01, 0.05])
    parser.add_argument("--closures", type=int, default=2, help="garrisons closed around")
    parser.add_argument("--street-spacing-m", type=float, default=None)
    args = parser.parse_args()
    print(f"# bench_roads_closed  {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    print(machine())
    rows = []
    for half in args.half_deg:
        for j in np.linspace(0, 499, args.closures).astype(int):
            got = {
                s: run_isolated(_side, s, args.limit_s, args.street_spacing_m, int(j), half)
                for s in ("scenario", "rebuild")
            }
            a, b = got["scenario"], got["rebuild"]
            if "error" in a or "error" in b:
                print(a.get("traceback", ""), b.get("traceback", ""))
                continue
            same = np.array_equal(a["arcs"], b["arcs"]) and np.array_equal(a["keys"], b["keys"])
            same = same and np.allclose(a["values"], b["values"], rtol=1e-12, atol=0)
            rows.append(
                {
                    "closure": f"±{half}° at garrison {j}",
                    "nodes": a["nodes"],
                    "edges": a["edges"],
                    "scenario_s": a["seconds"],
                    "rebuild_s": b["seconds"],
                    "ratio": b["seconds"] / a["seconds"],
                    "scenario_mb": a["peak_rss_mb"],
                    "rebuild_mb": b["peak_rss_mb"],
                    "same": same,
                }
            )
    columns = ["closure", "nodes", "edges", "scenario_s", "rebuild_s", "ratio"]
    print_table(rows, [*columns, "scenario_mb", "rebuild_mb", "same"])
    print(f"code {a['code'] if rows else '-'}")


if __name__ == "__main__":
    main()
