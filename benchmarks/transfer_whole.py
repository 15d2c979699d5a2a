"""The whole country as one raw PyVRP 0.14.1 problem: the undecomposed side of bench_transfer.

electsec's ``plan_transfer`` cuts the night into parts (a warehouse, or a sector of one,
with the vehicles of the garrisons that sent teams there) and routes each part alone.
This side builds the same night as **one** ``pyvrp.ProblemData`` and solves it with
``pyvrp.solve`` (raw PyVRP, not ``electsec.routing``, whose validated int64 copies and
sub-matrices would hold the ~85 M-entry matrices three or four times over):

- depots: the warehouses electsec routed to, then the garrisons whose vehicles it used;
- clients: every centre electsec gave a warehouse, ``delivery`` = its boxes, service
  600 s + 60 s per box, window [ready, the warehouse's closing], prize per warehouse as
  electsec prices a part (twice the longest lone route garrison → centre → warehouse,
  plus 1), optional;
- vehicle types: per (garrison, warehouse) the vehicles electsec gave its parts there,
  40 boxes each, start at the garrison, end at the warehouse by its closing time, cost
  1 per second of route duration, 0 per metre (electsec's objective);
- travel: electsec's default model (geodesic × 1.3, distance rounded, time at 50 km/h
  rounded up), computed here block by block straight into the int64 matrices.

Each centre must end at the warehouse electsec gave it (its governorate's, with room):
the load has one code per warehouse, a different set of ``m // 2`` of ``m`` dimensions
each (no code inside another), a centre loads its boxes on each dimension of its
warehouse's code and a vehicle carries 40 on each dimension of its own warehouse's code
and 0 elsewhere; so a vehicle can load only its own warehouse's centres, with the same
40-box limit, on 7 dimensions for up to 35 warehouses instead of one per warehouse.
"""

from __future__ import annotations

import itertools
import math
import time
import warnings
from typing import Any

import numpy as np
import pyproj

GEOD = pyproj.Geod(ellps="WGS84")
SPEED_M_PER_S, DETOUR = 50 / 3.6, 1.3
LOAD_S_PER_CENTER, LOAD_S_PER_BOX = 600, 60
_BLOCK = 256


def travel_matrices(lonlat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whole metres and seconds between all points (electsec's default road model).

    Upper triangle from the geodesic of each pair (row point first), mirrored, as
    electsec does, in blocks of rows so no float matrix of the full size is held.
    """
    n = len(lonlat)
    dist = np.zeros((n, n), dtype=np.int64)
    dur = np.zeros((n, n), dtype=np.int64)
    for a in range(0, n, _BLOCK):
        b = min(a + _BLOCK, n)
        rows = np.repeat(np.arange(a, b), n - a)
        cols = np.tile(np.arange(a, n), b - a)
        metres = GEOD.inv(lonlat[rows, 0], lonlat[rows, 1], lonlat[cols, 0], lonlat[cols, 1])[2]
        metres = metres.reshape(b - a, n - a) * DETOUR
        upper = np.triu(np.ones((b - a, n - a), dtype=bool), k=1)  # column > row only
        metres = np.where(upper, metres, 0.0)
        block_m, block_s = np.rint(metres), np.ceil(metres / SPEED_M_PER_S - 1e-9)
        dist[a:b, a:], dur[a:b, a:] = block_m, block_s
    dist += dist.T
    dur += dur.T
    return dist, dur


def load_codes(n: int) -> list[tuple[int, ...]]:
    """``n`` sets of ``m // 2`` of ``m`` dimensions, none inside another (m smallest)."""
    m = 2
    while math.comb(m, m // 2) < n:
        m += 1
    return list(itertools.combinations(range(m), m // 2))[:n]


def _prizes(inst: dict[str, Any], dur: np.ndarray, service: np.ndarray) -> np.ndarray:
    """Per centre, its warehouse's prize: 2 × the longest lone route there, plus 1."""
    n_wh, n_gar = len(inst["wh_ids"]), len(inst["gar_ids"])
    locs = n_wh + n_gar + np.arange(len(inst["c_ids"]))
    prize = np.zeros(len(locs), dtype=np.int64)
    for w in range(n_wh):
        mine = np.flatnonzero(inst["c_wh"] == w)
        gars = sorted({g for g, ww, _ in inst["types"] if ww == w})
        if not len(mine) or not gars:
            continue
        starts = n_wh + np.asarray(gars)
        lone = dur[np.ix_(starts, locs[mine])].min(axis=0) + service[mine] + dur[locs[mine], w]
        prize[mine] = 2 * int(lone.max()) + 1
    return prize


def build(inst: dict[str, Any]) -> tuple[Any, np.ndarray]:
    """The whole night as one ``pyvrp.ProblemData`` (and each centre's prize)."""
    import pyvrp

    n_wh, n_gar = len(inst["wh_ids"]), len(inst["gar_ids"])
    lonlat = np.vstack([inst["wh_xy"], inst["gar_xy"], inst["c_xy"]])
    dist, dur = travel_matrices(lonlat)
    boxes = np.asarray(inst["c_boxes"], dtype=np.int64)
    service = LOAD_S_PER_CENTER + LOAD_S_PER_BOX * boxes
    prize = _prizes(inst, dur, service)
    codes = load_codes(n_wh)
    dims = max(max(c) for c in codes) + 1
    close = np.asarray(inst["wh_close_s"], dtype=np.int64)
    ready = int(inst["ready_s"])
    d = n_wh + n_gar
    clients = []
    for k in range(len(boxes)):
        w = int(inst["c_wh"][k])
        load = [int(boxes[k]) if j in codes[w] else 0 for j in range(dims)]
        clients.append(
            pyvrp.Client(
                location=d + k,
                delivery=load,
                service_duration=int(service[k]),
                tw_early=ready,
                tw_late=max(int(close[w]), ready),
                prize=int(prize[k]),
                required=False,
            )
        )
    cap = int(inst["capacity"])
    max_route = inst["max_route_s"]
    types = [
        pyvrp.VehicleType(
            num_available=int(count),
            capacity=[cap if j in codes[w] else 0 for j in range(dims)],
            start_depot=n_wh + int(g),
            end_depot=int(w),
            tw_late=int(close[w]),
            shift_duration=np.iinfo(np.int64).max if max_route is None else int(max_route),
            unit_distance_cost=0,
            unit_duration_cost=1,
            name=f"{inst['gar_ids'][g]}>{inst['wh_ids'][w]}",
        )
        for g, w, count in inst["types"]
    ]
    locations = [pyvrp.Location(float(x), float(y)) for x, y in lonlat]
    depots = [pyvrp.Depot(location=i) for i in range(d)]
    matrices: tuple[list[Any], list[Any]] = ([dist], [dur])
    data = pyvrp.ProblemData(locations, clients, depots, types, *matrices)
    return data, prize


def _tables(inst: dict[str, Any], best: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The solution as stops rows (electsec's stops columns) and route rows."""
    n_wh = len(inst["wh_ids"])
    stops, routes = [], []
    for r, route in enumerate(best.routes()):
        g, w = int(route.start_depot()) - n_wh, int(route.end_depot())
        cid = f"{inst['wh_ids'][w]}/{inst['gar_ids'][g]}/{r + 1}"
        start, end = int(route.start_time()), int(route.end_time())
        rows = [(cid, "depart", inst["gar_ids"][g], *inst["gar_xy"][g], None, start, 0)]
        total = 0
        for act in route.schedule():
            if not act.is_client():
                continue
            k = int(act.idx)
            arrival = int(act.start_time) - int(act.wait_duration) + int(act.time_warp)
            b = int(inst["c_boxes"][k])
            total += b
            rows.append(
                (
                    cid,
                    "pickup",
                    inst["c_ids"][k],
                    *inst["c_xy"][k],
                    arrival,
                    int(act.start_time),
                    b,
                )
            )
        rows.append((cid, "handover", inst["wh_ids"][w], *inst["wh_xy"][w], end, end, total))
        keys = ("convoy_id", "action", "place_id", "lon", "lat", "arrive_s", "start_s", "boxes")
        stops += [
            dict(zip(keys, row, strict=True)) | {"sequence": i} for i, row in enumerate(rows)
        ]
        routes.append(
            {
                "convoy_id": cid,
                "garrison_id": inst["gar_ids"][g],
                "warehouse_id": inst["wh_ids"][w],
                "start_s": start,
                "arrive_s": end,
                "duration_s": int(route.duration()),
                "time_warp_s": int(route.time_warp()),
                "boxes": total,
            }
        )
    return stops, routes


def solve_whole(inst: dict[str, Any], search_s: float, seed: int) -> dict[str, Any]:
    """Child process: build the one problem, search ``search_s`` seconds, read it back."""
    import pandas as pd
    import pyvrp
    import pyvrp.exceptions
    import pyvrp.stop

    started = time.perf_counter()
    data, prize = build(inst)
    built_s = time.perf_counter() - started
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pyvrp.exceptions.PenaltyBoundWarning)
        result = pyvrp.solve(data, pyvrp.stop.MaxRuntime(search_s), seed=seed, collect_stats=False)
    search_s_used = time.perf_counter() - started - built_s
    stops, routes = _tables(inst, result.best)
    stops_t = pd.DataFrame(stops)
    picked = set(stops_t.loc[stops_t["action"] == "pickup", "place_id"])
    left = [c for c in inst["c_ids"] if c not in picked]
    dropped = pd.DataFrame({"center_id": left + list(inst["not_routed"]), "reason": "not_served"})
    return {
        "wall_s": time.perf_counter() - started,
        "built_s": built_s,
        "search_s": search_s_used,
        "iterations": int(result.num_iterations),
        "feasible": bool(result.best.is_feasible()),
        "locations": int(data.num_locations),
        "load_dims": int(data.num_load_dimensions),
        "vehicles": int(data.num_vehicles),
        "stops": stops_t,
        "routes": pd.DataFrame(routes),
        "dropped": dropped,
        "prize_max": int(prize.max(initial=0)),
    }
