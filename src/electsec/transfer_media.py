"""Echelon 2 of the ballot transfer: each warehouse's result media to the tally centre.

Once a warehouse's last convoy has handed over (plus :data:`MEDIA_HANDLING_S`), its
memory sticks go by road, or by road to an airfield serving its governorate, the next
departure slot, a flight to the airfield nearest the tally centre and the road from
there, whichever arrives first (:func:`_fastest`). :func:`_media_cutoff_s` finds the
latest last hand-over whose media are still on time, the cut-off echelon 1 routes to,
and :func:`_media` tabulates :attr:`electsec.TransferPlan.media`, with the earliest
arrival any plan collecting the same centres could reach: from a bound on the last
hand-over that counts the slowest centre's drive and the gate's queue
(:func:`_handover_floor_s`; for late media also the centres that cannot share a convoy,
:mod:`electsec.transfer_bounds`), and why late media are late (:data:`MEDIA_REASONS`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd

from electsec.collection import ALL
from electsec.transfer_bounds import last_handover_bound
from electsec.transfer_common import (
    Travel,
    _by,
    _Centers,
    _clock,
    _gate_gap,
    _geodesic_m,
    _handover_s,
    _Part,
    _Speeds,
    _Window,
)

__all__ = ["MEDIA_COLUMNS", "MEDIA_HANDLING_S", "MEDIA_REASONS"]

logger = logging.getLogger(__name__)

#: Time from the last convoy's hand-over to the media leaving the warehouse (seconds).
MEDIA_HANDLING_S: Final = 900
#: Columns of :attr:`electsec.TransferPlan.media`: the ``_s`` times, then as ``HH:MM``.
MEDIA_COLUMNS: Final = (
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
    "last_handover_s",
    "gate_wait_s",
    "late_s",
    "reason",
    "ready",
    "depart",
    "arrive",
    "deadline",
    "earliest",
    "last_handover",
)
#: Why media are late: ``too_far`` (no plan collecting the same centres could make it,
#: even ``earliest_s`` is after the deadline), ``routes`` (no bound rules it out, the
#: routes did not make it); ``""`` on time.
MEDIA_REASONS: Final = ("", "too_far", "routes")


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


def _gate_chain_s(first_s: float, count: int, wh: Any) -> int:
    """Return the ``count``-th hand-over of convoys all at the gate of ``wh`` at ``first_s``.

    The gate's rule (:func:`electsec.transfer_common._handover_s`, as at the gate).
    """
    last = _handover_s(first_s, wh, -math.inf)
    for _ in range(count - 1):
        last = _handover_s(last, wh, last)
    return last


def _min_convoys(loads: np.ndarray, capacity: int) -> int:
    """Fewest convoys of at most ``capacity`` boxes that carry centres of ``loads`` boxes.

    A centre's boxes ride in one convoy: the boxes need ``ceil(total / capacity)``, and no
    two centres of more than half a vehicle's boxes share one.
    """
    if capacity <= 0:
        return min(len(loads), 1)
    total = int(loads.sum())
    return max(-(-total // capacity), int((2 * loads > capacity).sum()))


def _handover_floor_s(
    visited: np.ndarray,
    direct: np.ndarray,
    wh: Any,
    capacity: int,
    boxes: np.ndarray,
    window: _Window,
) -> int:
    """Return a bound on the last hand-over of any plan collecting the centres ``visited``.

    Every convoy's last leg is a drive straight from a centre, loaded from ``ready_at``,
    to the warehouse (``direct``: loading + that drive), and no hand-over comes before
    the gate opens: so none is before ``first = max(opens, ready_at + the fastest
    direct)``, and the slowest centre's is no sooner than ``ready_at + its direct``. The
    convoys carry the centres' boxes within the largest ``capacity``, so there are at
    least :func:`_min_convoys` of them, and the gate spaces their hand-overs a gap apart
    (:func:`_gate_chain_s` from ``first``); the last is at least the later of the two.
    ``ready_at`` when there is no convoy.
    """
    if not len(visited):
        return window.ready_s
    legs_s = direct[visited]
    opens = int(wh["opens_min"]) * 60
    slowest = math.ceil(max(window.ready_s + float(legs_s.max()), opens))
    count = _min_convoys(boxes[visited], capacity)
    queue = _gate_chain_s(window.ready_s + float(legs_s.min()), count, wh)
    return max(slowest, queue)


def _shared_floor_s(
    visited: np.ndarray,
    direct: np.ndarray,
    wh: Any,
    capacity: int,
    centers: _Centers,
    window: _Window,
    pairs: tuple[Travel, np.ndarray],
) -> int:
    """Bound the last hand-over, also counting the centres that cannot share a convoy."""
    travel, service = pairs
    gap = _gate_gap(wh)

    def pair_s(idx: np.ndarray) -> np.ndarray:
        return travel(centers.lonlat[visited[idx]])[1]

    return last_handover_bound(
        window.ready_s,
        service[visited],
        direct[visited],
        centers.boxes[visited],
        capacity,
        gap,
        int(wh["opens_min"]) * 60,
        pair_s,
    )


def _reason(late_s: int, earliest_s: int, window: _Window) -> str:
    if not late_s:
        return ""
    return "too_far" if earliest_s > window.deadline_s else "routes"


def _media(
    convoys: list[dict[str, Any]],
    direct_s: dict[str, np.ndarray],
    points: gpd.GeoDataFrame,
    legs: _Legs,
    window: _Window,
    parts: list[_Part],
    centers: _Centers,
    pairs: tuple[Travel, np.ndarray] | None = None,
) -> pd.DataFrame:
    """One row per warehouse that has centres: when its media reach the tally centre.

    ``earliest_s`` is the fastest arrival of media ready :data:`MEDIA_HANDLING_S` after
    :func:`_handover_floor_s`, a bound on the last hand-over of any plan collecting the
    same centres; the arrival never falls as the media are ready later, so no such plan
    arrives sooner. ``reason`` says why late media are: ``too_far`` when even
    ``earliest_s`` misses the deadline, ``routes`` when it does not. With ``pairs``
    (the travel function and each centre's loading time), late media that bound does
    not rule out are bounded again counting the centres that cannot share a convoy
    (:func:`electsec.transfer_bounds.last_handover_bound`, its drives priced by the
    travel function), so ``routes`` means no cheap proof found it impossible.
    """
    capacity: dict[str, int] = {}
    for p in parts:
        capacity[p.warehouse] = max(capacity.get(p.warehouse, 0), *p.capacity, 0)
    rows = []
    handovers = _by(convoys, "warehouse_id")
    for wid, direct in sorted(direct_s.items()):
        mine = handovers.get(wid, [])
        done = [c["handover_s"] for c in mine]
        ready = (max(done) if done else window.ready_s) + MEDIA_HANDLING_S
        best = _fastest(wid, ready, points, legs)
        visited = np.array([v[0] for c in mine for v in c["visits"]], dtype=np.int64)
        wh, cap = points.loc[wid], capacity.get(wid, 0)
        floor = _handover_floor_s(visited, direct, wh, cap, centers.boxes, window)
        late = max(0, int(best["arrive_s"]) - window.deadline_s)
        if late and pairs is not None and len(visited):
            simple = int(_fastest(wid, floor + MEDIA_HANDLING_S, points, legs)["arrive_s"])
            if simple <= window.deadline_s:  # not ruled out yet: try the pairwise bound
                shared = _shared_floor_s(visited, direct, wh, cap, centers, window, pairs)
                floor = max(floor, shared)
        earliest = int(_fastest(wid, floor + MEDIA_HANDLING_S, points, legs)["arrive_s"])
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
                "on_time": not late,
                "earliest_s": earliest,
                "last_handover_s": int(max(done)) if done else None,
                "gate_wait_s": int(sum(c["handover_s"] - c["arrive_s"] for c in mine)),
                "late_s": late,
                "reason": _reason(late, earliest, window),
            }
        )
    table = pd.DataFrame(rows, columns=list(MEDIA_COLUMNS[: MEDIA_COLUMNS.index("reason") + 1]))
    table["last_handover_s"] = table["last_handover_s"].astype("Int64")
    for column in ("ready_s", "depart_s", "arrive_s", "deadline_s", "earliest_s"):
        table[column.removesuffix("_s")] = table[column].map(_clock)
    table["last_handover"] = [
        _clock(None if pd.isna(s) else float(s)) for s in table["last_handover_s"]
    ]
    return table[list(MEDIA_COLUMNS)]
