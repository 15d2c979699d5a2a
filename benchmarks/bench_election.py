"""Both election days and their timelines against the general-day plan alone (issue 15).

The full sample on the sample road network (``data/sample/roads.gpkg``), travel times cut
at ``--max-time-s`` (default 3 h):

* **election**: ``es.plan_election({"special": ..., "general": ...}, garrisons, roads,
  min_retained=0.2, dates=..., max_time_s=...)`` (road travel times built for each day,
  both days planned), then ``es.movement_timeline(plan)`` (the plan's own road travel
  times), and ``movement_timeline(plan, network=roads)`` timed apart (every assigned pair
  re-routed on the roads).
* **general day alone**: ``es.distance_matrix(general, garrisons, metric="travel_time",
  network=roads, max_time_s=...)`` then ``es.solve_assignment(general, garrisons, costs,
  max_time_s=...)``.

Both sides start from read layers and a built :class:`RoadNetwork` (built once per side,
not timed); each runs in its own spawned process (peak RSS per side). Issue 15 target:
both plans and timelines in ≤ 2 × the general-day plan alone. Run from the repository
root::

    .venv/bin/python benchmarks/bench_election.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

from _harness import code_version, machine, peak_rss_mb, print_table, run_isolated, verdict

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
DATES = {"special": "2025-11-09", "general": "2025-11-11"}


def _setup() -> tuple[Any, Any, Any, Any]:
    import geopandas as gpd

    import electsec as es
    from electsec.network import RoadNetwork

    special = es.read_polling_centers(SAMPLE / "special_centers.geojson")
    general = es.read_polling_centers(SAMPLE / "centers.geojson")
    garrisons = es.read_garrisons(SAMPLE / "garrisons.geojson")
    roads = RoadNetwork.from_roads(gpd.read_file(SAMPLE / "roads.gpkg"))
    return special, general, garrisons, roads


def election_side(max_time_s: float) -> dict[str, Any]:
    import electsec as es

    special, general, garrisons, roads = _setup()
    version = code_version()
    base_rss = peak_rss_mb()
    t0 = time.perf_counter()
    plan = es.plan_election(
        {"special": special, "general": general},
        garrisons,
        roads,
        min_retained=0.2,
        dates=DATES,
        max_time_s=max_time_s,
    )
    t1 = time.perf_counter()
    timeline = es.movement_timeline(plan)
    t2 = time.perf_counter()
    rerouted = es.movement_timeline(plan, network=roads)
    t3 = time.perf_counter()
    kept = len(timeline.movements) == sum(len(p.assignments) for p in plan.days.values())
    return {
        "version": version,
        "plan_s": t1 - t0,
        "timeline_s": t2 - t1,
        "rerouted_s": t3 - t2,
        "base_rss_mb": base_rss,
        "general_objective": plan.general.objective,
        "movements": len(timeline.movements),
        "late": len(timeline.late),
        "all_kept": kept,
        "by_hour_rows": len(timeline.by_hour),
        "max_rerouted_diff_s": float(
            (rerouted.movements["travel_s"] - timeline.movements["travel_s"]).abs().max()
        ),
    }


def general_side(max_time_s: float) -> dict[str, Any]:
    import electsec as es

    _, general, garrisons, roads = _setup()
    base_rss = peak_rss_mb()
    t0 = time.perf_counter()
    costs = es.distance_matrix(
        general, garrisons, metric="travel_time", network=roads, max_time_s=max_time_s
    )
    plan = es.solve_assignment(general, garrisons, costs, max_time_s=max_time_s)
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "base_rss_mb": base_rss, "objective": plan.objective}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-time-s", type=float, default=3 * 3600.0)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per side, alternating; the fastest is kept"
    )
    args = parser.parse_args()
    print(f"# bench_election — {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(machine())
    runs: dict[str, list[dict[str, Any]]] = {"alone": [], "both": []}
    for k in range(args.repeat):
        order = ("alone", "both") if k % 2 == 0 else ("both", "alone")
        for name in order:
            fn = general_side if name == "alone" else election_side
            side = run_isolated(fn, args.max_time_s, timeout_s=args.timeout)
            if "error" in side:
                print(side["error"], side.get("traceback", ""))
                return
            runs[name].append(side)
    alone = min(runs["alone"], key=lambda r: r["wall_s"])
    both = min(runs["both"], key=lambda r: r["plan_s"] + r["timeline_s"])
    print(f"runs per side: {args.repeat} (alternating order; the fastest of each is shown)")
    print(f"load average after the runs: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(both["version"])
    total = both["plan_s"] + both["timeline_s"]
    ratio = total / alone["wall_s"]
    rows = [
        {
            "side": "general day alone (road costs + solve_assignment)",
            "wall s": alone["wall_s"],
            "peak RSS MB": alone["peak_rss_mb"],
            "Δ RSS MB": alone["peak_rss_mb"] - alone["base_rss_mb"],
        },
        {
            "side": "plan_election, both days (road costs + plans)",
            "wall s": both["plan_s"],
            "peak RSS MB": both["peak_rss_mb"],
            "Δ RSS MB": both["peak_rss_mb"] - both["base_rss_mb"],
        },
        {"side": "movement_timeline(plan), both days", "wall s": both["timeline_s"]},
        {"side": "both plans + timelines", "wall s": total},
        {"side": "movement_timeline(plan, network=roads) (apart)", "wall s": both["rerouted_s"]},
    ]
    print(f"\nmax_time_s={args.max_time_s:g}\n")
    print_table(rows, ["side", "wall s", "peak RSS MB", "Δ RSS MB"])
    print(
        f"\nratio (plans + timelines) / general day alone: {ratio:.2f}× (target ≤ 2×: "
        f"{verdict(ratio <= 2)})"
    )
    same = abs(both["general_objective"] - alone["objective"]) <= 1e-6 * max(1, alone["objective"])
    print(f"general-day objective equal to the plan alone: {same}")
    print(
        f"movements {both['movements']:,} (every assignment kept: {both['all_kept']}), "
        f"late {both['late']}, by_hour rows {both['by_hour_rows']:,}; re-routed travel "
        f"times differ from the plan's by at most {both['max_rerouted_diff_s']:.2e} s"
    )


if __name__ == "__main__":
    main()
