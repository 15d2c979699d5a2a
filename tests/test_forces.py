"""Agencies and jurisdiction: teams of each agency come only from that agency's garrisons.

Agencies share no garrison, so the exact optimum is the sum of one exact (scipy ``milp``)
optimum per agency; the checker recomputes per-(centre, agency) coverage from the layers.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import electsec as es
from helpers import geodesic_m, layer_arrays, make_instance
from reference import reference_optimum

PROPERTY = settings(max_examples=25, deadline=None, derandomize=True, database=None)
AGENCIES = ("army", "police")


def with_agencies(
    rng: np.random.Generator, centers: gpd.GeoDataFrame, garrisons: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    centers, garrisons = centers.copy(), garrisons.copy()
    army = rng.integers(0, centers["demand"].to_numpy() + 1)
    centers["demand_army"] = army
    centers["demand_police"] = centers["demand"] - army
    garrisons["agency"] = rng.choice(AGENCIES, size=len(garrisons))
    return centers, garrisons


def per_agency(
    centers: gpd.GeoDataFrame, garrisons: gpd.GeoDataFrame, agency: str
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    c = centers.assign(demand=centers[f"demand_{agency}"])
    return c, garrisons[garrisons["agency"] == agency]


def check_agencies(
    plan: es.AssignmentResult,
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    *,
    split: bool,
) -> None:
    """Every (centre, agency) gets exactly its teams from garrisons of that agency."""
    a = plan.assignments
    g_ids, capacity, g_lon, g_lat = layer_arrays(garrisons, "garrison_id", "capacity")
    c_ids, _, c_lon, c_lat = layer_arrays(centers, "center_id", "demand")
    agency_of = garrisons.set_index("garrison_id")["agency"]
    assert (a["agency"].to_numpy() == agency_of.loc[a["garrison_id"]].to_numpy()).all()
    u = plan.uncovered
    for agency in AGENCIES:
        need = centers.set_index("center_id")[f"demand_{agency}"]
        mine = a[a["agency"] == agency].groupby("center_id")["teams"].sum()
        short = u[u["agency"] == agency].set_index("center_id")["teams"] if len(u) else None
        got = mine.reindex(need.index, fill_value=0)
        if short is not None:
            got = got + short.reindex(need.index, fill_value=0)
        assert (got == need).all(), f"{agency}: teams per centre differ from demand_{agency}"
        if not split:
            assert not a[a["agency"] == agency].duplicated("center_id").any()
    used = a.groupby("garrison_id")["teams"].sum().reindex(g_ids, fill_value=0).to_numpy()
    assert (used <= capacity).all()
    ci, gi = c_ids.get_indexer(a["center_id"]), g_ids.get_indexer(a["garrison_id"])
    true = np.rint(geodesic_m(g_lon[gi], g_lat[gi], c_lon[ci], c_lat[ci])).astype(np.int64)
    assert plan.objective == int(true @ a["teams"].to_numpy(np.int64))


@PROPERTY
@given(seed=st.integers(0, 10_000), n=st.integers(1, 8), m=st.integers(2, 6), split=st.booleans())
def test_agencies_match_one_exact_optimum_per_agency(
    seed: int, n: int, m: int, split: bool
) -> None:
    rng = np.random.default_rng(seed)
    centers, garrisons = with_agencies(rng, *make_instance(rng, n, m, capacity_ratio=2.5))
    optima = [reference_optimum(*per_agency(centers, garrisons, a), split=split) for a in AGENCIES]
    try:
        plan = es.solve_assignment(centers, garrisons, split=split)
    except es.InfeasibleError as exc:
        assert None in optima
        partial = exc.partial
        assert partial is not None
        check_agencies(partial, centers, garrisons, split=split)
        return
    except es.SolverError:
        assert not split
        assert None in optima
        return
    assert None not in optima
    check_agencies(plan, centers, garrisons, split=split)
    if plan.status == "optimal":
        assert plan.objective == sum(o for o in optima if o is not None)


def test_one_agency_column_per_centre_and_costs_matrix_agree() -> None:
    rng = np.random.default_rng(5)
    centers, garrisons = make_instance(rng, 30, 8, capacity_ratio=3)
    garrisons["agency"] = ["army", "police"] * 4
    centers["agency"] = rng.choice(["army", "police"], size=30)
    geodesic = es.solve_assignment(centers, garrisons, split=True)
    costs = es.distance_matrix(es.read_polling_centers(centers), es.read_garrisons(garrisons))
    given = es.solve_assignment(centers, garrisons, costs, split=True)
    assert geodesic.objective == given.objective
    pd.testing.assert_frame_equal(geodesic.assignments, given.assignments)
    agency_of = garrisons.set_index("garrison_id")["agency"]
    wanted = centers.set_index("center_id")["agency"]
    a = geodesic.assignments
    assert (
        agency_of.loc[a["garrison_id"]].to_numpy() == wanted.loc[a["center_id"]].to_numpy()
    ).all()


def test_jurisdiction_bars_an_agency_from_a_governorate() -> None:
    rng = np.random.default_rng(11)
    centers, garrisons = make_instance(rng, 10, 6, demand_min=1, capacity_ratio=4)
    centers["governorate"] = ["Baghdad"] * 5 + ["Basra"] * 5
    centers["agency"] = "police"
    garrisons["agency"] = ["police", "army"] * 3
    with pytest.raises(es.InfeasibleError) as info:
        es.solve_assignment(centers, garrisons, jurisdiction={"police": ["Baghdad"]})
    barred = centers["center_id"][5:].tolist()
    assert info.value.diagnosis["unreachable_centers"] == barred
    partial = es.solve_assignment(
        centers, garrisons, jurisdiction=[("police", "Baghdad")], coverage="max"
    )
    assert partial.uncovered["center_id"].tolist() == barred
    assert partial.uncovered["reason"].str.contains("jurisdiction").all()
    assert set(partial.assignments["center_id"]) == set(centers["center_id"][:5])
    table = pd.DataFrame({"agency": ["police", "police"], "governorate": ["Baghdad", "Basra"]})
    plan = es.solve_assignment(centers, garrisons, jurisdiction=table)
    assert plan.uncovered.empty
    assert plan.parameters["jurisdiction"] == {"police": ["Baghdad", "Basra"]}


def test_agency_shortage_is_diagnosed_per_agency() -> None:
    rng = np.random.default_rng(2)
    centers, garrisons = make_instance(rng, 6, 4, demand_min=2, demand_max=2, capacity_ratio=3)
    centers["demand_army"] = 1
    centers["demand_police"] = 1
    garrisons["agency"] = ["army", "army", "army", "police"]
    garrisons.loc[3, "capacity"] = 2  # police: 2 teams for 6 centres
    with pytest.raises(es.InfeasibleError) as info:
        es.solve_assignment(centers, garrisons, split=True)
    d = info.value.diagnosis
    assert d["shortfall"] == 4
    (region,) = d["blocking_regions"]
    assert region["agencies"] == ["police"]
    assert region["garrisons"] == ["g3"]
    assert (region["demand"], region["capacity"], region["deficit"]) == (6, 2, 4)


def test_garrison_agencies_are_ignored_when_centres_name_none() -> None:
    rng = np.random.default_rng(4)
    centers, garrisons = make_instance(rng, 20, 5)
    plain = es.solve_assignment(centers, garrisons)
    tagged = es.solve_assignment(centers, garrisons.assign(agency="army"))
    assert plain.objective == tagged.objective
    assert "agency" not in tagged.assignments.columns


@pytest.mark.parametrize(
    ("change", "jurisdiction", "message"),
    [
        ({"demand_army": 9}, None, r"must equal demand_army \+ demand_police"),
        ({"agency": "navy"}, None, "names no agency of the garrisons"),
        ({}, {"police": ["Baghdad"]}, "jurisdiction needs each centre's governorate"),
        ({}, {"marines": ["Baghdad"]}, "names agencies that no garrison belongs to"),
    ],
)
def test_bad_agency_inputs_name_the_fix(change, jurisdiction, message) -> None:
    rng = np.random.default_rng(0)
    centers, garrisons = with_agencies(rng, *make_instance(rng, 4, 3, demand_min=1))
    centers = (
        centers.drop(columns=["demand_army", "demand_police"]) if "agency" in change else centers
    )
    centers = centers.assign(**change)
    before = centers.copy()
    with pytest.raises(es.InputError, match=message):
        es.solve_assignment(centers, garrisons, jurisdiction=jurisdiction)
    pd.testing.assert_frame_equal(centers, before)


def test_per_agency_demand_needs_garrison_agencies() -> None:
    rng = np.random.default_rng(0)
    centers, garrisons = make_instance(rng, 4, 3)
    centers["demand_army"] = centers["demand"]
    with pytest.raises(es.InputError, match="garrisons have no 'agency' column"):
        es.solve_assignment(centers, garrisons)
