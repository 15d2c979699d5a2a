"""Scenario edits of centres' tiers and response limits, exact as ``es.prepare``.

Lowering a limit (or moving a centre to a tier with a lower limit) only removes allowed
pairs, so the edited instance keeps its oracle and drops the pairs beyond the new limits
(by their exact cost). Raising one needs pairs the instance never offered: they are
priced from the instance's own cost source, as ``es.prepare`` would with the new limits —
the geodesic oracle (its first candidates, or its ``k`` nearest), or the pairs of a given
cost matrix (which ``prepare`` keeps whole; pairs the matrix lacks stay not allowed, and
the instance warns when a raised centre gains none). An instance with no such source (one
derived with ``Instance.replace(keep_arcs=...)``) refuses, with the advice to re-run
``es.prepare`` with the larger limit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from electsec.errors import Issue
from electsec.oracle import ArcOracle, GroupedOracle
from electsec.preparation import TIER_PRIORITY, first_arcs, limited_arcs
from electsec.problem import Arcs, Instance, PairCosts, Problem
from electsec.validation import is_number


def new_tiers(base: Instance, tiers: Mapping[int, str], issues: list[Issue]) -> np.ndarray | None:
    """Return each centre's tier after the edit (``tiers``: centre position → tier), or None."""
    if not tiers:
        return base.labels.tier
    if base.labels.tier is None:
        message = "the centres have no 'tier' column; add one and re-run es.prepare"
        issues.append(Issue("arguments", "tiers", (), message))
        return None
    out = base.labels.tier.copy()
    known = sorted({str(t) for t in out} | set(TIER_PRIORITY))
    for c, tier in tiers.items():
        if not isinstance(tier, str) or tier not in known:
            message = f"give one of the tiers {', '.join(known)}, got {tier!r}"
            issues.append(Issue("arguments", "tiers", (str(base.labels.center_ids[c]),), message))
        else:
            out[c] = tier
    return out


def new_limits(
    base: Instance,
    tier: np.ndarray | None,
    limits: float | Mapping[str, float] | None,
    issues: list[Issue],
) -> np.ndarray:
    """Return each centre's response limit after the edit (``inf``: none)."""
    n, forces = base.n_centers, base.labels.forces
    old = np.full(n, np.inf)
    if base.limits is not None:
        old[forces.row_center] = base.limits
    new = old.copy()
    prepared = _tier_rule(base)
    if prepared is not None and tier is not None and base.labels.tier is not None:
        moved = tier != base.labels.tier
        new[moved] = [float(prepared.get(str(t), np.inf)) for t in tier[moved]]
    if limits is None:
        return new
    if isinstance(limits, Mapping):
        known = set() if tier is None else {str(t) for t in tier}
        for key, value in limits.items():
            if str(key) not in known:
                issues.append(Issue("arguments", "limits", (str(key),), "no centre has this tier"))
            elif not is_number(value):
                issues.append(Issue("arguments", "limits", (str(key),), "must be a number ≥ 0"))
            else:
                new[tier == str(key)] = float(value)
    elif is_number(limits):
        new[:] = float(limits)
    else:
        message = f"give one limit (a number ≥ 0) or {{tier: limit}}, got {limits!r}"
        issues.append(Issue("arguments", "limits", (), message))
    return new


def _tier_rule(base: Instance) -> Mapping[str, float] | None:
    """Return the ``{tier: limit}`` the instance was prepared with, if any."""
    for name in ("max_distance_m", "max_time_s"):
        rule = base.parameters.get(name)
        if isinstance(rule, Mapping):
            return {str(k): float(v) for k, v in rule.items()}
    return None


def raised(base: Instance, limit: np.ndarray, issues: list[Issue]) -> None:
    """Add an issue naming the centres whose limit is raised beyond what can be priced."""
    old = np.full(base.n_centers, np.inf)
    if base.limits is not None:
        old[base.labels.forces.row_center] = base.limits
    up = np.flatnonzero(limit > old)
    if up.size and _source(base) is None:
        ids = tuple(str(i) for i in base.labels.center_ids[up])
        option = "max_time_s" if base.unit == "s" else "max_distance_m"
        message = (
            "would raise these centres' response limit, but this instance keeps no cost "
            f"source to price the pairs it would allow; re-run es.prepare with the larger "
            f"{option}"
        )
        issues.append(Issue("arguments", "limits", ids, message))


def _source(base: Instance) -> str | None:
    """How the instance can price pairs beyond its arcs: oracle, nearest, matrix or None."""
    if base.problem.oracle is not None:
        return "oracle"
    owner = getattr(base.cost, "__self__", None)
    if isinstance(owner, ArcOracle | GroupedOracle) and base.parameters.get("k") is not None:
        return "nearest"
    if isinstance(base.cost, PairCosts) and base.parameters.get("costs") == "given":
        return "matrix"
    return None


def retiered(base: Instance, tier: np.ndarray | None, limit: np.ndarray) -> Instance:
    """Return ``base`` with the centres' new tiers (cover priority) and limits."""
    problem, labels = base.problem, base.labels
    if tier is not None and labels.tier is not None and (tier != labels.tier).any():
        priority = np.array([TIER_PRIORITY.get(str(t).lower(), 1) for t in tier], np.int64)
        problem = dataclasses.replace(problem, priority=priority[labels.forces.row_center])
        attributes = {**labels.center_attributes}
        if "tier" in attributes:
            attributes["tier"] = tier.astype(str).astype(object)
        labels = dataclasses.replace(labels, tier=tier, center_attributes=attributes)
    rows = limit[labels.forces.row_center]
    before = np.full(len(rows), np.inf) if base.limits is None else base.limits
    if (rows > before).any():
        problem, warning = _repriced(base, problem, rows, before)
        base = dataclasses.replace(base, limits=rows, warnings=base.warnings + warning)
    elif (rows < before).any():
        arcs = problem.arcs
        keep = base.cost(arcs.center, arcs.garrison) <= rows[arcs.center]
        max_cost = None if problem.oracle is None else rows
        problem = dataclasses.replace(problem, arcs=arcs.subset(keep), max_cost=max_cost)
        base = dataclasses.replace(base, limits=rows)
    return dataclasses.replace(base, problem=problem, labels=labels)


def _repriced(
    base: Instance, problem: Problem, rows: np.ndarray, before: np.ndarray
) -> tuple[Problem, tuple[str, ...]]:
    """Rebuild the arcs under the new row limits as ``es.prepare`` builds them."""
    source, k = _source(base), base.parameters.get("k")
    if source == "oracle":
        assert problem.oracle is not None  # noqa: S101 - the source says so
        arcs, reach = first_arcs(problem.oracle, base.options, problem.n_centers, rows)
        return dataclasses.replace(problem, arcs=arcs, max_cost=rows, reach=reach), ()
    if source == "nearest":
        owner = base.cost.__self__  # type: ignore[attr-defined]
        arcs = Arcs.from_arrays(*owner.nearest(int(base.parameters["k"]), max_cost=rows))
        return dataclasses.replace(problem, arcs=arcs), ()
    table = base.cost
    assert isinstance(table, PairCosts)  # noqa: S101 - the source says so
    arcs = limited_arcs(*table.pairs(), rows, None if k is None else int(k))
    return dataclasses.replace(problem, arcs=arcs), _gained_nothing(base, table, rows, before)


def _gained_nothing(
    base: Instance, table: PairCosts, rows: np.ndarray, before: np.ndarray
) -> tuple[str, ...]:
    """Warn about the raised centres the given matrix looks cut for.

    A centre whose limit was raised, of whose pairs the matrix lists none beyond the old
    limit although it lacks some garrisons: the matrix was likely built with that cutoff.
    """
    row, _, cost = table.pairs()
    beyond = np.zeros(len(rows), dtype=bool)
    beyond[row[cost > before[row]]] = True
    listed = np.bincount(row, minlength=len(rows))
    lonely = np.flatnonzero((rows > before) & ~beyond & (listed < table.n_garrisons))
    if not len(lonely):
        return ()
    ids = list(dict.fromkeys(str(i) for i in base.labels.row_ids(lonely)))
    shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
    return (
        f"the raised limit allows no new garrison for {len(ids)} centre(s) ({shown}): the "
        "given cost matrix lists none of their pairs beyond the old limit (pairs absent "
        "from it stay not allowed); if it was built with that cutoff, rebuild it with "
        "distance_matrix() at the new limit",
    )
