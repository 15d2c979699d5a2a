"""Typed errors: the Diagnosis and its JSON, the shared wording, and pickling."""

import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib as mpl
import pytest

import electsec as es
from electsec import explain
from electsec.cli import _diagnosis_text
from electsec.errors import UNSET, BlockingRegion, Diagnosis, InfeasibleError
from electsec.report import write_report

mpl.use("Agg")

GOLDEN = Path(__file__).resolve().parent / "golden"
#: Keys of ``InfeasibleError.to_dict()`` that are not the diagnosis.
ENVELOPE = ("error", "schema_version", "message", "partial")
COVER_KEYS = [
    "total_demand",
    "total_capacity",
    "shortfall",
    "unreachable_centers",
    "blocking_regions",
    "reason",
]
REGION_KEYS = [
    "centers",
    "garrisons",
    "demand",
    "capacity",
    "deficit",
    "extra_teams_needed",
    "governorates",
]


def _errors(data: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every ``InfeasibleError.to_dict()`` object inside a golden, with where it sits."""
    if isinstance(data, dict):
        if data.get("error") == "InfeasibleError":
            yield where, data
        for key, value in data.items():
            yield from _errors(value, f"{where}/{key}")
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _errors(value, f"{where}[{i}]")


GOLDEN_ERRORS = dict(
    found
    for path in sorted(GOLDEN.glob("*.json"))
    for found in _errors(json.loads(path.read_text(encoding="utf-8")), path.stem)
)


def _diagnosis_part(error: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in error.items() if k not in ENVELOPE}


def _region(**kw: Any) -> BlockingRegion:
    values = {
        "centers": ("c1", "c2"),
        "garrisons": ("g1",),
        "demand": 5,
        "capacity": 2,
        "deficit": 3,
        "extra_teams_needed": 3,
        "governorates": ("Babil",),
        **kw,
    }
    return BlockingRegion(**values)


def _diagnosis(**kw: Any) -> Diagnosis:
    values = {
        "total_demand": 10,
        "total_capacity": 7,
        "shortfall": 3,
        "reason": "3 team(s) cannot reach their centres within the limits",
        "unreachable_centers": ("c9",),
        "blocking_regions": (_region(),),
        **kw,
    }
    return Diagnosis(**values)


@pytest.fixture
def short(tiny):
    with pytest.raises(InfeasibleError) as info:
        es.solve_assignment(*tiny, split=True, max_distance_m=2_000)
    return info.value


def test_the_goldens_hold_every_kind_of_diagnosis():
    kinds = {tuple(sorted(_diagnosis_part(e))) for e in GOLDEN_ERRORS.values()}
    assert len(GOLDEN_ERRORS) >= 6
    assert any("smallest_feasible_max_time_s" in k for k in kinds)
    assert any("smallest_feasible_max_distance_m" in k for k in kinds)
    assert any("centers_without_backup" in k for k in kinds)


@pytest.mark.parametrize("where", sorted(GOLDEN_ERRORS))
def test_golden_diagnosis_round_trips(where):
    error = GOLDEN_ERRORS[where]
    data = _diagnosis_part(error)
    diagnosis = Diagnosis.from_dict(data)
    assert diagnosis.to_dict() == data
    assert json.dumps(diagnosis.to_dict(), sort_keys=True) == json.dumps(data, sort_keys=True)
    assert Diagnosis.from_dict(diagnosis.to_dict()) == diagnosis
    assert all(isinstance(r, BlockingRegion) for r in diagnosis.blocking_regions)
    assert isinstance(diagnosis.unreachable_centers, tuple)
    assert diagnosis.kind == data.get("kind", "cover")
    # The message is rebuilt from the typed attributes, word for word.
    assert explain.message(diagnosis) == error["message"]
    err = InfeasibleError(data)
    assert str(err) == error["message"]
    assert err.to_dict() == {**error, "partial": None}


def test_to_dict_keeps_the_key_order_of_each_kind():
    cover = _diagnosis()
    assert list(cover.to_dict()) == COVER_KEYS
    assert list(cover.to_dict()["blocking_regions"][0]) == REGION_KEYS
    with_limit = _diagnosis(smallest_feasible_max_distance_m=14088.5)
    assert list(with_limit.to_dict()) == [*COVER_KEYS, "smallest_feasible_max_distance_m"]
    backup = _diagnosis(kind="backup", centers_without_backup=("c1", "c2", "c9"))
    assert list(backup.to_dict()) == [
        "kind",
        *COVER_KEYS[:5],
        "centers_without_backup",
        "reason",
    ]
    assert backup.to_dict()["kind"] == "backup"
    agencies = _region(agencies=("police",)).to_dict()
    assert list(agencies) == [*REGION_KEYS, "agencies"]


def test_a_solved_diagnosis_is_typed_and_keeps_its_key_order(short):
    d = short.diagnosis
    assert isinstance(d, Diagnosis)
    assert list(d) == [
        *COVER_KEYS,
        "smallest_feasible_max_distance_m",
        "smallest_feasible_tier_max_distance_m",
        "unserved",
    ]
    assert list(short.to_dict()) == [*ENVELOPE[:3], *d, "partial"]
    assert all(list(r) == [*REGION_KEYS, "reinforcement"] for r in d["blocking_regions"])
    assert isinstance(d.smallest_feasible_max_distance_m, float)


def test_a_limit_searched_in_vain_differs_from_one_not_searched():
    searched = _diagnosis(smallest_feasible_max_time_s=None)
    assert searched.to_dict()["smallest_feasible_max_time_s"] is None
    assert "smallest_feasible_max_time_s" in searched
    assert explain.feasible_limits(searched) == []
    not_searched = _diagnosis()
    assert not_searched.smallest_feasible_max_time_s is UNSET
    assert "smallest_feasible_max_time_s" not in not_searched
    assert Diagnosis.from_dict(searched.to_dict()) == searched
    assert Diagnosis.from_dict(not_searched.to_dict()) == not_searched


def test_the_diagnosis_reads_like_its_json():
    d = _diagnosis(smallest_feasible_max_distance_m=14088.5)
    data = d.to_dict()
    assert list(d) == list(d.keys()) == list(data)
    assert len(d) == len(data)
    assert dict(d) == data
    assert d["blocking_regions"] == [_region().to_dict()]
    assert d["blocking_regions"][0]["centers"] == ["c1", "c2"]
    assert d["unreachable_centers"] == ["c9"]
    assert d.get("kind") is None
    assert d.get("centers_without_backup", []) == []
    assert "kind" not in d
    assert "centers_without_backup" not in d
    assert "reason" in d
    assert 3 not in d
    with pytest.raises(KeyError):
        d["kind"]
    with pytest.raises(KeyError):
        d["extra"]  # attributes that are not keys stay attributes
    d["blocking_regions"].clear()  # a copy: the diagnosis itself is immutable
    assert d.blocking_regions == (_region(),)


def test_unknown_keys_are_kept_in_order():
    data = {
        "reason": "the jobs need more resource than all agents hold",
        "total_demand": 12,
        "total_capacity": 10,
        "shortfall": 2,
        "unreachable_centers": [1],
        "blocking_regions": [],
        "n_agents": 2,
        "n_jobs": 4,
    }
    d = Diagnosis.from_dict(data)
    assert d.extra == (("n_agents", 2), ("n_jobs", 4))
    assert d.to_dict() == data
    assert list(d)[-2:] == ["n_agents", "n_jobs"]
    assert d["unreachable_centers"] == [1]
    assert Diagnosis.from_dict(d) is d


def test_a_bad_kind_or_extra_key_is_refused():
    with pytest.raises(ValueError, match="kind"):
        _diagnosis(kind="both")
    with pytest.raises(ValueError, match="extra"):
        _diagnosis(extra=(("reason", "twice"),))
    with pytest.raises(KeyError):
        Diagnosis.from_dict({"total_demand": 1, "total_capacity": 0, "shortfall": 1})


def test_the_three_renderings_share_the_limit_wording():
    d = _diagnosis(smallest_feasible_max_time_s=2277.5)
    assert explain.limit_sentences(d) == [
        "A uniform limit of 38.0 minutes for every centre would be feasible."
    ]
    assert "A uniform limit of 38.0 minutes" in str(InfeasibleError(d))
    assert "smallest single limit that would work: 38.0 min\n" in _diagnosis_text(d)
    km = _diagnosis(smallest_feasible_max_distance_m=14088.5)
    assert "A uniform limit of 14.1 km for every centre" in str(InfeasibleError(km))
    assert "smallest single limit that would work: 14.1 km\n" in _diagnosis_text(km)


def test_a_backup_diagnosis_is_worded_as_backups():
    d = _diagnosis(kind="backup", centers_without_backup=("c1", "c2", "c9"))
    text = _diagnosis_text(d)
    assert "centres without a backup: 3 of 10" in text
    assert "centres with no reserve within the backup limit: 1" in text
    assert str(InfeasibleError(d)).startswith("No plan gives every centre a backup")
    assert "need 5 backups but the reserves in reach can back up only 2" in str(InfeasibleError(d))


def test_the_report_shows_the_minutes_hint_for_travel_times(tiny, tmp_path):
    error = GOLDEN_ERRORS["tiny_roads/infeasible/error"]
    diagnosis = Diagnosis.from_dict(_diagnosis_part(error))
    assert diagnosis.smallest_feasible_max_time_s == 2277.5
    plan = es.solve_assignment(*tiny, split=True)
    centers, garrisons = tiny
    page = write_report(
        plan, tmp_path / "r.html", centers=centers, garrisons=garrisons, diagnosis=diagnosis
    ).read_text(encoding="utf-8")
    assert "A uniform limit of 38.0 minutes for every centre would be feasible." in page
    assert "km for every centre" not in page
    # A plain dict (older callers) renders the same.
    again = write_report(
        plan, tmp_path / "d.html", centers=centers, garrisons=garrisons, diagnosis=error
    ).read_text(encoding="utf-8")
    assert "A uniform limit of 38.0 minutes for every centre would be feasible." in again


def _round_trip(err: BaseException) -> Any:
    """Pickle and unpickle, as a process pool does with an error raised in a worker."""
    return pickle.loads(pickle.dumps(err))  # noqa: S301 - our own bytes


def _same_error(a: BaseException, b: BaseException) -> None:
    assert type(a) is type(b)
    assert str(a) == str(b)
    assert a.args == b.args


def test_infeasible_error_pickles_with_its_partial_plan(short):
    back = _round_trip(short)
    _same_error(short, back)
    assert back.diagnosis == short.diagnosis
    assert isinstance(back.diagnosis, Diagnosis)
    assert back.partial is not None
    assert back.partial.to_dict() == short.partial.to_dict()
    assert back.to_dict() == short.to_dict()


def test_infeasible_error_pickles_without_a_partial_plan():
    err = InfeasibleError(_diagnosis(smallest_feasible_max_distance_m=None))
    err.add_note("raised in a worker")
    back = _round_trip(err)
    _same_error(err, back)
    assert back.diagnosis == err.diagnosis
    assert back.partial is None
    assert back.__notes__ == ["raised in a worker"]


def test_input_error_pickles_with_its_issues():
    issues = [
        es.Issue("centers", "demand", ("A", 7), "must be non-negative integers"),
        es.Issue("arguments", None, (), "time_limit_s must be > 0"),
    ]
    err = es.InputError(issues)
    back = _round_trip(err)
    _same_error(err, back)
    assert back.issues == err.issues
    assert isinstance(back, ValueError)


def test_solver_error_pickles():
    err = es.SolverError("time limit reached with no plan")
    back = _round_trip(err)
    _same_error(err, back)
