"""benchmarks/transfer_whole.py: the whole-country side of bench_transfer, on small cases.

Correctness only, no timing: the load codes keep every centre on its own warehouse's
vehicles, the block-built matrices are electsec's travel model, and a tiny night solved
whole is walked by the benchmark's own checker.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import transfer_whole as tw  # noqa: E402


@given(st.integers(1, 60))
def test_no_load_code_lies_inside_another(n):
    codes = tw.load_codes(n)
    assert len(set(codes)) == n
    assert all(c for c in codes)
    assert not any(set(a) <= set(b) for a, b in itertools.permutations(codes, 2))


@settings(max_examples=10, deadline=None)
@given(st.integers(2, 300), st.integers(0, 2**16))
def test_matrices_are_the_pairwise_road_model(n, seed):
    rng = np.random.default_rng(seed)
    xy = np.column_stack([rng.uniform(39, 48, n), rng.uniform(29, 37, n)])
    dist, dur = tw.travel_matrices(xy)
    i, j = np.triu_indices(n, k=1)
    metres = tw.GEOD.inv(xy[i, 0], xy[i, 1], xy[j, 0], xy[j, 1])[2] * tw.DETOUR
    assert (dist[i, j] == np.rint(metres)).all()
    assert (dur[i, j] == np.ceil(metres / tw.SPEED_M_PER_S - 1e-9)).all()
    assert (dist == dist.T).all()
    assert (dur == dur.T).all()
    assert not np.diag(dur).any()


def test_a_centre_rides_only_to_its_own_warehouse():
    # centre C2 sits next to warehouse W0 and its garrison but belongs to W1, far away:
    # it must be carried by W1's vehicle, the one type whose code holds its boxes
    inst = {
        "wh_ids": ["W0", "W1"],
        "wh_xy": np.array([[44.0, 33.0], [46.0, 31.0]]),
        "wh_close_s": np.array([32 * 3600, 32 * 3600]),
        "gar_ids": ["G0", "G1"],
        "gar_xy": np.array([[44.01, 33.01], [45.9, 31.1]]),
        "c_ids": ["C0", "C1", "C2"],
        "c_xy": np.array([[44.02, 33.0], [45.95, 31.0], [44.0, 33.02]]),
        "c_boxes": np.array([3, 4, 5]),
        "c_wh": np.array([0, 1, 1]),
        "types": [(0, 0, 1), (1, 1, 1)],
        "ready_s": 20 * 3600,
        "max_route_s": None,
        "capacity": 40,
        "not_routed": [],
    }
    out = tw.solve_whole(inst, 1.0, 0)
    assert out["feasible"]
    stops = out["stops"]
    picked = stops[stops["action"] == "pickup"]
    hand = stops[stops["action"] == "handover"].set_index("convoy_id")["place_id"]
    where = dict(zip(picked["place_id"], picked["convoy_id"].map(hand), strict=True))
    assert where == {"C0": "W0", "C1": "W1", "C2": "W1"}
    assert out["dropped"].empty
