"""Continental scale: synthetic N stations × M garrisons, one team each (unit demand).

Stations cluster around synthetic towns inside Iraq's bounding box (85 %) or are spread
uniformly (15 %); garrisons are drawn the same way (80 % / 20 %). Each garrison's capacity
is the number of stations nearest to it times log-normal noise, rescaled so that total
capacity is about 1.15 × N: nationally loose, locally tight here and there, so some teams
must travel past their nearest garrison. Everything comes from ``numpy.random.default_rng``
with ``--seed``, so each child process regenerates the identical instance.

Sides, each in its own spawned process (so peak RSS is per side):

- ``bare``: cKDTree on 3-D unit vectors, k = 10 nearest, pyproj ``Geod.inv`` on those arcs,
  OR-Tools ``SimpleMinCostFlow`` (numpy arrays) — what k-pruning gives;
- ``split``: ``electsec.solve_assignment(split=True)`` (no ``k``: exact over all pairs);
- ``single``: ``electsec.solve_assignment(split=False)``. With unit demand the flow is
  integral, so a single-sourcing plan is optimal too.

Issue 3 target: optimal (or gap ≤ 0.1 %) in ≤ 120 s, peak RSS ≤ 8 GB at N = 1,000,000,
M = 5,000. Run from the repository root::

    .venv/bin/python benchmarks/bench_million.py --n 100000 --m 1000    # ~1 min
    .venv/bin/python benchmarks/bench_million.py                        # 1M × 5,000, ≤ ~6 min
    .venv/bin/python benchmarks/bench_million.py --sides split --timeout 900  # ~6 min
    .venv/bin/python benchmarks/bench_million.py --sides split --profile 30
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from typing import Any

import numpy as np
from _harness import (
    bare_min_cost_flow,
    code_version,
    knn_geodesic_arcs,
    machine,
    peak_rss_mb,
    print_table,
    run_isolated,
    unit_vectors,
    verdict,
)

#: Iraq's bounding box: lon min, lat min, lon max, lat max (degrees).
BBOX = (38.79, 29.06, 48.57, 37.38)
_KM_PER_DEG_LAT = 110.574
_KM_PER_DEG_LON = 111.320


def _scatter(
    rng: np.random.Generator,
    count: int,
    towns: np.ndarray,
    weight: np.ndarray,
    sigma_km: np.ndarray,
    clustered: float,
) -> np.ndarray:
    """``count`` lon/lat points: a share ``clustered`` around towns, the rest uniform."""
    lon0, lat0, lon1, lat1 = BBOX
    near = rng.random(count) < clustered
    pts = np.column_stack([rng.uniform(lon0, lon1, count), rng.uniform(lat0, lat1, count)])
    town = rng.choice(len(towns), size=int(near.sum()), p=weight)
    offset = rng.normal(size=(len(town), 2)) * sigma_km[town, None]
    lat = towns[town, 1] + offset[:, 1] / _KM_PER_DEG_LAT
    lon = towns[town, 0] + offset[:, 0] / (_KM_PER_DEG_LON * np.cos(np.radians(lat)))
    pts[near] = np.column_stack([np.clip(lon, lon0, lon1), np.clip(lat, lat0, lat1)])
    return np.round(pts, 6)


def synthetic(n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return station lon/lat (n, 2), garrison lon/lat (m, 2) and capacities (m,)."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    n_towns = int(np.clip(np.sqrt(n) / 2, 20, 500))
    lon0, lat0, lon1, lat1 = BBOX
    towns = np.column_stack([rng.uniform(lon0, lon1, n_towns), rng.uniform(lat0, lat1, n_towns)])
    size = rng.pareto(1.1, n_towns) + 1.0
    weight = size / size.sum()
    sigma_km = 1.5 + 12.0 * np.sqrt(size / size.max())
    stations = _scatter(rng, n, towns, weight, sigma_km, clustered=0.85)
    garrisons = _scatter(rng, m, towns, weight, sigma_km, clustered=0.80)
    _, nearest = cKDTree(unit_vectors(*garrisons.T)).query(unit_vectors(*stations.T), k=1)
    local = np.bincount(nearest, minlength=m)
    raw = (local + 1) * rng.lognormal(0.0, 0.5, m)
    target = round(1.15 * n)
    capacity = np.maximum(np.floor(raw * target / raw.sum()).astype(np.int64), 1)
    short = target - int(capacity.sum())
    if short > 0:
        capacity[rng.choice(m, size=short, replace=True)] += 1
    return stations, garrisons, capacity


def _frames(n: int, m: int, seed: int) -> tuple[Any, Any]:
    import geopandas as gpd

    stations, garrisons, capacity = synthetic(n, m, seed)
    centers = gpd.GeoDataFrame(
        {
            "center_id": np.char.add("S", np.arange(n).astype(str)).astype(object),
            "demand": np.ones(n, dtype=np.int64),
        },
        geometry=gpd.points_from_xy(stations[:, 0], stations[:, 1]),
        crs="EPSG:4326",
    )
    garrison_frame = gpd.GeoDataFrame(
        {
            "garrison_id": np.char.add("G", np.arange(m).astype(str)).astype(object),
            "capacity": capacity,
        },
        geometry=gpd.points_from_xy(garrisons[:, 0], garrisons[:, 1]),
        crs="EPSG:4326",
    )
    return centers, garrison_frame


def electsec_side(n: int, m: int, seed: int, *, split: bool, time_limit_s: float) -> dict:
    """electsec.solve_assignment on GeoDataFrames (building the frames is not timed)."""
    import electsec as es

    code = code_version()
    centers, garrisons = _frames(n, m, seed)
    setup = peak_rss_mb()
    started = time.perf_counter()
    plan = es.solve_assignment(centers, garrisons, split=split, time_limit_s=time_limit_s)
    wall = time.perf_counter() - started
    a = plan.assignments
    teams = a.groupby("center_id")["teams"].sum()
    used = a.groupby("garrison_id")["teams"].sum()
    cap = garrisons.set_index("garrison_id")["capacity"]
    ok = (
        len(teams) == n
        and bool((teams == 1).all())
        and bool((used <= cap.reindex(used.index)).all())
        and abs(float((a["teams"] * np.rint(a["distance_m"])).sum()) - plan.objective) < 0.5
    )
    return {
        "status": plan.status,
        "objective": plan.objective,
        "bound": plan.bound,
        "gap_pct": 100 * plan.gap,
        "wall_s": wall,
        "check": "ok" if ok else "FAILED",
        "setup_rss_mb": setup,
        "code": code,
    }


def bare_side(n: int, m: int, seed: int, *, k: int, widen: int) -> dict:
    """KD-tree k nearest + geodesic + OR-Tools min-cost flow, from the same GeoDataFrames.

    If the k nearest arcs cannot carry all demand, the script does what a user would:
    double k and solve again (up to ``widen`` times). Every attempt is reported.
    """
    centers, garrisons = _frames(n, m, seed)
    setup = peak_rss_mb()
    started = time.perf_counter()
    c_xy = np.column_stack([centers.geometry.x.to_numpy(), centers.geometry.y.to_numpy()])
    g_xy = np.column_stack([garrisons.geometry.x.to_numpy(), garrisons.geometry.y.to_numpy()])
    demand = centers["demand"].to_numpy(np.int64)
    capacity = garrisons["capacity"].to_numpy(np.int64)
    attempts = []
    for _ in range(widen + 1):
        attempt_started = time.perf_counter()
        rows, cols, dist = knn_geodesic_arcs(c_xy, g_xy, k)
        arcs_s = time.perf_counter() - attempt_started
        out = bare_min_cost_flow(demand, capacity, rows, cols, dist)
        del rows, cols, dist
        attempts.append(
            {
                **out,
                "k": k,
                "wall_s": time.perf_counter() - attempt_started,
                "cumulative_s": time.perf_counter() - started,
                "knn_geodesic_s": arcs_s,
            }
        )
        if not out["shortfall"] or k >= m:
            break
        k = min(2 * k, m)
    return {**attempts[0], "attempts": attempts, "setup_rss_mb": setup}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="stations (one team each)")
    parser.add_argument("--m", type=int, default=5_000, help="garrisons")
    parser.add_argument("--k", type=int, default=10, help="nearest garrisons for the baseline")
    parser.add_argument(
        "--widen", type=int, default=2, help="bare: times to double k if k arcs are infeasible"
    )
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument(
        "--sides",
        default="bare,split,single",
        help="comma-separated subset of bare,split,single",
    )
    parser.add_argument(
        "--time-limit", type=float, default=120.0, help="electsec time_limit_s (split=False)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=150.0,
        help="kill a side after this many seconds (the target is 120 s; use ~900 to see "
        "how long electsec really takes at 1,000,000)",
    )
    parser.add_argument(
        "--profile", type=int, default=0, help="cProfile electsec; print top N functions"
    )
    args = parser.parse_args()
    sides = [s.strip() for s in args.sides.split(",") if s.strip()]
    print(f"# bench_million — {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(machine())
    started = time.perf_counter()
    _, _, capacity = synthetic(args.n, args.m, args.seed)
    gen_s = time.perf_counter() - started
    print(
        f"instance: {args.n:,} stations × {args.m:,} garrisons, seed {args.seed}, "
        f"capacity {int(capacity.sum()):,} ({capacity.sum() / args.n:.3f} × demand), "
        f"max garrison {int(capacity.max()):,} (generated in {gen_s:.1f} s)"
    )
    results: dict[str, dict[str, Any]] = {}
    for side in sides:
        if side == "bare":
            results[side] = run_isolated(
                bare_side,
                args.n,
                args.m,
                args.seed,
                k=args.k,
                widen=args.widen,
                timeout_s=args.timeout,
            )
        elif side in ("split", "single"):
            results[side] = run_isolated(
                electsec_side,
                args.n,
                args.m,
                args.seed,
                split=side == "split",
                time_limit_s=args.time_limit,
                timeout_s=args.timeout,
                profile=args.profile,
            )
        else:
            parser.error(f"unknown side {side!r}")
        print(f"  {side} done: {_brief(results[side])}", flush=True)
    _report(args, results)


def _brief(r: dict[str, Any]) -> str:
    if "error" in r:
        return r["error"]
    return f"{r['wall_s']:.1f} s, {r['status']}, peak {r['peak_rss_mb']:.0f} MB"


def _report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    names = {
        "bare": f"bare KD-tree k={args.k} + MCF",
        "split": "electsec split=True (no k)",
        "single": f"electsec split=False (limit {args.time_limit:.0f} s)",
    }
    base = results.get("bare", {}).get("wall_s")
    rows = []
    for side, r in results.items():
        if "error" in r:
            rows.append(
                {"side": names[side], "status": r["error"], "peak RSS MB": r["sampled_rss_mb"]}
            )
            continue
        for attempt in r.get("attempts", [r]):
            name = names[side] if side != "bare" else f"bare KD-tree k={attempt['k']} + MCF"
            rows.append(
                {
                    "side": name,
                    "status": attempt["status"],
                    "objective": attempt["objective"],
                    "bound": attempt.get("bound", float("nan")),
                    "gap %": attempt.get("gap_pct", float("nan")),
                    "wall s": attempt["wall_s"],
                    "× bare": attempt["wall_s"] / base if base else float("nan"),
                    "peak RSS MB": r["peak_rss_mb"],
                    "Δ RSS MB": r["peak_rss_mb"] - r["setup_rss_mb"],
                    "check": attempt.get("check", ""),
                }
            )
    print()
    print_table(
        rows,
        [
            "side",
            "status",
            "objective",
            "bound",
            "gap %",
            "wall s",
            "× bare",
            "peak RSS MB",
            "Δ RSS MB",
            "check",
        ],
    )
    for side, r in results.items():
        if "code" in r:
            print(f"{side} ran electsec {r['code']}")
        if "traceback" in r:
            print(f"\n{side} failed:\n{r['traceback']}")
        if "profile" in r:
            print(f"\n--- cProfile of electsec {side} ---\n{r['profile']}")
    bare = results.get("bare", {})
    for attempt in bare.get("attempts", []):
        print(
            f"bare k={attempt['k']}: {attempt['arcs']:,} arcs, k-NN + geodesic "
            f"{attempt['knn_geodesic_s']:.1f} s, {attempt['status']}, "
            f"{attempt['cumulative_s']:.1f} s since the start of the script"
        )
    feasible = [a for a in bare.get("attempts", []) if not a["shortfall"]]
    for side in ("split", "single"):
        r = results.get(side, {})
        if "objective" not in r:
            continue
        if feasible:
            first = feasible[0]
            loss = 100 * (first["objective"] / r["objective"] - 1)
            print(
                f"{side}: the bare k={first['k']} plan costs {loss:+.4f} % more than electsec's; "
                f"electsec time / bare time to that plan = "
                f"{r['wall_s'] / first['cumulative_s']:.2f}"
            )
        met = (
            r["wall_s"] <= 120
            and r["peak_rss_mb"] <= 8192
            and (r["status"] == "optimal" or r["gap_pct"] <= 0.1)
        )
        scale = "" if (args.n, args.m) == (1_000_000, 5_000) else " [set for 1,000,000 × 5,000]"
        print(
            f"{side}: target{scale} (optimal or gap ≤ 0.1 %, ≤ 120 s, ≤ 8 GB) "
            f"{verdict(met)}: {r['status']}, gap {r['gap_pct']:.4f} %, "
            f"{r['wall_s']:.1f} s, {r['peak_rss_mb']:.0f} MB"
        )


if __name__ == "__main__":
    main()
