"""JSON responses follow the published schema; provenance identifies the inputs."""

import io
import json

import geopandas as gpd
import jsonschema
import pytest

import electsec as es
from electsec.cli import EXIT_INFEASIBLE, EXIT_INPUT, EXIT_OK, main
from electsec.schema import response_schema


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


@pytest.mark.parametrize("split", [True, False])
def test_replan_dict_follows_the_schema(tiny, split):
    plan = es.solve_assignment(*tiny, split=split)
    again = es.solve_assignment(*tiny, split=split, baseline=plan).to_dict()
    _validate(again)
    assert again["replan"]["centers_changed"] == 0
    broken = {**again, "replan": {**again["replan"], "centers_changed": -1}}
    with pytest.raises(jsonschema.ValidationError):
        _validate(broken)
