"""Echelon 2 of the ballot transfer: each warehouse's result media to the tally centre.

Once a warehouse's last convoy has handed over (plus :data:`MEDIA_HANDLING_S`), its
memory sticks go by road, or by road to an airfield serving its governorate, the next
departure slot, a flight to the airfield nearest the tally centre and the road from
there, whichever arrives first (:func:`_fastest`). :func:`_media_cutoff_s` finds the
latest last hand-over whose media are still on time, the cut-off echelon 1 routes to,
and :func:`_media` tabulates :attr:`electsec.TransferPlan.media`.
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
from electsec.transfer_common import Travel, _by, _clock, _geodesic_m, _Speeds, _Window

__all__ = ["MEDIA_HANDLING_S"]

logger = logging.getLogger(__name__)

#: Time from the last convoy's hand-over to the media leaving the warehouse (seconds).
MEDIA_HANDLING_S: Final = 900


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
