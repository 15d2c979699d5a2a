"""Ballot-transfer routing (electsec.routing): an independent checker and a brute force.

The checker recomputes every time, load, distance and duration from the problem's own
matrices; the brute force enumerates every assignment of stops to vehicles and every visiting
order, so the wrapper's objective on tiny instances is compared with the true optimum.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import itertools
import json
import math
import pickle
import tomllib
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from electsec.errors import InputError
from electsec.routing import (
    HORIZON_S,
    PYVRP_VERSION,
    REASONS,
    DroppedStop,
    Routes,
    RoutingProblem,
    VehicleRoute,
    VehicleType,
    solve_routes,
)

ROOT = Path(__file__).resolve().parents[1]
#: Enough for the search to settle on a tiny instance; the time limit is only a guard.
QUICK = {"time_limit_s": 10.0, "max_no_improvement": 3000}


# ---------------------------------------------------------------- independent checker


def check_routes(problem: RoutingProblem, routes: Routes) -> None:
    """Recompute every route from the problem's matrices and check every constraint."""
    seen = [s for r in routes.routes for s in r.stops] + [x.stop for x in routes.dropped]
    assert sorted(seen) == list(range(problem.n_stops)), "each stop served once or dropped"
    used = [0] * len(problem.vehicle_types)
    for route in routes.routes:
        used[route.vehicle_type] += 1
        if routes.feasible:
            _check_one(problem, route)
    assert all(u <= vt.count for u, vt in zip(used, problem.vehicle_types, strict=True))
    for drop in routes.dropped:
        assert drop.reason in REASONS
        _check_dropped(problem, drop, feasible=routes.feasible)
    optional = [x.stop for x in routes.dropped if not problem.required[x.stop]]
    cost = sum(_cost(problem, r.vehicle_type, r.distance_m, r.duration_s) for r in routes.routes)
    assert routes.objective == cost + sum(int(problem.prize[s]) for s in optional)
    assert routes.distance_m == sum(r.distance_m for r in routes.routes)


def _check_one(problem: RoutingProblem, route: VehicleRoute) -> None:
    vt = problem.vehicle_types[route.vehicle_type]
    d, dur, dist = problem.n_depots, problem.duration_s, problem.distance_m
    assert route.visits
    assert route.start_depot == vt.start_depot
    assert route.end_depot in vt.end_depots
    assert route.start_s >= vt.shift_start_s
    t, here, metres = route.start_s, route.start_depot, 0
    for visit in route.visits:
        s = visit.stop
        arrive = t + int(dur[here, d + s])
        begin = max(arrive, int(problem.ready_s[s]))
        assert (visit.arrival_s, visit.start_s) == (arrive, begin)
        assert begin <= problem.due_s[s], f"stop {s} served after its window closes"
        t = begin + int(problem.service_s[s])
        assert visit.departure_s == t
        metres += int(dist[here, d + s])
        here = d + s
    end = t + int(dur[here, route.end_depot])
    metres += int(dist[here, route.end_depot])
    assert route.end_s == end <= vt.shift_end
    assert route.duration_s == end - route.start_s <= vt.max_duration
    assert route.distance_m == metres <= vt.max_distance
    load = problem.demand[list(route.stops)].sum(axis=0)
    assert route.load == tuple(load.tolist())
    assert (load <= np.asarray(vt.capacity)).all()
    assert route.time_warp_s == 0


def _check_dropped(problem: RoutingProblem, drop: DroppedStop, *, feasible: bool) -> None:
    s = drop.stop
    assert drop.required == problem.required[s]
    caps = np.array([vt.capacity for vt in problem.vehicle_types])
    too_big = (problem.demand[s] > caps).any(axis=1)
    if drop.reason == "capacity":
        assert too_big.all()
    elif drop.reason == "unreachable":
        assert not too_big.all()
        for t in range(len(problem.vehicle_types)):
            assert too_big[t] or _best_sequence(problem, t, (s,)) is None
    else:
        assert not problem.required[s] or not feasible


def _cost(problem: RoutingProblem, vehicle_type: int, metres: int, seconds: int) -> int:
    vt = problem.vehicle_types[vehicle_type]
    return vt.fixed_cost + vt.unit_distance_cost * metres + vt.unit_duration_cost * seconds


# ---------------------------------------------------------------- brute force


def screened(routes: Routes) -> frozenset[int]:
    return frozenset(d.stop for d in routes.dropped if d.reason != "not_served")


def manhattan(xy: np.ndarray) -> np.ndarray:
    """Integer L1 distances: a metric, as the screening assumes (rounded L2 is not)."""
    return np.abs(xy[:, None] - xy[None]).sum(axis=2)


def _sequence_cost(problem: RoutingProblem, t: int, order: tuple[int, ...]) -> float:
    """Least cost of serving ``order`` with a vehicle of type ``t`` (inf if impossible)."""
    vt, d = problem.vehicle_types[t], problem.n_depots
    dur, dist = problem.duration_s, problem.distance_m
    if (problem.demand[list(order)].sum(axis=0) > np.asarray(vt.capacity)).any():
        return math.inf
    best = math.inf
    for end in vt.end_depots:
        path = [vt.start_depot, *(d + s for s in order), end]
        # Latest start of service at each stop, backwards from the end of the shift.
        latest = vt.shift_end
        for a, b, s in zip(path[-2:0:-1], path[:1:-1], order[::-1], strict=True):
            latest = min(
                int(problem.due_s[s]), latest - int(dur[a, b]) - int(problem.service_s[s])
            )
        start = min(latest - int(dur[path[0], path[1]]), vt.shift_end)
        if start < vt.shift_start_s:
            continue
        clock = start  # leaving as late as possible gives the shortest duration
        for a, b, s in zip(path[:-2], path[1:-1], order, strict=True):
            clock = max(clock + int(dur[a, b]), int(problem.ready_s[s]))
            if clock > problem.due_s[s]:
                break
            clock += int(problem.service_s[s])
        else:
            clock += int(dur[path[-2], path[-1]])
            metres = sum(int(dist[a, b]) for a, b in itertools.pairwise(path))
            within = clock <= vt.shift_end and clock - start <= vt.max_duration
            if within and metres <= vt.max_distance:
                best = min(best, _cost(problem, t, metres, clock - start))
    return best


def _best_sequence(problem: RoutingProblem, t: int, stops: tuple[int, ...]) -> float | None:
    best = min(_sequence_cost(problem, t, order) for order in itertools.permutations(stops))
    return None if best == math.inf else best


def brute_force(problem: RoutingProblem, excused: frozenset[int] = frozenset()) -> float:
    """The optimal objective, by enumeration (inf when the required stops cannot be served).

    Stops in ``excused`` (dropped by the screening, which the checker verified) need not be
    served even when required; they cannot be on any route of a metric instance anyway.
    """
    n, types = problem.n_stops, problem.vehicle_types
    route = {
        (t, mask): _best_sequence(problem, t, tuple(s for s in range(n) if mask >> s & 1))
        for t in range(len(types))
        for mask in range(1, 1 << n)
    }

    @cache
    def fleet(mask: int, left: tuple[int, ...]) -> float:
        if not mask:
            return 0
        low, best = mask & -mask, math.inf
        sub = mask
        while sub:
            if sub & low:
                for t, k in enumerate(left):
                    cost = route[t, sub]
                    if k and cost is not None:
                        rest = (*left[:t], k - 1, *left[t + 1 :])
                        best = min(best, cost + fleet(mask & ~sub, rest))
            sub = (sub - 1) & mask
        return best

    required = sum(1 << s for s in range(n) if problem.required[s] and s not in excused)
    counts = tuple(vt.count for vt in types)
    best = math.inf
    for served in range(1 << n):
        if served & required == required:
            left = [s for s in range(n) if not served >> s & 1 and not problem.required[s]]
            prizes = sum(int(problem.prize[s]) for s in left)
            best = min(best, prizes + fleet(served, counts))
    return best


# ---------------------------------------------------------------- instances


@st.composite
def tiny_problems(draw: st.DrawFn) -> RoutingProblem:
    """Random tiny instances: 1-2 depots, 1-6 stops, windows, shifts, optional stops."""
    n_depots, n = draw(st.integers(1, 2)), draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    metres = manhattan(rng.integers(0, 40, size=(n_depots + n, 2)))
    ready = rng.integers(0, 60, n)
    width = rng.choice([5, 30, 200], n)
    types = [
        VehicleType(
            count=int(rng.integers(1, 3)),
            capacity=int(rng.integers(4, 10)),
            start_depot=int(rng.integers(n_depots)),
            end_depots=tuple(int(e) for e in rng.permutation(n_depots)[: rng.integers(1, 3)]),
            max_duration_s=draw(st.sampled_from([None, 150, 250])),
            shift_start_s=int(rng.integers(0, 10)),
            shift_end_s=draw(st.sampled_from([None, 300])),
            fixed_cost=draw(st.sampled_from([0, 40])),
            unit_duration_cost=draw(st.sampled_from([0, 1])),
        )
        for _ in range(draw(st.integers(1, 2)))
    ]
    return RoutingProblem.create(
        metres,
        metres,
        n_depots=n_depots,
        vehicle_types=types,
        demand=rng.integers(0, 5, n),
        ready_s=ready,
        due_s=ready + width,
        service_s=rng.integers(0, 6, n),
        prize=rng.integers(1, 200, n),
        required=rng.random(n) < 0.5,
    )


def grid_problem(n: int = 20, seed: int = 3) -> RoutingProblem:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 10_000, size=(n + 2, 2))
    vts = [
        VehicleType(count=4, capacity=8, start_depot=0, end_depots=(0, 1), max_duration_s=14_400),
        VehicleType(count=2, capacity=12, start_depot=1, shift_end_s=20_000),
    ]
    ready = rng.integers(0, 6_000, n)
    return RoutingProblem.from_coordinates(
        xy,
        n_depots=2,
        speed_m_per_s=8.0,
        vehicle_types=vts,
        demand=rng.integers(1, 4, n),
        ready_s=ready,
        due_s=ready + 3_600,
        service_s=np.full(n, 300),
    )


# ---------------------------------------------------------------- exactness


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
@given(tiny_problems())
def test_tiny_instances_reach_the_brute_force_optimum(problem: RoutingProblem) -> None:
    routes = solve_routes(problem, seed=1, **QUICK)
    check_routes(problem, routes)
    best = brute_force(problem, screened(routes))
    assert routes.feasible == (best < math.inf)
    if routes.feasible:
        assert routes.objective == best


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_seven_stops_reach_the_optimum(seed: int) -> None:
    rng = np.random.default_rng(seed)
    metres = manhattan(rng.integers(0, 80, size=(9, 2)))
    ready = rng.integers(0, 150, 7)
    problem = RoutingProblem.create(
        metres,
        np.ceil(metres / 2),
        n_depots=2,
        vehicle_types=[
            VehicleType(count=2, capacity=7, start_depot=0, end_depots=(0, 1)),
            VehicleType(count=1, capacity=10, start_depot=1, max_duration_s=200, fixed_cost=30),
        ],
        demand=rng.integers(1, 4, 7),
        ready_s=ready,
        due_s=ready + 60,
        service_s=np.full(7, 5),
    )
    routes = solve_routes(problem, seed=0, **QUICK)
    check_routes(problem, routes)
    assert routes.feasible
    assert routes.objective == brute_force(problem)


def test_same_seed_same_routes_and_checked_on_a_larger_instance() -> None:
    problem = grid_problem()
    first = solve_routes(problem, time_limit_s=30, seed=5, max_iterations=400)
    again = solve_routes(problem, time_limit_s=30, seed=5, max_iterations=400)
    assert first.stopped_by == again.stopped_by == "iterations"
    assert first.routes == again.routes
    assert first.dropped == again.dropped
    assert first.objective == again.objective
    check_routes(problem, first)
    assert first.feasible


# ---------------------------------------------------------------- depots, drops, limits


def line_problem(**kw: object) -> RoutingProblem:
    """Depots at 0 and 100 on a line, stops at 10, 50, 90 (distance = duration)."""
    pos = np.array([0, 100, 10, 50, 90])
    metres = np.abs(pos[:, None] - pos[None])
    args: dict[str, object] = {"n_depots": 2, "demand": [1, 1, 1]}
    args["vehicle_types"] = [VehicleType(count=1, capacity=5, end_depots=(0, 1))]
    args.update(kw)
    return RoutingProblem.create(metres, metres, **args)


def test_a_route_ends_at_the_nearest_allowed_end_depot() -> None:
    problem = line_problem()
    routes = solve_routes(problem, **QUICK)
    check_routes(problem, routes)
    (route,) = routes.routes
    assert route.stops == (0, 1, 2)
    assert route.end_depot == 1
    assert route.distance_m == 100


def test_end_depot_and_shift_are_honoured() -> None:
    vt = VehicleType(count=2, capacity=5, start_depot=1, end_depots=(0,), shift_end_s=150)
    problem = line_problem(vehicle_types=[vt])
    routes = solve_routes(problem, **QUICK)
    check_routes(problem, routes)
    assert routes.feasible
    assert {r.end_depot for r in routes.routes} == {0}
    assert routes.distance_m == 100


def test_stops_no_vehicle_can_serve_are_dropped_with_reasons() -> None:
    vt = VehicleType(count=1, capacity=5, end_depots=(0,), max_duration_s=150)
    problem = line_problem(vehicle_types=[vt], demand=[9, 1, 1])
    routes = solve_routes(problem, **QUICK)
    check_routes(problem, routes)
    reasons = {d.stop: d.reason for d in routes.dropped}
    assert reasons == {0: "capacity", 2: "unreachable"}  # stop 2: 180 s there and back
    assert "exceeds every vehicle type's capacity" in routes.dropped[0].message
    assert "earliest arrival 90 s" in routes.dropped[1].message
    assert [r.stops for r in routes.routes] == [(1,)]
    assert routes.feasible
    assert not routes.complete


def test_an_optional_stop_not_worth_its_prize_is_left_out() -> None:
    problem = line_problem(required=[True, True, False], prize=[0, 0, 30])
    vt = VehicleType(count=1, capacity=5, end_depots=(0,))
    problem = dataclasses.replace(problem, vehicle_types=(vt,))
    routes = solve_routes(problem, **QUICK)
    check_routes(problem, routes)
    assert [(d.stop, d.reason) for d in routes.dropped] == [(2, "not_served")]
    assert routes.objective == 100 + 30
    assert routes.complete


def test_a_fleet_too_small_is_reported_infeasible() -> None:
    vt = VehicleType(count=1, capacity=2, end_depots=(0,))
    problem = line_problem(vehicle_types=[vt])
    routes = solve_routes(problem, **QUICK)
    check_routes(problem, routes)
    assert not routes.feasible
    assert brute_force(problem) == math.inf


def test_time_windows_force_the_order() -> None:
    problem = line_problem(ready_s=[300, 100, 0], due_s=[400, 200, 100])
    routes = solve_routes(problem, **QUICK)
    check_routes(problem, routes)
    assert [r.stops for r in routes.routes] == [(2, 1, 0)]


def test_nothing_to_route() -> None:
    vt = VehicleType(count=1, capacity=0)
    problem = line_problem(vehicle_types=[vt])
    routes = solve_routes(problem, **QUICK)
    assert routes.stopped_by == "nothing_to_route"
    assert routes.routes == ()
    assert [d.reason for d in routes.dropped] == ["capacity"] * 3
    check_routes(problem, routes)


def test_the_time_limit_stops_the_search() -> None:
    problem = grid_problem(60)
    routes = solve_routes(problem, time_limit_s=0.5)
    assert routes.stopped_by == "time_limit"
    check_routes(problem, routes)


# ---------------------------------------------------------------- validation


def test_bad_inputs_are_all_reported() -> None:
    good = line_problem()
    with pytest.raises(InputError) as err:
        RoutingProblem.create(
            np.ones((5, 4)),
            -np.ones((5, 5)),
            n_depots=2,
            demand=[1, 1, 1],
            vehicle_types=[VehicleType(count=1, capacity=1)],
        )
    where = {(i.table, i.column) for i in err.value.issues}
    assert {("matrices", "duration_s"), ("matrices", "distance_m")} <= where
    with pytest.raises(InputError) as err:
        RoutingProblem.create(
            good.distance_m,
            good.duration_s,
            n_depots=2,
            demand=[1, 1.5, 1],
            ready_s=[-1, 0, 0],
            service_s=[0, 0],
            vehicle_types=[],
        )
    got = {(i.table, i.column, i.ids) for i in err.value.issues}
    assert got == {
        ("stops", "demand", (1,)),
        ("stops", "ready_s", (0,)),
        ("stops", "service_s", ()),
        ("vehicle_types", None, ()),
    }
    assert pickle.loads(pickle.dumps(err.value)).issues == err.value.issues  # noqa: S301


def test_vehicle_type_and_window_issues_name_the_ids() -> None:
    good = line_problem()
    with pytest.raises(InputError) as err:
        RoutingProblem.create(
            good.distance_m,
            good.duration_s,
            n_depots=2,
            demand=[1, 1, 1],
            ready_s=[10, 0, 50],
            due_s=[5, 10, 40],
            prize=[0, 0, 0],
            required=[True, True, False],
            vehicle_types=[
                VehicleType(count=0, capacity=(1, 2), start_depot=2, max_duration_s=-1),
                VehicleType(count=1, capacity=1, shift_start_s=10, shift_end_s=5),
            ],
        )
    got = {(i.table, i.column, i.ids) for i in err.value.issues}
    assert got == {
        ("vehicle_types", "count", (0,)),
        ("vehicle_types", "capacity", (0,)),
        ("vehicle_types", "start_depot", (0,)),
        ("vehicle_types", "max_duration_s", (0,)),
        ("vehicle_types", "shift_end_s", (1,)),
        ("stops", "due_s", (0, 2)),
        ("stops", "prize", (2,)),
    }


@pytest.mark.parametrize(
    ("kwargs", "column"),
    [
        ({"time_limit_s": 0}, "time_limit_s"),
        ({"time_limit_s": math.inf}, "time_limit_s"),
        ({"time_limit_s": 1, "seed": -1}, "seed"),
        ({"time_limit_s": 1, "max_iterations": 0}, "max_iterations"),
    ],
)
def test_bad_arguments(kwargs: dict[str, float], column: str) -> None:
    with pytest.raises(InputError) as err:
        solve_routes(line_problem(), **kwargs)
    assert [i.column for i in err.value.issues] == [column]


def test_inputs_are_not_mutated_and_stored_read_only() -> None:
    metres = np.array([[0, 5, 7], [5, 0, 3], [7, 3, 0]])
    demand = np.array([1, 2])
    kept = metres.copy(), demand.copy()
    problem = RoutingProblem.create(
        metres, metres, n_depots=1, demand=demand, vehicle_types=[VehicleType(2, 5)]
    )
    solve_routes(problem, **QUICK)
    assert (metres == kept[0]).all()
    assert (demand == kept[1]).all()
    assert metres.flags.writeable
    assert demand.flags.writeable
    assert not problem.distance_m.flags.writeable
    with pytest.raises(dataclasses.FrozenInstanceError):
        problem.n_depots = 2


# ---------------------------------------------------------------- results and the pin


def _no_pyvrp(value: object) -> None:
    assert not type(value).__module__.startswith("pyvrp"), type(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            _no_pyvrp(getattr(value, f.name))
    elif isinstance(value, tuple | list):
        for item in value:
            _no_pyvrp(item)


def test_results_pickle_and_hold_no_pyvrp_objects() -> None:
    problem = grid_problem(12)
    routes = solve_routes(problem, time_limit_s=10, max_iterations=200)
    _no_pyvrp(routes)
    blob = pickle.dumps(routes)
    assert b"pyvrp" not in blob
    assert pickle.loads(blob) == routes  # noqa: S301 - our own bytes
    again = pickle.loads(pickle.dumps(problem))  # noqa: S301
    assert (again.distance_m == problem.distance_m).all()
    assert again.vehicle_types == problem.vehicle_types
    data = json.loads(json.dumps(routes.to_dict()))
    assert data["distance_m"] == routes.distance_m
    assert len(data["routes"]) == routes.n_vehicles


def test_pyvrp_is_pinned_to_the_wrapped_version() -> None:
    assert importlib.metadata.version("pyvrp") == PYVRP_VERSION
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"pyvrp=={PYVRP_VERSION}" in deps


def test_horizon_means_no_window() -> None:
    problem = line_problem()
    assert (problem.due_s == HORIZON_S).all()
    assert problem.vehicle_types[0].shift_end == HORIZON_S


def test_a_warm_start_is_checked_and_never_worsened() -> None:
    problem = grid_problem()
    first = solve_routes(problem, seed=2, time_limit_s=5.0, max_iterations=300)
    check_routes(problem, first)
    warm = [(r.vehicle_type, r.stops) for r in first.routes]
    again = solve_routes(problem, seed=9, time_limit_s=5.0, max_iterations=1, initial=warm)
    check_routes(problem, again)
    assert again.feasible
    assert again.objective <= first.objective
    for bad, column in (
        ([(7, warm[0][1])], "vehicle_type"),
        ([(warm[0][0], (0, 0))], "stops"),
        ([(warm[0][0], (problem.n_stops,))], "stops"),
    ):
        with pytest.raises(InputError) as info:
            solve_routes(problem, initial=bad, **QUICK)
        assert column in {i.column for i in info.value.issues}
