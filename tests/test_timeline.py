"""movement_timeline: every movement checked by an independent timeline checker.

The checker (:func:`check_timeline`) trusts nothing the timeline computed: it rebuilds
each day's clock from the options, the travel times from the cost matrix, the road
network (through ``distance_matrix``) or pyproj geodesics at the speed, the teams each
garrison has from the input layers (capacity − retained rounded up by hand), and sweeps
the departures and returns of every garrison to find the most teams away at any moment.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
import itertools
import json
import math
import pickle
import re
from fractions import Fraction
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import connected_components

import electsec as es
from electsec.network import RoadNetwork
from electsec.timeline_hours import backup_table
from electsec.timeline_views import forces_in_use
from helpers import WEB_ASSET, make_instance, needs_browser, render_offline

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
GEOD = pyproj.Geod(ellps="WGS84")
TOL_S = 1e-3  # timestamps are whole nanoseconds; a millisecond is far below any rounding


# ------------------------------------------------------------------ the independent checker


def _at(day: dt.date, minutes: float) -> pd.Timestamp:
    return pd.Timestamp(day) + pd.Timedelta(minutes=minutes)


def _clock(text: str) -> float:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def geodesic_s(plan, table: pd.DataFrame, speed_kmh: float) -> np.ndarray:
    """Seconds at ``speed_kmh`` over the WGS84 geodesic, garrison → centre."""
    c = plan.center_points.loc[table["center_id"]]
    g = plan.garrison_points.loc[table["garrison_id"]]
    _, _, dist = GEOD.inv(g.x.to_numpy(), g.y.to_numpy(), c.x.to_numpy(), c.y.to_numpy())
    return np.asarray(dist) / (speed_kmh / 3.6)


def matrix_s(costs: es.CostMatrix, table: pd.DataFrame) -> np.ndarray:
    """Look pairs up in a dense copy of the matrix (every pair must be stored)."""
    dense = costs.matrix.toarray()
    stored = costs.matrix.copy()
    stored.data[:] = 1
    present = stored.toarray() > 0
    rows = [list(costs.center_ids).index(c) for c in table["center_id"]]
    cols = [list(costs.garrison_ids).index(g) for g in table["garrison_id"]]
    assert present[rows, cols].all()
    return dense[rows, cols]


def _max_away(rows: pd.DataFrame) -> int:
    """Most teams away from one garrison at any moment (returns before departures)."""
    events = sorted(
        [(t, 0, -n) for t, n in zip(rows["return_at"], rows["teams"], strict=True)]
        + [(t, 1, n) for t, n in zip(rows["depart"], rows["teams"], strict=True)]
    )
    away = peak = 0
    for _, _, change in events:
        away += change
        peak = max(peak, away)
    return peak


def reverse_s(centers: gpd.GeoDataFrame, garrisons: gpd.GeoDataFrame, network):
    """``back(plan, table)``: road seconds from each row's centre to its garrison."""

    def ids(layer, column):
        return layer[column] if column in layer else layer.index.to_series()

    as_centers = gpd.GeoDataFrame(
        {"center_id": ids(garrisons, "garrison_id").astype(str).to_numpy(), "demand": 1},
        geometry=garrisons.geometry.to_numpy(),
        crs=garrisons.crs,
    )
    as_garrisons = gpd.GeoDataFrame(
        {"garrison_id": ids(centers, "center_id").astype(str).to_numpy(), "capacity": 1},
        geometry=centers.geometry.to_numpy(),
        crs=centers.crs,
    )
    found = es.distance_matrix(as_centers, as_garrisons, metric="travel_time", network=network)
    dense, rows, cols = found.matrix.toarray(), list(found.center_ids), list(found.garrison_ids)

    def back(_plan, table):
        g = [rows.index(str(x)) for x in table["garrison_id"]]
        return dense[g, [cols.index(str(x)) for x in table["center_id"]]]

    return back


def check_timeline(
    timeline,
    days: dict,
    *,
    travel,
    back=None,
    polls=("07:00", "18:00"),
    in_place_min=60.0,
    count_min=120.0,
    earliest=None,
) -> None:
    """Assert every invariant of ``timeline``.

    ``days`` maps phase → (date, plan, teams available per garrison id); ``travel(plan,
    table)`` gives the expected seconds of each (centre, garrison) row, and ``back`` those
    of the way back (None: the same); ``earliest`` maps phase → the earliest departure
    Timestamp (or None).
    """
    moves = timeline.movements
    assert set(moves["phase"]) <= set(days)
    for phase, (day, plan, available) in days.items():
        rows = moves[moves["phase"] == phase].reset_index(drop=True)
        # every assignment kept, once, with its teams
        want = plan.assignments.sort_values(["center_id", "garrison_id"], ignore_index=True)
        got = rows.sort_values(["center_id", "garrison_id"], ignore_index=True)
        assert list(got["center_id"]) == list(want["center_id"])
        assert list(got["garrison_id"]) == list(want["garrison_id"])
        assert list(got["teams"]) == list(want["teams"])
        # travel times equal the source's
        expected = travel(plan, got)
        np.testing.assert_allclose(got["travel_s"], expected, rtol=1e-9, atol=1e-6)
        opens, closes = _at(day, _clock(polls[0])), _at(day, _clock(polls[1]))
        in_place = opens - pd.Timedelta(minutes=in_place_min)
        release = closes + pd.Timedelta(minutes=count_min)
        assert (got["date"] == day).all()
        assert (got["polls_open"] == opens).all()
        assert (got["polls_close"] == closes).all()
        assert (got["in_place_by"] == in_place).all()
        assert (got["release"] == release).all()
        drive = (got["arrive"] - got["depart"]).dt.total_seconds()
        np.testing.assert_allclose(drive, expected, atol=TOL_S)
        before = (opens - got["arrive"]).dt.total_seconds() / 60
        leave = None if earliest is None else earliest.get(phase)
        on_time = got["on_time"].to_numpy()
        # in place ≥ in_place_min before opening, or flagged late with the right late_s
        assert (before[on_time] >= in_place_min - TOL_S / 60).all()
        assert (got.loc[on_time, "late_s"] == 0).all()
        late_s = (got["arrive"] - in_place).dt.total_seconds()
        np.testing.assert_allclose(got.loc[~on_time, "late_s"], late_s[~on_time], atol=TOL_S)
        assert (got.loc[~on_time, "late_s"] > 0).all()
        if leave is None:
            assert on_time.all()
        else:
            assert (got["depart"] >= leave - pd.Timedelta(microseconds=1)).all()
            must_be_late = expected > (in_place - leave).total_seconds() + TOL_S
            assert (~on_time[must_be_late]).all()
            assert (got.loc[~on_time, "depart"] == leave).all()
        # released teams are back one drive back after release (or after arriving)
        way_back = expected if back is None else back(plan, got)
        taken = (got["return_at"] - got[["release", "arrive"]].max(axis=1)).dt.total_seconds()
        np.testing.assert_allclose(taken, way_back, atol=TOL_S)
        assert (got["return_at"] >= release).all()
        # at no moment more teams away from a garrison than it has that day
        for garrison, mine in got.groupby("garrison_id"):
            assert _max_away(mine) <= available[garrison], garrison
        _check_hours(timeline.by_hour, phase, got, available)
    late = moves[~moves["on_time"]]
    assert len(timeline.late) == len(late)
    assert list(timeline.late["center_id"]) == list(late["center_id"])


def _check_hours(by_hour: pd.DataFrame, phase: str, rows: pd.DataFrame, available) -> None:
    """Every hourly count, recounted by brute force over the movements of the day."""
    table = by_hour[by_hour["phase"] == phase]
    one_hour = pd.Timedelta(hours=1)
    states = {
        "teams_away": ("depart", "return_at"),
        "in_transit": ("depart", "arrive"),
        "on_station": ("arrive", "release"),
        "returning": ("release", "return_at"),
    }
    hours = sorted(set(table["hour"]))
    assert hours[0] <= rows["depart"].min()
    assert hours[-1] + one_hour >= rows["return_at"].max()
    garrison_rows = table[table["scope"] == "garrison"]
    assert set(garrison_rows["garrison_id"]) == set(rows["garrison_id"])
    for record in garrison_rows.itertuples():
        mine = rows[rows["garrison_id"] == record.garrison_id]
        assert record.available == available[record.garrison_id]
        assert record.teams_away <= record.available
        for state, (a, b) in states.items():
            touching = (mine[a] < record.hour + one_hour) & (mine[b] > record.hour)
            touching &= mine[b] > mine[a]
            assert getattr(record, state) == int(mine.loc[touching, "teams"].sum()), state
    national = table[table["scope"] == "national"].set_index("hour")
    summed = garrison_rows.groupby("hour")[list(states)].sum()
    pd.testing.assert_frame_equal(
        national[list(states)].astype(np.int64), summed.astype(np.int64), check_names=False
    )


def _plan_s(plan, table: pd.DataFrame) -> np.ndarray:
    """The plan's own travel times, matched by (centre, garrison)."""
    cost = plan.assignments.set_index(["center_id", "garrison_id"])["time_s"]
    return cost.loc[list(zip(table["center_id"], table["garrison_id"], strict=True))].to_numpy()


def _capacity(garrisons: gpd.GeoDataFrame) -> dict[str, int]:
    frame = garrisons.set_index("garrison_id") if "garrison_id" in garrisons else garrisons
    return {str(g): int(c) for g, c in frame["capacity"].items()}


# --------------------------------------------------------------------------- the tests


@pytest.fixture(scope="module")
def election():
    """The tiny sample as two days, special-day garrisons keeping 30 % back."""
    centers = es.read_polling_centers(SAMPLE / "tiny_centers.geojson")
    layers = {"special": centers.iloc[:10].drop(columns="phase"), "general": centers.iloc[10:]}
    dates = {"special": "2025-11-09", "general": "2025-11-11"}
    plan = es.plan_election(
        layers, SAMPLE / "tiny_garrisons.geojson", min_retained=0.3, dates=dates
    )
    return plan, es.read_garrisons(SAMPLE / "tiny_garrisons.geojson")


def _election_days(plan, garrisons, fraction=Fraction(3, 10)):
    """Teams per garrison each day, rounded up by hand: capacity − ⌈0.3 × capacity⌉."""
    capacity = _capacity(garrisons)
    special = {g: c - math.ceil(fraction * c) for g, c in capacity.items()}
    return {
        "special": (dt.date(2025, 11, 9), plan.special, special),
        "general": (dt.date(2025, 11, 11), plan.general, capacity),
    }


def test_both_days_of_an_election_at_a_speed(election):
    plan, garrisons = election
    timeline = es.movement_timeline(plan, speed_kmh=40, in_place_min=45, count_min=90)
    days = _election_days(plan, garrisons)
    check_timeline(
        timeline,
        days,
        travel=lambda p, t: geodesic_s(p, t, 40),
        in_place_min=45,
        count_min=90,
    )
    assert set(timeline.movements["travel_source"]) == {"geodesic"}
    assert set(timeline.movements["distance_source"]) == {"plan"}  # the plan's own metres
    for day, moves in timeline.movements.groupby("phase"):
        planned = plan.days[day].assignments.set_index(["garrison_id", "center_id"])
        keys = list(zip(moves["garrison_id"], moves["center_id"], strict=True))
        np.testing.assert_allclose(moves["distance_m"], planned.loc[keys, "distance_m"])
    assert list(timeline.movements.columns[: len(es.timeline.MOVEMENT_COLUMNS)]) == list(
        es.timeline.MOVEMENT_COLUMNS
    )
    assert list(timeline.summary().index) == ["special", "general"]


def test_late_centres_are_kept_and_flagged(election):
    plan, garrisons = election
    leave = {"special": "05:55", "general": dt.timedelta(hours=5, minutes=50)}
    timeline = es.movement_timeline(plan, speed_kmh=30, earliest_departure=leave)
    days = _election_days(plan, garrisons)
    earliest = {
        "special": pd.Timestamp("2025-11-09 05:55"),
        "general": pd.Timestamp("2025-11-11 05:50"),
    }
    check_timeline(timeline, days, travel=lambda p, t: geodesic_s(p, t, 30), earliest=earliest)
    assert len(timeline.late) > 0  # far centres cannot make 06:00 leaving at 05:50
    assert len(timeline.movements) == sum(len(p.assignments) for p in plan.days.values())


def test_travel_times_from_a_given_matrix(tiny):
    centers, garrisons = tiny
    meters = es.distance_matrix(centers, garrisons)
    seconds = es.CostMatrix(
        meters.matrix / 12.5, meters.center_ids, meters.garrison_ids, unit="s", metric="given"
    )
    plan = es.solve_assignment(centers, garrisons, seconds)
    timeline = es.movement_timeline(plan, date="2025-11-11", polls_open="08:00")
    days = {"day": (dt.date(2025, 11, 11), plan, _capacity(garrisons))}
    check_timeline(timeline, days, travel=_plan_s, polls=("08:00", "18:00"))
    other = es.movement_timeline(plan, date=dt.date(2025, 11, 11), costs=meters, speed_kmh=36)
    check_timeline(other, days, travel=lambda p, t: matrix_s(meters, t) / 10)
    assert set(other.movements["travel_source"]) == {"costs"}


@pytest.fixture(scope="module")
def grid():
    """A hand-built 4 × 4 road grid (2 km blocks, 50 km/h; one slow 10 km/h street)."""
    crs = "EPSG:32638"
    x0, y0 = 440_000.0, 3_690_000.0
    xy = np.array([(x0 + 2000 * i, y0 + 2000 * j) for j in range(4) for i in range(4)])
    edges = [(a, a + 1) for a in range(16) if a % 4 != 3] + [(a, a + 4) for a in range(12)]
    tail = np.array([a for a, b in edges] + [b for a, b in edges])
    head = np.array([b for a, b in edges] + [a for a, b in edges])
    length = np.linalg.norm(xy[tail] - xy[head], axis=1)
    speed = np.where((tail == 5) & (head == 6) | (tail == 6) & (head == 5), 10.0, 50.0)
    net = RoadNetwork(xy, tail, head, length, length / (speed / 3.6), crs=crs)
    lonlat = gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=crs).to_crs(4326)
    return net, lonlat


def test_travel_times_over_a_hand_built_network(grid):
    net, nodes = grid
    rng = np.random.default_rng(3)
    c_at, g_at = rng.choice(16, 9, replace=False), [0, 15, 6]
    jitter = rng.uniform(-3e-4, 3e-4, (9, 2))
    centers = gpd.GeoDataFrame(
        {"center_id": [f"c{i}" for i in range(9)], "demand": rng.integers(1, 3, 9)},
        geometry=gpd.points_from_xy(
            nodes.x.iloc[c_at] + jitter[:, 0], nodes.y.iloc[c_at] + jitter[:, 1]
        ),
        crs=4326,
    )
    garrisons = gpd.GeoDataFrame(
        {"garrison_id": ["g0", "g1", "g2"], "capacity": [8, 8, 8]},
        geometry=gpd.points_from_xy(nodes.x.iloc[g_at], nodes.y.iloc[g_at]),
        crs=4326,
    )
    plan = es.solve_assignment(centers, garrisons)  # planned on geodesics
    timeline = es.movement_timeline(plan, date="2025-11-11", network=net)
    roads = es.distance_matrix(centers, garrisons, metric="travel_time", network=net)
    days = {"day": (dt.date(2025, 11, 11), plan, _capacity(garrisons))}
    check_timeline(timeline, days, travel=lambda p, t: matrix_s(roads, t))
    assert set(timeline.movements["travel_source"]) == {"network"}
    assert timeline.network is net


def test_sample_roads_plan_uses_its_own_travel_times(tiny):
    centers, garrisons = tiny
    roads = RoadNetwork.from_roads(gpd.read_file(SAMPLE / "roads.gpkg"))
    costs = es.distance_matrix(centers, garrisons, metric="travel_time", network=roads)
    plan = es.solve_assignment(centers, garrisons, costs)
    days = {"day": (dt.date(2025, 11, 11), plan, _capacity(garrisons))}
    own = es.movement_timeline(plan, date="2025-11-11")
    check_timeline(own, days, travel=lambda p, t: matrix_s(costs, t))
    again = es.movement_timeline(plan, date="2025-11-11", network=roads)
    back = reverse_s(centers, garrisons, roads)
    check_timeline(again, days, travel=lambda p, t: matrix_s(costs, t), back=back)
    assert set(again.movements["travel_source"]) == {"network"}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    speed=st.floats(5, 120),
    in_place=st.integers(0, 180),
    count=st.integers(0, 240),
    leave=st.one_of(st.none(), st.integers(0, 7 * 60)),
)
def test_random_instances(seed, speed, in_place, count, leave):
    rng = np.random.default_rng(seed)
    box = (44.0, 44.6, 33.0, 33.6)
    centers, garrisons = make_instance(rng, 12, 4, demand_min=1, capacity_ratio=2.0, box=box)
    plan = es.solve_assignment(centers, garrisons, split=bool(seed % 2))
    earliest = None if leave is None else f"{leave // 60:02d}:{leave % 60:02d}"
    timeline = es.movement_timeline(
        plan,
        date="2025-11-11",
        speed_kmh=speed,
        in_place_min=in_place,
        count_min=count,
        earliest_departure=earliest,
    )
    days = {"day": (dt.date(2025, 11, 11), plan, _capacity(garrisons))}
    stamp = None if leave is None else {"day": _at(dt.date(2025, 11, 11), leave)}
    check_timeline(
        timeline,
        days,
        travel=lambda p, t: geodesic_s(p, t, speed),
        in_place_min=in_place,
        count_min=count,
        earliest=stamp,
    )


def test_the_checker_catches_a_corrupted_timeline(election):
    plan, garrisons = election
    timeline = es.movement_timeline(plan, speed_kmh=40)
    days = _election_days(plan, garrisons)
    travel = lambda p, t: geodesic_s(p, t, 40)  # noqa: E731
    check_timeline(timeline, days, travel=travel)
    moves = timeline.movements
    early = moves.assign(arrive=moves["arrive"] + pd.Timedelta(minutes=1))
    slow = moves.assign(travel_s=moves["travel_s"] * 1.01)
    back_late = moves.assign(return_at=moves["return_at"] + pd.Timedelta(seconds=5))
    dropped = moves.iloc[1:]
    for broken in (early, slow, back_late, dropped):
        with pytest.raises(AssertionError):
            check_timeline(dataclasses.replace(timeline, movements=broken), days, travel=travel)
    # one garrison sending one team more than it has on the special day
    special = {p: (d, pl, dict(a)) for p, (d, pl, a) in days.items()}
    busiest = plan.special.assignments.groupby("garrison_id")["teams"].sum().idxmax()
    special["special"][2][busiest] = int(
        plan.special.assignments.groupby("garrison_id")["teams"].sum().max() - 1
    )
    with pytest.raises(AssertionError):
        check_timeline(timeline, special, travel=travel)


# ------------------------------------------------------------------- rapid deployment


@pytest.fixture(scope="module")
def backed():
    """The tiny sample with reserves and backups within 60 km (8 centres per team)."""
    centers = es.read_polling_centers(SAMPLE / "tiny_centers.geojson")
    garrisons = es.read_garrisons(SAMPLE / "tiny_garrisons.geojson")
    garrisons["reserve"] = [2, 1, 1, 2, 1, 1]
    option = es.Backup(max_distance_m=60_000, centers_per_team=8)
    plan = es.solve_assignment(centers, garrisons, split=True, backup=option)
    return plan, garrisons


def _worst_committed(travel: dict, centre: str, garrison: str, reserve: int) -> float:
    """Brute force: every way to send all reserve teams to other centres it backs up."""
    others = [c for (c, g) in travel if g == garrison and c != centre]
    home = travel[(centre, garrison)]
    if len(others) < reserve:
        return home
    worst = max(
        min(travel[(c, garrison)] for c in chosen)
        for chosen in itertools.combinations(others, reserve)
    )
    return worst + home


def test_backup_response_hour_by_hour(backed):
    plan, garrisons = backed
    speed = 50.0
    timeline = es.movement_timeline(plan, date={"general": "2025-11-11"}, speed_kmh=speed)
    table = timeline.backup_response
    assert list(table.columns[:8]) == [
        "phase",
        "center_id",
        "backup_garrison_id",
        "hour",
        "response_s",
        "limit_s",
        "within_limit",
        "reserve_committed_at",
    ]
    backups = plan.backups
    seconds = geodesic_s(plan, backups, speed)
    travel = {
        (c, g): s
        for c, g, s in zip(backups["center_id"], backups["garrison_id"], seconds, strict=True)
    }
    limit = 60_000 / (speed / 3.6)
    duty = (pd.Timestamp("2025-11-11 06:00"), pd.Timestamp("2025-11-11 20:00"))
    hours = [pd.Timestamp("2025-11-11") + pd.Timedelta(hours=h) for h in range(24)]
    assert len(table) == 24 * len(backups)
    assert set(table["phase"]) == {"general"}
    missed = set()
    for (centre, garrison), home in travel.items():
        rows = table[table["center_id"] == centre].sort_values("hour")
        assert list(rows["hour"]) == hours
        assert set(rows["backup_garrison_id"]) == {garrison}
        np.testing.assert_allclose(rows["response_s"], home, rtol=1e-9)
        np.testing.assert_allclose(rows["limit_s"], limit)
        assert (rows["within_limit"] == (home <= limit)).all()
        reserve = int(garrisons.loc[garrison, "reserve"])
        worst = _worst_committed(travel, centre, garrison, reserve)
        for row in rows.itertuples():
            on = row.hour < duty[1] and row.hour + pd.Timedelta(hours=1) > duty[0]
            assert row.on_duty == on
            expected = worst if on else home
            assert row.committed_response_s == pytest.approx(expected, rel=1e-9)
            assert row.committed_within_limit == (expected <= limit * (1 + 1e-12))
            if on and expected != home:
                at = row.reserve_committed_at
                assert at != centre
                assert travel[(at, garrison)] + home == pytest.approx(expected, rel=1e-9)
            else:
                assert pd.isna(row.reserve_committed_at)
            if on and expected > limit:
                missed.add(centre)
    gaps = timeline.backup_gaps()
    assert set(gaps["center_id"]) == missed
    assert missed  # 60 km at 50 km/h: some centres are out of reach once the reserve is out
    assert timeline.summary().loc["general", "backup_gaps"] == len(missed)


def test_backup_limit_can_be_given(backed):
    plan, _ = backed
    timeline = es.movement_timeline(plan, date="2025-11-11", speed_kmh=50, backup_limit_s=60)
    table = timeline.backup_response
    assert (table["limit_s"] == 60).all()
    assert (table["within_limit"] == (table["response_s"] <= 60)).all()
    no_limit = es.movement_timeline(plan, date="2025-11-11", network=None, speed_kmh=50)
    assert no_limit.backup_response["within_limit"].dtype == bool


# ------------------------------------------------------------------------ bad input


@pytest.fixture(scope="module")
def tiny_plan():
    return es.solve_assignment(SAMPLE / "tiny_centers.geojson", SAMPLE / "tiny_garrisons.geojson")


def _columns(error: es.InputError) -> set:
    return {issue.column for issue in error.issues}


@pytest.mark.parametrize(
    ("options", "column"),
    [
        ({"polls_open": "25:00"}, "polls_open"),
        ({"polls_open": "7am"}, "polls_open"),
        ({"polls_open": 7}, "polls_open"),
        ({"polls_close": "06:30"}, "polls_close"),
        ({"polls_close": "07:00"}, "polls_close"),
        ({"in_place_min": -5}, "in_place_min"),
        ({"count_min": "2h"}, "count_min"),
        ({"count_min": math.nan}, "count_min"),
        ({"in_place_min": True}, "in_place_min"),
        ({"return_to": "depot"}, "return_to"),
        ({"earliest_departure": "5 o'clock"}, "earliest_departure"),
        ({"earliest_departure": {"special": "05:00"}}, "earliest_departure"),
        ({"date": 20251111}, "date"),
        ({"date": "2025-13-01"}, "date"),
        ({"date": None}, "date"),
        ({"date": {"special": "2025-11-09", "general": "2025-11-11"}}, "date"),
        ({"speed_kmh": 0}, "speed_kmh"),
        ({"speed_kmh": -30}, "speed_kmh"),
        ({"speed_kmh": None}, "speed_kmh"),
        ({"backup_limit_s": -1}, "backup_limit_s"),
    ],
)
def test_bad_options_are_named(tiny_plan, options, column):
    given = {"date": "2025-11-11", "speed_kmh": 40} | options
    with pytest.raises(es.InputError) as caught:
        es.movement_timeline(tiny_plan, **given)
    assert column in _columns(caught.value)


def test_every_problem_is_reported_at_once(tiny_plan):
    with pytest.raises(es.InputError) as caught:
        es.movement_timeline(
            tiny_plan, polls_open="24:00", in_place_min=-1, return_to="home", date="tomorrow"
        )
    assert {"polls_open", "in_place_min", "return_to", "date"} <= _columns(caught.value)


def test_a_distance_plan_needs_a_source_of_travel_times(tiny_plan):
    with pytest.raises(es.InputError) as caught:
        es.movement_timeline(tiny_plan, date="2025-11-11")
    assert "speed_kmh=" in str(caught.value)
    assert "network=" in str(caught.value)


def test_sources_and_matrices_are_checked(tiny, tiny_plan, grid):
    centers, garrisons = tiny
    meters = es.distance_matrix(centers, garrisons)
    with pytest.raises(es.InputError, match="speed_kmh"):
        es.movement_timeline(tiny_plan, date="2025-11-11", costs=meters)
    first = tiny_plan.assignments.iloc[0]
    holes = meters.matrix.tolil()
    holes[
        list(meters.center_ids).index(first["center_id"]),
        list(meters.garrison_ids).index(first["garrison_id"]),
    ] = 0
    holed = dataclasses.replace(meters, matrix=holes.tocsr())
    assert holed.nnz == meters.nnz - 1
    with pytest.raises(es.InputError, match="missing from costs") as caught:
        es.movement_timeline(tiny_plan, date="2025-11-11", costs=holed, speed_kmh=40)
    assert caught.value.issues[0].ids == (f"{first['garrison_id']}->{first['center_id']}",)
    with pytest.raises(es.InputError, match="one source"):
        es.movement_timeline(tiny_plan, date="2025-11-11", network=grid[0], speed_kmh=40)
    with pytest.raises(es.InputError, match="CostMatrix"):
        es.movement_timeline(tiny_plan, date="2025-11-11", costs=np.ones((40, 6)))
    with pytest.raises(es.InputError, match="no road route"):
        es.movement_timeline(tiny_plan, date="2025-11-11", network=grid[0])  # far away
    with pytest.raises(es.InputError) as caught:
        es.movement_timeline("plan.json", date="2025-11-11", speed_kmh=40)
    assert "plan" in _columns(caught.value)
    with pytest.raises(es.InputError, match=r"spead_kmh.*did you mean .speed_kmh."):
        es.movement_timeline(tiny_plan, date="2025-11-11", speed_kmh=40, spead_kmh=4)


def test_an_election_day_without_a_date_is_refused(tiny):
    centers, garrisons = tiny
    plan = es.plan_election(
        {"special": centers.iloc[:10].drop(columns="phase"), "general": centers.iloc[10:]},
        garrisons,
    )
    with pytest.raises(es.InputError) as caught:
        es.movement_timeline(plan, speed_kmh=40)
    assert "date" in _columns(caught.value)
    both = es.movement_timeline(
        plan, speed_kmh=40, date={"special": "2025-11-09", "general": dt.date(2025, 11, 11)}
    )
    assert list(both.summary()["date"]) == ["2025-11-09", "2025-11-11"]


def test_nothing_the_caller_passed_is_changed(election):
    plan, _ = election
    before = {p: day.assignments.copy() for p, day in plan.days.items()}
    leave = {"special": "05:00"}
    es.movement_timeline(plan, speed_kmh=40, earliest_departure=leave)
    assert leave == {"special": "05:00"}
    for phase, day in plan.days.items():
        pd.testing.assert_frame_equal(day.assignments, before[phase])


# -------------------------------------------------------------------------- the views


def test_time_stamped_legs(election):
    plan, _ = election
    timeline = es.movement_timeline(plan, speed_kmh=40)
    legs = timeline.to_geodataframe()
    moves = timeline.movements
    assert legs.crs.to_epsg() == 4326
    assert len(legs) == 3 * len(moves)
    for leg, (start, end) in {
        "outbound": ("depart", "arrive"),
        "on_station": ("arrive", "release"),
        "return": ("release", "return_at"),
    }.items():
        rows = legs[legs["leg"] == leg].reset_index(drop=True)
        assert (rows["start"] == moves[start]).all()
        assert (rows["end"] == moves[end]).all()
        for row, move in zip(rows.itertuples(), moves.itertuples(), strict=True):
            day = plan.days[move.phase]
            garrison = day.garrison_points.loc[move.garrison_id]
            centre = day.center_points.loc[move.center_id]
            coords = list(row.geometry.coords)
            if leg == "outbound":
                assert coords[0] == (garrison.x, garrison.y)
                assert coords[-1] == (centre.x, centre.y)
            elif leg == "return":
                assert coords[-1] == (garrison.x, garrison.y)
            else:
                assert coords == [(centre.x, centre.y)]
            assert (row.lon, row.lat) == coords[-1]


def test_chart_and_page(election, tmp_path):
    plan, _ = election
    timeline = es.movement_timeline(plan, speed_kmh=40)
    figure = timeline.chart()
    assert len(figure.axes) == 2
    figure.canvas.draw()
    for ax, (phase, date) in zip(
        figure.axes, [("special", "09 Nov 2025"), ("general", "11 Nov 2025")], strict=True
    ):
        # each day readable on its own: its date in the title, its own visible clock axis
        assert phase in ax.get_title()
        assert date in ax.get_title()
        shown = [t.get_text() for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
        assert shown
        assert all(re.fullmatch(r"\d\d:\d\d", t) for t in shown), shown
        # the legend sits outside the axes, so it hides none of the day's bars
        legend = ax.get_legend().get_window_extent()
        assert legend.x0 >= ax.get_window_extent().x1
    png = timeline.chart(tmp_path / "forces.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = timeline.chart(tmp_path / "forces.html")
    text = page.read_text()
    assert "<svg" in text
    assert not WEB_ASSET.search(text)
    with pytest.raises(es.InputError):
        timeline.chart(tmp_path / "forces.docx")


@needs_browser
def test_chart_page_opens_offline(election, tmp_path):
    plan, _ = election
    page = es.movement_timeline(plan, speed_kmh=40).chart(tmp_path / "forces.html")
    drawn = render_offline(tmp_path, page)
    assert drawn["requests"] == []
    assert drawn["errors"] == []


def test_forces_in_use_at_each_instant(election):
    plan, _ = election
    timeline = es.movement_timeline(plan, speed_kmh=40, earliest_departure="05:58")
    curves = forces_in_use(timeline.movements, step_min=7)
    moves = timeline.movements
    for row in curves.sample(40, random_state=1).itertuples():
        day = moves[moves["phase"] == row.phase]
        t = row.time
        assert row.in_transit == day.loc[(day["depart"] <= t) & (t < day["arrive"]), "teams"].sum()
        assert (
            row.on_station == day.loc[(day["arrive"] <= t) & (t < day["release"]), "teams"].sum()
        )
        away = (day["depart"] <= t) & (t < day["return_at"])
        assert row.teams_away == day.loc[away, "teams"].sum()


def test_parameters_are_json_and_orders_need_their_module(election, tmp_path):
    plan, _ = election
    timeline = es.movement_timeline(plan, speed_kmh=40, earliest_departure="04:30")
    data = json.loads(json.dumps(timeline.parameters))
    assert data["speed_kmh"] == 40
    assert data["travel_source"] == "geodesic"
    assert data["earliest_departure"]["general"] == "2025-11-11 04:30:00"
    if importlib.util.find_spec("electsec.orders") is None:
        with pytest.raises(es.ElectsecError, match="orders"):
            timeline.orders(tmp_path)


def test_road_legs_follow_the_network(grid):
    net, nodes = grid
    centers = gpd.GeoDataFrame(
        {"center_id": ["a", "b"], "demand": [1, 2]},
        geometry=[nodes.iloc[6], nodes.iloc[9]],
        crs=4326,
    )
    garrisons = gpd.GeoDataFrame(
        {"garrison_id": ["g"], "capacity": [3]}, geometry=[nodes.iloc[0]], crs=4326
    )
    plan = es.solve_assignment(centers, garrisons)
    timeline = es.movement_timeline(plan, date="2025-11-11", network=net)
    legs = timeline.to_geodataframe(network=timeline.network)
    outbound = legs[legs["leg"] == "outbound"]
    back = legs[legs["leg"] == "return"]
    for line, ret in zip(outbound.geometry, back.geometry, strict=True):
        assert len(line.coords) > 2  # along the streets, not a straight line
        assert list(ret.coords) == list(reversed(line.coords))
    # both centres are three 2-km blocks from the garrison by the fastest streets
    np.testing.assert_allclose(outbound.to_crs(net.crs).length, 6000.0, atol=1.0)


@settings(max_examples=60, deadline=None)
@given(
    groups=st.lists(
        st.tuples(
            st.integers(1, 3),
            st.lists(st.integers(0, 5_000), min_size=1, max_size=6),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_committed_reserve_against_brute_force(groups):
    """The array form of the committed case equals enumerating every dispatch."""
    rows, reserve = [], {}
    for j, (teams, times) in enumerate(groups):
        reserve[f"g{j}"] = teams
        rows += [(f"c{j}_{i}", f"g{j}", float(t)) for i, t in enumerate(times)]
    backups = pd.DataFrame(rows, columns=["center_id", "garrison_id", "travel_s"])
    midnight = np.datetime64("2025-11-11T00:00", "ns")
    duty = (midnight + np.timedelta64(6, "h"), midnight + np.timedelta64(20, "h"))
    table = backup_table(backups, pd.Series(reserve), ("general", midnight), duty, 4_000.0)
    travel = {(c, g): t for c, g, t in rows}
    noon = table[table["hour"] == midnight + np.timedelta64(12, "h")]
    night = table[table["hour"] == midnight + np.timedelta64(2, "h")]
    for row in noon.itertuples():
        worst = _worst_committed(travel, row.center_id, row.backup_garrison_id, row.reserve_teams)
        assert row.committed_response_s == pytest.approx(worst)
        assert row.committed_within_limit == (worst <= 4_000.0)
    assert (night["committed_response_s"] == night["response_s"]).all()
    assert night["reserve_committed_at"].isna().all()


def test_very_late_teams_and_an_empty_day(tiny, election, tmp_path):
    plan, garrisons = election
    slow = es.movement_timeline(plan, speed_kmh=0.5, earliest_departure="05:00")
    days = _election_days(plan, garrisons)
    earliest = {
        "special": pd.Timestamp("2025-11-09 05:00"),
        "general": pd.Timestamp("2025-11-11 05:00"),
    }
    check_timeline(slow, days, travel=lambda p, t: geodesic_s(p, t, 0.5), earliest=earliest)
    moves = slow.movements
    assert (moves["arrive"] > moves["release"]).any()  # arrives after the count: still kept
    centers, garrisons = tiny
    empty = es.solve_assignment(centers.assign(demand=0), garrisons)
    timeline = es.movement_timeline(empty, date="2025-11-11", speed_kmh=40)
    assert len(timeline.movements) == 0
    assert len(timeline.by_hour) == 0
    assert list(timeline.movements.columns[: len(es.timeline.MOVEMENT_COLUMNS)]) == list(
        es.timeline.MOVEMENT_COLUMNS
    )
    assert len(timeline.summary()) == 0
    assert len(timeline.to_geodataframe()) == 0


def test_a_timeline_pickles(grid):
    net, nodes = grid
    centers = gpd.GeoDataFrame(
        {"center_id": ["a", "b"], "demand": [1, 2]}, geometry=[nodes[6], nodes[9]], crs=4326
    )
    garrisons = gpd.GeoDataFrame(
        {"garrison_id": ["g"], "capacity": [3]}, geometry=[nodes[0]], crs=4326
    )
    plan = es.solve_assignment(centers, garrisons)
    timeline = es.movement_timeline(plan, date="2025-11-11", network=net)
    again = pickle.loads(pickle.dumps(timeline))  # noqa: S301 - our own bytes
    pd.testing.assert_frame_equal(again.movements, timeline.movements)
    pd.testing.assert_frame_equal(again.by_hour, timeline.by_hour)
    assert again.parameters == timeline.parameters
    assert timeline.network is net
    assert again.network is None


# ------------------------------------------------------------------ real data: Baghdad

BAGHDAD_OSM = SAMPLE.parents[2] / "shared" / "data" / "roads" / "baghdad_osm" / "Baghdad.osm"


@pytest.mark.skipif(not BAGHDAD_OSM.exists(), reason=f"{BAGHDAD_OSM} absent")
def test_both_days_on_the_baghdad_roads():
    """OSM central Baghdad: both days planned on road times, then re-routed on the roads."""
    roads = RoadNetwork.from_osm(BAGHDAD_OSM)
    rng = np.random.default_rng(5)
    nodes = gpd.GeoSeries(gpd.points_from_xy(*roads.node_xy.T), crs=roads.crs).to_crs(4326)
    links = sp.coo_array(
        (np.ones(len(roads.tail)), (roads.tail, roads.head)), shape=(roads.n_nodes,) * 2
    )
    _, piece = connected_components(links, directed=True, connection="strong")
    main = np.flatnonzero(piece == np.bincount(piece).argmax())  # every node reaches every other
    pick = rng.choice(main, 60, replace=False)
    centers = gpd.GeoDataFrame(
        {
            "center_id": [f"B{i:02d}" for i in range(50)],
            "demand": rng.integers(1, 3, 50),
            "phase": ["special"] * 10 + ["general"] * 40,
        },
        geometry=nodes.iloc[pick[:50]].to_numpy(),
        crs=4326,
    )
    garrisons = gpd.GeoDataFrame(
        {"garrison_id": [f"G{j}" for j in range(10)], "capacity": 20},
        geometry=nodes.iloc[pick[50:]].to_numpy(),
        crs=4326,
    )
    plan = es.plan_election(
        centers,
        garrisons,
        roads,
        min_retained=0.25,
        dates={"special": "2025-11-09", "general": "2025-11-11"},
    )
    own = es.movement_timeline(plan, earliest_departure="05:45")
    routed = es.movement_timeline(plan, network=roads, earliest_departure="05:45")
    capacity = {f"G{j}": 20 for j in range(10)}
    days = {
        "special": (dt.date(2025, 11, 9), plan.special, dict.fromkeys(capacity, 15)),
        "general": (dt.date(2025, 11, 11), plan.general, capacity),
    }
    earliest = {
        "special": pd.Timestamp("2025-11-09 05:45"),
        "general": pd.Timestamp("2025-11-11 05:45"),
    }
    times = es.distance_matrix(centers, garrisons, metric="travel_time", network=roads)
    check_timeline(own, days, travel=lambda p, t: matrix_s(times, t), earliest=earliest)
    back = reverse_s(centers, garrisons, roads)
    check_timeline(
        routed, days, travel=lambda p, t: matrix_s(times, t), back=back, earliest=earliest
    )
    # one-way streets: the way back is not the way out for some of these teams
    moves = routed.movements
    taken = (moves["return_at"] - moves[["release", "arrive"]].max(axis=1)).dt.total_seconds()
    assert (abs(taken - moves["travel_s"]) > 30).any()
    assert set(own.movements["travel_source"]) == {"costs"}
    assert set(routed.movements["travel_source"]) == {"network"}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    retained=st.sampled_from(["0", "0.25", "0.5"]),
    speed=st.floats(10, 90),
    leave=st.one_of(st.none(), st.integers(4 * 60, 6 * 60)),
)
def test_random_elections(seed, retained, speed, leave):
    rng = np.random.default_rng(seed)
    box = (44.0, 44.5, 33.0, 33.5)
    general, garrisons = make_instance(rng, 14, 5, demand_min=1, capacity_ratio=3.0, box=box)
    special, _ = make_instance(rng, 6, 5, demand_max=2, demand_min=1, box=box)
    special["center_id"] = [f"s{i}" for i in range(6)]
    dates = {"special": "2025-11-09", "general": "2025-11-11"}
    plan = es.plan_election(
        {"special": special, "general": general},
        garrisons,
        min_retained=float(retained),
        dates=dates,
        coverage="max",
    )
    earliest = None if leave is None else dt.timedelta(minutes=leave)
    timeline = es.movement_timeline(plan, speed_kmh=speed, earliest_departure=earliest)
    capacity = _capacity(garrisons)
    share = Fraction(retained)
    days = {
        "special": (
            dt.date(2025, 11, 9),
            plan.special,
            {g: c - math.ceil(share * c) for g, c in capacity.items()},
        ),
        "general": (dt.date(2025, 11, 11), plan.general, capacity),
    }
    stamps = None
    if leave is not None:
        stamps = {p: _at(days[p][0], leave) for p in days}
    check_timeline(timeline, days, travel=lambda p, t: geodesic_s(p, t, speed), earliest=stamps)


def test_unknown_options_are_refused_by_name(election):
    plan, _ = election
    with pytest.raises(es.InputError, match="in_place") as caught:
        es.movement_timeline(plan, speed_kmh=40, in_place=30)
    assert "in_place_min" in str(caught.value)  # the closest known option, as the fix
