"""Ballot-transfer benchmark: the sample's whole general day, convoys vs a lone-escort baseline.

The general-day plan of the national sample (8,703 centres, 500 garrisons; ``split=True``,
geodesic) is made first, outside the clock. Then ``es.plan_transfer`` routes every centre's
ballot boxes (``data/sample/center_boxes.csv``, 38,981 boxes) to the sample warehouses
(``data/sample/collection_points.geojson``) in a spawned child process, so its wall time
and peak RSS are its own.

Every plan is re-checked here without electsec.transfer: each centre collected once or
listed as dropped, each convoy within its vehicle's 40 boxes, each hand-over within the
warehouse's hours, each pick-up after ``ready_at``.

Baseline (nearest warehouse, escorts alone): every collected centre's boxes are driven
alone by a vehicle of the garrison that sent it the most teams: garrison → centre
(loading) → the centre's warehouse, on the same travel model (geodesic × 1.3 at 50 km/h,
recomputed here with pyproj). The ratio is the plan's total convoy time over that sum.

Usage::

    python benchmarks/bench_transfer.py --time-limit-s 100
    python benchmarks/bench_transfer.py --time-limit-s 100 --workers 2   # a process pool
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyproj

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _harness import code_version, machine, run_isolated  # noqa: E402

SAMPLE = ROOT / "data" / "sample"
GEOD = pyproj.Geod(ellps="WGS84")
SPEED_M_PER_S, DETOUR = 50 / 3.6, 1.3
CAPACITY = 40


def road_s(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Road time between paired lon/lat rows (documented default model)."""
    metres = GEOD.inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1])[2] * DETOUR
    return np.ceil(metres / SPEED_M_PER_S - 1e-9)


def _transfer(time_limit_s: float, workers: int, seed: int) -> dict[str, Any]:
    """Child process: plan the day, then time plan_transfer alone."""
    from concurrent.futures import ProcessPoolExecutor

    import electsec as es

    version = code_version()
    centers = es.read_polling_centers(SAMPLE / "centers.geojson")
    garrisons = es.read_garrisons(SAMPLE / "garrisons.geojson")
    plan = es.solve_assignment(centers, garrisons, split=True)
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    started = time.perf_counter()
    night = es.plan_transfer(
        plan,
        SAMPLE / "collection_points.geojson",
        boxes=SAMPLE / "center_boxes.csv",
        time_limit_s=time_limit_s,
        seed=seed,
        executor=pool,
    )
    wall = time.perf_counter() - started
    if pool is not None:
        pool.shutdown()
    return {
        "wall_s": wall,
        "version": version,
        "stops": night.stops.drop(columns=["box_ids", "seal_ids"]),
        "routes": night.routes.drop(columns="geometry"),
        "dropped": night.dropped,
        "media": night.media,
        "parts": night.parts,
        "assignments": plan.assignments,
        "garrison_xy": np.column_stack([plan.garrison_points.x, plan.garrison_points.y]),
        "garrison_ids": list(plan.garrison_points.index),
    }


def check(result: dict[str, Any]) -> list[str]:
    """Problems found by an independent look at the tables (empty: feasible)."""
    import geopandas as gpd

    problems = []
    stops, dropped = result["stops"], result["dropped"]
    boxes = pd.read_csv(SAMPLE / "center_boxes.csv", dtype={"center_id": str})
    centers = gpd.read_file(SAMPLE / "centers.geojson")["center_id"]
    picked = stops.loc[stops["action"] == "pickup", "place_id"]
    if not picked.is_unique:
        problems.append("a centre is collected twice")
    if set(picked) & set(dropped["center_id"]):
        problems.append("a centre is both collected and dropped")
    if set(picked) | set(dropped["center_id"]) != set(centers):
        problems.append("a centre is neither collected nor dropped")
    hand = stops[stops["action"] == "handover"]
    if (hand["boxes"] > CAPACITY).any():
        problems.append("a convoy carries more than its vehicle")
    ready = stops.loc[stops["action"] == "pickup", "start_s"]
    if (ready < 20 * 3600).any():
        problems.append("a pick-up before 20:00")
    if (hand["start_s"] > (24 + 8) * 3600).any() or (hand["start_s"] < 18 * 3600).any():
        problems.append("a hand-over outside the warehouse hours")
    mine = boxes.set_index("center_id")["boxes"]
    got = stops[stops["action"] == "pickup"].set_index("place_id")["boxes"]
    if not (got == mine.reindex(got.index)).all():
        problems.append("a pick-up's boxes differ from the centre's")
    return problems


def baseline_s(result: dict[str, Any]) -> float:
    """Each collected centre driven alone: its main garrison → centre → its warehouse."""
    stops = result["stops"]
    picked = stops[stops["action"] == "pickup"]
    hand = stops[stops["action"] == "handover"].set_index("convoy_id")
    warehouse_xy = hand.loc[picked["convoy_id"], ["lon", "lat"]].to_numpy()
    a = result["assignments"].sort_values(["center_id", "teams"], ascending=[True, False])
    main = a.drop_duplicates("center_id").set_index("center_id")["garrison_id"]
    index = {g: i for i, g in enumerate(result["garrison_ids"])}
    g_xy = result["garrison_xy"][[index[g] for g in main.reindex(picked["place_id"])]]
    c_xy = picked[["lon", "lat"]].to_numpy()
    load = 600 + 60 * picked["boxes"].to_numpy()
    return float((road_s(g_xy, c_xy) + load + road_s(c_xy, warehouse_xy)).sum())


def main() -> None:
    """Run once and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit-s", type=float, default=100.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(machine())
    result = run_isolated(_transfer, args.time_limit_s, args.workers, args.seed, timeout_s=900)
    if "error" in result:
        print(result["error"], result.get("traceback", ""))
        return
    problems = check(result)
    convoy_s = float(result["routes"]["duration_s"].sum())
    base = baseline_s(result)
    media = result["media"]
    print(f"electsec {result['version']}")
    print(
        f"time_limit_s={args.time_limit_s} workers={args.workers}: wall {result['wall_s']:.1f} s, "
        f"peak RSS {result['peak_rss_mb']:.0f} MB, parts {len(result['parts'])}, "
        f"largest {result['parts']['stops'].max()}"
    )
    print(
        f"convoys {len(result['routes'])}, centres collected "
        f"{int((result['stops']['action'] == 'pickup').sum())}, dropped {len(result['dropped'])}"
        f", check: {problems or 'feasible'}"
    )
    print(
        f"convoy time {convoy_s / 3600:,.1f} h vs lone-escort baseline {base / 3600:,.1f} h: "
        f"ratio {convoy_s / base:.3f}"
    )
    late = media[~media["on_time"]]
    possible = int((media["earliest_s"] <= media["deadline_s"]).sum())
    routed = result["parts"]["routed_to"].value_counts().to_dict()
    print(
        f"media possible by the deadline (earliest_s): {possible} of {len(media)}; parts {routed}"
    )
    print(
        f"media: {len(media) - len(late)} of {len(media)} warehouses on time "
        f"(deadline {media['deadline'].iloc[0]}); air {int((media['mode'] == 'air').sum())}; "
        f"latest {media['arrive'].iloc[int(np.argmax(media['arrive_s']))]}"
    )
    print(f"seconds per part: {math.fsum(result['parts']['runtime_s'].fillna(0)):.1f}")
    for row in late.itertuples():  # the late ones, with the earliest time any plan could reach
        print(f"  late: {row.warehouse_id} {row.mode} {row.via or '-'} arrives {row.arrive}, "
              f"earliest possible {row.earliest}")  # fmt: skip


if __name__ == "__main__":
    main()
