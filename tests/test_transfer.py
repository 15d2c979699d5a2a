"""Ballot transfer: convoys to the warehouses, media to the tally centre, custody manifests.

Every plan is checked by :func:`check_transfer`, written here from the documented rules
alone (it recomputes travel with pyproj and never calls electsec.transfer), and small
instances are compared with a brute-force optimum.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

import electsec as es
import electsec.transfer_convoys as tr_convoys
import electsec.transfer_gates as tr_gates
from electsec import routing
from electsec.schema import check, transfer_schema
from helpers import WEB_ASSET, needs_browser, render_offline

GEOD = pyproj.Geod(ellps="WGS84")
SPEED_M_PER_S = 50 / 3.6  # the documented default road speed
DETOUR = 1.3
AIR_M_PER_S = 220 / 3.6
LOAD_S = (600, 60)  # per centre, per box
HANDLING_S = 900
READY_S = 20 * 3600


def road_s(a: Any, b: Any) -> int:
    """Default road time between two lon/lat points, recomputed independently."""
    if tuple(a) == tuple(b):
        return 0
    metres = GEOD.inv(a[0], a[1], b[0], b[1])[2] * DETOUR
    return math.ceil(metres / SPEED_M_PER_S - 1e-9)


def air_s(a: Any, b: Any) -> int:
    if tuple(a) == tuple(b):
        return 0
    return math.ceil(GEOD.inv(a[0], a[1], b[0], b[1])[2] / AIR_M_PER_S - 1e-9)


# -- instances ---------------------------------------------------------------------------


def _points(rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    geometry = [shapely.Point(r.pop("lon"), r.pop("lat")) for r in rows]
    return gpd.GeoDataFrame(rows, geometry=geometry, crs="EPSG:4326")


def small_case(
    n: int = 5, *, seed: int = 1, governorates: tuple[str, ...] = ("Babil",), **wh: Any
) -> tuple[es.AssignmentResult, gpd.GeoDataFrame, pd.Series, gpd.GeoDataFrame]:
    """``n`` centres per governorate around (44 + g, 32.5), one garrison each, a warehouse."""
    rng = np.random.default_rng(seed)
    centers, garrisons, points = [], [], []
    for g, name in enumerate(governorates):
        x0 = 44.0 + g
        for i in range(n):
            lon, lat = x0 + rng.uniform(-0.08, 0.08), 32.5 + rng.uniform(-0.08, 0.08)
            centers.append({"center_id": f"C{g}{i}", "demand": 1, "governorate": name,
                            "lon": lon, "lat": lat})  # fmt: skip
        garrisons.append({"garrison_id": f"G{g}", "capacity": 50, "governorate": name,
                          "lon": x0 - 0.05, "lat": 32.45})  # fmt: skip
        points.append({"point_id": f"W{g}", "kind": "warehouse", "governorates": name,
                       "opens": "18:00", "closes": "08:00", "lon": x0 + 0.06, "lat": 32.55}
                      | wh)  # fmt: skip
    points.append({"point_id": "T", "kind": "tally", "governorates": "*", "lon": 44.38,
                   "lat": 33.3})  # fmt: skip
    c, gar = _points(centers), _points(garrisons)
    plan = es.solve_assignment(c, gar)
    boxes = pd.Series(rng.integers(1, 9, len(c)), index=c["center_id"].to_numpy())
    return plan, _points(points), boxes, c.set_index("center_id")


# -- the independent checker -------------------------------------------------------------


def _lonlat(frame: gpd.GeoDataFrame, key: str) -> tuple[float, float]:
    geom = frame.geometry.loc[key]
    return (geom.x, geom.y)


def check_transfer(  # noqa: PLR0915 - one checker, every rule in one place
    tp: Any,
    plan: es.AssignmentResult,
    points: gpd.GeoDataFrame,
    boxes: pd.Series,
    centers: gpd.GeoDataFrame,
    *,
    capacity: int = 40,
    per_team: float = 0.5,
    max_route_s: float | None = None,
    deadline_s: float = READY_S + 6 * 3600,
    legs: bool = True,
) -> None:
    """Check every documented rule of a TransferPlan from its tables alone.

    ``legs=False`` skips recomputing the travel times (for plans on other costs).
    """
    pts = points.set_index("point_id")
    garrisons = plan.garrison_points
    stops, routes, dropped = tp.stops, tp.routes, tp.dropped
    picked = stops[stops["action"] == "pickup"]
    # 1. every centre with boxes is collected once or dropped once, never both
    expected = {c for c, b in boxes.items() if b > 0}
    collected = list(picked["place_id"])
    assert len(collected) == len(set(collected))
    assert set(collected).isdisjoint(dropped["center_id"])
    assert set(collected) | set(dropped["center_id"]) == expected
    assert dropped["center_id"].is_unique
    # 2. each convoy: garrison → centres → its warehouse, in time, within limits
    teams = plan.assignments.merge(centers[["governorate"]], left_on="center_id", right_index=True)
    for convoy_id, group in stops.groupby("convoy_id"):
        rows = group.sort_values("sequence")
        assert list(rows["sequence"]) == list(range(len(rows)))
        first, last = rows.iloc[0], rows.iloc[-1]
        assert (first["place_kind"], first["action"]) == ("garrison", "depart")
        assert (last["place_kind"], last["action"]) == ("warehouse", "handover")
        mid = rows.iloc[1:-1]
        assert len(mid) >= 1
        assert (mid["place_kind"] == "center").all()
        wh = pts.loc[last["place_id"]]
        for c in mid["place_id"]:
            gov = centers.loc[c, "governorate"]
            assert "*" in wh["governorates"] or gov in str(wh["governorates"]).split(";")
        where = [_lonlat(garrisons, first["place_id"])]
        where += [_lonlat(centers, c) for c in mid["place_id"]] + [_lonlat(pts, last["place_id"])]
        clock = first["depart_s"]
        for k in range(1, len(rows)):
            row = rows.iloc[k]
            leg = road_s(where[k - 1], where[k])
            assert not legs or abs(row["arrive_s"] - (clock + leg)) <= 1, (convoy_id, k)
            assert row["arrive_s"] >= clock
            if row["action"] == "pickup":
                assert row["start_s"] >= max(row["arrive_s"], READY_S)
                b = int(boxes[row["place_id"]])
                assert row["boxes"] == b
                assert row["depart_s"] == row["start_s"] + LOAD_S[0] + LOAD_S[1] * b
            clock = row["depart_s"]
        opens, closes = _hours(wh)
        assert last["arrive_s"] <= closes
        assert max(last["arrive_s"], opens) <= last["start_s"] <= closes
        assert last["boxes"] == mid["boxes"].sum() <= capacity
        if max_route_s is not None:
            assert last["arrive_s"] - first["depart_s"] <= max_route_s
        route = routes.set_index("convoy_id").loc[convoy_id]
        assert route["handover_s"] == last["start_s"]
        assert route["boxes"] == last["boxes"]
    # 3. vehicles used per (warehouse, garrison) ≤ ceil(per_team × teams sent there), the
    #    rounding up done once per part (sector) of the warehouse
    wh_of = {c: w for w, g in _served(pts).items() for c in centers.index
             if centers.loc[c, "governorate"] in g}  # fmt: skip
    teams["warehouse"] = teams["center_id"].map(wh_of)
    allowed = teams.groupby(["warehouse", "garrison_id"])["teams"].sum()
    used = routes.groupby(["warehouse_id", "garrison_id"]).size()
    sectors = tp.parts.groupby("warehouse_id").size()
    for key, n in used.items():
        rounding = int(sectors[key[0]]) - 1
        assert n <= math.ceil(per_team * allowed.get(key, 0) - 1e-9) + rounding, key
    # 4. warehouse intake: boxes in total and convoys per hour
    for wid, group in routes.groupby("warehouse_id"):
        wh = pts.loc[wid]
        if not pd.isna(wh.get("boxes_capacity")):
            assert group["boxes"].sum() <= wh["boxes_capacity"]
        rate = wh.get("convoys_per_hour")
        if rate is not None and not pd.isna(rate):
            times = np.sort(group["handover_s"].to_numpy())
            assert (np.diff(times) >= 3600 / rate - 1).all()
    # 5. media: recomputed arrival, deadline flag
    if legs:
        _check_media(tp, pts, deadline_s, capacity)


def _hours(row: Any) -> tuple[int, int]:
    def minutes(v: Any) -> int | None:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        h, m = str(v).split(":")[:2]
        return int(h) * 60 + int(m)

    opens = minutes(row.get("opens")) or 0
    closes = minutes(row.get("closes"))
    closes = opens + 1440 if closes is None else closes + (1440 if closes <= opens else 0)
    return opens * 60, closes * 60


def _served(pts: pd.DataFrame) -> dict[str, list[str]]:
    wh = pts[pts["kind"] == "warehouse"]
    return {w: str(g).split(";") for w, g in wh["governorates"].items()}


def _media_arrive_s(ready: float, wid: str, pts: gpd.GeoDataFrame) -> float:
    """The documented fastest arrival at the tally of media leaving ``wid`` at ``ready``."""
    tally = pts.index[pts["kind"] == "tally"][0]
    t_xy = _lonlat(pts, tally)
    fields = pts[pts["kind"] == "airfield"]
    hub = min(fields.index, key=lambda a: road_s(_lonlat(pts, a), t_xy)) if len(fields) else None
    w_xy = _lonlat(pts, wid)
    options = [ready + road_s(w_xy, t_xy)]
    served = set(str(pts.loc[wid, "governorates"]).split(";"))
    for aid in fields.index:
        if aid == hub or not served & set(str(fields.loc[aid, "governorates"]).split(";")):
            continue
        reach = ready + road_s(w_xy, _lonlat(pts, aid))
        opens, closes = _hours(fields.loc[aid])
        slot = 30 * 60
        depart = opens + max(0, math.ceil((reach - opens) / slot)) * slot
        if depart <= closes:
            h_xy = _lonlat(pts, hub)
            options.append(depart + air_s(_lonlat(pts, aid), h_xy) + road_s(h_xy, t_xy))
    return min(options)


def _hhmm(seconds: Any) -> str:
    """Seconds after midnight as the documented ``HH:MM`` (``+1`` next day), ``""``: none."""
    if seconds is None or pd.isna(seconds):
        return ""
    day, rest = divmod(math.ceil(seconds / 60), 1440)
    return f"{rest // 60:02d}:{rest % 60:02d}" + (f" (+{day})" if day else "")


def _handover_bound_s(hands: pd.DataFrame, picked: pd.DataFrame, wh: Any, capacity: int) -> float:
    """A simple bound on a warehouse's last hand-over, from its stops and the rules alone.

    No hand-over before the gate opens or before a centre's loading from ready_at and the
    drive straight in; the slowest centre's no sooner; at least ceil(boxes / capacity)
    convoys, spaced 60 / convoys_per_hour minutes at the gate. 1 s of slack for the
    road times' rounding.
    """
    w_xy = (hands["lon"].iloc[0], hands["lat"].iloc[0])
    direct = [
        LOAD_S[0] + LOAD_S[1] * b + road_s((x, y), w_xy)
        for b, x, y in picked[["boxes", "lon", "lat"]].itertuples(index=False)
    ]
    opens, _ = _hours(wh)
    rate = wh.get("convoys_per_hour")
    gap = 0.0 if rate is None or pd.isna(rate) else 3600 / rate
    count = math.ceil(picked["boxes"].sum() / capacity)
    first = max(opens, READY_S + min(direct))
    return max(READY_S + max(direct), first + (count - 1) * gap) - 1


def _check_media(tp: Any, pts: gpd.GeoDataFrame, deadline_s: float, capacity: int) -> None:
    stops = tp.stops
    hands = stops[stops["action"] == "handover"]
    for row in tp.media.itertuples():
        mine = hands[hands["place_id"] == row.warehouse_id]
        done = tp.routes.loc[tp.routes["warehouse_id"] == row.warehouse_id, "handover_s"]
        assert sorted(done) == sorted(mine["start_s"])
        ready = (done.max() if len(done) else READY_S) + HANDLING_S
        assert row.ready_s == ready
        assert row.arrive_s == _media_arrive_s(ready, row.warehouse_id, pts)
        assert row.deadline_s == deadline_s
        assert row.on_time == (row.arrive_s <= deadline_s)
        # why late: the seconds past the deadline, the queue at the gate, the last hand-over
        assert row.late_s == max(0, row.arrive_s - deadline_s)
        assert row.gate_wait_s == (mine["start_s"] - mine["arrive_s"]).sum() >= 0
        if len(mine):
            assert row.last_handover_s == mine["start_s"].max() == row.ready_s - HANDLING_S
        else:
            assert pd.isna(row.last_handover_s)
        assert row.last_handover == _hhmm(row.last_handover_s)
        assert row.earliest == _hhmm(row.earliest_s)
        expected = "" if row.on_time else "too_far" if row.earliest_s > deadline_s else "routes"
        assert row.reason == expected
        # earliest_s: no sooner than this checker's own bound, no later than the plan's
        assert row.earliest_s <= row.arrive_s
        bound = READY_S
        if len(mine):
            picked = stops[
                stops["convoy_id"].isin(mine["convoy_id"]) & (stops["action"] == "pickup")
            ]
            bound = _handover_bound_s(mine, picked, pts.loc[row.warehouse_id], capacity)
        simple = _media_arrive_s(bound + HANDLING_S, row.warehouse_id, pts)
        assert row.earliest_s >= simple, (row.warehouse_id, row.earliest_s, simple)
        if not row.on_time and simple > deadline_s:
            assert row.reason == "too_far"


def check_manifests(tp: Any, directory: Path, boxes: pd.Series) -> None:
    """Every box and seal once per convoy's pick-up and once at its hand-over, in order."""
    seen: dict[str, str] = {}
    for route in tp.routes.itertuples():
        path = directory / (route.convoy_id.replace("/", "_") + ".csv")
        with path.open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert (directory / path.name.replace(".csv", ".html")).exists()
        picked = [(r["box_id"], r["seal_id"], int(r["sequence"])) for r in rows
                  if r["action"] == "pickup"]  # fmt: skip
        handed = [(r["box_id"], r["seal_id"], int(r["sequence"])) for r in rows
                  if r["action"] == "handover"]  # fmt: skip
        assert len({b for b, _, _ in picked}) == len(picked) == len(handed)
        assert {(b, s) for b, s, _ in picked} == {(b, s) for b, s, _ in handed}
        assert max(q for *_, q in picked) < min(q for *_, q in handed)
        assert all(r["handed_over_by"] == r["received_by"] == "" for r in rows)
        for box, seal, _ in picked:
            assert box not in seen
            seen[box] = seal
    centers = {b.rsplit("-B", 1)[0] for b in seen}
    assert sum(int(boxes[c]) for c in centers) == len(seen)
    assert len(set(seen.values())) == len(seen)


# -- brute force -------------------------------------------------------------------------


def brute_force_time(
    plan: es.AssignmentResult, points: gpd.GeoDataFrame, boxes: pd.Series,
    centers: gpd.GeoDataFrame, garrison: str, warehouse: str, vehicles: int, capacity: int,
) -> int:  # fmt: skip
    """Least total convoy time (s) over every split into ≤ vehicles routes and orders."""
    ids = list(centers.index)
    g_xy = _lonlat(plan.garrison_points, garrison)
    w_xy = _lonlat(points.set_index("point_id"), warehouse)
    xy = {c: _lonlat(centers, c) for c in ids}
    service = {c: LOAD_S[0] + LOAD_S[1] * int(boxes[c]) for c in ids}

    def best_route(group: tuple[str, ...]) -> float:
        if sum(int(boxes[c]) for c in group) > capacity:
            return math.inf
        best = math.inf
        for order in itertools.permutations(group):
            t = road_s(g_xy, xy[order[0]]) + road_s(xy[order[-1]], w_xy)
            t += sum(service[c] for c in order)
            t += sum(road_s(xy[a], xy[b]) for a, b in itertools.pairwise(order))
            best = min(best, t)
        return best

    best = math.inf
    for labels in itertools.product(range(vehicles), repeat=len(ids)):
        if labels and labels[0] != 0:
            continue  # vehicles are identical: fix the first centre's
        groups = [tuple(c for c, lab in zip(ids, labels, strict=True) if lab == v)
                  for v in range(vehicles)]  # fmt: skip
        best = min(best, sum(best_route(g) for g in groups if g))
    return int(best)


# -- tests -------------------------------------------------------------------------------


def test_a_small_night_is_optimal_and_checks_out(tmp_path):
    plan, points, boxes, centers = small_case(5, seed=3)
    tp = es.plan_transfer(plan, points, boxes=boxes, vehicles={"boxes_per_vehicle": 14},
                          time_limit_s=5, max_iterations=2000)  # fmt: skip
    check_transfer(tp, plan, points, boxes, centers, capacity=14)
    assert tp.dropped.empty
    teams = int(plan.assignments["teams"].sum())
    exact = brute_force_time(plan, points, boxes, centers, "G0", "W0", math.ceil(teams / 2), 14)
    assert int(tp.routes["duration_s"].sum()) == exact
    tp.manifests(tmp_path)
    check_manifests(tp, tmp_path, boxes)


def test_the_decomposition_by_warehouse_loses_nothing():
    plan, points, boxes, centers = small_case(4, seed=5, governorates=("Babil", "Wassit"))
    tp = es.plan_transfer(plan, points, boxes=boxes, vehicles={"boxes_per_vehicle": 12},
                          time_limit_s=5, max_iterations=2000)  # fmt: skip
    check_transfer(tp, plan, points, boxes, centers, capacity=12)
    assert sorted(tp.parts["warehouse_id"]) == ["W0", "W1"]
    total = 0
    for g in (0, 1):
        mine = centers[centers.index.str.startswith(f"C{g}")]
        teams = int(
            plan.assignments[plan.assignments["center_id"].isin(mine.index)]["teams"].sum()
        )
        total += brute_force_time(plan, points, boxes, mine, f"G{g}", f"W{g}",
                                  math.ceil(teams / 2), 12)  # fmt: skip
    assert int(tp.routes["duration_s"].sum()) == total


def test_sectors_of_a_big_part_still_serve_every_centre(monkeypatch):
    plan, points, boxes, centers = small_case(9, seed=7)
    monkeypatch.setattr(tr_convoys, "MAX_PART_STOPS", 4)
    tp = es.plan_transfer(plan, points, boxes=boxes, time_limit_s=5, max_iterations=300)
    assert len(tp.parts) == 3
    assert tp.parts["stops"].max() <= 4
    check_transfer(tp, plan, points, boxes, centers)
    assert tp.dropped.empty


def test_the_same_seed_gives_the_same_routes_in_process_or_on_threads():
    plan, points, boxes, centers = small_case(6, seed=2, governorates=("Babil", "Wassit"))
    kw = {"boxes": boxes, "time_limit_s": 5, "max_iterations": 300, "seed": 4}
    a = es.plan_transfer(plan, points, **kw)
    with ThreadPoolExecutor(2) as pool:
        b = es.plan_transfer(plan, points, executor=pool, **kw)
    pd.testing.assert_frame_equal(a.stops, b.stops)
    assert list(a.routes.geometry.to_wkt()) == list(b.routes.geometry.to_wkt())
    check_transfer(a, plan, points, boxes, centers)


def test_nothing_is_dropped_silently():
    plan, points, boxes, centers = small_case(5, seed=3)
    boxes = boxes.copy()
    boxes.iloc[0] = 60  # more than any vehicle
    tp = es.plan_transfer(plan, points, boxes=boxes, time_limit_s=3, max_iterations=200)
    check_transfer(tp, plan, points, boxes, centers)
    row = tp.dropped.set_index("center_id").loc[boxes.index[0]]
    assert (row["reason"], row["boxes"], row["capacity"]) == ("capacity", 60, 40)


def test_a_warehouse_closing_too_early_drops_with_the_times():
    plan, points, boxes, centers = small_case(4, seed=3, opens="18:00", closes="20:05")
    tp = es.plan_transfer(plan, points, boxes=boxes, time_limit_s=3, max_iterations=200)
    check_transfer(tp, plan, points, boxes, centers)
    assert set(tp.dropped["reason"]) == {"unreachable"}
    assert len(tp.dropped) == len(centers)
    assert (tp.dropped["earliest_s"] > tp.dropped["closing_s"]).all()
    assert (tp.dropped["closing_s"] == 20 * 3600 + 300).all()


def test_max_route_duration_is_kept_or_reported():
    plan, points, boxes, centers = small_case(6, seed=4)
    tp = es.plan_transfer(plan, points, boxes=boxes, max_route_min=45, time_limit_s=3,
                          max_iterations=300)  # fmt: skip
    check_transfer(tp, plan, points, boxes, centers, max_route_s=45 * 60)
    for row in tp.dropped.itertuples():
        assert row.reason == "unreachable"
        assert row.min_route_s > 45 * 60


def test_the_gate_rate_and_room_are_respected():
    plan, points, boxes, centers = small_case(8, seed=6, convoys_per_hour=1, closes="22:30")
    tp = es.plan_transfer(plan, points, boxes=boxes, vehicles={"boxes_per_vehicle": 8},
                          time_limit_s=3, max_iterations=300)  # fmt: skip
    check_transfer(tp, plan, points, boxes, centers, capacity=8)
    assert "intake_rate" in set(tp.dropped["reason"])
    room = int(boxes.sum()) - 5
    plan, points, boxes, centers = small_case(8, seed=6, boxes_capacity=room)
    tp = es.plan_transfer(plan, points, boxes=boxes, time_limit_s=3, max_iterations=300)
    check_transfer(tp, plan, points, boxes, centers)
    assert set(tp.dropped["reason"]) == {"intake_boxes"}
    assert int(tp.dropped["boxes"].sum()) >= 5


def test_a_governorate_without_warehouse_is_reported():
    plan, points, boxes, centers = small_case(3, seed=1, governorates=("Babil", "Wassit"))
    points = points[points["point_id"] != "W1"]
    tp = es.plan_transfer(plan, points, boxes=boxes, time_limit_s=3, max_iterations=100)
    check_transfer(tp, plan, points, boxes, centers)
    assert sorted(tp.dropped["center_id"]) == ["C10", "C11", "C12"]
    assert set(tp.dropped["reason"]) == {"no_warehouse"}


def test_media_fly_when_faster_and_late_ones_are_flagged():
    plan, points, boxes, centers = small_case(3, seed=1)
    points = points.copy()
    far = [{"point_id": "A1", "kind": "airfield", "governorates": "Babil", "opens": "19:00",
            "closes": "07:00", "lon": 44.05, "lat": 32.5},
           {"point_id": "HUB", "kind": "airfield", "governorates": "Baghdad", "opens": "19:00",
            "closes": "07:00", "lon": 44.39, "lat": 33.31}]  # fmt: skip
    points = pd.concat([points, _points(far)], ignore_index=True)
    points.loc[points["point_id"] == "T", "geometry"] = shapely.Point(47.5, 36.0)  # far away
    tp = es.plan_transfer(plan, points, boxes=boxes, media_deadline_min=120, time_limit_s=3,
                          max_iterations=100)  # fmt: skip
    check_transfer(tp, plan, points, boxes, centers, deadline_s=READY_S + 120 * 60)
    row = tp.media.iloc[0]
    assert not row["on_time"]
    assert row["earliest_s"] > READY_S + 120 * 60


def test_a_sample_governorate_checks_out(repo_root, tmp_path):
    sample = repo_root / "data" / "sample"
    centers = es.read_polling_centers(sample / "centers.geojson")
    garrisons = es.read_garrisons(sample / "garrisons.geojson")
    centers = centers[centers["governorate"] == "Babil"]
    garrisons = garrisons[garrisons["governorate"] == "Babil"]
    plan = es.solve_assignment(centers, garrisons)
    points = gpd.read_file(sample / "collection_points.geojson")
    points = points[(points["kind"] != "warehouse") | (points["point_id"] == "WH-Babil")]
    boxes = pd.read_csv(sample / "center_boxes.csv", dtype={"center_id": str})
    boxes = boxes.set_index("center_id")["boxes"].reindex(centers.index)
    tp = es.plan_transfer(plan, points, boxes=boxes, time_limit_s=4)
    check_transfer(tp, plan, points, boxes, centers.rename_axis("center_id"))
    assert tp.dropped.empty
    tp.manifests(tmp_path)
    check_manifests(tp, tmp_path, boxes)
    data = tp.to_dict()
    assert data["kind"] == "transfer"
    assert len(data["routes"]) == len(tp.routes)
    assert check(json.loads(json.dumps(data)), transfer_schema(), table="transfer") == []


def test_bad_options_are_refused_by_name():
    plan, points, boxes, _ = small_case(3, seed=1)
    cases = [
        ({"vehicles": {"boxes_per_van": 3}}, "vehicles"),
        ({"costs": {"speed": 3}}, "costs"),
        ({"ready_at": "25:00"}, "ready_at"),
        ({"time_limit_s": 0}, "time_limit_s"),
        ({"boxes": boxes.iloc[1:]}, "center_id"),
        ({"max_route_min": -5}, "max_route_min"),
        ({"seed": -1}, "seed"),
    ]
    for options, column in cases:
        kw = {"boxes": boxes, "time_limit_s": 2} | options
        with pytest.raises(es.InputError) as info:
            es.plan_transfer(plan, points, **kw)
        assert column in {i.column for i in info.value.issues}, options
    with pytest.raises(es.InputError):
        es.plan_transfer("plan", points)


def test_inputs_are_not_mutated_and_costs_can_be_given():
    plan, points, boxes, _ = small_case(4, seed=8)
    before_points, before_boxes = points.copy(), boxes.copy()
    calls = []

    def manhattan(lonlat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        calls.append(len(lonlat))
        d = np.abs(lonlat[:, None, :] - lonlat[None, :, :]).sum(axis=2) * 111_000
        return d, d / 10

    tp = es.plan_transfer(plan, points, boxes=boxes, costs=manhattan, time_limit_s=3,
                          max_iterations=200)  # fmt: skip
    pd.testing.assert_frame_equal(points, before_points)
    pd.testing.assert_series_equal(boxes, before_boxes)
    assert calls
    assert tp.dropped.empty
    # times follow the given costs: each leg is the Manhattan metres at 10 m/s
    for _, rows in tp.stops.groupby("convoy_id"):
        xy = rows[["lon", "lat"]].to_numpy()
        legs = np.ceil(np.abs(np.diff(xy, axis=0)).sum(axis=1) * 111_000 / 10 - 1e-9)
        arrive = rows["arrive_s"].to_numpy()[1:].astype(float)
        assert np.allclose(arrive, rows["depart_s"].to_numpy()[:-1] + legs, atol=1)


def test_a_route_the_search_left_infeasible_is_never_handed_to_a_convoy(monkeypatch):
    solve = routing.solve_routes

    def late_first_route(problem: Any, **kw: Any) -> Any:
        found = solve(problem, **kw)
        first = dataclasses.replace(found.routes[0], time_warp_s=60)
        return dataclasses.replace(found, routes=(first, *found.routes[1:]), feasible=False)

    monkeypatch.setattr(routing, "solve_routes", late_first_route)
    plan, points, boxes, centers = small_case(6, seed=2)
    tp = es.plan_transfer(plan, points, boxes=boxes, time_limit_s=3, max_iterations=200)
    check_transfer(tp, plan, points, boxes, centers)
    assert len(tp.dropped) >= 1
    assert set(tp.dropped["reason"]) == {"not_served"}
    assert not tp.parts["feasible"].all()


def test_a_road_network_prices_the_legs(repo_root):
    from electsec.network import RoadNetwork

    sample = repo_root / "data" / "sample"
    roads = RoadNetwork.from_roads(gpd.read_file(sample / "roads.gpkg"))
    centers = es.read_polling_centers(sample / "tiny_centers.geojson")
    plan = es.solve_assignment(centers, sample / "tiny_garrisons.geojson")
    points = gpd.read_file(sample / "collection_points.geojson")
    boxes = pd.read_csv(sample / "center_boxes.csv", dtype={"center_id": str})
    boxes = boxes.set_index("center_id")["boxes"].reindex(centers.index)
    kw = {"boxes": boxes, "time_limit_s": 5, "max_iterations": 200}
    road = es.plan_transfer(plan, points, network=roads, **kw)
    straight = es.plan_transfer(plan, points, **kw)
    check_transfer(road, plan, points, boxes, centers, legs=False)
    assert road.parameters["network"]
    # the lines follow the roads: more vertices than the stops, and they pass every stop
    stops_per_convoy = road.stops.groupby("convoy_id").size()
    vertices = road.routes.set_index("convoy_id").geometry.count_coordinates()
    assert (vertices > stops_per_convoy.reindex(vertices.index)).any()
    for convoy_id, rows in road.stops.groupby("convoy_id"):
        line = road.routes.set_index("convoy_id").geometry.loc[convoy_id]
        for lon, lat in rows[["lon", "lat"]].to_numpy():
            assert line.distance(shapely.Point(lon, lat)) < 1e-6
    assert not road.stops["arrive_s"].equals(straight.stops["arrive_s"])


@needs_browser
def test_the_report_and_the_manifests_open_offline(repo_root, tmp_path):
    plan, points, boxes, _ = small_case(6, seed=2, governorates=("Babil", "Wassit"))
    tp = es.plan_transfer(plan, points, boxes=boxes, time_limit_s=3, max_iterations=100)
    basemap = gpd.read_file(repo_root / "data" / "sample" / "governorates.geojson")
    page = tp.report(tmp_path / "night.html", basemap=basemap)
    text = page.read_text(encoding="utf-8")
    assert not WEB_ASSET.search(text)
    assert text.count("<polyline") == len(tp.routes)
    drawn = render_offline(tmp_path, page)
    assert drawn["errors"] == []
    assert drawn["requests"] == []
    manifest = tp.manifests(tmp_path / "m")[1]
    assert not WEB_ASSET.search(manifest.read_text(encoding="utf-8"))
    assert render_offline(tmp_path, manifest)["requests"] == []


def test_routes_meet_the_media_deadline_when_they_can():
    plan, points, boxes, centers = small_case(8, seed=6)
    kw = {"boxes": boxes, "vehicles": {"vehicles_per_team": 1}, "time_limit_s": 3}
    loose = es.plan_transfer(plan, points, media_deadline_min=600, max_iterations=500, **kw)
    tight = es.plan_transfer(plan, points, media_deadline_min=240, max_iterations=500, **kw)
    check_transfer(tight, plan, points, boxes, centers, deadline_s=READY_S + 240 * 60)
    # the cheapest routes hand over too late for a 4-hour deadline; tighter ones do not
    assert loose.media["arrive_s"].max() > READY_S + 240 * 60
    assert tight.media["on_time"].all()
    assert list(tight.parts["routed_to"]) == ["media_deadline"]
    assert tight.routes["duration_s"].sum() >= loose.routes["duration_s"].sum()
    # impossible deadline: routed to the warehouse hours, flagged late with the earliest time
    late = es.plan_transfer(plan, points, media_deadline_min=150, max_iterations=500, **kw)
    check_transfer(late, plan, points, boxes, centers, deadline_s=READY_S + 150 * 60)
    assert list(late.parts["routed_to"]) == ["warehouse_hours"]
    assert not late.media["on_time"].any()
    assert (late.media["earliest_s"] > READY_S + 150 * 60).all()


def test_to_dict_follows_the_transfer_schema_with_drops():
    plan, points, boxes, _ = small_case(5, seed=3)
    boxes = boxes.copy()
    boxes.iloc[0] = 60
    data = es.plan_transfer(plan, points, boxes=boxes, time_limit_s=2, max_iterations=50).to_dict()
    assert data["dropped"][0]["reason"] == "capacity"
    assert check(json.loads(json.dumps(data)), transfer_schema(), table="transfer") == []
    data["stops"][0]["action"] = "teleport"
    assert check(data, transfer_schema(), table="transfer") != []


PROPERTY = settings(max_examples=12, deadline=None, derandomize=True, database=None)


@PROPERTY
@given(
    n=st.integers(1, 7),
    seed=st.integers(0, 10_000),
    capacity=st.integers(6, 30),
    per_team=st.sampled_from([0.5, 1.0, 2.0]),
    max_route_min=st.sampled_from([None, 40, 90]),
    closes=st.sampled_from(["08:00", "21:00", "20:30"]),
    rate=st.sampled_from([None, 2, 30]),
)
def test_any_small_night_checks_out(n, seed, capacity, per_team, max_route_min, closes, rate):
    plan, points, boxes, centers = small_case(
        n, seed=seed, governorates=("Babil", "Wassit"), closes=closes, convoys_per_hour=rate
    )
    tp = es.plan_transfer(
        plan,
        points,
        boxes=boxes,
        vehicles={"vehicles_per_team": per_team, "boxes_per_vehicle": capacity},
        max_route_min=max_route_min,
        time_limit_s=2,
        max_iterations=100,
    )
    route_s = None if max_route_min is None else max_route_min * 60
    check_transfer(tp, plan, points, boxes, centers, capacity=capacity, per_team=per_team,
                   max_route_s=route_s)  # fmt: skip
    for row in tp.dropped.itertuples():  # each drop carries the numbers that justify it
        if row.reason == "capacity":
            assert row.boxes > row.capacity == capacity
        elif row.reason == "unreachable":
            too_late = row.earliest_s > row.closing_s
            assert too_late or (route_s is not None and row.min_route_s > route_s)
        elif row.reason == "intake_rate":
            assert row.earliest_s > row.closing_s


def test_a_late_gate_queue_is_routed_again_to_end_sooner(monkeypatch):
    plan, points, boxes, centers = small_case(8, seed=7, convoys_per_hour=6)
    kw = {"boxes": boxes, "vehicles": {"vehicles_per_team": 2}, "media_deadline_min": 230,
          "time_limit_s": 3, "max_iterations": 300}  # fmt: skip
    fixed = es.plan_transfer(plan, points, **kw)
    check_transfer(fixed, plan, points, boxes, centers, per_team=2, deadline_s=READY_S + 230 * 60)
    assert list(fixed.parts["routed_to"]) == ["media_deadline_gate"]
    monkeypatch.setattr(tr_gates, "_gate_slots", lambda *_: {})
    first = es.plan_transfer(plan, points, **kw)
    assert list(first.parts["routed_to"]) == ["media_deadline"]
    assert fixed.routes["handover_s"].max() < first.routes["handover_s"].max()
    assert fixed.media["arrive_s"].max() < first.media["arrive_s"].max()
    # the first routes' media are late, and avoidably so: the re-routed plan is in time
    assert list(fixed.media["reason"]) == [""]
    assert list(first.media["reason"]) == ["routes"]
    assert first.summary()["media_late_avoidable"] == 1


def test_escorts_cap_the_convoys_of_each_garrison():
    plan, points, boxes, centers = small_case(6, seed=2, governorates=("Babil", "Wassit"))
    kw = {"boxes": boxes, "vehicles": {"boxes_per_vehicle": 12}, "time_limit_s": 3,
          "max_iterations": 200}  # fmt: skip
    free = es.plan_transfer(plan, points, **kw)
    capped = es.plan_transfer(plan, points, escorts={"G0": 1}, **kw)
    check_transfer(capped, plan, points, boxes, centers, capacity=12)
    assert free.routes.groupby("garrison_id").size()["G0"] > 1
    assert capped.routes.groupby("garrison_id").size().to_dict() == {"G0": 1}
    dropped = capped.dropped.set_index("center_id")["reason"]
    assert (dropped[dropped.index.str.startswith("C1")] == "no_vehicle").all()
    assert dropped.index.str.startswith("C1").sum() == 6  # no escort free at G1
    for bad, column in (({"G9": 1}, "garrison_id"), ({"G0": -1}, "teams")):
        with pytest.raises(es.InputError) as info:
            es.plan_transfer(plan, points, escorts=bad, **kw)
        assert column in {i.column for i in info.value.issues}


def test_a_slow_gate_counts_in_the_earliest_media():
    kw = {"vehicles": {"boxes_per_vehicle": 8, "vehicles_per_team": 2}, "media_deadline_min": 240,
          "time_limit_s": 3, "max_iterations": 300}  # fmt: skip
    deadline_s = READY_S + 240 * 60
    plan, points, boxes, centers = small_case(8, seed=6)
    free = es.plan_transfer(plan, points, boxes=boxes, **kw)
    check_transfer(free, plan, points, boxes, centers, capacity=8, per_team=2,
                   deadline_s=deadline_s)  # fmt: skip
    plan, points, boxes, centers = small_case(8, seed=6, convoys_per_hour=2)
    slow = es.plan_transfer(plan, points, boxes=boxes, **kw)
    check_transfer(slow, plan, points, boxes, centers, capacity=8, per_team=2,
                   deadline_s=deadline_s)  # fmt: skip
    assert free.dropped.empty  # the same centres collected
    assert slow.dropped.empty
    f, g = free.media.iloc[0], slow.media.iloc[0]
    # without the gate, media of these centres could make it (and these do)
    assert (f["on_time"], f["reason"], f["gate_wait_s"], f["late_s"]) == (True, "", 0, 0)
    assert f["earliest_s"] <= deadline_s
    # 2 convoys an hour: >= ceil(boxes / 8) convoys 30 min apart at the gate push the bound
    # past the deadline; the centres' drives alone would not
    assert math.ceil(boxes.sum() / 8) >= 3
    assert g["earliest_s"] > f["earliest_s"]
    assert g["earliest_s"] > deadline_s
    assert (g["on_time"], g["reason"]) == (False, "too_far")
    assert g["late_s"] == g["arrive_s"] - deadline_s > 0
    assert g["gate_wait_s"] > 0
    assert slow.summary()["media_late_avoidable"] == 0


def test_an_impossible_deadline_is_too_far():
    plan, points, boxes, centers = small_case(4, seed=2)
    tp = es.plan_transfer(plan, points, boxes=boxes, media_deadline_min=120, time_limit_s=3,
                          max_iterations=200)  # fmt: skip
    check_transfer(tp, plan, points, boxes, centers, deadline_s=READY_S + 120 * 60)
    row = tp.media.iloc[0]
    # the road to the tally alone takes more than 2 h after the boxes are ready
    assert row["earliest_s"] > row["deadline_s"] == READY_S + 120 * 60
    assert (row["on_time"], row["reason"]) == (False, "too_far")
    assert row["late_s"] == row["arrive_s"] - row["deadline_s"]
    assert row["last_handover_s"] == tp.routes["handover_s"].max()
    summary = tp.summary()
    assert (summary["media_late"], summary["media_late_avoidable"]) == (1, 0)


def test_far_centres_that_cannot_share_a_convoy_are_too_far():
    # Four centres ~1 h out in four directions, a gate taking 2 convoys an hour, vehicles
    # that could carry every box: the boxes and the slowest drive allow the deadline, but
    # no two centres can share a convoy in time, so 4 convoys queue 30 min apart.
    x0, y0 = 44.0, 32.5
    spots = [(x0 + 0.4, y0), (x0 - 0.4, y0), (x0, y0 + 0.35), (x0, y0 - 0.35)]
    centers = _points([{"center_id": f"C{i}", "demand": 1, "governorate": "Babil",
                        "lon": x, "lat": y} for i, (x, y) in enumerate(spots)])  # fmt: skip
    garrisons = _points([{"garrison_id": "G0", "capacity": 50, "governorate": "Babil",
                          "lon": x0 + 0.01, "lat": y0}])  # fmt: skip
    points = _points([
        {"point_id": "W0", "kind": "warehouse", "governorates": "Babil", "opens": "18:00",
         "closes": "08:00", "convoys_per_hour": 2, "lon": x0, "lat": y0},
        {"point_id": "T", "kind": "tally", "governorates": "*", "lon": 44.38, "lat": 33.3},
    ])  # fmt: skip
    plan = es.solve_assignment(centers, garrisons)
    boxes = pd.Series(2, index=centers["center_id"].to_numpy())
    deadline_min = 270
    tp = es.plan_transfer(plan, points, boxes=boxes, media_deadline_min=deadline_min,
                          vehicles={"vehicles_per_team": 1, "boxes_per_vehicle": 40},
                          time_limit_s=3, max_iterations=300)  # fmt: skip
    deadline_s = READY_S + deadline_min * 60
    check_transfer(tp, plan, points, boxes, centers.set_index("center_id"), per_team=1,
                   deadline_s=deadline_s)  # fmt: skip
    row = tp.media.iloc[0]
    wh, tally = (x0, y0), (44.38, 33.3)
    slowest = max(LOAD_S[0] + 2 * LOAD_S[1] + road_s(s, wh) for s in spots)
    simple = READY_S + slowest + HANDLING_S + road_s(wh, tally)
    assert simple <= deadline_s  # the slowest drive and the boxes alone rule nothing out
    assert (row["on_time"], row["reason"]) == (False, "too_far")
    assert row["earliest_s"] > deadline_s
    # four convoys, 30 min apart, after the fastest centre's lone drive
    fastest = min(LOAD_S[0] + 2 * LOAD_S[1] + road_s(s, wh) for s in spots)
    assert row["earliest_s"] >= READY_S + fastest + 3 * 1799 + HANDLING_S + road_s(wh, tally)


def test_the_second_routes_share_the_time_left(monkeypatch):
    # A clock 30 s before the deadline: budgets 2 and 4 s grow to 10 and 20 s, 20 and 40 s
    # shrink to them, in proportion; past the deadline each keeps 0.05 s; unchanged
    # without a deadline.
    monkeypatch.setattr(tr_gates.time, "perf_counter", lambda: 1000.0)
    assert tr_gates._again_budgets([2.0, 4.0], 1030.0) == [10.0, 20.0]
    assert tr_gates._again_budgets([20.0, 40.0], 1030.0) == [10.0, 20.0]
    assert tr_gates._again_budgets([2.0, 4.0], 990.0) == [0.05, 0.05]
    assert tr_gates._again_budgets([2.0, 4.0], None) == [2.0, 4.0]
    assert tr_gates._again_budgets([], 1030.0) == []


BAGHDAD_OSM = Path(__file__).resolve().parents[2] / "shared/data/roads/baghdad_osm/Baghdad.osm"


@pytest.mark.skipif(not BAGHDAD_OSM.exists(), reason="the shared Baghdad OSM extract is absent")
def test_a_night_on_the_baghdad_osm_roads_drives_each_leg_its_own_way(repo_root):
    # Real one-way streets: every leg's time is the road time from its stop to the next
    # (distance_matrix's garrison -> centre direction), not the way back.
    import sys

    from electsec.network import RoadNetwork, network_costs

    sys.path.insert(0, str(repo_root / "benchmarks"))
    import bench_osm_baghdad as bench

    net = RoadNetwork.from_osm(BAGHDAD_OSM)
    c, g = bench.sample_layers(BAGHDAD_OSM, 24, 3, seed=11, core=True)
    c = c.assign(governorate="Baghdad")
    plan = es.solve_assignment(c, g)
    wh_xy = (c.geometry.x.mean(), c.geometry.y.mean())
    points = _points([
        {"point_id": "W", "kind": "warehouse", "governorates": "Baghdad", "lon": wh_xy[0],
         "lat": wh_xy[1]},
        {"point_id": "T", "kind": "tally", "governorates": "*", "lon": wh_xy[0] + 0.01,
         "lat": wh_xy[1] + 0.01},
    ])  # fmt: skip
    boxes = pd.Series(3, index=c.index.astype(str))
    tp = es.plan_transfer(plan, points, boxes=boxes, network=net, time_limit_s=5,
                          max_iterations=300)  # fmt: skip
    check_transfer(tp, plan, points, boxes, c, legs=False)
    assert tp.dropped.empty
    stops = tp.stops.sort_values(["convoy_id", "sequence"])
    xy = stops[["lon", "lat"]].to_numpy()
    same = stops["convoy_id"].to_numpy()[1:] == stops["convoy_id"].to_numpy()[:-1]
    asymmetric = 0
    for k in np.flatnonzero(same):
        a, b = (gpd.GeoDataFrame(geometry=[shapely.Point(p)], index=[n], crs="EPSG:4326")
                for p, n in ((xy[k], "a"), (xy[k + 1], "b")))  # fmt: skip
        there = network_costs(b, a, net, metric="travel_time").matrix.toarray()[0, 0]
        back = network_costs(a, b, net, metric="travel_time").matrix.toarray()[0, 0]
        leg = stops["arrive_s"].iloc[k + 1] - stops["depart_s"].iloc[k]
        assert leg == math.ceil(there - 1e-9), (k, leg, there, back)
        asymmetric += abs(there - back) > 60
    assert asymmetric > 0  # the check can tell the two ways apart on these legs
