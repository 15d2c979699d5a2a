"""VRPTW benchmark: electsec's routing wrapper vs raw PyVRP vs raw OR-Tools routing.

Reads Solomon (100 customers) and optionally Gehring-Homberger instances from
``../shared/benchmarks/vrptw``, and the hierarchical best-known solutions (fewest vehicles,
then real Euclidean distance) from its ``bks/`` folder. All three engines get the same
integer data in one process, one after the other, each with the same wall-clock budget and
one thread (PyVRP and OR-Tools routing search on one thread):

- distances are Euclidean x ``--scale`` rounded to integers (the objective); travel times
  are Euclidean x scale rounded *up*, so a schedule feasible in integers is feasible in
  real arithmetic too; windows and service times are scaled exactly;
- electsec: ``RoutingProblem.create`` + ``solve_routes(time_limit_s=T, seed)`` (its clock
  includes building the model);
- raw PyVRP: ``pyvrp.ProblemData`` + ``pyvrp.solve(data, MaxRuntime(T), seed)``;
- OR-Tools: ``RoutingModel`` with a capacity and a time dimension (windows on the service
  start), PATH_CHEAPEST_ARC + GUIDED_LOCAL_SEARCH, ``time_limit = T``.

Every answer is re-checked by an independent checker here in real (float) Euclidean
arithmetic: each customer once, capacity, every window, return by the depot's due date. The
gap is (real distance - BKS distance) / BKS distance. The engines minimise distance only,
while the BKS minimises vehicles first, so a gap can be negative with more vehicles.

Usage::

    python benchmarks/bench_vrptw.py --instances R101,C101,RC101,R201,C201,RC201 \
        --time-limit-s 10
    python benchmarks/bench_vrptw.py --all --time-limit-s 10      # all 56 Solomon
    python benchmarks/bench_vrptw.py --instances c1_10_1 --time-limit-s 60   # a GH 1000
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import os
import platform
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from electsec.routing import RoutingProblem, VehicleType, solve_routes  # noqa: E402

VRPTW = ROOT.parent / "shared" / "benchmarks" / "vrptw"
DEFAULT = "R101,C101,RC101,R201,C201,RC201"
ENGINES = ("electsec", "pyvrp", "ortools")


@dataclass(frozen=True)
class Instance:
    name: str
    xy: np.ndarray  # (n+1, 2), row 0 the depot
    demand: np.ndarray
    ready: np.ndarray
    due: np.ndarray
    service: np.ndarray
    fleet: int
    capacity: int
    bks_vehicles: int | None
    bks_distance: float | None

    @property
    def n(self) -> int:
        return len(self.xy) - 1


def _bks() -> dict[str, tuple[int, float]]:
    out = {}
    for file in ("solomon_100_bks.csv", "gehring_homberger_bks.csv"):
        path = VRPTW / "bks" / file
        if path.exists():
            with path.open() as fh:
                for row in csv.DictReader(fh):
                    out[row["instance"].lower()] = (
                        int(row["bks_vehicles"]),
                        float(row["bks_distance"]),
                    )
    return out


def find_file(name: str) -> Path:
    for folder in [VRPTW / "solomon_100", *sorted((VRPTW / "gehring_homberger").glob("*"))]:
        for path in folder.glob("*.txt"):
            if path.stem.lower() == name.lower():
                return path
    raise SystemExit(f"no instance {name!r} under {VRPTW}")


def read_instance(path: Path, bks: dict[str, tuple[int, float]]) -> Instance:
    lines = path.read_text().splitlines()
    vehicle = next(i for i, line in enumerate(lines) if line.strip().startswith("NUMBER"))
    fleet, capacity = map(int, lines[vehicle + 1].split())
    rows = [r.split() for r in lines[vehicle + 2 :]]
    table = np.array([r for r in rows if len(r) == 7 and r[0].isdigit()], dtype=float)
    best = bks.get(path.stem.lower())
    return Instance(
        name=path.stem,
        xy=table[:, 1:3],
        demand=table[:, 3].astype(np.int64),
        ready=table[:, 4],
        due=table[:, 5],
        service=table[:, 6],
        fleet=fleet,
        capacity=capacity,
        bks_vehicles=None if best is None else best[0],
        bks_distance=None if best is None else best[1],
    )


def real_distances(inst: Instance) -> np.ndarray:
    diff = inst.xy[:, None, :] - inst.xy[None, :, :]
    return np.hypot(diff[..., 0], diff[..., 1])


def integer_data(inst: Instance, scale: int, vehicle_cost: int) -> dict[str, np.ndarray]:
    real = real_distances(inst) * scale
    return {
        "vehicle_cost": np.array(vehicle_cost * scale),
        "dist": np.rint(real).astype(np.int64),
        "dur": np.ceil(real - 1e-9).astype(np.int64),
        "ready": np.rint(inst.ready * scale).astype(np.int64),
        "due": np.rint(inst.due * scale).astype(np.int64),
        "service": np.rint(inst.service * scale).astype(np.int64),
    }


# ------------------------------------------------------------------ engines


def run_electsec(inst: Instance, data: dict[str, np.ndarray], limit: float, seed: int):
    vt = VehicleType(
        count=inst.fleet,
        capacity=inst.capacity,
        shift_end_s=int(data["due"][0]),
        fixed_cost=int(data["vehicle_cost"]),
    )
    problem = RoutingProblem.create(
        data["dist"],
        data["dur"],
        n_depots=1,
        vehicle_types=[vt],
        demand=inst.demand[1:],
        ready_s=data["ready"][1:],
        due_s=data["due"][1:],
        service_s=data["service"][1:],
        xy=inst.xy,
    )
    routes = solve_routes(problem, time_limit_s=limit, seed=seed)
    if routes.dropped or not routes.feasible:
        return None
    return [[s + 1 for s in r.stops] for r in routes.routes]


def run_pyvrp(inst: Instance, data: dict[str, np.ndarray], limit: float, seed: int):
    import pyvrp
    from pyvrp.stop import MaxRuntime

    n = inst.n
    locations = [pyvrp.Location(float(x), float(y)) for x, y in inst.xy]
    clients = [
        pyvrp.Client(
            location=i,
            delivery=[int(inst.demand[i])],
            service_duration=int(data["service"][i]),
            tw_early=int(data["ready"][i]),
            tw_late=int(data["due"][i]),
        )
        for i in range(1, n + 1)
    ]
    depot = pyvrp.Depot(location=0)
    vt = pyvrp.VehicleType(
        num_available=inst.fleet,
        capacity=[inst.capacity],
        tw_late=int(data["due"][0]),
        fixed_cost=int(data["vehicle_cost"]),
    )
    problem = pyvrp.ProblemData(locations, clients, [depot], [vt], [data["dist"]], [data["dur"]])
    result = pyvrp.solve(problem, MaxRuntime(limit), seed=seed, collect_stats=False)
    if not result.is_feasible():
        return None
    return [[a.idx + 1 for a in r.schedule() if a.is_client()] for r in result.best.routes()]


def run_ortools(
    inst: Instance,
    data: dict[str, np.ndarray],
    limit: float,
    seed: int,
    first: str = "PATH_CHEAPEST_ARC",
):
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    del seed  # OR-Tools routing has no seed: it is deterministic for a given limit
    n1 = inst.n + 1
    dist, dur, service = data["dist"], data["dur"], data["service"]
    manager = pywrapcp.RoutingIndexManager(n1, inst.fleet, 0)
    model = pywrapcp.RoutingModel(manager)
    dist_list, time_list = dist.tolist(), (dur + service[:, None]).tolist()

    def distance(i: int, j: int) -> int:
        return dist_list[manager.IndexToNode(i)][manager.IndexToNode(j)]

    def travel(i: int, j: int) -> int:
        return time_list[manager.IndexToNode(i)][manager.IndexToNode(j)]

    demand = inst.demand.tolist()
    model.SetArcCostEvaluatorOfAllVehicles(model.RegisterTransitCallback(distance))
    model.SetFixedCostOfAllVehicles(int(data["vehicle_cost"]))
    load = model.RegisterUnaryTransitCallback(lambda i: demand[manager.IndexToNode(i)])
    start_at_zero, free_start = True, False  # loads start empty; departures are free
    caps = [inst.capacity] * inst.fleet
    model.AddDimensionWithVehicleCapacity(load, 0, caps, start_at_zero, "Load")
    horizon = int(data["due"][0])
    time_cb = model.RegisterTransitCallback(travel)
    model.AddDimension(time_cb, horizon, horizon, free_start, "Time")
    time_dim = model.GetDimensionOrDie("Time")
    for node in range(1, n1):
        idx = manager.NodeToIndex(node)
        time_dim.CumulVar(idx).SetRange(int(data["ready"][node]), int(data["due"][node]))
    for v in range(inst.fleet):
        time_dim.CumulVar(model.Start(v)).SetRange(0, horizon)
        time_dim.CumulVar(model.End(v)).SetRange(0, horizon)
    params = pywrapcp.DefaultRoutingSearchParameters()
    strategies = routing_enums_pb2.FirstSolutionStrategy
    params.first_solution_strategy = getattr(strategies, first)
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(int(limit * 1000))
    solution = model.SolveWithParameters(params)
    if solution is None:
        return None
    routes = []
    for v in range(inst.fleet):
        idx, route = solution.Value(model.NextVar(model.Start(v))), []
        while not model.IsEnd(idx):
            route.append(manager.IndexToNode(idx))
            idx = solution.Value(model.NextVar(idx))
        if route:
            routes.append(route)
    return routes


RUNNERS = {"electsec": run_electsec, "pyvrp": run_pyvrp, "ortools": run_ortools}


# ------------------------------------------------------------------ independent checker


def check(inst: Instance, routes: list[list[int]]) -> tuple[bool, float, str]:
    """Check in real arithmetic; return (feasible, real distance, why not)."""
    d = real_distances(inst)
    seen = sorted(c for r in routes for c in r)
    if seen != list(range(1, inst.n + 1)):
        return False, math.nan, "customers not served exactly once"
    if len(routes) > inst.fleet:
        return False, math.nan, f"{len(routes)} routes for a fleet of {inst.fleet}"
    total, eps = 0.0, 1e-6
    for route in routes:
        if inst.demand[route].sum() > inst.capacity:
            return False, math.nan, f"route over capacity: {route}"
        t, here = 0.0, 0
        for c in route:
            t = max(t + d[here, c], inst.ready[c])
            if t > inst.due[c] + eps:
                return False, math.nan, f"customer {c} served at {t:.3f} > due {inst.due[c]}"
            t += inst.service[c]
            total += d[here, c]
            here = c
        t += d[here, 0]
        total += d[here, 0]
        if t > inst.due[0] + eps:
            return False, math.nan, f"route back at {t:.3f} > depot due {inst.due[0]}"
    return True, total, ""


# ------------------------------------------------------------------ driver


def run_instance(inst: Instance, args: argparse.Namespace) -> dict[str, dict]:
    data = integer_data(inst, args.scale, args.vehicle_cost)
    out = {}
    for engine in args.engines:
        start = time.perf_counter()
        extra = {"first": args.ortools_first} if engine == "ortools" else {}
        routes = RUNNERS[engine](inst, data, args.time_limit_s, args.seed, **extra)
        wall = time.perf_counter() - start
        if routes is None:
            out[engine] = {"ok": False, "why": "no feasible solution", "wall": wall}
            continue
        ok, real, why = check(inst, routes)
        gap = (real - inst.bks_distance) / inst.bks_distance * 100 if inst.bks_distance else None
        out[engine] = {"ok": ok, "why": why, "wall": wall, "distance": real}
        objective = real + args.vehicle_cost * len(routes)
        out[engine] |= {"vehicles": len(routes), "gap": gap, "objective": objective}
    return out


def _cell(res: dict) -> str:
    if not res["ok"]:
        return f"{'—':>9} {'—':>3} {'—':>7}"
    gap = "" if res["gap"] is None else f"{res['gap']:+7.2f}"
    return f"{res['distance']:9.2f} {res['vehicles']:3d} {gap:>7}"


def _mean_gaps(results: dict[str, dict[str, dict]], engines: tuple[str, ...]) -> list[str]:
    """Print each engine's mean gap over its own solved instances and over the common ones."""
    both = [
        n
        for n, r in results.items()
        if all(r[e]["ok"] and r[e]["gap"] is not None for e in engines)
    ]
    for e in engines:
        own = [r[e]["gap"] for r in results.values() if r[e]["ok"] and r[e]["gap"] is not None]
        common = [results[n][e]["gap"] for n in both]
        mean = f"{np.mean(own):+.3f} %" if own else "n/a"
        mean_common = f"{np.mean(common):+.3f} %" if common else "n/a"
        vehicles = sum(r[e].get("vehicles", 0) for r in results.values() if r[e]["ok"])
        print(
            f"  {e:9s} solved {len(own)}/{len(results)}: mean gap {mean} (vehicles {vehicles}); "
            f"on the {len(both)} all solved: {mean_common}"
        )
    return both


def summarise(results: dict[str, dict[str, dict]], engines: tuple[str, ...]) -> None:
    print("\nSummary (mean gap to the BKS distance):")
    _mean_gaps(results, engines)
    pair = [
        n
        for n, r in results.items()
        if all(e in r and r[e]["ok"] and r[e]["gap"] is not None for e in ("electsec", "pyvrp"))
    ]
    if pair:
        es, pv = (
            np.array([results[n][e]["objective"] for n in pair]) for e in ("electsec", "pyvrp")
        )
        diff = np.mean([results[n]["electsec"]["gap"] - results[n]["pyvrp"]["gap"] for n in pair])
        verdict = "met" if diff <= 0.3 else "MISSED"
        print(f"  electsec - pyvrp on {len(pair)}: {diff:+.3f} pp (target <= +0.3 pp: {verdict})")
        print(
            f"  objective ratio electsec/pyvrp: mean {np.mean(es / pv):.4f}, "
            f"max {max(es / pv):.4f}"
        )
    if {"electsec", "ortools"} <= set(engines):
        solved = [n for n, r in results.items() if r["ortools"]["ok"]]
        if solved:
            es, ot = (np.array([results[n][e].get("objective", np.inf) for n in solved])
                      for e in ("electsec", "ortools"))  # fmt: skip
            ahead, tied = int((es < ot - 0.005).sum()), int((abs(es - ot) <= 0.005).sum())
            behind = [n for n, a, b in zip(solved, es, ot, strict=True) if a > b + 0.005]
            print(f"  OR-Tools solved {len(solved)}/{len(results)}; electsec ahead on {ahead}, "
                  f"tied on {tied}, behind on {len(behind)} {behind or ''}")  # fmt: skip
            print(f"  objective ratio electsec/ortools: mean {np.mean(es / ot):.4f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS of this process (all engines): {peak:.0f} MB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--instances", default=DEFAULT, help="comma-separated names")
    parser.add_argument("--all", action="store_true", help="all 56 Solomon instances")
    parser.add_argument("--time-limit-s", type=float, default=10.0)
    parser.add_argument("--scale", type=int, default=100, help="distance scale to integers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--vehicle-cost",
        type=int,
        default=0,
        help="fixed cost per vehicle in distance units (e.g. 1000: fewest vehicles first)",
    )
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument(
        "--ortools-first",
        default="PATH_CHEAPEST_ARC",
        help="OR-Tools first-solution strategy (e.g. PARALLEL_CHEAPEST_INSERTION)",
    )
    args = parser.parse_args(argv)
    args.engines = tuple(e for e in args.engines.split(",") if e)
    bks = _bks()
    if args.all:
        paths = sorted((VRPTW / "solomon_100").glob("*.txt"))
    else:
        paths = [find_file(n.strip()) for n in args.instances.split(",") if n.strip()]
    now = dt.datetime.now(dt.UTC)
    print(
        f"# bench_vrptw {now:%Y-%m-%d %H:%M} UTC, {platform.node()}, load {os.getloadavg()[0]:.2f}"
    )
    print(f"# {args.time_limit_s:g} s per engine, scale {args.scale}, seed {args.seed}, "
          f"vehicle cost {args.vehicle_cost}, "
          f"OR-Tools first solution {args.ortools_first}")  # fmt: skip
    head = "  ".join(f"{e + ' dist':>9} {'veh':>3} {'gap %':>7}" for e in args.engines)
    print(f"{'instance':10s} {'BKS':>9} {'veh':>3}  {head}")
    results = {}
    for path in paths:
        inst = read_instance(path, bks)
        res = run_instance(inst, args)
        results[inst.name] = res
        bks_cell = f"{inst.bks_distance or math.nan:9.2f} {inst.bks_vehicles or 0:3d}"
        row = "  ".join(_cell(res[e]) for e in args.engines)
        print(f"{inst.name:10s} {bks_cell}  {row}", flush=True)
        for e in args.engines:
            if res[e]["why"]:
                print(f"    {e}: {res[e]['why']}")
    summarise(results, args.engines)


if __name__ == "__main__":
    main()
