"""coverage='max': the plan covering the most teams, higher tiers first, then least cost."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import electsec as es
from checker import check_plan
from helpers import make_instance, points_frame
from reference import reference_max_coverage


def _short_town():
    """One garrison of 3 teams; a low-risk centre next to it and a high-risk one 5 km off."""
    centers = points_frame(
        "center_id",
        ["low", "high", "far"],
        "demand",
        [3, 3, 2],
        [44.001, 44.05, 47.0],
        [33.0, 33.0, 30.0],
    )
    centers["tier"] = ["low", "high", "medium"]
    garrisons = points_frame("garrison_id", ["g"], "capacity", [3], [44.0], [33.0])
    return centers, garrisons


@pytest.mark.parametrize("split", [True, False])
def test_high_tier_is_covered_first(split):
    centers, garrisons = _short_town()
    plan = es.solve_assignment(
        centers, garrisons, split=split, coverage="max", max_distance_m=20_000
    )
    check_plan(plan, centers, garrisons, split=split, max_distance_m=20_000)
    assert list(plan.assignments["center_id"]) == ["high"]
    reasons = dict(zip(plan.uncovered["center_id"], plan.uncovered["reason"], strict=True))
    causes = dict(zip(plan.uncovered["center_id"], plan.uncovered["cause"], strict=True))
    assert causes == {"low": "capacity", "far": "beyond_limit"}
    assert reasons["low"].startswith("not enough teams within reach: its blocking region")
    assert reasons["far"].startswith("beyond the limit: the nearest garrison, g, is ")
    assert reasons["far"].endswith("away; the limit is 20.0 km")


def test_without_tiers_the_cheaper_centre_is_covered():
    centers, garrisons = _short_town()
    plan = es.solve_assignment(
        centers.drop(columns="tier"), garrisons, split=True, coverage="max", max_distance_m=20_000
    )
    assert list(plan.assignments["center_id"]) == ["low"]


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 14),
    m=st.integers(1, 5),
    ratio=st.sampled_from([0.5, 0.8, 1.0, 1.3]),
)
def test_max_coverage_covers_as_much_as_the_reference(seed, n, m, ratio):
    centers, garrisons = make_instance(np.random.default_rng(seed), n, m, capacity_ratio=ratio)
    limit = 150_000.0
    plan = es.solve_assignment(
        centers, garrisons, split=True, coverage="max", max_distance_m=limit
    )
    check_plan(plan, centers, garrisons, split=True, max_distance_m=limit)
    covered = int(plan.assignments["teams"].sum())
    assert covered == reference_max_coverage(centers, garrisons, max_distance_m=limit)


def test_coverage_must_be_full_or_max(tiny):
    with pytest.raises(es.InputError, match="coverage"):
        es.solve_assignment(*tiny, coverage="most")
