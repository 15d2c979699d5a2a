"""Monte Carlo robustness and single-sourcing scenarios on the national sample.

1. ``es.robustness(base, n=1000, lose=5, seed=0, split=True)``: wall time.
2. Single-sourcing garrison losses (``split=False``, ``time_limit_s=2`` each): the warm
   sweep (``run_scenarios``) vs cold solves of the same edited instances (``es.solve``),
   with the proven gap of each.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_robustness.py [--n 1000] [--single 100]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

import numpy as np

import electsec as es

SAMPLE = "data/sample"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--lose", type=int, default=5)
    parser.add_argument("--single", type=int, default=100, help="garrison losses, split=False")
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    print(
        f"commit {commit.stdout.strip()}, load average {os.getloadavg()[0]:.2f} "
        "(shared 2-core machine)"
    )
    base = es.prepare(f"{SAMPLE}/centers.geojson", f"{SAMPLE}/garrisons.geojson")
    tick = time.perf_counter()
    found = es.robustness(base, n=args.n, lose=args.lose, seed=0, split=True)
    mc_s = time.perf_counter() - tick
    short = found.draws["teams_short"]
    print(f"robustness n={args.n} lose={args.lose} split=True: {mc_s:.1f} s; {found}")
    print(
        f"  teams short per draw: mean {short.mean():.2f}, max {short.max()}, "
        f"P(>0) {(short > 0).mean():.3f}"
    )
    print(
        f"  worst response m: median {found.draws['worst_m'].median():.0f}, "
        f"max {found.draws['worst_m'].max():.0f}"
    )
    print(f"  centres with P(covered) < 1: {(found.centers['p_covered'] < 1).sum()}")
    if args.single:
        _single(base, args.single)


def _single(base: es.Instance, count: int) -> None:
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
    plan = getattr(plan, "partial", plan)
    return float(plan.gap) if isinstance(plan, es.AssignmentResult) else float("nan")


if __name__ == "__main__":
    main()
