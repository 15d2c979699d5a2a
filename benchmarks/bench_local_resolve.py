"""Monte Carlo draws with the later pricing rounds re-solved locally vs solved whole (A/B).

The draws of ``es.robustness(base, n, lose=5, seed=0, split=True)`` on the full sample,
each solved twice in this one process, as a robustness worker solves it
(``solvers.tally.tally_edit``): once with the rounds after the first re-solved near the
priced arcs (``solvers.resolve``, the default) and once with every round solved whole
and the look-ahead slack of before (1,000), alternating which goes first. The 2 cores
are shared, so only the ratio measured side by side is meaningful. The rows are
compared column by column (``solve_s`` aside).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_local_resolve.py [--n 100] [--lose 5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

SAMPLE = "data/sample"
#: ``es.robustness(n=1000, lose=5)`` in-process before this change (idle machine,
#: benchmarks/RESULTS.md, "Monte Carlo robustness after the tally").
BEFORE_S = 155.9


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--lose", type=int, default=5)
    args = parser.parse_args()
    import electsec as es
    from electsec import montecarlo
    from electsec.solvers import flow, warm
    from electsec.solvers.tally import tally_edit
    from electsec.sweeping import reference

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    print(f"commit {commit.stdout.strip()}, load average {os.getloadavg()}")
    base = es.prepare(f"{SAMPLE}/centers.geojson", f"{SAMPLE}/garrisons.geojson")
    lost, teams = montecarlo._draws(base, args.n, args.lose, 0, 0.0)
    capacities = montecarlo._capacities(base, lost, teams)
    split = True
    settings, limit = montecarlo._settings(split, {"coverage": "max", "seed": 0})
    solved = warm.WarmBase.build(base)
    ref = reference(es.solve(base, split=True, coverage="max", seed=0), base)
    slack = warm.LOOKAHEAD_SLACK
    sides = {"local": (True, slack), "whole": (False, 1_000)}
    seconds = dict.fromkeys(sides, 0.0)
    rows: dict[str, list[tuple[object, ...]]] = {side: [] for side in sides}
    for k, capacity in enumerate(capacities):
        for side in list(sides) if k % 2 == 0 else list(sides)[::-1]:
            flow.LOCAL_RESOLVE, warm.LOOKAHEAD_SLACK = sides[side]
            tick = time.perf_counter()
            got = tally_edit(solved, ref, warm.Edit(capacity=capacity), settings, limit)
            seconds[side] += time.perf_counter() - tick
            rows[side].append(got.row[:-1])
    flow.LOCAL_RESOLVE, warm.LOOKAHEAD_SLACK = True, slack
    _report(args.n, seconds, rows)
    print(f"load average at the end {os.getloadavg()}")


def _report(n: int, seconds: dict[str, float], rows: dict[str, list[tuple[object, ...]]]) -> None:
    ratio = seconds["local"] / seconds["whole"]
    for side, secs in seconds.items():
        print(f"  {side}: {secs:.1f} s, {1000 * secs / n:.1f} ms per draw")
    print(f"  local / whole per draw: {ratio:.3f}; n=1000 projected {ratio * BEFORE_S:.1f} s")
    print("  (from the in-process 155.9 s measured idle before the change)")
    names = ["status", "teams_short", "centers_uncovered", "objective", "objective_change_pct"]
    names += ["worst", "centers_changed"]
    for j, name in enumerate(names):
        same = sum(a[j] == b[j] for a, b in zip(rows["local"], rows["whole"], strict=True))
        print(f"  {name}: equal in {same}/{n} draws")


if __name__ == "__main__":
    main()
