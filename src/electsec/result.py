"""Stage 3 of prepare → solve → label: an :class:`AssignmentResult` from solver arrays.

:func:`label` turns a solver :class:`~electsec.solvers.pipeline.Outcome` and its
:class:`~electsec.problem.Instance` into the labelled plan — tables by id,
GeoDataFrames, JSON — or raises the typed error the outcome calls for, with the diagnosis
in ids and governorates.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from electsec.errors import (
    UNSET,
    BlockingRegion,
    Diagnosis,
    InfeasibleError,
    InputError,
    Issue,
    Reinforcement,
    SolverError,
)
from electsec.schema import SCHEMA_VERSION
from electsec.unserved import unserved
from electsec.validation import did_you_mean

if TYPE_CHECKING:
    from electsec.budget import Budget
    from electsec.problem import Instance, Labels
    from electsec.solvers.diagnose import Cut
    from electsec.solvers.pipeline import (
        BackupShortage,
        CoverShortage,
        Draft,
        Outcome,
        Settings,
    )

__all__ = ["SCHEMA_VERSION", "AssignmentResult", "label"]

_DISTANCE_FIX, _TIME_FIX = "smallest_feasible_max_distance_m", "smallest_feasible_max_time_s"


@dataclass(frozen=True)
class AssignmentResult:
    """A plan: which garrison sends how many teams to which centre.

    Attributes
    ----------
    status
        The solver's status: ``"optimal"`` (proven over every allowed pair) or
        ``"feasible"``. It speaks of the plan found, not of coverage: see
        ``coverage_status``.
    objective
        Σ teams × cost, with costs rounded to whole metres (or seconds) as the solver
        optimised them.
    bound
        Proven lower bound on the optimal objective. For a whole-team plan that cannot
        cover everyone (``split=False`` with ``coverage="max"``, or the ``.partial`` of an
        :class:`InfeasibleError`): a bound on the cost of plans covering as many teams
        per tier as the split max-coverage plan (an upper bound on any whole-team
        plan's coverage): the cost itself when proven optimal, the split plan's cost
        when the plan covers as many teams per tier, else 0 (so the gap is 1 whenever
        coverage falls short of that bound). ``parameters["uncovered_teams"]`` and
        ``parameters["uncovered_teams_bound"]`` give the plan's and the split plan's
        uncovered teams.
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
    coverage_status
        ``"complete"`` (every centre has its teams, and its backup when asked),
        ``"partial"`` (``coverage="max"`` left some uncovered, as asked) or
        ``"infeasible"`` (the ``.partial`` plan of an :class:`InfeasibleError`: full
        coverage was asked for and is impossible).
    center_info, garrison_info
        Descriptive input columns by id (``name``, ``governorate``, ``tier``,
        ``agency``, ``command`` where given), carried to :meth:`to_geodataframe` and
        :meth:`readable`; None when the inputs had none.
    replan
        With ``baseline=``: ``centers_changed`` (centres whose garrisons or team split
        differ from the baseline, forced ones included), ``teams_moved`` (teams a garrison
        sends to a centre beyond what it sent there in the baseline), ``forced_changes``
        (centres no plan could keep: garrison or centre gone, demand changed),
        ``fresh_objective`` (the plan solved without a baseline) and
        ``cost_increase_pct`` (this plan's cost above it). None otherwise.
    warnings
        Sentences a planner must see (centres or garrisons off the roads, far snaps, road
        pieces with no garrison or no centre), from building the costs.
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
    coverage_status: str = "complete"
    center_info: pd.DataFrame | None = field(default=None, repr=False)
    garrison_info: pd.DataFrame | None = field(default=None, repr=False)
    replan: dict[str, Any] | None = field(default=None, repr=False)
    warnings: tuple[str, ...] = ()

    @property
    def cost_column(self) -> str:
        """``distance_m`` or ``time_s``."""
        return "distance_m" if self.unit == "m" else "time_s"

    def to_geodataframe(self, *, network: Any = None) -> gpd.GeoDataFrame:
        """Return one LineString per assignment, from garrison to centre, in EPSG:4326.

        Parameters
        ----------
        network
            A road network (anything :meth:`electsec.network.RoadNetwork.build` takes):
            each line is then the road route the plan's costs measured (the fastest for
            a travel-time plan, the shortest otherwise; see
            :meth:`~electsec.network.RoadNetwork.paths`; a straight line where the
            roads give no route). None: straight lines.

        Returns
        -------
        geopandas.GeoDataFrame
            The ``assignments`` columns, the centres' descriptive columns prefixed
            ``center_`` and the garrisons' prefixed ``garrison_`` (``center_name``,
            ``garrison_agency``, ...), and the line geometry.
        """
        a = self.assignments
        start = self.garrison_points.reindex(a["garrison_id"]).to_numpy()
        end = self.center_points.reindex(a["center_id"]).to_numpy()
        coords = (
            np.stack([shapely.get_coordinates(start), shapely.get_coordinates(end)], axis=1)
            if len(a)
            else np.zeros((0, 2, 2))
        )
        lines = shapely.linestrings(coords) if len(a) else np.zeros(0, dtype=object)
        if network is not None and len(a):
            lines = _road_lines(self, network, start, end, lines)
        table = _with_info(a, self.center_info, "center_id", "center_")
        table = _with_info(table, self.garrison_info, "garrison_id", "garrison_")
        return gpd.GeoDataFrame(
            table, geometry=gpd.GeoSeries(lines, crs="EPSG:4326", index=a.index)
        )

    def readable(self, table: str) -> pd.DataFrame:
        """Return a table for people: names next to ids, distances in rounded km.

        Parameters
        ----------
        table
            ``"assignments"``, ``"garrison_load"`` or ``"uncovered"``.

        Returns
        -------
        pandas.DataFrame
            The table with the descriptive columns of the inputs (``name``,
            ``governorate``, ``tier``, ``agency``, ``command``; in ``assignments`` prefixed
            ``center_`` / ``garrison_``), costs as ``distance_km`` (0.1 km) or
            ``time_min`` (0.1 min) next to whole ``distance_m`` / ``time_s``, and
            ``utilization`` to 0.1 %.

        Raises
        ------
        InputError
            For an unknown ``table``.
        """
        if table == "assignments":
            out = _with_info(self.assignments, self.center_info, "center_id", "center_")
            out = _with_info(out, self.garrison_info, "garrison_id", "garrison_")
            return _rounded_cost(out, self.cost_column)
        if table == "garrison_load":
            out = _with_info(self.garrison_load, self.garrison_info, "garrison_id", "")
            return out.assign(utilization=out["utilization"].round(3))
        if table == "uncovered":
            return _with_info(self.uncovered, self.center_info, "center_id", "")
        known = ("assignments", "garrison_load", "uncovered")
        message = f"unknown table {table!r} ({did_you_mean(str(table), known)})"
        raise InputError([Issue("arguments", "table", (), message)])

    def by_command(self) -> pd.DataFrame:
        """Return teams used, capacity and centres served per command of the garrisons.

        The garrisons' ``command`` column (operations command or directorate) groups
        them; a garrison with no command is counted under ``""``.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``command``: ``garrisons``, ``capacity`` (the plan's), ``used``,
            ``utilization`` (used / capacity offered to the plan, reserves excluded),
            ``centers`` (distinct centres its garrisons serve) and ``garrisons_used``.

        Raises
        ------
        InputError
            When the garrisons had no ``command`` column.

        Examples
        --------
        >>> import electsec as es
        >>> garrisons = es.read_garrisons("data/sample/tiny_garrisons.geojson")
        >>> garrisons["command"] = ["Baghdad OC"] * 4 + ["Babil OC"] * 2
        >>> plan = es.solve_assignment("data/sample/tiny_centers.geojson", garrisons)
        >>> table = plan.by_command()
        >>> list(table.index)
        ['Babil OC', 'Baghdad OC']
        >>> int(table["used"].sum()) == int(plan.assignments["teams"].sum())
        True
        """
        info = self.garrison_info
        if info is None or "command" not in info.columns:
            message = "is missing: the garrisons had no 'command' column to group by"
            raise InputError([Issue("garrisons", "command", (), message)])
        load = self.garrison_load.set_index("garrison_id")
        command = info["command"].reindex(load.index).fillna("").astype(str)
        offered = load["capacity"] - load.get("reserve", 0)
        table = pd.DataFrame(
            {"capacity": load["capacity"], "used": load["used"], "offered": offered}
        ).groupby(command.to_numpy())
        out = table.sum().astype(np.int64)
        out.insert(0, "garrisons", table.size().astype(np.int64))
        out["utilization"] = np.divide(
            out["used"], out["offered"], out=np.zeros(len(out)), where=out["offered"] > 0
        ).round(4)
        served = self.assignments["garrison_id"].map(command)
        centers = self.assignments.groupby(served.to_numpy())["center_id"].nunique()
        out["centers"] = centers.reindex(out.index, fill_value=0).astype(np.int64)
        used = (load["used"] > 0).groupby(command.to_numpy()).sum()
        out["garrisons_used"] = used.reindex(out.index).astype(np.int64)
        return out.drop(columns="offered").rename_axis("command")

    def summary(self) -> pd.Series:
        """Key figures of the plan as a Series (prints well, converts with ``to_dict``).

        ``status`` is the plan's standing for a reader: ``"infeasible"`` or
        ``"partial"`` whenever centres are left uncovered (see ``coverage_status``),
        else the solver's ``"optimal"`` / ``"feasible"``, which ``solver_status``
        always gives.
        """
        loads = self.garrison_load
        cost = self.assignments[self.cost_column]
        teams = self.assignments["teams"]
        scale = 1000.0 if self.unit == "m" else 60.0
        label = "km" if self.unit == "m" else "min"
        mean = float((cost * teams).sum() / teams.sum()) / scale if teams.sum() else 0.0
        return pd.Series(
            {
                "status": self.status
                if self.coverage_status == "complete"
                else self.coverage_status,
                "solver_status": self.status,
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
            }
            | self._replan_summary(),
            name="plan",
        )

    def _replan_summary(self) -> dict[str, Any]:
        if self.replan is None:
            return {}
        return {key: self.replan[key] for key in ("centers_changed", "teams_moved")}

    def to_dict(self) -> dict[str, Any]:
        """Return the plan as JSON-ready data following :func:`electsec.schema.response_schema`."""
        return {
            "schema_version": SCHEMA_VERSION,
            "status": self.status,
            "coverage_status": self.coverage_status,
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
            "warnings": list(self.warnings),
            "provenance": dict(self.provenance),
        } | (
            ({} if self.backups is None else {"backups": _records(self.backups)})
            | ({} if self.replan is None else {"replan": dict(self.replan)})
        )

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
            ``diagnosis``, ``basemap``, ``title``, ``network``, and ``baseline``: an
            earlier plan, to add a section on what changed from it).

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


def label(
    outcome: Outcome, instance: Instance, settings: Settings, budget: Budget
) -> AssignmentResult:
    """Turn a solver outcome into the labelled plan, or raise the error it calls for.

    Parameters
    ----------
    outcome
        From :func:`electsec.solvers.pipeline.solve_instance`.
    instance
        The instance solved.
    settings
        How it was solved (recorded in ``parameters``).
    budget
        The call's budget (its start times the call; its limit is recorded).

    Returns
    -------
    AssignmentResult

    Raises
    ------
    InfeasibleError
        Not every centre (or backup) can be covered and full coverage was asked for;
        ``.partial`` holds the plan covering the most teams.
    SolverError
        No whole-team plan was found although a split plan exists.
    """
    labels = instance.labels
    if outcome.unplaced.size:
        ids = [str(i) for i in dict.fromkeys(labels.row_ids(outcome.unplaced))]
        msg = (
            f"{len(ids)} centre(s) could not be served whole by one garrison within the "
            f"limits, though a split plan exists (use split=True, or raise capacity "
            f"near them): {', '.join(ids[:10])}"
        )
        raise SolverError(msg)
    plan = _plan(outcome, instance, settings, budget)
    if outcome.shortage is not None or outcome.backup_shortage is not None:
        partial = dataclasses.replace(plan, coverage_status="infeasible")
        if outcome.shortage is not None:
            raise InfeasibleError(_cover_diagnosis(outcome, instance), partial=partial)
        assert outcome.backup_shortage is not None  # noqa: S101
        raise InfeasibleError(_backup_diagnosis(outcome.backup_shortage, labels), partial=partial)
    return plan


def _parameters(
    instance: Instance, settings: Settings, budget: Budget, worst: int | None
) -> dict[str, Any]:
    given = dict(instance.parameters)
    params = {
        "split": settings.split,
        "objective": settings.objective,
        "max_distance_m": given.pop("max_distance_m", None),
        "max_time_s": given.pop("max_time_s", None),
        "k": given.pop("k", None),
        "time_limit_s": budget.limit_s,
        "seed": settings.seed,
        "coverage": settings.coverage,
        "costs": given.pop("costs", "geodesic"),
        **given,
    }
    if worst is not None:
        params["worst_case_limit"] = worst
    return params


def _shortfall(draft: Draft) -> dict[str, Any]:
    if draft.shortfall is None:
        return {}
    return {"uncovered_teams": draft.shortfall[0], "uncovered_teams_bound": draft.shortfall[1]}


def _plan(
    outcome: Outcome, instance: Instance, settings: Settings, budget: Budget
) -> AssignmentResult:
    labels, draft = instance.labels, outcome.plan
    backups = None
    if outcome.backup is not None:
        assert instance.backup is not None  # noqa: S101
        backups = _backup_table(labels, outcome.backup, instance.backup.cost)
    gap = (draft.objective - draft.bound) / draft.objective if draft.objective > 0 else 0.0
    return AssignmentResult(
        status=draft.status,
        objective=draft.objective,
        bound=draft.bound,
        gap=max(gap, 0.0),
        assignments=_assignments(draft, instance),
        garrison_load=_load(instance, draft, backups),
        uncovered=_uncovered(outcome, instance),
        unit=labels.unit,
        split=settings.split,
        solve_time_s=budget.elapsed(),
        parameters=_parameters(instance, settings, budget, outcome.worst_case_limit)
        | _shortfall(draft),
        provenance=_provenance(instance, budget),
        center_points=_points(labels.center_lonlat, labels.center_ids, "center_id"),
        garrison_points=_points(labels.garrison_lonlat, labels.garrison_ids, "garrison_id"),
        backups=backups,
        coverage_status="partial" if outcome.plan.uncovered.any() else "complete",
        center_info=_info(labels.center_attributes, labels.center_ids, "center_id"),
        garrison_info=_info(labels.garrison_attributes, labels.garrison_ids, "garrison_id"),
        replan=_replan(outcome),
        warnings=tuple(instance.warnings),
    )


def _replan(outcome: Outcome) -> dict[str, Any] | None:
    changes = outcome.changes
    if changes is None:
        return None
    fresh, cost = changes.fresh_objective, outcome.plan.objective
    return {
        "centers_changed": changes.centers_changed,
        "teams_moved": changes.teams_moved,
        "forced_changes": changes.forced_changes,
        "fresh_objective": fresh,
        "cost_increase_pct": 100 * (cost - fresh) / fresh if fresh else 0.0,
    }


def _assignments(draft: Draft, instance: Instance) -> pd.DataFrame:
    labels = instance.labels
    rows, cols = np.asarray(draft.rows), np.asarray(draft.cols)
    table = {
        "center_id": labels.row_ids(rows),
        "garrison_id": labels.garrison_ids[cols],
        "teams": np.asarray(draft.teams, dtype=np.int64),
        labels.cost_column: instance.cost(rows, cols),
    }
    if labels.forces.row_agency is not None:
        table["agency"] = labels.forces.row_agency[rows]
    return pd.DataFrame(table).sort_values(["center_id", "garrison_id"], ignore_index=True)


def _load(instance: Instance, draft: Draft, backups: pd.DataFrame | None) -> pd.DataFrame:
    labels, forces = instance.labels, instance.labels.forces
    used = np.bincount(draft.cols, weights=draft.teams, minlength=instance.n_garrisons)
    available = forces.capacity
    load = pd.DataFrame(
        {
            "garrison_id": labels.garrison_ids,
            "capacity": labels.capacity,
            "used": used.astype(np.int64),
            "utilization": np.divide(
                used, available, out=np.zeros(len(available)), where=available > 0
            ),
        }
    )
    if forces.garrison_agency is not None:
        load.insert(1, "agency", forces.garrison_agency)
    if forces.reserve.any() or backups is not None:
        load["reserve"] = forces.reserve
    if backups is not None:
        assert instance.backup is not None  # noqa: S101
        backed = backups["garrison_id"].dropna().value_counts()
        load["backup_centers"] = (
            load["garrison_id"].map(backed).fillna(0).astype(np.int64).to_numpy()
        )
        load["backup_capacity"] = instance.backup.capacity
    return load


def _uncovered(outcome: Outcome, instance: Instance) -> pd.DataFrame:
    """Uncovered centres with their true reason, in words with the numbers."""
    labels = instance.labels
    uncovered, forces = outcome.plan.uncovered, labels.forces
    short = np.flatnonzero(uncovered > 0)
    why = unserved(instance, outcome)
    region = _region_of(outcome, forces.row_center)
    split_only = set(outcome.split_only.tolist())
    reason = [
        "the split plan covers it, but not whole from one garrison"
        if r in split_only
        else why[r].message
        if r in why
        else region.get(r, "not enough teams within reach")
        for r in short.tolist()
    ]
    table: dict[str, Any] = {
        "center_id": labels.row_ids(short),
        "teams": uncovered[short].astype(np.int64),
        "reason": np.asarray(reason, dtype=object),
        "cause": np.asarray(
            [
                "split_only" if r in split_only else why[r].cause if r in why else "capacity"
                for r in short.tolist()
            ],
            dtype=object,
        ),
    }
    if forces.row_agency is not None:
        table["agency"] = forces.row_agency[short]
    return pd.DataFrame(table)


def _region_of(outcome: Outcome, row_center: np.ndarray) -> dict[int, str]:
    """Row → "not enough teams within reach: its blocking region (14 centres) needs ..."."""
    if outcome.cut is None:
        return {}
    out = {}
    for r in outcome.cut.regions:
        text = (
            f"not enough teams within reach: its blocking region "
            f"({len(np.unique(row_center[r.centers]))} centres) needs {r.demand} teams, "
            f"the garrisons in reach hold {r.capacity} (short {r.deficit})"
        )
        out.update(dict.fromkeys(r.centers.tolist(), text))
    return out


def _backup_table(labels: Labels, backup: np.ndarray, cost: Any) -> pd.DataFrame:
    """One row per centre with a backup: its garrison and the cost to it."""
    have = np.flatnonzero(backup >= 0)
    out = pd.DataFrame(
        {
            "center_id": labels.center_ids[have],
            "garrison_id": labels.garrison_ids[backup[have]],
            labels.cost_column: cost(have, backup[have]),
        }
    )
    return out.sort_values("center_id", ignore_index=True)


def _cover_diagnosis(outcome: Outcome, instance: Instance) -> Diagnosis:
    """Word a cover shortage as a diagnosis: reasons, regions and fixes, in ids."""
    shortage = outcome.shortage
    assert shortage is not None  # noqa: S101
    labels, cut = instance.labels, shortage.cut
    if shortage.total_demand > shortage.total_capacity:
        reason = (
            f"total demand {shortage.total_demand} exceeds total capacity "
            f"{shortage.total_capacity}"
        )
    else:
        within = " within the limits" if instance.limits is not None else ""
        reason = (
            f"{cut.shortfall} team(s) cannot reach their centres{within} "
            f"({len(cut.regions)} blocking region(s))"
        )
    key, limit = shortage.limit_key, shortage.smallest_limit
    tiers: Any = UNSET if shortage.tier_limits is None else shortage.tier_limits
    why = unserved(instance, outcome)
    return Diagnosis(
        total_demand=shortage.total_demand,
        total_capacity=shortage.total_capacity,
        shortfall=cut.shortfall,
        reason=reason,
        unreachable_centers=tuple(dict.fromkeys(labels.row_ids(cut.unreachable))),
        blocking_regions=_with_reinforcements(_regions(cut, labels), shortage, instance, outcome),
        smallest_feasible_max_distance_m=limit if key == _DISTANCE_FIX else UNSET,
        smallest_feasible_max_time_s=limit if key == _TIME_FIX else UNSET,
        smallest_feasible_tier_max_distance_m=tiers if labels.unit == "m" else UNSET,
        smallest_feasible_tier_max_time_s=tiers if labels.unit == "s" else UNSET,
        unserved=tuple(why[r] for r in sorted(why)),
    )


def _with_reinforcements(
    regions: tuple[BlockingRegion, ...],
    shortage: CoverShortage,
    instance: Instance,
    outcome: Outcome,
) -> tuple[BlockingRegion, ...]:
    """Attach to each region the teams that would cover it (ids, costs, spare teams)."""
    labels, limits = instance.labels, instance.limits
    load = np.bincount(
        outcome.plan.cols, weights=outcome.plan.teams, minlength=instance.n_garrisons
    )
    spare = instance.problem.capacity - load.astype(np.int64)
    out = []
    for region, cut_region, tip in zip(
        regions, shortage.cut.regions, shortage.suggestions, strict=True
    ):
        bounds = None
        if limits is not None:
            finite = limits[cut_region.centers][np.isfinite(limits[cut_region.centers])]
            bounds = (float(finite.min()), float(finite.max())) if len(finite) else None
        more = Reinforcement(
            teams=region.extra_teams_needed,
            unit=labels.unit,
            limit=bounds,
            add_at=tuple((str(labels.garrison_ids[g]), t) for g, t in tip.add_at),
            nearest_beyond=tuple(
                (str(labels.garrison_ids[g]), c, int(spare[g])) for g, c in tip.beyond
            ),
        )
        out.append(dataclasses.replace(region, reinforcement=more))
    return tuple(out)


def _backup_diagnosis(shortage: BackupShortage, labels: Labels) -> Diagnosis:
    """Why some centres have no backup: a Hall check on the reserves (verifiable)."""
    cut, missing, ids = shortage.cut, shortage.missing, labels.center_ids
    reason = f"{len(missing)} centre(s) get no backup"
    if cut.shortfall:
        reason += (
            f": no plan can back up {cut.shortfall} of them with the reserves within "
            f"{shortage.limit:g} {labels.unit} ({len(cut.regions)} blocking region(s))"
        )
    if len(missing) > cut.shortfall:
        found = (
            "the time limit ended the joint search before it found another plan (not "
            "proven: raise time_limit_s)"
            if shortage.timed_out
            else "the joint search found no other plan"
        )
        reason += (
            f"{';' if cut.shortfall else ':'} for {len(missing) - cut.shortfall}, "
            f"the only reserves in reach sit at garrisons that serve them, and {found}"
        )
    return Diagnosis(
        kind="backup",
        total_demand=shortage.total_demand,
        total_capacity=shortage.total_capacity,
        shortfall=len(missing),
        reason=reason,
        unreachable_centers=tuple(str(ids[i]) for i in cut.unreachable),
        blocking_regions=_regions(cut, labels, rows_are_centers=True),
        centers_without_backup=tuple(str(ids[i]) for i in missing),
    )


def _regions(
    cut: Cut, labels: Labels, *, rows_are_centers: bool = False
) -> tuple[BlockingRegion, ...]:
    """Blocking regions with ids, governorates and (with agencies) the agencies."""
    forces, out = labels.forces, []
    for r in cut.regions:
        centers = r.centers if rows_are_centers else forces.row_center[r.centers]
        agencies = None
        if forces.row_agency is not None and not rows_are_centers:
            agencies = tuple(sorted(set(forces.row_agency[r.centers])))
        governorates = () if labels.governorate is None else labels.governorate[centers]
        out.append(
            BlockingRegion(
                centers=tuple(dict.fromkeys(map(str, labels.center_ids[centers]))),
                garrisons=tuple(str(g) for g in labels.garrison_ids[r.garrisons]),
                demand=r.demand,
                capacity=r.capacity,
                deficit=r.deficit,
                extra_teams_needed=r.deficit,
                governorates=tuple(sorted(set(governorates))),
                agencies=agencies,
            )
        )
    return tuple(out)


def _provenance(instance: Instance, budget: Budget) -> dict[str, Any]:
    """Versions, the input hash and timings, for services that audit plans."""
    return {
        "electsec_version": _version("electsec"),
        "ortools_version": _version("ortools"),
        "input_hash": instance.input_hash,
        "timings_s": {"total": round(budget.elapsed(), 6)},
    }


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _points(lonlat: np.ndarray, ids: np.ndarray, name: str) -> gpd.GeoSeries:
    index = pd.Index(ids, name=name)
    return gpd.GeoSeries(shapely.points(lonlat), index=index, crs="EPSG:4326")


def _info(attributes: Mapping[str, np.ndarray], ids: np.ndarray, name: str) -> pd.DataFrame | None:
    """Descriptive columns by id, or None when the inputs had none."""
    if not attributes:
        return None
    return pd.DataFrame(dict(attributes), index=pd.Index(ids, name=name))


def _with_info(
    frame: pd.DataFrame, info: pd.DataFrame | None, key: str, prefix: str
) -> pd.DataFrame:
    """``frame`` with ``info``'s columns (prefixed) right after its ``key`` column.

    Columns ``frame`` already has (an assignment's serving ``agency``) are kept as they are.
    """
    if info is None:
        return frame.copy()
    extra = info.rename(columns=lambda c: f"{prefix}{c}")
    extra = extra.loc[:, [c for c in extra.columns if c not in frame.columns]]
    values = extra.reindex(frame[key].to_numpy()).set_axis(frame.index)
    at = list(frame.columns).index(key) + 1
    return pd.concat([frame.iloc[:, :at], values, frame.iloc[:, at:]], axis=1)


def _rounded_cost(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Costs for people (0.1 km or 0.1 min) next to whole metres or seconds."""
    scale, name = (1000.0, "distance_km") if column == "distance_m" else (60.0, "time_min")
    out = frame.copy()
    out.insert(list(out.columns).index(column), name, (frame[column] / scale).round(1))
    out[column] = frame[column].round().astype(np.int64)
    return out


def _road_lines(
    plan: AssignmentResult, network: Any, start: np.ndarray, end: np.ndarray, lines: np.ndarray
) -> np.ndarray:
    """Road routes garrison → centre; the straight line where the roads give none."""
    from electsec.network import NetworkMetric, RoadNetwork  # noqa: PLC0415

    net = RoadNetwork.build(network)
    metric: NetworkMetric = "travel_time" if plan.unit == "s" else "road_distance"
    routes = net.paths(
        gpd.GeoSeries(end, crs="EPSG:4326"), gpd.GeoSeries(start, crs="EPSG:4326"), metric=metric
    ).to_numpy()
    return np.where(shapely.is_missing(routes), lines, routes)
