"""N-1 contingency on the national sample: warm sweep vs a loop of solve_assignment, and Dask.

Prints, in one run: the full N-1 (all garrisons, ``split=True``, exact) with
``es.contingency``; a loop calling ``solve_assignment`` on layers with one garrison's
capacity set to 0 for a subset of the garrisons (timed, then extrapolated to all of them,
and checked to give the same objectives); and the same N-1 on a 2-worker Dask
``LocalCluster`` (speed-up, and whether the table is identical).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_contingency.py [--loop 20] [--no-dask]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

import pandas as pd

import electsec as es

SAMPLE = "data/sample"


def _commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip()


def _untimed(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns="solve_s").sort_values("garrison_id", ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loop", type=int, default=20, help="garrisons timed in the loop")
    parser.add_argument("--no-dask", action="store_true")
    args = parser.parse_args()
    print(f"commit {_commit()}, load average {os.getloadavg()[0]:.2f} (shared 2-core machine)")
    centers = es.read_polling_centers(f"{SAMPLE}/centers.geojson")
    garrisons = es.read_garrisons(f"{SAMPLE}/garrisons.geojson")
    tick = time.perf_counter()
    base = es.prepare(centers, garrisons)
    prepare_s = time.perf_counter() - tick
    tick = time.perf_counter()
    table = es.contingency(base, split=True)
    sweep_s = time.perf_counter() - tick
    m = len(garrisons)
    print(f"prepare {prepare_s:.2f} s; es.contingency, {m} garrisons, split=True: {sweep_s:.1f} s")
    print(f"  statuses: {table['status'].value_counts().to_dict()}")
    print(f"  single points of failure: {int(table['single_point_of_failure'].sum())}")
    print(
        f"  per-loss solve_s: median {table['solve_s'].median():.3f}, "
        f"max {table['solve_s'].max():.3f}"
    )
    step = max(1, m // args.loop)
    subset = list(garrisons.index[::step][: args.loop])
    by_id = table.set_index("garrison_id")
    tick = time.perf_counter()
    same = 0
    for g in subset:
        fewer = garrisons.copy()
        fewer.loc[g, "capacity"] = 0
        direct = es.solve_assignment(centers, fewer, split=True, coverage="max")
        same += direct.objective == by_id.loc[g, "objective"]
    loop_s = time.perf_counter() - tick
    per = loop_s / len(subset)
    print(
        f"loop of solve_assignment, {len(subset)} of {m} garrisons: {loop_s:.1f} s "
        f"({per:.2f} s each) -> {per * m:.0f} s extrapolated to {m}; "
        f"speed-up {per * m / sweep_s:.1f} x; objectives equal {same}/{len(subset)}"
    )
    if not args.no_dask:
        _dask(base, table, sweep_s)


def _dask(base: es.Instance, table: pd.DataFrame, sweep_s: float) -> None:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(  # free ports only (8787 may be taken), as tests/helpers.local_cluster
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            scheduler_kwargs={"dashboard": False},
        ) as cluster,
        Client(cluster) as client,
    ):
        tick = time.perf_counter()
        there = es.contingency(base, split=True, executor=client)
        dask_s = time.perf_counter() - tick
    identical = _untimed(there).equals(_untimed(table))
    print(
        f"2-worker Dask LocalCluster: {dask_s:.1f} s, speed-up {sweep_s / dask_s:.2f} x vs "
        f"in-process; table identical: {identical}"
    )


if __name__ == "__main__":
    main()
