"""Escorts of the night's convoys from the movement timeline (issue #16, escorts).

:func:`check_escorts` is written from the documented rules alone: it reads the ORIGINAL
timeline's movements (release, return_at) and the plan's stops and routes, recomputes
the drive back with pyproj, and recounts ``by_hour`` of the timeline written back.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import electsec as es
from electsec.schema import check, transfer_schema
from test_transfer import _lonlat, check_transfer, road_s, small_case

DATE = "2025-11-11"
KW = {"vehicles": {"boxes_per_vehicle": 12}, "time_limit_s": 3, "max_iterations": 200}


def _night(n: int = 6, seed: int = 2, **timeline: Any) -> tuple[Any, ...]:
    plan, points, boxes, centers = small_case(n, seed=seed, governorates=("Babil", "Wassit"))
    tl = es.movement_timeline(plan, date=DATE, speed_kmh=50, **timeline)
    return plan, points, boxes, centers, tl


def check_escorts(tp: Any, tl: es.Timeline, plan: es.AssignmentResult, points: Any) -> None:
    """Every convoy escorted once, by a team free at that hour; returns after the leg."""
    midnight = pd.Timestamp(DATE)
    secs = lambda t: (t - midnight).total_seconds()  # noqa: E731
    moves = tl.movements
    escorts = tp.escorts
    # 1. every convoy has exactly one escort
    assert sorted(escorts["convoy_id"]) == sorted(tp.routes["convoy_id"])
    # 2. no (garrison, centre) movement gives more escorts than it has teams
    used = escorts.groupby(["garrison_id", "center_id"]).size()
    teams = moves.set_index(["garrison_id", "center_id"])["teams"]
    for key, n in used.items():
        assert n <= teams[key], key
    routes = tp.routes.set_index("convoy_id")
    pts = points.set_index("point_id")
    for e in escorts.itertuples():
        stops = tp.stops[tp.stops["convoy_id"] == e.convoy_id].sort_values("sequence")
        first = stops.iloc[1]
        move = moves[(moves["garrison_id"] == e.garrison_id) & (moves["center_id"] == e.center_id)]
        release, back = secs(move["release"].iloc[0]), secs(move["return_at"].iloc[0])
        route = routes.loc[e.convoy_id]
        # 3. joins where the boxes come aboard, free by then: released there, or home
        if e.joins_at == e.center_id:
            assert e.center_id == first["place_id"]
            assert release <= first["start_s"] == e.join_s
        else:
            assert e.joins_at == e.garrison_id == route["garrison_id"]
            assert back <= route["start_s"] == e.join_s
        # 4. the leg ends at the hand-over; the drive back is at least the road time
        assert e.end_s == route["handover_s"]
        home = _lonlat(plan.garrison_points, e.garrison_id)
        assert e.return_s >= e.end_s + road_s(_lonlat(pts, route["warehouse_id"]), home) - 1
    _check_written_back(tp.timeline, tl, escorts, midnight)


def _check_written_back(new: Any, tl: Any, escorts: pd.DataFrame, midnight: Any) -> None:
    moves = new.movements
    # the teams are the same, per (garrison, centre)
    key = ["garrison_id", "center_id"]
    before = tl.movements.groupby(key)["teams"].sum()
    after = moves.groupby(key)["teams"].sum()
    pd.testing.assert_series_equal(before, after)
    legs = moves[moves["escort_convoy"].notna()]
    assert sorted(legs["escort_convoy"]) == sorted(escorts["convoy_id"])
    assert (legs["teams"] == 1).all()
    assert (legs["escort_end"] > legs["escort_start"]).all()
    assert (legs["return_at"] > legs["escort_end"]).all()
    back = escorts.set_index("convoy_id")["return_s"]
    for leg in legs.itertuples():
        assert leg.return_at == midnight + pd.Timedelta(seconds=int(back[leg.escort_convoy]))
    # by_hour recounted: away from depart until back; escorts never more than freed
    rows = new.by_hour[new.by_hour["scope"] == "garrison"]
    released = tl.movements
    for r in rows.itertuples():
        h0, h1 = r.hour, r.hour + pd.Timedelta(hours=1)
        mine = moves[moves["garrison_id"] == r.garrison_id]
        away = mine[(mine["depart"] < h1) & (mine["return_at"] > h0)]["teams"].sum()
        assert r.teams_away == away, (r.garrison_id, h0)
        on = mine[(mine["escort_start"] < h1) & (mine["escort_end"] > h0)]["teams"].sum()
        assert r.escorting == on
        freed = released[(released["garrison_id"] == r.garrison_id)
                         & (released["release"] < h1)]["teams"].sum()  # fmt: skip
        assert r.escorting <= freed


def test_every_convoy_is_escorted_by_a_team_the_timeline_frees(tmp_path):
    plan, points, boxes, centers, tl = _night()
    before = tl.movements.copy()
    tp = es.plan_transfer(plan, points, boxes=boxes, timeline=tl, **KW)
    check_transfer(tp, plan, points, boxes, centers, capacity=12)
    assert tp.dropped.empty
    assert len(tp.routes) >= 3
    check_escorts(tp, tl, plan, points)
    pd.testing.assert_frame_equal(tl.movements, before)  # the caller's timeline is untouched
    assert tp.timeline is not tl
    assert tp.parameters["timeline"] == "day"
    data = json.loads(json.dumps(tp.to_dict()))
    assert check(data, transfer_schema(), table="transfer") == []
    assert [e["convoy_id"] for e in data["escorts"]] == list(tp.escorts["convoy_id"])
    # each convoy's manifest page names its escort's garrison and where it joins
    tp.manifests(tmp_path)
    for e in tp.escorts.itertuples():
        page = (tmp_path / f"{e.convoy_id.replace('/', '_')}.html").read_text(encoding="utf-8")
        assert f"a team of garrison {e.garrison_id}, joining at {e.joins_at}" in page
    # a Timeline given as escorts= is the same request
    same = es.plan_transfer(plan, points, boxes=boxes, escorts=tl, **KW)
    pd.testing.assert_frame_equal(same.escorts, tp.escorts)


def test_the_timeline_caps_the_convoys_at_the_teams_it_frees():
    plan, points, boxes, _, tl = _night()
    kw = KW | {"vehicles": {"boxes_per_vehicle": 5, "vehicles_per_team": 2}}
    tp = es.plan_transfer(plan, points, boxes=boxes, timeline=tl, **kw)
    check_escorts(tp, tl, plan, points)
    freed = tl.movements.groupby("garrison_id")["teams"].sum()
    for garrison, n in tp.routes.groupby("garrison_id").size().items():
        assert n <= freed[garrison]
    capped = es.plan_transfer(plan, points, boxes=boxes, timeline=tl, escorts={"G0": 1}, **kw)
    assert capped.routes.groupby("garrison_id").size().to_dict() == {"G0": 1}


def test_a_convoy_no_team_can_escort_is_dropped_with_the_times():
    # teams released at 22:00 (count 4 h) cannot escort loading from 20:00, nor are home
    plan, points, boxes, _, tl = _night(count_min=240)
    tp = es.plan_transfer(plan, points, boxes=boxes, timeline=tl, **KW)
    assert tp.routes.empty
    assert tp.escorts.empty
    assert set(tp.dropped["reason"]) == {"no_escort"}
    assert set(tp.dropped["center_id"]) == set(boxes.index)
    assert (tp.dropped["earliest_s"] < 22 * 3600).all()
    assert tp.dropped["message"].str.contains("ready_at").all()
    # ready at 22:00, when the teams are released: every convoy escorted again
    late = es.plan_transfer(plan, points, boxes=boxes, timeline=tl, ready_at="22:00", **KW)
    assert late.dropped.empty
    check_escorts(late, tl, plan, points)


def test_a_bad_timeline_is_refused_by_name():
    plan, points, boxes, _, tl = _night(3)
    two_days = pd.concat([tl.movements.assign(phase="early"), tl.movements.assign(phase="late")])
    unclear = dataclasses.replace(tl, movements=two_days)  # neither is the general day
    for bad in ("not a timeline", unclear):
        with pytest.raises(es.InputError) as info:
            es.plan_transfer(plan, points, boxes=boxes, timeline=bad, **KW)
        assert {i.column for i in info.value.issues} == {"timeline"}


def test_without_a_timeline_nothing_changes():
    plan, points, boxes, _, _ = _night(3)
    tp = es.plan_transfer(plan, points, boxes=boxes, **KW)
    assert tp.escorts is None
    assert tp.timeline is None
    assert np.isfinite(tp.routes["handover_s"]).all()


@settings(max_examples=8, deadline=None)
@given(
    n=st.integers(2, 6),
    seed=st.integers(0, 50),
    count_min=st.sampled_from([60, 120, 180, 240]),
    ready_at=st.sampled_from(["20:00", "21:00"]),  # check_transfer: pick-ups from 20:00
)
def test_any_small_escorted_night_checks_out(n, seed, count_min, ready_at):
    plan, points, boxes, centers, tl = _night(n, seed, count_min=count_min)
    kw = KW | {"time_limit_s": 2, "max_iterations": 100, "ready_at": ready_at}
    tp = es.plan_transfer(plan, points, boxes=boxes, timeline=tl, **kw)
    check_transfer(tp, plan, points, boxes, centers, capacity=12, legs=False)
    check_escorts(tp, tl, plan, points)
    released_s = 18 * 3600 + count_min * 60
    ready_s = int(ready_at[:2]) * 3600 + int(ready_at[3:]) * 60
    if ready_s >= released_s:  # every team is free when loading starts: nobody unescorted
        assert "no_escort" not in set(tp.dropped["reason"])
