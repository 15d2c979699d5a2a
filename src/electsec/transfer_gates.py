"""Echelon 1's routing rounds: to the media cut-off first, then closing time or gate slots.

:func:`_route_parts` routes each part first on its tight problem (every hand-over by the
warehouse's media cut-off) where there is one. A part that then leaves a centre out is
routed again to the warehouse's closing time. A warehouse whose convoys all make the
cut-off but whose gate queue (``convoys_per_hour``) ends after it is routed again on the
gate's slots (:func:`_gate_slots`: one vehicle per slot, ending ``cut-off - k x gap``),
the first routes as the warm start, and kept only if every centre is still collected and
the queue ends sooner (:func:`_better_gates`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import geopandas as gpd

from electsec.transfer_common import _gate_gap, _handover_s, _Part, _Window
from electsec.transfer_convoys import _Built, _solve_parts

if TYPE_CHECKING:
    from electsec.routing import Routes, RoutingProblem

logger = logging.getLogger(__name__)

#: Share of a part's budget for routing it to its media cut-off first; the rest routes it
#: again, to closing time if that left a centre out, or on the gate's slots if the
#: warehouse's queue ends after the cut-off (:func:`_gate_slots`).
_TIGHT_SHARE: Final = 0.5
#: Spare gate slots offered to the re-route on the gate's slots, per convoy of the first
#: routes (at least :data:`_MIN_SPARE_SLOTS`).
_SPARE_SLOTS: Final = 0.25
_MIN_SPARE_SLOTS: Final = 2


def _route_parts(
    parts: list[_Part],
    built: list[_Built],
    budgets: list[float],
    solve: dict[str, Any],
    where: tuple[gpd.GeoDataFrame, _Window],
    deadline: float | None = None,
) -> tuple[list[Routes | None], list[str]]:
    """Route every part, first to meet the media deadline where that is possible.

    A part whose every centre can reach its warehouse by the media cut-off is routed with
    that cut-off as the end of the shifts, on :data:`_TIGHT_SHARE` of its budget. On the
    rest: if that left a centre out, it is routed again to the warehouse's closing time;
    if the warehouse's gate queue then ends after the cut-off, it is routed again on the
    gate's slots (:func:`_gate_slots`), kept if every centre is still collected and the
    queue ends sooner. The parts routed again share what is left before ``deadline`` (a
    :func:`time.perf_counter` time) in proportion to their own rest of budget: the rest
    of the parts routed once, and any time a search did not use, goes to them.
    """
    points, window = where
    first = [b.problem if b.tight is None else b.tight for b in built]
    shares = [
        t if b.tight is None else t * _TIGHT_SHARE for b, t in zip(built, budgets, strict=True)
    ]
    results = _solve_parts(first, shares, **solve)
    how = ["" if b.problem is None else "warehouse_hours" for b in built]
    relax = [i for i, b in enumerate(built) if b.tight is not None and not _complete(results[i])]
    for i, b in enumerate(built):
        how[i] = "media_deadline" if b.tight is not None else how[i]
    slotted = _gate_slots(parts, built, results, points, window)
    again_ids = relax + [i for i in slotted if i not in relax]
    problems = [built[i].problem if i in relax else slotted[i].problem for i in again_ids]
    starts = [None if i in relax else slotted[i].initial for i in again_ids]
    rest = _again_budgets([budgets[i] - shares[i] for i in again_ids], deadline)
    again = _solve_parts(problems, rest, initial=starts, **solve)
    tried = {}
    for i, r in zip(again_ids, again, strict=True):
        if i in relax:
            results[i], how[i] = r, "warehouse_hours"
        else:
            tried[i] = r
    for i, r in _better_gates(parts, results, tried, points).items():
        results[i], how[i] = r, "media_deadline_gate"
    return results, how


def _complete(r: Routes | None) -> bool:
    return (
        r is not None and r.feasible and not r.dropped and not any(x.time_warp_s for x in r.routes)
    )


def _gate_gap_s(wh: Any) -> int:
    """Whole seconds the gate of ``wh`` needs per convoy (rounded up; 0: no limit)."""
    return math.ceil(_gate_gap(wh))


def _gate_last_s(arrivals: list[int], wh: Any) -> float:
    """Return the last hand-over of convoys reaching the gate of ``wh`` at ``arrivals``."""
    last = -math.inf
    for arrival in sorted(arrivals):
        last = _handover_s(arrival, wh, last)
    return last


@dataclass(frozen=True)
class _Slotted:
    """A part routed again on the gate's slots, and its first routes as the warm start."""

    problem: RoutingProblem
    initial: tuple[tuple[int, tuple[int, ...]], ...]


def _on_slots(tight: RoutingProblem, slots: list[tuple[int, int]]) -> RoutingProblem:
    """Return the tight problem with one vehicle per slot ``(garrison type, shift end)``."""
    types = tuple(
        dataclasses.replace(tight.vehicle_types[j], count=1, shift_end_s=end) for j, end in slots
    )
    return dataclasses.replace(tight, vehicle_types=types)


def _spare_slots(
    parts: list[_Part],
    slots: dict[int, list[tuple[int, int]]],
    ends: Iterator[int],
    count: int,
) -> None:
    """Give ``count`` more slots (from ``ends``) to the vehicles the first routes left idle.

    In turn over the (part, garrison) pairs with vehicles idle, those whose vehicles the
    first routes used most first.
    """
    used = {(i, j): 0 for i in slots for j in range(len(parts[i].garrisons))}
    for i, mine in slots.items():
        for j, _ in mine:
            used[i, j] += 1
    idle = {key: parts[key[0]].counts[key[1]] - n for key, n in used.items()}
    turn = sorted((key for key, n in idle.items() if n > 0), key=lambda k: (-used[k], k))
    while count > 0 and turn:
        for key in list(turn):
            end = next(ends, None)
            if end is None or count == 0:
                return
            slots[key[0]].append((key[1], end))
            count, idle[key] = count - 1, idle[key] - 1
            if not idle[key]:
                turn.remove(key)


def _gate_slots(
    parts: list[_Part],
    built: list[_Built],
    results: list[Any],
    points: gpd.GeoDataFrame,
    window: _Window,
) -> dict[int, _Slotted]:
    """Put every convoy of a warehouse whose gate queue ends too late on a gate slot.

    At a warehouse whose parts were all routed to the media cut-off ``c`` and collected
    every centre, but whose gate queue ends after ``c``: the gate hands over one convoy
    every ``g`` seconds (its rate, rounded up), so slot ``k`` ends at ``c - k g``. The
    first routes, latest arrival first, take slots 0, 1, …, each its own vehicle of its
    garrison whose shift ends at its slot; idle vehicles take :data:`_SPARE_SLOTS` more.
    No slot ends before the gate opens or the boxes are ready. Convoys that each reach
    the gate by their own slot are all handed over by ``c``, in whatever order they
    arrive: the ``m`` latest arrive by ``c - (m - 1) g``. The first routes are the warm
    start (those past their slot are repaired by the search).
    """
    out: dict[int, _Slotted] = {}
    for wid in dict.fromkeys(p.warehouse for p in parts):
        mine = [i for i, p in enumerate(parts) if p.warehouse == wid]
        cutoff, wh = built[mine[0]].cutoff_s, points.loc[wid]
        gap = _gate_gap_s(wh)
        if cutoff is None or not gap:
            continue
        if not all(built[i].tight is not None and _complete(results[i]) for i in mine):
            continue
        if _gate_last_s([x.end_s for i in mine for x in results[i].routes], wh) <= cutoff:
            continue
        floor_s = max(int(wh["opens_min"]) * 60, window.ready_s)
        ends = iter(range(cutoff, floor_s - 1, -gap))
        ranked = sorted(
            ((x, i) for i in mine for x in results[i].routes),
            key=lambda t: (-t[0].end_s, t[1], t[0].start_depot, t[0].stops),
        )
        slots: dict[int, list[tuple[int, int]]] = {i: [] for i in mine}
        warm: dict[int, list[tuple[int, tuple[int, ...]]]] = {i: [] for i in mine}
        for (x, i), end in zip(ranked, ends, strict=False):
            warm[i].append((len(slots[i]), x.stops))
            slots[i].append((x.start_depot - 1, end))
        spare = max(_MIN_SPARE_SLOTS, math.ceil(len(ranked) * _SPARE_SLOTS))
        _spare_slots(parts, slots, ends, spare)
        for i in mine:
            tight = built[i].tight
            if tight is not None and slots[i]:
                out[i] = _Slotted(_on_slots(tight, slots[i]), tuple(warm[i]))
    return out


def _better_gates(
    parts: list[_Part], results: list[Any], tried: dict[int, Any], points: gpd.GeoDataFrame
) -> dict[int, Any]:
    """Pick the re-routed parts to keep.

    Per warehouse: those that still collect every centre, when the gate queue then ends
    earlier than before.
    """
    keep: dict[int, Any] = {}
    for wid in dict.fromkeys(parts[i].warehouse for i in tried):
        mine = [i for i, p in enumerate(parts) if p.warehouse == wid]
        new = {i: r for i, r in tried.items() if i in mine and _complete(r)}
        before = [x.end_s for i in mine for x in results[i].routes]
        after = [x.end_s for i in mine for x in new.get(i, results[i]).routes]
        wh = points.loc[wid]
        if new and _gate_last_s(after, wh) < _gate_last_s(before, wh):
            keep |= new
    return keep


def _again_budgets(rest: list[float], deadline: float | None) -> list[float]:
    """Scale the second routes' budgets ``rest`` to the time left before ``deadline``.

    Up when the first routes left time unused, down when they overran, in proportion;
    each keeps at least the 0.05 s a part always gets (so past the deadline they overrun
    it by 0.05 s each at most).
    """
    total = sum(rest)
    if deadline is None or not rest or total <= 0:
        return rest
    left = max(deadline - time.perf_counter(), 0.0)
    return [max(r * left / total, 0.05) for r in rest]
