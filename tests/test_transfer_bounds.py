"""The last hand-over bound never exceeds the best plan (brute force over convoys)."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from electsec.transfer_bounds import last_handover_bound

READY_S = 72_000


def _partitions(items: list[int]):
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in _partitions(rest):
        for k in range(len(part)):
            yield [*part[:k], [first, *part[k]], *part[k + 1 :]]
        yield [[first], *part]


def best_last_handover(xy, gate, service, boxes, capacity, gap, opens):
    """Brute force: every split into convoys and order (no garrison leg), gates in turn."""
    drive = np.rint(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)))
    to_gate = np.rint(np.hypot(*(xy - gate).T))
    best = np.inf
    for part in _partitions(list(range(len(xy)))):
        if any(boxes[b].sum() > capacity for b in part):
            continue
        arrivals = [
            min(
                READY_S
                + service[list(p)].sum()
                + sum(drive[a, b] for a, b in itertools.pairwise(p))
                + to_gate[p[-1]]
                for p in itertools.permutations(block)
            )
            for block in part
        ]
        last = -np.inf
        for arrival in sorted(arrivals):
            last = max(arrival, opens, last + gap)
        best = min(best, last)
    return best, drive, to_gate


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 6),
    seed=st.integers(0, 10_000),
    capacity=st.integers(4, 20),
    gap=st.sampled_from([0, 60, 600, 1800]),
    opens=st.sampled_from([0, READY_S + 3600]),
)
def test_the_bound_never_passes_the_best_plan(n, seed, capacity, gap, opens):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 5_000, (n, 2))
    gate = rng.uniform(0, 5_000, 2)
    boxes = rng.integers(1, 5, n)
    service = 600 + 60 * boxes
    best, drive, to_gate = best_last_handover(xy, gate, service, boxes, capacity, gap, opens)
    bound = last_handover_bound(
        READY_S,
        service,
        service + to_gate,
        boxes,
        capacity,
        gap,
        opens,
        lambda idx: drive[np.ix_(idx, idx)],
    )
    assert bound <= best


def test_far_centres_that_cannot_share_push_the_bound_past_the_simple_one():
    # Four centres far apart, each 1 h from the gate; one convoy each, 30 min apart.
    xy = np.array([[0.0, 3600.0], [3600.0, 0.0], [0.0, -3600.0], [-3600.0, 0.0]])
    gate = np.zeros(2)
    boxes = np.ones(4, dtype=np.int64)
    service = np.full(4, 600)
    best, drive, to_gate = best_last_handover(xy, gate, service, boxes, 40, 1800, 0)
    bound = last_handover_bound(
        READY_S,
        service,
        service + to_gate,
        boxes,
        40,
        1800,
        0,
        lambda idx: drive[np.ix_(idx, idx)],
    )
    simple = READY_S + 600 + 3600  # one convoy could carry every box
    assert simple < bound <= best
    assert best == READY_S + 600 + 3600 + 3 * 1800
    assert bound >= best - 4  # a second per convoy of gate rounding
