"""What both echelons of the ballot transfer share: the clock, travel and the records.

The travel model (geodesic with a detour factor at a road speed, a road network, or a
caller's ``costs`` callable; flights on the geodesic), ``HH:MM`` clock labels, and the
small records :mod:`electsec.transfer` passes between its steps: the fleet, the centres
with boxes to move, a routing part, the dropped centres and the night's time window.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from electsec.errors import InputError, Issue, did_you_mean

__all__ = [
    "AIR_SPEED_KMH",
    "BOXES_PER_VEHICLE",
    "NO_ROAD",
    "ROAD_DETOUR",
    "ROAD_SPEED_KMH",
    "VEHICLES_PER_TEAM",
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
#: Travel time and distance of a pair with no road between them.
NO_ROAD: Final = 10**9
_COST_KEYS: Final = ("road_speed_kmh", "road_detour", "air_speed_kmh")
_GEOD: Final = pyproj.Geod(ellps="WGS84")
Travel = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


# -- travel ------------------------------------------------------------------------------


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
            # the cost matrix is centre (row) x garrison (column), driven garrison ->
            # centre: from column to row; a leg matrix runs from row to column
            coo = network_costs(layer, layer, net, metric=metric).matrix.tocoo()
            dense = np.full((len(ids), len(ids)), float(NO_ROAD))
            dense[coo.col, coo.row] = coo.data
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


# -- records -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fleet:
    """Per garrison: vehicles and boxes per vehicle (explicit table), or the defaults."""

    per_team: float = VEHICLES_PER_TEAM
    boxes: int = BOXES_PER_VEHICLE
    table: pd.DataFrame | None = None
    escorts: pd.Series | None = None  # teams free to escort, per garrison: convoys at most


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


@dataclass(frozen=True)
class _Window:
    """The night's times (seconds after midnight) and limits."""

    ready_s: int
    max_route_s: int | None
    deadline_s: int


def _gate_gap(wh: Any) -> float:
    """Seconds the gate of warehouse ``wh`` needs between two hand-overs (0.0: no limit)."""
    rate = float(wh["convoys_per_hour"])
    return 0.0 if math.isnan(rate) else 3600.0 / rate


def _handover_s(arrive_s: float, wh: Any, last_s: float) -> int:
    """Return the gate's hand-over: after arrival and opening, a gap after ``last_s``.

    Rounded up to the whole second; ``last_s`` is ``-inf`` for the first convoy.
    """
    return math.ceil(max(arrive_s, int(wh["opens_min"]) * 60, last_s + _gate_gap(wh)))


def _by(rows: list[dict[str, Any]], key: str) -> dict[Any, list[dict[str, Any]]]:
    out: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row[key], []).append(row)
    return dict(sorted(out.items()))
