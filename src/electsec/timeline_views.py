"""Views of a :class:`~electsec.timeline.Timeline`: summary, time-stamped legs, chart, gaps.

The chart needs matplotlib (the ``plot`` extra), imported only when a chart is drawn; the
HTML chart is one self-contained page (the SVG inline, no web assets).
"""

from __future__ import annotations

import html
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from electsec.errors import InputError, Issue

if TYPE_CHECKING:
    from electsec.timeline import Timeline

__all__ = ["backup_gaps", "chart", "forces_in_use", "legs", "summary_table"]

#: Chart resolution: forces in use are sampled every this many minutes.
STEP_MIN = 5
_LEGS = (
    ("outbound", "depart", "arrive"),
    ("on_station", "arrive", "release"),
    ("return", "release", "return_at"),
)
_COLOURS = {"in_transit": "#dd8452", "on_station": "#4c72b0", "returning": "#55a868"}
_IMAGE_SUFFIXES = (".png", ".svg", ".pdf")


def forces_in_use(movements: pd.DataFrame, step_min: int = STEP_MIN) -> pd.DataFrame:
    """Teams in transit, on station and returning at each instant, every ``step_min``.

    Parameters
    ----------
    movements
        ``Timeline.movements`` (any phases).
    step_min
        Minutes between samples.

    Returns
    -------
    pandas.DataFrame
        ``phase, time, in_transit, on_station, returning, teams_away``: teams in each
        state **at** ``time`` (a team is in a state on ``[start, end)``).
    """
    frames = []
    for phase, rows in movements.groupby("phase", sort=False):
        start = rows["depart"].min().floor("h")
        end = rows["return_at"].max().ceil("h")
        times = pd.date_range(start, end, freq=f"{step_min}min").to_numpy()
        teams = rows["teams"].to_numpy(np.int64)
        counts = {
            state: _at(times, rows[a].to_numpy(), rows[b].to_numpy(), teams)
            for state, a, b in (
                ("in_transit", "depart", "arrive"),
                ("on_station", "arrive", "release"),
                ("returning", "release", "return_at"),
                ("teams_away", "depart", "return_at"),
            )
        }
        frames.append(pd.DataFrame({"phase": phase, "time": times, **counts}))
    if not frames:
        return pd.DataFrame(columns=["phase", "time", *_COLOURS, "teams_away"])
    return pd.concat(frames, ignore_index=True)


def _at(times: np.ndarray, start: np.ndarray, end: np.ndarray, teams: np.ndarray) -> np.ndarray:
    """Σ teams whose ``[start, end)`` holds each time (two sorted cumulative sums)."""
    keep = end > start
    start, end, teams = start[keep], end[keep], teams[keep]
    by_start, by_end = np.argsort(start), np.argsort(end)
    began = np.concatenate([[0], np.cumsum(teams[by_start])])
    ended = np.concatenate([[0], np.cumsum(teams[by_end])])
    n_began = np.searchsorted(start[by_start], times, side="right")
    n_ended = np.searchsorted(end[by_end], times, side="right")
    counts: np.ndarray = began[n_began] - ended[n_ended]
    return counts


def summary_table(timeline: Timeline) -> pd.DataFrame:
    """Key figures per phase (see :meth:`Timeline.summary`)."""
    moves = timeline.movements
    peak = forces_in_use(moves, step_min=1).groupby("phase", sort=False)["teams_away"].max()
    gaps = backup_gaps(timeline)
    rows = {}
    for phase, day in moves.groupby("phase", sort=False):
        late = day[~day["on_time"]]
        backed = timeline.backup_response
        backed = backed[backed["phase"] == phase]
        rows[phase] = {
            "date": day["date"].iloc[0].isoformat(),
            "movements": len(day),
            "teams": int(day["teams"].sum()),
            "centers": int(day["center_id"].nunique()),
            "late_movements": len(late),
            "late_teams": int(late["teams"].sum()),
            "max_travel_min": round(float(day["travel_s"].max()) / 60, 1),
            "first_departure": day["depart"].min(),
            "last_return": day["return_at"].max(),
            "peak_teams_away": int(peak.get(phase, 0)),
            "backed_up_centers": int(backed["center_id"].nunique()),
            "backup_gaps": int((gaps["phase"] == phase).sum()) if len(gaps) else 0,
            "travel_source": str(day["travel_source"].iloc[0]),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("phase")


def backup_gaps(timeline: Timeline) -> pd.DataFrame:
    """Centres whose backup misses its limit at some on-duty hour (see the method)."""
    columns = [
        "phase",
        "center_id",
        "backup_garrison_id",
        "case",
        "response_s",
        "limit_s",
        "reserve_committed_at",
        "first_hour",
        "hours",
    ]
    table = timeline.backup_response
    if not len(table):
        return pd.DataFrame(columns=columns)
    duty = table[table["on_duty"].astype(bool)]
    home = duty[~duty["within_limit"].astype(bool)].assign(case="home")
    committed = duty[
        duty["within_limit"].astype(bool) & ~duty["committed_within_limit"].astype(bool)
    ].assign(case="committed", response_s=lambda t: t["committed_response_s"])
    both = pd.concat([home, committed], ignore_index=True)
    if not len(both):
        return pd.DataFrame(columns=columns)
    keys = ["phase", "center_id", "backup_garrison_id", "case"]
    out = both.groupby(keys, sort=False).agg(
        response_s=("response_s", "max"),
        limit_s=("limit_s", "first"),
        reserve_committed_at=("reserve_committed_at", "first"),
        first_hour=("hour", "min"),
        hours=("hour", "size"),
    )
    return out.reset_index().loc[:, columns]


def legs(timeline: Timeline, network: Any = None) -> gpd.GeoDataFrame:
    """Three time-stamped legs per movement (see :meth:`Timeline.to_geodataframe`)."""
    moves = timeline.movements
    plans = _day_plans(timeline)
    g_xy = np.zeros((len(moves), 2))
    c_xy = np.zeros((len(moves), 2))
    for phase, rows in moves.groupby("phase", sort=False):
        plan = plans[str(phase)]
        at = rows.index.to_numpy()
        g_xy[at] = _coords(plan.garrison_points, rows["garrison_id"])
        c_xy[at] = _coords(plan.center_points, rows["center_id"])
    out_line = shapely.linestrings(np.stack([g_xy, c_xy], axis=1)) if len(moves) else []
    if network is not None and len(moves):
        out_line = _roads(network, g_xy, c_xy, np.asarray(out_line, dtype=object))
    back = shapely.reverse(np.asarray(out_line, dtype=object)) if len(moves) else []
    station = shapely.points(c_xy) if len(moves) else []
    geometry = {"outbound": out_line, "on_station": station, "return": back}
    ends = {"outbound": c_xy, "on_station": c_xy, "return": g_xy}
    frames = []
    for leg, start, end in _LEGS:
        frame = moves.loc[:, ["phase", "garrison_id", "center_id", "teams"]].assign(
            leg=leg,
            start=moves[start],
            end=moves[end],
            lon=ends[leg][:, 0],
            lat=ends[leg][:, 1],
        )
        frame["start_iso"] = frame["start"].dt.strftime("%Y-%m-%dT%H:%M:%S")
        frame["end_iso"] = frame["end"].dt.strftime("%Y-%m-%dT%H:%M:%S")
        frames.append(gpd.GeoDataFrame(frame, geometry=list(geometry[leg]), crs="EPSG:4326"))
    table = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(table, geometry="geometry", crs="EPSG:4326")


def _day_plans(timeline: Timeline) -> dict[str, Any]:
    plan = timeline.plan
    if hasattr(plan, "days"):
        return dict(plan.days)
    phases = timeline.movements["phase"].unique()
    return {str(p): plan for p in phases} or {"day": plan}


def _coords(points: gpd.GeoSeries, ids: pd.Series) -> np.ndarray:
    pos = points.index.get_indexer(ids.to_numpy())
    coords: np.ndarray = shapely.get_coordinates(points.to_numpy()[pos])
    return coords


def _roads(network: Any, g_xy: np.ndarray, c_xy: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """Fastest road routes garrison → centre; the straight line where there is none."""
    from electsec.network import RoadNetwork  # noqa: PLC0415

    net = RoadNetwork.build(network)
    routes = net.paths(
        gpd.GeoSeries(shapely.points(c_xy), crs="EPSG:4326"),
        gpd.GeoSeries(shapely.points(g_xy), crs="EPSG:4326"),
        metric="travel_time",
    ).to_numpy()
    out: np.ndarray = np.where(shapely.is_missing(routes), lines, routes)
    return out


def chart(timeline: Timeline, path: str | Path | None) -> Any:
    """Draw the forces in use over each day (see :meth:`Timeline.chart`)."""
    target = None if path is None else Path(path)
    if target is not None and target.suffix.lower() not in (*_IMAGE_SUFFIXES, ".html"):
        message = f"must end in .html, {', '.join(_IMAGE_SUFFIXES)}, got {target.name!r}"
        raise InputError([Issue("arguments", "path", (), message)])
    fig = _figure(timeline)
    if target is None:
        return fig
    plt = _pyplot()
    try:
        if target.suffix.lower() == ".html":
            target.write_text(_page(timeline, fig), encoding="utf-8")
        else:
            fig.savefig(target, dpi=120)
    finally:
        plt.close(fig)
    return target


def _pyplot() -> Any:
    return _optional_module("matplotlib.pyplot")


def _optional_module(name: str) -> Any:
    from electsec.plot import _optional  # noqa: PLC0415

    return _optional(name)


def _figure(timeline: Timeline) -> Any:
    plt = _pyplot()
    dates = _optional_module("matplotlib.dates")
    curves = forces_in_use(timeline.movements)
    phases = list(dict.fromkeys(curves["phase"])) or ["(no movements)"]
    days = timeline.movements.groupby("phase")["date"].first().to_dict()
    fig, axes = plt.subplots(len(phases), 1, figsize=(10, 3.2 * len(phases)), squeeze=False)
    for ax, phase in zip(axes[:, 0], phases, strict=True):
        day = curves[curves["phase"] == phase]
        if len(day):
            ax.stackplot(
                day["time"],
                *(day[s] for s in _COLOURS),
                labels=[s.replace("_", " ") for s in _COLOURS],
                colors=list(_COLOURS.values()),
                step="post",
            )
            # outside the axes: inside, it hides the evening's returns
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
        date = f" — {pd.Timestamp(days[phase]):%d %b %Y}" if phase in days else ""
        ax.set(title=f"{phase}{date}: teams in use", ylabel="teams", xlabel="local time")
        # every day its own time axis (fig.autofmt_xdate would hide all but the last)
        one_date = pd.to_datetime(day["time"]).dt.normalize().nunique() <= 1
        ax.xaxis.set_major_formatter(dates.DateFormatter("%H:%M" if one_date else "%d %b %H:%M"))
        ax.tick_params(axis="x", labelrotation=0)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _page(timeline: Timeline, fig: Any) -> str:
    """One offline page: the chart as inline SVG and the national hourly table."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    svg = svg[svg.find("<svg") :]
    hours = timeline.by_hour
    national = hours[hours["scope"] == "national"].drop(columns=["scope", "garrison_id"])
    table = national.to_html(index=False, border=0, classes="hours")
    title = "Forces in use over the election day(s)"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table.hours{border-collapse:collapse;font-size:12px}"
        "table.hours td,table.hours th{border:1px solid #ccc;padding:2px 6px}</style>"
        f"</head><body><h1>{html.escape(title)}</h1>{svg}"
        f"<h2>National, hour by hour</h2>{table}</body></html>"
    )
