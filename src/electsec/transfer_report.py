"""An offline HTML page of a ballot-transfer night: figures, routes map, timeline, tables.

The map and the timeline are inline SVG drawn here (no script, no tile, no web font), so
the page opens with the network cut and prints as it shows. The page frame and tables are
those of :mod:`electsec.report`.
"""

from __future__ import annotations

import html
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import shapely

from electsec.report import _table, write_page

if TYPE_CHECKING:
    import geopandas as gpd

    from electsec.transfer import TransferPlan

__all__ = ["write_transfer_report"]

_PALETTE: Final = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
                   "#a6761d", "#1f78b4", "#b2df8a", "#fb9a99")  # fmt: skip
_WIDTH: Final = 900
_BIN_S: Final = 1800


def write_transfer_report(
    plan: TransferPlan,
    path: str | Path,
    *,
    basemap: gpd.GeoDataFrame | None = None,
    title: str = "Ballot transfer plan",
) -> Path:
    """Write the night as one offline HTML page.

    Parameters
    ----------
    plan
        The transfer plan.
    path
        The ``.html`` file to write.
    basemap
        Polygons drawn under the routes (e.g. the governorates), EPSG:4326, or None.
    title
        Page title.

    Returns
    -------
    pathlib.Path
        The page written.
    """
    summary = plan.summary().rename("value").to_frame()
    media = plan.media[["warehouse_id", "convoys", "last_handover", "gate_wait_s", "ready",
                        "mode", "via", "arrive", "deadline", "on_time", "late_s", "earliest",
                        "reason"]]  # fmt: skip
    dropped = plan.dropped.drop(columns=["message"]).head(200)
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='muted'>Boxes ready at {html.escape(str(plan.parameters.get('ready_at')))}; "
        "expected times, seconds rounded up to the minute.</p>",
        _table(summary, css="figures"),
        "<h2>Routes</h2>",
        _map(plan, basemap),
        "<h2>Convoys on the road</h2>",
        _timeline(plan),
        "<h2>Result media to the tally centre</h2>",
        _table(media.set_index("warehouse_id")),
        f"<h2>Dropped centres ({len(plan.dropped)})</h2>",
        _table(dropped.set_index("center_id")) if len(dropped) else "<p>None.</p>",
        "<h2>Routing parts</h2>",
        _table(plan.parts.set_index("part")),
    ]
    return write_page(path, title, parts)


def _colour(key: str) -> str:
    return _PALETTE[zlib.crc32(key.encode()) % len(_PALETTE)]


class _Frame:
    """Lon/lat to SVG pixels (equirectangular, scaled by the mean latitude)."""

    def __init__(self, xy: np.ndarray) -> None:
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        self.aspect = float(np.cos(np.radians((lo[1] + hi[1]) / 2)))
        span = np.maximum((hi - lo) * [self.aspect, 1.0], 1e-6)
        self.scale = (_WIDTH - 20) / float(span.max())
        self.lo, self.height = lo, int(span[1] * self.scale) + 20

    def __call__(self, xy: np.ndarray) -> str:
        px = 10 + (xy[:, 0] - self.lo[0]) * self.aspect * self.scale
        py = self.height - 10 - (xy[:, 1] - self.lo[1]) * self.scale
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(px, py, strict=True))


def _map(plan: TransferPlan, basemap: gpd.GeoDataFrame | None) -> str:
    lines = list(plan.routes.geometry)
    xy = np.vstack([shapely.get_coordinates(g) for g in lines]) if lines else np.zeros((0, 2))
    ends = plan.stops[plan.stops["action"] == "handover"][["lon", "lat"]].to_numpy()
    if not len(xy):
        return "<p>No convoy.</p>"
    frame = _Frame(np.vstack([xy, ends]))
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{_WIDTH}' height='{frame.height}' "
           "style='border:1px solid #ccc;background:#fbfbf8'>"]  # fmt: skip
    if basemap is not None:
        out += [
            f"<polygon points='{frame(r)}' fill='#eee' stroke='#bbb'/>" for r in _rings(basemap)
        ]
    for line, wid in zip(lines, plan.routes["warehouse_id"], strict=True):
        points = frame(shapely.get_coordinates(line))
        out.append(f"<polyline points='{points}' fill='none' stroke='{_colour(str(wid))}' "
                   "stroke-width='1' stroke-opacity='0.7'/>")  # fmt: skip
    for x, y in np.unique(ends, axis=0):
        px, py = frame(np.array([[x, y]])).split(",")
        out.append(f"<rect x='{float(px) - 4}' y='{float(py) - 4}' width='8' height='8' "
                   "fill='#222'><title>warehouse</title></rect>")  # fmt: skip
    out.append("</svg><p class='muted'>Lines: convoys (straight legs), coloured by warehouse; "
               "black squares: warehouses.</p>")  # fmt: skip
    return "".join(out)


def _rings(basemap: gpd.GeoDataFrame) -> list[np.ndarray]:
    polygons = [p for g in basemap.to_crs("EPSG:4326").geometry for p in getattr(g, "geoms", [g])]
    return [
        np.asarray(p.exterior.coords)[:, :2]
        for p in polygons
        if p is not None and p.geom_type == "Polygon"
    ]


def _timeline(plan: TransferPlan) -> str:
    """Bars of convoys on the road per half hour, from leaving to hand-over."""
    routes = plan.routes
    if routes.empty:
        return "<p>No convoy.</p>"
    start, end = int(routes["start_s"].min()), int(routes["handover_s"].max())
    bins = np.arange(start // _BIN_S * _BIN_S, end + _BIN_S, _BIN_S)
    counts = [int(((routes["start_s"] < b + _BIN_S) & (routes["handover_s"] > b)).sum())
              for b in bins]  # fmt: skip
    height, bar = 160, max(4.0, (_WIDTH - 60) / len(bins))
    top = max(counts) or 1
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{_WIDTH}' height='{height + 40}'>"]
    for k, (b, n) in enumerate(zip(bins, counts, strict=True)):
        h = height * n / top
        x = 40 + k * bar
        out.append(f"<rect x='{x:.1f}' y='{height - h:.1f}' width='{bar - 1:.1f}' "
                   f"height='{h:.1f}' fill='#1f78b4'><title>{n}</title></rect>")  # fmt: skip
        if k % 2 == 0:
            out.append(f"<text x='{x:.1f}' y='{height + 15}' font-size='10'>{_hhmm(b)}</text>")
    out.append(f"<text x='0' y='12' font-size='10'>{top}</text></svg>")
    return "".join(out)


def _hhmm(seconds: Any) -> str:
    minutes = int(seconds) // 60 % (24 * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
