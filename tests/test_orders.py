"""Tasking orders: every movement in exactly one garrison's order, commands exact, offline.

The checks read the written files back with the csv module and regular expressions and
compare them with the timeline's own movements table and with the input layers
(which garrison belongs to which command): nothing here calls the code that wrote them.
The timeline of most tests is built by hand to the timeline contract, so that the
orders are checked against known times (late movements and backup duty included).
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st

import electsec as es
from electsec.orders import ORDER_COLUMNS, safe_file_stem, write_orders
from helpers import WEB_ASSET, needs_browser, render_offline

TIMES = ("depart", "arrive", "in_place_by", "polls_open", "polls_close", "release", "return_at")
DATES = {"special": "2025-11-09", "general": "2025-11-11"}


@dataclass(frozen=True)
class HandTimeline:
    """A timeline with the contract's fields, its times computed by hand below."""

    movements: pd.DataFrame
    by_hour: pd.DataFrame
    backup_response: pd.DataFrame
    late: pd.DataFrame
    parameters: dict[str, Any]
    plan: Any = field(repr=False)


def hand_timeline(election, *, speed_kmh=30.0, late_centers=(), backup=None):
    """Movements by the contract's rules: in place 60 min before 07:00, back after travel.

    Centres in ``late_centers`` are made late by 25 minutes (departing at the earliest
    departure).
    """
    frames = []
    for phase, plan in election.days.items():
        day = pd.Timestamp(election.dates[phase])
        a = plan.assignments
        travel = a["distance_m"].to_numpy() / (speed_kmh / 3.6)
        opens, closes = day + pd.Timedelta(hours=7), day + pd.Timedelta(hours=18)
        in_place = opens - pd.Timedelta(minutes=60)
        late = a["center_id"].isin(late_centers).to_numpy()
        late_s = np.where(late, 25 * 60.0, 0.0)
        arrive = in_place + pd.to_timedelta(late_s, unit="s")
        release = closes + pd.Timedelta(minutes=120)
        frames.append(
            pd.DataFrame(
                {
                    "phase": phase,
                    "date": day,
                    "garrison_id": a["garrison_id"].to_numpy(),
                    "center_id": a["center_id"].to_numpy(),
                    "teams": a["teams"].to_numpy(),
                    "distance_m": a["distance_m"].to_numpy(),
                    "travel_s": travel,
                    "depart": arrive - pd.to_timedelta(travel, unit="s"),
                    "arrive": arrive,
                    "in_place_by": in_place,
                    "polls_open": opens,
                    "polls_close": closes,
                    "release": release,
                    "return_at": release + pd.to_timedelta(travel, unit="s"),
                    "on_time": ~late,
                    "late_s": late_s,
                    "travel_source": "geodesic",
                    "center_name": plan.center_info["name"].reindex(a["center_id"]).to_numpy(),
                    "tier": plan.center_info["tier"].reindex(a["center_id"]).to_numpy(),
                }
            )
        )
    movements = pd.concat(frames, ignore_index=True)
    return HandTimeline(
        movements=movements,
        by_hour=pd.DataFrame(),
        backup_response=pd.DataFrame() if backup is None else backup,
        late=movements[~movements["on_time"]],
        parameters={"polls_open": "07:00", "polls_close": "18:00", "in_place_min": 60},
        plan=election,
    )


@pytest.fixture
def commanded(tiny):
    """The tiny layers, garrisons under three commands (one a path-like name, one none)."""
    centers, garrisons = tiny
    garrisons = garrisons.copy()
    garrisons["command"] = ["North OC", "North OC", "../South", "../South", "North OC", None]
    return centers, garrisons


@pytest.fixture
def election(commanded):
    centers, garrisons = commanded
    layers = {"special": centers.iloc[:10].drop(columns="phase"), "general": centers.iloc[10:]}
    return es.plan_election(layers, garrisons, min_retained=0.5, dates=DATES)


def assert_times_to_the_minute(row, move):
    """An order's times are the timeline's to the whole minute a commander reads.

    The departure rounds down (leave no later than stated), every other time rounds up
    (arrive, release, back home no sooner than stated).
    """
    for column in TIMES:
        exact = getattr(move, column)
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:00", row[column]), row[column]
        shown = pd.Timestamp(row[column])
        if column == "depart":
            assert exact - pd.Timedelta(minutes=1) < shown <= exact, column
        else:
            assert exact <= shown < exact + pd.Timedelta(minutes=1), column


def read_rows(path):
    with Path(path).open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == ORDER_COLUMNS
        return list(reader)


def page_id(path):
    """The garrison id an order's title names: 'Tasking order — NAME (ID)'."""
    text = Path(path).read_text(encoding="utf-8")
    return re.search(r"<h1>Tasking order — .* \((.*?)\)</h1>", text).group(1)


def linked_ids(page, folder="../garrisons/"):
    """The garrison ids of the orders a page links to (read from the linked pages)."""
    text = Path(page).read_text(encoding="utf-8")
    hrefs = re.findall(rf"href='{re.escape(folder)}([^']+\.html)'", text)
    return {page_id(Path(page).parent / folder / href) for href in hrefs}


def test_every_movement_is_in_exactly_one_garrison_order_with_its_times(election, tmp_path):
    timeline = hand_timeline(election, late_centers=("TC012",))
    written = write_orders(timeline, tmp_path / "orders")
    assert all(p.is_file() for p in written)
    seen = {}
    for path in sorted((tmp_path / "orders" / "garrisons").glob("*.csv")):
        owner = page_id(path.with_suffix(".html"))
        for row in read_rows(path):
            assert row["garrison_id"] == owner  # an order holds its own garrison's rows only
            if row["duty"] == "guard":
                key = (row["phase"], row["garrison_id"], row["center_id"])
                assert key not in seen, f"{key} twice"
                seen[key] = row
    moves = timeline.movements
    assert len(seen) == len(moves)
    for move in moves.itertuples(index=False):
        row = seen[(move.phase, move.garrison_id, move.center_id)]
        assert_times_to_the_minute(row, move)
        assert int(row["teams"]) == move.teams
        assert row["date"] == DATES[move.phase]
        assert row["on_time"] == str(bool(move.on_time))
        assert re.fullmatch(r"\d+", row["travel_s"])
        assert re.fullmatch(r"\d+", row["distance_m"])
        assert move.travel_s <= int(row["travel_s"]) < move.travel_s + 1
        assert abs(int(row["distance_m"]) - move.distance_m) <= 0.5
        assert row["center_name"] == move.center_name
        assert row["tier"] == move.tier
    # every garrison of the plan has an order, tasked or not (TG06 guards nothing on day 1)
    ids = {page_id(p) for p in (tmp_path / "orders" / "garrisons").glob("*.html")}
    assert ids == set(election.forces_by_day["garrison_id"])


def test_the_real_timeline_with_backups_gives_orders_and_backup_duty(commanded, tmp_path):
    centers, garrisons = commanded
    garrisons = garrisons.assign(reserve=2)
    layers = {"special": centers.iloc[:10].drop(columns="phase"), "general": centers.iloc[10:]}
    election = es.plan_election(
        layers,
        garrisons,
        min_retained=0.5,
        dates=DATES,
        backup={"max_distance_m": 60_000, "centers_per_team": 3},
    )
    timeline = es.movement_timeline(election, speed_kmh=40, earliest_departure="05:50")
    assert timeline.orders(tmp_path) == write_orders(timeline, tmp_path)
    guard, backup = {}, {}
    for path in (tmp_path / "garrisons").glob("*.csv"):
        for row in read_rows(path):
            key = (row["phase"], row["garrison_id"], row["center_id"])
            into = guard if row["duty"] == "guard" else backup
            assert key not in into
            into[key] = row
    moves = timeline.movements
    keys = zip(moves["phase"], moves["garrison_id"], moves["center_id"], strict=True)
    assert set(guard) == set(keys)
    for move in moves.itertuples(index=False):
        row = guard[(move.phase, move.garrison_id, move.center_id)]
        assert_times_to_the_minute(row, move)
        assert row["on_time"] == str(bool(move.on_time))
    assert (~moves["on_time"]).any()  # 05:50 makes some late: they stay in the orders
    duty = timeline.backup_response[timeline.backup_response["on_duty"]]
    expected = duty.groupby(["phase", "backup_garrison_id", "center_id"])
    assert backup
    assert set(backup) == set(expected.groups)
    for key, hours in expected:
        row = backup[key]
        best = hours["response_s"].min()  # whole seconds, rounded up
        assert best <= int(row["backup_best_s"]) < best + 1
        worst = np.maximum(hours["committed_response_s"], hours["response_s"]).max()
        assert worst <= int(row["backup_worst_s"]) < worst + 1
        bad = hours[~(hours["within_limit"] & hours["committed_within_limit"])]
        assert row["backup_hours_beyond_limit"].split() == [
            h.strftime("%H:%M") for h in bad["hour"]
        ]


def test_late_movements_are_marked_in_the_order(election, tmp_path):
    timeline = hand_timeline(election, late_centers=("TC012",))
    late = timeline.movements[timeline.movements["center_id"] == "TC012"].iloc[0]
    write_orders(timeline, tmp_path)
    pages = {page_id(p): p for p in (tmp_path / "garrisons").glob("*.html")}
    text = pages[late["garrison_id"]].read_text(encoding="utf-8")
    row = re.search(r"<tr>(?:(?!</tr>|<tr>).)*\(TC012\).*?</tr>", text, flags=re.DOTALL).group(0)
    assert "LATE by 25 min" in row
    assert late["arrive"].strftime("%H:%M") in row
    on_time = [p for g, p in pages.items() if g != late["garrison_id"]]
    assert all("LATE" not in p.read_text(encoding="utf-8") for p in on_time)


def test_command_pages_list_exactly_their_garrisons(commanded, election, tmp_path):
    _, garrisons = commanded
    write_orders(hand_timeline(election), tmp_path)
    command_of = dict(
        zip(
            garrisons.index,
            garrisons["command"].fillna(""),
            strict=True,
        )
    )
    expected = {c: {g for g, k in command_of.items() if k == c} for c in set(command_of.values())}
    pages = sorted((tmp_path / "commands").glob("*.html"))
    assert len(pages) == len(expected) == 3
    found = {}
    for page in pages:
        title = re.search(r"<h1>Tasking orders — (.*?)</h1>", page.read_text()).group(1)
        name = "" if title == "(no command)" else title.replace("&#x27;", "'")
        found[name.replace("&lt;", "<").replace("&gt;", ">")] = page
        rows = read_rows(page.with_suffix(".csv"))
        ids = linked_ids(page)
        assert {r["garrison_id"] for r in rows} <= ids
        # the command's CSV holds exactly its garrisons' rows (the same lines)
        own = [
            r
            for g in ids
            for p in (tmp_path / "garrisons").glob("*.csv")
            if page_id(p.with_suffix(".html")) == g
            for r in read_rows(p)
        ]
        key = lambda r: tuple(r.values())  # noqa: E731
        assert sorted(map(key, rows)) == sorted(map(key, own))
    assert set(found) == set(expected)
    for name, page in found.items():
        assert linked_ids(page) == expected[name]
    index = tmp_path / "index.html"
    assert linked_ids(index, "garrisons/") == set(command_of)
    assert len(re.findall(r"href='commands/", index.read_text())) == 3


def test_backup_duty_is_summarised_from_the_response_table(election, tmp_path):
    plan = election.days["general"]
    centers = list(plan.assignments["center_id"][:3])
    hours = range(6, 21)
    backup = pd.DataFrame(
        [
            {
                "phase": "general",
                "center_id": c,
                "backup_garrison_id": "TG06",
                "hour": h,
                "response_s": 600.0 + 60 * k + (3000.0 if (k == 1 and h in (9, 10)) else 0),
                "limit_s": 1800.0,
                "within_limit": not (k == 1 and h in (9, 10)),
                "reserve_committed_at": pd.NaT,
            }
            for k, c in enumerate(centers)
            for h in hours
        ]
    )
    write_orders(hand_timeline(election, backup=backup), tmp_path)
    page = next(p for p in (tmp_path / "garrisons").glob("*.html") if page_id(p) == "TG06")
    rows = [r for r in read_rows(page.with_suffix(".csv")) if r["duty"] == "backup"]
    assert sorted(r["center_id"] for r in rows) == sorted(centers)
    for row in rows:
        k = centers.index(row["center_id"])
        expected = backup[backup["center_id"] == row["center_id"]]["response_s"]
        assert float(row["backup_best_s"]) == expected.min()
        assert float(row["backup_worst_s"]) == expected.max()
        assert float(row["backup_limit_s"]) == 1800.0
        assert row["backup_hours_beyond_limit"] == ("09:00 10:00" if k == 1 else "")
        assert row["depart"] == row["return_at"] == ""
        assert row["phase"] == "general"
        assert row["date"] == DATES["general"]
    text = page.read_text(encoding="utf-8")
    assert "Backup duty" in text
    assert "09:00 10:00" in text


@pytest.mark.parametrize(
    "ids",
    [
        ["../x", "..", "a/b", "/etc/passwd", "CON", "nul", "G1", "g1", "x y", "قاعدة", ""],
        ["g1", "G1", "g1-" + "0" * 10, "g_1", "g 1", "g/1"],
    ],
)
def test_file_names_stay_in_the_folder_and_never_clash(tiny, tmp_path, ids):
    centers, garrisons = tiny
    n = len(ids)
    many = gpd.GeoDataFrame(
        {
            "garrison_id": ids,
            "capacity": 20,
            "command": ids,  # commands named like the ids too
        },
        geometry=list(garrisons.geometry.iloc[np.arange(n) % len(garrisons)]),
        crs="EPSG:4326",
    )
    many = many[many["garrison_id"] != ""] if "" in ids else many
    general = centers.iloc[:12]
    election = es.plan_election(
        {"general": general}, many, split=True, dates={"general": DATES["general"]}
    )
    folder = tmp_path / "orders"
    written = write_orders(hand_timeline(election), folder)
    assert len(written) == len(set(written))
    root = folder.resolve()
    for path in written:
        assert root in path.resolve().parents
        assert path.resolve().parent.name in ("garrisons", "commands", "orders")
    files = [p.name.lower() for p in (folder / "garrisons").iterdir()]
    assert len(files) == len(set(files)) == 2 * len(many)
    assert {page_id(p) for p in (folder / "garrisons").glob("*.html")} == set(many["garrison_id"])
    assert len(list((folder / "commands").glob("*.html"))) == len(many)
    assert not (tmp_path / "x.html").exists()


def test_safe_file_stem_keeps_plain_ids():
    taken: set[str] = set()
    assert safe_file_stem("G0001", taken) == "G0001"
    assert safe_file_stem("G0001", taken) != "G0001"  # taken: a hashed stem
    stem = safe_file_stem("../../etc/passwd", taken)
    assert "/" not in stem
    assert "." not in stem


RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{k}" for p in ("COM", "LPT") for k in range(10)}


@given(st.lists(st.text(min_size=1, max_size=80), unique=True, max_size=30))
def test_stems_are_safe_and_distinct_for_any_ids(names):
    taken: set[str] = set()
    stems = []
    for name in names:
        before = set(taken)
        stem = safe_file_stem(name, taken)
        assert re.fullmatch(r"[A-Za-z0-9_-]+", stem), stem
        assert stem.upper() not in RESERVED
        assert len(stem) <= 100
        plain = re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,58}[A-Za-z0-9]|[A-Za-z0-9]", name)
        if plain and name.upper() not in RESERVED and name.lower() not in before:
            assert stem == name  # a safe, free id keeps its own name
        else:
            assert stem != name
        stems.append(stem)
    assert len({s.lower() for s in stems}) == len(names)  # distinct even without case


def test_road_routes_follow_the_roads(election, repo_root, tmp_path):
    from electsec.network import RoadNetwork

    roads = gpd.read_file(repo_root / "data" / "sample" / "roads.gpkg")
    network = RoadNetwork.from_roads(roads)
    write_orders(hand_timeline(election), tmp_path, network=network)
    rows = [r for p in (tmp_path / "garrisons").glob("*.csv") for r in read_rows(p)]
    assert rows
    assert {r["route"] for r in rows if r["duty"] == "guard"} <= {"road", "straight"}
    assert sum(r["route"] == "road" for r in rows) > len(rows) / 2
    page = next((tmp_path / "garrisons").glob("*.html")).read_text()
    points = [len(p.split()) for p in re.findall(r"<polyline points='([^']*)'", page)]
    assert max(points) > 2  # a road path bends; a straight line has two points


def test_routes_follow_the_network_the_timeline_was_timed_on(election, repo_root, tmp_path):
    from electsec.network import RoadNetwork

    network = RoadNetwork.from_roads(gpd.read_file(repo_root / "data" / "sample" / "roads.gpkg"))
    timed = es.movement_timeline(election, network=network)
    write_orders(timed, tmp_path / "roads")
    write_orders(hand_timeline(election), tmp_path / "straight")
    for folder, kind in (("roads", "road"), ("straight", "straight")):
        rows = [r for p in (tmp_path / folder / "garrisons").glob("*.csv") for r in read_rows(p)]
        routes = [r["route"] for r in rows if r["duty"] == "guard"]
        assert sum(route == kind for route in routes) > len(routes) / 2, folder


def test_bad_timelines_and_folders_are_refused(election, tmp_path):
    with pytest.raises(es.InputError, match="timeline"):
        write_orders(election, tmp_path)
    timeline = hand_timeline(election)
    broken = HandTimeline(
        timeline.movements.drop(columns=["depart", "return_at"]),
        timeline.by_hour,
        timeline.backup_response,
        timeline.late,
        timeline.parameters,
        timeline.plan,
    )
    with pytest.raises(es.InputError, match="depart, return_at"):
        write_orders(broken, tmp_path)
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(es.InputError, match="directory"):
        write_orders(timeline, file)


def test_the_timeline_is_not_changed(election, tmp_path):
    timeline = hand_timeline(election)
    before = timeline.movements.copy(deep=True)
    write_orders(timeline, tmp_path)
    pd.testing.assert_frame_equal(timeline.movements, before)


def test_pages_carry_no_web_assets(election, tmp_path):
    written = write_orders(hand_timeline(election), tmp_path)
    for path in written:
        if path.suffix == ".html":
            text = path.read_text(encoding="utf-8")
            assert not WEB_ASSET.search(text)
            assert "<script" not in text


@needs_browser
def test_orders_open_offline(election, tmp_path):
    folder = tmp_path / "orders"
    written = write_orders(hand_timeline(election), folder)
    garrison = next(p for p in written if p.parent.name == "garrisons" and p.suffix == ".html")
    command = next(p for p in written if p.parent.name == "commands" and p.suffix == ".html")
    for page in (folder / "index.html", garrison, command):
        drawn = render_offline(tmp_path, page)
        assert drawn["errors"] == []
        assert drawn["requests"] == []


def test_names_are_escaped_in_every_page(tiny, tmp_path):
    centers, garrisons = tiny
    garrisons = garrisons.assign(
        name=["<script>alert(1)</script>", *garrisons["name"].iloc[1:]],
        command=["<b>North</b>"] * 3 + ["South & Co"] * 3,
    )
    election = es.plan_election(
        {"general": centers}, garrisons, dates={"general": DATES["general"]}
    )
    written = write_orders(es.movement_timeline(election, speed_kmh=40), tmp_path)
    for path in (p for p in written if p.suffix == ".html"):
        text = path.read_text(encoding="utf-8")
        assert "<script" not in text
        assert "<b>North</b>" not in text
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index
    assert "South &amp; Co" in index


def test_one_plan_gives_one_voting_day(tiny, tmp_path):
    plan = es.solve_assignment(*tiny)
    timeline = es.movement_timeline(plan, date="2025-11-11", speed_kmh=40)
    written = write_orders(timeline, tmp_path)
    rows = [
        r
        for p in written
        if p.parent.name == "garrisons" and p.suffix == ".csv"
        for r in read_rows(p)
    ]
    assert len(rows) == len(plan.assignments)
    assert {r["date"] for r in rows} == {"2025-11-11"}
    text = (tmp_path / "garrisons" / "TG01.html").read_text(encoding="utf-8")
    assert "Voting day — 2025-11-11" in text
    assert "retained to vote" not in text  # one plan: no forces by day


def test_unknown_options_are_refused_by_name(election, tmp_path):
    timeline = es.movement_timeline(election, speed_kmh=40)
    for call in (timeline.orders, lambda d, **o: write_orders(timeline, d, **o)):
        with pytest.raises(es.InputError, match="netwrk") as caught:
            call(tmp_path / "x", netwrk=None)
        assert "network" in str(caught.value)  # the known option, as the fix
    assert not (tmp_path / "x").exists()  # refused before anything is written


def test_a_rerun_removes_the_orders_of_ids_gone_and_nothing_else(commanded, tmp_path):
    centers, garrisons = commanded
    first = es.plan_election({"general": centers}, garrisons, dates={"general": DATES["general"]})
    written = write_orders(es.movement_timeline(first, speed_kmh=40), tmp_path)
    mine = tmp_path / "garrisons" / "notes.txt"
    mine.write_text("the commander's own notes")
    renamed = garrisons.assign(garrison_id=[f"N{i}" for i in range(len(garrisons))])
    second = es.plan_election({"general": centers}, renamed, dates={"general": DATES["general"]})
    again = write_orders(es.movement_timeline(second, speed_kmh=40), tmp_path)
    on_disk = {p for p in tmp_path.rglob("*") if p.is_file()} - {tmp_path / "MANIFEST.txt"}
    assert on_disk == set(again) | {mine}  # the first run's TG.. pages are gone
    gone = {p for p in written if p.parent.name == "garrisons"}
    assert gone
    assert not gone & set(again)
    ids = {page_id(p) for p in (tmp_path / "garrisons").glob("*.html")}
    assert ids == set(renamed["garrison_id"])


def test_road_routes_give_road_distances(tiny, repo_root, tmp_path):
    from electsec.network import RoadNetwork

    network = RoadNetwork.from_roads(gpd.read_file(repo_root / "data" / "sample" / "roads.gpkg"))
    centers, garrisons = tiny
    costs = es.distance_matrix(centers, garrisons, metric="travel_time", network=network)
    dates = {"general": DATES["general"]}
    election = es.plan_election({"general": centers}, garrisons, costs, dates=dates)
    timed = es.movement_timeline(election, network=network)
    # a plan on road times has no road distance: the timeline names its metres geodesic
    assert set(timed.movements["distance_source"]) == {"geodesic"}
    write_orders(timed, tmp_path)
    rows = [r for p in (tmp_path / "garrisons").glob("*.csv") for r in read_rows(p)]
    guard = [r for r in rows if r["duty"] == "guard"]
    moves = timed.movements.set_index(["phase", "garrison_id", "center_id"])
    # the fastest route is no shorter than the straight line and no longer than the
    # network's top speed (or the off-road speed) sustained for its travel time allows
    top_mps = max(float(np.max(network.length_m / network.time_s)), 1e-9)
    top_mps = max(top_mps, network.offroad_speed_kmh / 3.6)
    roads = 0
    for r in guard:
        move = moves.loc[(r["phase"], r["garrison_id"], r["center_id"])]
        if r["route"] == "road":
            roads += 1
            assert r["distance_source"] == "road"
            assert move["distance_m"] - 1 <= int(r["distance_m"])
            assert int(r["distance_m"]) <= move["travel_s"] * top_mps + 1
        else:
            assert r["distance_source"] == "geodesic"
            assert abs(int(r["distance_m"]) - move["distance_m"]) <= 0.5
    assert roads > len(guard) / 2


def test_pages_show_travel_in_whole_minutes_rounded_up_and_a_map_key(election, tmp_path):
    timeline = hand_timeline(election)
    write_orders(timeline, tmp_path)
    moves = timeline.movements
    for gid, own in moves.groupby("garrison_id"):
        text = next(
            p for p in (tmp_path / "garrisons").glob("*.html") if page_id(p) == gid
        ).read_text(encoding="utf-8")
        shown = sorted(int(m) for m in re.findall(r"<td>(\d+) min, [\d.]+ km", text))
        assert shown == sorted(math.ceil(t / 60) for t in own["travel_s"])
        assert min(shown) >= 1  # a drive is never shown as 0 minutes
        assert "numbered dots: the centres" in text


def test_close_centres_share_one_marker_on_the_route_map():
    from electsec.orders import _svg

    home = (44.0, 32.0)
    far = shapely.LineString([home, (44.5, 32.5)])
    near_a = shapely.LineString([home, (44.2, 32.2)])
    near_b = shapely.LineString([home, (44.2001, 32.2001)])  # a few metres from near_a
    svg = _svg(np.array([far, near_a, near_b], dtype=object), ["CF", "CA", "CB"])
    labels = re.findall(r"fill='#fff'>([^<]+)</text>", svg)
    assert labels == ["1", "2,3"]  # one marker each place, every number shown
    assert "2. CA, 3. CB" in svg  # the tooltip names both centres


@pytest.mark.parametrize("step", [0.004, 0.012, 0.02])
def test_no_two_markers_overlap_on_a_crowded_route_map(step):
    # Centres 3-15 px apart in a row, and a cluster: every marker drawn is clear of the
    # others (as wide as its label) and every centre's number is shown or in a tooltip.
    from electsec.orders import _svg

    home = (44.0, 32.0)
    spots = [(44.2 + step * i, 32.2) for i in range(6)] + [(44.5, 32.5), (44.5001, 32.5)]
    lines = np.array([shapely.LineString([home, p]) for p in spots], dtype=object)
    svg = _svg(lines, [f"C{i}" for i in range(len(spots))])
    boxes = [
        (float(x), float(y), float(w), float(h))
        for x, y, w, h in re.findall(
            r"<rect x='([-\d.]+)' y='([-\d.]+)' width='([\d.]+)' height='([\d.]+)' rx", svg
        )
    ]
    for i, (x, y, w, h) in enumerate(boxes):
        for x2, y2, w2, h2 in boxes[i + 1 :]:
            assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y
    titles = " ".join(re.findall(r"<title>([^<]+)</title>", svg))
    assert all(f"{k}. C{k - 1}" in titles for k in range(1, len(spots) + 1))
