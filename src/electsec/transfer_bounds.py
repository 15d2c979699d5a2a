"""A proven lower bound on a warehouse's last hand-over, for the media's earliest time.

Every convoy reaching a warehouse hands over at its gate, one every ``gap`` seconds at
the earliest, not before the gate opens. A centre's boxes reach the gate no sooner than
``ready + loading + the direct drive`` (its ``e``), whatever convoy carries them. Two
bounds on the last hand-over ``L`` follow, each valid for any routes:

* **Boxes.** The centres with ``e ≥ e_j`` fill at least ``ceil(their boxes / the largest
  vehicle)`` convoys, all arriving after ``e_j``: ``L ≥ max(e_j, opens) + (k_j - 1) gap``.
* **Centres that cannot share.** Two centres can ride one convoy that arrives by ``T``
  only if their boxes fit one vehicle and ``ready`` + both loadings + the drive between
  them + the drive on to the gate, in the better order, is at most ``T``. Centres that
  pairwise cannot share need a convoy each; if their ``e``'s then push the gate past
  ``T`` (the same queue rule), no plan hands over by ``T``, nor by any earlier time.

The second bound is searched by bisection over ``T`` from the first: any ``T`` it proves
infeasible makes ``T + 1`` a lower bound (feasibility only grows with ``T``). Both ignore
the garrison leg and route limits, which only make a plan later.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["last_handover_bound"]

#: Centres (latest ``e`` first) the pairwise bound considers.
PAIR_CANDIDATES = 300


def last_handover_bound(
    ready_s: int,
    service_s: np.ndarray,
    direct_s: np.ndarray,
    boxes: np.ndarray,
    capacity: int,
    gap_s: float,
    opens_s: int,
    pair_s: Callable[[np.ndarray], np.ndarray],
) -> int:
    """Return a lower bound on the last hand-over at a warehouse (seconds after midnight).

    Parameters
    ----------
    ready_s
        When the boxes are ready at the centres.
    service_s, direct_s, boxes
        Per centre: loading time, loading plus the drive to the warehouse, boxes.
    capacity
        Boxes the largest vehicle carries.
    gap_s
        Seconds the gate needs per convoy (0: no limit).
    opens_s
        When the gate opens.
    pair_s
        ``pair_s(idx)`` → the drive times (seconds, ``[a, b]`` from ``idx[a]`` to
        ``idx[b]``) among the centres ``idx``.
    """
    service_s, direct_s = np.asarray(service_s, float), np.asarray(direct_s, float)
    boxes = np.asarray(boxes, np.int64)
    if not len(boxes):
        return int(opens_s)
    gap = max(float(gap_s) - 1.0, 0.0)  # the gate may round a second per convoy
    e = ready_s + direct_s
    order = np.argsort(e, kind="stable")
    suffix = np.cumsum(boxes[order][::-1])[::-1]
    convoys = np.ceil(suffix / max(int(capacity), 1))
    floor = math.floor(float(np.max(np.maximum(e[order], opens_s) + (convoys - 1) * gap)))
    if not gap:
        return floor
    late = order[::-1][:PAIR_CANDIDATES]
    alone = direct_s[late]
    drive = np.asarray(pair_s(late), float)
    # both in one convoy, the better order: ready + s_a + t_ab + s_b + t_b,gate
    both = ready_s + service_s[late][:, None] + drive + alone[None, :]
    together = np.minimum(both, both.T)
    fits = boxes[late][:, None] + boxes[late][None, :] <= capacity

    def infeasible(t: float) -> bool:
        share = fits & (together <= t)
        alone_ok = e[late] <= t
        if not alone_ok.all():
            return True
        chosen: list[int] = []
        for a in range(len(late)):  # latest first: the ones that load the queue's end
            if not share[a, chosen].any():
                chosen.append(a)
        times = np.sort(np.maximum(e[late][chosen], opens_s))
        queue = times + (len(times) - 1 - np.arange(len(times))) * gap
        return bool(queue.max() > t)

    if not infeasible(floor):
        return floor
    lo, hi = floor, floor + math.ceil(len(late) * gap) + 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if infeasible(mid) else (lo, mid)
    return lo + 1
