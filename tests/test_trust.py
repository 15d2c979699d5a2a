"""Trust: a checked plan or a typed error on random input; threads and processes agree.

- Property fuzzing: ``solve_assignment`` on random small instances with random limits,
  tiers, reserves, ``k``, ``split``, ``objective`` and ``coverage`` gives a plan that passes
  the independent checker (and equals the exact MILP where it claims optimality), or an
  :class:`ElectsecError` — nothing else.
- Eight threads calling ``solve_assignment`` at once get what sequential calls get.
- The same inputs and seed give byte-identical ``to_dict()`` (timings aside) in another
  process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import electsec as es
from checker import check_plan
from golden_cases import canonical, untimed
from helpers import make_instance
from reference import reference_optimum

#: ``ELECTSEC_FUZZ_EXAMPLES=5000`` for a long run; ``make test`` runs 120, seeded.
FUZZ = settings(
    max_examples=int(os.environ.get("ELECTSEC_FUZZ_EXAMPLES", "120")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

TIERS = ("high", "medium", "low")


@st.composite
def instances(draw: st.DrawFn) -> dict[str, object]:
    seed = draw(st.integers(0, 2**20))
    n = draw(st.integers(1, 9))
    m = draw(st.integers(1, 4))
    rng = np.random.default_rng(seed)
    ratio = draw(st.sampled_from([0.7, 1.0, 1.3, 2.0]))
    centers, garrisons = make_instance(rng, n, m, capacity_ratio=ratio, demand_max=3)
    if draw(st.booleans()):
        centers["tier"] = rng.choice(TIERS, size=n)
    if draw(st.booleans()):
        garrisons["reserve"] = [int(rng.integers(0, c + 1)) for c in garrisons["capacity"]]
    options: dict[str, object] = {
        "split": draw(st.booleans()),
        "objective": draw(st.sampled_from(["total", "max"])),
        "coverage": draw(st.sampled_from(["full", "max"])),
        "seed": draw(st.integers(0, 5)),
    }
    limit = draw(st.sampled_from([None, 50_000.0, 150_000.0, "tiers"]))
    if limit == "tiers" and "tier" in centers.columns:
        options["max_distance_m"] = {"high": 60_000.0, "medium": 150_000.0}
    elif isinstance(limit, float):
        options["max_distance_m"] = limit
    if draw(st.booleans()):
        options["k"] = draw(st.integers(1, m))
    return {"centers": centers, "garrisons": garrisons, "options": options}


def _uniform_limit(options: dict[str, object]) -> float | None:
    limit = options.get("max_distance_m")
    return limit if isinstance(limit, float) else None


@FUZZ
@given(instances())
def test_a_random_instance_gives_a_checked_plan_or_a_typed_error(case):
    centers, garrisons, options = case["centers"], case["garrisons"], case["options"]
    before = (centers.copy(), garrisons.copy())
    partial, infeasible_kind = None, None
    try:
        plan = es.solve_assignment(centers, garrisons, **options)
    except es.InfeasibleError as err:
        partial, plan = err.partial, None
        infeasible_kind = err.diagnosis.kind
    except es.ElectsecError:
        plan = None
    assert centers.equals(before[0]), "centres mutated"
    assert garrisons.equals(before[1]), "garrisons mutated"
    if infeasible_kind == "cover":
        assert options["coverage"] == "full", "coverage='max' never raises for coverage"
    if partial is not None:
        check_plan(partial, centers, garrisons, split=options["split"])
    if plan is None:
        return
    limit = _uniform_limit(options)
    check_plan(plan, centers, garrisons, split=options["split"], max_distance_m=limit)
    claims_optimum = (
        plan.status == "optimal"
        and plan.uncovered.empty
        and options["objective"] == "total"
        and "reserve" not in garrisons.columns
        and not isinstance(options.get("max_distance_m"), dict)
    )
    if claims_optimum:
        best = reference_optimum(
            centers, garrisons, split=options["split"], max_distance_m=limit, k=options.get("k")
        )
        assert best is not None, "electsec found a plan the exact model calls infeasible"
        assert plan.objective == best, (plan.objective, best)


def _plans(n_calls: int, *, threads: bool) -> list[str]:
    rng = np.random.default_rng(42)
    cases = [make_instance(rng, 30, 5, capacity_ratio=1.2) for _ in range(n_calls)]

    def one(i: int) -> str:
        centers, garrisons = cases[i]
        plan = es.solve_assignment(centers, garrisons, split=i % 2 == 0, seed=i)
        return canonical(untimed(plan.to_dict()))

    if threads:
        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(one, range(n_calls)))
    return [one(i) for i in range(n_calls)]


def test_eight_threads_at_once_equal_sequential_calls():
    assert _plans(16, threads=True) == _plans(16, threads=False)


_IN_ANOTHER_PROCESS = """
import json, sys
sys.path.insert(0, {tests!r})
import electsec as es
from golden_cases import canonical, untimed
plan = es.solve_assignment({centers!r}, {garrisons!r}, seed=7, split={split!r})
sys.stdout.write(canonical(untimed(plan.to_dict())))
"""


@pytest.mark.parametrize("split", [False, True])
def test_the_same_seed_gives_byte_identical_plans_across_processes(repo_root, split):
    sample = repo_root / "data" / "sample"
    centers, garrisons = (
        str(sample / "tiny_centers.geojson"),
        str(sample / "tiny_garrisons.geojson"),
    )
    script = _IN_ANOTHER_PROCESS.format(
        tests=str(repo_root / "tests"), centers=centers, garrisons=garrisons, split=split
    )
    here = canonical(
        untimed(es.solve_assignment(centers, garrisons, seed=7, split=split).to_dict())
    )
    there = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert there == here
    assert json.loads(there)["status"] in ("optimal", "feasible")


@pytest.mark.parametrize("seed", range(4))
def test_a_whole_team_plan_is_found_when_the_exact_repairs_find_none(seed):
    """Defect: SolverError ("could not be served whole") on easily packed instances.

    With the CP-SAT repairs given no time at all, regret insertion, ejection moves and
    worst-fit packing must still place every centre whole (the old code raised).
    """
    options = es.SolverOptions(
        subproblem_deterministic_time=1e-9, lns_max_neighbourhoods=0, proof_max_arcs=0
    )
    rng = np.random.default_rng(seed)
    centers, garrisons = make_instance(
        rng, 200, 10, capacity_ratio=1.15, demand_min=1, demand_max=6
    )
    plan = es.solve_assignment(centers, garrisons, options=options)
    assert plan.uncovered.empty
    check_plan(plan, centers, garrisons, split=False)
