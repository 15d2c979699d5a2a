"""Command structure: garrisons' ``command`` column, by_command(), jurisdiction="command".

Plans restricted to commands are checked by the independent checker with the allowed
pairs rebuilt here, and compared with an exact LP (HiGHS) over those pairs only.
"""

from __future__ import annotations

import numpy as np
import pytest

import electsec as es
from checker import check_plan
from helpers import make_instance
from reference import pairs_from_mask, reference_optimum

COMMANDS = ("North", "South", "West")


def _commanded(seed, n=15, m=7):
    rng = np.random.default_rng(seed)
    centers, garrisons = make_instance(rng, n, m, capacity_ratio=2.5)
    garrisons["command"] = np.array(COMMANDS)[np.arange(m) % 3]
    centers["command"] = rng.choice(COMMANDS, size=n)
    return centers, garrisons


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("given_costs", [False, True])
def test_command_jurisdiction_keeps_garrisons_to_their_command(seed, given_costs):
    centers, garrisons = _commanded(seed)
    costs = es.distance_matrix(centers, garrisons) if given_costs else None
    plan = es.solve_assignment(
        centers, garrisons, costs, split=True, jurisdiction="command", coverage="max"
    )
    allowed = centers["command"].to_numpy()[:, None] == garrisons["command"].to_numpy()[None, :]
    pairs = pairs_from_mask(centers, garrisons, allowed)
    check_plan(plan, centers, garrisons, split=True, allowed_pairs=pairs)
    assert plan.parameters["jurisdiction"] == "command"
    optimum = reference_optimum(centers, garrisons, split=True, allowed=allowed)
    if plan.coverage_status == "complete":
        assert plan.objective == optimum
    else:
        assert optimum is None


def test_command_jurisdiction_goes_through_plan_election():
    centers, garrisons = _commanded(11, n=20)
    centers["phase"] = ["special"] * 6 + ["general"] * 14
    election = es.plan_election(
        centers, garrisons, min_retained=0.2, split=True, jurisdiction="command", coverage="max"
    )
    for plan in election.days.values():
        a = plan.assignments
        home = a["center_id"].map(centers.set_index("center_id")["command"])
        assert (home == a["garrison_id"].map(garrisons.set_index("garrison_id")["command"])).all()


def test_command_jurisdiction_needs_both_columns_and_known_commands(tiny):
    centers, garrisons = tiny
    with pytest.raises(es.InputError) as info:
        es.solve_assignment(centers, garrisons, jurisdiction="command")
    assert {(i.table, i.column) for i in info.value.issues} == {
        ("centers", "command"),
        ("garrisons", "command"),
    }
    garrisons = garrisons.assign(command="Baghdad Operations Command")
    with pytest.raises(es.InputError, match="did you mean 'Baghdad Operations Command'"):
        es.solve_assignment(
            centers.assign(command="Bagdad Operations Command"), garrisons, jurisdiction="command"
        )


def test_the_sample_garrisons_carry_their_command(sample):
    _, garrisons = sample
    assert garrisons["command"].notna().all()
    assert garrisons.groupby("governorate")["command"].nunique().max() == 1


def test_by_command_is_recounted_from_the_tables(tiny):
    centers, garrisons = tiny
    garrisons = garrisons.assign(command=["A", "A", "B", "B", "C", "C"])
    plan = es.solve_assignment(centers, garrisons, split=True)
    table = plan.by_command()
    a = plan.assignments.assign(command=plan.assignments["garrison_id"].map(garrisons["command"]))
    np.testing.assert_array_equal(table["used"], a.groupby("command")["teams"].sum())
    np.testing.assert_array_equal(table["centers"], a.groupby("command")["center_id"].nunique())
    np.testing.assert_array_equal(
        table["capacity"], garrisons.groupby("command")["capacity"].sum()
    )
    assert "garrison_command" in plan.readable("assignments").columns
    with pytest.raises(es.InputError, match="command"):
        es.solve_assignment(*tiny).by_command()
