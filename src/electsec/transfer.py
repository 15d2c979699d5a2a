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
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from electsec.collection import ALL, read_collection_points
from electsec.errors import InputError, Issue, did_you_mean
from electsec.schema import SCHEMA_VERSION
from electsec.timeline import Timeline
from electsec.transfer_escorts import (
    assign_escorts,
    escort_phase,
    escorted_timeline,
    released_teams,
    with_returns,
)

if TYPE_CHECKING:
    from electsec.result import AssignmentResult
    from electsec.routing import Routes, RoutingProblem, VehicleRoute

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

#: Road speed of a convoy, km/h.
ROAD_SPEED_KMH: Final = 50.0
#: Road distance over geodesic distance (the default travel model's detour factor).
ROAD_DETOUR: Final = 1.3
#: Flight speed of a transport helicopter or aircraft, km/h.
AIR_SPEED_KMH: Final = 220.0
#: Default fleet: vehicles per team a garrison sent to the day's centres (rounded up,
#: per warehouse part), and ballot boxes one vehicle carries.
VEHICLES_PER_TEAM: Final = 0.5
BOXES_PER_VEHICLE: Final = 40
#: Ballot boxes per centre when ``boxes`` is not given (39,285 stations / 8,703 centres
#: in Iraq 2025 = 4.5, rounded up).
DEFAULT_BOXES: Final = 5
#: Loading at a centre: a fixed time plus a time per box (seconds).
LOAD_S_PER_CENTER: Final = 600
LOAD_S_PER_BOX: Final = 60
#: Time from the last convoy's hand-over to the media leaving the warehouse (seconds).
MEDIA_HANDLING_S: Final = 900
#: Largest part (pick-ups) given to one routing call.
MAX_PART_STOPS: Final = 1200
#: Travel time and distance of a pair with no road between them.
NO_ROAD: Final = 10**9
#: Share of ``time_limit_s`` kept for building the parts and labelling the routes.
_RESERVE_SHARE: Final = 0.1
#: Share of a part's budget for routing it to its media cut-off first; the rest routes it
#: again, to closing time if that left a centre out, or on the gate's slots if the
#: warehouse's queue ends after the cut-off (:func:`_gate_slots`).
_TIGHT_SHARE: Final = 0.5
#: Spare gate slots offered to the re-route on the gate's slots, per convoy of the first
#: routes (at least :data:`_MIN_SPARE_SLOTS`).
_SPARE_SLOTS: Final = 0.25
_MIN_SPARE_SLOTS: Final = 2
_FLEET_KEYS: Final = ("vehicles_per_team", "boxes_per_vehicle")
_COST_KEYS: Final = ("road_speed_kmh", "road_detour", "air_speed_kmh")
_GEOD: Final = pyproj.Geod(ellps="WGS84")

Travel = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def _clock(seconds: float | None) -> str:
    """Seconds after midnight as ``HH:MM`` (``+1`` for the next day), or ``""``."""
    if seconds is None or not np.isfinite(seconds):
        return ""
    minutes = math.ceil(seconds / 60)
    day, rest = divmod(minutes, 24 * 60)
    text = f"{rest // 60:02d}:{rest % 60:02d}"
    return text if day == 0 else f"{text} (+{day})"


@dataclass(frozen=True)
class _Speeds:
    road_m_per_s: float = ROAD_SPEED_KMH / 3.6
    detour: float = ROAD_DETOUR
    air_m_per_s: float = AIR_SPEED_KMH / 3.6


def _geodesic_m(lonlat: np.ndarray) -> np.ndarray:
    """Dense geodesic distances (metres) between points."""
    n = len(lonlat)
    i, j = np.triu_indices(n, k=1)
    out = np.zeros((n, n))
    if len(i):
        _, _, d = _GEOD.inv(lonlat[i, 0], lonlat[i, 1], lonlat[j, 0], lonlat[j, 1])
        out[i, j] = out[j, i] = d
    return out


def _geodesic_travel(speeds: _Speeds) -> Travel:
    def travel(lonlat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        metres = _geodesic_m(lonlat) * speeds.detour
        return np.rint(metres), np.ceil(metres / speeds.road_m_per_s - 1e-9)

    return travel


def _network_travel(network: Any) -> Travel:
    from electsec.network import RoadNetwork, network_costs  # noqa: PLC0415

    net = RoadNetwork.build(network)

    def travel(lonlat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids = pd.Index([f"p{i}" for i in range(len(lonlat))])
        layer = gpd.GeoDataFrame(geometry=shapely.points(lonlat), index=ids, crs="EPSG:4326")
        out = []
        for metric in ("road_distance", "travel_time"):
            coo = network_costs(layer, layer, net, metric=metric).matrix.tocoo()
            dense = np.full((len(ids), len(ids)), float(NO_ROAD))
            dense[coo.row, coo.col] = coo.data
            np.fill_diagonal(dense, 0.0)
            out.append(dense)
        return np.rint(out[0]), np.ceil(out[1] - 1e-9)

    return travel


def _travel(costs: Any, network: Any) -> tuple[Travel, _Speeds]:
    """Return the road travel model and the speeds (from ``costs`` / ``network``)."""
    speeds = _Speeds()
    if isinstance(costs, Mapping):
        unknown = sorted(set(costs) - set(_COST_KEYS))
        bad = [k for k in _COST_KEYS if k in costs and not _positive(costs[k])]
        if unknown or bad:
            msg = f"unknown {unknown} ({did_you_mean(unknown[0], _COST_KEYS)})" if unknown else ""
            msg += f" keys {bad} must be numbers > 0" if bad else ""
            raise InputError([Issue("arguments", "costs", tuple(unknown + bad), msg.strip())])
        speeds = _Speeds(
            float(costs.get("road_speed_kmh", ROAD_SPEED_KMH)) / 3.6,
            float(costs.get("road_detour", ROAD_DETOUR)),
            float(costs.get("air_speed_kmh", AIR_SPEED_KMH)) / 3.6,
        )
    elif costs is not None and not callable(costs):
        msg = (
            "must be None, a mapping of road_speed_kmh / road_detour / air_speed_kmh, or a "
            "callable lonlat (n, 2) -> (distance_m, duration_s) (n, n), got "
            f"{type(costs).__name__}"
        )
        raise InputError([Issue("arguments", "costs", (), msg)])
    if network is not None and callable(costs):
        msg = "give costs= (a callable) or network=, not both"
        raise InputError([Issue("arguments", "network", (), msg)])
    if network is not None:
        return _network_travel(network), speeds
    if callable(costs):
        return _checked_callable(costs), speeds
    return _geodesic_travel(speeds), speeds


def _road_network(network: Any) -> Any:
    from electsec.network import RoadNetwork  # noqa: PLC0415

    return RoadNetwork.build(network)


def _checked_callable(costs: Callable[..., Any]) -> Travel:
    def travel(lonlat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dist, dur = (np.asarray(m, dtype=float) for m in costs(lonlat.copy()))
        n = len(lonlat)
        if dist.shape != (n, n) or dur.shape != (n, n):
            msg = f"must return two ({n}, {n}) matrices, got {dist.shape} and {dur.shape}"
            raise InputError([Issue("arguments", "costs", (), msg)])
        if (
            not (np.isfinite(dist).all() and np.isfinite(dur).all())
            or (dist < 0).any()
            or (dur < 0).any()
        ):
            msg = "must return finite distances and durations ≥ 0"
            raise InputError([Issue("arguments", "costs", (), msg)])
        return np.rint(np.minimum(dist, NO_ROAD)), np.ceil(np.minimum(dur, NO_ROAD) - 1e-9)

    return travel


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


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


@dataclass(frozen=True)
class _Fleet:
    """Per garrison: vehicles and boxes per vehicle (explicit table), or the defaults."""

    per_team: float = VEHICLES_PER_TEAM
    boxes: int = BOXES_PER_VEHICLE
    table: pd.DataFrame | None = None
    escorts: pd.Series | None = None  # teams free to escort, per garrison: convoys at most


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


# -- parts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Centers:
    """The day's centres with something to move, as arrays."""

    ids: np.ndarray
    lonlat: np.ndarray
    governorate: np.ndarray
    boxes: np.ndarray


@dataclass(frozen=True)
class _Part:
    """One routing call: a warehouse, its centres, the garrisons' vehicles."""

    name: str
    warehouse: str
    centers: np.ndarray  # indices into _Centers
    garrisons: tuple[str, ...]
    counts: tuple[int, ...]
    capacity: tuple[int, ...]


@dataclass
class _Drops:
    """Dropped centres, as rows of :attr:`TransferPlan.dropped`."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, center: str, reason: str, message: str, **numbers: Any) -> None:
        row = {"center_id": center, "reason": reason, "warehouse_id": None, "boxes": None}
        row |= {"capacity": None, "earliest_s": None, "closing_s": None}
        self.rows.append(row | numbers | {"message": message})


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


@dataclass(frozen=True)
class _Window:
    """The night's times (seconds after midnight) and limits."""

    ready_s: int
    max_route_s: int | None
    deadline_s: int


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


def _budgets(sizes: list[int], remaining_s: float) -> list[float]:
    """Split ``remaining_s`` over the parts in proportion to their pick-ups."""
    total = max(sum(sizes), 1)
    return [max(remaining_s * s / total, 0.05) for s in sizes]


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
        rate = float(wh["convoys_per_hour"])
        gap = 0.0 if math.isnan(rate) else 3600.0 / rate
        opens, closes = int(wh["opens_min"]) * 60, int(wh["closes_min"]) * 60
        last = -math.inf
        for c in sorted(group, key=lambda c: (c["arrive_s"], c["convoy_id"])):
            handover = math.ceil(max(c["arrive_s"], opens, last + gap))
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


def _by(rows: list[dict[str, Any]], key: str) -> dict[Any, list[dict[str, Any]]]:
    out: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row[key], []).append(row)
    return dict(sorted(out.items()))


# -- echelon 2: result media -------------------------------------------------------------


@dataclass(frozen=True)
class _Legs:
    """Road and flight times between the collection points."""

    ids: pd.Index
    road_s: np.ndarray
    air_s: np.ndarray
    tally: str
    hub: str | None


def _legs(points: gpd.GeoDataFrame, travel: Travel, speeds: _Speeds) -> _Legs:
    lonlat = np.column_stack([points.geometry.x.to_numpy(), points.geometry.y.to_numpy()])
    _, road = travel(lonlat)
    air = np.ceil(_geodesic_m(lonlat) / speeds.air_m_per_s - 1e-9)
    ids = pd.Index(points.index.astype(str))
    tally = str(points.index[points["kind"] == "tally"][0])
    fields = np.flatnonzero((points["kind"] == "airfield").to_numpy())
    hub = None
    if len(fields):
        hub = str(ids[fields[np.argmin(road[fields, ids.get_loc(tally)])]])
    return _Legs(ids, road, air, tally, hub)


def _fastest(wid: str, ready_s: float, points: gpd.GeoDataFrame, legs: _Legs) -> dict[str, Any]:
    """Find the earliest arrival at the tally of media leaving ``wid`` at ``ready_s``.

    By road, or flown from an airfield serving its governorates.
    """
    at = legs.ids.get_loc
    w, t = at(wid), at(legs.tally)
    tally = points.loc[legs.tally]
    opens = int(tally["opens_min"]) * 60

    def open_at(s: float) -> float:
        return max(s, opens)

    best: dict[str, Any] = {
        "mode": "road",
        "via": "",
        "depart_s": ready_s,
        "arrive_s": open_at(ready_s + float(legs.road_s[w, t])),
    }
    served = set(points.loc[wid, "governorates"])
    if legs.hub is None:
        return best
    h = at(legs.hub)
    for aid, row in points[points["kind"] == "airfield"].iterrows():
        if aid == legs.hub or not (
            ALL in row["governorates"] or served & set(row["governorates"])
        ):
            continue
        a = at(str(aid))
        reach = ready_s + legs.road_s[w, a]
        first, slot = int(row["opens_min"]) * 60, int(row["slot_min"]) * 60
        depart = first + max(0, math.ceil((reach - first) / slot)) * slot
        if depart > int(row["closes_min"]) * 60:
            continue
        arrive = open_at(depart + float(legs.air_s[a, h] + legs.road_s[h, t]))
        if arrive < float(best["arrive_s"]):
            best = {
                "mode": "air",
                "via": f"{aid}>{legs.hub}",
                "depart_s": depart,
                "arrive_s": arrive,
            }
    return best


def _media_cutoff_s(
    wid: str, points: gpd.GeoDataFrame, legs: _Legs, window: _Window
) -> int | None:
    """Find the latest last hand-over at ``wid`` whose media reach the tally in time.

    None when even media ready at ``ready_at`` are late. The arrival only grows with the
    departure time, so a bisection over whole seconds finds it.
    """

    def in_time(handover: int) -> bool:
        ready = handover + MEDIA_HANDLING_S
        return bool(_fastest(wid, ready, points, legs)["arrive_s"] <= window.deadline_s)

    lo, hi = window.ready_s, window.deadline_s
    if not in_time(lo):
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if in_time(mid) else (lo, mid - 1)
    return lo


def _media(
    convoys: list[dict[str, Any]],
    direct_s: dict[str, np.ndarray],
    points: gpd.GeoDataFrame,
    legs: _Legs,
    window: _Window,
) -> pd.DataFrame:
    """One row per warehouse that has centres: when its media reach the tally centre.

    ``earliest_s`` is a bound for the centres collected: none can hand over before
    ``ready_at`` + its loading + the direct drive to the warehouse.
    """
    rows = []
    handovers = _by(convoys, "warehouse_id")
    for wid, direct in sorted(direct_s.items()):
        mine = handovers.get(wid, [])
        done = [c["handover_s"] for c in mine]
        slowest = max((float(direct[v[0]]) for c in mine for v in c["visits"]), default=0.0)
        ready = (max(done) if done else window.ready_s) + MEDIA_HANDLING_S
        best = _fastest(wid, ready, points, legs)
        earliest = _fastest(wid, window.ready_s + slowest + MEDIA_HANDLING_S, points, legs)
        rows.append(
            {
                "warehouse_id": wid,
                "convoys": len(done),
                "ready_s": int(ready),
                "mode": best["mode"],
                "via": best["via"],
                "depart_s": int(best["depart_s"]),
                "arrive_s": int(best["arrive_s"]),
                "deadline_s": window.deadline_s,
                "on_time": bool(best["arrive_s"] <= window.deadline_s),
                "earliest_s": int(earliest["arrive_s"]),
            }
        )
    columns = [
        "warehouse_id",
        "convoys",
        "ready_s",
        "mode",
        "via",
        "depart_s",
        "arrive_s",
        "deadline_s",
        "on_time",
        "earliest_s",
    ]
    table = pd.DataFrame(rows, columns=columns)
    for column in ("ready_s", "depart_s", "arrive_s", "deadline_s", "earliest_s"):
        table[column.removesuffix("_s")] = table[column].map(_clock)
    return table


# -- tables ------------------------------------------------------------------------------

STOP_COLUMNS: Final = (
    "convoy_id",
    "sequence",
    "place_id",
    "place_kind",
    "action",
    "arrive_s",
    "start_s",
    "depart_s",
    "boxes",
    "box_ids",
    "seal_ids",
    "arrive",
    "depart",
    "lon",
    "lat",
)
DROP_COLUMNS: Final = (
    "center_id",
    "reason",
    "warehouse_id",
    "boxes",
    "capacity",
    "earliest_s",
    "closing_s",
    "min_route_s",
    "message",
)


def box_ids(center_id: str, boxes: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Ballot-box and seal ids of a centre: ``<center>-B01``…, ``<center>-S01``….

    Parameters
    ----------
    center_id
        The centre.
    boxes
        Its number of boxes.

    Returns
    -------
    tuple
        The box ids and the seal ids, one per box, in box order.
    """
    return (
        tuple(f"{center_id}-B{k:02d}" for k in range(1, boxes + 1)),
        tuple(f"{center_id}-S{k:02d}" for k in range(1, boxes + 1)),
    )


def _stop_rows(c: dict[str, Any], centers: _Centers) -> list[dict[str, Any]]:
    path = c["path"]
    rows = [
        {
            "place_id": c["garrison_id"],
            "place_kind": "garrison",
            "action": "depart",
            "arrive_s": None,
            "start_s": c["start_s"],
            "depart_s": c["start_s"],
            "boxes": 0,
            "box_ids": (),
            "seal_ids": (),
        }
    ]
    carried: list[tuple[str, ...]] = [(), ()]
    for i, arrival, start, departure in c["visits"]:
        boxes, seals = box_ids(str(centers.ids[i]), int(centers.boxes[i]))
        carried = [carried[0] + boxes, carried[1] + seals]
        rows.append(
            {
                "place_id": str(centers.ids[i]),
                "place_kind": "center",
                "action": "pickup",
                "arrive_s": arrival,
                "start_s": start,
                "depart_s": departure,
                "boxes": len(boxes),
                "box_ids": boxes,
                "seal_ids": seals,
            }
        )
    rows.append(
        {
            "place_id": c["warehouse_id"],
            "place_kind": "warehouse",
            "action": "handover",
            "arrive_s": c["arrive_s"],
            "start_s": c["handover_s"],
            "depart_s": c["handover_s"],
            "boxes": len(carried[0]),
            "box_ids": carried[0],
            "seal_ids": carried[1],
        }
    )
    for seq, (row, xy) in enumerate(zip(rows, path, strict=True)):
        row |= {"convoy_id": c["convoy_id"], "sequence": seq, "lon": xy[0], "lat": xy[1]}
    return rows


def _stops(convoys: list[dict[str, Any]], centers: _Centers) -> pd.DataFrame:
    rows = [row for c in convoys for row in _stop_rows(c, centers)]
    table = pd.DataFrame(rows, columns=[c for c in STOP_COLUMNS if c not in ("arrive", "depart")])
    table["arrive_s"] = table["arrive_s"].astype("Int64")
    table["arrive"] = [_clock(None if pd.isna(s) else float(s)) for s in table["arrive_s"]]
    table["depart"] = table["depart_s"].map(_clock)
    return table[list(STOP_COLUMNS)]


def _road_lines(convoys: list[dict[str, Any]], network: Any) -> list[shapely.LineString]:
    """Each convoy's line along the roads driven (a straight leg where no road path is)."""
    from electsec.network import RoadNetwork  # noqa: PLC0415

    ends = [(k, a, b) for k, c in enumerate(convoys) for a, b in itertools.pairwise(c["path"])]
    if not ends:
        return []
    frm = gpd.GeoSeries(shapely.points([a for _, a, _ in ends]), crs="EPSG:4326")
    to = gpd.GeoSeries(shapely.points([b for _, _, b in ends]), crs="EPSG:4326")
    paths = RoadNetwork.build(network).paths(to, frm).to_numpy()
    coords: list[list[np.ndarray]] = [[] for _ in convoys]
    for (k, a, b), path in zip(ends, paths, strict=True):
        empty = path is None or shapely.is_empty(path)
        coords[k].append(np.array([a, b]) if empty else shapely.get_coordinates(path))
    return [shapely.linestrings(np.vstack(parts)) for parts in coords]


def _routes(convoys: list[dict[str, Any]], network: Any = None) -> gpd.GeoDataFrame:
    columns = [
        "convoy_id",
        "garrison_id",
        "warehouse_id",
        "part",
        "centers",
        "boxes",
        "start_s",
        "arrive_s",
        "handover_s",
        "duration_s",
        "distance_m",
    ]
    rows = [{k: c[k] for k in columns if k in c} | {"centers": len(c["visits"])} for c in convoys]
    if network is None:
        lines = [shapely.linestrings(c["path"]) for c in convoys]
    else:
        lines = _road_lines(convoys, network)
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("start_s", "arrive_s", "handover_s"):
        frame[column.removesuffix("_s")] = frame[column].map(_clock)
    return gpd.GeoDataFrame(frame, geometry=lines, crs="EPSG:4326")


def _dropped(drops: _Drops) -> pd.DataFrame:
    table = pd.DataFrame(drops.rows, columns=list(DROP_COLUMNS))
    for column in ("boxes", "capacity", "earliest_s", "closing_s", "min_route_s"):
        table[column] = table[column].astype("Int64")
    return table.sort_values(["center_id"], kind="stable").reset_index(drop=True)


# -- the plan ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TransferPlan:
    """The night's ballot transfer: convoys, their stops, what was dropped, the media.

    Attributes
    ----------
    routes
        One row per convoy (GeoDataFrame, EPSG:4326, a LineString garrison → centres →
        warehouse: along the roads driven with ``network=``, else in straight legs):
        ``convoy_id, garrison_id, warehouse_id, part, centers, boxes, start_s, arrive_s``
        (at the warehouse gate), ``handover_s``
        (after the gate's queue), ``duration_s, distance_m`` and the times as ``HH:MM``.
    stops
        One row per stop of every convoy, in order (:data:`STOP_COLUMNS`): the garrison
        (``depart``), each centre (``pickup``: ``arrive_s``, ``start_s`` loading,
        ``depart_s``, the ``boxes`` and their ``box_ids`` / ``seal_ids``), the warehouse
        (``handover`` at ``start_s``, every box carried).
    dropped
        Centres no convoy collects (:data:`DROP_COLUMNS`): ``reason`` (``no_warehouse``,
        ``intake_boxes``, ``no_vehicle``, ``capacity``, ``unreachable``, ``not_served``,
        ``intake_rate``, ``no_escort``), the numbers (boxes vs capacity, earliest
        hand-over vs closing, shortest route) and a sentence with the fix.
    media
        One row per warehouse with centres: when its media are ready (last hand-over +
        :data:`MEDIA_HANDLING_S`), ``mode`` (``road`` or ``air``) and ``via``, arrival at
        the tally centre, the deadline, ``on_time`` and ``earliest_s``, the earliest
        arrival any plan could reach (every centre driven straight to the warehouse at
        ``ready_at``).
    parts
        One row per routing part: ``part, warehouse_id, stops, vehicles, budget_s,
        runtime_s, stopped_by, feasible``.
    parameters
        The options used.
    solve_time_s
        Wall time of the call.
    escorts
        With ``timeline=``: one row per convoy (:data:`electsec.transfer_escorts.ESCORT_COLUMNS`):
        the escorting team's ``garrison_id`` and the ``center_id`` it guarded, where it
        ``joins_at`` (that centre or its garrison) at ``join_s``, its ``release_s``, the
        hand-over ``end_s`` and ``return_s`` back at its garrison. None without.
    timeline
        With ``timeline=``: a copy of that :class:`~electsec.Timeline` with the escort
        legs written in (``escort_convoy``, ``escort_end``, the later ``return_at``;
        ``by_hour`` counts escorts away until back and gains ``escorting``). None without.
    """

    routes: gpd.GeoDataFrame = field(repr=False)
    stops: pd.DataFrame = field(repr=False)
    dropped: pd.DataFrame = field(repr=False)
    media: pd.DataFrame = field(repr=False)
    parts: pd.DataFrame = field(repr=False)
    parameters: dict[str, Any] = field(default_factory=dict, repr=False)
    solve_time_s: float = 0.0
    escorts: pd.DataFrame | None = field(default=None, repr=False)
    timeline: Any = field(default=None, repr=False)

    def summary(self) -> pd.Series:
        """Return the key figures: convoys, centres and boxes moved or dropped, times."""
        picked = self.stops[self.stops["action"] == "pickup"]
        late = self.media[~self.media["on_time"]]
        return pd.Series(
            {
                "convoys": len(self.routes),
                "centers_collected": len(picked),
                "centers_dropped": len(self.dropped),
                "boxes_moved": int(picked["boxes"].sum()),
                "boxes_dropped": int(self.dropped["boxes"].fillna(0).sum()),
                "convoy_hours": round(float(self.routes["duration_s"].sum()) / 3600, 2),
                "last_handover": _clock(
                    self.routes["handover_s"].max() if len(self.routes) else None
                ),
                "media_late": len(late),
                "last_media": _clock(self.media["arrive_s"].max() if len(self.media) else None),
                "solve_time_s": round(self.solve_time_s, 2),
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the plan as JSON-ready data (:func:`electsec.schema.transfer_schema`)."""
        from electsec.result import _records  # noqa: PLC0415

        routes = pd.DataFrame(self.routes.drop(columns="geometry"))
        routes["path"] = [
            shapely.get_coordinates(g).round(6).tolist() for g in self.routes.geometry
        ]
        stops = self.stops.assign(
            box_ids=self.stops["box_ids"].map(list), seal_ids=self.stops["seal_ids"].map(list)
        )
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "transfer",
            "routes": _records(routes),
            "stops": _records(stops),
            "dropped": _records(self.dropped),
            "media": _records(self.media),
            "parts": _records(self.parts),
            "parameters": dict(self.parameters),
            "solve_time_s": self.solve_time_s,
        } | ({} if self.escorts is None else {"escorts": _records(self.escorts)})

    def manifests(self, directory: str | os.PathLike[str]) -> list[Path]:
        """Write one chain-of-custody CSV and one printable offline page per convoy.

        Parameters
        ----------
        directory
            Folder to write into (created if needed).

        Returns
        -------
        list of pathlib.Path
            The files written, ``<convoy>.csv`` and ``<convoy>.html`` per convoy (``/``
            in convoy ids becomes ``_``).
        """
        from electsec.custody import write_manifests  # noqa: PLC0415

        written: list[Path] = write_manifests(self, Path(directory))
        return written

    def report(self, path: str | os.PathLike[str], **kwargs: Any) -> Path:
        """Write one offline HTML page: figures, the routes map, convoys on the road, tables.

        Parameters
        ----------
        path
            The ``.html`` file to write.
        **kwargs
            ``basemap`` (polygons under the routes) and ``title``.

        Returns
        -------
        pathlib.Path
        """
        from electsec.transfer_report import write_transfer_report  # noqa: PLC0415

        return write_transfer_report(self, Path(path), **kwargs)

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"TransferPlan({s['convoys']} convoys, {s['centers_collected']} centres collected, "
            f"{s['centers_dropped']} dropped, media late: {s['media_late']})"
        )


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


def _parts_table(
    parts: list[_Part], results: list[Any], budgets: list[float], how: list[str]
) -> pd.DataFrame:
    rows = [
        {
            "part": p.name,
            "warehouse_id": p.warehouse,
            "stops": len(p.centers),
            "vehicles": int(sum(p.counts)),
            "budget_s": round(b, 3),
            "runtime_s": None if r is None else round(r.runtime_s, 3),
            "stopped_by": "no_vehicle" if r is None else r.stopped_by,
            "feasible": r is None or r.feasible,
            "routed_to": h,
        }
        for p, r, b, h in zip(parts, results, budgets, how, strict=True)
    ]
    columns = [
        "part",
        "warehouse_id",
        "stops",
        "vehicles",
        "budget_s",
        "runtime_s",
        "stopped_by",
        "feasible",
        "routed_to",
    ]
    return pd.DataFrame(rows, columns=columns)


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
    remaining = time_limit_s * (1 - _RESERVE_SHARE) - (time.perf_counter() - clock)
    sizes = [0 if b.problem is None else len(p.centers) for p, b in zip(parts, built, strict=True)]
    budgets = [
        0.0 if s == 0 else b for s, b in zip(sizes, _budgets(sizes, remaining), strict=True)
    ]
    solve = {"seed": int(seed), "max_iterations": max_iterations, "executor": executor}
    results, how = _route_parts(parts, built, budgets, solve, (pts, window))
    convoys = _collect(parts, built, results, how, centers, window, pts, drops)
    escorted = _escort(convoys, centers, (timeline, tl_phase), (travel, pts, day), drops)
    convoys = escorted.convoys
    media = _media(convoys, _direct_s(parts, built, centers), pts, legs, window)
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


def _complete(r: Routes | None) -> bool:
    return (
        r is not None and r.feasible and not r.dropped and not any(x.time_warp_s for x in r.routes)
    )


def _gate_gap_s(wh: Any) -> int:
    """Whole seconds the gate of ``wh`` needs per convoy (rounded up; 0: no limit)."""
    rate = float(wh["convoys_per_hour"])
    return 0 if math.isnan(rate) else math.ceil(3600.0 / rate)


def _gate_last_s(arrivals: list[int], wh: Any) -> float:
    """Return the last hand-over of convoys reaching the gate of ``wh`` at ``arrivals``."""
    rate = float(wh["convoys_per_hour"])
    gap = 0.0 if math.isnan(rate) else 3600.0 / rate
    last = -math.inf
    for arrival in sorted(arrivals):
        last = math.ceil(max(arrival, int(wh["opens_min"]) * 60, last + gap))
    return last


@dataclass(frozen=True)
class _Slotted:
    """A part routed again on the gate's slots, and its first routes as the warm start."""

    problem: RoutingProblem
    initial: tuple[tuple[int, tuple[int, ...]], ...]


def _on_slots(tight: RoutingProblem, slots: list[tuple[int, int]]) -> RoutingProblem:
    """Return the tight problem with one vehicle per slot ``(garrison type, shift end)``."""
    types = tuple(
        dataclasses.replace(tight.vehicle_types[j], count=1, shift_end_s=end) for j, end in slots
    )
    return dataclasses.replace(tight, vehicle_types=types)


def _spare_slots(
    parts: list[_Part],
    slots: dict[int, list[tuple[int, int]]],
    ends: Iterator[int],
    count: int,
) -> None:
    """Give ``count`` more slots (from ``ends``) to the vehicles the first routes left idle.

    In turn over the (part, garrison) pairs with vehicles idle, those whose vehicles the
    first routes used most first.
    """
    used = {(i, j): 0 for i in slots for j in range(len(parts[i].garrisons))}
    for i, mine in slots.items():
        for j, _ in mine:
            used[i, j] += 1
    idle = {key: parts[key[0]].counts[key[1]] - n for key, n in used.items()}
    turn = sorted((key for key, n in idle.items() if n > 0), key=lambda k: (-used[k], k))
    while count > 0 and turn:
        for key in list(turn):
            end = next(ends, None)
            if end is None or count == 0:
                return
            slots[key[0]].append((key[1], end))
            count, idle[key] = count - 1, idle[key] - 1
            if not idle[key]:
                turn.remove(key)


def _gate_slots(
    parts: list[_Part],
    built: list[_Built],
    results: list[Any],
    points: gpd.GeoDataFrame,
    window: _Window,
) -> dict[int, _Slotted]:
    """Put every convoy of a warehouse whose gate queue ends too late on a gate slot.

    At a warehouse whose parts were all routed to the media cut-off ``c`` and collected
    every centre, but whose gate queue ends after ``c``: the gate hands over one convoy
    every ``g`` seconds (its rate, rounded up), so slot ``k`` ends at ``c - k g``. The
    first routes, latest arrival first, take slots 0, 1, …, each its own vehicle of its
    garrison whose shift ends at its slot; idle vehicles take :data:`_SPARE_SLOTS` more.
    No slot ends before the gate opens or the boxes are ready. Convoys that each reach
    the gate by their own slot are all handed over by ``c``, in whatever order they
    arrive: the ``m`` latest arrive by ``c - (m - 1) g``. The first routes are the warm
    start (those past their slot are repaired by the search).
    """
    out: dict[int, _Slotted] = {}
    for wid in dict.fromkeys(p.warehouse for p in parts):
        mine = [i for i, p in enumerate(parts) if p.warehouse == wid]
        cutoff, wh = built[mine[0]].cutoff_s, points.loc[wid]
        gap = _gate_gap_s(wh)
        if cutoff is None or not gap:
            continue
        if not all(built[i].tight is not None and _complete(results[i]) for i in mine):
            continue
        if _gate_last_s([x.end_s for i in mine for x in results[i].routes], wh) <= cutoff:
            continue
        floor_s = max(int(wh["opens_min"]) * 60, window.ready_s)
        ends = iter(range(cutoff, floor_s - 1, -gap))
        ranked = sorted(
            ((x, i) for i in mine for x in results[i].routes),
            key=lambda t: (-t[0].end_s, t[1], t[0].start_depot, t[0].stops),
        )
        slots: dict[int, list[tuple[int, int]]] = {i: [] for i in mine}
        warm: dict[int, list[tuple[int, tuple[int, ...]]]] = {i: [] for i in mine}
        for (x, i), end in zip(ranked, ends, strict=False):
            warm[i].append((len(slots[i]), x.stops))
            slots[i].append((x.start_depot - 1, end))
        spare = max(_MIN_SPARE_SLOTS, math.ceil(len(ranked) * _SPARE_SLOTS))
        _spare_slots(parts, slots, ends, spare)
        for i in mine:
            tight = built[i].tight
            if tight is not None and slots[i]:
                out[i] = _Slotted(_on_slots(tight, slots[i]), tuple(warm[i]))
    return out


def _better_gates(
    parts: list[_Part], results: list[Any], tried: dict[int, Any], points: gpd.GeoDataFrame
) -> dict[int, Any]:
    """Pick the re-routed parts to keep.

    Per warehouse: those that still collect every centre, when the gate queue then ends
    earlier than before.
    """
    keep: dict[int, Any] = {}
    for wid in dict.fromkeys(parts[i].warehouse for i in tried):
        mine = [i for i, p in enumerate(parts) if p.warehouse == wid]
        new = {i: r for i, r in tried.items() if i in mine and _complete(r)}
        before = [x.end_s for i in mine for x in results[i].routes]
        after = [x.end_s for i in mine for x in new.get(i, results[i]).routes]
        wh = points.loc[wid]
        if new and _gate_last_s(after, wh) < _gate_last_s(before, wh):
            keep |= new
    return keep


def _route_parts(
    parts: list[_Part],
    built: list[_Built],
    budgets: list[float],
    solve: dict[str, Any],
    where: tuple[gpd.GeoDataFrame, _Window],
) -> tuple[list[Routes | None], list[str]]:
    """Route every part, first to meet the media deadline where that is possible.

    A part whose every centre can reach its warehouse by the media cut-off is routed with
    that cut-off as the end of the shifts, on :data:`_TIGHT_SHARE` of its budget. On the
    rest: if that left a centre out, it is routed again to the warehouse's closing time;
    if the warehouse's gate queue then ends after the cut-off, it is routed again on the
    gate's slots (:func:`_gate_slots`), kept if every centre is still collected and the
    queue ends sooner.
    """
    points, window = where
    first = [b.problem if b.tight is None else b.tight for b in built]
    shares = [
        t if b.tight is None else t * _TIGHT_SHARE for b, t in zip(built, budgets, strict=True)
    ]
    results = _solve_parts(first, shares, **solve)
    how = ["" if b.problem is None else "warehouse_hours" for b in built]
    relax = [i for i, b in enumerate(built) if b.tight is not None and not _complete(results[i])]
    for i, b in enumerate(built):
        how[i] = "media_deadline" if b.tight is not None else how[i]
    slotted = _gate_slots(parts, built, results, points, window)
    again_ids = relax + [i for i in slotted if i not in relax]
    problems = [built[i].problem if i in relax else slotted[i].problem for i in again_ids]
    starts = [None if i in relax else slotted[i].initial for i in again_ids]
    rest = [budgets[i] - shares[i] for i in again_ids]
    again = _solve_parts(problems, rest, initial=starts, **solve)
    tried = {}
    for i, r in zip(again_ids, again, strict=True):
        if i in relax:
            results[i], how[i] = r, "warehouse_hours"
        else:
            tried[i] = r
    for i, r in _better_gates(parts, results, tried, points).items():
        results[i], how[i] = r, "media_deadline_gate"
    return results, how


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


@dataclass(frozen=True)
class _Escorted:
    convoys: list[dict[str, Any]]
    table: pd.DataFrame | None = None
    timeline: Any = None


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
