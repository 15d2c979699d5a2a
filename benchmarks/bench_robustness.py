"""Monte Carlo robustness and single-sourcing scenarios on the national sample.

1. ``es.robustness(base, n=1000, lose=5, seed=0, split=True)``: wall time in this process
   and on a ``ProcessPoolExecutor(2)`` side by side, each side in its own spawned child
   (peak RSS of the driver, and of the largest pool worker), the draws tables compared
   (identical but for ``solve_s``). With ``--old-src DIR`` (the ``src`` folder of an
   older checkout, e.g. ``git archive a88cda7 src | tar -x -C /tmp/old``) that code runs
   the in-process side too, for the ratio to the old path.
2. Single-sourcing garrison losses (``split=False``, ``time_limit_s=2`` each): the warm
   sweep (``run_scenarios``) vs cold solves of the same edited instances (``es.solve``),
   with the proven gap of each.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_robustness.py [--n 1000] [--single 100]
        [--workers 2] [--old-src /tmp/old/src]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import print_table, run_isolated

SAMPLE = "data/sample"
TARGET_S = 120.0


def _side(n: int, lose: int, workers: int, src: str | None) -> dict[str, Any]:
    """One side, in a fresh process: prepare, then time ``es.robustness`` (``src``: old code)."""
    if src is not None:
        sys.path.insert(0, src)
    import electsec as es

    base = es.prepare(f"{SAMPLE}/centers.geojson", f"{SAMPLE}/garrisons.geojson")
    pool = None
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(workers)
    tick = time.perf_counter()
    found = es.robustness(base, n=n, lose=lose, seed=0, split=True, executor=pool)
    wall = time.perf_counter() - tick
    if pool is not None:
        pool.shutdown()
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "wall_s": wall,
        "draws": found.draws.drop(columns="solve_s"),
        "p_covered": found.centers,
        "repr": repr(found),
        "electsec": es.__file__,
        "worker_rss_mb": children if workers > 1 else float("nan"),
    }


def _robustness(args: argparse.Namespace) -> Any:
    sides = [("in-process", 1, None), (f"{args.workers} processes", args.workers, None)]
    if args.old_src:
        sides.insert(0, (f"old ({args.old_src}), in-process", 1, args.old_src))
    rows, found = [], {}
    for name, workers, src in sides:
        print(f"  {name} ... load average {os.getloadavg()[0]:.2f}", flush=True)
        got = run_isolated(_side, args.n, args.lose, workers, src)
        if "error" in got:
            print(f"  {name}: {got['error']}\n{got.get('traceback', '')}")
            continue
        found[name] = got
        rows.append(
            {
                "side": name,
                "wall s": got["wall_s"],
                "ms per draw": 1000 * got["wall_s"] / args.n,
                "peak RSS MB": got["peak_rss_mb"],
                "worker peak RSS MB": got["worker_rss_mb"],
                "load after": os.getloadavg()[0],
            }
        )
    here = found.get("in-process")
    for row in rows:
        if here is not None:
            row["× in-process"] = row["wall s"] / here["wall_s"]
        draws = found[row["side"]]["draws"]
        row["same rows"] = _yes(here is not None and draws.equals(here["draws"]))
        exact = ["garrisons_lost", "status", "teams_short", "objective"]
        row["same objectives"] = _yes(
            here is not None and draws[exact].equals(here["draws"][exact])
        )
        row["≤ 120 s"] = "MET" if row["wall s"] <= TARGET_S else "MISSED"
    print(f"robustness n={args.n} lose={args.lose} split=True seed=0:")
    columns = ["side", "wall s", "ms per draw", "× in-process", "peak RSS MB"]
    more = ["worker peak RSS MB", "same rows", "same objectives", "≤ 120 s", "load after"]
    print_table(rows, [*columns, *more])
    return here


def _yes(ok: object) -> str:
    return "yes" if ok else "no"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--lose", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="process pool side")
    parser.add_argument("--old-src", default=None, help="src folder of older code to time")
    parser.add_argument("--single", type=int, default=100, help="garrison losses, split=False")
    parser.add_argument("--csv", default=None, help="write the per-scenario gap table here")
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    print(
        f"commit {commit.stdout.strip()}, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (shared 2-core machine)"
    )
    here = _robustness(args) if args.n > 0 else None  # --n 0: single-sourcing only
    if here is not None:
        draws = here["draws"]
        short = draws["teams_short"]
        print(
            f"  {here['repr']}; teams short per draw: mean {short.mean():.2f}, max {short.max()}"
        )
        print(
            f"  worst response m: median {draws['worst_m'].median():.0f}, "
            f"max {draws['worst_m'].max():.0f}; centres with P(covered) < 1: "
            f"{(here['p_covered']['p_covered'] < 1).sum()}"
        )
    if args.single:
        import electsec as es

        _single(
            es.prepare(f"{SAMPLE}/centers.geojson", f"{SAMPLE}/garrisons.geojson"),
            args.single,
            args.csv,
        )


def _single(base: Any, count: int, csv: str | None = None) -> None:
    import electsec as es

    ids = list(base.labels.garrison_ids)[:: max(1, len(base.labels.garrison_ids) // count)][:count]
    scenarios = [es.Scenario(g, garrisons_lost=[g]) for g in ids]
    options = {"coverage": "max", "time_limit_s": 2.0}
    tick = time.perf_counter()
    sweep = es.run_scenarios(base, scenarios, split=False, **options)
    warm_s = time.perf_counter() - tick
    warm_gap = np.array([_gap(sweep.plans[s.name]) for s in scenarios])
    tick = time.perf_counter()
    cold_gap = np.array([_gap(es.solve(s.apply(base), split=False, **options)) for s in scenarios])
    cold_s = time.perf_counter() - tick
    if csv is not None:
        import pandas as pd

        table = {"scenario": [s.name for s in scenarios], "warm_gap": warm_gap}
        pd.DataFrame({**table, "cold_gap": cold_gap}).to_csv(csv, index=False)
    print(f"single-sourcing, {count} garrison losses, time_limit_s=2 each:")
    for name, secs, gap in (("warm sweep", warm_s, warm_gap), ("cold solves", cold_s, cold_gap)):
        print(
            f"  {name}: {secs:.1f} s ({secs / count:.2f} s each); gap % median "
            f"{100 * np.median(gap):.3f}, mean {100 * gap.mean():.3f}, max {100 * gap.max():.3f}"
        )
    print(
        f"  cold / warm wall: {cold_s / warm_s:.2f} x; warm gap <= cold gap in "
        f"{(warm_gap <= cold_gap + 1e-12).sum()}/{count}"
    )


def _gap(plan: object) -> float:
    import electsec as es

    plan = getattr(plan, "partial", plan)
    return float(plan.gap) if isinstance(plan, es.AssignmentResult) else float("nan")


if __name__ == "__main__":
    main()
