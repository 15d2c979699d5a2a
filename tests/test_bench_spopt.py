"""benchmarks/bench_spopt.py on small instances: electsec finds spopt's optimum.

Correctness only, no timing. Runs only where the benchmark-only packages are installed
(``pip install spopt pulp highspy``); CI does not install them, so it skips there.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

pytest.importorskip("spopt")
pytest.importorskip("pulp")
pytest.importorskip("highspy")

# spopt 0.7 builds its model with PuLP 3 calls that PuLP 3.3 flags for PuLP 4.0.
pytestmark = pytest.mark.filterwarnings(r"ignore:.*PuLP 4\.0:DeprecationWarning")

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module("bench_spopt")
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.mark.parametrize("seed", [1, 2])
def test_electsec_finds_spopt_optimum(bench, seed):
    n, m = 60, 8
    results = {
        "spopt": bench.spopt_side(n, m, seed),
        "single": bench.electsec_side(n, m, seed, split=False),
        "split": bench.electsec_side(n, m, seed, split=True),
    }
    compared = bench.evaluate(n, m, seed, results)

    assert results["spopt"]["status"] == "Optimal"
    for side, r in results.items():
        assert r["check"] == "ok", side
    for side in ("single", "split"):
        assert results[side]["status"] == "optimal"
        assert compared[side]["same_optimum"], (side, compared[side])
        # electsec optimises whole metres, spopt exact metres: the costs agree within n × 1 m
        assert abs(compared[side]["exact_diff_m"]) <= n
        assert compared[side]["whole_diff_m"] <= 0


def test_instance_has_binding_capacities(bench):
    """The small instance is not trivial: some centre cannot use its nearest garrison."""
    n, m, seed = 60, 8, 1
    centers, garrisons = bench.instance(n, m, seed)
    c_xy, g_xy, demand, capacity = bench.arrays(centers, garrisons)
    nearest = bench.geodesic_matrix(c_xy, g_xy).argmin(axis=1)
    assert capacity.sum() >= demand.sum()
    assert (np.bincount(nearest, minlength=m) > capacity).any()
