"""The seam: ``prepare`` → ``Instance`` → ``solve``, equal to ``solve_assignment``."""

import dataclasses
import pickle

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import electsec as es
from checker import check_plan
from golden_cases import untimed

TINY = ("data/sample/tiny_centers.geojson", "data/sample/tiny_garrisons.geojson")


@pytest.fixture
def tiny_paths(repo_root):
    return tuple(str(repo_root / p) for p in TINY)


def _same(a: es.AssignmentResult, b: es.AssignmentResult) -> None:
    assert untimed(a.to_dict()) == untimed(b.to_dict())


@pytest.mark.parametrize(
    "options",
    [
        {"split": True},
        {},
        {"objective": "max"},
        {"split": True, "coverage": "max"},
        {"seed": 3, "time_limit_s": 30.0},
    ],
)
def test_solve_assignment_is_solve_of_prepare(tiny_paths, options):
    limits = {"max_distance_m": {"high": 20_000}} if options.get("coverage") else {}
    direct = es.solve_assignment(*tiny_paths, **limits, **options)
    staged = es.solve(es.prepare(*tiny_paths, **limits), **options)
    _same(direct, staged)


@pytest.mark.parametrize("split", [True, False])
def test_a_pickled_instance_solves_to_the_same_plan(tiny_paths, split):
    instance = es.prepare(*tiny_paths)
    again = pickle.loads(pickle.dumps(instance))  # noqa: S301
    assert isinstance(again, es.Instance)
    _same(es.solve(instance, split=split), es.solve(again, split=split))


def test_a_pickled_instance_with_costs_agencies_and_backups_solves_the_same(tiny):
    centers, garrisons = tiny
    centers = centers.copy()
    centers["agency"] = np.where(np.arange(len(centers)) % 2, "police", "army")
    garrisons = garrisons.copy()
    garrisons["agency"] = ["police", "army"] * 3
    garrisons["reserve"] = 1
    costs = es.distance_matrix(centers, garrisons)
    instance = es.prepare(
        centers, garrisons, costs, backup=es.Backup(max_distance_m=80_000, centers_per_team=20)
    )
    again = pickle.loads(pickle.dumps(instance))  # noqa: S301
    first = es.solve(instance, split=True, coverage="max")
    _same(first, es.solve(again, split=True, coverage="max"))
    check_plan(first, centers, garrisons, split=True)


def test_solving_an_instance_does_not_change_it(tiny_paths):
    instance = es.prepare(*tiny_paths)
    before = pickle.dumps(instance)
    es.solve(instance)
    es.solve(instance, split=True, objective="max")
    assert pickle.dumps(instance) == before


def test_instance_is_frozen_and_numpy_only(tiny_paths):
    instance = es.prepare(*tiny_paths)
    with pytest.raises(dataclasses.FrozenInstanceError):
        instance.problem = None  # type: ignore[misc]
    with pytest.raises(TypeError):
        instance.parameters["k"] = 3  # type: ignore[index]
    for value in (instance.labels.center_ids, instance.labels.center_lonlat):
        assert isinstance(value, np.ndarray)
    assert not any(
        isinstance(v, pd.DataFrame | pd.Series | gpd.GeoSeries)
        for v in vars(instance.labels).values()
    )
    assert repr(instance) == "Instance(40 centres × 6 garrisons, 40 demand rows, unit='m')"


def test_replace_derives_a_variant_without_touching_the_original(tiny):
    centers, garrisons = tiny
    instance = es.prepare(centers, garrisons)
    capacity = instance.problem.capacity.copy()
    capacity[0] //= 2
    variant = instance.replace(capacity=capacity)
    assert instance.problem.capacity[0] == garrisons["capacity"].iloc[0]
    fewer = garrisons.copy()
    fewer.loc[fewer.index[0], "capacity"] = capacity[0]
    direct = es.solve_assignment(centers, fewer, split=True, coverage="max")
    staged = es.solve(variant, split=True, coverage="max")
    assert staged.objective == direct.objective
    assert staged.uncovered["teams"].sum() == direct.uncovered["teams"].sum()


def test_replace_refuses_bad_arrays(tiny_paths):
    instance = es.prepare(*tiny_paths)
    with pytest.raises(es.InputError, match="capacity"):
        instance.replace(capacity=np.array([1, 2]))
    with pytest.raises(es.InputError, match="demand"):
        instance.replace(demand=-np.ones(instance.problem.n_centers, dtype=np.int64))


def test_solve_refuses_what_is_not_an_instance(tiny_paths):
    with pytest.raises(es.InputError, match="instance"):
        es.solve(tiny_paths[0])  # type: ignore[arg-type]


def test_solve_lists_every_bad_option_at_once(tiny_paths):
    instance = es.prepare(*tiny_paths)
    with pytest.raises(es.InputError) as caught:
        es.solve(instance, split="yes", objective="min", seed=1.5)  # type: ignore[arg-type]
    assert {i.column for i in caught.value.issues} == {"split", "objective", "seed"}


def test_solve_assignment_lists_layer_and_option_problems_together(tiny_paths):
    with pytest.raises(es.InputError) as caught:
        es.solve_assignment(tiny_paths[0], {"type": "FeatureCollection"}, seed=-0.5, k=0)
    columns = {i.column for i in caught.value.issues}
    assert {"seed", "k"} <= columns
    assert any(i.table == "garrisons" for i in caught.value.issues)


def test_a_layer_read_with_its_own_column_names_solves(tiny_paths):
    raw = gpd.read_file(tiny_paths[0]).rename(columns={"demand": "teams", "center_id": "code"})
    before = raw.copy()
    centers = es.read_polling_centers(raw, demand_col="teams", id_col="code")
    garrisons = es.read_garrisons(tiny_paths[1])
    assert centers.index.name == "center_id"
    assert "demand" in centers.columns
    assert "teams" not in centers.columns
    pd.testing.assert_frame_equal(es.read_polling_centers(centers), centers)
    plan = es.solve_assignment(centers, garrisons)
    assert plan.status == "optimal"
    assert es.distance_matrix(centers, garrisons, k=2).nnz == 2 * len(centers)
    pd.testing.assert_frame_equal(raw, before)


def test_two_team_columns_are_refused(tiny_paths):
    raw = gpd.read_file(tiny_paths[0])
    raw["teams"] = raw["demand"]
    with pytest.raises(es.InputError, match="both 'teams'"):
        es.read_polling_centers(raw, demand_col="teams")


def test_centres_of_two_voting_days_are_refused(repo_root):
    sample = repo_root / "data" / "sample"
    general = gpd.read_file(sample / "tiny_centers.geojson")
    special = gpd.read_file(sample / "special_centers.geojson").head(3)
    both = pd.concat([general, special], ignore_index=True)
    with pytest.raises(es.InputError, match="voting days") as caught:
        es.solve_assignment(both, sample / "tiny_garrisons.geojson")
    (issue,) = [i for i in caught.value.issues if i.column == "phase"]
    assert set(issue.ids) == set(special["center_id"])
    assert "centers['phase'] ==" in str(issue)


@pytest.mark.parametrize("seed", [-1, 2**31, 2**40, True, 1.0])
def test_seeds_outside_cp_sat_range_are_refused(tiny_paths, seed):
    with pytest.raises(es.InputError, match=r"seed.*\[0, 2\*\*31\)"):
        es.solve_assignment(*tiny_paths, seed=seed)


def test_the_largest_seed_is_accepted(tiny_paths):
    assert es.solve_assignment(*tiny_paths, seed=2**31 - 1).status in ("optimal", "feasible")


def test_plans_and_their_errors_cross_process_boundaries(tiny_paths):
    plan = es.solve(es.prepare(*tiny_paths), split=True)
    again = pickle.loads(pickle.dumps(plan))  # noqa: S301
    _same(plan, again)
    with pytest.raises(es.InfeasibleError) as caught:
        es.solve(es.prepare(*tiny_paths, max_distance_m=2_000), split=True)
    err = pickle.loads(pickle.dumps(caught.value))  # noqa: S301
    assert str(err) == str(caught.value)
    assert err.diagnosis.to_dict() == caught.value.diagnosis.to_dict()
    _same(err.partial, caught.value.partial)
