"""What changed between two plans: :func:`diff_plans` → :class:`PlanDiff`.

A centre *changed* when any garrison sends it other teams than before: a garrison added
or dropped, or a different team split — the same definition stable re-planning minimises
(:mod:`electsec.solvers.stable`), so ``len(diff_plans(baseline, plan).centers)`` equals
``plan.replan["centers_changed"]`` for a plan of the same centres.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from electsec.errors import InputError, Issue
from electsec.result import AssignmentResult

__all__ = ["PlanDiff", "diff_plans"]


@dataclass(frozen=True)
class PlanDiff:
    """What changed from plan ``a`` to plan ``b``.

    Attributes
    ----------
    centers
        One row per changed centre: ``center_id``, ``before`` and ``after`` (its
        garrisons as ``G1:2+G2:1``, teams after the colon; empty when none),
        ``teams_before, teams_after``, ``teams_moved`` (teams a garrison sends it in
        ``b`` beyond what that garrison sent in ``a``) and its longest trip before and
        after (``distance_m_before`` / ``_after``, or ``time_s_...``; NaN when unserved).
    garrisons
        One row per garrison whose load changed: ``garrison_id, used_before, used_after,
        change``.
    pairs
        One row per (centre, garrison) whose teams changed: ``center_id, garrison_id,
        teams_before, teams_after, change`` (``"added"``, ``"dropped"``, ``"more"``,
        ``"fewer"``) — what :meth:`to_geodataframe` maps.
    objective_change, uncovered_teams_change, uncovered_centers_change, worst_change
        ``b`` minus ``a``: Σ teams × cost, uncovered teams and centres, and the longest
        trip of any team (metres or seconds, as ``unit``).
    unit
        ``"m"`` or ``"s"``.
    """

    centers: pd.DataFrame = field(repr=False)
    garrisons: pd.DataFrame = field(repr=False)
    pairs: pd.DataFrame = field(repr=False)
    objective_change: float = 0.0
    uncovered_teams_change: int = 0
    uncovered_centers_change: int = 0
    worst_change: float = 0.0
    unit: str = "m"
    center_points: gpd.GeoSeries = field(default=None, repr=False)
    garrison_points: gpd.GeoSeries = field(default=None, repr=False)

    def __repr__(self) -> str:
        return (
            f"PlanDiff({len(self.centers)} centres changed, {len(self.garrisons)} garrison "
            f"loads changed, objective {self.objective_change:+.0f})"
        )

    @property
    def teams_moved(self) -> int:
        """Teams sent by a garrison to a centre beyond what it sent there before."""
        return int(self.centers["teams_moved"].sum())

    def summary(self) -> pd.Series:
        """Key figures of the change as a Series."""
        worst = "worst_m_change" if self.unit == "m" else "worst_s_change"
        return pd.Series(
            {
                "centers_changed": len(self.centers),
                "teams_moved": self.teams_moved,
                "garrisons_changed": len(self.garrisons),
                "objective_change": self.objective_change,
                "uncovered_teams_change": self.uncovered_teams_change,
                "uncovered_centers_change": self.uncovered_centers_change,
                worst: self.worst_change,
            },
            name="diff",
            dtype=object,
        )

    def to_geodataframe(self) -> gpd.GeoDataFrame:
        """Return one LineString per changed (centre, garrison) pair, garrison → centre.

        Returns
        -------
        geopandas.GeoDataFrame
            The ``pairs`` columns and the line, in EPSG:4326: colour by ``change`` to map
            dropped orders against new ones.
        """
        p = self.pairs
        start = self.garrison_points.reindex(p["garrison_id"]).to_numpy()
        end = self.center_points.reindex(p["center_id"]).to_numpy()
        coords = np.stack([shapely.get_coordinates(start), shapely.get_coordinates(end)], axis=1)
        lines = shapely.linestrings(coords) if len(p) else []
        return gpd.GeoDataFrame(
            p.copy(), geometry=gpd.GeoSeries(lines, crs="EPSG:4326", index=p.index)
        )


def diff_plans(a: AssignmentResult, b: AssignmentResult) -> PlanDiff:
    """Compare two plans of the same centres and garrisons.

    Parameters
    ----------
    a, b
        Plans (for example before and after a garrison is lost; neither is changed).

    Returns
    -------
    PlanDiff

    Raises
    ------
    InputError
        Either is not a plan, or their cost units differ.

    Examples
    --------
    >>> import electsec as es
    >>> base = es.prepare("data/sample/tiny_centers.geojson",
    ...                   "data/sample/tiny_garrisons.geojson")
    >>> plan = es.solve(base, split=True)
    >>> lost = es.Scenario("TG01 lost", garrisons_lost=["TG01"]).apply(base)
    >>> stable = es.solve(lost, split=True, coverage="max", baseline=plan)
    >>> len(es.diff_plans(plan, stable).centers) == stable.replan["centers_changed"]
    True
    """
    _check(a, b)
    pairs = _pairs(a, b)
    centers = _centers(a, b, pairs)
    loads = a.garrison_load.set_index("garrison_id")["used"].rename("used_before").to_frame()
    loads = loads.join(
        b.garrison_load.set_index("garrison_id")["used"].rename("used_after"), how="outer"
    )
    loads = loads.fillna(0).astype(np.int64)
    loads["change"] = loads["used_after"] - loads["used_before"]
    garrisons = loads[loads["change"] != 0].rename_axis("garrison_id").reset_index()
    return PlanDiff(
        centers,
        garrisons,
        pairs[pairs["teams_before"] != pairs["teams_after"]].reset_index(drop=True),
        objective_change=b.objective - a.objective,
        uncovered_teams_change=int(b.uncovered["teams"].sum()) - int(a.uncovered["teams"].sum()),
        uncovered_centers_change=len(b.uncovered) - len(a.uncovered),
        worst_change=_worst(b) - _worst(a),
        unit=b.unit,
        center_points=_points(b.center_points, a.center_points),
        garrison_points=_points(b.garrison_points, a.garrison_points),
    )


def _check(a: object, b: object) -> None:
    issues = [
        Issue("arguments", name, (), f"must be a plan (AssignmentResult), got {type(p).__name__}")
        for name, p in (("a", a), ("b", b))
        if not isinstance(p, AssignmentResult)
    ]
    if not issues and a.unit != b.unit:  # type: ignore[attr-defined]
        message = "plans with costs in different units (metres and seconds) cannot be compared"
        issues.append(Issue("arguments", "b", (), message))
    if issues:
        raise InputError(issues)


def _pairs(a: AssignmentResult, b: AssignmentResult) -> pd.DataFrame:
    """Teams per (centre, garrison) in both plans (zero where a plan has none)."""
    keys = ["center_id", "garrison_id"]
    before = a.assignments.groupby(keys)["teams"].sum().rename("teams_before")
    after = b.assignments.groupby(keys)["teams"].sum().rename("teams_after")
    both = pd.concat([before, after], axis=1).fillna(0).astype(np.int64).reset_index()
    change = np.select(
        [
            both["teams_before"] == 0,
            both["teams_after"] == 0,
            both["teams_after"] > both["teams_before"],
            both["teams_after"] < both["teams_before"],
        ],
        ["added", "dropped", "more", "fewer"],
        default="same",
    )
    return both.assign(change=change).sort_values(keys, ignore_index=True)


def _centers(a: AssignmentResult, b: AssignmentResult, pairs: pd.DataFrame) -> pd.DataFrame:
    differ = pairs.loc[pairs["teams_before"] != pairs["teams_after"], "center_id"]
    changed = pairs[pairs["center_id"].isin(differ)]
    grouped = changed.groupby("center_id")
    moved = (changed["teams_after"] - changed["teams_before"]).clip(lower=0)
    out = pd.DataFrame(
        {
            "before": _split(changed, "teams_before"),
            "after": _split(changed, "teams_after"),
            "teams_before": grouped["teams_before"].sum(),
            "teams_after": grouped["teams_after"].sum(),
            "teams_moved": moved.groupby(changed["center_id"]).sum(),
        }
    )
    column = a.cost_column
    for name, plan in (("before", a), ("after", b)):
        longest = plan.assignments.groupby("center_id")[column].max()
        out[f"{column}_{name}"] = longest.reindex(out.index).astype(float)
    return out.astype({"teams_moved": np.int64}).rename_axis("center_id").reset_index()


def _split(pairs: pd.DataFrame, column: str) -> pd.Series:
    """Per centre, ``G1:2+G2:1``: the garrisons sending it teams in ``column``."""
    sent = pairs[pairs[column] > 0]
    text = sent["garrison_id"].astype(str) + ":" + sent[column].astype(str)
    joined = text.groupby(sent["center_id"]).agg("+".join)
    return joined.reindex(pairs["center_id"].unique(), fill_value="")


def _worst(plan: AssignmentResult) -> float:
    cost = plan.assignments[plan.cost_column]
    return float(cost.max()) if len(cost) else 0.0


def _points(first: gpd.GeoSeries, second: gpd.GeoSeries) -> gpd.GeoSeries:
    """Points of ``first``, with those only ``second`` has (a centre removed in ``b``)."""
    extra = second[~second.index.isin(first.index)]
    return first if extra.empty else pd.concat([first, extra])
