"""Echelon 1 of the ballot transfer: centres to parts, routing problems, convoys.

Each centre with boxes goes to the nearest warehouse serving its governorate with room
for them (:func:`_warehouse_of`); each warehouse's centres are one part, cut again in
angular sectors when it has more than :data:`MAX_PART_STOPS` pick-ups (:func:`_parts`),
with the vehicles of the garrisons whose teams guarded them. A part becomes one
:class:`electsec.routing.RoutingProblem` (:func:`_built`: to the warehouse's closing time,
and a tight one to its media cut-off when every centre can make it), solved by
:func:`_solve_parts`. The routes are then labelled: what the routing left out and the
routes that break a limit are dropped with their numbers, the rest become named convoys
queued at the warehouse gate (:func:`_intake`, :func:`_collect`). Which problem each part
is routed on, and when again, is :mod:`electsec.transfer_gates`.
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd

from electsec.collection import ALL
from electsec.transfer_common import (
    _GEOD,
    Travel,
    _by,
    _Centers,
    _clock,
    _Drops,
    _Fleet,
    _handover_s,
    _Part,
    _Window,
)
from electsec.transfer_media import _Legs, _media_cutoff_s

if TYPE_CHECKING:
    from electsec.result import AssignmentResult
    from electsec.routing import Routes, RoutingProblem, VehicleRoute

__all__ = ["LOAD_S_PER_BOX", "LOAD_S_PER_CENTER", "MAX_PART_STOPS"]

logger = logging.getLogger(__name__)

#: Loading at a centre: a fixed time plus a time per box (seconds).
LOAD_S_PER_CENTER: Final = 600
LOAD_S_PER_BOX: Final = 60
#: Largest part (pick-ups) given to one routing call.
MAX_PART_STOPS: Final = 1200


# -- parts -------------------------------------------------------------------------------


def _warehouse_of(centers: _Centers, points: gpd.GeoDataFrame, drops: _Drops) -> np.ndarray:
    """Pick each centre's warehouse (index, -1: none).

    The nearest (straight line) serving its governorate with room for its boxes, the
    centres nearest a warehouse first.
    """
    wh = points[points["kind"] == "warehouse"]
    wh_xy = np.column_stack([wh.geometry.x, wh.geometry.y])
    serves = np.array(
        [[ALL in g or gov in g for g in wh["governorates"]] for gov in centers.governorate],
        dtype=bool,
    ).reshape(len(centers.ids), len(wh))
    n = len(centers.ids)
    dist = np.full((n, len(wh)), np.inf)
    for j in range(len(wh)):
        rows = np.flatnonzero(serves[:, j])
        if len(rows):
            x, y = centers.lonlat[rows, 0], centers.lonlat[rows, 1]
            ones = np.ones(len(rows))
            dist[rows, j] = _GEOD.inv(x, y, wh_xy[j, 0] * ones, wh_xy[j, 1] * ones)[2]
    room = np.array(wh["boxes_capacity"].astype(float).fillna(np.inf), dtype=float)
    out = np.full(n, -1)
    for i in np.argsort(dist.min(axis=1, initial=np.inf), kind="stable"):
        order = [j for j in np.argsort(dist[i], kind="stable") if np.isfinite(dist[i, j])]
        fits = [j for j in order if room[j] >= centers.boxes[i]]
        if fits:
            out[i] = fits[0]
            room[fits[0]] -= centers.boxes[i]
        elif not order:
            gov = centers.governorate[i]
            msg = (
                f"no warehouse serves governorate {gov!r}; add one"
                if gov
                else "the plan gives no governorate for it and no warehouse serves '*'; give "
                "the centres a governorate column or add a warehouse serving '*'"
            )
            drops.add(centers.ids[i], "no_warehouse", msg, boxes=int(centers.boxes[i]))
        else:
            left = int(max(room[j] for j in order))
            msg = (
                f"{centers.boxes[i]} boxes but the warehouses serving it have room for "
                f"{left} more; raise boxes_capacity or add a warehouse"
            )
            drops.add(
                centers.ids[i],
                "intake_boxes",
                msg,
                boxes=int(centers.boxes[i]),
                capacity=left,
                warehouse_id=str(wh.index[order[0]]),
            )
    return out


def _sectors(lonlat: np.ndarray, center: np.ndarray, size: int) -> list[np.ndarray]:
    """Positions cut in angular sectors around ``center`` of at most ``size`` each."""
    if len(lonlat) <= size:
        return [np.arange(len(lonlat))]
    angle = np.arctan2(lonlat[:, 1] - center[1], lonlat[:, 0] - center[0])
    order = np.argsort(angle, kind="stable")
    return [np.sort(c) for c in np.array_split(order, math.ceil(len(lonlat) / size))]


def _teams(day: AssignmentResult) -> pd.DataFrame:
    table = day.assignments[["center_id", "garrison_id", "teams"]].copy()
    table["center_id"] = table["center_id"].astype(str)
    table["garrison_id"] = table["garrison_id"].astype(str)
    return table


def _parts(
    centers: _Centers,
    where: np.ndarray,
    points: gpd.GeoDataFrame,
    day: AssignmentResult,
    fleet: _Fleet,
) -> list[_Part]:
    """Cut the routing parts: per warehouse, in sectors, with each garrison's vehicles."""
    wh = points[points["kind"] == "warehouse"]
    pieces: list[tuple[str, str, np.ndarray]] = []
    for j, wid in enumerate(wh.index):
        rows = np.flatnonzero(where == j)
        if not len(rows):
            continue
        xy = np.array([wh.geometry.iloc[j].x, wh.geometry.iloc[j].y])
        cuts = _sectors(centers.lonlat[rows], xy, MAX_PART_STOPS)
        for k, cut in enumerate(cuts):
            name = str(wid) if len(cuts) == 1 else f"{wid}#{k + 1}"
            pieces.append((name, str(wid), rows[cut]))
    teams = _teams(day)
    part_of = {centers.ids[i]: p for p, (_, _, rows) in enumerate(pieces) for i in rows}
    teams["part"] = teams["center_id"].map(part_of)
    per = teams.dropna(subset=["part"]).groupby(["part", "garrison_id"])["teams"].sum()
    counts = _vehicle_counts(per, fleet)
    out = []
    for p, (name, wid, rows) in enumerate(pieces):
        mine = counts[counts.index.get_level_values(0) == p]
        garrisons = tuple(str(g) for g in mine.index.get_level_values(1))
        cap = _capacity(garrisons, fleet)
        out.append(_Part(name, wid, rows, garrisons, tuple(int(c) for c in mine), cap))
    return out


def _share(weights: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` in whole numbers in proportion to ``weights`` (largest remainder)."""
    share = weights.astype(float) / max(float(weights.sum()), 1.0) * total
    whole = np.floor(share).astype(np.int64)
    rest = np.argsort(-(share - whole), kind="stable")[: total - int(whole.sum())]
    whole[rest] += 1
    return whole


def _vehicle_counts(per: pd.Series, fleet: _Fleet) -> pd.Series:
    """Vehicles per (part, garrison), from teams per (part, garrison), within the escorts."""
    if fleet.table is None:
        counts = np.ceil(per.to_numpy(dtype=float) * fleet.per_team - 1e-9).astype(np.int64)
        out = pd.Series(np.where(per.to_numpy() > 0, np.maximum(counts, 1), 0), index=per.index)
    else:
        out = pd.Series(0, index=per.index, dtype=np.int64)
        for garrison, group in per.groupby(level=1, sort=False):
            total = int(fleet.table["vehicles"].get(garrison, 0))
            out[group.index] = _share(group.to_numpy(), total)
    if fleet.escorts is not None:
        for garrison, group in out.groupby(level=1, sort=False):
            cap = int(fleet.escorts.get(garrison, 0))
            if group.sum() > cap:
                out[group.index] = _share(group.to_numpy(), cap)
    return out[out > 0]


def _capacity(garrisons: tuple[str, ...], fleet: _Fleet) -> tuple[int, ...]:
    if fleet.table is None:
        return tuple(fleet.boxes for _ in garrisons)
    per = fleet.table["boxes_per_vehicle"]
    return tuple(int(per[g]) for g in garrisons)


# -- routing -----------------------------------------------------------------------------


def _service_s(boxes: Any) -> np.ndarray:
    return LOAD_S_PER_CENTER + LOAD_S_PER_BOX * np.asarray(boxes, dtype=np.int64)


def _part_lonlat(part: _Part, centers: _Centers, day: AssignmentResult, wh: Any) -> np.ndarray:
    garrisons = day.garrison_points
    garrisons = garrisons.set_axis(garrisons.index.astype(str)).reindex(list(part.garrisons))
    g_xy = np.column_stack([garrisons.x.to_numpy(), garrisons.y.to_numpy()]).reshape(-1, 2)
    w_xy = np.array([[wh.geometry.x, wh.geometry.y]])
    return np.vstack([w_xy, g_xy, centers.lonlat[part.centers]])


def _problem(
    part: _Part,
    lonlat: np.ndarray,
    matrices: tuple[np.ndarray, np.ndarray],
    centers: _Centers,
    end_s: int,
    window: _Window,
) -> RoutingProblem:
    """Build the part's routing problem, every convoy at the warehouse by ``end_s``.

    Depot 0 is the warehouse, depots 1..k the garrisons, then the centres.
    """
    from electsec.routing import RoutingProblem, VehicleType  # noqa: PLC0415

    types = [
        VehicleType(
            count=count,
            capacity=(cap,),
            start_depot=1 + j,
            end_depots=(0,),
            max_duration_s=window.max_route_s,
            shift_end_s=end_s,
            unit_distance_cost=0,
            unit_duration_cost=1,
            name=garrison,
        )
        for j, (garrison, count, cap) in enumerate(
            zip(part.garrisons, part.counts, part.capacity, strict=True)
        )
    ]
    boxes = centers.boxes[part.centers]
    return RoutingProblem.create(
        *matrices,
        n_depots=1 + len(types),
        vehicle_types=types,
        demand=boxes,
        ready_s=np.full(len(boxes), window.ready_s),
        due_s=np.full(len(boxes), max(end_s, window.ready_s)),
        service_s=_service_s(boxes),
        prize=np.full(len(boxes), _prize(part, matrices[1], boxes)),
        required=np.zeros(len(boxes), dtype=bool),
        xy=lonlat,
    )


def _prize(part: _Part, dur: np.ndarray, boxes: np.ndarray) -> int:
    """Price collecting a centre in the routing objective (seconds of convoy time).

    Twice the longest lone route (garrison → centre → warehouse): collecting any centre
    costs less than that, so the search collects every centre it can, and when the fleet
    is too small for all of them, as many as it can rather than none (a prize far larger
    would outweigh PyVRP's bounded penalties and keep it from feasible solutions).
    """
    k = len(part.garrisons)
    locs = 1 + k + np.arange(len(boxes))
    lone = dur[1 : 1 + k][:, locs].min(axis=0) + _service_s(boxes) + dur[locs, 0]
    return int(2 * lone.max(initial=0) + 1)


def _lone_handover_s(
    part: _Part, dur: np.ndarray, centers: _Centers, window: _Window
) -> np.ndarray:
    """Per stop: the earliest hand-over of a vehicle serving it alone (no waiting)."""
    k = len(part.garrisons)
    locs = 1 + k + np.arange(len(part.centers))
    service = _service_s(centers.boxes[part.centers])
    if not k:
        return np.asarray(window.ready_s + service + dur[locs, 0])
    begin = np.maximum(dur[1 : 1 + k][:, locs], window.ready_s).min(axis=0)
    return np.asarray(begin + service + dur[locs, 0])


@dataclass(frozen=True)
class _Built:
    """A part ready to route: its problem, and a tighter one that meets the media deadline."""

    problem: RoutingProblem | None  # None: no vehicle
    tight: RoutingProblem | None  # every hand-over by the media cut-off; None: not possible
    lonlat: np.ndarray
    dur: np.ndarray
    close_s: int
    cutoff_s: int | None
    lone_s: float = math.inf  # the latest of the centres' earliest lone hand-overs


def _built(
    part: _Part,
    centers: _Centers,
    day: AssignmentResult,
    points: gpd.GeoDataFrame,
    window: _Window,
    travel: Travel,
    legs: _Legs,
    drops: _Drops,
) -> _Built:
    """Build the part's problems (none without vehicles; tight when the deadline allows)."""
    wh = points.loc[part.warehouse]
    lonlat = _part_lonlat(part, centers, day, wh)
    dist, dur = travel(lonlat)
    close_s = int(wh["closes_min"]) * 60
    cutoff = _media_cutoff_s(part.warehouse, points, legs, window)
    if not part.garrisons:
        for i in part.centers:
            msg = (
                "no vehicle to collect it: no garrison sent teams to this warehouse's centres, "
                "or none has a team free to escort (escorts=); pass vehicles= as a table, "
                "assign teams or free escorts"
            )
            drops.add(str(centers.ids[i]), "no_vehicle", msg, warehouse_id=part.warehouse,
                      boxes=int(centers.boxes[i]))  # fmt: skip
        return _Built(None, None, lonlat, dur, close_s, cutoff)
    problem = _problem(part, lonlat, (dist, dur), centers, close_s, window)
    tight = None
    lone = _lone_handover_s(part, problem.duration_s, centers, window)
    if cutoff is not None and cutoff < close_s and (lone <= cutoff).all():
        tight = _problem(part, lonlat, (dist, dur), centers, cutoff, window)
    return _Built(problem, tight, lonlat, problem.duration_s, close_s, cutoff, float(lone.max()))


def _direct_s(parts: list[_Part], built: list[_Built], centers: _Centers) -> dict[str, np.ndarray]:
    """Per warehouse: each centre's loading plus the drive to it (NaN: another's centre)."""
    out: dict[str, np.ndarray] = {}
    for part, b in zip(parts, built, strict=True):
        dur = b.dur
        k = len(part.garrisons)
        stops = np.arange(len(part.centers))
        legs = out.setdefault(part.warehouse, np.full(len(centers.ids), np.nan))
        legs[part.centers] = _service_s(centers.boxes[part.centers]) + dur[1 + k + stops, 0]
    return out


def _budgets(parts: list[_Part], built: list[_Built], remaining_s: float) -> list[float]:
    """Split ``remaining_s`` over the parts in proportion to their pick-ups (0: unrouted)."""
    sizes = [0 if b.problem is None else len(p.centers) for p, b in zip(parts, built, strict=True)]
    total = max(sum(sizes), 1)
    return [0.0 if not s else max(remaining_s * s / total, 0.05) for s in sizes]


def _solve_parts(
    problems: list[RoutingProblem | None],
    budgets: list[float],
    *,
    seed: int,
    max_iterations: int | None,
    executor: Executor | None,
    initial: list[Any] | None = None,
) -> list[Routes | None]:
    """Solve the parts (None: no problem), each with its budget and warm start."""
    from electsec.routing import solve_routes  # noqa: PLC0415

    kwargs: dict[str, Any] = {"seed": seed, "max_iterations": max_iterations}
    starts = [None] * len(problems) if initial is None else initial
    calls = zip(problems, budgets, starts, strict=True)
    if executor is None:
        return [
            None if p is None else solve_routes(p, time_limit_s=b, initial=w, **kwargs)
            for p, b, w in calls
        ]
    futures = [
        None
        if p is None
        else executor.submit(solve_routes, p, time_limit_s=b, initial=w, **kwargs)
        for p, b, w in calls
    ]
    return [None if f is None else f.result() for f in futures]


# -- labelling ---------------------------------------------------------------------------


def _routing_drops(
    part: _Part,
    routes: Routes,
    dur: np.ndarray,
    centers: _Centers,
    window: _Window,
    close_s: int,
    drops: _Drops,
) -> None:
    """Record the stops the routing left out, with their numbers."""
    k = len(part.garrisons)
    for d in routes.dropped:
        i = int(part.centers[d.stop])
        loc, boxes = 1 + k + d.stop, int(centers.boxes[i])
        base = {"warehouse_id": part.warehouse, "boxes": boxes}
        if d.reason == "capacity":
            biggest = max(part.capacity)
            msg = f"{boxes} boxes exceed every vehicle's capacity (largest {biggest}); {d.message}"
            drops.add(centers.ids[i], "capacity", msg, **base, capacity=biggest)
            continue
        if d.reason != "unreachable":
            msg = (
                f"no vehicle left for it: the part's {sum(part.counts)} vehicles of "
                f"{max(part.capacity)} boxes could not collect every centre within their "
                "capacity and the hours; add vehicles or escorts, or raise time_limit_s"
            )
            drops.add(centers.ids[i], d.reason, msg, **base)
            continue
        service = int(_service_s([boxes])[0])
        begin = np.maximum(dur[1 : 1 + k, loc], window.ready_s)
        earliest = int((begin + service + dur[loc, 0]).min())
        shortest = int((dur[1 : 1 + k, loc] + service + dur[loc, 0]).min())
        if earliest > close_s:
            msg = (
                f"earliest hand-over {_clock(earliest)} after the warehouse closes at "
                f"{_clock(close_s)}; keep the warehouse open longer or start nearer"
            )
        else:
            msg = (
                f"shortest route through it takes {shortest} s, more than max_route_min "
                f"({window.max_route_s} s); raise max_route_min"
            )
        drops.add(
            centers.ids[i],
            "unreachable",
            msg,
            **base,
            earliest_s=earliest,
            closing_s=close_s,
            min_route_s=shortest,
        )


def _sound(
    part: _Part, routes: Routes, window: _Window, close_s: int, centers: _Centers, drops: _Drops
) -> list[VehicleRoute]:
    """Keep the routes that respect every limit; drop the centres of the others.

    PyVRP hands back its best solution even when that breaks a window or a capacity
    (no feasible one found in time): such a route is never given to a convoy.
    """
    kept = []
    for r in routes.routes:
        late = r.time_warp_s > 0 or r.end_s > close_s
        long = window.max_route_s is not None and r.duration_s > window.max_route_s
        if not (late or long or r.load[0] > part.capacity[r.start_depot - 1]):
            kept.append(r)
            continue
        for v in r.visits:
            i = int(part.centers[v.stop])
            msg = (
                "the search found no route for it that keeps every window, capacity and "
                "duration within time_limit_s; raise time_limit_s or add vehicles"
            )
            drops.add(str(centers.ids[i]), "not_served", msg, warehouse_id=part.warehouse,
                      boxes=int(centers.boxes[i]))  # fmt: skip
    return kept


def _convoys(
    part: _Part, routes: list[VehicleRoute], lonlat: np.ndarray, centers: _Centers
) -> list[dict[str, Any]]:
    """One record per route: the garrison, the visits (centre indices and times), totals."""
    k = len(part.garrisons)
    out = []
    for r in routes:
        visits = [
            (int(part.centers[v.stop]), v.arrival_s, v.start_s, v.departure_s) for v in r.visits
        ]
        path = [lonlat[r.start_depot], *(lonlat[1 + k + v.stop] for v in r.visits), lonlat[0]]
        out.append(
            {
                "part": part.name,
                "warehouse_id": part.warehouse,
                "garrison_id": part.garrisons[r.start_depot - 1],
                "start_s": r.start_s,
                "arrive_s": r.end_s,
                "visits": visits,
                "boxes": int(sum(centers.boxes[v[0]] for v in visits)),
                "distance_m": r.distance_m,
                "duration_s": r.duration_s,
                "path": np.array(path),
            }
        )
    return out


def _name_convoys(convoys: list[dict[str, Any]], centers: _Centers) -> None:
    """Convoy ids ``<warehouse>/<garrison>/<k>``, k by start time then first centre."""

    def key(c: dict[str, Any]) -> tuple[Any, ...]:
        return (c["warehouse_id"], c["garrison_id"], c["start_s"], centers.ids[c["visits"][0][0]])

    count: dict[tuple[str, str], int] = {}
    for c in sorted(convoys, key=key):
        pair = (c["warehouse_id"], c["garrison_id"])
        count[pair] = count.get(pair, 0) + 1
        c["convoy_id"] = f"{pair[0]}/{pair[1]}/{count[pair]}"


def _intake(
    convoys: list[dict[str, Any]], points: gpd.GeoDataFrame, centers: _Centers, drops: _Drops
) -> list[dict[str, Any]]:
    """Queue the convoys at each warehouse gate.

    Hand-over at or after opening and at least ``60 / convoys_per_hour`` minutes after
    the previous one; a convoy whose hand-over would fall after closing is dropped with
    its centres.
    """
    kept = []
    for wid, group in _by(convoys, "warehouse_id").items():
        wh = points.loc[wid]
        rate, closes = float(wh["convoys_per_hour"]), int(wh["closes_min"]) * 60
        last = -math.inf
        for c in sorted(group, key=lambda c: (c["arrive_s"], c["convoy_id"])):
            handover = _handover_s(c["arrive_s"], wh, last)
            if handover > closes:
                for i, *_ in c["visits"]:
                    msg = (
                        f"its convoy {c['convoy_id']} could hand over only at {_clock(handover)}, "
                        f"after closing {_clock(closes)}: the gate takes {rate:g} convoys per "
                        "hour; raise convoys_per_hour or keep it open longer"
                    )
                    drops.add(
                        centers.ids[i],
                        "intake_rate",
                        msg,
                        warehouse_id=wid,
                        boxes=int(centers.boxes[i]),
                        earliest_s=handover,
                        closing_s=closes,
                    )
                continue
            last = handover
            kept.append(c | {"handover_s": handover})
    return sorted(kept, key=lambda c: c["convoy_id"])


def _collect(
    parts: list[_Part],
    built: list[_Built],
    results: list[Any],
    how: list[str],
    centers: _Centers,
    window: _Window,
    points: gpd.GeoDataFrame,
    drops: _Drops,
) -> list[dict[str, Any]]:
    """Every part's convoys (named, queued at the gates) and its dropped stops."""
    convoys = []
    for part, b, routes, by in zip(parts, built, results, how, strict=True):
        if routes is None:
            continue
        tight = by.startswith("media_deadline") and b.cutoff_s is not None
        end_s = b.cutoff_s if tight and b.cutoff_s is not None else b.close_s
        _routing_drops(part, routes, b.dur, centers, window, end_s, drops)
        sound = _sound(part, routes, window, end_s, centers, drops)
        convoys += _convoys(part, sound, b.lonlat, centers)
    _name_convoys(convoys, centers)
    return _intake(convoys, points, centers, drops)
