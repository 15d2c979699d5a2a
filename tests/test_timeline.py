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
import math
from fractions import Fraction
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import electsec as es
from electsec.network import RoadNetwork
from helpers import make_instance

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


def check_timeline(
    timeline,
    days: dict,
    *,
    travel,
    polls=("07:00", "18:00"),
    in_place_min=60.0,
    count_min=120.0,
    earliest=None,
) -> None:
    """Assert every invariant of ``timeline``.

    ``days`` maps phase → (date, plan, teams available per garrison id); ``travel(plan,
    table)`` gives the expected seconds of each (centre, garrison) row; ``earliest`` maps
    phase → the earliest departure Timestamp (or None).
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
        # released teams are back one travel time after release (or after arriving)
        back = (got["return_at"] - got[["release", "arrive"]].max(axis=1)).dt.total_seconds()
        np.testing.assert_allclose(back, expected, atol=TOL_S)
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
    assert list(timeline.movements.columns[:17]) == list(es.timeline.MOVEMENT_COLUMNS)
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
    check_timeline(again, days, travel=lambda p, t: matrix_s(costs, t))
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
