"""The outcome of :func:`electsec.solve_assignment`: labelled tables, GeoDataFrames, JSON."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from electsec.schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "AssignmentResult"]


@dataclass(frozen=True)
class AssignmentResult:
    """A plan: which garrison sends how many teams to which centre.

    Attributes
    ----------
    status
        ``"optimal"`` (proven over every allowed pair) or ``"feasible"``.
    objective
        Σ teams × cost, with costs rounded to whole metres (or seconds) as the solver
        optimised them.
    bound
        Proven lower bound on the optimal objective.
    gap
        ``(objective - bound) / objective`` (0 when optimal).
    assignments
        One row per (centre, garrison) used: ``center_id, garrison_id, teams`` and the
        exact cost (``distance_m`` or ``time_s``).
    garrison_load
        One row per garrison: ``garrison_id, capacity, used, utilization``.
    uncovered
        Centres left without their teams: ``center_id, teams, reason`` (empty for a full
        plan).
    unit
        ``"m"`` or ``"s"``.
    split
        Whether a centre's teams could come from several garrisons.
    solve_time_s
        Wall time of the solve, in seconds.
    parameters
        The options the plan was solved with.
    provenance
        Library and solver versions, a SHA-256 hash of the validated inputs, and timings.
    backups
        With backup coverage: one row per covered centre, ``center_id, garrison_id`` and
        the cost of its backup garrison; ``garrison_load`` then also holds ``reserve``,
        ``backup_centers`` and ``backup_capacity``. None otherwise.
    """

    status: str
    objective: float
    bound: float
    gap: float
    assignments: pd.DataFrame = field(repr=False)
    garrison_load: pd.DataFrame = field(repr=False)
    uncovered: pd.DataFrame = field(repr=False)
    unit: str = "m"
    split: bool = False
    solve_time_s: float = 0.0
    parameters: dict[str, Any] = field(default_factory=dict, repr=False)
    provenance: dict[str, Any] = field(default_factory=dict, repr=False)
    center_points: gpd.GeoSeries = field(default=None, repr=False)
    garrison_points: gpd.GeoSeries = field(default=None, repr=False)
    backups: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def cost_column(self) -> str:
        """``distance_m`` or ``time_s``."""
        return "distance_m" if self.unit == "m" else "time_s"

    def to_geodataframe(self) -> gpd.GeoDataFrame:
        """Return one LineString per assignment, from garrison to centre, in EPSG:4326.

        Returns
        -------
        geopandas.GeoDataFrame
            The ``assignments`` columns plus the line geometry.
        """
        a = self.assignments
        start = self.garrison_points.reindex(a["garrison_id"]).to_numpy()
        end = self.center_points.reindex(a["center_id"]).to_numpy()
        coords = (
            np.stack([shapely.get_coordinates(start), shapely.get_coordinates(end)], axis=1)
            if len(a)
            else np.zeros((0, 2, 2))
        )
        lines = shapely.linestrings(coords) if len(a) else []
        return gpd.GeoDataFrame(
            a.copy(), geometry=gpd.GeoSeries(lines, crs="EPSG:4326", index=a.index)
        )

    def summary(self) -> pd.Series:
        """Key figures of the plan as a Series (prints well, converts with ``to_dict``)."""
        loads = self.garrison_load
        cost = self.assignments[self.cost_column]
        teams = self.assignments["teams"]
        scale = 1000.0 if self.unit == "m" else 60.0
        label = "km" if self.unit == "m" else "min"
        mean = float((cost * teams).sum() / teams.sum()) / scale if teams.sum() else 0.0
        return pd.Series(
            {
                "status": self.status,
                "split": self.split,
                "centers_covered": int(self.assignments["center_id"].nunique()),
                "centers_uncovered": len(self.uncovered),
                "teams_assigned": int(teams.sum()),
                "teams_uncovered": int(self.uncovered["teams"].sum()),
                "garrisons_used": int((loads["used"] > 0).sum()),
                "capacity_used": _ratio(loads["used"].sum(), loads["capacity"].sum()),
                f"mean_{label}_per_team": round(mean, 3),
                f"max_{label}": round(float(cost.max()) / scale, 3) if len(cost) else 0.0,
                "objective": self.objective,
                "bound": self.bound,
                "gap": self.gap,
                "solve_time_s": round(self.solve_time_s, 3),
            },
            name="plan",
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the plan as JSON-ready data following :func:`electsec.schema.response_schema`."""
        return {
            "schema_version": SCHEMA_VERSION,
            "status": self.status,
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "unit": self.unit,
            "split": self.split,
            "solve_time_s": self.solve_time_s,
            "parameters": dict(self.parameters),
            "assignments": _records(self.assignments),
            "garrison_load": _records(self.garrison_load),
            "uncovered": _records(self.uncovered),
            "provenance": dict(self.provenance),
        } | ({} if self.backups is None else {"backups": _records(self.backups)})

    def raise_for_status(self) -> AssignmentResult:
        """Return self; kept for services that check plans uniformly.

        A result only exists for a plan that covers every centre or, with a partial
        plan, lists the uncovered ones; solver failures raise instead.
        """
        return self

    def explore(self, **kwargs: Any) -> Any:
        """Interactive folium map of the plan (needs the ``plot`` extra).

        Parameters
        ----------
        **kwargs
            Passed to :func:`electsec.plot.explore`.

        Returns
        -------
        folium.Map
        """
        from electsec.plot import explore  # noqa: PLC0415

        return explore(self, **kwargs)

    def report(self, path: str | Path, **kwargs: Any) -> Path:
        """Write a self-contained offline HTML report (needs the ``plot`` extra).

        Parameters
        ----------
        path
            The ``.html`` file to write.
        **kwargs
            Passed to :func:`electsec.report.write_report` (``centers``, ``garrisons``,
            ``diagnosis``, ``basemap``, ``title``).

        Returns
        -------
        pathlib.Path
        """
        from electsec.report import write_report  # noqa: PLC0415

        return write_report(self, path, **kwargs)

    def plot(self, **kwargs: Any) -> Any:
        """Draw the plan as a static matplotlib map (needs the ``plot`` extra).

        Parameters
        ----------
        **kwargs
            Passed to :func:`electsec.plot.plot` (for example ``ax``).

        Returns
        -------
        matplotlib.axes.Axes
        """
        from electsec.plot import plot  # noqa: PLC0415

        return plot(self, **kwargs)

    def __repr__(self) -> str:
        return (
            f"AssignmentResult(status={self.status!r}, objective={self.objective:.0f}, "
            f"gap={self.gap:.4%}, assignments={len(self.assignments)}, "
            f"uncovered={len(self.uncovered)}, split={self.split})"
        )


def _ratio(num: float, den: float) -> float:
    return round(float(num) / float(den), 4) if den else 0.0


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = frame.to_dict(orient="records")
    return [{str(k): _plain(v) for k, v in row.items()} for row in rows]


def _plain(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value
