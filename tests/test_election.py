"""plan_election: one plan per voting day, checked against hand-reduced capacities.

The checker here trusts nothing the library computed about the days: the capacities of
each day are recomputed from the options (exact fractions, rounded up), loads are
summed from the assignments, and the votes_agency pairs are rebuilt from the layers.
"""

from __future__ import annotations

import json
import math
import pickle
import re
from fractions import Fraction

import geopandas as gpd
import jsonschema
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import electsec as es
from checker import check_plan
from electsec.schema import check, election_schema
from helpers import WEB_ASSET, make_instance
from reference import pairs_from_mask, reference_optimum

AGENCIES = ("army", "police")


def _two_days(seed, *, n_special=8, n_general=14, m=6, ratio=3.0):
    """Raw layers: special + general centres (one layer, ``phase``) and garrisons."""
    rng = np.random.default_rng(seed)
    general, garrisons = make_instance(rng, n_general, m, capacity_ratio=ratio, demand_min=1)
    special, _ = make_instance(rng, n_special, m, demand_max=2, demand_min=1)
    special["center_id"] = [f"s{i}" for i in range(n_special)]
    centers = pd.concat(
        [special.assign(phase="special"), general.assign(phase="general")], ignore_index=True
    )
    garrisons["agency"] = rng.choice(AGENCIES, size=m)
    return gpd.GeoDataFrame(centers, crs="EPSG:4326"), garrisons


def _teams(fraction, capacity):
    """Exact rounding up of fraction × capacity (independent of the library's floats)."""
    share = Fraction(str(fraction))
    return np.array([math.ceil(share * int(c)) for c in capacity], dtype=np.int64)


def _layers(centers, k):
    """The tiny centres as two days: the first ``k`` special, the rest general."""
    return {"special": centers.iloc[:k].drop(columns="phase"), "general": centers.iloc[k:]}


def _roundtrip(value):
    return pickle.loads(pickle.dumps(value))  # noqa: S301 - our own bytes


def _day(centers, phase):
    return centers[centers["phase"] == phase].reset_index(drop=True)


def _check_forces(election, garrisons, expected):
    """Per day per garrison: used ≤ capacity − retained − held back, loads from assignments."""
    for phase, available in expected.items():
        plan = election.days[phase]
        used = plan.assignments.groupby("garrison_id")["teams"].sum()
        used = used.reindex(garrisons["garrison_id"], fill_value=0).to_numpy()
        assert (used <= available).all(), (phase, used, available)
        rows = election.forces_by_day[election.forces_by_day["phase"] == phase]
        np.testing.assert_array_equal(rows["available"].to_numpy(), available)
        np.testing.assert_array_equal(rows["used"].to_numpy(), used)
        np.testing.assert_array_equal(rows["capacity"].to_numpy(), garrisons["capacity"])


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    retained=st.sampled_from([0.0, 0.2, 0.25, 0.5, 1.0]),
    held=st.sampled_from([0.0, 0.1, 0.3]),
)
def test_each_day_is_the_plan_with_capacity_reduced_by_hand(seed, retained, held):
    centers, garrisons = _two_days(seed)
    election = es.plan_election(
        centers, garrisons, min_retained=retained, hold_back=held, split=True, coverage="max"
    )
    assert list(election.days) == ["special", "general"]
    capacity = garrisons["capacity"].to_numpy(np.int64)
    expected = {
        "special": capacity - _teams(retained, capacity),
        "general": capacity - _teams(held, capacity),
    }
    _check_forces(election, garrisons, expected)
    for phase, available in expected.items():
        reduced = garrisons.assign(capacity=available)
        day = _day(centers, phase)
        by_hand = es.solve_assignment(day, reduced, split=True, coverage="max")
        plan = election.days[phase]
        assert plan.objective == by_hand.objective
        assert plan.coverage_status == by_hand.coverage_status
        check_plan(plan, day, reduced, split=True)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_special_day_matches_an_exact_lp_with_reduced_capacity(seed):
    centers, garrisons = _two_days(seed, ratio=2.0)
    election = es.plan_election(centers, garrisons, min_retained=0.25, split=True)
    special = _day(centers, "special")
    capacity = garrisons["capacity"].to_numpy(np.int64)
    reduced = garrisons.assign(capacity=capacity - _teams(0.25, capacity))
    optimum = reference_optimum(special, reduced, split=True)
    assert optimum is not None
    assert election.special.objective == optimum
    check_plan(election.special, special, reduced, split=True)


def _votes(centers, rng):
    return [
        ",".join(sorted(rng.choice(AGENCIES, size=int(rng.integers(0, 2)), replace=False)))
        for _ in range(len(centers))
    ]


@pytest.mark.parametrize("seed", [4, 5, 6, 7])
@pytest.mark.parametrize("given_costs", [False, True])
def test_votes_agency_pairs_are_never_used_and_the_plan_is_exact(seed, given_costs):
    centers, garrisons = _two_days(seed, ratio=4.0)
    rng = np.random.default_rng(seed)
    is_special = (centers["phase"] == "special").to_numpy()
    centers["votes_agency"] = ""
    centers.loc[is_special, "votes_agency"] = _votes(centers[is_special], rng)
    costs = es.distance_matrix(centers, garrisons) if given_costs else None
    election = es.plan_election(centers, garrisons, costs, split=True, coverage="max")
    special = _day(centers, "special")
    banned = np.array(
        [[a in v.split(",") for a in garrisons["agency"]] for v in special["votes_agency"]]
    )
    pairs = pairs_from_mask(special, garrisons, ~banned)
    check_plan(election.special, special, garrisons, split=True, allowed_pairs=pairs)
    optimum = reference_optimum(special, garrisons, split=True, allowed=~banned)
    if election.special.coverage_status == "complete":
        assert election.special.objective == optimum
    else:
        assert optimum is None


def test_solve_assignment_honours_votes_agency_too(tiny):
    centers, garrisons = tiny
    voting = centers.assign(votes_agency="police")
    plan = es.solve_assignment(voting, garrisons, split=True, coverage="max")
    serving = plan.assignments["garrison_id"].map(garrisons["agency"])
    assert (serving != "police").all()
    pairs = [
        (c, g) for c in centers.index for g in garrisons.index[garrisons["agency"] != "police"]
    ]
    check_plan(plan, centers, garrisons, split=True, allowed_pairs=pairs)


def test_votes_agency_as_the_only_agency_leaves_the_centre_uncovered(tiny):
    centers, garrisons = tiny
    special = centers.iloc[:5].assign(phase="special", votes_agency="army,police,federal_police")
    election = es.plan_election(
        {"special": special, "general": centers.iloc[5:]}, garrisons, coverage="max"
    )
    assert election.special.assignments.empty
    uncovered = election.special.uncovered
    assert set(uncovered["center_id"]) == set(special.index)
    assert (uncovered["cause"] == "jurisdiction").all()
    assert uncovered["reason"].str.contains("agency votes").all()
    with pytest.raises(es.InfeasibleError, match="special day") as info:
        es.plan_election({"special": special, "general": centers.iloc[5:]}, garrisons)
    assert info.value.partial is not None
    assert _roundtrip(info.value).diagnosis == info.value.diagnosis


def test_a_retained_column_of_counts_or_fractions(tiny):
    centers, garrisons = tiny
    layers = _layers(centers, 8)
    counts = garrisons.assign(votes=np.arange(len(garrisons)), share=0.5, rest=1)
    election = es.plan_election(layers, counts, min_retained="votes", hold_back="rest")
    forces = election.forces_by_day.set_index(["phase", "garrison_id"])
    np.testing.assert_array_equal(forces.loc["special", "retained"], np.arange(len(garrisons)))
    np.testing.assert_array_equal(forces.loc["general", "held_back"], np.ones(len(garrisons)))
    by_share = es.plan_election(layers, counts, min_retained="share")
    expected = _teams(0.5, garrisons["capacity"])
    np.testing.assert_array_equal(
        by_share.forces_by_day.set_index("phase").loc["special", "retained"], expected
    )


def test_reserves_stay_held_back_from_what_a_day_has_left(tiny):
    centers, garrisons = tiny
    garrisons = garrisons.assign(reserve=2)
    election = es.plan_election(_layers(centers, 10), garrisons, min_retained=0.25)
    capacity = garrisons["capacity"].to_numpy(np.int64)
    special = election.special.garrison_load.set_index("garrison_id")
    np.testing.assert_array_equal(special["capacity"], capacity - _teams(0.25, capacity))
    assert (special["used"] <= special["capacity"] - 2).all()
    with pytest.raises(es.InputError, match="special day: reserve must not exceed capacity"):
        es.plan_election(_layers(centers, 10), garrisons, min_retained=0.95)


def test_the_full_sample_plans_both_days(repo_root):
    sample = repo_root / "data" / "sample"
    special = es.read_polling_centers(sample / "special_centers.geojson")
    general = es.read_polling_centers(sample / "centers.geojson")
    garrisons = es.read_garrisons(sample / "garrisons.geojson")
    election = es.plan_election(
        {"general": general, "special": special},
        garrisons,
        min_retained=0.3,
        hold_back=0.05,
        dates={"special": "2025-11-09", "general": "2025-11-11"},
        split=True,
    )
    assert list(election.days) == ["special", "general"]
    assert str(election.dates["general"]) == "2025-11-11"
    capacity = garrisons["capacity"].to_numpy(np.int64)
    expected = {
        "special": capacity - _teams(0.3, capacity),
        "general": capacity - _teams(0.05, capacity),
    }
    _check_forces(election, garrisons.reset_index(), expected)
    for phase, layer in (("special", special), ("general", general)):
        plan = election.days[phase]
        assert plan.coverage_status == "complete"
        reduced = garrisons.assign(capacity=expected[phase])
        check_plan(plan, layer, reduced, split=True)
    commands = election.general.by_command()
    assert commands["used"].sum() == election.general.assignments["teams"].sum()
    assert commands["garrisons"].sum() == len(garrisons)
    assert len(commands) == garrisons["command"].nunique()
    data = json.loads(json.dumps(election.to_dict(), allow_nan=False))
    assert check(data, election_schema(), table="election") == []
    summary = election.summary()
    assert list(summary.index) == ["special", "general"]
    assert (summary["teams_uncovered"] == 0).all()


def test_to_dict_follows_the_election_schema_and_pickles(tiny):
    centers, garrisons = tiny
    garrisons = garrisons.assign(command=["A", "A", "B", "B", "C", "C"])
    layers = _layers(centers, 10)
    election = es.plan_election(layers, garrisons, min_retained=0.5, split=True)
    data = json.loads(json.dumps(election.to_dict(), allow_nan=False))
    jsonschema.validate(data, election_schema())
    assert check(data, election_schema(), table="election") == []
    assert [d["phase"] for d in data["days"]] == ["special", "general"]
    assert len(data["forces_by_day"]) == 2 * len(garrisons)
    broken = {**data, "days": [{**data["days"][0], "date": "9 Nov"}]}
    assert check(broken, election_schema(), table="election")
    again = _roundtrip(election)
    assert again.to_dict()["days"] == election.to_dict()["days"]
    pd.testing.assert_frame_equal(again.forces_by_day, election.forces_by_day)
    assert again.special.by_command().equals(election.special.by_command())


def test_the_report_has_every_day_and_the_forces(tiny, tmp_path):
    centers, garrisons = tiny
    garrisons = garrisons.assign(command=["A", "A", "B", "B", "C", "C"])
    layers = _layers(centers, 10)
    election = es.plan_election(layers, garrisons, min_retained=0.5)
    page = election.report(tmp_path / "election.html").read_text()
    assert not WEB_ASSET.search(page)
    for heading in ("Voting days", "Forces by day", "Special day", "General day", "By command"):
        assert heading in page
    assert page.count("<iframe") == 2


def _days_table(page):
    """The report's "Voting days" table as {row label: [cell per column]} and its head."""
    at = page.index("<h2>Voting days</h2>")
    table = page[at : page.index("</table>", at)]
    head = re.findall(r"<th>([^<]*)</th>", table[: table.index("</thead>")])
    rows = re.findall(r"<tr>\s*<th>([^<]*)</th>(.*?)</tr>", table, flags=re.DOTALL)
    return head, {label: re.findall(r"<td>([^<]*)</td>", cells) for label, cells in rows}


def test_the_voting_days_table_has_a_column_per_day_and_every_figure(tiny, tmp_path):
    centers, garrisons = tiny
    layers = _layers(centers, 10)
    dates = {"special": "2025-11-09", "general": "2025-11-11"}
    election = es.plan_election(layers, garrisons, min_retained=0.5, dates=dates)
    head, rows = _days_table(election.report(tmp_path / "election.html").read_text())
    assert head == ["", "special 2025-11-09", "general 2025-11-11"]
    summary = election.summary()
    assert len(rows) == len(summary.columns) - 1  # every figure but the date, in the head
    for column in summary.columns.drop("date"):
        cells = rows[column.replace("_", " ")]
        for cell, value in zip(cells, summary[column], strict=True):
            if isinstance(value, str | bool):
                assert cell == str(value)
            else:
                assert float(cell.replace(",", "")) == pytest.approx(float(value), abs=5e-4)
    assert rows["centers covered"] == ["10", "30"]


def test_dates_order_any_phases(tiny):
    centers, garrisons = tiny
    centers = centers.drop(columns="phase")
    layers = {"general": centers.iloc[:10], "runoff": centers.iloc[10:20], "special": centers}
    dates = {"runoff": "2025-12-01", "general": "2025-11-11", "special": "2025-11-09"}
    election = es.plan_election(layers, garrisons, dates=dates, split=True)
    assert list(election.days) == ["special", "general", "runoff"]
    assert [str(d) for d in election.dates.values()] == sorted(dates.values())
    assert election.day("runoff").assignments["teams"].sum() == centers.iloc[10:20]["demand"].sum()


def test_costs_covering_both_days_give_the_geodesic_plans(tiny):
    centers, garrisons = tiny
    layered = centers.assign(phase=["special"] * 12 + ["general"] * 28)
    costs = es.distance_matrix(centers, garrisons)
    given = es.plan_election(layered, garrisons, costs, min_retained=0.25, split=True)
    geodesic = es.plan_election(layered, garrisons, min_retained=0.25, split=True)
    by_day = dict.fromkeys(("special", "general"), costs)
    by_day["special"] = es.distance_matrix(centers.iloc[:12], garrisons)
    by_day["general"] = es.distance_matrix(centers.iloc[12:], garrisons)
    mapped = es.plan_election(layered, garrisons, by_day, min_retained=0.25, split=True)
    for phase in ("special", "general"):
        assert given.days[phase].objective == geodesic.days[phase].objective
        assert mapped.days[phase].objective == geodesic.days[phase].objective


def test_a_road_network_gives_each_day_its_travel_times(tiny, repo_root):
    from electsec.network import RoadNetwork

    centers, garrisons = tiny
    roads = RoadNetwork.from_roads(gpd.read_file(repo_root / "data" / "sample" / "roads.gpkg"))
    layers = _layers(centers, 10)
    election = es.plan_election(layers, garrisons, roads, split=True, max_time_s=3600)
    for phase, layer in layers.items():
        costs = es.distance_matrix(
            layer, garrisons, metric="travel_time", network=roads, max_time_s=3600
        )
        by_hand = es.solve_assignment(layer, garrisons, costs, split=True, max_time_s=3600)
        plan = election.days[phase]
        assert plan.unit == "s"
        assert plan.objective == by_hand.objective
        pd.testing.assert_frame_equal(plan.assignments, by_hand.assignments)


def test_one_time_limit_bounds_the_whole_call(tiny):
    centers, garrisons = tiny
    layers = _layers(centers, 10)
    election = es.plan_election(layers, garrisons, time_limit_s=4.0)
    limits = [plan.parameters["time_limit_s"] for plan in election.days.values()]
    assert all(limit is not None for limit in limits)
    assert limits[0] <= 4.0 * 10 / 40  # its share of the centres, at most
    assert election.parameters["time_limit_s"] == 4.0


def test_each_day_gets_its_share_of_what_the_days_before_left(monkeypatch):
    # A clock that moves only when a day is solved (0.5 s each): the shares are exact.
    from types import SimpleNamespace

    from electsec import budget as budget_module
    from electsec import election as election_module
    from electsec.budget import Budget

    clock = SimpleNamespace(now=100.0)
    monkeypatch.setattr(budget_module, "time", SimpleNamespace(perf_counter=lambda: clock.now))
    asked = []

    def solve(instance, *, time_limit_s, **how):
        asked.append(time_limit_s)
        clock.now += 0.5
        return instance

    monkeypatch.setattr(election_module, "solve", solve)
    days = {
        p: SimpleNamespace(problem=SimpleNamespace(demand=np.ones(n)))
        for p, n in [("a", 10), ("b", 30)]
    }
    budget = Budget(4.0, started=100.0)
    left = [budget.left()]  # at 100.0: what the first day's share is taken from
    election_module._solve_days(days, ["a", "b"], {"a": None, "b": None}, budget, {})
    left.append(budget.left())  # at 101.0
    assert asked == pytest.approx([left[0] * 10 / 40, (left[1] + 0.5) * 30 / 30])


def test_caller_layers_and_options_are_not_mutated(tiny):
    centers, garrisons = _two_days(9)
    centers["votes_agency"] = ["army"] * 8 + [""] * 14
    before = centers.copy(), garrisons.copy()
    es.plan_election(centers, garrisons, min_retained=0.5, hold_back=0.2, coverage="max")
    pd.testing.assert_frame_equal(centers, before[0])
    pd.testing.assert_frame_equal(garrisons, before[1])
    layers = {"special": _day(centers, "special"), "general": _day(centers, "general")}
    copies = {p: layer.copy() for p, layer in layers.items()}
    retained = {"special": 0.5}
    election = es.plan_election(layers, garrisons, min_retained=retained, coverage="max")
    for phase, layer in layers.items():
        pd.testing.assert_frame_equal(layer, copies[phase])
    retained["special"] = 0.9
    assert election.parameters["min_retained"] == {"special": 0.5}


@pytest.mark.parametrize(
    ("kwargs", "column"),
    [
        ({"min_retained": 1.5}, "min_retained"),
        ({"min_retained": -0.1}, "min_retained"),
        ({"min_retained": "votes"}, "votes"),
        ({"hold_back": {"genral": 0.1}}, "hold_back"),
        ({"dates": {"specail": "2025-11-09"}}, "dates"),
        ({"dates": {"special": "9 Nov"}}, "dates"),
        ({"dates": {"special": "2025-11-11", "general": "2025-11-11"}}, "dates"),
        ({"min_retained": {"runoff": 0.2}}, "min_retained"),
        ({"spilt": True}, "spilt"),
        ({"baseline": None}, "baseline"),
        ({"time_limit_s": -1}, "time_limit_s"),
    ],
)
def test_bad_options_give_input_errors(tiny, kwargs, column):
    centers, garrisons = tiny
    layers = _layers(centers, 10)
    with pytest.raises(es.InputError) as info:
        es.plan_election(layers, garrisons, **kwargs)
    assert column in {issue.column for issue in info.value.issues}, info.value
    assert _roundtrip(info.value).issues == info.value.issues


def test_bad_layers_give_input_errors(tiny):
    centers, garrisons = tiny
    with pytest.raises(es.InputError, match="phase"):
        es.plan_election(centers.drop(columns="phase"), garrisons)
    with pytest.raises(es.InputError, match="dates"):
        es.plan_election(centers.assign(phase=["runoff"] * 40), garrisons)
    voting = centers.assign(phase="special", votes_agency="armyy")
    with pytest.raises(es.InputError, match="did you mean 'army'"):
        es.plan_election(voting, garrisons)
    with pytest.raises(es.InputError, match="agency"):
        es.plan_election(voting, garrisons.drop(columns="agency"))
    layers = _layers(centers, 10)
    costs = es.distance_matrix(centers.iloc[:10], garrisons)
    with pytest.raises(es.InputError, match="every day"):
        es.plan_election(layers, garrisons, {"special": costs})
    with pytest.raises(es.InputError, match="general day"):
        es.plan_election(layers, garrisons, costs)
    with pytest.raises(es.InputError, match="says another day"):
        es.plan_election({"special": centers, "general": centers}, garrisons)
    with pytest.raises(es.InputError, match="no 'runoff' day"):
        es.plan_election(layers, garrisons).day("runoff")


def test_an_empty_phase_in_a_mapped_layer_reads_as_the_mappings_day(tiny):
    centers, garrisons = tiny
    special = centers.iloc[:10].assign(phase=[None, None, *["special"] * 8])
    general = centers.iloc[10:].drop(columns="phase")
    election = es.plan_election({"special": special, "general": general}, garrisons)
    assert set(election.special.assignments["center_id"]) == set(special.index)
    wrong = special.assign(phase=[None, "general", *["special"] * 8])
    with pytest.raises(es.InputError, match="says another day") as caught:
        es.plan_election({"special": wrong, "general": general}, garrisons)
    assert caught.value.issues[0].ids == (wrong.index[1],)


def test_votes_agency_needs_every_garrisons_agency(tiny):
    centers, garrisons = tiny
    unknown = garrisons.copy()
    unknown.loc[unknown.index[0], "agency"] = None
    voting = centers.assign(phase="special", votes_agency="army")
    with pytest.raises(es.InputError, match="every garrison belongs to one agency") as caught:
        es.solve_assignment(voting, unknown)
    assert caught.value.issues[0].ids == (unknown.index[0],)


def test_a_misspelt_named_option_is_pointed_at_its_name(tiny):
    centers, garrisons = tiny
    with pytest.raises(es.InputError) as info:
        es.plan_election(_layers(centers, 10), garrisons, min_retaind=0.3)
    (issue,) = info.value.issues
    assert issue.column == "min_retaind"
    assert "min_retained" in issue.message  # the fix: the option meant, not only solve options
