"""Scenarios solved whole (tiers, limits, added centres): the restart from the base's pool.

Issue #14: a scenario that changes tiers, limits or centres cannot use the warm repair
(its rows and allowed pairs differ from the base's), so ``run_scenarios`` solves it whole;
its split LP starts from the base optimum's pool where those pairs are still allowed
(``solvers.warm.Reshaped``). Three sides on the national sample (8,703 centres minus
``--added`` held back, × 500 garrisons, tier limits 60/120/250 km), in one process:

* ``restart``: ``es.run_scenarios`` (base solved once, each scenario from the pool);
* ``cold sweep``: the same sweep with the start switched off (each scenario solved cold);
* ``loop``: ``scenario.apply(base)`` then ``es.solve`` for each, what a planner would do.

The sweeps' per-scenario ``solve_s`` are compared, and every plan's objective against
the loop's (equal: the same optimum); plans equal row for row are counted too (a split
LP can have several optimal plans of the same cost).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_reshaped.py [--per-kind 4]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np
from _harness import code_version

import electsec as es
from electsec.solvers import warm

LIMITS = {"high": 60000.0, "medium": 120000.0, "low": 250000.0}


def _scenarios(base: es.Instance, held: Any, per_kind: int) -> list[es.Scenario]:
    rng = np.random.default_rng(0)
    ids, gids = list(base.labels.center_ids), list(base.labels.garrison_ids)
    found = []
    step = max(1, len(held) // per_kind)
    for k in range(per_kind):
        picked = rng.choice(ids, 100, replace=False)
        found.append(es.Scenario(f"retier {k}", tiers={str(c): "high" for c in picked}))
        found.append(es.Scenario(f"limit {k}", limits={"low": 200000.0 + 10000.0 * k}))
        added = held.iloc[k * step : (k + 1) * step]
        found.append(es.Scenario(f"added {k}", centers_added=added, garrisons_lost=[gids[k]]))
    return found


def _cold(*_: object) -> None:
    """No start: each scenario's split LP is solved cold."""


def _same_rows(a: es.AssignmentResult, b: es.AssignmentResult) -> bool:
    key = ["center_id", "garrison_id", "teams"]
    left = a.assignments[key].sort_values(key[:2], ignore_index=True)
    return bool(left.equals(b.assignments[key].sort_values(key[:2], ignore_index=True)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-kind", type=int, default=4, help="scenarios of each kind")
    parser.add_argument("--added", type=int, default=40, help="centres held back to add")
    args = parser.parse_args()
    print(f"{code_version()}; load average {os.getloadavg()} (shared 2-core machine)")
    centers = es.read_polling_centers("data/sample/centers.geojson")
    garrisons = es.read_garrisons("data/sample/garrisons.geojson")
    base = es.prepare(centers.iloc[: -args.added], garrisons, max_distance_m=LIMITS)
    scenarios = _scenarios(base, centers.iloc[-args.added :], args.per_kind)
    options: dict[str, Any] = {"split": True, "coverage": "max"}
    tick = time.perf_counter()
    restart = es.run_scenarios(base, scenarios, **options)
    restart_s = time.perf_counter() - tick
    real = warm.Reshaped.start
    warm.Reshaped.start = _cold  # type: ignore[method-assign]
    try:
        tick = time.perf_counter()
        cold = es.run_scenarios(base, scenarios, **options)
        cold_s = time.perf_counter() - tick
    finally:
        warm.Reshaped.start = real  # type: ignore[method-assign]
    tick = time.perf_counter()
    loop = {s.name: es.solve(s.apply(base), **options) for s in scenarios}
    loop_s = time.perf_counter() - tick
    n = len(scenarios)
    same = sum(restart.plans[k].objective == p.objective for k, p in loop.items())
    rows = sum(_same_rows(restart.plans[k], p) for k, p in loop.items())
    per_restart, per_cold = restart.table["solve_s"], cold.table["solve_s"]
    print(f"{n} scenarios ({args.per_kind} each of retier, limit, added+lost)")
    print(
        f"restart sweep: {restart_s:.2f} s; per scenario solve_s median {per_restart.median():.3f}"
    )
    print(f"cold sweep:    {cold_s:.2f} s; per scenario solve_s median {per_cold.median():.3f}")
    print(f"loop apply + es.solve: {loop_s:.2f} s")
    print(
        f"per-solve speed-up (median cold / median restart): "
        f"{per_cold.median() / per_restart.median():.2f} x; sweep {cold_s / restart_s:.2f} x"
    )
    print(f"objectives equal to the loop's: {same}/{n}; plans equal row for row: {rows}/{n}")
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
