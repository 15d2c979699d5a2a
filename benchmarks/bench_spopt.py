"""electsec against PySAL spopt's capacitated p-median, every garrison open (issue 3).

Instance: N centres × M garrisons (default 2,000 × 200), unit demand, generated from
``--seed`` by :func:`bench_million.synthetic` — points clustered around synthetic towns in
Iraq's bounding box, capacity ≈ 1.15 × N in total, proportional to each garrison's
nearest-centre count times log-normal noise, so some garrisons are tight.

Sides, each in its own spawned process (so peak RSS is per side):

- ``spopt``: ``spopt.locate.PMedian.from_cost_matrix`` with ``p_facilities = M``, every
  facility predefined (forced open; ``fulfill_predefined_fac=False``, since "fulfilled"
  would force every garrison to be used to full capacity) and ``facility_capacities``,
  solved with HiGHS through PuLP (``pulp.HiGHS``, the highspy API). spopt needs a dense
  cost matrix, so the timed part starts from the GeoDataFrames: coordinates, an N × M
  WGS84 geodesic matrix (pyproj ``Geod.inv``, metres), model build, solve and spopt's
  result arrays (``cli2fac``).
- ``single``: ``electsec.solve_assignment(split=False)`` from the same GeoDataFrames —
  single sourcing, the same model as the p-median's binary assignment.
- ``split``: ``electsec.solve_assignment(split=True)``. With unit demand the flow is
  integral, so its optimum is the same.

Afterwards the parent builds one exact geodesic matrix and checks every plan
independently (each centre covered exactly once, capacities respected) and recomputes
each plan's cost in exact metres and in whole metres. spopt optimises exact metres and
electsec whole metres, so the optima are "the same" when electsec's plan is no worse than
spopt's in whole metres, spopt's no worse than electsec's in exact metres, and the two
exact costs differ by at most N × 1 m (each centre's distance rounds by at most 0.5 m).

Issue 3 target: same optimum, ≥ 50 × faster, ≥ 10 × less memory (peak RSS) than spopt.
Needs ``pip install spopt pulp highspy`` (benchmark-only; not electsec dependencies).
Run from the repository root::

    .venv/bin/python benchmarks/bench_spopt.py                # 2,000 × 200, ~1-2 min
    .venv/bin/python benchmarks/bench_spopt.py --small        # 200 × 20, a few seconds
    .venv/bin/python benchmarks/bench_spopt.py --n 1000 --m 100 --seed 7 --repeat 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import time
from typing import Any

import numpy as np
from _harness import code_version, machine, peak_rss_mb, print_table, run_isolated, verdict
from bench_million import synthetic

SIDES = ("spopt", "single", "split")
_NAMES = {
    "spopt": "spopt PMedian (p = M, capacities) + HiGHS",
    "single": "electsec split=False",
    "split": "electsec split=True",
}


def instance(n: int, m: int, seed: int) -> tuple[Any, Any]:
    """Centres (``center_id``, ``demand`` = 1) and garrisons (``garrison_id``, ``capacity``).

    Both are EPSG:4326 GeoDataFrames; centre ``i`` is ``C{i}`` and garrison ``j`` is ``G{j}``.
    """
    import geopandas as gpd

    stations, garrisons, capacity = synthetic(n, m, seed)
    centers = gpd.GeoDataFrame(
        {
            "center_id": [f"C{i}" for i in range(n)],
            "demand": np.ones(n, dtype=np.int64),
        },
        geometry=gpd.points_from_xy(stations[:, 0], stations[:, 1]),
        crs="EPSG:4326",
    )
    garrison_frame = gpd.GeoDataFrame(
        {"garrison_id": [f"G{j}" for j in range(m)], "capacity": capacity},
        geometry=gpd.points_from_xy(garrisons[:, 0], garrisons[:, 1]),
        crs="EPSG:4326",
    )
    return centers, garrison_frame


def arrays(centers: Any, garrisons: Any) -> tuple[np.ndarray, ...]:
    """Lon/lat of centres and garrisons, demand and capacity as numpy arrays."""
    c_xy = np.column_stack([centers.geometry.x.to_numpy(), centers.geometry.y.to_numpy()])
    g_xy = np.column_stack([garrisons.geometry.x.to_numpy(), garrisons.geometry.y.to_numpy()])
    return (
        c_xy,
        g_xy,
        centers["demand"].to_numpy(np.int64),
        garrisons["capacity"].to_numpy(np.int64),
    )


def geodesic_matrix(c_xy: np.ndarray, g_xy: np.ndarray) -> np.ndarray:
    """Dense N × M WGS84 geodesic distances in metres (pyproj ``Geod.inv``)."""
    import pyproj

    n, m = len(c_xy), len(g_xy)
    a = np.repeat(c_xy, m, axis=0)
    b = np.tile(g_xy, (n, 1))
    _, _, dist = pyproj.Geod(ellps="WGS84").inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    return np.asarray(dist, dtype=float).reshape(n, m)


def spopt_side(
    n: int,
    m: int,
    seed: int,
    *,
    time_limit_s: float | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """spopt capacitated p-median with p = M and every garrison forced open, HiGHS/PuLP."""
    import pulp
    from spopt.locate import PMedian

    centers, garrisons = instance(n, m, seed)
    setup = peak_rss_mb()
    started = time.perf_counter()
    c_xy, g_xy, demand, capacity = arrays(centers, garrisons)
    cost = geodesic_matrix(c_xy, g_xy)
    matrix_s = time.perf_counter() - started
    model = PMedian.from_cost_matrix(
        cost,
        demand,
        p_facilities=m,
        predefined_facilities_arr=np.ones(m, dtype=np.int64),
        facility_capacities=capacity,
        fulfill_predefined_fac=False,
    )
    built = time.perf_counter()
    built_rss = peak_rss_mb()
    solver = pulp.HiGHS(msg=False, timeLimit=time_limit_s, threads=threads)
    error = ""
    try:
        model.solve(solver)  # PuLP → HiGHS, then spopt's fac2cli / cli2fac arrays
    except RuntimeError as exc:  # spopt raises when the model is not solved to optimality
        error = str(exc)
    wall = time.perf_counter() - started
    status = pulp.LpStatus[model.problem.status]
    out: dict[str, Any] = {
        "status": status if not error else f"{status}: {error}",
        "wall_s": wall,
        "matrix_s": matrix_s,
        "build_s": built - started - matrix_s,
        "pulp_solve_s": float(getattr(model.problem, "solutionTime", float("nan"))),
        "solve_results_s": wall - (built - started),
        "built_rss_mb": built_rss,
        "setup_rss_mb": setup,
        "variables": model.problem.numVariables(),
        "constraints": model.problem.numConstraints(),
    }
    if error:
        return out
    cli2fac = model.cli2fac
    rows = np.repeat(np.arange(n), [len(f) for f in cli2fac])
    cols = np.array([j for f in cli2fac for j in f], dtype=np.int64)
    out.update(
        objective=float(model.problem.objective.value()),
        rows=rows,
        cols=cols,
        teams=demand[rows],
    )
    return out


def electsec_side(n: int, m: int, seed: int, *, split: bool, repeat: int = 1) -> dict[str, Any]:
    """electsec.solve_assignment from the GeoDataFrames (building them is not timed)."""
    import electsec as es

    code = code_version()
    centers, garrisons = instance(n, m, seed)
    setup = peak_rss_mb()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        plan = es.solve_assignment(centers, garrisons, split=split, seed=0)
        times.append(time.perf_counter() - started)
    a = plan.assignments
    c_index = {c: i for i, c in enumerate(centers["center_id"])}
    g_index = {g: j for j, g in enumerate(garrisons["garrison_id"])}
    teams = a["teams"].to_numpy(np.int64)
    own = float((teams * np.rint(a["distance_m"].to_numpy(float))).sum())
    return {
        "status": plan.status,
        "objective": float(plan.objective),
        "bound": float(plan.bound),
        "wall_s": min(times),
        "all_s": [round(t, 3) for t in times],
        "rows": a["center_id"].map(c_index).to_numpy(np.int64),
        "cols": a["garrison_id"].map(g_index).to_numpy(np.int64),
        "teams": teams,
        "distance_m": a["distance_m"].to_numpy(float),
        "table_objective_ok": abs(own - plan.objective) < 0.5,
        "setup_rss_mb": setup,
        "code": code,
    }


def check_plan(
    r: dict[str, Any],
    demand: np.ndarray,
    capacity: np.ndarray,
    dist: np.ndarray,
    *,
    single: bool,
) -> dict[str, Any]:
    """Independent check of a side's plan against one exact geodesic matrix.

    Returns ``check`` ("ok" or the problems), ``exact_m`` (Σ teams × exact metres) and
    ``whole_m`` (Σ teams × whole metres) of the plan.
    """
    rows, cols, teams = r["rows"], r["cols"], r["teams"]
    n, m = dist.shape
    problems = []
    got = np.bincount(rows, weights=teams, minlength=n)
    used = np.bincount(cols, weights=teams, minlength=m)
    if not np.array_equal(got, demand):
        problems.append(f"{int((got != demand).sum())} centres not covered exactly")
    if (used > capacity).any():
        problems.append(f"{int((used > capacity).sum())} garrisons over capacity")
    if single and len(np.unique(rows)) != len(rows):
        problems.append("a centre is served by two garrisons")
    if "distance_m" in r:
        drift = float(np.abs(r["distance_m"] - dist[rows, cols]).max(initial=0.0))
        if drift > 1e-3:
            problems.append(f"distance_m differs from pyproj by up to {drift:.4f} m")
    if r.get("table_objective_ok") is False:
        problems.append("objective != Σ teams × round(distance_m)")
    exact = float((teams * dist[rows, cols]).sum())
    whole = float((teams * np.rint(dist[rows, cols])).sum())
    if "distance_m" not in r and abs(exact - r["objective"]) > 1e-6 * max(exact, 1.0):
        problems.append(f"objective {r['objective']:.3f} != recomputed {exact:.3f}")
    return {
        "check": "ok" if not problems else "; ".join(problems),
        "exact_m": exact,
        "whole_m": whole,
    }


def evaluate(n: int, m: int, seed: int, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Check every plan and compare each electsec side with spopt (same optimum?)."""
    centers, garrisons = instance(n, m, seed)
    c_xy, g_xy, demand, capacity = arrays(centers, garrisons)
    dist = geodesic_matrix(c_xy, g_xy)
    for side, r in results.items():
        if "rows" in r:
            r.update(check_plan(r, demand, capacity, dist, single=side != "split"))
    out: dict[str, Any] = {}
    nan = float("nan")
    s = results.get("spopt", {})
    for side in ("single", "split"):
        e = results.get(side, {})
        if "exact_m" not in s or "exact_m" not in e:
            continue
        tol = 1e-7 * s["exact_m"]  # HiGHS's feasibility/optimality tolerances
        same = (
            s["check"] == "ok"
            and e["check"] == "ok"
            and e["whole_m"] <= s["whole_m"] + 0.5  # electsec optimal in whole metres
            and s["exact_m"] <= e["exact_m"] + tol  # spopt optimal in exact metres
            and abs(e["exact_m"] - s["exact_m"]) <= n * 1.0
        )
        same_plan = sorted(zip(e["rows"], e["cols"], strict=True)) == sorted(
            zip(s["rows"], s["cols"], strict=True)
        )
        out[side] = {
            "same_optimum": bool(same),
            "same_plan": same_plan,
            "exact_diff_m": e["exact_m"] - s["exact_m"],
            "whole_diff_m": e["whole_m"] - s["whole_m"],
            "time_ratio": s["wall_s"] / e["wall_s"],
            "rss_ratio": s.get("peak_rss_mb", nan) / e.get("peak_rss_mb", nan),
            "delta_rss_ratio": (s.get("peak_rss_mb", nan) - s["setup_rss_mb"])
            / max(e.get("peak_rss_mb", nan) - e["setup_rss_mb"], 1e-9),
        }
    return out


def _versions() -> str:
    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    return " | ".join(f"{p} {version(p)}" for p in ("spopt", "pulp", "highspy", "pyproj"))


def _report(results: dict[str, dict[str, Any]], cmp: dict[str, Any]) -> None:
    s = results.get("spopt", {})
    rows = []
    for side, r in results.items():
        if "error" in r:
            rows.append(
                {"side": _NAMES[side], "status": r["error"], "peak RSS MB": r["sampled_rss_mb"]}
            )
            continue
        c = cmp.get(side, {})
        rows.append(
            {
                "side": _NAMES[side],
                "status": r["status"],
                "objective": r.get("objective", float("nan")),
                "plan exact m": r.get("exact_m", float("nan")),
                "plan whole m": r.get("whole_m", float("nan")),
                "check": r.get("check", "-"),
                "wall s": r["wall_s"],
                "peak RSS MB": r["peak_rss_mb"],
                "Δ RSS MB": r["peak_rss_mb"] - r["setup_rss_mb"],
                "spopt ÷ time": c.get("time_ratio", float("nan")),
                "spopt ÷ peak RSS": c.get("rss_ratio", float("nan")),
            }
        )
    print_table(
        rows,
        [
            "side",
            "status",
            "objective",
            "plan exact m",
            "plan whole m",
            "check",
            "wall s",
            "peak RSS MB",
            "Δ RSS MB",
            "spopt ÷ time",
            "spopt ÷ peak RSS",
        ],
    )
    for side, r in results.items():
        if "code" in r:
            print(f"\n{side} ran electsec {r['code']}; runs {r['all_s']} s")
        if "error" in r:
            print(f"\n{side} failed: {r['error']}\n{r.get('traceback', '')}")
    if "wall_s" in s:
        print(
            f"\nspopt: geodesic matrix {s['matrix_s']:.2f} s, PuLP model build "
            f"{s['build_s']:.2f} s ({s['variables']:,} variables, {s['constraints']:,} "
            f"constraints; peak RSS after build {s['built_rss_mb']:.0f} MB), PuLP solve with "
            f"HiGHS {s['pulp_solve_s']:.2f} s, solve + spopt results {s['solve_results_s']:.2f} s"
        )
    for side, c in cmp.items():
        r = results[side]
        print(
            f"\n{_NAMES[side]} vs spopt: plan exact − spopt exact = {c['exact_diff_m']:+.3f} m, "
            f"whole-metre difference {c['whole_diff_m']:+.0f} m, identical plans: "
            f"{c['same_plan']}; Δ RSS ratio {c['delta_rss_ratio']:.1f} ×"
        )
        print(
            f"  same optimum: {verdict(c['same_optimum'])}; "
            f"≥ 50 × faster: {verdict(c['time_ratio'] >= 50)} ({c['time_ratio']:.1f} ×, "
            f"{s['wall_s']:.2f} s vs {r['wall_s']:.3f} s); "
            f"≥ 10 × less memory: {verdict(c['rss_ratio'] >= 10)} ({c['rss_ratio']:.1f} ×, "
            f"{s['peak_rss_mb']:.0f} MB vs {r['peak_rss_mb']:.0f} MB peak RSS)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=None, help="centres (default 2,000)")
    parser.add_argument("--m", type=int, default=None, help="garrisons (default 200)")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--small", action="store_true", help="200 × 20, one run per side")
    parser.add_argument("--repeat", type=int, default=None, help="electsec runs (best of)")
    parser.add_argument("--sides", default=",".join(SIDES), help="subset of spopt,single,split")
    parser.add_argument("--highs-time-limit", type=float, default=None)
    parser.add_argument("--highs-threads", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=900.0, help="kill a side after S s")
    args = parser.parse_args()
    n = args.n or (200 if args.small else 2_000)
    m = args.m or (20 if args.small else 200)
    repeat = args.repeat or (1 if args.small else 3)
    sides = [x.strip() for x in args.sides.split(",") if x.strip()]
    if unknown := set(sides) - set(SIDES):
        parser.error(f"unknown sides {sorted(unknown)}")
    now = dt.datetime.now(dt.UTC)
    print(f"# bench_spopt — {now:%Y-%m-%d %H:%M} UTC")
    print(machine())
    print(_versions())
    _, _, capacity = synthetic(n, m, args.seed)
    print(
        f"instance: {n:,} centres × {m:,} garrisons, unit demand, seed {args.seed}, "
        f"capacity {int(capacity.sum()):,} ({capacity.sum() / n:.3f} × demand), "
        f"garrison capacities {int(capacity.min())}–{int(capacity.max())}\n"
    )
    results: dict[str, dict[str, Any]] = {}
    for side in sides:
        if side == "spopt":
            r = run_isolated(
                spopt_side,
                n,
                m,
                args.seed,
                time_limit_s=args.highs_time_limit,
                threads=args.highs_threads,
                timeout_s=args.timeout,
            )
        else:
            r = run_isolated(
                electsec_side,
                n,
                m,
                args.seed,
                split=side == "split",
                repeat=repeat,
                timeout_s=args.timeout,
            )
        results[side] = r
        brief = r.get("error") or f"{r['wall_s']:.2f} s, peak RSS {r['peak_rss_mb']:.0f} MB"
        print(f"  {side} done: {brief}", flush=True)
    print()
    _report(results, evaluate(n, m, args.seed, results))


if __name__ == "__main__":
    main()
