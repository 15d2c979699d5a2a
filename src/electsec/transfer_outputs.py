"""The ballot transfer's results: stops, routes, dropped and parts tables, the plan.

Builds the tables of :class:`TransferPlan` from the labelled convoys: one row per stop
with the ballot-box and seal ids (:func:`box_ids`), one line per convoy (along the roads
with a network), the dropped centres with their reasons, and the routing parts; and
:class:`TransferPlan` itself, with its summary, JSON form, manifests and report.
"""

from __future__ import annotations

import itertools
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from electsec.schema import SCHEMA_VERSION
from electsec.transfer_common import _Centers, _clock, _Drops, _Part

__all__ = ["DROP_COLUMNS", "STOP_COLUMNS", "TransferPlan", "box_ids"]

logger = logging.getLogger(__name__)

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
        One row per warehouse with centres
        (:data:`electsec.transfer_media.MEDIA_COLUMNS`): when its media are ready
        (``last_handover_s`` + :data:`MEDIA_HANDLING_S`), ``mode`` (``road`` or ``air``)
        and ``via``, arrival at the tally centre, the deadline, ``on_time``, ``late_s``
        past the deadline, and ``earliest_s``, an arrival no plan collecting the same
        centres beats: its last hand-over is no sooner than the slowest centre driven
        straight to the warehouse from ``ready_at``, nor than the gate's queue of the
        fewest convoys that carry the boxes, from the first hand-over possible.
        ``gate_wait_s``: the seconds its convoys waited at the gate in all; ``reason``
        of late media: ``too_far`` (even ``earliest_s`` misses the deadline) or
        ``routes`` (another plan could have made it).
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
        """Return the key figures: convoys, centres and boxes moved or dropped, times.

        ``media_late_avoidable``: late media no bound rules out (``reason`` ``routes``):
        another plan might have brought them in time.
        """
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
                "media_late_avoidable": int((late["reason"] == "routes").sum()),
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
