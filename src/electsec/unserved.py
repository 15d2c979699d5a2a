"""The true reason each centre with no allowed garrison cannot be served, with numbers.

Used by the label stage for ``plan.uncovered`` and the diagnosis; the wording is in
:mod:`electsec.explain`. The causes, checked in this order: the agency may not operate
there (jurisdiction); no road within ``max_snap_m``; its road piece holds no garrison;
its nearest garrison is beyond the limit that applies (or, with agencies, only other
agencies' garrisons are within it); no route to it; no garrison with teams at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from electsec import explain
from electsec.errors import Unserved

if TYPE_CHECKING:
    from electsec.problem import Instance
    from electsec.solvers.pipeline import Outcome

__all__ = ["unserved"]

_EARTH_RADIUS_M = 6_371_008.8


def unserved(instance: Instance, outcome: Outcome) -> dict[int, Unserved]:
    """Return, per unreachable demand row, why it cannot be served.

    Parameters
    ----------
    instance
        The instance solved.
    outcome
        Its outcome (``unreachable`` rows and their ``nearest`` garrisons).

    Returns
    -------
    dict
        Demand row → :class:`~electsec.errors.Unserved`.
    """
    labels = instance.labels
    rows = np.asarray(outcome.unreachable, dtype=np.int64)
    nearest, cost = outcome.nearest
    if len(nearest) != len(rows):  # not computed (an outcome built elsewhere)
        nearest, cost = np.full(len(rows), -1), np.full(len(rows), np.inf)
    out = {}
    for at, row in enumerate(rows):
        cause, facts = _cause(instance, int(row), int(nearest[at]), float(cost[at]))
        agency = labels.forces.row_agency
        name = None if agency is None else str(agency[row])
        center = str(labels.row_ids(np.array([row]))[0])
        message = explain.unserved_sentence(cause, facts, unit=labels.unit, agency=name)
        out[int(row)] = Unserved(center, cause, message, tuple(facts.items()), name)
    return out


def _cause(instance: Instance, row: int, nearest: int, cost: float) -> tuple[str, dict[str, Any]]:
    labels = instance.labels
    forces = labels.forces
    center = int(forces.row_center[row])
    facts: dict[str, Any] = {}
    if not forces.allowed[row] or not _rules_leave_teams(instance, row):
        if not forces.allowed[row] and labels.governorate is not None:
            facts["governorate"] = str(labels.governorate[center])
        elif forces.allowed[row]:
            facts["rule"] = _RULE
        return "jurisdiction", facts
    road_cause = _road_cause(instance, center, facts)
    if road_cause is not None:
        return road_cause, facts
    limit = np.inf if instance.limits is None else float(instance.limits[row])
    if nearest >= 0 and cost > limit:
        facts |= {
            "nearest_garrison": str(labels.garrison_ids[nearest]),
            labels.cost_column: cost,
            "limit": limit,
        }
        others = _others_within(instance, row, limit)
        if others:
            facts["other_agency_garrisons"] = others
        return ("agency" if others else "beyond_limit"), facts
    if not _has_teams(instance, row):
        return "no_garrison", facts
    road = instance.road
    if road is None or nearest >= 0:
        return "limits", facts
    facts |= {
        "piece_nodes": int(road.piece_nodes[center]),
        "piece_km": round(float(road.piece_km[center]), 3),
        "piece_garrisons": int(road.piece_garrisons[center]),
    }
    if road.unreached_nodes is not None and road.unreached_km is not None:
        facts["unreached_nodes"] = int(road.unreached_nodes[center])
        facts["unreached_km"] = round(float(road.unreached_km[center]), 3)
    return "no_route", facts


def _road_cause(instance: Instance, center: int, facts: dict[str, Any]) -> str | None:
    """``"off_road"`` or ``"road_piece"`` (filling ``facts``), else None."""
    road, labels = instance.road, instance.labels
    if road is None:
        return None
    snap = float(road.snap_distance_m[center])
    facts["snap_distance_m"] = round(snap, 1) if np.isfinite(snap) else None
    if road.off_road(np.array([center]))[0]:
        facts["max_snap_m"] = road.max_snap_m
        return "off_road"
    if road.isolated(np.array([center]))[0]:
        g = int(road.nearest_garrison[center])
        facts |= {
            "piece_nodes": int(road.piece_nodes[center]),
            "piece_km": round(float(road.piece_km[center]), 3),
            "nearest_garrison": None if g < 0 else str(labels.garrison_ids[g]),
            "nearest_garrison_m": round(float(road.nearest_garrison_m[center]), 1),
        }
        return "road_piece"
    return None


#: The pair rules beyond agencies, in words (see :func:`electsec.forces.read_forces`).
_RULE = (
    "no garrison allowed to guard it has teams to send (garrisons serve only their own "
    "command with jurisdiction='command', and never a centre where their agency votes)"
)


def _rules_leave_teams(instance: Instance, row: int) -> bool:
    """Whether the pair rules (command, votes_agency) leave the row any garrison with teams."""
    forces = instance.labels.forces
    if forces.center_class is None or forces.class_garrisons is None:
        return True
    mine = forces.class_garrisons[forces.center_class[forces.row_center[row]]]
    if forces.row_agency is not None and forces.garrison_agency is not None:
        mine = mine & (forces.garrison_agency == forces.row_agency[row])
    return bool(instance.problem.capacity[mine].sum() > 0)


def _has_teams(instance: Instance, row: int) -> bool:
    forces = instance.labels.forces
    capacity = instance.problem.capacity
    if forces.row_agency is None or forces.garrison_agency is None:
        return bool(capacity.sum() > 0)
    mine = forces.garrison_agency == forces.row_agency[row]
    return bool(capacity[mine].sum() > 0)


def _others_within(instance: Instance, row: int, limit: float) -> int:
    """Garrisons with teams of other agencies within ``limit`` metres in a straight line."""
    forces, labels = instance.labels.forces, instance.labels
    if labels.unit != "m" or forces.row_agency is None or forces.garrison_agency is None:
        return 0
    other = (forces.garrison_agency != forces.row_agency[row]) & (instance.problem.capacity > 0)
    if not other.any() or not np.isfinite(limit):
        return 0
    lon, lat = np.radians(labels.center_lonlat[forces.row_center[row]])
    g = np.radians(labels.garrison_lonlat[other])
    h = (
        np.sin((g[:, 1] - lat) / 2) ** 2
        + np.cos(lat) * np.cos(g[:, 1]) * np.sin((g[:, 0] - lon) / 2) ** 2
    )
    metres = 2 * _EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
    return int((metres <= limit).sum())
