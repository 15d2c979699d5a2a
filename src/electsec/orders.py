"""Tasking orders and the day's chart: printable, self-contained, offline pages.

:func:`write_orders` writes what a unit commander is handed: for each garrison one HTML
page and one CSV (the centres it guards with names and tiers, teams, departure and
arrival, the route, its backup duty, release and return), one page per command (the
garrisons' ``command`` column, else their governorate) and an index page. Routes are
inline SVG drawings of the road path when the timeline was built with a road network,
else the straight-line distance and bearing. :func:`write_chart` draws the forces in use
over the day as SVG. Nothing refers to the web: no scripts, styles, fonts or tiles.
"""

from __future__ import annotations

import html
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyproj
import shapely

from electsec.timeline import _active

if TYPE_CHECKING:
    from electsec.timeline import Timeline

__all__ = ["write_chart", "write_orders"]

logger = logging.getLogger(__name__)

_GEOD = pyproj.Geod(ellps="WGS84")
_COMPASS = "N NNE NE ENE E ESE SE SSE S SSW SW WSW W WNW NW NNW".split()
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.2em; color: #222; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; } h2 { font-size: 1.1em; margin-top: 1.2em; }
.muted { color: #555; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.4em 0 1em; font-size: 0.85em; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
th { background: #eee; } td.n { text-align: right; } tr.late td { background: #fde7ea; }
.bad { color: #b00020; font-weight: 600; } svg.route { background: #fafafa; }
@media print { a { color: inherit; text-decoration: none; } tr { page-break-inside: avoid; } }
"""
_COLOURS = {"outbound": "#1f77b4", "on_station": "#2ca02c", "returning": "#ff7f0e"}


def _esc(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return html.escape(str(value))


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_esc(title)}</title><style>{_STYLE}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def _hm(stamp: pd.Timestamp, day: pd.Timestamp) -> str:
    """``HH:MM`` (rounded down), with the day when it is not the election day."""
    if pd.isna(stamp):
        return ""
    text = f"{stamp:%H:%M}"
    return text if stamp.normalize() == day else f"{stamp:%d %b} {text}"


def _slugs(names: list[str]) -> list[str]:
    """Safe, distinct file names for ids."""
    out, seen = [], set()
    for name in names:
        slug = re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "_"
        base, k = slug, 1
        while slug.lower() in seen:
            k += 1
            slug = f"{base}-{k}"
        seen.add(slug.lower())
        out.append(slug)
    return out


def _table(header: list[str], rows: list[str]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    return f"<table><tr>{head}</tr>\n" + "\n".join(rows) + "</table>\n"


# -- routes -------------------------------------------------------------------------------


def _bearings(timeline: Timeline) -> tuple[np.ndarray, np.ndarray]:
    """Straight-line distance (m) and bearing (degrees) garrison → centre per movement."""
    plan, m = timeline.plan, timeline.movements
    start = shapely.get_coordinates(plan.garrison_points.loc[m["garrison_id"].to_numpy()])
    end = shapely.get_coordinates(plan.center_points.loc[m["center_id"].to_numpy()])
    if not len(m):
        return np.zeros(0), np.zeros(0)
    azimuth, _, dist = _GEOD.inv(start[:, 0], start[:, 1], end[:, 0], end[:, 1])
    return np.asarray(dist, float), np.mod(np.asarray(azimuth, float), 360.0)


def _route_svgs(timeline: Timeline, width: int = 170, height: int = 110) -> list[str]:
    """An inline SVG of each routed movement's road path ('' where not routed)."""
    m = timeline.movements
    out = [""] * len(m)
    routed = np.flatnonzero(m["routed"].to_numpy(bool))
    if not len(routed):
        return out
    lines = timeline.lines.to_numpy()[routed]
    xy, which = shapely.get_coordinates(lines, return_index=True)
    lat0 = np.deg2rad(np.nanmean(xy[:, 1]))
    x, y = xy[:, 0] * np.cos(lat0), xy[:, 1]
    cuts = np.flatnonzero(np.diff(which)) + 1
    for k, (px, py) in enumerate(zip(np.split(x, cuts), np.split(y, cuts), strict=True)):
        span = max(float(np.ptp(px)), float(np.ptp(py)), 1e-9)
        scale = min((width - 12) / span, (height - 12) / span)
        sx = (px - px.min()) * scale + (width - np.ptp(px) * scale) / 2
        sy = height - ((py - py.min()) * scale + (height - np.ptp(py) * scale) / 2)
        points = " ".join(f"{a:.0f},{b:.0f}" for a, b in zip(sx, sy, strict=True))
        out[int(routed[k])] = (
            f'<svg class="route" width="{width}" height="{height}" role="img">'
            f'<polyline points="{points}" fill="none" stroke="#1f4e9c" stroke-width="2"/>'
            f'<rect x="{sx[0] - 4:.0f}" y="{sy[0] - 4:.0f}" width="8" height="8" fill="#333"/>'
            f'<circle cx="{sx[-1]:.0f}" cy="{sy[-1]:.0f}" r="4" fill="#c0392b"/></svg>'
        )
    return out


def _route_texts(timeline: Timeline) -> list[str]:
    dist, bearing = _bearings(timeline)
    svgs = _route_svgs(timeline)
    out = []
    for d, b, svg in zip(dist, bearing, svgs, strict=True):
        words = f"{d / 1000:.1f} km at {b:03.0f}° ({_COMPASS[int((b + 11.25) // 22.5) % 16]})"
        out.append(f"{svg}<br>road route; straight line {words}" if svg else f"{words}, straight line")
    return out


# -- the garrison page --------------------------------------------------------------------


def _movement_rows(timeline: Timeline, rows: pd.DataFrame, routes: list[str]) -> list[str]:
    day = timeline.date
    out = []
    for k, r in enumerate(rows.itertuples(index=False)):
        note = ""
        if r.late:
            late_by = (r.arrive - r.in_place_by).total_seconds() / 60
            note = f'<br><span class="bad">LATE: arrives {late_by:.0f} min after the in-place time</span>'
        out.append(
            f'<tr class="{"late" if r.late else ""}"><td class="n">{k + 1}</td>'
            f"<td>{_esc(r.center_id)}</td><td>{_esc(getattr(r, 'center_name', ''))}</td>"
            f"<td>{_esc(getattr(r, 'tier', ''))}</td><td class='n'>{r.teams}</td>"
            f"<td>{_hm(r.depart, day)}</td><td>{_hm(r.arrive, day)}{note}</td>"
            f"<td class='n'>{r.travel_s / 60:.0f}</td><td>{routes[k]}</td>"
            f"<td>{_hm(r.release, day)}</td><td>{_hm(r.ret, day)}</td></tr>"
        )
    return out


def _backup_section(timeline: Timeline, duty: pd.DataFrame | None) -> str:
    if duty is None or not len(duty):
        return "<h2>Backup duty</h2><p>None.</p>\n"
    day, reserve = timeline.date, int(duty["reserve"].iloc[0])
    text = (
        f"<h2>Backup duty</h2><p>Hold {reserve} reserve team(s) ready at the garrison from "
        f"{_hm(timeline.in_place_by, day)} to {_hm(timeline.release, day)} as quick-reaction "
        f"force for {len(duty)} centre(s); answer the nearest first.</p>\n"
    )
    rows = [
        f'<tr class="{"late" if r.at_risk else ""}"><td>{_esc(r.center_id)}</td>'
        f"<td>{_esc(getattr(r, 'center_name', ''))}</td><td>{_esc(getattr(r, 'tier', ''))}</td>"
        f"<td class='n'>{r.response_s / 60:.0f}</td>"
        f"<td class='n'>{r.worst_response_s / 60:.0f}</td>"
        f"<td>{'<span class=bad>AT RISK</span>' if r.at_risk else ''}</td></tr>"
        for r in duty.itertuples(index=False)
    ]
    header = ["Centre", "Name", "Tier", "Response (min)", "If all alarm at once (min)", ""]
    return text + _table(header, rows)


def _garrison_page(
    timeline: Timeline, gid: str, rows: pd.DataFrame, routes: list[str], duty: pd.DataFrame | None
) -> str:
    day = timeline.date
    info = timeline.plan.garrison_info
    facts = {} if info is None or gid not in info.index else info.loc[gid].to_dict()
    load = timeline.plan.garrison_load.set_index("garrison_id")
    name = facts.get("name") or gid
    figures = {
        "Garrison": gid,
        **{k.capitalize(): v for k, v in facts.items() if k != "name"},
        "Capacity (teams)": load["capacity"].get(gid, ""),
        "Teams tasked": int(rows["teams"].sum()),
        "Centres": len(rows),
        "Reserve": load["reserve"].get(gid, "") if "reserve" in load else "",
    }
    summary = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in figures.items())
    header = ["#", "Centre", "Name", "Tier", "Teams", "Depart", "Arrive", "Travel (min)"]
    table = _table([*header, "Route", "Release", "Return"], _movement_rows(timeline, rows, routes))
    back = (
        "drive back to the garrison (times in the table)"
        if timeline.return_to == "garrison"
        else "are released to other duty on the spot"
    )
    return _page(
        f"Tasking order {gid}",
        f"<h1>Tasking order: {_esc(name)}</h1>\n"
        f'<p class="muted">Election day {day:%A %d %B %Y}. Polls open {timeline.polls_open:%H:%M}, '
        f"close {timeline.polls_close:%H:%M}. All teams in place by "
        f"<b>{_hm(timeline.in_place_by, day)}</b>. Travel times: {_esc(timeline.time_source)}.</p>\n"
        f"<table>{summary}</table>\n<h2>Movements</h2>\n{table if len(rows) else '<p>None.</p>'}"
        f"{_backup_section(timeline, duty)}<h2>Release and return</h2>"
        f"<p>After the count all teams are released at <b>{_hm(timeline.release, day)}</b> and "
        f"{back}.</p>\n<p class='muted'><a href='../index.html'>Index</a></p>",
    )


def _csv(timeline: Timeline, rows: pd.DataFrame, dist: np.ndarray, bearing: np.ndarray,
         duty: pd.DataFrame | None) -> pd.DataFrame:
    keep = [c for c in ("center_id", "center_name", "tier", "teams") if c in rows.columns]
    guard = rows[keep].assign(
        duty="guard",
        depart=rows["depart"].dt.strftime("%Y-%m-%d %H:%M"),
        arrive=rows["arrive"].dt.strftime("%Y-%m-%d %H:%M:%S"),
        in_place_by=rows["in_place_by"].dt.strftime("%Y-%m-%d %H:%M"),
        travel_min=(rows["travel_s"] / 60).round(1),
        straight_km=np.round(dist / 1000, 2),
        bearing_deg=np.round(bearing),
        release=rows["release"].dt.strftime("%Y-%m-%d %H:%M"),
        return_at=rows["ret"].dt.strftime("%Y-%m-%d %H:%M:%S"),
        late=rows["late"],
    )
    if duty is None or not len(duty):
        return guard
    keep = [c for c in ("center_id", "center_name", "tier", "reserve") if c in duty.columns]
    backup = duty[keep].assign(
        duty="backup",
        response_min=(duty["response_s"] / 60).round(1),
        worst_response_min=(duty["worst_response_s"] / 60).round(1),
        at_risk=duty["at_risk"],
        on_duty_from=timeline.in_place_by.strftime("%Y-%m-%d %H:%M"),
        on_duty_until=timeline.release.strftime("%Y-%m-%d %H:%M"),
    )
    return pd.concat([guard, backup], ignore_index=True)


# -- command and index pages --------------------------------------------------------------


def _commands(timeline: Timeline, garrison_ids: list[str]) -> pd.Series:
    """The command (else governorate, else one for all) of each garrison id."""
    info = timeline.plan.garrison_info
    for column in ("command", "governorate"):
        if info is not None and column in info.columns:
            found = info[column].reindex(garrison_ids)
            return found.fillna("(none)").astype(str)
    return pd.Series("all", index=pd.Index(garrison_ids), dtype=object)


def _garrison_rows(timeline: Timeline, gids: list[str], files: dict[str, str]) -> list[str]:
    m = timeline.movements
    groups = m.groupby("garrison_id")
    at_risk = (
        timeline.backup.loc[timeline.backup["at_risk"]].groupby("garrison_id").size()
        if timeline.backup is not None
        else pd.Series(dtype=np.int64)
    )
    info = timeline.plan.garrison_info
    names = info["name"] if info is not None and "name" in info.columns else pd.Series(dtype=object)
    day, out = timeline.date, []
    for gid in gids:
        rows = groups.get_group(gid) if gid in groups.groups else m.iloc[:0]
        first = _hm(rows["depart"].min(), day) if len(rows) else ""
        last = _hm(rows["return"].max(), day) if len(rows) else ""
        out.append(
            f"<tr><td><a href='{files[gid]}'>{_esc(gid)}</a></td><td>{_esc(names.get(gid, ''))}</td>"
            f"<td class='n'>{len(rows)}</td><td class='n'>{int(rows['teams'].sum())}</td>"
            f"<td>{first}</td><td>{last}</td><td class='n'>{int(rows['late'].sum())}</td>"
            f"<td class='n'>{int(at_risk.get(gid, 0))}</td></tr>"
        )
    return out


_GARRISON_HEADER = ["Garrison", "Name", "Centres", "Teams", "First departure", "Last return",
                    "Late", "Backup at risk"]


def _command_page(timeline: Timeline, command: str, gids: list[str], files: dict[str, str]) -> str:
    table = _table(_GARRISON_HEADER, _garrison_rows(timeline, gids, files))
    late = timeline.late.loc[timeline.late["garrison_id"].isin(gids)]
    late_rows = [
        f"<tr class='late'><td>{_esc(r.center_id)}</td><td>{_esc(r.garrison_id)}</td>"
        f"<td class='n'>{r.teams}</td><td>{_hm(r.earliest_arrival, timeline.date)}</td>"
        f"<td>{_hm(r.required_arrival, timeline.date)}</td><td class='n'>{r.late_by_min:.0f}</td></tr>"
        for r in late.itertuples(index=False)
    ]
    late_html = (
        _table(["Centre", "Garrison", "Teams", "Earliest arrival", "Required", "Late (min)"],
               late_rows)
        if late_rows
        else "<p>None.</p>"
    )
    return _page(
        f"Command {command}",
        f"<h1>Command: {_esc(command)}</h1>\n<p class='muted'>Election day "
        f"{timeline.date:%d %B %Y}; {len(gids)} garrison(s).</p>\n{table}"
        f"<h2>Late movements</h2>{late_html}<p class='muted'><a href='../index.html'>Index</a></p>",
    )


def _index_page(timeline: Timeline, commands: dict[str, str], files: dict[str, str]) -> str:
    summary = timeline.summary()
    figures = "".join(
        f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in summary.items()
    )
    links = "".join(
        f"<li><a href='{path}'>{_esc(name)}</a></li>" for name, path in commands.items()
    )
    gids = list(files)
    table = _table(
        _GARRISON_HEADER,
        _garrison_rows(timeline, gids, {g: f"{p[3:]}" for g, p in files.items()}),
    )
    return _page(
        f"Tasking orders {timeline.date:%Y-%m-%d}",
        f"<h1>Tasking orders, election day {timeline.date:%d %B %Y}</h1>\n"
        f"<table>{figures}</table>\n{_chart_svg(timeline, standalone=False)}\n"
        f"<h2>Commands</h2><ul>{links}</ul>\n<h2>Garrisons</h2>\n{table}",
    )


def write_orders(timeline: Timeline, directory: str | Path) -> Path:
    """Write every tasking order of ``timeline`` into ``directory``.

    Writes ``index.html`` (the day's figures, the chart, links), ``commands/<command>.html``
    (its garrisons and late movements) and, per garrison with teams or backup duty,
    ``garrisons/<id>.html`` (the order: centres with name and tier, teams, departure,
    arrival, route, backup duty, release and return) and ``garrisons/<id>.csv`` (the same
    rows: ``duty`` is ``guard`` or ``backup``).

    Parameters
    ----------
    timeline
        The day's movements.
    directory
        Folder to write into (created).

    Returns
    -------
    pathlib.Path
        The index page.
    """
    root = Path(directory)
    (root / "garrisons").mkdir(parents=True, exist_ok=True)
    (root / "commands").mkdir(parents=True, exist_ok=True)
    m = timeline.movements.rename(columns={"return": "ret"})
    routes, (dist, bearing) = _route_texts(timeline), _bearings(timeline)
    duty = {} if timeline.backup is None else dict(iter(timeline.backup.groupby("garrison_id")))
    gids = sorted(set(m["garrison_id"].astype(str)) | set(map(str, duty)))
    files = dict(zip(gids, (f"../garrisons/{s}.html" for s in _slugs(gids)), strict=True))
    position = {gid: np.flatnonzero(m["garrison_id"].to_numpy() == gid) for gid in ()}
    order = m.sort_values(["garrison_id", "depart", "center_id"]).index
    by_garrison = pd.Series(np.arange(len(m)), index=m.index).loc[order].groupby(
        m.loc[order, "garrison_id"].to_numpy()
    )
    position = {str(g): rows.to_numpy() for g, rows in by_garrison}
    for gid in gids:
        at = position.get(gid, np.zeros(0, dtype=np.int64))
        rows, backup = m.iloc[at], duty.get(gid)
        page = _garrison_page(timeline, gid, rows, [routes[i] for i in at], backup)
        stem = root / "garrisons" / Path(files[gid]).stem
        stem.with_suffix(".html").write_text(page, encoding="utf-8")
        _csv(timeline, rows, dist[at], bearing[at], backup).to_csv(
            stem.with_suffix(".csv"), index=False
        )
    command_of = _commands(timeline, gids)
    names = sorted(set(command_of))
    pages = dict(zip(names, (f"commands/{s}.html" for s in _slugs(names)), strict=True))
    for name in names:
        members = [g for g in gids if command_of[g] == name]
        (root / pages[name]).write_text(
            _command_page(timeline, name, members, files), encoding="utf-8"
        )
    index = root / "index.html"
    index.write_text(_index_page(timeline, pages, files), encoding="utf-8")
    logger.info("wrote %d garrison orders and %d command pages to %s", len(gids), len(names), root)
    return index


# -- the chart ----------------------------------------------------------------------------


def _chart_series(timeline: Timeline) -> tuple[pd.DatetimeIndex, dict[str, np.ndarray]]:
    hours = timeline.by_hour.index
    grid = pd.date_range(hours[0], hours[-1] + pd.Timedelta(hours=1), freq="5min").as_unit("ns")
    m = timeline.movements
    ns = {c: m[c].to_numpy().astype("datetime64[ns]").view(np.int64)
          for c in ("depart", "arrive", "release", "return")}
    teams = m["teams"].to_numpy(np.int64)
    at = grid.asi8
    return grid, {
        "outbound": _active(ns["depart"], ns["arrive"], teams, at),
        "on_station": _active(ns["arrive"], ns["release"], teams, at),
        "returning": _active(ns["release"], ns["return"], teams, at),
    }


def _chart_svg(timeline: Timeline, *, standalone: bool) -> str:
    grid, series = _chart_series(timeline)
    width, height, left, right, top, bottom = 760, 280, 50, 150, 30, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    total = series["outbound"] + series["on_station"] + series["returning"]
    y_max = max(int(total.max()) if len(total) else 0, 1)
    t0, t1 = grid[0].value, grid[-1].value

    def px(stamp_ns: np.ndarray | float) -> np.ndarray:
        return left + (np.asarray(stamp_ns, float) - t0) / (t1 - t0) * plot_w

    def py(value: np.ndarray | float) -> np.ndarray:
        return top + plot_h - np.asarray(value, float) / y_max * plot_h

    x, base, parts = px(grid.asi8), np.zeros(len(grid)), []
    for state, values in series.items():
        upper = base + values
        ring = list(zip(x, py(upper), strict=True)) + list(zip(x[::-1], py(base)[::-1], strict=True))
        points = " ".join(f"{a:.1f},{b:.1f}" for a, b in ring)
        parts.append(f'<polygon points="{points}" fill="{_COLOURS[state]}" fill-opacity="0.85"/>')
        base = upper
    parts += _chart_axes(timeline, grid, px, py, y_max, (left, top, plot_w, plot_h))
    ns = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
    title = f"Teams in use, {timeline.date:%d %B %Y}"
    return (
        f'<svg{ns} width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="sans-serif" font-size="11" role="img"><title>{_esc(title)}</title>'
        f'<text x="{left}" y="18" font-size="13">{_esc(title)}</text>' + "".join(parts) + "</svg>"
    )


def _chart_axes(timeline, grid, px, py, y_max, box) -> list[str]:  # type: ignore[no-untyped-def]
    left, top, plot_w, plot_h = box
    bottom = top + plot_h
    parts = [
        f'<line x1="{left}" y1="{bottom}" x2="{left + plot_w}" y2="{bottom}" stroke="#333"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#333"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{y_max}</text>',
        f'<text x="{left - 6}" y="{bottom}" text-anchor="end">0</text>',
    ]
    for stamp in pd.date_range(grid[0], grid[-1], freq="2h"):
        x = float(px(stamp.value))
        parts.append(f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" stroke="#333"/>')
        parts.append(f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">{stamp:%H:%M}</text>')
    marks = (("polls open", timeline.polls_open), ("polls close", timeline.polls_close))
    for label, stamp in marks:
        x = float(px(stamp.value))
        parts.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="#b00020" '
            f'stroke-dasharray="4,3"/><text x="{x + 3:.1f}" y="{top + 10}" fill="#b00020">{label}</text>'
        )
    for k, (state, colour) in enumerate(_COLOURS.items()):
        y = top + 14 + 18 * k
        parts.append(
            f'<rect x="{left + plot_w + 14}" y="{y - 10}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{left + plot_w + 32}" y="{y}">{state.replace("_", " ")}</text>'
        )
    return parts


def write_chart(timeline: Timeline, path: str | Path | None = None) -> str:
    """The forces in use over the day as SVG markup; also written to ``path`` if given.

    Parameters
    ----------
    timeline
        The day's movements.
    path
        ``.svg``: the SVG file; ``.html`` (or any other suffix): a page holding it.

    Returns
    -------
    str
        The SVG markup (standalone, with its namespace).
    """
    svg = _chart_svg(timeline, standalone=True)
    if path is not None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = svg if target.suffix.lower() == ".svg" else _page(
            f"Teams in use {timeline.date:%Y-%m-%d}", _chart_svg(timeline, standalone=False)
        )
        target.write_text(text, encoding="utf-8")
    return svg
