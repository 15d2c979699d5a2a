"""Ballot-transfer benchmark: the sample's whole general day, convoys vs a lone-escort baseline.

The general-day plan of the national sample (8,703 centres, 500 garrisons; ``split=True``,
geodesic) is made first, outside the clock. Then ``es.plan_transfer`` routes every centre's
ballot boxes (``data/sample/center_boxes.csv``, 38,981 boxes) to the sample warehouses
(``data/sample/collection_points.geojson``) in a spawned child process, so its wall time
and peak RSS are its own.

Every plan is re-checked here without electsec.transfer: each centre collected once or
listed as dropped, each convoy within its vehicle's 40 boxes, each hand-over within the
warehouse's hours, each pick-up after ``ready_at``.

Every convoy is also walked leg by leg on that travel model (recomputed here with
pyproj): its arrival at each stop, each pick-up's start (not before ``ready_at``, not
after the warehouse closes) and its arrival at the warehouse must be what the plan says,
and each centre's warehouse must serve its governorate.

Baseline (nearest warehouse, escorts alone): every collected centre's boxes are driven
alone by a vehicle of the garrison that sent it the most teams: garrison → centre
(loading) → the centre's warehouse, on the same travel model (geodesic × 1.3 at 50 km/h,
recomputed here with pyproj). The ratio is the plan's total convoy time over that sum.

Whole country (``--whole``): the same night as one raw PyVRP problem without
decomposition (:mod:`transfer_whole`: the same centres, warehouses, vehicles, garrison
starts, windows, capacities and service times), searched for ``--whole-factor`` (4) ×
``--time-limit-s`` with the same seed in a second child process, checked by the same
checker; the ratio is electsec's total convoy time over the whole run's.

Usage::

    python benchmarks/bench_transfer.py --time-limit-s 100
    python benchmarks/bench_transfer.py --time-limit-s 100 --workers 2   # a process pool
    python benchmarks/bench_transfer.py --time-limit-s 60 --whole         # + 240-s whole run
    python benchmarks/bench_transfer.py --time-limit-s 10 --whole --governorates Maysan,Wassit
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
VEHICLES_PER_TEAM = 0.5
READY_S = 20 * 3600


def road_s(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Road time between paired lon/lat rows (documented default model)."""
    metres = GEOD.inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1])[2] * DETOUR
    return np.ceil(metres / SPEED_M_PER_S - 1e-9)


def sample(governorates: tuple[str, ...] = ()) -> tuple[Any, pd.Series]:
    """The sample's centres (only ``governorates``' when given) and their boxes."""
    import geopandas as gpd

    centers = gpd.read_file(SAMPLE / "centers.geojson")
    if governorates:
        centers = centers[centers["governorate"].isin(governorates)].reset_index(drop=True)
    boxes = pd.read_csv(SAMPLE / "center_boxes.csv", dtype={"center_id": str})
    boxes = boxes.set_index("center_id")["boxes"].reindex(centers["center_id"].astype(str))
    return centers, boxes


def _transfer(
    time_limit_s: float,
    workers: int,
    seed: int,
    governorates: tuple[str, ...],
    media_deadline_min: float = 360,
) -> dict[str, Any]:
    """Child process: plan the day, then time plan_transfer alone."""
    from concurrent.futures import ProcessPoolExecutor

    import electsec as es

    version = code_version()
    layer, boxes = sample(governorates)
    centers = es.read_polling_centers(layer)
    garrisons = es.read_garrisons(SAMPLE / "garrisons.geojson")
    plan = es.solve_assignment(centers, garrisons, split=True)
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    started = time.perf_counter()
    night = es.plan_transfer(
        plan,
        SAMPLE / "collection_points.geojson",
        boxes=boxes,
        time_limit_s=time_limit_s,
        seed=seed,
        executor=pool,
        media_deadline_min=media_deadline_min,
    )
    wall = time.perf_counter() - started
    if pool is not None:
        pool.shutdown()
    cp = plan.center_points
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
        "garrison_ids": [str(g) for g in plan.garrison_points.index],
        "center_xy": dict(zip(cp.index.astype(str), zip(cp.x, cp.y, strict=True), strict=True)),
    }


def _walk_problems(stops: pd.DataFrame, closes_s: dict[str, int]) -> list[str]:
    """Drive every convoy again, leg by leg: its times must be the plan's (1 s a leg)."""
    rows = stops.sort_values(["convoy_id", "sequence"])
    xy = rows[["lon", "lat"]].to_numpy(dtype=float)
    same = rows["convoy_id"].to_numpy()[1:] == rows["convoy_id"].to_numpy()[:-1]
    legs = np.zeros(len(rows))
    legs[1:] = np.where(same, road_s(xy[:-1], xy[1:]), 0.0)
    bad = {"times": 0, "late": 0}
    for (_, group), leg in zip(
        rows.groupby("convoy_id", sort=False),
        np.split(legs, np.flatnonzero(~same) + 1),
        strict=True,
    ):
        close = closes_s[str(group["place_id"].iloc[-1])]
        t, tol = float(group["start_s"].iloc[0]), 0.0
        for row, drive in zip(group.iloc[1:].itertuples(), leg[1:], strict=True):
            t, tol = t + drive, tol + 1.0
            if abs(float(row.arrive_s) - t) > tol:
                bad["times"] += 1
            if row.action == "pickup":
                t = max(float(row.arrive_s), READY_S)
                bad["times"] += abs(float(row.start_s) - t) > 0
                bad["late"] += t > close
                t += 600 + 60 * int(row.boxes)
            else:
                bad["late"] += float(row.arrive_s) > close
    return [
        f"{n} convoy {what} differ from the walk"
        if what == "times"
        else f"{n} stops after their warehouse closes"
        for what, n in bad.items()
        if n
    ]


def check(result: dict[str, Any], centers: Any, boxes: pd.Series, points: Any) -> list[str]:
    """Problems found by an independent look at the tables (empty: feasible)."""
    problems = []
    stops, dropped = result["stops"], result["dropped"]
    picked = stops.loc[stops["action"] == "pickup", "place_id"]
    if not picked.is_unique:
        problems.append("a centre is collected twice")
    if set(picked) & set(dropped["center_id"]):
        problems.append("a centre is both collected and dropped")
    if set(picked) | set(dropped["center_id"]) != set(centers["center_id"]):
        problems.append("a centre is neither collected nor dropped")
    hand = stops[stops["action"] == "handover"]
    if (hand["boxes"] > CAPACITY).any():
        problems.append("a convoy carries more than its vehicle")
    ready = stops.loc[stops["action"] == "pickup", "start_s"]
    if (ready < READY_S).any():
        problems.append("a pick-up before 20:00")
    if (hand["start_s"] > (24 + 8) * 3600).any() or (hand["start_s"] < 18 * 3600).any():
        problems.append("a hand-over outside the warehouse hours")
    got = stops[stops["action"] == "pickup"].set_index("place_id")["boxes"]
    if not (got == boxes.reindex(got.index)).all():
        problems.append("a pick-up's boxes differ from the centre's")
    to = hand.set_index("convoy_id")["place_id"]
    where = stops[stops["action"] == "pickup"].set_index("place_id")["convoy_id"].map(to)
    gov = centers.set_index("center_id")["governorate"].reindex(where.index)
    serves = points["governorates"].reindex(where.to_numpy())
    if not all(g in s for g, s in zip(gov, serves, strict=True)):
        problems.append("a centre handed over at a warehouse not serving its governorate")
    closes = {str(k): int(v) * 60 for k, v in points["closes_min"].items()}
    return problems + _walk_problems(stops, closes)


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


def whole_instance(result: dict[str, Any], boxes: pd.Series, points: Any) -> dict[str, Any]:
    """The night electsec routed, as the arrays of one whole-country problem.

    Each centre keeps the warehouse electsec gave it; each garrison brings, per
    warehouse, the vehicles electsec gave it in that warehouse's parts (0.5 a team, at
    least 1, per part), checked against the parts table.
    """
    stops, routes, dropped = result["stops"], result["routes"], result["dropped"]
    picked = stops[stops["action"] == "pickup"]
    by = routes.set_index("convoy_id")
    home = pd.DataFrame(
        {
            "center_id": picked["place_id"].to_numpy(),
            "warehouse_id": by.loc[picked["convoy_id"], "warehouse_id"].to_numpy(),
            "part": by.loc[picked["convoy_id"], "part"].to_numpy(),
        }
    )
    kept = dropped[dropped["warehouse_id"].notna()]
    home = pd.concat(
        [
            home,
            pd.DataFrame(
                {
                    "center_id": kept["center_id"],
                    "warehouse_id": kept["warehouse_id"],
                    "part": kept["warehouse_id"],
                }
            ),
        ]
    )
    a = result["assignments"].astype({"center_id": str, "garrison_id": str})
    a = a.merge(home, on="center_id")
    per = a.groupby(["part", "warehouse_id", "garrison_id"])["teams"].sum()
    per = per[per > 0]
    vehicles = np.maximum(np.ceil(per * VEHICLES_PER_TEAM - 1e-9), 1).astype(int)
    by_part = vehicles.groupby(level="part").sum()
    parts = result["parts"].set_index("part")["vehicles"]
    differ = (by_part.reindex(parts.index).fillna(0) != parts).sum()
    counts = vehicles.groupby(level=["garrison_id", "warehouse_id"]).sum()
    wh_ids = sorted(home["warehouse_id"].unique())
    gar_ids = sorted(counts.index.get_level_values(0).unique())
    g_index = {g: i for i, g in enumerate(result["garrison_ids"])}
    home = home.sort_values("center_id")
    w_index = {w: i for i, w in enumerate(wh_ids)}
    wh = points.loc[wh_ids]
    xy = result["center_xy"]
    return {
        "wh_ids": wh_ids,
        "wh_xy": np.column_stack([wh.geometry.x, wh.geometry.y]),
        "wh_close_s": (wh["closes_min"].astype(int) * 60).to_numpy(),
        "gar_ids": gar_ids,
        "gar_xy": result["garrison_xy"][[g_index[g] for g in gar_ids]],
        "c_ids": home["center_id"].tolist(),
        "c_xy": np.array([xy[c] for c in home["center_id"]]),
        "c_boxes": boxes.reindex(home["center_id"]).to_numpy(dtype=np.int64),
        "c_wh": home["warehouse_id"].map(w_index).to_numpy(),
        "types": [(gar_ids.index(g), w_index[w], int(n)) for (g, w), n in counts.items()],
        "ready_s": READY_S,
        "max_route_s": None,
        "capacity": CAPACITY,
        "not_routed": dropped.loc[dropped["warehouse_id"].isna(), "center_id"].tolist(),
        "parts_differ": int(differ),
    }


def _side(name: str, result: dict[str, Any], problems: list[str], base: float) -> str:
    convoy_s = float(result["routes"]["duration_s"].sum())
    collected = int((result["stops"]["action"] == "pickup").sum())
    return (
        f"| {name} | {result['wall_s']:.1f} | {result['peak_rss_mb']:.0f} | "
        f"{len(result['routes'])} | {collected} / {len(result['dropped'])} | "
        f"{'; '.join(problems) or 'feasible'} | {convoy_s / 3600:,.1f} | {convoy_s / base:.3f} |"
    )


def _print_electsec(
    result: dict[str, Any], args: argparse.Namespace, problems: list[str], base: float
) -> None:
    convoy_s = float(result["routes"]["duration_s"].sum())
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
    if "reason" in media:
        reasons = late["reason"].value_counts().to_dict()
        print(
            f"late media by reason: {reasons}; gate wait {media['gate_wait_s'].sum() / 3600:.1f} h"
        )
    print(f"seconds per part: {math.fsum(result['parts']['runtime_s'].fillna(0)):.1f}")
    for row in late.itertuples():  # the late ones, with the earliest time any plan could reach
        why = ""
        if "reason" in media:
            why = (f", {row.reason}: last hand-over {row.last_handover}, {row.late_s / 60:.0f} "
                   f"min late, gate wait {row.gate_wait_s / 60:.0f} min")  # fmt: skip
        print(f"  late: {row.warehouse_id} {row.mode} {row.via or '-'} arrives {row.arrive}, "
              f"earliest possible {row.earliest}{why}")  # fmt: skip


def _run_whole(result: dict[str, Any], args: argparse.Namespace, context: tuple[Any, ...]) -> None:
    """Solve the night as one PyVRP problem, check it, print both sides side by side."""
    from transfer_whole import solve_whole

    centers, boxes, points, e_problems, base = context
    inst = whole_instance(result, boxes, points)
    budget = args.whole_factor * args.time_limit_s
    print(
        f"whole: {len(inst['c_ids'])} centres, {len(inst['wh_ids'])} warehouses, "
        f"{len(inst['gar_ids'])} garrisons, {len(inst['types'])} vehicle types, "
        f"{sum(t[2] for t in inst['types'])} vehicles; parts whose vehicle count differs "
        f"from electsec's: {inst['parts_differ']}; search {budget:g} s, seed {args.seed}; "
        "every vehicle due at its warehouse by closing time"
    )
    print(machine())
    whole = run_isolated(solve_whole, inst, budget, args.seed, timeout_s=budget * 3 + 900)
    if "error" in whole:
        print(whole["error"], whole.get("traceback", ""))
        return
    w_problems = check(whole, centers, boxes, points)
    print(
        f"whole: {whole['locations']} locations, {whole['load_dims']} load dims, build "
        f"{whole['built_s']:.1f} s, search {whole['search_s']:.1f} s, "
        f"{whole['iterations']} iterations, PyVRP feasible {whole['feasible']}, max prize "
        f"{whole['prize_max']}, time warp {int(whole['routes']['time_warp_s'].sum())} s"
    )
    print(machine())
    e_s = float(result["routes"]["duration_s"].sum())
    w_s = float(whole["routes"]["duration_s"].sum())
    head = "| side | wall s | peak RSS MB | convoys | collected / dropped | check | convoy h |"
    print(head + " vs baseline |")
    print("| --- | ---: | ---: | ---: | --- | --- | ---: | ---: |")
    print(_side(f"electsec, {args.time_limit_s:g} s", result, e_problems, base))
    print(_side(f"whole PyVRP, {budget:g} s search", whole, w_problems, base))
    print(f"convoy time electsec / whole: {e_s / w_s:.3f}")


def main() -> None:
    """Run once and print the figures."""
    import electsec as es

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit-s", type=float, default=100.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--whole",
        action="store_true",
        help="also solve the night as one PyVRP problem (transfer_whole)",
    )
    parser.add_argument(
        "--whole-factor",
        type=float,
        default=4.0,
        help="the whole run's search: this × --time-limit-s (default 4)",
    )
    parser.add_argument(
        "--governorates",
        default="",
        help="comma-separated: only these governorates' centres (a smaller case)",
    )
    parser.add_argument(
        "--media-deadline-min",
        type=float,
        default=360.0,
        help="plan_transfer's media deadline (default 360; past the warehouses' closing "
        "electsec routes every part to closing time, as the whole run does)",
    )
    args = parser.parse_args()
    governorates = tuple(g.strip() for g in args.governorates.split(",") if g.strip())
    print(machine())
    result = run_isolated(
        _transfer,
        args.time_limit_s,
        args.workers,
        args.seed,
        governorates,
        args.media_deadline_min,
        timeout_s=900,
    )
    if "error" in result:
        print(result["error"], result.get("traceback", ""))
        return
    centers, boxes = sample(governorates)
    points = es.read_collection_points(SAMPLE / "collection_points.geojson")
    problems = check(result, centers, boxes, points)
    base = baseline_s(result)
    _print_electsec(result, args, problems, base)
    if args.whole:
        _run_whole(result, args, (centers, boxes, points, problems, base))


if __name__ == "__main__":
    main()
