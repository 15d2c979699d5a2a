"""Election-day movements of one day's plan: when each team leaves, arrives and returns.

:func:`movement_timeline` turns an :class:`~electsec.result.AssignmentResult` (one day's
plan) into a :class:`Timeline`: for every (centre, garrison) assignment the departure that
puts the teams in place ``in_place_min`` before the polls open, the arrival, the hold, the
release after the manual count and the return; the centres that cannot be reached in time
(with the numbers); the forces away per hour; and the backup reserves' response times with
the centres whose backup cannot come in time while the reserve is committed elsewhere.
:meth:`Timeline.orders` writes the tasking orders (see :mod:`electsec.orders`).

Notes
-----
All times are tz-naive :class:`pandas.Timestamp` s on the election ``date`` (a departure
may fall on the evening before). A team is *away* from its garrison from its departure
until its return, half-open: a team back at 21:00 is home at 21:00.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from electsec.errors import InputError, Issue, did_you_mean
from electsec.result import AssignmentResult
from electsec.validation import is_number

if TYPE_CHECKING:
    from electsec.costs import CostMatrix

__all__ = ["Timeline", "movement_timeline"]

logger = logging.getLogger(__name__)

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_RETURN_TO = ("garrison", "center")
_NS = 1_000_000_000
_MINUTE_NS = 60 * _NS
#: Descriptive columns carried into ``movements``: (table, column) → name.
_INFO = (
    ("center", "name", "center_name"),
    ("center", "tier", "tier"),
    ("center", "governorate", "center_governorate"),
    ("garrison", "name", "garrison_name"),
    ("garrison", "command", "command"),
    ("garrison", "governorate", "garrison_governorate"),
    ("garrison", "agency", "garrison_agency"),
)


@dataclass(frozen=True)
class _Clock:
    """The day's fixed times, validated."""

    date: pd.Timestamp
    polls_open: pd.Timestamp
    polls_close: pd.Timestamp
    in_place_by: pd.Timestamp
    release: pd.Timestamp
    earliest: pd.Timestamp | None
    return_to: str


@dataclass(frozen=True)
class _Times:
    """Travel times of the assignments and of the backups, and where they came from."""

    travel_s: np.ndarray
    backup_s: np.ndarray | None
    source: str
    routes: np.ndarray | None  # road LineStrings per assignment (None: no network)


@dataclass(frozen=True)
class Timeline:
    """The movements of one election day, ready to brief and to hand out.

    Attributes
    ----------
    movements
        One row per assignment: ``center_id, garrison_id, teams, travel_s, depart,
        arrive, in_place_by, release, return`` (tz-naive Timestamps), ``hold_s`` (time on
        station, arrival to release), ``late`` (cannot be in place by ``in_place_by``),
        ``routed`` (the line follows the roads), and the descriptive columns known
        (``center_name``, ``tier``, ``center_governorate``, ``garrison_name``,
        ``command``, ``garrison_governorate``, ``garrison_agency``).
    late
        Movements that cannot be in place in time: ``center_id, garrison_id, teams,
        travel_s, earliest_departure, earliest_arrival, required_arrival, late_by_min,
        after_opening`` (arrives only after the polls opened). They stay in
        ``movements`` (leaving at ``earliest_departure``); none is dropped.
    by_hour
        One row per hour (index ``hour``, from the first departure or midnight to the
        last return or the next midnight); columns in two groups. ``by_hour["national"]``:
        ``outbound``, ``on_station``, ``returning`` and ``away`` (their sum): teams in that
        state at the hour mark; ``peak_away``: the most teams away at any moment of the
        hour. ``by_hour["garrison"]``: per garrison id, the most of its teams away at any
        moment of the hour.
    backup
        With backup coverage (``plan.backups``), one row per backed-up centre; see
        :func:`movement_timeline` (Notes) for the model. None otherwise.
    date, polls_open, polls_close, in_place_by, release
        The day's fixed times.
    in_place_min, count_min
        Lead time before opening and the manual count after closing, in minutes.
    return_to
        ``"garrison"`` (teams drive back) or ``"center"`` (released on the spot).
    time_source
        Where the travel times came from, in words.
    lines
        One LineString per movement (EPSG:4326), garrison → centre: the road route when
        a network was given, else the straight line.
    plan
        The day's plan.
    """

    movements: pd.DataFrame = field(repr=False)
    late: pd.DataFrame = field(repr=False)
    by_hour: pd.DataFrame = field(repr=False)
    backup: pd.DataFrame | None = field(repr=False)
    date: pd.Timestamp
    polls_open: pd.Timestamp
    polls_close: pd.Timestamp
    in_place_by: pd.Timestamp
    release: pd.Timestamp
    in_place_min: float
    count_min: float
    return_to: str
    time_source: str
    lines: gpd.GeoSeries = field(repr=False)
    plan: AssignmentResult = field(repr=False)

    @property
    def at_risk(self) -> tuple[str, ...]:
        """Centres whose backup cannot arrive within the limit while its reserve is committed."""
        if self.backup is None:
            return ()
        return tuple(self.backup.loc[self.backup["at_risk"], "center_id"].astype(str))

    def summary(self) -> pd.Series:
        """Key figures of the day as a Series."""
        m = self.movements
        teams = int(m["teams"].sum())
        national = self.by_hour["national"]
        return pd.Series(
            {
                "date": self.date.date().isoformat(),
                "polls": f"{self.polls_open:%H:%M}-{self.polls_close:%H:%M}",
                "in_place_by": self.in_place_by,
                "movements": len(m),
                "teams": teams,
                "garrisons": int(m["garrison_id"].nunique()),
                "first_departure": m["depart"].min() if len(m) else pd.NaT,
                "last_arrival": m["arrive"].max() if len(m) else pd.NaT,
                "longest_travel_min": round(float(m["travel_s"].max()) / 60, 1) if len(m) else 0,
                "late_centers": int(self.late["center_id"].nunique()),
                "late_teams": int(self.late["teams"].sum()),
                "release": self.release,
                "last_return": m["return"].max() if len(m) else pd.NaT,
                "peak_away": int(national["peak_away"].max()) if len(national) else 0,
                "centers_uncovered": len(self.plan.uncovered),
                "backup_centers": 0 if self.backup is None else len(self.backup),
                "backup_at_risk": len(self.at_risk),
                "time_source": self.time_source,
            },
            name="timeline",
        )

    def to_geodataframe(self) -> gpd.GeoDataFrame:
        """Return time-stamped legs for animation: outbound and (if any) return.

        Returns
        -------
        geopandas.GeoDataFrame
            One LineString per leg in EPSG:4326: ``center_id, garrison_id, teams, leg``
            (``"outbound"``: garrison → centre, ``depart`` → ``arrive``; ``"return"``:
            the same line reversed, ``release`` → ``return``), ``start``, ``end`` and
            the descriptive columns of ``movements``.
        """
        m = self.movements
        keep = [c for c in m.columns if c not in ("depart", "arrive", "release", "return")]
        out = m[keep].assign(leg="outbound", start=m["depart"], end=m["arrive"])
        legs = [gpd.GeoDataFrame(out, geometry=self.lines.set_axis(m.index), crs="EPSG:4326")]
        if self.return_to == "garrison":
            back = m[keep].assign(leg="return", start=m["release"], end=m["return"])
            lines = shapely.reverse(self.lines.to_numpy())
            legs.append(gpd.GeoDataFrame(back, geometry=lines, crs="EPSG:4326"))
        return gpd.GeoDataFrame(pd.concat(legs, ignore_index=True), crs="EPSG:4326")

    def chart(self, path: str | Path | None = None) -> str:
        """Draw the forces in use over the day as a self-contained SVG.

        Teams outbound, on station and returning, stacked, every five minutes, with the
        opening and closing of the polls marked. No web assets, no plotting library.

        Parameters
        ----------
        path
            Also write it there: ``.svg`` as is, ``.html`` wrapped in a page.

        Returns
        -------
        str
            The SVG markup.
        """
        from electsec.orders import write_chart  # noqa: PLC0415

        return write_chart(self, path)

    def orders(self, directory: str | Path) -> Path:
        """Write the tasking orders: a page and a CSV per garrison, a page per command.

        Parameters
        ----------
        directory
            Folder to write into (created).

        Returns
        -------
        pathlib.Path
            The index page.

        See Also
        --------
        electsec.orders.write_orders : What each page holds.
        """
        from electsec.orders import write_orders  # noqa: PLC0415

        return write_orders(self, directory)

    def __repr__(self) -> str:
        return (
            f"Timeline(date={self.date.date().isoformat()}, movements={len(self.movements)}, "
            f"late={len(self.late)}, at_risk={len(self.at_risk)}, "
            f"time_source={self.time_source!r})"
        )


def movement_timeline(
    plan: AssignmentResult,
    *,
    date: str | dt.date,
    costs: CostMatrix | None = None,
    network: Any = None,
    speed_kmh: float | None = None,
    polls_open: str | dt.time = "07:00",
    polls_close: str | dt.time = "18:00",
    in_place_min: float = 60,
    count_min: float = 120,
    earliest_departure: str | dt.time | dt.datetime | None = None,
    return_to: str = "garrison",
    incident_min: float = 60,
    backup_limit_min: float | None = None,
) -> Timeline:
    """Time every movement of one election day's plan.

    Each assignment's teams leave at the latest whole minute that puts them in place
    ``in_place_min`` before the polls open, hold their centre until the manual count is
    done (``polls_close + count_min``) and then return.

    Parameters
    ----------
    plan
        One day's plan.
    date
        The election day (``"2025-11-11"``, a :class:`datetime.date`).
    costs
        A :class:`~electsec.costs.CostMatrix` of travel times (seconds), or of distances
        (metres) with ``speed_kmh``; it must hold every pair of the plan.
    network
        A road network (anything :meth:`electsec.network.RoadNetwork.build` takes): the
        routes drawn follow its fastest roads, and, when neither the plan nor ``costs``
        gives travel times, the times are its travel times.
    speed_kmh
        Speed over the plan's distances (``distance_m``), for a plan in metres without
        ``costs`` or ``network``.
    polls_open, polls_close
        ``"HH:MM"`` on ``date``.
    in_place_min
        Minutes before opening by which the teams must be in place (≥ 0).
    count_min
        Minutes of the manual count after closing; teams are released then (≥ 0).
    earliest_departure
        No team may leave before this (``"HH:MM"`` on ``date``, or a datetime); None: no
        bound. Movements that then arrive too late are listed in ``Timeline.late``.
    return_to
        ``"garrison"``: teams drive back after release; ``"center"``: they are released
        to other duty on the spot (no return leg).
    incident_min
        Minutes a reserve team stays at an incident before driving back (backup model).
    backup_limit_min
        Backup response limit in minutes; None: the plan's backup limit in seconds (or,
        with ``speed_kmh``, its metres at that speed), else each centre's own response.

    Returns
    -------
    Timeline

    Raises
    ------
    InputError
        For bad times, dates or minutes, an unknown ``return_to``, no source of travel
        times (or two conflicting ones), or pairs of the plan the costs or roads lack.

    Notes
    -----
    Travel times, in order: the plan's own ``time_s`` (a travel-time plan), ``costs``,
    the ``network``'s travel times, the plan's ``distance_m`` at ``speed_kmh``.

    Backup model (``Timeline.backup``). A centre's backup garrison keeps ``reserve``
    quick-reaction teams at home, on duty from ``in_place_by`` to ``release``; road
    times do not vary with the hour, so within that window the response time is the
    same at every hour: ``response_s``, the travel time from the backup garrison. The
    worst case is an alarm at every centre the garrison backs up at once: its reserve
    teams answer the nearest centres first; a team that answered centre ``i`` is free
    again after ``2 × t_i + incident_min`` (there, the incident, back home), and then
    answers the nearest centre still waiting. ``worst_response_s`` is when help reaches
    each centre in that case (the first ``reserve`` centres: their ``response_s``).
    ``at_risk``: ``worst_response_s`` exceeds ``limit_s`` (``backup_limit_min``, else
    the plan's backup limit in time, else the centre's own ``response_s``, i.e. help
    would have to wait).

    Examples
    --------
    >>> import electsec as es
    >>> plan = es.solve_assignment("data/sample/tiny_centers.geojson",
    ...                            "data/sample/tiny_garrisons.geojson")
    >>> day = es.movement_timeline(plan, date="2025-11-11", speed_kmh=40)
    >>> bool((day.movements["arrive"] <= day.in_place_by).all())
    True
    >>> str(day.release)
    '2025-11-11 20:00:00'
    """
    clock = _clock_of(
        plan,
        date=date,
        polls_open=polls_open,
        polls_close=polls_close,
        in_place_min=in_place_min,
        count_min=count_min,
        earliest_departure=earliest_departure,
        return_to=return_to,
        extra={"incident_min": incident_min, "backup_limit_min": backup_limit_min},
    )
    times = _travel(plan, costs=costs, network=network, speed_kmh=speed_kmh)
    movements = _movements(plan, times, clock)
    limit_s = _backup_limit(plan, speed_kmh, backup_limit_min, times)
    backup = _backup(plan, times, clock, float(incident_min) * 60, limit_s)
    return Timeline(
        movements=movements,
        late=_late(movements, clock),
        by_hour=_by_hour(movements, plan, clock),
        backup=backup,
        date=clock.date,
        polls_open=clock.polls_open,
        polls_close=clock.polls_close,
        in_place_by=clock.in_place_by,
        release=clock.release,
        in_place_min=float(in_place_min),
        count_min=float(count_min),
        return_to=clock.return_to,
        time_source=times.source,
        lines=_lines(plan, times),
        plan=plan,
    )


# -- arguments ---------------------------------------------------------------------------


def _issue(option: str, message: str) -> Issue:
    return Issue("arguments", option, (), message)


def _time_of_day(value: Any, option: str, issues: list[Issue]) -> pd.Timedelta | None:
    """``"HH:MM"`` or a :class:`datetime.time` → time since midnight."""
    if isinstance(value, dt.time) and value.tzinfo is None:
        return pd.Timedelta(hours=value.hour, minutes=value.minute, seconds=value.second)
    found = _CLOCK.match(value.strip()) if isinstance(value, str) else None
    if found is None:
        issues.append(_issue(option, f"must be a time of day 'HH:MM' (00:00-23:59), got {value!r}"))
        return None
    return pd.Timedelta(hours=int(found[1]), minutes=int(found[2]))


def _day(value: Any, issues: list[Issue]) -> pd.Timestamp | None:
    """The election day as a tz-naive midnight Timestamp."""
    try:
        day = pd.Timestamp(value) if isinstance(value, str | dt.date) else None
    except ValueError:
        day = None
    if day is None or day is pd.NaT or day.tzinfo is not None or day != day.normalize():
        message = f"must be a day such as '2025-11-11' (no time of day, no time zone), got {value!r}"
        issues.append(_issue("date", message))
        return None
    return day


def _minutes(value: Any, option: str, issues: list[Issue], *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not is_number(value, minimum=0.0):
        issues.append(_issue(option, f"must be a finite number of minutes ≥ 0, got {value!r}"))


def _earliest(value: Any, day: pd.Timestamp | None, issues: list[Issue]) -> pd.Timestamp | None:
    if value is None or day is None:
        return None
    if isinstance(value, dt.datetime):
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is None:
            return stamp
        issues.append(_issue("earliest_departure", "must be tz-naive (local time), like date"))
        return None
    offset = _time_of_day(value, "earliest_departure", issues)
    return None if offset is None else day + offset


def _clock_of(plan: Any, **given: Any) -> _Clock:
    """Validate every time argument at once (one InputError with all the issues)."""
    issues: list[Issue] = []
    if not isinstance(plan, AssignmentResult):
        hint = " (for an ElectionPlan, pass plan.days[phase] with its date)"
        message = f"must be an AssignmentResult, got {type(plan).__name__}"
        issues.append(_issue("plan", message + (hint if hasattr(plan, "days") else "")))
    day = _day(given["date"], issues)
    opens = _time_of_day(given["polls_open"], "polls_open", issues)
    closes = _time_of_day(given["polls_close"], "polls_close", issues)
    if opens is not None and closes is not None and closes <= opens:
        issues.append(_issue("polls_close", f"must be after polls_open ({opens} vs {closes})"))
    for option in ("in_place_min", "count_min"):
        _minutes(given[option], option, issues)
    _minutes(given["extra"]["incident_min"], "incident_min", issues)
    _minutes(given["extra"]["backup_limit_min"], "backup_limit_min", issues, optional=True)
    if given["return_to"] not in _RETURN_TO:
        known = did_you_mean(given["return_to"], _RETURN_TO)
        issues.append(_issue("return_to", f"unknown {given['return_to']!r} ({known})"))
    earliest = _earliest(given["earliest_departure"], day, issues)
    if issues:
        raise InputError(issues)
    assert day is not None and opens is not None and closes is not None  # noqa: S101
    return _Clock(
        date=day,
        polls_open=day + opens,
        polls_close=day + closes,
        in_place_by=day + opens - pd.Timedelta(minutes=float(given["in_place_min"])),
        release=day + closes + pd.Timedelta(minutes=float(given["count_min"])),
        earliest=earliest,
        return_to=given["return_to"],
    )


# -- travel times ------------------------------------------------------------------------


def _pairs(plan: AssignmentResult) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    cost = plan.cost_column
    a = plan.assignments[["center_id", "garrison_id", cost]]
    b = None if plan.backups is None else plan.backups[["center_id", "garrison_id", cost]]
    return a, b


def _conflicts(
    plan: AssignmentResult, costs: Any, network: Any, speed_kmh: Any
) -> list[Issue]:
    """Two sources of travel times, or a bad one: every problem."""
    from electsec.costs import CostMatrix  # noqa: PLC0415

    issues = []
    if speed_kmh is not None and not is_number(speed_kmh, minimum=0.0, strict=True):
        issues.append(_issue("speed_kmh", f"must be a finite speed > 0 km/h, got {speed_kmh!r}"))
    if costs is not None and not isinstance(costs, CostMatrix):
        message = f"must be a CostMatrix (es.distance_matrix), got {type(costs).__name__}"
        issues.append(_issue("costs", message))
    if plan.unit == "s":
        for option, value in (("costs", costs), ("speed_kmh", speed_kmh)):
            if value is not None:
                message = "must not be given: the plan already carries travel times (time_s)"
                issues.append(_issue(option, message))
        return issues
    metres = isinstance(costs, CostMatrix) and costs.unit == "m"
    if speed_kmh is not None and ((costs is not None and not metres) or network is not None):
        which = "network" if costs is None else "costs"
        message = f"conflicts with {which}=, which gives the travel times: pass one of them"
        issues.append(_issue("speed_kmh", message))
    if metres and speed_kmh is None:
        issues.append(_issue("costs", "holds metres: give speed_kmh= or a travel-time matrix"))
    if costs is None and network is None and speed_kmh is None:
        message = (
            "no source of travel times: the plan is in metres; pass costs= (a travel-time "
            "CostMatrix), network= (road travel times) or speed_kmh="
        )
        issues.append(_issue("speed_kmh", message))
    return issues


def _travel(plan: AssignmentResult, *, costs: Any, network: Any, speed_kmh: Any) -> _Times:
    issues = _conflicts(plan, costs, network, speed_kmh)
    if issues:
        raise InputError(issues)
    a, b = _pairs(plan)
    net = None
    if network is not None:
        from electsec.network import RoadNetwork  # noqa: PLC0415

        net = RoadNetwork.build(network)
    if plan.unit == "s":
        travel, backup = a["time_s"].to_numpy(float), _column(b, "time_s")
        source = "the plan's travel times (time_s)"
    elif costs is not None:
        scale = 1.0 if costs.unit == "s" else 3.6 / float(speed_kmh)
        travel, backup = _from_costs(costs, a, b, scale, "costs")
        at = "" if costs.unit == "s" else f" at {float(speed_kmh):g} km/h"
        source = f"costs ({costs.metric}{at})"
    elif net is not None:
        travel, backup = _from_network(plan, net, a, b)
        source = "road travel times (network)"
    else:
        scale = 3.6 / float(speed_kmh)
        travel, backup = a["distance_m"].to_numpy(float) * scale, _column(b, "distance_m", scale)
        metric = plan.parameters.get("costs", "geodesic")
        source = f"{metric} distance at {float(speed_kmh):g} km/h"
    routes = None if net is None else _routes(plan, net)
    return _Times(travel, backup, source, routes)


def _column(frame: pd.DataFrame | None, name: str, scale: float = 1.0) -> np.ndarray | None:
    return None if frame is None else frame[name].to_numpy(float) * scale


def _lookup(costs: CostMatrix, centers: pd.Series, garrisons: pd.Series) -> np.ndarray:
    """Costs of the pairs (NaN where the matrix has no entry); the matrix is not changed."""
    matrix = sp.csr_array(costs.matrix)
    if not matrix.has_sorted_indices:
        matrix = matrix.copy()
        matrix.sort_indices()
    n_cols = max(matrix.shape[1], 1)
    rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    keys = rows * n_cols + matrix.indices.astype(np.int64)
    r = costs.center_ids.get_indexer(centers.astype(str).to_numpy())
    c = costs.garrison_ids.get_indexer(garrisons.astype(str).to_numpy())
    query = r.astype(np.int64) * n_cols + c
    at = np.minimum(np.searchsorted(keys, query), max(len(keys) - 1, 0))
    found = (r >= 0) & (c >= 0) & (len(keys) > 0)
    found &= keys[at] == query if len(keys) else found
    out = np.full(len(query), np.nan)
    out[found] = matrix.data[at[found]]
    return out


def _from_costs(
    costs: CostMatrix, a: pd.DataFrame, b: pd.DataFrame | None, scale: float, option: str
) -> tuple[np.ndarray, np.ndarray | None]:
    issues, out = [], []
    for what, frame in (("assignments", a), ("backups", b)):
        if frame is None:
            out.append(None)
            continue
        found = _lookup(costs, frame["center_id"], frame["garrison_id"])
        missing = np.isnan(found)
        if missing.any():
            pairs = tuple(
                f"{c}<-{g}" for c, g in frame.loc[missing, ["center_id", "garrison_id"]].to_numpy()
            )
            message = (
                f"has no travel time for {missing.sum()} (centre<-garrison) pair(s) of the "
                f"plan's {what}; build it with every pair of the plan (a larger k or limit)"
            )
            issues.append(Issue("arguments", option, pairs, message))
        out.append(found * scale)
    if issues:
        raise InputError(issues)
    return out[0], out[1]  # type: ignore[return-value]


def _layer(points: gpd.GeoSeries, ids: np.ndarray) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=points.loc[ids], crs=points.crs)


def _from_network(
    plan: AssignmentResult, net: Any, a: pd.DataFrame, b: pd.DataFrame | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Road travel times of exactly the plan's pairs (one sweep from the garrisons used)."""
    from electsec.network import network_costs  # noqa: PLC0415

    both = a if b is None else pd.concat([a, b])
    centers = _layer(plan.center_points, both["center_id"].unique())
    garrisons = _layer(plan.garrison_points, both["garrison_id"].unique())
    matrix = network_costs(centers, garrisons, net, metric="travel_time")
    return _from_costs(matrix, a, b, 1.0, "network")


def _routes(plan: AssignmentResult, net: Any) -> np.ndarray:
    a = plan.assignments
    centers = plan.center_points.loc[a["center_id"].to_numpy()].reset_index(drop=True)
    garrisons = plan.garrison_points.loc[a["garrison_id"].to_numpy()].reset_index(drop=True)
    return np.asarray(net.paths(centers, garrisons, metric="travel_time").to_numpy())


def _lines(plan: AssignmentResult, times: _Times) -> gpd.GeoSeries:
    a = plan.assignments
    start = shapely.get_coordinates(plan.garrison_points.loc[a["garrison_id"].to_numpy()])
    end = shapely.get_coordinates(plan.center_points.loc[a["center_id"].to_numpy()])
    lines = (
        shapely.linestrings(np.stack([start, end], axis=1))
        if len(a)
        else np.zeros(0, dtype=object)
    )
    if times.routes is not None and len(a):
        lines = np.where(shapely.is_missing(times.routes), lines, times.routes)
    return gpd.GeoSeries(lines, crs="EPSG:4326", index=a.index)


# -- the movements -----------------------------------------------------------------------


def _stamps(ns: np.ndarray) -> np.ndarray:
    return np.asarray(ns, dtype=np.int64).astype("datetime64[ns]")


def _ns(column: pd.Series) -> np.ndarray:
    """Nanoseconds since the epoch of a Timestamp column."""
    return np.asarray(column.to_numpy().astype("datetime64[ns]").view(np.int64))


def _movements(plan: AssignmentResult, times: _Times, clock: _Clock) -> pd.DataFrame:
    a = plan.assignments
    travel_ns = np.round(times.travel_s * _NS).astype(np.int64)
    latest = clock.in_place_by.value - travel_ns
    depart = latest // _MINUTE_NS * _MINUTE_NS  # the whole minute at or before
    late = np.zeros(len(a), dtype=bool)
    if clock.earliest is not None:
        late = latest < clock.earliest.value
        depart = np.maximum(depart, clock.earliest.value)
    arrive = depart + travel_ns
    release = np.full(len(a), clock.release.value, dtype=np.int64)
    back = release + travel_ns if clock.return_to == "garrison" else release
    out = pd.DataFrame(
        {
            "center_id": a["center_id"].to_numpy(),
            "garrison_id": a["garrison_id"].to_numpy(),
            "teams": a["teams"].to_numpy(np.int64),
            "travel_s": times.travel_s,
            "depart": _stamps(depart),
            "arrive": _stamps(arrive),
            "in_place_by": _stamps(np.full(len(a), clock.in_place_by.value, dtype=np.int64)),
            "release": _stamps(release),
            "return": _stamps(back),
            "hold_s": (release - arrive) / _NS,
            "late": late,
            "routed": np.zeros(len(a), bool)
            if times.routes is None
            else ~shapely.is_missing(times.routes),
        },
        index=a.index,
    )
    return _with_info(out, plan)


def _with_info(out: pd.DataFrame, plan: AssignmentResult) -> pd.DataFrame:
    tables = {"center": plan.center_info, "garrison": plan.garrison_info}
    for table, column, name in _INFO:
        info = tables[table]
        if info is not None and column in info.columns:
            out[name] = info[column].reindex(out[f"{table}_id"].to_numpy()).to_numpy()
    if "agency" in plan.assignments.columns:
        out["agency"] = plan.assignments["agency"].to_numpy()
    return out


def _late(movements: pd.DataFrame, clock: _Clock) -> pd.DataFrame:
    m = movements.loc[movements["late"]]
    return pd.DataFrame(
        {
            "center_id": m["center_id"],
            "garrison_id": m["garrison_id"],
            "teams": m["teams"],
            "travel_s": m["travel_s"],
            "earliest_departure": m["depart"],
            "earliest_arrival": m["arrive"],
            "required_arrival": m["in_place_by"],
            "late_by_min": (m["arrive"] - m["in_place_by"]).dt.total_seconds() / 60,
            "after_opening": m["arrive"] > clock.polls_open,
        }
    ).reset_index(drop=True)


# -- forces away, hour by hour -----------------------------------------------------------


def _active(
    starts: np.ndarray, ends: np.ndarray, weights: np.ndarray, at: np.ndarray
) -> np.ndarray:
    """Σ weights of the intervals [start, end) holding each instant of ``at``."""
    s_order, e_order = np.argsort(starts, kind="stable"), np.argsort(ends, kind="stable")
    s_cum = np.concatenate([[0], np.cumsum(weights[s_order])])
    e_cum = np.concatenate([[0], np.cumsum(weights[e_order])])
    began = s_cum[np.searchsorted(starts[s_order], at, side="right")]
    ended = e_cum[np.searchsorted(ends[e_order], at, side="right")]
    return np.asarray(began - ended)


def _hours(movements: pd.DataFrame, clock: _Clock) -> pd.DatetimeIndex:
    first, last = clock.date, clock.date + pd.Timedelta(days=1)
    if len(movements):
        first = min(first, movements["depart"].min().floor("h"))
        last = max(last, movements["return"].max().ceil("h"))
    hours = pd.date_range(first, last, freq="h", inclusive="left", name="hour")
    return hours.as_unit("ns")


def _by_hour(movements: pd.DataFrame, plan: AssignmentResult, clock: _Clock) -> pd.DataFrame:
    hours = _hours(movements, clock)
    h_ns = hours.asi8
    dep, arr, rel, ret = (_ns(movements[c]) for c in ("depart", "arrive", "release", "return"))
    teams = movements["teams"].to_numpy(np.int64)
    national = pd.DataFrame(
        {
            "outbound": _active(dep, arr, teams, h_ns),
            "on_station": _active(arr, rel, teams, h_ns),
            "returning": _active(rel, ret, teams, h_ns),
        },
        index=hours,
    )
    national["away"] = national.sum(axis=1)
    ids = plan.garrison_load["garrison_id"].astype(str).to_numpy()
    code = pd.Index(ids).get_indexer(movements["garrison_id"].astype(str).to_numpy())
    national["peak_away"] = _peaks(dep, ret, teams, np.zeros_like(code), h_ns, 1)[:, 0]
    garrison = pd.DataFrame(
        _peaks(dep, ret, teams, code, h_ns, len(ids)), index=hours, columns=pd.Index(ids)
    )
    return pd.concat({"national": national, "garrison": garrison}, axis=1)


def _peaks(
    starts: np.ndarray,
    ends: np.ndarray,
    weights: np.ndarray,
    group: np.ndarray,
    hours: np.ndarray,
    n_groups: int,
) -> np.ndarray:
    """(hours × groups): the most weight of a group's intervals active in each hour.

    The count only rises at a start, so the peak over ``[h, h + 1 h)`` is the count at
    ``h`` or at a start inside the hour. Groups are kept apart by offsetting each one's
    times (seconds from the first hour) by a span longer than the whole day.
    """
    peak = np.zeros((len(hours), n_groups), dtype=np.int64)
    if len(starts) == 0 or len(hours) == 0:
        return peak
    t0 = hours[0]
    span = float((max(hours[-1], int(ends.max())) - t0) / _NS) + 7200.0
    shift = group.astype(float) * span
    s_key, e_key = shift + (starts - t0) / _NS, shift + (ends - t0) / _NS
    at_g = np.concatenate([np.repeat(np.arange(n_groups), len(hours)), group])
    at_t = np.concatenate([np.tile((hours - t0) / _NS, n_groups), (starts - t0) / _NS])
    counts = _active(s_key, e_key, weights, at_g * span + at_t)
    bins = np.floor(at_t / 3600.0).astype(np.int64)
    inside = (bins >= 0) & (bins < len(hours))
    np.maximum.at(peak, (bins[inside], at_g[inside]), counts[inside])
    return peak


# -- backup reserves ---------------------------------------------------------------------


def _backup_limit(
    plan: AssignmentResult, speed_kmh: Any, limit_min: Any, times: _Times
) -> float | None:
    """The backup response limit in seconds, or None (each centre's own response)."""
    if limit_min is not None:
        return float(limit_min) * 60
    option = plan.parameters.get("backup") or {}
    if option.get("max_time_s") is not None:
        return float(option["max_time_s"])
    if option.get("max_distance_m") is not None and times.source.endswith(" km/h"):
        return float(option["max_distance_m"]) * 3.6 / float(speed_kmh)
    return None


def _backup(
    plan: AssignmentResult,
    times: _Times,
    clock: _Clock,
    incident_s: float,
    limit_s: float | None,
) -> pd.DataFrame | None:
    if plan.backups is None or times.backup_s is None:
        return None
    b = plan.backups
    load = plan.garrison_load.set_index("garrison_id")
    reserve = load["reserve"].reindex(b["garrison_id"]).fillna(0).astype(np.int64).to_numpy()
    out = pd.DataFrame(
        {
            "center_id": b["center_id"].to_numpy(),
            "garrison_id": b["garrison_id"].to_numpy(),
            "reserve": reserve,
            "response_s": times.backup_s,
        }
    )
    out = out.sort_values(["garrison_id", "response_s", "center_id"], ignore_index=True)
    out["backed_centers"] = out.groupby("garrison_id")["center_id"].transform("size")
    out["rank"] = out.groupby("garrison_id").cumcount() + 1
    out["worst_response_s"] = _worst(out, incident_s)
    out["limit_s"] = out["response_s"] if limit_s is None else float(limit_s)
    out["at_risk"] = out["worst_response_s"] > out["limit_s"] + 1e-6
    out["on_duty_from"], out["on_duty_until"] = clock.in_place_by, clock.release
    info = plan.center_info
    for column, name in (("name", "center_name"), ("tier", "tier")):
        if info is not None and column in info.columns:
            out[name] = info[column].reindex(out["center_id"].to_numpy()).to_numpy()
    return out.sort_values("center_id", ignore_index=True)


def _worst(table: pd.DataFrame, incident_s: float) -> np.ndarray:
    """Worst-case response per row (rows sorted by garrison, then response): see Notes."""
    worst = np.full(len(table), math.inf)
    response = table["response_s"].to_numpy(float)
    starts = np.flatnonzero(table["rank"].to_numpy() == 1)
    stops = np.append(starts[1:], len(table))
    reserve = table["reserve"].to_numpy(np.int64)
    for lo, hi in zip(starts.tolist(), stops.tolist(), strict=True):
        teams = int(reserve[lo])
        if teams <= 0:
            continue
        free = [0.0] * teams  # when each reserve team is free again
        for k in range(lo, hi):
            ready = heapq.heappop(free)
            worst[k] = ready + response[k]
            heapq.heappush(free, worst[k] + incident_s + response[k])
    return worst
