"""Fixes a planner can act on: the smallest limit per tier, and the reinforcement that
covers each blocking region (issue #13, item 6). Every suggestion is checked by solving
again with it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest

import electsec as es
from checker import check_plan
from electsec import explain
from electsec.schema import response_schema
from helpers import make_instance

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def _diagnosis(centers, garrisons, costs=None, **options):
    with pytest.raises(es.InfeasibleError) as info:
        es.solve_assignment(centers, garrisons, costs, split=True, **options)
    jsonschema.validate(json.loads(json.dumps(info.value.to_dict())), response_schema())
    return info.value.diagnosis


def _feasible(centers, garrisons, costs=None, **options) -> bool:
    try:
        plan = es.solve_assignment(centers, garrisons, costs, split=True, **options)
    except es.InfeasibleError:
        return False
    check_plan(plan, centers, garrisons, split=True)
    return True


def _tiered(seed: int):
    rng = np.random.default_rng(seed)
    centers, garrisons = make_instance(
        rng, 40, 8, demand_min=1, capacity_ratio=1.4, box=(44.0, 44.6, 33.0, 33.6)
    )
    centers["tier"] = rng.choice(["high", "low"], size=len(centers), p=[0.4, 0.6])
    return centers, garrisons


@pytest.mark.parametrize("given_costs", [False, True])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_tier_limit_is_the_smallest_that_works(seed, given_costs):
    centers, garrisons = _tiered(seed)
    costs = es.distance_matrix(centers, garrisons) if given_costs else None
    limits = {"high": 6_000.0, "low": 12_000.0}
    diagnosis = _diagnosis(centers, garrisons, costs, max_distance_m=limits)
    tiers = dict(diagnosis.smallest_feasible_tier_max_distance_m)
    assert set(tiers) == {"high", "low"}
    assert [t for t, _ in diagnosis.smallest_feasible_tier_max_distance_m] == ["high", "low"]
    for tier, value in tiers.items():
        if value is None:  # then not even an unlimited tier works
            assert not _feasible(centers, garrisons, costs, max_distance_m={**limits, tier: 1e9})
            continue
        assert value > limits[tier]
        assert _feasible(centers, garrisons, costs, max_distance_m={**limits, tier: value})
        assert not _feasible(
            centers, garrisons, costs, max_distance_m={**limits, tier: value - 1.0}
        )
    uniform = diagnosis.smallest_feasible_max_distance_m
    assert _feasible(centers, garrisons, costs, max_distance_m=uniform)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_suggested_reinforcements_cover_every_region(seed):
    centers, garrisons = _tiered(seed)
    limits = {"high": 6_000.0, "low": 12_000.0}
    diagnosis = _diagnosis(centers, garrisons, max_distance_m=limits)
    more = es.read_garrisons(garrisons)
    stationed = []
    for region in diagnosis.blocking_regions:
        tip = region.reinforcement
        assert tip is not None
        assert tip.teams == region.deficit
        assert tip.limit is not None
        assert sum(t for _, t in tip.add_at) in (0, tip.teams)
        for garrison, teams in tip.add_at:
            assert garrison in region.garrisons
            more.loc[garrison, "capacity"] += teams
        if not tip.add_at:  # no garrison in reach: station the teams at the centre
            assert not region.garrisons
            stationed += [(c, tip.teams) for c in region.centers[:1]]
        beyond = [c for _, c, _ in tip.nearest_beyond]
        assert beyond == sorted(beyond)
        assert all(g not in region.garrisons for g, _, _ in tip.nearest_beyond)
        assert explain.reinforcement_sentence(region).startswith(("Add", "Station"))
    if stationed:
        more = _with_posts(more, es.read_polling_centers(centers), stationed)
    assert _feasible(centers, more, max_distance_m=limits)


def _with_posts(garrisons, centers, posts):
    import geopandas as gpd
    import pandas as pd

    extra = gpd.GeoDataFrame(
        {"capacity": [t for _, t in posts]},
        geometry=centers.geometry.loc[[c for c, _ in posts]].to_numpy(),
        index=pd.Index([f"POST_{c}" for c, _ in posts], name=garrisons.index.name),
        crs=garrisons.crs,
    )
    return es.read_garrisons(pd.concat([garrisons[["capacity", "geometry"]], extra]))


def test_one_reinforcement_by_hand():
    from helpers import points_frame

    # Three centres of 2 teams each; the only garrison within 10 km has 4 teams; a
    # garrison 25 km east has 10 spare. Add 2 teams at NEAR, or reach out to FAR.
    centers = points_frame(
        "center_id", ["A", "B", "C"], "demand", [2, 2, 2], [44.0, 44.01, 44.02], [33.0] * 3
    )
    garrisons = points_frame(
        "garrison_id", ["NEAR", "FAR"], "capacity", [4, 10], [44.01, 44.28], [33.01, 33.0]
    )
    (region,) = _diagnosis(centers, garrisons, max_distance_m=10_000).blocking_regions
    tip = region.reinforcement
    assert (tip.teams, tip.add_at, tip.limit) == (2, (("NEAR", 2),), (10_000.0, 10_000.0))
    ((garrison, metres, spare),) = tip.nearest_beyond
    assert (garrison, spare) == ("FAR", 10)
    assert 23_000 < metres < 26_000
    assert explain.reinforcement_sentence(region) == (
        f"Add 2 team(s) within 10.0 km of these centres (at NEAR: 2); nearest garrisons "
        f"beyond the limit: FAR ({metres / 1000:.1f} km, 10 spare)."
    )
    assert region.to_dict()["reinforcement"]["add_at"] == [{"garrison_id": "NEAR", "teams": 2}]


def test_the_issue_example_high_tier_alone_needs_about_77_km():
    centers = es.read_polling_centers(SAMPLE / "centers.geojson")
    garrisons = es.read_garrisons(SAMPLE / "garrisons.geojson")
    diagnosis = _diagnosis(centers, garrisons, max_distance_m={"high": 15_000})
    assert diagnosis.smallest_feasible_max_distance_m == pytest.approx(82_500, abs=100)
    ((tier, value),) = diagnosis.smallest_feasible_tier_max_distance_m
    assert tier == "high"
    assert 76_000 < value < 78_000
    assert _feasible(centers, garrisons, max_distance_m={"high": value})
    assert not _feasible(centers, garrisons, max_distance_m={"high": value - 1.0})
    assert (
        f"High tier: a limit of {value / 1000:.1f} km would do"
        in es.InfeasibleError(diagnosis).args[0]
    )


def test_cli_and_report_show_the_fixes(tmp_path, capsys):
    from electsec.cli import EXIT_INFEASIBLE, main

    tiny = [str(SAMPLE / "tiny_centers.geojson"), str(SAMPLE / "tiny_garrisons.geojson")]
    code = main(["diagnose", *tiny, "--tier-limit-km", "high=3"])
    text = capsys.readouterr().out
    assert code == EXIT_INFEASIBLE
    with pytest.raises(es.InfeasibleError) as info:
        es.solve_assignment(*tiny, split=True, max_distance_m={"high": 3_000})
    diagnosis = info.value.diagnosis
    for sentence in explain.tier_limit_sentences(diagnosis):
        assert sentence in text
    assert "reinforcements that would cover them:" in text
    region = diagnosis.blocking_regions[0]
    assert explain.reinforcement_sentence(region) in text
    assert "Station 5 team(s) within 3.0 km of these centres" in text
    page = info.value.partial.report(tmp_path / "plan.html", diagnosis=diagnosis).read_text()
    assert "what would cover it" in page
    assert explain.tier_limit_sentences(diagnosis)[0] in page
