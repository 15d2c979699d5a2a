"""An independent exact reference solver (scipy ``milp`` / HiGHS on the dense matrix).

Nothing here comes from electsec: distances are pyproj WGS84 geodesics on every pair,
candidate arcs (``max_distance_m``, ``k`` nearest) are applied here, and costs are rounded
to whole metres as the library's objective is defined.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from helpers import dense_distances

__all__ = [
    "allowed_mask",
    "pairs_from_mask",
    "reference_max_coverage",
    "reference_optimum",
    "reference_split_by_pricing",
]


def allowed_mask(
    dist: np.ndarray,
    *,
    max_distance_m: float | None = None,
    k: int | None = None,
) -> np.ndarray:
    """Boolean n × m mask of allowed pairs.

    ``k``: the ``k`` nearest garrisons of each centre by true geodesic, counting every
    garrison (empty ones too), ties by garrison order. ``max_distance_m``: pairs at most
    this far apart. Both together: the ``k`` nearest, then those within the limit.
    """
    n, m = dist.shape
    mask = np.ones((n, m), dtype=bool)
    if k is not None:
        order = np.argsort(dist, axis=1, kind="stable")[:, :k]
        nearest = np.zeros((n, m), dtype=bool)
        np.put_along_axis(nearest, order, values=True, axis=1)
        mask &= nearest
    if max_distance_m is not None:
        mask &= dist <= max_distance_m
    return mask


def pairs_from_mask(
    centers: gpd.GeoDataFrame, garrisons: gpd.GeoDataFrame, mask: np.ndarray
) -> list[tuple[str, str]]:
    """The (center_id, garrison_id) pairs an n × m boolean mask allows."""
    c_ids, _, g_ids, _, _ = dense_distances(centers, garrisons)
    rows, cols = np.nonzero(mask)
    return list(zip(c_ids[rows], g_ids[cols], strict=True))


def _model(
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    max_distance_m: float | None,
    k: int | None,
    allowed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Arcs (rows, cols, integer costs) of centres with demand, plus demand and capacity."""
    _, demand, _, capacity, dist = dense_distances(centers, garrisons)
    mask = allowed_mask(dist, max_distance_m=max_distance_m, k=k)
    if allowed is not None:
        mask &= allowed
    mask &= (demand > 0)[:, None]
    rows, cols = np.nonzero(mask)
    cost = np.rint(dist[rows, cols]).astype(np.int64)
    return rows, cols, cost, demand, capacity


def _incidence(rows: np.ndarray, cols: np.ndarray, n: int, m: int) -> tuple[sp.csr_array, ...]:
    ones = np.ones(len(rows))
    per_center = sp.csr_array((ones, (rows, np.arange(len(rows)))), shape=(n, len(rows)))
    per_garrison = sp.csr_array((ones, (cols, np.arange(len(rows)))), shape=(m, len(rows)))
    return per_center, per_garrison


def reference_optimum(
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    *,
    split: bool,
    max_distance_m: float | None = None,
    k: int | None = None,
    allowed: np.ndarray | None = None,
) -> int | None:
    """Exact optimal objective (Σ teams × whole metres), or None when infeasible.

    ``allowed``: an n × m boolean mask of the pairs a rule allows (on top of the limits).

    split: continuous ``x_ig ≥ 0`` teams, ``Σ_g x_ig = d_i``, ``Σ_i x_ig ≤ cap_g``.
    single: binary ``y_ig``, ``Σ_g y_ig = 1``, ``Σ_i d_i y_ig ≤ cap_g``, cost ``d_i c_ig``.
    """
    rows, cols, cost, demand, capacity = _model(centers, garrisons, max_distance_m, k, allowed)
    n, m = len(demand), len(capacity)
    need = demand > 0
    if need.any() and not np.isin(np.flatnonzero(need), rows).all():
        return None  # a centre with demand has no allowed garrison
    if not len(rows):
        return 0
    per_center, per_garrison = _incidence(rows, cols, n, m)
    if split:
        c = cost.astype(float)
        weight = per_garrison
        integrality = np.zeros(len(rows))
        bounds = Bounds(0, np.inf)
        center_rhs = demand.astype(float)
    else:
        c = (demand[rows] * cost).astype(float)
        weight = per_garrison.multiply(demand[rows][None, :]).tocsr()
        integrality = np.ones(len(rows))
        bounds = Bounds(0, 1)
        center_rhs = need.astype(float)
    keep = center_rhs > 0
    constraints = [
        LinearConstraint(per_center[keep], center_rhs[keep], center_rhs[keep]),
        LinearConstraint(weight, -np.inf, capacity.astype(float)),
    ]
    res = milp(
        c,
        constraints=constraints,
        integrality=integrality,
        bounds=bounds,
        options={"mip_rel_gap": 0.0, "presolve": True},
    )
    if res.status == 2:  # infeasible
        return None
    if res.status != 0:  # pragma: no cover - the reference itself failed
        msg = f"reference milp failed: {res.message}"
        raise RuntimeError(msg)
    x = np.rint(res.x).astype(np.int64)
    assert np.allclose(res.x, x, atol=1e-6), "reference vertex is not integral"
    # The rounded solution must be feasible; its integer cost is the optimum.
    assert (per_center[keep] @ x == center_rhs[keep]).all()
    assert (weight @ x <= capacity).all()
    objective = int(np.rint(c).astype(np.int64) @ x)
    assert abs(objective - res.fun) <= 1e-6 * max(1.0, abs(res.fun)), (objective, res.fun)
    return objective


def reference_max_coverage(
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    *,
    max_distance_m: float | None = None,
    k: int | None = None,
) -> int:
    """The most teams any split plan can cover (max-flow LP: max Σx, Σ_g x ≤ d, Σ_i x ≤ cap)."""
    rows, cols, _, demand, capacity = _model(centers, garrisons, max_distance_m, k)
    if not len(rows):
        return 0
    per_center, per_garrison = _incidence(rows, cols, len(demand), len(capacity))
    res = milp(
        -np.ones(len(rows)),
        constraints=[
            LinearConstraint(per_center, -np.inf, demand.astype(float)),
            LinearConstraint(per_garrison, -np.inf, capacity.astype(float)),
        ],
        bounds=Bounds(0, np.inf),
    )
    assert res.status == 0, res.message
    return round(-res.fun)


def reference_split_by_pricing(
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    *,
    start_k: int = 30,
    max_rounds: int = 20,
) -> int:
    """Exact split optimum of a large instance: HiGHS LP on a growing arc set, with pricing.

    The LP is solved on each centre's ``start_k`` nearest garrisons (plus a costly slack per
    centre so it is always feasible), then every pair of the dense geodesic matrix with a
    negative reduced cost under the HiGHS duals is added, until none is left. The duals then
    prove optimality over every pair, so no pair is ever trusted to be irrelevant.
    """
    _, demand, _, capacity, dist = dense_distances(centers, garrisons)
    cost = np.rint(dist).astype(np.int64)
    n, m = dist.shape
    mask = np.zeros((n, m), dtype=bool)
    nearest = np.argsort(dist, axis=1, kind="stable")[:, : min(start_k, m)]
    np.put_along_axis(mask, nearest, values=True, axis=1)
    slack_cost = 10.0 * float(cost.max()) * (min(n, m) + 2)
    for _ in range(max_rounds):
        rows, cols = np.nonzero(mask)
        per_center, per_garrison = _incidence(rows, cols, n, m)
        a_eq = sp.hstack([per_center, sp.eye_array(n, format="csr")], format="csr")
        a_ub = sp.hstack([per_garrison, sp.csr_array((m, n))], format="csr")
        res = linprog(
            np.r_[cost[rows, cols].astype(float), np.full(n, slack_cost)],
            A_ub=a_ub,
            b_ub=capacity.astype(float),
            A_eq=a_eq,
            b_eq=demand.astype(float),
            bounds=(0, None),
            method="highs",
        )
        assert res.status == 0, res.message
        u, v = res.eqlin.marginals, res.ineqlin.marginals
        improving = (cost - u[:, None] - v[None, :] < -1e-3) & ~mask
        if not improving.any():
            x = np.rint(res.x).astype(np.int64)
            assert np.allclose(res.x, x, atol=1e-6), "reference vertex is not integral"
            assert not x[len(rows) :].any(), "the instance is infeasible"
            objective = int(cost[rows, cols] @ x[: len(rows)])
            assert abs(objective - res.fun) <= 1e-6 * abs(res.fun), (objective, res.fun)
            return objective
        mask |= improving
    msg = f"reference pricing did not converge in {max_rounds} rounds"  # pragma: no cover
    raise RuntimeError(msg)  # pragma: no cover
