"""What a plan tells its reader: honest coverage status, names next to ids, rounded km."""

import json

import jsonschema
import numpy as np
import pytest

import electsec as es
from checker import check_plan
from electsec.schema import response_schema


def _valid(data):
    jsonschema.validate(json.loads(json.dumps(data)), response_schema())


def test_a_complete_plan_is_complete(tiny):
    plan = es.solve_assignment(*tiny)
    assert plan.coverage_status == "complete"
    assert plan.summary()["status"] == plan.status == plan.summary()["solver_status"]
    assert plan.to_dict()["coverage_status"] == "complete"
    _valid(plan.to_dict())


def test_an_infeasible_partial_plan_says_infeasible(tiny):
    with pytest.raises(es.InfeasibleError) as info:
        es.solve_assignment(*tiny, split=True, max_distance_m=3_000)
    partial = info.value.partial
    assert len(partial.uncovered) > 0
    assert partial.status in ("optimal", "feasible")  # the solver's status, unchanged
    assert partial.coverage_status == "infeasible"
    assert partial.summary()["status"] == "infeasible"
    assert partial.summary()["solver_status"] == partial.status
    data = info.value.to_dict()
    assert data["partial"]["coverage_status"] == "infeasible"
    _valid(data)


def test_a_backup_shortage_is_infeasible_too(tiny):
    centers, garrisons = tiny
    with pytest.raises(es.InfeasibleError) as info:
        es.solve_assignment(
            centers, garrisons.assign(reserve=1), backup=es.Backup(max_distance_m=1)
        )
    assert info.value.partial.coverage_status == "infeasible"


def test_max_coverage_that_falls_short_is_partial(tiny):
    centers, garrisons = tiny
    plan = es.solve_assignment(
        centers, garrisons, split=True, max_distance_m={"high": 3_000}, coverage="max"
    )
    check_plan(plan, centers, garrisons, split=True)
    assert len(plan.uncovered) > 0
    assert plan.coverage_status == "partial"
    assert plan.summary()["status"] == "partial"
    _valid(plan.to_dict())
    full = es.solve_assignment(centers, garrisons, split=True, coverage="max")
    assert full.coverage_status == "complete"


def test_layers_carry_names_governorate_tier_and_agency(tiny):
    centers, garrisons = tiny
    plan = es.solve_assignment(centers, garrisons)
    lines = plan.to_geodataframe()
    for column in ("center_name", "center_governorate", "center_tier"):
        assert (lines[column] == centers[column[7:]].reindex(lines["center_id"]).values).all()
    for column in ("garrison_name", "garrison_governorate", "garrison_agency"):
        expected = garrisons[column[9:]].reindex(lines["garrison_id"]).values
        assert (lines[column] == expected).all()
    assert lines["distance_m"].equals(plan.assignments["distance_m"])  # exact, for machines
    load = plan.readable("garrison_load")
    assert (load["name"] == garrisons["name"].reindex(load["garrison_id"]).values).all()


def test_readable_tables_round_to_a_tenth_of_a_km(tiny):
    plan = es.solve_assignment(*tiny)
    table = plan.readable("assignments")
    exact = plan.assignments["distance_m"]
    assert table["distance_m"].dtype == np.int64
    assert (table["distance_m"] == exact.round()).all()
    assert np.allclose(table["distance_km"], (exact / 1000).round(1))
    assert plan.assignments["distance_m"].equals(exact)  # the plan itself is untouched
    assert list(plan.readable("uncovered").columns[:4]) == [
        "center_id",
        "name",
        "governorate",
        "tier",
    ]


def test_layers_without_descriptive_columns_keep_ids_only(tiny):
    centers, garrisons = tiny
    plan = es.solve_assignment(
        centers[["demand", "geometry"]], garrisons[["capacity", "geometry"]]
    )
    assert plan.center_info is None
    assert list(plan.readable("assignments").columns) == [
        "center_id",
        "garrison_id",
        "teams",
        "distance_km",
        "distance_m",
    ]


def test_readable_names_an_unknown_table(tiny):
    plan = es.solve_assignment(*tiny)
    with pytest.raises(es.InputError, match="uncovered"):
        plan.readable("uncoverd")
