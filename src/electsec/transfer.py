"""Ballot transfer after the count: convoys to the warehouses, result media to the tally.

:func:`plan_transfer` plans the two echelons of the night after a voting day:

1. **Road convoys.** Vehicles of the garrisons whose teams guarded the centres leave their
   garrison, collect the centres' ballot boxes (ready at ``ready_at``, after the count),
   within their capacity and the longest route allowed, and hand them over at their
   governorate's warehouse within its opening hours and intake (boxes in total, convoys
   per hour). The country is cut into one part per warehouse (a part of more than
   :data:`MAX_PART_STOPS` pick-ups is cut again in sectors around its warehouse); each
   part is one :func:`electsec.routing.solve_routes` call (PyVRP), run through any
   ``concurrent.futures`` executor, with the parts' budgets summing to ``time_limit_s``.
2. **Result media.** Each warehouse sends its memory sticks to the national tally centre
   once its last convoy is in: by road, or by road to an airfield serving its
   governorate, the next departure slot, a flight to the airfield nearest the tally
   centre and the road from there, whichever arrives first. Media later than
   ``ready_at + media_deadline_min`` are flagged, with the earliest time possible. A part
   whose centres could each make that cut-off is first routed to it (the convoys' shifts
   end at the latest hand-over whose media arrive in time), and to the warehouse's
   closing time only if that leaves a centre out.

Nothing is dropped silently: a centre no vehicle can serve is in
:attr:`TransferPlan.dropped` with its reason and the numbers.

Travel (unless ``costs=`` or ``network=`` say otherwise): road distance is the geodesic
distance times :data:`ROAD_DETOUR`, driven at :data:`ROAD_SPEED_KMH`; flights fly the
geodesic at :data:`AIR_SPEED_KMH`. Times are seconds after midnight of the voting day.

The steps live in their own modules: :mod:`electsec.transfer_convoys` (echelon 1: parts,
routing problems, convoys and the gate's intake), :mod:`electsec.transfer_gates` (the
routing rounds), :mod:`electsec.transfer_media` (echelon 2),
:mod:`electsec.transfer_outputs` (the tables and :class:`TransferPlan`),
:mod:`electsec.transfer_escorts` and :mod:`electsec.transfer_report`; this module checks
the arguments and runs them in order.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd

from electsec.collection import read_collection_points
from electsec.errors import InputError, Issue, did_you_mean
from electsec.timeline import Timeline
from electsec.transfer_common import (
    AIR_SPEED_KMH,
    BOXES_PER_VEHICLE,
    ROAD_DETOUR,
    ROAD_SPEED_KMH,
    VEHICLES_PER_TEAM,
    Travel,
    _Centers,
    _clock,
    _Drops,
    _Fleet,
    _positive,
    _road_network,
    _travel,
    _Window,
)
from electsec.transfer_convoys import (
    MAX_PART_STOPS,
    _budgets,
    _built,
    _collect,
    _direct_s,
    _parts,
    _service_s,
    _warehouse_of,
)
from electsec.transfer_escorts import (
    assign_escorts,
    escort_phase,
    escorted_timeline,
    released_teams,
    with_returns,
)
from electsec.transfer_gates import _route_parts
from electsec.transfer_media import (
    _legs,
    _media,
)
from electsec.transfer_outputs import (
    TransferPlan,
    _dropped,
    _parts_table,
    _routes,
    _stops,
)

if TYPE_CHECKING:
    from electsec.result import AssignmentResult

__all__ = [
    "AIR_SPEED_KMH",
    "BOXES_PER_VEHICLE",
    "DEFAULT_BOXES",
    "MAX_PART_STOPS",
    "ROAD_DETOUR",
    "ROAD_SPEED_KMH",
    "VEHICLES_PER_TEAM",
    "TransferPlan",
    "plan_transfer",
]
logger = logging.getLogger(__name__)
#: Ballot boxes per centre when ``boxes`` is not given (39,285 stations / 8,703 centres
#: in Iraq 2025 = 4.5, rounded up).
DEFAULT_BOXES: Final = 5
#: Share of ``time_limit_s`` kept for building the parts and labelling the routes.
_RESERVE_SHARE: Final = 0.1
_FLEET_KEYS: Final = ("vehicles_per_team", "boxes_per_vehicle")


# -- inputs ------------------------------------------------------------------------------


def _day(plan_or_election: Any, phase: str | None) -> AssignmentResult:
    from electsec.election import ElectionPlan  # noqa: PLC0415
    from electsec.result import AssignmentResult  # noqa: PLC0415

    if isinstance(plan_or_election, ElectionPlan):
        days = plan_or_election.days
        return plan_or_election.day(phase or ("general" if "general" in days else [*days][-1]))
    if isinstance(plan_or_election, AssignmentResult):
        if phase is not None:
            msg = "phase= picks a day of an ElectionPlan; this is one day's AssignmentResult"
            raise InputError([Issue("arguments", "phase", (), msg)])
        return plan_or_election
    msg = f"must be an AssignmentResult or an ElectionPlan, got {type(plan_or_election).__name__}"
    raise InputError([Issue("arguments", "plan_or_election", (), msg)])


def _boxes(boxes: Any, ids: pd.Index) -> np.ndarray:
    """Ballot boxes per centre of ``ids`` (int64), from the ``boxes`` argument."""
    if boxes is None:
        return np.full(len(ids), DEFAULT_BOXES, dtype=np.int64)
    if isinstance(boxes, int) and not isinstance(boxes, bool) and boxes >= 0:
        return np.full(len(ids), boxes, dtype=np.int64)
    if isinstance(boxes, str | os.PathLike):
        path = Path(boxes)
        if not path.exists():
            raise InputError([Issue("arguments", "boxes", (), f"file not found: {path}")])
        boxes = pd.read_csv(path, dtype={"center_id": str})
    if isinstance(boxes, pd.DataFrame):
        if not {"center_id", "boxes"} <= set(boxes.columns):
            msg = "a table of boxes needs columns center_id and boxes"
            raise InputError([Issue("boxes", None, (), msg)])
        boxes = pd.Series(boxes["boxes"].to_numpy(), index=boxes["center_id"].astype(str))
    if not isinstance(boxes, Mapping | pd.Series):
        msg = "must be None, an int, a mapping / Series by center_id, a table or a CSV path"
        raise InputError([Issue("arguments", "boxes", (), msg)])
    series = pd.Series(boxes)
    series.index = series.index.astype(str)
    missing = ids[~ids.isin(series.index)]
    if len(missing):
        raise InputError([Issue("boxes", "center_id", tuple(missing), "no box count given")])
    values = pd.to_numeric(series.reindex(ids), errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 0) | (values % 1 != 0)
    if bad.any():
        raise InputError([Issue("boxes", "boxes", tuple(ids[bad]), "must be whole numbers ≥ 0")])
    return values.astype(np.int64)


def _clock_arg(value: Any, name: str) -> int:
    """``"HH:MM"`` or minutes after midnight as seconds after midnight."""
    if isinstance(value, str) and ":" in value:
        hours, _, minutes = value.partition(":")
        if hours.strip().isdigit() and minutes.strip().isdigit():
            h, m = int(hours), int(minutes)
            if h < 24 and m < 60:
                return (h * 60 + m) * 60
    elif isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 48 * 60:
        return value * 60
    msg = f'must be a time of day "HH:MM" or minutes after midnight, got {value!r}'
    raise InputError([Issue("arguments", name, (), msg)])


def _fleet(vehicles: Any, garrison_ids: pd.Index) -> _Fleet:
    if vehicles is None:
        return _Fleet()
    if isinstance(vehicles, Mapping):
        unknown = sorted(set(vehicles) - set(_FLEET_KEYS))
        per_team = vehicles.get("vehicles_per_team", VEHICLES_PER_TEAM)
        boxes = vehicles.get("boxes_per_vehicle", BOXES_PER_VEHICLE)
        issues = []
        if unknown:
            msg = f"unknown key(s) {unknown} ({did_you_mean(unknown[0], _FLEET_KEYS)})"
            issues.append(Issue("arguments", "vehicles", tuple(unknown), msg))
        if not _positive(per_team):
            issues.append(Issue("arguments", "vehicles_per_team", (), "must be a number > 0"))
        if not (isinstance(boxes, int) and boxes >= 1):
            issues.append(Issue("arguments", "boxes_per_vehicle", (), "must be an int ≥ 1"))
        if issues:
            raise InputError(issues)
        return _Fleet(float(per_team), int(boxes))
    if isinstance(vehicles, pd.DataFrame):
        return _Fleet(table=_fleet_table(vehicles, garrison_ids))
    msg = "must be None, a mapping (vehicles_per_team, boxes_per_vehicle) or a table"
    raise InputError([Issue("arguments", "vehicles", (), msg)])


def _escorts(escorts: Any, garrison_ids: pd.Index) -> pd.Series | None:
    """Teams free to escort per garrison (a mapping or Series by garrison_id), or None."""
    if escorts is None:
        return None
    if not isinstance(escorts, Mapping | pd.Series):
        msg = "must be None or a mapping / Series of teams free to escort by garrison_id"
        raise InputError([Issue("arguments", "escorts", (), msg)])
    series = pd.Series(escorts, dtype=object)
    series.index = series.index.astype(str)
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    bad = series.index[~np.isfinite(values) | (values < 0) | (values % 1 != 0)]
    unknown = series.index[~series.index.isin(garrison_ids)]
    issues = []
    if len(bad):
        issues.append(Issue("escorts", "teams", tuple(bad), "must be whole numbers ≥ 0"))
    if len(unknown):
        issues.append(
            Issue("escorts", "garrison_id", tuple(unknown), "not a garrison of the plan")
        )
    if issues:
        raise InputError(issues)
    return pd.Series(values.astype(np.int64), index=series.index)


def _fleet_table(table: pd.DataFrame, garrison_ids: pd.Index) -> pd.DataFrame:
    need = {"garrison_id", "vehicles", "boxes_per_vehicle"}
    if not need <= set(table.columns):
        msg = f"a vehicles table needs columns {sorted(need)}, got {list(table.columns)}"
        raise InputError([Issue("vehicles", None, (), msg)])
    out = pd.DataFrame(
        {
            "vehicles": pd.to_numeric(table["vehicles"], errors="coerce").to_numpy(),
            "boxes_per_vehicle": pd.to_numeric(table["boxes_per_vehicle"], errors="coerce"),
        }
    ).set_axis(pd.Index(table["garrison_id"].astype(str), name="garrison_id"))
    issues = []
    for column, low in (("vehicles", 0), ("boxes_per_vehicle", 1)):
        v = out[column].to_numpy(dtype=float)
        bad = ~np.isfinite(v) | (v < low) | (v % 1 != 0)
        if bad.any():
            msg = f"must be whole numbers ≥ {low}"
            issues.append(Issue("vehicles", column, tuple(out.index[bad]), msg))
    if not out.index.is_unique:
        dup = tuple(dict.fromkeys(out.index[out.index.duplicated()]))
        issues.append(Issue("vehicles", "garrison_id", dup, "garrison ids must be unique"))
    unknown = out.index[~out.index.isin(garrison_ids)]
    if len(unknown):
        issues.append(
            Issue("vehicles", "garrison_id", tuple(unknown), "not a garrison of the plan")
        )
    if issues:
        raise InputError(issues)
    return out.astype(np.int64)


def _fleet_escorts(
    vehicles: Any, escorts: Any, timeline: Any, phase: str | None, garrison_ids: pd.Index
) -> tuple[_Fleet, Any, str | None]:
    """Return the fleet, its cap on convoys per garrison, and the timeline's day (if any).

    With a timeline the cap is the teams it frees per garrison, within ``escorts=``.
    """
    if isinstance(escorts, Timeline) and timeline is None:
        escorts, timeline = None, escorts
    cap = _escorts(escorts, garrison_ids)
    tl_phase = None
    if timeline is not None:
        tl_phase = escort_phase(timeline, phase)
        freed = released_teams(timeline, tl_phase).reindex(garrison_ids).fillna(0)
        freed = freed.astype(np.int64)
        if cap is not None:
            freed = freed.clip(upper=cap.reindex(garrison_ids).fillna(0).astype(np.int64))
        cap = freed
    return dataclasses.replace(_fleet(vehicles, garrison_ids), escorts=cap), timeline, tl_phase


def _centers(day: AssignmentResult, boxes: Any) -> tuple[_Centers, pd.Index]:
    points = day.center_points
    ids = pd.Index(points.index.astype(str), name="center_id")
    counts = _boxes(boxes, ids)
    info = day.center_info
    if info is not None and "governorate" in info.columns:
        gov = info["governorate"].reindex(points.index).fillna("").astype(str).to_numpy()
    else:
        gov = np.full(len(ids), "", dtype=object)
    keep = counts > 0
    lonlat = np.column_stack([points.x.to_numpy(), points.y.to_numpy()])
    return _Centers(ids.to_numpy()[keep], lonlat[keep], gov[keep], counts[keep]), ids


def _argument_issues(options: Mapping[str, Any]) -> None:
    issues = []
    limit = options["time_limit_s"]
    if not _positive(limit) or isinstance(limit, bool):
        issues.append(
            Issue("arguments", "time_limit_s", (), f"must be a number > 0, got {limit!r}")
        )
    seed = options["seed"]
    if not (
        isinstance(seed, int | np.integer) and not isinstance(seed, bool) and 0 <= seed < 2**32
    ):
        issues.append(
            Issue("arguments", "seed", (), f"must be an int in [0, 2**32), got {seed!r}")
        )
    for name in ("max_route_min", "media_deadline_min", "max_iterations"):
        value = options[name]
        if value is None and name != "media_deadline_min":
            continue
        if not (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and value > 0
            and math.isfinite(value)
        ) or (name == "max_iterations" and not isinstance(value, int)):
            issues.append(Issue("arguments", name, (), f"must be a number > 0, got {value!r}"))
    if issues:
        raise InputError(issues)


# -- the night ---------------------------------------------------------------------------


def plan_transfer(  # noqa: PLR0913 - the options of the night, each a keyword
    plan_or_election: Any,
    points: Any,
    *,
    vehicles: Any = None,
    costs: Any = None,
    network: Any = None,
    ready_at: str | int = "20:00",
    max_route_min: float | None = None,
    media_deadline_min: float = 360,
    time_limit_s: float = 60,
    seed: int = 0,
    executor: Executor | None = None,
    boxes: Any = None,
    phase: str | None = None,
    max_iterations: int | None = None,
    escorts: Any = None,
    timeline: Any = None,
) -> TransferPlan:
    """Plan the night's ballot transfer: convoys to the warehouses, media to the tally.

    Parameters
    ----------
    plan_or_election
        A day's :class:`~electsec.AssignmentResult`, or an :class:`~electsec.ElectionPlan`
        (its ``phase`` day; default the general day).
    points
        Collection points, anything :func:`electsec.read_collection_points` reads.
    vehicles
        None (each garrison brings :data:`VEHICLES_PER_TEAM` vehicles per team it sent to
        a warehouse's centres, rounded up, each carrying :data:`BOXES_PER_VEHICLE` boxes),
        a mapping overriding ``vehicles_per_team`` / ``boxes_per_vehicle``, or a table
        ``garrison_id, vehicles, boxes_per_vehicle`` (a garrison's vehicles are shared
        over the warehouses in proportion to the teams it sent there).
    costs
        None (geodesic × :data:`ROAD_DETOUR` at :data:`ROAD_SPEED_KMH`), a mapping
        overriding ``road_speed_kmh``, ``road_detour``, ``air_speed_kmh``, or a callable
        ``lonlat (n, 2) -> (distance_m, duration_s)`` dense matrices.
    network
        A road network (anything :meth:`electsec.network.RoadNetwork.build` takes): road
        times and distances between the stops.
    ready_at
        When the boxes are ready at the centres (``"HH:MM"`` or minutes after midnight).
    max_route_min
        Longest convoy route, minutes (None: no limit).
    media_deadline_min
        Media must reach the tally centre by ``ready_at`` plus this (minutes).
    time_limit_s
        Wall-clock limit of the whole call; the parts' routing budgets sum to it less a
        10 % reserve for building and labelling.
    seed
        Seed of every part's search.
    executor
        A ``concurrent.futures.Executor`` to solve the parts on (None: in this process).
    boxes
        Ballot boxes per centre: None (:data:`DEFAULT_BOXES` each), an int, a mapping or
        Series by ``center_id``, a table or CSV ``center_id, boxes``. Centres with 0
        boxes are no pick-up.
    phase
        With an ElectionPlan: the day.
    max_iterations
        Stop each part's search after this many iterations: the routes then repeat for a
        seed on any machine (a search stopped by the time limit repeats only if it got
        as far).
    escorts
        Teams free to escort, per garrison (a mapping or Series by ``garrison_id``; a
        garrison not listed has none): each convoy needs one, so a garrison sends at most
        that many convoys (shared over its warehouses in proportion). None: no limit. The
        hook for the movement timeline's released teams.
    timeline
        A :class:`~electsec.Timeline` of the day (``es.movement_timeline``; a Timeline
        given as ``escorts=`` counts as this): each garrison sends at most as many
        convoys as the timeline releases teams from it (and at most ``escorts=``), every
        convoy is escorted by a team released from its first centre or back at its
        garrison (:mod:`electsec.transfer_escorts`; a convoy none can escort is not run,
        its centres dropped ``no_escort``), and :attr:`TransferPlan.timeline` is a copy
        with the escort legs written in.

    Returns
    -------
    TransferPlan

    Raises
    ------
    InputError
        For bad options, points, boxes or vehicles (every problem listed).
    """
    clock = time.perf_counter()
    options = {
        "time_limit_s": time_limit_s,
        "seed": seed,
        "max_route_min": max_route_min,
        "media_deadline_min": media_deadline_min,
        "max_iterations": max_iterations,
    }
    _argument_issues(options)
    ready_s = _clock_arg(ready_at, "ready_at")
    day = _day(plan_or_election, phase)
    pts = read_collection_points(points)
    network = None if network is None else _road_network(network)
    travel, speeds = _travel(costs, network)
    centers, _ = _centers(day, boxes)
    garrison_ids = pd.Index(day.garrison_points.index.astype(str))
    fleet, timeline, tl_phase = _fleet_escorts(vehicles, escorts, timeline, phase, garrison_ids)
    max_route = None if max_route_min is None else int(max_route_min * 60)
    window = _Window(ready_s, max_route, ready_s + int(media_deadline_min * 60))
    drops = _Drops()
    parts = _parts(centers, _warehouse_of(centers, pts, drops), pts, day, fleet)
    legs = _legs(pts, travel, speeds)
    built = [_built(p, centers, day, pts, window, travel, legs, drops) for p in parts]
    deadline = clock + time_limit_s * (1 - _RESERVE_SHARE)
    budgets = _budgets(parts, built, deadline - time.perf_counter())
    solve = {"seed": int(seed), "max_iterations": max_iterations, "executor": executor}
    results, how = _route_parts(parts, built, budgets, solve, (pts, window), deadline)
    convoys = _collect(parts, built, results, how, centers, window, pts, drops)
    escorted = _escort(convoys, centers, (timeline, tl_phase), (travel, pts, day), drops)
    convoys = escorted.convoys
    direct = _direct_s(parts, built, centers)
    pairs = (travel, _service_s(centers.boxes))
    media = _media(convoys, direct, pts, legs, window, parts, centers, pairs)
    fleet_used = (
        "table"
        if fleet.table is not None
        else {"vehicles_per_team": fleet.per_team, "boxes_per_vehicle": fleet.boxes}
    )
    parameters = options | {
        "ready_at": _clock(ready_s),
        "phase": phase,
        "vehicles": fleet_used,
        "road": dataclasses.asdict(speeds),
        "network": network is not None,
        "escorts": None if fleet.escorts is None else int(fleet.escorts.sum()),
        "timeline": tl_phase,
    }
    return TransferPlan(
        routes=_routes(convoys, network),
        stops=_stops(convoys, centers),
        dropped=_dropped(drops),
        media=media,
        parts=_parts_table(parts, results, budgets, how),
        parameters=parameters,
        solve_time_s=time.perf_counter() - clock,
        escorts=escorted.table,
        timeline=escorted.timeline,
    )


@dataclass(frozen=True)
class _Escorted:
    convoys: list[dict[str, Any]]
    table: pd.DataFrame | None = None
    timeline: Any = None


def _escort(
    convoys: list[dict[str, Any]],
    centers: _Centers,
    timed: tuple[Any, str | None],
    where: tuple[Travel, gpd.GeoDataFrame, AssignmentResult],
    drops: _Drops,
) -> _Escorted:
    """Escort every convoy from the timeline; drop the centres of those none can escort."""
    timeline, phase = timed
    if timeline is None or phase is None:
        return _Escorted(convoys)
    travel, points, day = where
    escorts, alone = assign_escorts(convoys, centers.ids, timeline, phase)
    for c in alone:
        first, _, load_s, _ = c["visits"][0]
        msg = (
            f"its convoy {c['convoy_id']} has no escort: no team is released at its first "
            f"centre {centers.ids[first]} by {_clock(load_s)} and none of garrison "
            f"{c['garrison_id']} is back by {_clock(c['start_s'])}; give the centre a team, "
            "count sooner, or set ready_at= later"
        )
        for i, *_ in c["visits"]:
            drops.add(str(centers.ids[i]), "no_escort", msg, warehouse_id=c["warehouse_id"],
                      boxes=int(centers.boxes[i]), earliest_s=int(load_s))  # fmt: skip
    gone = {c["convoy_id"] for c in alone}
    kept = [c for c in convoys if c["convoy_id"] not in gone]
    wh_xy = {str(k): (g.x, g.y) for k, g in points.geometry.items()}
    gp = day.garrison_points
    gar_xy = {str(k): (g.x, g.y) for k, g in zip(gp.index, gp.geometry, strict=True)}
    table = with_returns(escorts, travel, wh_xy, gar_xy)
    new = escorted_timeline(timeline, phase, table)
    return _Escorted(kept, table.drop(columns="row"), new)
