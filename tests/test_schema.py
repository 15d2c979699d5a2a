"""JSON responses follow the published schema; provenance identifies the inputs."""

import dataclasses
import inspect
import io
import json

import geopandas as gpd
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import electsec as es
from electsec.cli import EXIT_INFEASIBLE, EXIT_INPUT, EXIT_OK, main
from electsec.schema import check, check_request, request_schema, response_schema


def _validate(data):
    jsonschema.validate(json.loads(json.dumps(data)), response_schema())


@pytest.fixture
def tiny_json(tiny):
    centers, garrisons = tiny
    as_json = [json.loads(layer.reset_index().to_json()) for layer in (centers, garrisons)]
    return as_json[0], as_json[1]


@pytest.mark.parametrize("split", [True, False])
def test_plan_dict_follows_the_schema(tiny, split):
    plan = es.solve_assignment(*tiny, split=split)
    data = plan.to_dict()
    _validate(data)
    assert data["provenance"]["input_hash"].startswith("sha256:")
    assert data["provenance"]["electsec_version"] == es.__version__


def test_error_dicts_follow_the_schema(tiny):
    with pytest.raises(es.InfeasibleError) as infeasible:
        es.solve_assignment(*tiny, split=True, max_distance_m=2_000)
    _validate(infeasible.value.to_dict())
    assert infeasible.value.to_dict()["partial"]["uncovered"]
    with pytest.raises(es.InputError) as bad:
        es.solve_assignment(*tiny, seed="x")
    _validate(bad.value.to_dict())


def test_input_hash_identifies_the_inputs(tiny):
    centers, garrisons = tiny
    first = es.solve_assignment(centers, garrisons).provenance["input_hash"]
    again = es.solve_assignment(centers.copy(), garrisons.copy()).provenance["input_hash"]
    more = centers.assign(demand=centers["demand"] + 1)
    bigger = es.solve_assignment(more, garrisons.assign(capacity=garrisons["capacity"] * 2))
    assert first == again
    assert bigger.provenance["input_hash"] != first


def test_geojson_dicts_give_the_same_plan_as_frames(tiny, tiny_json):
    from_frames = es.solve_assignment(*tiny)
    from_dicts = es.solve_assignment(*tiny_json)
    assert from_dicts.to_dict()["assignments"] == from_frames.to_dict()["assignments"]
    assert from_dicts.provenance["input_hash"] == from_frames.provenance["input_hash"]


def _run_stdin(monkeypatch, capsys, argv, request):
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(request)))
    code = main(argv)
    return code, json.loads(capsys.readouterr().out)


def test_plan_reads_a_request_on_stdin(monkeypatch, capsys, tiny_json):
    request = {"centers": tiny_json[0], "garrisons": tiny_json[1], "options": {"split": True}}
    code, response = _run_stdin(monkeypatch, capsys, ["plan", "-"], request)
    assert code == EXIT_OK
    _validate(response)
    assert response["split"] is True


def test_stdin_errors_are_json_too(monkeypatch, capsys, tiny_json):
    request = {
        "centers": tiny_json[0],
        "garrisons": tiny_json[1],
        "options": {"split": True, "max_distance_m": 2_000},
    }
    code, response = _run_stdin(monkeypatch, capsys, ["plan", "-"], request)
    assert code == EXIT_INFEASIBLE
    _validate(response)
    code, response = _run_stdin(monkeypatch, capsys, ["plan", "-"], {"centers": {}})
    assert code == EXIT_INPUT
    _validate(response)


def test_reading_a_geojson_dict_keeps_the_ids(tiny_json):
    centers = es.read_polling_centers(tiny_json[0])
    assert isinstance(centers, gpd.GeoDataFrame)
    assert centers.index[0] == tiny_json[0]["features"][0]["properties"]["center_id"]


def test_backup_and_agency_dicts_follow_the_schema(tiny):
    centers, garrisons = tiny
    centers = centers.assign(agency="police")
    garrisons = garrisons.assign(agency="police", reserve=1)
    backup = es.Backup(max_distance_m=100_000, centers_per_team=20)
    plan = es.solve_assignment(centers, garrisons, backup=backup)
    data = plan.to_dict()
    _validate(data)
    assert data["backups"]
    assert {r["agency"] for r in data["assignments"]} == {"police"}
    with pytest.raises(es.InfeasibleError) as infeasible:
        es.solve_assignment(centers, garrisons, backup=es.Backup(max_distance_m=1))
    _validate(infeasible.value.to_dict())
    assert infeasible.value.to_dict()["kind"] == "backup"


def test_plans_carry_a_coverage_status(tiny):
    plan_schema = response_schema()["$defs"]["plan"]
    assert "coverage_status" in plan_schema["required"]
    assert plan_schema["properties"]["coverage_status"]["enum"] == [
        "complete",
        "partial",
        "infeasible",
    ]
    data = es.solve_assignment(*tiny).to_dict()
    _validate(data)
    data["coverage_status"] = "feasible"  # a solver word where a coverage word belongs
    with pytest.raises(jsonschema.ValidationError):
        _validate(data)


# -- the request schema and its validator ---------------------------------------------------


def test_request_options_mirror_solve_assignment():
    options = request_schema()["$defs"]["options"]["properties"]
    taken = set(inspect.signature(es.solve_assignment).parameters)
    not_from_json = {
        "centers",
        "garrisons",
        "costs",
        "executor",
        "options",
        "baseline",
        "max_changes",
        "max_cost_increase_pct",  # a plan object, not JSON
    }
    assert set(options) == (taken - not_from_json) | {"solver_options"}
    tuning = request_schema()["$defs"]["solver_options"]["properties"]
    assert set(tuning) == {f.name for f in dataclasses.fields(es.SolverOptions)}
    backup = options["backup"]["properties"]
    assert set(backup) == {f.name for f in dataclasses.fields(es.Backup)}


def test_every_request_field_is_described():
    schema = request_schema()
    fields = {**schema["properties"], **schema["$defs"]["options"]["properties"]}
    assert all("description" in spec for spec in fields.values()), [
        name for name, spec in fields.items() if "description" not in spec
    ]
    jsonschema.Draft202012Validator.check_schema(schema)


def test_the_validator_refuses_keywords_it_does_not_implement():
    with pytest.raises(ValueError, match="uniqueItems"):
        check([1, 1], {"type": "array", "uniqueItems": True}, table="x")
    check({}, response_schema(), table="response")  # the response schema is understood


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-1e6, 1e6) | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_OPTION_NAMES = [*sorted(request_schema()["$defs"]["options"]["properties"]), "max_distance_km"]


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    options=st.dictionaries(
        st.sampled_from(_OPTION_NAMES),
        _JSON
        | st.floats(0, 1e5)
        | st.sampled_from(["total", "max", "full", {"high": 1.0}, {"max_distance_m": 5.0}]),
        max_size=4,
    ),
    centers=st.sampled_from([None, "c.gpkg", {"path": "c.gpkg", "layer": 1}, {"path": 3}, []]),
    demand=st.sampled_from([1, 0, -1, 2.0, 2.5, "3", None, True]),
)
def test_the_validator_agrees_with_jsonschema(tiny_json, options, centers, demand):
    request = {"centers": json.loads(json.dumps(tiny_json[0])), "garrisons": tiny_json[1]}
    request["options"] = options
    request["centers"]["features"][0]["properties"]["demand"] = demand
    if centers is not None:
        request["centers"] = centers
    ours = check_request(request)
    theirs = jsonschema.Draft202012Validator(request_schema()).is_valid(request)
    assert (not ours) == theirs, [str(i) for i in ours]


def test_the_validator_checks_responses_like_jsonschema(tiny):
    data = json.loads(json.dumps(es.solve_assignment(*tiny, split=True).to_dict()))
    assert check(data, response_schema(), table="response") == []
    data["status"] = "perhaps"
    assert check(data, response_schema(), table="response")
    assert not jsonschema.Draft202012Validator(response_schema()).is_valid(data)


@pytest.mark.parametrize("split", [True, False])
def test_replan_dict_follows_the_schema(tiny, split):
    plan = es.solve_assignment(*tiny, split=split)
    again = es.solve_assignment(*tiny, split=split, baseline=plan).to_dict()
    _validate(again)
    assert again["replan"]["centers_changed"] == 0
    broken = {**again, "replan": {**again["replan"], "centers_changed": -1}}
    with pytest.raises(jsonschema.ValidationError):
        _validate(broken)
