"""Tasking orders for every garrison of the national sample (issue 15: ≤ 10 s for 500).

Both voting days of the full sample (800 special-day centres, 8,703 general-day centres,
500 garrisons, ``min_retained=0.25``, split plans) are planned and their movement
timeline built (not timed); then :func:`electsec.write_orders` is timed writing
the whole folder (500 garrison pages + CSVs, 10 command pages + CSVs, the index):

* ``straight``: geodesic plans, travel at ``--speed-kmh``, routes as straight lines;
* ``roads``: both days planned again on the sample road network's travel times
  (``data/sample/roads.gpkg``; network, plans and timeline not timed), and the orders'
  routes drawn along the roads: the road path of every one of the ~9,600 movements is
  searched inside the timed call.

After timing, the folder is checked: one order per garrison, and the guard rows of the
garrison CSVs are exactly the timeline's movements (each once). Run from the repository
root::

    PYTHONPATH=src .venv/bin/python benchmarks/bench_orders.py
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from _harness import code_version, machine, print_table

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
TARGET_S = 10.0


def _timeline(speed_kmh: float | None, network: Any = None) -> tuple[Any, float]:
    """Plan both days (on the roads' travel times with a network) and time their moves."""
    import electsec as es

    t0 = time.perf_counter()
    election = es.plan_election(
        {
            "special": SAMPLE / "special_centers.geojson",
            "general": SAMPLE / "centers.geojson",
        },
        SAMPLE / "garrisons.geojson",
        network,
        min_retained=0.25,
        split=True,
        dates={"special": "2025-11-09", "general": "2025-11-11"},
    )
    timeline = es.movement_timeline(election, speed_kmh=speed_kmh)
    return timeline, time.perf_counter() - t0


def _check(folder: Path, timeline: Any) -> tuple[int, bool]:
    """Count the garrison orders; check the guard rows are the movements, each once."""
    pages = list((folder / "garrisons").glob("*.html"))
    keys = []
    for path in (folder / "garrisons").glob("*.csv"):
        with path.open(newline="", encoding="utf-8") as f:
            keys += [
                (r["phase"], r["garrison_id"], r["center_id"])
                for r in csv.DictReader(f)
                if r["duty"] == "guard"
            ]
    moves = timeline.movements
    expected = sorted(zip(moves["phase"], moves["garrison_id"], moves["center_id"], strict=True))
    return len(pages), sorted(keys) == expected


def _side(name: str, timeline: Any, network: Any) -> dict[str, Any]:
    import electsec as es

    folder = Path(tempfile.mkdtemp(prefix=f"orders-{name}-"))
    try:
        t0 = time.perf_counter()
        written = es.write_orders(timeline, folder, network=network)
        wall = time.perf_counter() - t0
        pages, exact = _check(folder, timeline)
        size = sum(p.stat().st_size for p in written) / 1e6
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "routes": name,
        "files": len(written),
        "garrison orders": pages,
        "MB": size,
        "wall s": wall,
        "movements exact": "yes" if exact else "NO",
        "≤ 10 s": "met" if wall <= TARGET_S else "missed",
    }


def _setup_line(kind: str, timeline: Any, seconds: float) -> str:
    moves = timeline.movements
    return (
        f"plans + timeline on {kind} travel times (not timed): {seconds:.1f} s, "
        f"{len(moves)} movements, {moves['garrison_id'].nunique()} garrisons tasked"
    )


def main() -> None:
    """Time the orders for the whole national sample, straight and along the roads."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speed-kmh", type=float, default=40.0)
    parser.add_argument("--skip-roads", action="store_true")
    args = parser.parse_args()
    print(f"# bench_orders — {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    print(machine())
    timeline, setup_s = _timeline(args.speed_kmh)
    print(code_version())
    print(_setup_line("geodesic", timeline, setup_s))
    rows = [_side("straight", timeline, None)]
    if not args.skip_roads:
        import geopandas as gpd

        from electsec.network import RoadNetwork

        network = RoadNetwork.from_roads(gpd.read_file(SAMPLE / "roads.gpkg"))
        road_timeline, road_s = _timeline(None, network)
        print(_setup_line("road", road_timeline, road_s))
        rows.append(_side("roads", road_timeline, network))
    print()
    columns = ["routes", "files", "garrison orders", "MB", "wall s", "movements exact", "≤ 10 s"]
    print_table(rows, columns)
    print(f"\nload average after: {machine().rsplit('load average ', 1)[1]}")


if __name__ == "__main__":
    main()
