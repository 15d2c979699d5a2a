"""The full national sample (8,703 centres × 500 garrisons), solved end to end."""

from __future__ import annotations

import pytest

import electsec as es
from checker import check_plan
from reference import reference_split_by_pricing

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def split_plan(sample) -> es.AssignmentResult:
    return es.solve_assignment(*sample, split=True)


@pytest.fixture(scope="module")
def single_plan(sample) -> es.AssignmentResult:
    return es.solve_assignment(*sample, split=False, time_limit_s=60)


def test_split_plan_is_optimal_and_valid(sample, split_plan):
    check_plan(split_plan, *sample, split=True)
    assert split_plan.status == "optimal"
    assert split_plan.gap == 0
    assert split_plan.uncovered.empty
    assert int(split_plan.assignments["teams"].sum()) == int(sample[0]["demand"].sum())


def test_split_objective_equals_an_independent_lp_certificate(sample, split_plan):
    # HiGHS on a growing arc set, priced against all 4.35 M pairs with its own duals.
    assert split_plan.objective == reference_split_by_pricing(*sample)


def test_single_sourcing_is_valid_with_a_small_proven_gap(sample, split_plan, single_plan):
    check_plan(single_plan, *sample, split=False)
    assert single_plan.uncovered.empty
    assert 0 <= single_plan.gap <= 0.01, single_plan.gap
    # The split optimum is a lower bound on single-sourcing; the bound reported must be
    # at least as strong.
    assert single_plan.bound >= split_plan.objective - 1e-9
    assert single_plan.objective >= split_plan.objective
