"""Tasking orders per unit: what a garrison commander is handed for each voting day.

:func:`write_orders` turns a movement timeline (:func:`electsec.movement_timeline`)
into a folder of self-contained, printable pages a commander can open air-gapped::

    orders/
      index.html                  every day, every command, every garrison (links)
      garrisons/<garrison>.html   one order per garrison, and its .csv
      commands/<command>.html     one page per command: its garrisons, all their
                                  movements, and its .csv

Each garrison's order lists, day by day, the centres it guards (name, tier, teams),
when to depart, arrive and be in place, when the polls open and close, when it is
released and back home, the route (the road path when a network is given, else the
straight line, drawn in a small inline SVG map), and its backup duty: the centres its
quick-reaction reserve answers for and how quickly it reaches them through the day.
No page loads anything from the web: no script, no font, no tile.

File names are made from the ids with anything but letters, digits, ``-`` and ``_``
replaced, plus a short hash whenever the name had to change (or would clash), so an id
such as ``"../x"`` or ``"CON"`` can never escape the folder or overwrite another order.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from electsec.errors import InputError, Issue, did_you_mean
from electsec.report import write_page
from electsec.timeline import CONTRACT_COLUMNS
from electsec.timeline_travel import geodesic_m

__all__ = ["ORDER_COLUMNS", "safe_file_stem", "write_orders"]

#: Columns of every order CSV (garrison and command), in this order. ``duty`` is
#: ``"guard"`` (a movement of the timeline, one row each) or ``"backup"`` (one row per
#: day and centre its reserve backs up; the movement columns are then empty).
ORDER_COLUMNS = (
    "duty",
    "phase",
    "date",
    "garrison_id",
    "garrison_name",
    "command",
    "center_id",
    "center_name",
    "tier",
    "governorate",
    "teams",
    "depart",
    "arrive",
    "in_place_by",
    "polls_open",
    "polls_close",
    "release",
    "return_at",
    "on_time",
    "late_s",
    "distance_m",
    "distance_source",
    "travel_s",
    "travel_source",
    "route",
    "backup_best_s",
    "backup_worst_s",
    "backup_limit_s",
    "backup_hours_beyond_limit",
)
_TIMES = ("depart", "arrive", "in_place_by", "polls_open", "polls_close", "release", "return_at")
#: One row of an order (every cell text; ``_move``: the movement's position, or -1).
Row = dict[str, Any]
#: Names Windows reserves for devices (a file ``CON.html`` cannot be opened there).
_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{k}" for p in ("COM", "LPT") for k in range(10)}
_MAX_STEM = 60
_NO_COMMAND = "(no command)"
_MAP_KEY = (
    "<p class='muted'>Map: ■ the garrison; numbered dots: the centres (# of the table); "
    "lines: the route (road path or straight line).</p>"
)
#: The list of the files a run wrote (removed by the next run into the folder).
_MANIFEST = "MANIFEST.txt"
_OWNED = re.compile(r"index\.html|(?:garrisons|commands)/[A-Za-z0-9_-]+\.(?:html|csv)")
_PRINT_STYLE = """<style>
.order h2 { margin-top: 1.2em; border-bottom: 2px solid #333; }
.late { color: #b00020; font-weight: 600; } .ok { color: #1b5e20; }
svg.route { border: 1px solid #ccc; background: #fafafa; max-width: 100%; }
td { white-space: nowrap; } .order td:nth-child(2) { text-align: left; }
nav { font-size: 0.9em; margin-bottom: 1em; }
@page { size: A4; margin: 12mm; }
@media print {
  nav, .noprint { display: none; } body { margin: 0; font-size: 10pt; }
  a { color: inherit; text-decoration: none; }
  h2, h3 { page-break-after: avoid; } tr, svg { page-break-inside: avoid; }
  .command-garrison { page-break-before: always; }
}
</style>"""


def write_orders(
    timeline: Any, directory: str | Path, *, network: Any = None, **options: Any
) -> list[Path]:
    """Write one printable order per garrison and per command, and an index.

    Parameters
    ----------
    timeline
        A :class:`electsec.timeline.Timeline` (from :func:`electsec.movement_timeline`):
        its ``movements`` (one row per assignment), ``backup_response`` (the backup
        duty, when the plan has backups) and ``plan`` (for the map's points and the
        garrisons' names, commands and forces of each day).
    directory
        The folder to write (created). A re-run into the same folder first removes the
        files the earlier run wrote (listed in its ``MANIFEST.txt``), so no order of an
        id that is gone is left behind; no other file is touched.
    network
        A road network (anything :meth:`electsec.network.RoadNetwork.build` takes): each
        route is then the fastest road path (the one road travel times measure); a
        straight line where the roads give none. None: the network the timeline's
        travel times came from (``timeline.network``), else straight lines.

    Returns
    -------
    list of pathlib.Path
        ``index.html`` first, then each garrison's ``.html`` and ``.csv`` (every
        garrison of the plan, tasked or not), then each command's.

    Raises
    ------
    InputError
        When ``timeline`` has no ``movements`` table with the contract's columns,
        ``directory`` is a file, or an option is unknown (named, with the known ones).

    Notes
    -----
    Every movement appears in exactly one garrison's CSV (``duty == "guard"``), with
    its times as ISO text (``YYYY-MM-DD HH:MM:SS``, local time) to the whole minute:
    the departure rounded down, every other time up (the timeline keeps the exact
    times); seconds and metres are whole numbers. A command's CSV holds exactly the rows
    of its garrisons' CSVs.
    """
    if options:
        known = ("network",)
        issues = [
            Issue("arguments", name, (), f"unknown option ({did_you_mean(name, known)})")
            for name in options
        ]
        raise InputError(issues)
    movements = _movements(timeline)
    units = _units(timeline, movements)
    out = _folder(directory)
    if network is None:
        network = getattr(timeline, "network", None)
    shapes, kinds = _routes(timeline, movements, network)
    movements = _road_distances(movements.assign(route=kinds), shapes)
    rows = _order_rows(movements, _backup_duties(timeline), units)
    records: list[Row] = _as_text(rows).to_dict("records")  # type: ignore[assignment]
    context = _Context(timeline, units, shapes, movements)
    by_unit: dict[str, list[Row]] = {gid: [] for gid in context.units}
    for record in records:
        by_unit[record["garrison_id"]].append(record)
    written = [out / "index.html"]
    for gid, own in by_unit.items():
        written += _write_unit(out / "garrisons", own, context, gid)
    commands: dict[str, list[str]] = {}
    for gid in by_unit:
        commands.setdefault(context.units[gid]["command"] or "", []).append(gid)
    command_stems = _stems(sorted(commands))
    for command, stem in command_stems.items():
        members = commands[command]
        part = [r for gid in members for r in by_unit[gid]]
        written += _write_command(out / "commands", stem, command, members, part, context)
    _write_index(written[0], context, records, command_stems)
    _write_manifest(out, written)
    return written


# ----------------------------------------------------------------------------- inputs


def _folder(directory: str | Path) -> Path:
    """Create the folder (and its two sub-folders); remove the files of an earlier run."""
    out = Path(directory)
    if out.exists() and not out.is_dir():
        message = f"{out} is a file; name a folder to write the orders into"
        raise InputError([Issue("arguments", "directory", (), message)])
    manifest = out / _MANIFEST
    if manifest.is_file():
        for line in manifest.read_text(encoding="utf-8").splitlines():
            old = out / line
            # only names this writer makes: index.html or <sub>/<safe stem>.html|.csv
            if _OWNED.fullmatch(line) and old.is_file():
                old.unlink()
        manifest.unlink()
    for sub in ("garrisons", "commands"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    return out


def _write_manifest(out: Path, written: Sequence[Path]) -> None:
    names = [p.relative_to(out).as_posix() for p in written]
    (out / _MANIFEST).write_text("\n".join(names) + "\n", encoding="utf-8")


def _movements(timeline: Any) -> pd.DataFrame:
    """Return the timeline's movements (a copy), checked for the columns the orders need."""
    movements = getattr(timeline, "movements", None)
    if not isinstance(movements, pd.DataFrame):
        message = (
            f"must be a Timeline (from electsec.movement_timeline) with a movements "
            f"table, got {type(timeline).__name__}"
        )
        raise InputError([Issue("arguments", "timeline", (), message)])
    missing = [c for c in CONTRACT_COLUMNS if c not in movements.columns]
    if missing:
        message = "the timeline's movements lack columns; build it with movement_timeline()"
        raise InputError([Issue("timeline", ", ".join(missing), (), message)])
    frame = movements.reset_index(drop=True).copy()
    for column in ("phase", "garrison_id", "center_id"):
        frame[column] = frame[column].astype(str)
    return frame


def _day_plans(plan: Any) -> dict[str, Any]:
    """``{phase: AssignmentResult}`` of an ElectionPlan, or ``{"": plan}`` for one plan."""
    days = getattr(plan, "days", None)
    if isinstance(days, Mapping):
        return {str(k): v for k, v in days.items()}
    return {} if plan is None else {"": plan}


def _units(timeline: Any, movements: pd.DataFrame) -> pd.DataFrame:
    """Every garrison of the plan (and of the movements): name, command, agency, place."""
    plans = _day_plans(getattr(timeline, "plan", None))
    ids: dict[str, None] = {}
    infos = []
    for plan in plans.values():
        ids.update(dict.fromkeys(plan.garrison_load["garrison_id"].astype(str)))
        if plan.garrison_info is not None:
            infos.append(plan.garrison_info)
    ids.update(dict.fromkeys(movements["garrison_id"]))
    units = pd.DataFrame(index=pd.Index(list(ids), name="garrison_id"))
    info = pd.concat(infos) if infos else pd.DataFrame()
    info = info[~info.index.duplicated()] if len(info) else info
    info.index = info.index.astype(str)
    for column in ("name", "command", "agency", "governorate"):
        values = info[column].reindex(units.index) if column in info else None
        from_moves = f"garrison_{column}" if column != "command" else "command"
        if values is None and from_moves in movements:
            values = movements.groupby("garrison_id")[from_moves].first().reindex(units.index)
        units[column] = pd.Series(dtype=object) if values is None else values
    return units.astype(object).where(units.notna(), None)


def _backup_duties(timeline: Any) -> pd.DataFrame:
    """One row per day, centre and backup garrison: best/worst response, limit, bad hours.

    Only the hours the centre is guarded (``on_duty``) count. The best response is from
    the reserve's garrison; the worst is the response while the reserve is committed
    elsewhere (``committed_response_s``); an hour is beyond the limit when either is.
    """
    table = getattr(timeline, "backup_response", None)
    columns = ["phase", "center_id", "garrison_id", "best_s", "worst_s", "limit_s", "beyond"]
    if not isinstance(table, pd.DataFrame) or table.empty:
        return pd.DataFrame(columns=columns)
    need = ("phase", "center_id", "backup_garrison_id", "hour", "response_s", "limit_s")
    missing = [c for c in need if c not in table.columns]
    if missing:
        message = "the timeline's backup_response lacks columns; build it with movement_timeline()"
        raise InputError([Issue("timeline", ", ".join(missing), (), message)])
    t = table.dropna(subset=["backup_garrison_id"]).copy()
    if "on_duty" in t and t["on_duty"].any():
        t = t[t["on_duty"].fillna(value=False).astype(bool).to_numpy()]
    for column in ("phase", "center_id", "backup_garrison_id"):
        t[column] = t[column].astype(str)
    within = t["within_limit"] if "within_limit" in t else t["response_s"] <= t["limit_s"]
    worst = t["response_s"]
    if "committed_response_s" in t:  # the reserve committed elsewhere: the worst case
        within = within & t.get("committed_within_limit", within)
        worst = t["committed_response_s"].fillna(t["response_s"])
    bad = ~within.fillna(value=False).astype(bool)
    t = t.assign(worst_s=np.fmax(worst, t["response_s"]), bad_hour="")
    t.loc[bad, "bad_hour"] = t.loc[bad, "hour"].map(_hour)
    groups = t.groupby(["phase", "center_id", "backup_garrison_id"], sort=False)
    duties = groups.agg(
        best_s=("response_s", "min"), worst_s=("worst_s", "max"), limit_s=("limit_s", "first")
    )
    duties["beyond"] = groups["bad_hour"].agg(lambda h: " ".join(str(x) for x in h if x))
    return duties.reset_index().rename(columns={"backup_garrison_id": "garrison_id"})


def _hour(value: Any) -> str:
    """Return an hour of the backup table as ``HH:MM`` (a number is an hour of day)."""
    if isinstance(value, pd.Timestamp | np.datetime64):
        return pd.Timestamp(value).strftime("%H:%M")
    if isinstance(value, int | float | np.integer | np.floating) and not pd.isna(value):
        return f"{int(value):02d}:00"
    return str(value)


# ----------------------------------------------------------------------------- routes


def _routes(timeline: Any, movements: pd.DataFrame, network: Any) -> tuple[np.ndarray, np.ndarray]:
    """Route lines (garrison → centre) per movement and their kind: road or straight."""
    plans = _day_plans(getattr(timeline, "plan", None))
    start = _points(plans, movements, "garrison")
    end = _points(plans, movements, "center")
    known = ~(shapely.is_missing(start) | shapely.is_missing(end))
    lines = np.full(len(movements), None, dtype=object)
    if known.any():
        coords = np.stack(
            [shapely.get_coordinates(start[known]), shapely.get_coordinates(end[known])], axis=1
        )
        lines[known] = shapely.linestrings(coords)
    kinds = np.where(known, "straight", "")
    if network is None or not known.any():
        return lines, kinds.astype(object)
    from electsec.network import RoadNetwork  # noqa: PLC0415 - the road stack on demand

    net = RoadNetwork.build(network)
    roads = net.paths(
        gpd.GeoSeries(end[known], crs="EPSG:4326"),
        gpd.GeoSeries(start[known], crs="EPSG:4326"),
        metric="travel_time",
    ).to_numpy()
    found = ~shapely.is_missing(roads)
    at = np.flatnonzero(known)
    lines[at[found]] = roads[found]
    kinds[at[found]] = "road"
    return lines, kinds.astype(object)


def _road_distances(movements: pd.DataFrame, shapes: np.ndarray) -> pd.DataFrame:
    """``distance_m`` along the road route where one is drawn (``distance_source="road"``).

    Elsewhere the timeline's own ``distance_m`` and ``distance_source`` are kept (the
    plan's metres, or the straight-line geodesic).
    """
    source = movements.get("distance_source", pd.Series("", index=movements.index))
    source = source.fillna("").astype(str)
    road = (movements["route"] == "road").to_numpy()
    distance = movements["distance_m"].to_numpy(dtype=float).copy()
    if road.any():
        coords, line = shapely.get_coordinates(shapes[road], return_index=True)
        same = line[1:] == line[:-1]
        legs = geodesic_m(coords[:-1][same], coords[1:][same])
        distance[np.flatnonzero(road)] = np.bincount(
            line[1:][same], weights=legs, minlength=int(road.sum())
        )
        source = source.where(~road, "road")
    return movements.assign(distance_m=distance, distance_source=source.to_numpy())


def _points(plans: Mapping[str, Any], movements: pd.DataFrame, side: str) -> np.ndarray:
    """Return the movements' garrison or centre points (None where the plan has none)."""
    key = f"{side}_id"
    out = np.full(len(movements), None, dtype=object)
    for phase, plan in plans.items():
        points = getattr(plan, f"{side}_points", None)
        if points is None:
            continue
        rows = (movements["phase"] == phase).to_numpy() if phase else np.ones(len(out), bool)
        if side == "garrison":  # the same garrisons every day
            rows = rows | shapely.is_missing(out)
        index = pd.Index(points.index.astype(str))
        pos = index.get_indexer(movements.loc[rows, key])
        values = np.asarray(points.to_numpy(), dtype=object)
        out[np.flatnonzero(rows)[pos >= 0]] = values[pos[pos >= 0]]
    return out


# ----------------------------------------------------------------------------- tables


def _order_rows(
    movements: pd.DataFrame, duties: pd.DataFrame, units: pd.DataFrame
) -> pd.DataFrame:
    """Guard rows (one per movement) then backup rows, in :data:`ORDER_COLUMNS`."""
    guard = movements.assign(duty="guard", _move=np.arange(len(movements)))
    if "command" not in guard:
        guard["command"] = guard["garrison_id"].map(units["command"])
    if "garrison_name" not in guard:
        guard["garrison_name"] = guard["garrison_id"].map(units["name"])
    centers = _center_info(movements)
    backup = duties.assign(
        duty="backup",
        garrison_name=duties["garrison_id"].map(units["name"]),
        command=duties["garrison_id"].map(units["command"]),
        date=duties["phase"].map(movements.groupby("phase")["date"].first()),
        backup_best_s=duties["best_s"],
        backup_worst_s=duties["worst_s"],
        backup_limit_s=duties["limit_s"],
        backup_hours_beyond_limit=duties["beyond"],
    )
    where = pd.MultiIndex.from_frame(backup[["phase", "center_id"]].astype(str))
    for column in ("center_name", "tier", "governorate"):
        backup[column] = centers[column].reindex(where).to_numpy() if column in centers else None
    frames = [f for f in (guard, backup) if len(f)]
    rows = pd.concat(frames, ignore_index=True) if frames else guard
    for column in ORDER_COLUMNS:
        if column not in rows:
            rows[column] = None
    rows["_move"] = rows["_move"].fillna(-1).astype(np.int64)
    rows["_duty_rank"] = (rows["duty"] == "backup").astype(np.int64)
    rows["_date"] = pd.to_datetime(rows["date"], errors="coerce")
    keys = ["garrison_id", "_duty_rank", "_date", "depart", "center_id"]
    rows = rows.sort_values(keys, kind="stable").reset_index(drop=True)
    out: pd.DataFrame = rows.loc[:, [*ORDER_COLUMNS, "_move"]]
    return out


def _center_info(movements: pd.DataFrame) -> pd.DataFrame:
    """Centre name, tier and governorate by (phase, centre), from the movements."""
    columns = [c for c in ("center_name", "tier", "governorate") if c in movements]
    table = movements.groupby(["phase", "center_id"])[columns].first() if columns else None
    return pd.DataFrame() if table is None else table


def _as_text(rows: pd.DataFrame) -> pd.DataFrame:
    """Every cell as text for the CSVs and pages: ISO times to the minute, whole numbers."""
    text = pd.DataFrame(index=rows.index)
    for column in ORDER_COLUMNS:
        values = rows[column]
        if column in _TIMES or column == "date":
            text[column] = _time_text(values, date_only=column == "date", early=column == "depart")
        elif column in _NUMBERS:
            text[column] = _number_text(values, up=column.endswith("_s"))
        elif column == "on_time":
            text[column] = values.map(lambda v: "" if v is None or pd.isna(v) else str(bool(v)))
        else:
            text[column] = values.map(lambda v: "" if v is None or pd.isna(v) else str(v))
    text["_move"] = rows["_move"]
    return text


_NUMBERS = (
    "teams",
    "late_s",
    "distance_m",
    "travel_s",
    "backup_best_s",
    "backup_worst_s",
    "backup_limit_s",
)


def _time_text(values: pd.Series, *, date_only: bool, early: bool = False) -> pd.Series:
    """ISO text of times to the whole minute a commander reads; "" for none.

    ``early`` (the departure) rounds down, so a team leaving then is never later; every
    other time rounds up (arrive, back home: never sooner than stated).
    """
    stamps = pd.to_datetime(values, errors="coerce")
    if date_only:
        return stamps.dt.strftime("%Y-%m-%d").fillna("")
    minutes = stamps.dt.floor("min") if early else stamps.dt.ceil("min")
    return minutes.dt.strftime("%Y-%m-%d %H:%M:%S").fillna("")


def _number_text(values: pd.Series, *, up: bool = False) -> pd.Series:
    """Whole numbers (rounded, or up with ``up``) without a decimal point; "" when none."""
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    raw = numbers.to_numpy(dtype=float)
    whole = np.ceil(raw - 1e-9) if up else np.round(raw)
    text = ["" if np.isnan(v) else str(int(v)) for v in whole]
    return pd.Series(text, index=values.index, dtype=object)


def _csv_text(rows: Sequence[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(ORDER_COLUMNS)
    writer.writerows([r[c] for c in ORDER_COLUMNS] for r in rows)
    return buffer.getvalue()


# ----------------------------------------------------------------------------- names


def safe_file_stem(name: str, taken: set[str]) -> str:
    """Return a file name stem for ``name`` that stays in its folder and clashes with none.

    Letters, digits, ``-`` and ``_`` are kept; anything else (``/``, ``.``, spaces,
    non-ASCII) becomes ``_``. When that changed the name, left it empty or a reserved
    device name, or when the stem is already ``taken`` (compared without case, as on
    Windows and macOS), a short hash of ``name`` is appended. The stem is added to
    ``taken``.

    Examples
    --------
    >>> taken = set()
    >>> safe_file_stem("G0001", taken)
    'G0001'
    >>> safe_file_stem("../x", taken)[:2]
    'x-'
    """
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_-")[:_MAX_STEM]
    stem = slug
    if slug != name or not slug or slug.upper() in _RESERVED or slug.lower() in taken:
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()
        stem = f"{slug or 'unit'}-{digest[:10]}"
        length = 10
        while stem.lower() in taken:  # a clash of hashes: lengthen it
            length += 4
            stem = f"{slug or 'unit'}-{digest[:length]}"
    taken.add(stem.lower())
    return stem


def _stems(ids: Iterable[Any]) -> dict[str, str]:
    """Safe stems for ids; ids that are already safe keep their own name."""
    names = [str(i) for i in ids]
    taken: set[str] = set()
    plain = {n for n in names if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]*", n)}
    stems = {}
    for name in sorted(plain, key=lambda n: (n.lower(), n)):
        stems[name] = safe_file_stem(name, taken)
    for name in sorted(set(names) - plain):
        stems[name] = safe_file_stem(name, taken)
    return {n: stems[n] for n in names}


# ----------------------------------------------------------------------------- pages


class _Context:
    """What every page draws from: units, file stems, days, forces and route lines."""

    def __init__(
        self, timeline: Any, units: pd.DataFrame, shapes: np.ndarray, movements: pd.DataFrame
    ) -> None:
        plan = getattr(timeline, "plan", None)
        self.units: dict[str, dict[str, Any]] = {
            str(k): {str(c): x for c, x in v.items()} for k, v in units.to_dict("index").items()
        }
        self.stems = _stems(self.units)
        self.shapes = shapes
        self.forces = _forces(plan)
        self.days = _days(movements, plan)
        self.parameters = dict(getattr(timeline, "parameters", {}) or {})


def _forces(plan: Any) -> dict[tuple[str, str], dict[str, int]]:
    """``{(phase, garrison): {capacity, retained, held_back, available, used}}``."""
    forces = getattr(plan, "forces_by_day", None)
    if not isinstance(forces, pd.DataFrame):
        return {}
    columns = ["capacity", "retained", "held_back", "available", "used"]
    keys = zip(forces["phase"].astype(str), forces["garrison_id"].astype(str), strict=True)
    values = forces[columns].to_numpy(np.int64).tolist()
    return {
        key: dict(zip(columns, row, strict=True)) for key, row in zip(keys, values, strict=True)
    }


def _days(movements: pd.DataFrame, plan: Any) -> dict[str, str]:
    """Return ``{phase: ISO date}`` in the plan's day order (then other phases moved)."""
    dates = getattr(plan, "dates", None)
    days: dict[str, str] = {}
    if isinstance(dates, Mapping):
        days = {str(p): "" if d is None else str(d) for p, d in dates.items()}
    first = movements.groupby("phase", sort=False)["date"].first()
    for phase, date in first.items():
        stamp = pd.to_datetime(date, errors="coerce")
        days[str(phase)] = "" if pd.isna(stamp) else stamp.strftime("%Y-%m-%d")
    return days


def _nav(stem: str) -> str:
    return (
        "<nav class='noprint'><a href='../index.html'>All orders</a> · "
        f"<a href='{_esc(stem)}.csv'>CSV</a></nav>"
    )


def _write_unit(folder: Path, rows: list[Row], context: _Context, gid: str) -> list[Path]:
    """Write one garrison's order (HTML) and its CSV."""
    stem = context.stems[gid]
    csv_path, page_path = folder / f"{stem}.csv", folder / f"{stem}.html"
    csv_path.write_text(_csv_text(rows), encoding="utf-8")
    title = f"Tasking order — {context.units[gid]['name'] or gid} ({gid})"
    parts = [
        _PRINT_STYLE,
        _nav(stem),
        "<div class='order'>",
        *_unit_sections(rows, context, gid, title),
        "</div>",
    ]
    write_page(page_path, title, parts)
    return [page_path, csv_path]


def _unit_sections(rows: list[Row], context: _Context, gid: str, title: str) -> list[str]:
    """Return the heading, then each day's forces, guard duties, map and backup duty."""
    unit = context.units[gid]
    about = [
        f"command: {unit['command'] or _NO_COMMAND}",
        f"agency: {unit['agency'] or '-'}",
        f"governorate: {unit['governorate'] or '-'}",
    ]
    parts = [f"<h1>{_esc(title)}</h1>", f"<p class='muted'>{_esc(' · '.join(about))}</p>"]
    parts.append(_rules(context.parameters))
    for phase, date in context.days.items():
        guard = [r for r in rows if r["phase"] == phase and r["duty"] == "guard"]
        backup = [r for r in rows if r["phase"] == phase and r["duty"] == "backup"]
        parts.append(f"<h2>{_esc(_day_label(phase, date))}</h2>")
        parts.append(_forces_line(context.forces.get((phase, gid))))
        if guard:
            lines = context.shapes[[r["_move"] for r in guard]]
            parts.append(_day_line(guard[0], date))
            parts += [_guard_table(guard, date), _svg(lines, [r["center_id"] for r in guard])]
            parts.append(_MAP_KEY)
        else:
            parts.append("<p>No centre to guard on this day.</p>")
        if backup:
            parts += ["<h3>Backup duty (quick-reaction reserve)</h3>", _backup_table(backup)]
    return parts


def _rules(parameters: Mapping[str, Any]) -> str:
    """Return the timeline's rules in one line (polls, time in place, count, departure)."""
    shown = []
    for key, label in (
        ("polls_open", "polls open"),
        ("polls_close", "polls close"),
        ("in_place_min", "in place (min before opening)"),
        ("count_min", "count (min after closing)"),
        ("earliest_departure", "earliest departure"),
        ("travel_source", "travel times from"),
        ("speed_kmh", "speed (km/h)"),
    ):
        value = parameters.get(key)
        if isinstance(value, Mapping):
            value = ", ".join(f"{k} {v}" for k, v in value.items() if v is not None) or None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if value is not None:
            shown.append(f"{label}: {value}")
    return f"<p class='muted'>{_esc(' · '.join(shown))}</p>" if shown else ""


def _day_label(phase: str, date: str) -> str:
    name = phase.capitalize() if phase not in ("", "day") else "Voting"
    return f"{name} day" + (f" — {date}" if date else "")


def _day_line(r: Row, date: str) -> str:
    """Return the day's clock: polls, in place by (the same for every centre of the day)."""
    return (
        f"<p>Polls open <b>{_clock(r['polls_open'], date)}–{_clock(r['polls_close'], date)}"
        f"</b> · every team in place by <b>{_clock(r['in_place_by'], date)}</b>.</p>"
    )


def _forces_line(row: Mapping[str, int] | None) -> str:
    if row is None:
        return ""
    return (
        f"<p>Teams: capacity {row['capacity']}, retained to vote {row['retained']}, "
        f"held back {row['held_back']}, available {row['available']}, "
        f"<b>tasked {row['used']}</b>.</p>"
    )


_GUARD_HEAD = (
    "#",
    "centre",
    "tier",
    "teams",
    "depart",
    "arrive",
    "release",
    "back home",
    "travel (route)",
    "status",
)


def _centre(r: Row) -> str:
    return f"{r['center_name']} ({r['center_id']})" if r["center_name"] else r["center_id"]


def _guard_table(guard: list[Row], date: str) -> str:
    """Return the centres to guard, in departure order, with every time of the day."""
    body = []
    for k, r in enumerate(guard, start=1):
        km = f"{float(r['distance_m']) / 1000:.1f} km" if r["distance_m"] else ""
        minutes = f"{math.ceil(float(r['travel_s']) / 60)} min" if r["travel_s"] else ""
        status = (
            f"<span class='late'>LATE by {math.ceil(float(r['late_s'] or 0) / 60)} min</span>"
            if r["on_time"] == "False"
            else "<span class='ok'>on time</span>"
        )
        cells = [
            str(k),
            _centre(r),
            r["tier"],
            r["teams"],
            *(_clock(r[c], date) for c in ("depart", "arrive", "release")),
            _clock(r["return_at"], date),
            f"{minutes}, {km}".strip(", ") + (f" ({r['route']})" if r["route"] else ""),
        ]
        body.append(_cells(cells, end=f"<td>{status}</td></tr>"))
    return _html_table(_GUARD_HEAD, body)


def _backup_table(backup: list[Row]) -> str:
    head = ("centre", "tier", "response (min)", "limit (min)", "hours beyond the limit")
    body = []
    for r in backup:
        best, worst = _minutes(r["backup_best_s"]), _minutes(r["backup_worst_s"])
        beyond = r["backup_hours_beyond_limit"]
        cells = [
            _centre(r),
            r["tier"],
            best if best == worst else f"{best}–{worst}",
            _minutes(r["backup_limit_s"]),
            beyond or "none",
        ]
        body.append(_cells(cells, css="late" if beyond else ""))
    return _html_table(head, body)


def _cells(cells: Iterable[Any], *, css: str = "", start: str = "", end: str = "</tr>") -> str:
    """Return one table row of escaped cells (``start``: raw cells put first)."""
    open_tag = f"<tr class='{css}'>" if css else "<tr>"
    return open_tag + start + "".join(f"<td>{_esc(c)}</td>" for c in cells) + end


def _minutes(seconds: str) -> str:
    """Whole minutes, rounded up (a response or a drive is never shorter than stated)."""
    return f"{math.ceil(float(seconds) / 60)}" if seconds else "-"


def _clock(stamp: str, date: str) -> str:
    """Return ``HH:MM`` of an ISO time, with its date when it is not the day's own."""
    if not stamp:
        return ""
    day, _, time = stamp.partition(" ")
    return time[:5] if day == date else f"{time[:5]} ({day})"


def _html_table(head: Sequence[str], body: Sequence[str]) -> str:
    header = "".join(f"<th>{_esc(h)}</th>" for h in head)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _svg(lines: np.ndarray, centers: list[str], *, width: int = 420, height: int = 300) -> str:
    """Draw the day's routes as a small SVG map: garrison (square), centres (numbered).

    ``lines[k]`` runs from the garrison to ``centers[k]``, number ``k + 1`` of the table.
    """
    drawn = [(k, line) for k, line in enumerate(lines, start=1) if line is not None]
    if not drawn:
        return ""
    coords = shapely.get_coordinates(np.asarray([line for _, line in drawn], dtype=object))
    lon0, lat0 = coords.min(axis=0)
    lon1, lat1 = coords.max(axis=0)
    squeeze = max(float(np.cos(np.radians((lat0 + lat1) / 2))), 0.1)
    scale = (min(width, height) - 40) / max((lon1 - lon0) * squeeze, lat1 - lat0, 1e-6)

    def xy(points: np.ndarray) -> np.ndarray:
        x = 20 + (points[:, 0] - lon0) * squeeze * scale
        y = height - 20 - (points[:, 1] - lat0) * scale
        return np.column_stack([x, y])

    parts = []
    for _, line in drawn:
        simple = shapely.get_coordinates(shapely.simplify(line, 1.0 / scale))
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy(simple).tolist())
        parts.append(f"<polyline points='{pts}' fill='none' stroke='#1565c0' stroke-width='2'/>")
    home = xy(shapely.get_coordinates(drawn[0][1])[:1])[0]
    parts.append(
        f"<rect x='{home[0] - 6:.1f}' y='{home[1] - 6:.1f}' width='12' height='12' "
        "fill='#222'><title>garrison</title></rect>"
    )
    ends = [(k, *xy(shapely.get_coordinates(line)[-1:])[0]) for k, line in drawn]
    for (at, y), numbers in _markers(ends):
        label = _marker_label(numbers)
        names = ", ".join(f"{k}. {centers[k - 1]}" for k in numbers)
        half = _marker_half(label)
        x = min(max(at, half), width - half)  # a wide marker stays on the map
        parts.append(
            f"<rect x='{x - half:.1f}' y='{y - 7:.1f}' width='{2 * half:.1f}' height='14' "
            f"rx='7' fill='#e65100'><title>{_esc(names)}</title></rect>"
            f"<text x='{x:.1f}' y='{y + 3:.1f}' font-size='9' text-anchor='middle' "
            f"fill='#fff'>{label}</text>"
        )
    return (
        f"<svg class='route' xmlns='http://www.w3.org/2000/svg' width='{width}' "
        f"height='{height}' viewBox='0 0 {width} {height}' role='img' "
        f"aria-label='routes'>{''.join(parts)}</svg>"
    )


#: Height of a centre's marker on the route map (pixels); its width fits its label.
_MARKER_PX: Final = 14.0


def _marker_label(numbers: list[int]) -> str:
    """Return the numbers a marker shows: up to three, else the first and an ellipsis."""
    return ",".join(map(str, numbers)) if len(numbers) <= 3 else f"{numbers[0]},…"


def _marker_half(label: str) -> float:
    """Return half the width of a marker showing ``label``."""
    return max(_MARKER_PX / 2, 3.0 + 2.6 * len(label))


def _markers(ends: list[tuple[int, float, float]]) -> list[tuple[tuple[float, float], list[int]]]:
    """Group the centres' markers ``(number, x, y)`` that would overlap on the map.

    Two groups whose drawn markers (as wide as their labels) would touch become one, at
    their members' mean position, until none touch: close centres share one marker that
    lists their numbers (the tooltip names each) instead of hiding each other.
    """
    groups = [([x], [y], [k]) for k, x, y in ends]
    merged = True
    while merged:
        merged = False
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                (xa, ya, ka), (xb, yb, kb) = groups[a], groups[b]
                reach = _marker_half(_marker_label(ka)) + _marker_half(_marker_label(kb))
                dx, dy = abs(np.mean(xa) - np.mean(xb)), abs(np.mean(ya) - np.mean(yb))
                if dx < reach and dy < _MARKER_PX:
                    groups[a] = (xa + xb, ya + yb, sorted(ka + kb))
                    del groups[b]
                    merged = True
                    break
            if merged:
                break
    return [((float(np.mean(x)), float(np.mean(y))), k) for x, y, k in groups]


def _write_command(
    folder: Path,
    stem: str,
    command: str,
    members: list[str],
    rows: list[Row],
    context: _Context,
) -> list[Path]:
    """Write one command's page (its garrisons, their totals, every movement) and CSV."""
    csv_path, page_path = folder / f"{stem}.csv", folder / f"{stem}.html"
    csv_path.write_text(_csv_text(rows), encoding="utf-8")
    title = f"Tasking orders — {command or _NO_COMMAND}"
    parts = [
        _PRINT_STYLE,
        _nav(stem),
        f"<h1>{_esc(title)}</h1>",
        f"<p>{len(members)} garrison(s).</p>",
        _rules(context.parameters),
        "<h2>Garrisons</h2>",
        _unit_table(members, rows, context, prefix="../garrisons/"),
    ]
    for phase, date in context.days.items():
        guard = [r for r in rows if r["phase"] == phase and r["duty"] == "guard"]
        if guard:
            guard.sort(key=lambda r: (r["depart"], r["garrison_id"]))
            parts += [f"<h2>{_esc(_day_label(phase, date))}: movements</h2>"]
            parts.append(_movement_table(guard, date, context))
    write_page(page_path, title, parts)
    return [page_path, csv_path]


def _unit_table(members: Sequence[str], rows: list[Row], context: _Context, *, prefix: str) -> str:
    """One row per garrison (linked to its order): teams and centres per day, first departure."""
    teams: dict[tuple[str, str], int] = {}
    centres: dict[tuple[str, str], set[str]] = {}
    first: dict[str, str] = {}
    late: dict[str, int] = {}
    for r in rows:
        if r["duty"] != "guard":
            continue
        key = (r["garrison_id"], r["phase"])
        teams[key] = teams.get(key, 0) + int(r["teams"] or 0)
        centres.setdefault(key, set()).add(r["center_id"])
        if r["depart"] and (
            r["garrison_id"] not in first or r["depart"] < first[r["garrison_id"]]
        ):
            first[r["garrison_id"]] = r["depart"]
        late[r["garrison_id"]] = late.get(r["garrison_id"], 0) + (r["on_time"] == "False")
    days = list(context.days)
    head = ["garrison", "name", "command", *[f"{p}: teams / centres" for p in days]]
    body = []
    for gid in members:
        unit = context.units[gid]
        link = f"<td><a href='{_esc(prefix + context.stems[gid])}.html'>{_esc(gid)}</a></td>"
        cells = [unit["name"] or "", unit["command"] or _NO_COMMAND]
        cells += [f"{teams.get((gid, p), 0)} / {len(centres.get((gid, p), ()))}" for p in days]
        cells += [first.get(gid, "")[:16], late.get(gid, 0)]
        body.append(_cells(cells, start=link))
    return _html_table([*head, "first departure", "late"], body)


def _movement_table(guard: list[Row], date: str, context: _Context) -> str:
    head = ("depart", "garrison", "centre", "tier", "teams", "arrive", "release", "back home")
    body = []
    for r in guard:
        href = f"../garrisons/{context.stems[r['garrison_id']]}.html"
        start = (
            f"<td>{_esc(_clock(r['depart'], date))}</td>"
            f"<td><a href='{_esc(href)}'>{_esc(r['garrison_id'])}</a></td>"
        )
        cells = [_centre(r), r["tier"], r["teams"]]
        cells += [_clock(r[c], date) for c in ("arrive", "release", "return_at")]
        body.append(_cells(cells, css="late" if r["on_time"] == "False" else "", start=start))
    return _html_table(head, body)


def _write_index(
    path: Path, context: _Context, rows: list[Row], command_stems: Mapping[str, str]
) -> None:
    """Write the index: the days, the commands and every garrison, each linked to its page."""
    body = []
    for phase, date in context.days.items():
        day = [r for r in rows if r["phase"] == phase and r["duty"] == "guard"]
        departs = [r["depart"] for r in day if r["depart"]]
        returns = [r["return_at"] for r in day if r["return_at"]]
        cells = [
            _day_label(phase, date),
            len({r["center_id"] for r in day}),
            sum(int(r["teams"] or 0) for r in day),
            len({r["garrison_id"] for r in day}),
            sum(r["on_time"] == "False" for r in day),
            min(departs)[:16] if departs else "",
            max(returns)[:16] if returns else "",
        ]
        body.append(_cells(cells))
    head = ("day", "centres", "teams", "garrisons", "late", "first departure", "last return")
    commands = [
        f"<li><a href='commands/{_esc(stem)}.html'>{_esc(command or _NO_COMMAND)}</a></li>"
        for command, stem in command_stems.items()
    ]
    parts = [
        _PRINT_STYLE,
        "<h1>Tasking orders</h1>",
        _rules(context.parameters),
        "<h2>Voting days</h2>",
        _html_table(head, body),
        "<h2>Commands</h2>",
        f"<ul>{''.join(commands)}</ul>",
        "<h2>Garrisons</h2>",
        _unit_table(list(context.units), rows, context, prefix="garrisons/"),
    ]
    write_page(path, "Tasking orders", parts)
