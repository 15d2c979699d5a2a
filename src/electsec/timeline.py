"""Election days hour by hour: when each unit leaves, arrives, is released and is back.

:func:`movement_timeline` turns a plan (an :class:`~electsec.election.ElectionPlan`, every
day at its own date, or one :class:`~electsec.result.AssignmentResult`) into a
:class:`Timeline`:

* ``movements``: one row per assignment (phase, garrison, centre). Teams arrive
  ``in_place_min`` before polls open (``in_place_by``) and leave exactly the travel time
  before that (``depart``); with ``earliest_departure`` a team that cannot make it leaves
  at ``earliest_departure`` and is **late** (kept, flagged, ``late_s`` > 0). Teams are
  released ``count_min`` after polls close (``release``) and are back at their garrison
  one drive back later (``return_at``: on a road ``network`` the road route from the
  centre, which one-way streets can make differ from the way out; else the way out).
* ``by_hour``: teams away from each garrison, and nationally in transit / on station /
  returning, per hour (see :func:`movement_timeline` for the layout).
* ``backup_response``: the rapid-deployment reserves (``es.Backup``) hour by hour: how
  long the backup of each backed-up centre takes to arrive, from its garrison, and when
  the reserve is committed elsewhere.

Travel times come from the plan's own travel-time costs, a given ``costs=`` matrix, a road
``network=`` (pairwise shortest paths on the graph :func:`electsec.distance_matrix`
prices), or the geodesic distance at ``speed_kmh``. Everything is vectorised: the full
sample (8,703 centres, ~18,000 teams) takes well under a second without roads.
"""

from __future__ import annotations

import datetime as dt
import inspect
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from electsec.costs import CostMatrix
from electsec.errors import ElectsecError, InputError, Issue
from electsec.timeline_hours import backup_table, hour_table
from electsec.timeline_travel import Travel, pair_back_s, pair_travel
from electsec.validation import as_date, did_you_mean, is_number

if TYPE_CHECKING:
    from electsec.election import ElectionPlan
    from electsec.result import AssignmentResult

__all__ = [
    "BACKUP_COLUMNS",
    "BY_HOUR_COLUMNS",
    "MOVEMENT_COLUMNS",
    "RETURN_TO",
    "Timeline",
    "movement_timeline",
]

#: The movement columns every consumer of a timeline may rely on (the orders need these).
CONTRACT_COLUMNS = (
    "phase",
    "date",
    "garrison_id",
    "center_id",
    "teams",
    "distance_m",
    "travel_s",
    "depart",
    "arrive",
    "in_place_by",
    "polls_open",
    "polls_close",
    "release",
    "return_at",
    "on_time",
    "late_s",
    "travel_source",
)
#: Columns of :attr:`Timeline.movements`, in order (descriptive columns follow).
MOVEMENT_COLUMNS = (*CONTRACT_COLUMNS, "distance_source")
#: Descriptive columns carried from the layers, when they have them.
INFO_COLUMNS = (
    ("center", "name", "center_name"),
    ("center", "tier", "tier"),
    ("center", "governorate", "governorate"),
    ("garrison", "name", "garrison_name"),
    ("garrison", "command", "command"),
)
#: Columns of :attr:`Timeline.by_hour`.
BY_HOUR_COLUMNS = (
    "phase",
    "date",
    "hour",
    "scope",
    "garrison_id",
    "available",
    "teams_away",
    "in_transit",
    "on_station",
    "returning",
)
#: Columns of :attr:`Timeline.backup_response`.
BACKUP_COLUMNS = (
    "phase",
    "center_id",
    "backup_garrison_id",
    "hour",
    "response_s",
    "limit_s",
    "within_limit",
    "reserve_committed_at",
    "committed_response_s",
    "committed_within_limit",
    "on_duty",
    "reserve_teams",
)
#: Where released teams go.
RETURN_TO = ("garrison",)

_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class Timeline:
    """Movements of every team on the election day(s), hour by hour.

    Attributes
    ----------
    movements
        One row per assignment: ``phase, date, garrison_id, center_id, teams,
        distance_m, travel_s, depart, arrive, in_place_by, polls_open, polls_close,
        release, return_at, on_time, late_s, travel_source, distance_source`` (times
        are tz-naive local ``pandas.Timestamp``; ``distance_m`` is the plan's own metres
        when it was planned on distances, ``distance_source == "plan"``, else the
        straight-line geodesic, ``"geodesic"``: a plan on road travel times has no road
        distance), then ``center_name, tier, governorate, garrison_name,
        command`` when the layers have them.
    by_hour
        Teams away per phase, hour and garrison, plus national rows (see
        :func:`movement_timeline`).
    backup_response
        Rapid deployment per phase, backed-up centre and hour (empty without backups).
    late
        The rows of ``movements`` that cannot be in place by ``in_place_by``.
    parameters
        Every option used, as plain JSON values.
    plan
        The plan the timeline was built from.
    network
        The :class:`~electsec.network.RoadNetwork` travel times came from, or None (also
        after pickling: the network is not pickled with the timeline).
    """

    movements: pd.DataFrame = field(repr=False)
    by_hour: pd.DataFrame = field(repr=False)
    backup_response: pd.DataFrame = field(repr=False)
    late: pd.DataFrame = field(repr=False)
    parameters: dict[str, Any] = field(default_factory=dict, repr=False)
    plan: Any = field(default=None, repr=False)
    network: Any = field(default=None, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle everything but the road network (rebuild it, or pass it again)."""
        return {**self.__dict__, "network": None}

    def __repr__(self) -> str:
        days = ", ".join(
            f"{phase}: {len(rows)} movements, {int((~rows['on_time']).sum())} late"
            for phase, rows in self.movements.groupby("phase", sort=False)
        )
        return f"Timeline({days or 'no movements'})"

    def summary(self) -> pd.DataFrame:
        """Return the key figures of each day, one row per phase.

        Returns
        -------
        pandas.DataFrame
            Indexed by phase: ``date``, ``movements``, ``teams``, ``centers``,
            ``late_movements``, ``late_teams``, ``max_travel_min``, ``first_departure``,
            ``last_return``, ``peak_teams_away`` (the most teams away at one moment,
            nationally), ``backed_up_centers`` and ``backup_gaps`` (centres whose backup
            misses its limit while the reserve is committed elsewhere) and
            ``travel_source``.
        """
        from electsec.timeline_views import summary_table  # noqa: PLC0415

        return summary_table(self)

    def to_geodataframe(self, *, network: Any = None) -> gpd.GeoDataFrame:
        """Return the movements as time-stamped legs, for maps and animations (EPSG:4326).

        Parameters
        ----------
        network
            A road network (anything :meth:`electsec.network.RoadNetwork.build` takes):
            the outbound and return legs then follow the fastest road route; None
            (default) draws straight lines. ``timeline.network`` is the network the
            travel times came from, when they came from one.

        Returns
        -------
        geopandas.GeoDataFrame
            Three rows per movement: ``leg`` ``"outbound"`` (garrison → centre,
            ``depart`` → ``arrive``), ``"on_station"`` (the centre's Point, ``arrive`` →
            ``release``) and ``"return"`` (centre → garrison, ``release`` →
            ``return_at``), with ``phase, garrison_id, center_id, teams, start, end``,
            ``start_iso`` / ``end_iso`` (text, for JavaScript players), ``lon``/``lat``
            of the leg's end, and the geometry.
        """
        from electsec.timeline_views import legs  # noqa: PLC0415

        return legs(self, network)

    def chart(self, path: str | Path | None = None) -> Any:
        """Chart the forces in use over each day: in transit, on station, returning.

        Parameters
        ----------
        path
            None: return the matplotlib figure. A ``.png``/``.svg``/``.pdf`` file: save
            the figure there. A ``.html`` file: one offline page with the chart inline
            (SVG) and the hourly table. The path is returned.

        Returns
        -------
        matplotlib.figure.Figure or pathlib.Path
        """
        from electsec.timeline_views import chart  # noqa: PLC0415

        return chart(self, path)

    def backup_gaps(self) -> pd.DataFrame:
        """Return the centres whose backup cannot reach within its limit, hour by hour.

        Returns
        -------
        pandas.DataFrame
            One row per phase and centre that misses its limit at some on-duty hour,
            from its garrison (``home``) or while the reserve is committed elsewhere
            (``committed``): ``phase, center_id, backup_garrison_id, case,
            response_s, limit_s, reserve_committed_at, first_hour, hours``.
        """
        from electsec.timeline_views import backup_gaps  # noqa: PLC0415

        return backup_gaps(self)

    def orders(self, directory: str | Path, **kwargs: Any) -> list[Path]:
        """Write the tasking orders (one page per garrison and per command).

        Calls :func:`electsec.orders.write_orders` with this timeline.

        Raises
        ------
        ElectsecError
            When :mod:`electsec.orders` is not installed in this build.
        """
        try:
            from electsec.orders import write_orders  # type: ignore[import-not-found,unused-ignore]  # noqa: PLC0415
        except ImportError as exc:
            message = "tasking orders need electsec.orders, which this build does not have"
            raise ElectsecError(message) from exc
        written: list[Path] = write_orders(self, directory, **kwargs)
        return written


def movement_timeline(  # noqa: PLR0913 - the documented keyword-only options
    plan: ElectionPlan | AssignmentResult,
    *,
    costs: CostMatrix | None = None,
    speed_kmh: float | None = None,
    date: Any = None,
    polls_open: Any = "07:00",
    polls_close: Any = "18:00",
    in_place_min: float = 60,
    count_min: float = 120,
    earliest_departure: Any = None,
    return_to: str = "garrison",
    network: Any = None,
    backup_limit_s: float | None = None,
    **unknown: Any,
) -> Timeline:
    """Time every movement of a plan: depart, arrive, hold, release, return.

    Parameters
    ----------
    plan
        An :class:`~electsec.election.ElectionPlan` (every day, each at its date from
        ``plan.dates``) or an :class:`~electsec.result.AssignmentResult` (one day).
    costs
        A :class:`~electsec.costs.CostMatrix` holding every assigned (and backup) pair:
        travel times in seconds, or metres with ``speed_kmh``.
    speed_kmh
        Drive at this speed over the geodesic (straight-line) distance.
    date
        The day: a ``datetime.date`` or ISO ``"2025-11-11"``; for an election, a mapping
        ``{phase: date}`` overriding ``plan.dates``. Required for an AssignmentResult
        (``{phase: date}`` names its day; else its phase is ``"day"``) and for an
        election day without a date.
    polls_open, polls_close
        Local times ``"HH:MM"`` (or ``datetime.time``), the same on every day.
    in_place_min
        Minutes before opening by which teams must be in place (≥ 0).
    count_min
        Minutes after closing teams stay for the count; they are released then (≥ 0).
    earliest_departure
        None (teams leave whenever they must), or the earliest a team may leave: a time
        ``"HH:MM"`` / ``datetime.time`` on the day, a ``datetime.timedelta`` from the
        day's midnight (negative: the evening before), a ``datetime.datetime``, or
        ``{phase: value}``.
    return_to
        Where released teams go: ``"garrison"`` (one drive back).
    network
        A road network (:class:`~electsec.network.RoadNetwork`, or anything its
        ``build`` takes): travel times are the fastest road routes, there and back
        (one-way streets can make the way back differ).
    backup_limit_s
        Response limit of the backup reserves, in seconds. Default: the plan's
        ``Backup(max_time_s=...)``, or its ``max_distance_m`` at ``speed_kmh``.

    Returns
    -------
    Timeline

    Raises
    ------
    InputError
        An unknown option (named, with the known ones). Every bad option at once:
        a bad time (``"25:00"``), a negative number of minutes,
        ``polls_close`` not after ``polls_open``, an unknown ``return_to``, a date that is
        none, a day without date, more than one of ``costs``/``network``/``speed_kmh``,
        a distance plan with none of them, pairs the costs or roads cannot price.

    Notes
    -----
    Travel times: ``costs=`` if given, else ``network=``, else ``speed_kmh=``, else the
    plan's own travel-time costs (a plan on road travel times). Give at most one.

    ``by_hour`` layout: one row per phase, hour and garrison that sends teams that day
    (``scope="garrison"``) and one national row per phase and hour (``scope="national"``,
    ``garrison_id`` None, ``available`` the sum). ``hour`` is the Timestamp the hour
    starts; hours run from the first departure to the last return. A team counts in a
    state (``in_transit`` out, ``on_station``, ``returning``) and in ``teams_away`` when
    it is so at **any moment** of the hour ``[hour, hour + 1 h)``, so a team that changes
    state during the hour counts in both states; ``teams_away`` counts each team once,
    and never exceeds the teams the garrison sends that day (≤ ``available``: the day's
    capacity − retained − held back for an election, the plan's capacity otherwise).

    ``backup_response``: one row per phase, backed-up centre and hour of the day (00:00
    to 23:00 of its date). ``response_s`` is the backup garrison's travel time to the
    centre (the reserve waits at its garrison). The reserve is **committed elsewhere**
    when all its ``reserve_teams`` have been dispatched to other centres it backs up
    that are on duty at that hour (guarded, between ``in_place_by`` and ``release``); the
    worst such case for the centre sends them to the farthest ones, and the nearest of
    those (``reserve_committed_at``) redeploys through its garrison:
    ``committed_response_s`` = travel(garrison → that centre) + travel(garrison →
    centre), an upper bound on a direct redeployment that uses only known travel times.
    When fewer other centres are on duty than the reserve has teams, a team stays home:
    ``committed_response_s`` = ``response_s`` and ``reserve_committed_at`` is missing.
    ``within_limit`` and ``committed_within_limit`` compare with ``limit_s`` (True when
    there is no limit, ``limit_s`` NaN).

    Examples
    --------
    >>> import electsec as es
    >>> plan = es.solve_assignment("data/sample/tiny_centers.geojson",
    ...                            "data/sample/tiny_garrisons.geojson")
    >>> timeline = es.movement_timeline(plan, date="2025-11-11", speed_kmh=40)
    >>> str(timeline.movements["arrive"].max()), str(timeline.movements["release"].max())
    ('2025-11-11 06:00:00', '2025-11-11 20:00:00')
    >>> late = es.movement_timeline(plan, date="2025-11-11", speed_kmh=40,
    ...                             earliest_departure="05:45").late
    >>> bool((late["late_s"] > 0).all()), len(late) > 0
    (True, True)
    """
    if unknown:
        known = tuple(inspect.signature(movement_timeline).parameters)[1:-1]
        issues = [
            Issue("arguments", name, (), f"unknown option ({did_you_mean(name, known)})")
            for name in unknown
        ]
        raise InputError(issues)
    options = _Options.checked(
        plan,
        date=date,
        clock=(polls_open, polls_close, in_place_min, count_min),
        earliest_departure=earliest_departure,
        return_to=return_to,
        backup_limit_s=backup_limit_s,
    )
    travel = _travel(options.days, costs, network, speed_kmh)
    frames = [_day_frames(day, options, travel) for day in options.days]
    movements = pd.concat([f[0] for f in frames], ignore_index=True)
    movements = movements.loc[:, [*MOVEMENT_COLUMNS, *_info_names(movements)]]
    return Timeline(
        movements=movements,
        by_hour=_concat([f[1] for f in frames], BY_HOUR_COLUMNS),
        backup_response=_concat([f[2] for f in frames], BACKUP_COLUMNS),
        late=movements[~movements["on_time"]].reset_index(drop=True),
        parameters=options.parameters(travel, costs=costs, network=network),
        plan=plan,
        network=travel.network,
    )


# ----------------------------------------------------------------------------- options


@dataclass(frozen=True)
class _Day:
    """One voting day: its plan, date and earliest departure (None: any time)."""

    phase: str
    date: dt.date
    plan: AssignmentResult
    earliest: np.datetime64 | None
    available: pd.Series


@dataclass(frozen=True)
class _Options:
    """The checked options (minutes from midnight, whole days)."""

    days: tuple[_Day, ...]
    open_min: float
    close_min: float
    in_place_min: float
    count_min: float
    return_to: str
    backup_limit_s: float | None
    given: dict[str, Any]

    @classmethod
    def checked(
        cls,
        plan: Any,
        *,
        date: Any,
        clock: tuple[Any, Any, Any, Any],
        earliest_departure: Any,
        return_to: Any,
        backup_limit_s: Any,
    ) -> _Options:
        """Check every option, reporting every problem in one :class:`InputError`."""
        issues: list[Issue] = []
        open_min = _clock_min(clock[0], "polls_open", issues)
        close_min = _clock_min(clock[1], "polls_close", issues)
        if open_min is not None and close_min is not None and close_min <= open_min:
            message = f"must be after polls_open ({clock[0]!r}), got {clock[1]!r}"
            issues.append(Issue("arguments", "polls_close", (), message))
        in_place = _minutes(clock[2], "in_place_min", issues)
        count = _minutes(clock[3], "count_min", issues)
        if return_to not in RETURN_TO:
            message = f"unknown value {return_to!r} ({did_you_mean(return_to, RETURN_TO)})"
            issues.append(Issue("arguments", "return_to", (), message))
        if backup_limit_s is not None and not is_number(backup_limit_s, strict=True):
            message = f"must be a positive number of seconds or None, got {backup_limit_s!r}"
            issues.append(Issue("arguments", "backup_limit_s", (), message))
        days = _days(plan, date, earliest_departure, issues)
        if issues:
            raise InputError(issues)
        given = {
            "polls_open": _hhmm(open_min),
            "polls_close": _hhmm(close_min),
            "in_place_min": float(clock[2]),
            "count_min": float(clock[3]),
            "return_to": return_to,
            "backup_limit_s": None if backup_limit_s is None else float(backup_limit_s),
        }
        assert open_min is not None  # noqa: S101
        assert close_min is not None  # noqa: S101
        assert in_place is not None  # noqa: S101
        assert count is not None  # noqa: S101
        return cls(
            days, open_min, close_min, in_place, count, return_to, given["backup_limit_s"], given
        )

    def parameters(self, travel: Any, *, costs: Any, network: Any) -> dict[str, Any]:
        """Every option used, as plain JSON values."""
        return {
            "dates": {d.phase: d.date.isoformat() for d in self.days},
            "earliest_departure": {
                d.phase: None if d.earliest is None else str(pd.Timestamp(d.earliest))
                for d in self.days
            },
            **self.given,
            "travel_source": travel.source,
            "speed_kmh": travel.speed_kmh,
            "costs": None if costs is None else repr(costs),
            "network": None if network is None else repr(travel.network),
        }


def _clock_min(value: Any, name: str, issues: list[Issue]) -> float | None:
    """Minutes from midnight of ``"HH:MM"`` or a ``datetime.time``."""
    if isinstance(value, dt.time):
        return value.hour * 60 + value.minute + value.second / 60
    match = _TIME.match(value) if isinstance(value, str) else None
    if match is not None:
        hours, minutes = int(match.group(1)), int(match.group(2))
        if hours < 24 and minutes < 60:
            return hours * 60.0 + minutes
    message = f"must be a local time 'HH:MM' (00:00 to 23:59) or datetime.time, got {value!r}"
    issues.append(Issue("arguments", name, (), message))
    return None


def _hhmm(minutes: float | None) -> str | None:
    if minutes is None:
        return None
    return f"{int(minutes // 60):02d}:{int(minutes % 60):02d}"


def _minutes(value: Any, name: str, issues: list[Issue]) -> float | None:
    if is_number(value):
        return float(value)
    issues.append(Issue("arguments", name, (), f"must be a number of minutes ≥ 0, got {value!r}"))
    return None


def _days(plan: Any, date: Any, earliest: Any, issues: list[Issue]) -> tuple[_Day, ...]:
    """Return the plan's days with their dates, earliest departures and teams available."""
    from electsec.election import ElectionPlan  # noqa: PLC0415
    from electsec.result import AssignmentResult  # noqa: PLC0415

    if isinstance(plan, ElectionPlan):
        plans = dict(plan.days)
        dates = _election_dates(plan, date, issues)
    elif isinstance(plan, AssignmentResult):
        plans, dates = _one_day(plan, date, issues)
    else:
        message = f"must be an ElectionPlan or an AssignmentResult, got {type(plan).__name__}"
        issues.append(Issue("arguments", "plan", (), message))
        return ()
    leave = _earliest(earliest, dates, issues)
    return tuple(
        _Day(phase, day, plans[phase], leave.get(phase), _available(plans[phase]))
        for phase, day in dates.items()
        if day is not None
    )


def _one_day(
    plan: AssignmentResult, date: Any, issues: list[Issue]
) -> tuple[dict[str, AssignmentResult], dict[str, Any]]:
    """Return the one day of a plan: ``date`` or ``{phase: date}`` (the key names it)."""
    phase = "day"
    if isinstance(date, Mapping):
        if len(date) != 1 or not all(isinstance(p, str) and p for p in date):
            message = "a single plan is one day: give date='YYYY-MM-DD' or {phase: date}"
            issues.append(Issue("arguments", "date", tuple(map(str, date)), message))
            return {}, {}
        ((phase, date),) = date.items()
    return {phase: plan}, {phase: _one_date(date, "date", issues)}


def _available(plan: AssignmentResult) -> pd.Series:
    """Teams each garrison has that day (an election day's capacity is its available)."""
    load = plan.garrison_load
    return pd.Series(load["capacity"].to_numpy(np.int64), index=load["garrison_id"].to_numpy())


def _election_dates(plan: ElectionPlan, date: Any, issues: list[Issue]) -> dict[str, Any]:
    """Each day's date: ``date=`` (a mapping, or one date for a one-day election) or plan.dates."""
    dates: dict[str, Any] = dict(plan.dates)
    if isinstance(date, Mapping):
        for phase, value in date.items():
            if phase not in dates:
                message = f"names no day of the plan ({did_you_mean(phase, dates)})"
                issues.append(Issue("arguments", "date", (phase,), message))
            else:
                dates[phase] = _one_date(value, "date", issues, phase=phase)
    elif date is not None and len(dates) == 1:
        dates = {p: _one_date(date, "date", issues) for p in dates}
    elif date is not None:
        message = "an election has several days: give date={phase: 'YYYY-MM-DD'}"
        issues.append(Issue("arguments", "date", tuple(dates), message))
    missing = tuple(p for p, d in dates.items() if d is None)
    if missing and not any(i.column == "date" for i in issues):
        message = "these days have no date: give date={phase: 'YYYY-MM-DD'} (or plan dates=)"
        issues.append(Issue("arguments", "date", missing, message))
    return dates


def _one_date(value: Any, name: str, issues: list[Issue], *, phase: str | None = None) -> Any:
    where = () if phase is None else (phase,)
    day = as_date(value)
    if day is not None:
        return day
    if value is None:
        message = "is required: the day of the plan, a datetime.date or 'YYYY-MM-DD'"
    else:
        message = f"must be a datetime.date or an ISO date 'YYYY-MM-DD', got {value!r}"
    issues.append(Issue("arguments", name, where, message))
    return None


def _earliest(
    value: Any, dates: Mapping[str, Any], issues: list[Issue]
) -> dict[str, np.datetime64 | None]:
    """Earliest departure per day (a mapping, or one value for every day)."""
    if value is None:
        return {}
    per = dict(value) if isinstance(value, Mapping) else dict.fromkeys(dates, value)
    out: dict[str, np.datetime64 | None] = {}
    for phase, given in per.items():
        if phase not in dates:
            message = f"names no day of the plan ({did_you_mean(phase, dates)})"
            issues.append(Issue("arguments", "earliest_departure", (phase,), message))
            continue
        day = dates[phase]
        if given is None or day is None:
            continue
        out[phase] = _departure(given, day, phase, issues)
    return out


def _departure(value: Any, day: dt.date, phase: str, issues: list[Issue]) -> np.datetime64 | None:
    midnight = pd.Timestamp(day)
    if isinstance(value, dt.datetime):
        return pd.Timestamp(value).tz_localize(None).to_datetime64()
    if isinstance(value, dt.timedelta):
        return (midnight + pd.Timedelta(value)).to_datetime64()
    scratch: list[Issue] = []
    minutes = _clock_min(value, "earliest_departure", scratch)
    if minutes is not None:
        return (midnight + pd.Timedelta(minutes=minutes)).to_datetime64()
    message = (
        "must be a time 'HH:MM', a datetime.time, a timedelta from midnight (negative: "
        f"the evening before), a datetime or {{phase: value}}, got {value!r}"
    )
    issues.append(Issue("arguments", "earliest_departure", (phase,), message))
    return None


def _travel(days: tuple[_Day, ...], costs: Any, network: Any, speed_kmh: Any) -> Travel:
    """Pick the source of travel times (at most one given), checking it."""
    issues = _travel_issues(days, costs, network, speed_kmh)
    if issues:
        raise InputError(issues)
    speed = None if speed_kmh is None else float(speed_kmh)
    if network is not None:
        from electsec.network import RoadNetwork  # noqa: PLC0415 - the road stack on demand

        return Travel("network", network=RoadNetwork.build(network))
    if costs is not None:
        return Travel("costs", costs=costs, speed_kmh=speed)
    return Travel("geodesic" if speed is not None else "costs", speed_kmh=speed)


def _travel_issues(
    days: tuple[_Day, ...], costs: Any, network: Any, speed_kmh: Any
) -> list[Issue]:
    issues: list[Issue] = []
    if speed_kmh is not None and not is_number(speed_kmh, strict=True):
        message = f"must be a positive speed in km/h, got {speed_kmh!r}"
        issues.append(Issue("arguments", "speed_kmh", (), message))
    if costs is not None and not isinstance(costs, CostMatrix):
        message = (
            "must be a CostMatrix (travel times, or metres with speed_kmh=), "
            f"got {type(costs).__name__}"
        )
        issues.append(Issue("costs", None, (), message))
    given = [n for n, v in (("costs", costs), ("network", network)) if v is not None]
    metres = isinstance(costs, CostMatrix) and costs.unit == "m"
    if len(given) > 1 or (speed_kmh is not None and network is not None):
        message = "give one source of travel times: costs=, network= or speed_kmh="
        issues.append(Issue("arguments", "costs", (), message))
    elif metres and speed_kmh is None:
        message = "is in metres: give speed_kmh= to turn it into travel times"
        issues.append(Issue("costs", None, (), message))
    elif not given and speed_kmh is None:
        metric = tuple(d.phase for d in days if d.plan.unit != "s")
        if metric:
            message = (
                "the plan's costs are distances: give speed_kmh= (geodesic at that speed), "
                "network= (a RoadNetwork) or costs= (a travel-time CostMatrix)"
            )
            issues.append(Issue("arguments", "speed_kmh", metric, message))
    return issues


# ------------------------------------------------------------------------- each day


def _offset(minutes: float) -> np.timedelta64:
    return np.timedelta64(round(minutes * 60e9), "ns")


def _day_frames(
    day: _Day, options: _Options, travel: Travel
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return the day's movements, hourly table and backup response table."""
    plan = day.plan
    points = (plan.center_points, plan.garrison_points)
    travel_s, distance_m = pair_travel(travel, plan.assignments, plan.cost_column, points)
    back_s = pair_back_s(travel, plan.assignments, points, travel_s)
    moves = _movements(day, options, travel, (travel_s, distance_m, back_s))
    hours = hour_table(moves, day.available, day.phase)
    backups = _backups(day, options, travel)
    return moves, hours, backups


def _movements(
    day: _Day,
    options: _Options,
    travel: Travel,
    costs: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> pd.DataFrame:
    """One row per assignment of the day: depart, arrive, release, return (vectorised)."""
    a = day.plan.assignments
    travel_s, distance_m, back_s = costs
    midnight = np.datetime64(day.date.isoformat(), "ns")
    opens = midnight + _offset(options.open_min)
    closes = midnight + _offset(options.close_min)
    in_place = opens - _offset(options.in_place_min)
    release = closes + _offset(options.count_min)
    drive = np.round(travel_s * 1e9).astype("timedelta64[ns]")
    depart = in_place - drive
    late = np.zeros(len(a), dtype=bool)
    late_s = np.zeros(len(a))
    if day.earliest is not None:
        slack_s = (in_place - day.earliest) / np.timedelta64(1, "s")
        late = travel_s > slack_s
        late_s = np.where(late, travel_s - slack_s, 0.0)
        depart = np.where(late, day.earliest, depart)
    arrive = depart + drive
    frame = pd.DataFrame(
        {
            "phase": day.phase,
            "date": day.date,
            "garrison_id": a["garrison_id"].to_numpy(dtype=object),
            "center_id": a["center_id"].to_numpy(dtype=object),
            "teams": a["teams"].to_numpy(np.int64),
            "distance_m": distance_m,
            "travel_s": travel_s,
            "depart": depart,
            "arrive": arrive,
            "in_place_by": in_place,
            "polls_open": opens,
            "polls_close": closes,
            "release": release,
            "return_at": np.maximum(arrive, release)
            + np.round(back_s * 1e9).astype("timedelta64[ns]"),
            "on_time": ~late,
            "late_s": late_s,
            "travel_source": travel.source,
            "distance_source": "plan" if day.plan.cost_column == "distance_m" else "geodesic",
        }
    )
    return _with_info(frame, day.plan)


def _with_info(frame: pd.DataFrame, plan: AssignmentResult) -> pd.DataFrame:
    """Add the layers' descriptive columns (centre name, tier, governorate, ...)."""
    tables = {"center": plan.center_info, "garrison": plan.garrison_info}
    for side, column, name in INFO_COLUMNS:
        info = tables[side]
        if info is not None and column in info.columns:
            frame[name] = info[column].reindex(frame[f"{side}_id"].to_numpy()).to_numpy()
    return frame


def _info_names(movements: pd.DataFrame) -> list[str]:
    return [name for _, _, name in INFO_COLUMNS if name in movements.columns]


def _backups(day: _Day, options: _Options, travel: Travel) -> pd.DataFrame:
    """Return the day's backup response table (empty when the plan has no backups)."""
    plan = day.plan
    if plan.backups is None or not len(plan.backups):
        return pd.DataFrame()
    points = (plan.center_points, plan.garrison_points)
    travel_s, _ = pair_travel(travel, plan.backups, plan.cost_column, points)
    table = plan.backups.loc[:, ["center_id", "garrison_id"]].assign(travel_s=travel_s)
    load = plan.garrison_load.set_index("garrison_id")
    reserve = load["reserve"] if "reserve" in load.columns else pd.Series(dtype=np.int64)
    midnight = np.datetime64(day.date.isoformat(), "ns")
    duty = (
        midnight + _offset(options.open_min - options.in_place_min),
        midnight + _offset(options.close_min + options.count_min),
    )
    limit = _backup_limit(plan, options, travel)
    return backup_table(table, reserve, (day.phase, midnight), duty, limit)


def _backup_limit(plan: AssignmentResult, options: _Options, travel: Travel) -> float:
    """``backup_limit_s=``, else the plan's Backup limit in seconds, else NaN."""
    if options.backup_limit_s is not None:
        return options.backup_limit_s
    backup = plan.parameters.get("backup") or {}
    if plan.unit == "s" and backup.get("max_time_s") is not None:
        return float(backup["max_time_s"])
    if backup.get("max_distance_m") is not None and travel.source == "geodesic":
        assert travel.speed_kmh is not None  # noqa: S101
        return float(backup["max_distance_m"]) / (travel.speed_kmh / 3.6)
    return math.nan


def _concat(frames: list[pd.DataFrame], columns: tuple[str, ...]) -> pd.DataFrame:
    kept = [f for f in frames if len(f)]
    if not kept:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.concat(kept, ignore_index=True).loc[:, list(columns)]
