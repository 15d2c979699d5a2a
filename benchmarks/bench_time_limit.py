"""How well ``time_limit_s`` is kept: wall time of the whole call against the limit T.

A time limit is a promise (DESIGN.md §6): ``solve_assignment(..., time_limit_s=T)`` returns
within T plus a small overhead, every phase included — validation, arcs, solve, result
tables. Targets: within T + 0.5 s at national scale, within T + 3 s at a million stations,
on a loaded 2-core machine (``--load N`` runs N pure-Python busy loops meanwhile).

Cases, each in its own spawned process (so peak RSS is the case's own):

- ``sample``: the shipped sample (8,703 × 500), ``split=False``, T = 2 and 10;
- ``tight``: synthetic 8,700 × 500, demand 1–6, capacity ≈ 1.05 × demand, ``split=False``,
  T = 2 and 10;
- ``small``: synthetic 3,000 × 150, same demand and capacity, ``split=False``, T = 2;
- ``baghdad backup``: the sample's Baghdad governorate (2,066 × 89), each garrison's
  ``reserve`` a tenth of its capacity, ``backup={"max_distance_m": 20000,
  "centers_per_team": 5}``, ``split=True`` and ``False``, T = 10; and ``plan_election`` on
  the sample roads (``data/sample/roads.gpkg``, ``max_time_s=3600``) with
  ``backup={"max_time_s": 1800, "centers_per_team": 5}``, ``split=True``, T = 30 (the
  network is built before the clock starts; the travel times are part of the call). The
  joint backup search needs far more than T here, so these rows check that it stops;
  their outcome is an ``InfeasibleError`` (some centres have no reserve in reach at all).
- ``million`` (only with ``--million``): bench_million's 1,000,000 × 5,000 instance,
  ``split=False`` and ``split=True``, T = 120.

The layers are built (or read) as GeoDataFrames before the clock starts; the clock
(``time.perf_counter``) covers the whole public call. An exception is an outcome too: its
type is the row's status and the wall time is the time until it was raised. A child that
runs past ``--timeout`` is killed and its row says so. ``load 1m`` is the 1-minute load
average before → after the call. Run from the repository root::

    .venv/bin/python benchmarks/bench_time_limit.py                 # national cases
    .venv/bin/python benchmarks/bench_time_limit.py --load 1 --repeat 3 --json rows.json
    .venv/bin/python benchmarks/bench_time_limit.py --only sample --profile 25
    .venv/bin/python benchmarks/bench_time_limit.py --only backup --load 0
    .venv/bin/python benchmarks/bench_time_limit.py --million --only million   # slow
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import multiprocessing as mp
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from _harness import code_version, machine, peak_rss_mb, print_table, run_isolated, verdict

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
#: The backup option of the Baghdad cases, geodesic and on the sample roads.
BACKUP_M = (("max_distance_m", 20_000), ("centers_per_team", 5))
BACKUP_S = (("max_time_s", 1_800), ("centers_per_team", 5))
#: Allowed overshoot over T, in seconds.
NATIONAL_TARGET_S = 0.5
MILLION_TARGET_S = 3.0
COLUMNS = [
    "case",
    "T",
    "wall_s",
    "overshoot_s",
    "target",
    "verdict",
    "status",
    "gap %",
    "peak RSS MB",
    "load 1m",
]


@dataclasses.dataclass(frozen=True)
class Case:
    """One measurement: an instance (``kind`` + ``params``), ``split`` and the limit T."""

    name: str
    kind: str  # "sample", "synthetic" or "million"
    params: tuple[tuple[str, Any], ...]
    split: bool
    time_limit_s: float
    target_s: float
    backup: tuple[tuple[str, Any], ...] = ()
    roads: bool = False  # plan_election on the sample roads instead of solve_assignment


def default_cases(seed: int, *, million: bool) -> list[Case]:
    """The cases of the brief; the 1M ones only when ``million``."""
    sample = (("centers", str(SAMPLE / "centers.geojson")),)
    sample += (("garrisons", str(SAMPLE / "garrisons.geojson")),)
    tight = (("n", 8_700), ("m", 500), ("seed", seed))
    small = (("n", 3_000), ("m", 150), ("seed", seed))
    big = (("n", 1_000_000), ("m", 5_000), ("seed", 2025))
    cases = [_case(f"sample 8,703×500 split=False T={t:g}", "sample", sample, t) for t in (2, 10)]
    cases += [
        _case(f"tight 8,700×500 split=False T={t:g}", "synthetic", tight, t) for t in (2, 10)
    ]
    cases.append(_case("small 3,000×150 split=False T=2", "synthetic", small, 2))
    cases += [
        dataclasses.replace(
            _case(f"baghdad backup 2,066×89 split={s} T=10", "baghdad", sample, 10, split=s),
            backup=BACKUP_M,
        )
        for s in (True, False)
    ]
    roads = _case("baghdad backup roads plan_election split=True T=30", "baghdad", sample, 30)
    cases.append(dataclasses.replace(roads, split=True, backup=BACKUP_S, roads=True))
    if million:
        cases += [
            _case(f"million 1M×5k split={s} T=120", "million", big, 120, split=s)
            for s in (False, True)
        ]
    return cases


def _case(
    name: str, kind: str, params: tuple[tuple[str, Any], ...], t: float, *, split: bool = False
) -> Case:
    target = MILLION_TARGET_S if kind == "million" else NATIONAL_TARGET_S
    return Case(name, kind, params, split, float(t), target)


# --- instances ------------------------------------------------------------------------


def tight_layers(n: int, m: int, seed: int) -> tuple[Any, Any]:
    """Synthetic n × m: demand 1–6, capacity ≈ 1.05 × total demand, deterministic in seed.

    Locations and the shape of the capacities (stations nearest to each garrison ×
    log-normal noise) come from :func:`bench_million.synthetic`; the capacities are then
    rescaled to ``round(1.05 × Σ demand)``, so the instance is tight nationally and
    tighter locally.
    """
    from bench_million import synthetic

    stations, garrison_xy, weight = synthetic(n, m, seed)
    rng = np.random.default_rng([seed, 1])
    demand = rng.integers(1, 7, size=n).astype(np.int64)
    target = round(1.05 * int(demand.sum()))
    capacity = np.floor(weight * target / weight.sum()).astype(np.int64)
    np.add.at(capacity, rng.choice(m, size=target - int(capacity.sum())), 1)
    return _frames(stations, demand, garrison_xy, capacity)


def _frames(
    stations: np.ndarray, demand: np.ndarray, garrison_xy: np.ndarray, capacity: np.ndarray
) -> tuple[Any, Any]:
    import geopandas as gpd

    def frame(prefix: str, key: str, xy: np.ndarray, column: str, values: np.ndarray) -> Any:
        ids = np.char.add(prefix, np.arange(len(xy)).astype(str)).astype(object)
        return gpd.GeoDataFrame(
            {key: ids, column: values},
            geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
            crs="EPSG:4326",
        )

    centers = frame("S", "center_id", stations, "demand", demand)
    return centers, frame("G", "garrison_id", garrison_xy, "capacity", capacity)


def build(case: Case) -> tuple[Any, Any]:
    """The case's centres and garrisons as GeoDataFrames (not timed)."""
    params = dict(case.params)
    if case.kind == "sample":
        from bench_national import _load

        return _load(params["centers"], params["garrisons"])
    if case.kind == "synthetic":
        return tight_layers(params["n"], params["m"], params["seed"])
    if case.kind == "baghdad":
        return baghdad_layers(params["centers"], params["garrisons"])
    if case.kind == "million":
        from bench_million import _frames as million_frames

        return million_frames(params["n"], params["m"], params["seed"])
    raise ValueError(f"unknown instance kind {case.kind!r}")


def baghdad_layers(centers_path: str, garrisons_path: str) -> tuple[Any, Any]:
    """The sample's Baghdad governorate; each garrison's reserve a tenth of its capacity."""
    from bench_national import _load

    centers, garrisons = _load(centers_path, garrisons_path)
    centers = centers[centers["governorate"] == "Baghdad"].reset_index(drop=True)
    garrisons = garrisons[garrisons["governorate"] == "Baghdad"].reset_index(drop=True)
    return centers, garrisons.assign(reserve=garrisons["capacity"] // 10)


def call(case: Case, centers: Any, garrisons: Any, network: Any) -> Any:
    """The timed public call; an election's plan is its one day's."""
    import electsec as es

    options: dict[str, Any] = {"split": case.split, "time_limit_s": case.time_limit_s}
    if case.backup:
        options["backup"] = dict(case.backup)
    if case.roads:
        layers = {"general": centers}
        election = es.plan_election(layers, garrisons, network, max_time_s=3600, **options)
        return election.days["general"]
    return es.solve_assignment(centers, garrisons, seed=0, **options)


def _network(case: Case) -> Any:
    """The sample road network, built before the clock starts (None without roads)."""
    if not case.roads:
        return None
    import geopandas as gpd

    from electsec.network import RoadNetwork

    return RoadNetwork.from_roads(gpd.read_file(SAMPLE / "roads.gpkg"))


# --- measuring --------------------------------------------------------------------------


def measure(case: Case, repeat: int = 1) -> dict[str, Any]:
    """Child side: build the layers, then time ``repeat`` calls of the public API."""
    from bench_national import check_plan

    import electsec as es

    code = code_version()
    centers, garrisons = build(case)
    network = _network(case)
    _ = es.solve_assignment, es.plan_election  # load the lazy modules before the clock
    setup = peak_rss_mb()
    runs = []
    for _ in range(repeat):
        plan, error = None, ""
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        try:
            plan = call(case, centers, garrisons, network)
        except Exception as exc:  # an exception is an outcome to record
            error = f"{type(exc).__name__}: {exc}"
        wall = time.perf_counter() - started
        load = {"load_before": load_before, "load_after": os.getloadavg()[0]}
        runs.append({**_outcome(plan, error, wall, centers, garrisons, check_plan), **load})
        del plan
    return {"runs": runs, "setup_rss_mb": setup, "code": code}


def _outcome(
    plan: Any, error: str, wall: float, centers: Any, garrisons: Any, check: Any
) -> dict[str, Any]:
    if plan is None:
        kind = error.split(":", maxsplit=1)[0]
        return {"wall_s": wall, "status": kind, "error": error, "gap_pct": None}
    return {
        "wall_s": wall,
        "status": plan.status,
        "error": "",
        "gap_pct": 100 * plan.gap,
        "objective": plan.objective,
        "bound": plan.bound,
        "solve_time_s": plan.solve_time_s,
        "check": check(plan, centers, garrisons),
    }


def _spin() -> None:  # pragma: no cover - runs in the load processes
    while True:
        pass


@contextlib.contextmanager
def busy_load(n: int) -> Iterator[list[Any]]:
    """Run ``n`` pure-Python busy loops in spawned processes; stop them on exit, always."""
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_spin, daemon=True, name=f"busy-{i}") for i in range(n)]
    try:
        for proc in procs:
            proc.start()
        yield procs
    finally:
        for proc in procs:
            if proc.pid is not None:
                proc.terminate()
        for proc in procs:
            if proc.pid is not None:
                proc.join(timeout=5)
                if proc.is_alive():
                    proc.kill()
                    proc.join()


def timeout_for(case: Case, repeat: int) -> float:
    """How long a child may run: data loading plus ``repeat`` calls of up to 3 T + 60 s."""
    setup = 300.0 if case.kind == "million" else 60.0
    return setup + repeat * (3 * case.time_limit_s + 60.0)


def run_case(
    case: Case, repeat: int, timeout_s: float | None = None, profile: int = 0
) -> dict[str, Any]:
    """Measure one case in a spawned child; return its row (the worst overshoot of the runs)."""
    limit = timeout_s if timeout_s is not None else timeout_for(case, repeat)
    result = run_isolated(measure, case, repeat, timeout_s=limit, profile=profile)
    row: dict[str, Any] = {
        "case": case.name,
        "T": case.time_limit_s,
        "split": case.split,
        "target": case.target_s,
        "peak RSS MB": result["peak_rss_mb"],
    }
    if "error" in result:  # killed, crashed, or failed outside the timed call
        last = result["traceback"].strip().splitlines()[-1] if "traceback" in result else ""
        return {
            **row,
            "wall_s": float("nan"),
            "overshoot_s": float("nan"),
            "verdict": verdict(ok=False),
            "status": result["error"],
            "gap %": float("nan"),
            "error": last or result["error"],
            "runs": [],
        }
    runs = result["runs"]
    worst = max(runs, key=lambda r: r["wall_s"])
    overshoot = worst["wall_s"] - case.time_limit_s
    gap = worst["gap_pct"]
    return {
        **row,
        "wall_s": worst["wall_s"],
        "overshoot_s": overshoot,
        "verdict": verdict(overshoot <= case.target_s),
        "status": worst["status"],
        "gap %": float("nan") if gap is None else gap,
        "error": worst["error"],
        "check": worst.get("check", ""),
        "load 1m": f"{worst['load_before']:.1f}→{worst['load_after']:.1f}",
        "runs": runs,
        "setup_rss_mb": result["setup_rss_mb"],
        "code": result["code"],
        "profile": result.get("profile", ""),
    }


def run_all(
    cases: list[Case],
    *,
    repeat: int,
    load: int,
    timeout_s: float | None = None,
    profile: int = 0,
) -> list[dict[str, Any]]:
    """Measure every case with ``load`` busy loops running; print each row as it ends."""
    rows = []
    with busy_load(load):
        for case in cases:
            row = run_case(case, repeat, timeout_s, profile)
            rows.append(row)
            print(f"  {case.name}: {row['wall_s']:.2f} s, {row['status']}", flush=True)
    return rows


def _raise_on_sigterm(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load", type=int, default=1, help="background busy-loop processes")
    parser.add_argument("--repeat", type=int, default=1, help="runs per case (worst reported)")
    parser.add_argument("--million", action="store_true", help="add the 1M × 5k cases (slow)")
    parser.add_argument("--only", default="", help="run only cases whose name contains this")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic instances")
    parser.add_argument(
        "--timeout", type=float, default=None, help="kill a case's child after S seconds"
    )
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    parser.add_argument(
        "--profile", type=int, default=0, help="cProfile each case; print top N functions"
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _raise_on_sigterm)  # so the load processes are stopped
    cases = [c for c in default_cases(args.seed, million=args.million) if args.only in c.name]
    print(f"# bench_time_limit — {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(machine())
    print(f"load: {args.load} busy-loop process(es); repeat {args.repeat}; seed {args.seed}")
    rows = run_all(
        cases, repeat=args.repeat, load=args.load, timeout_s=args.timeout, profile=args.profile
    )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print_table(rows, COLUMNS)
    _notes(rows)
    if args.json:
        meta = {"date": f"{dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}"}
        meta |= {"machine": machine(), "load": args.load, "repeat": args.repeat}
        text = json.dumps(_plain({**meta, "rows": rows}), indent=1, allow_nan=False)
        Path(args.json).write_text(text + "\n")


def _plain(value: Any) -> Any:
    """``value`` with NaN as None (strict JSON) and numpy scalars as Python numbers."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _notes(rows: list[dict[str, Any]]) -> None:
    codes = {r["code"] for r in rows if "code" in r}
    for code in sorted(codes):
        print(f"\nelectsec {code}")
    for r in rows:
        walls = ", ".join(f"{x['wall_s']:.2f}" for x in r["runs"])
        extra = f"; error: {r['error']}" if r["error"] else ""
        check = f"; plan check: {r['check']}" if r.get("check") else ""
        own = ", ".join(f"{x['solve_time_s']:.2f}" for x in r["runs"] if "solve_time_s" in x)
        own = f"; solve_time_s [{own}]" if own else ""
        print(f"- {r['case']}: runs [{walls}] s{own}{check}{extra}")
    for r in rows:
        if r.get("profile"):
            print(f"\n--- cProfile of {r['case']} ---\n{r['profile']}")


if __name__ == "__main__":
    main()
