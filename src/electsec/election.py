"""Election days: one plan per voting day (``phase``), with the forces each day leaves free.

Iraq votes on two days: the *special* vote, when the security forces vote themselves
(Sunday 9 November 2025, 809 centres), and the *general* vote two days later (8,703
centres); polls 07:00–18:00 both days. :func:`plan_election` plans every day in date
order against the same garrisons:

* on a voting day of the forces, each garrison keeps ``min_retained`` of its teams back
  (they vote; their duties go on), and a team never guards a centre where, per the
  centres' ``votes_agency`` column, its agency votes that day;
* teams used on one day are released for the next; ``hold_back`` keeps some out of a
  later day's plan (rest, other duties).

Each day is one :func:`electsec.prepare` + :func:`electsec.solve`, so a day's plan is
exactly the plan of that day's centres against the garrisons with the day's capacity.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from electsec.assign import _solve_issues, solve
from electsec.budget import Budget
from electsec.costs import CostMatrix, distance_matrix
from electsec.errors import InfeasibleError, InputError, Issue, SolverError, did_you_mean
from electsec.io import Source, read_garrisons, read_polling_centers
from electsec.preparation import prepare
from electsec.problem import Instance
from electsec.result import AssignmentResult, _records
from electsec.schema import SCHEMA_VERSION
from electsec.validation import as_date, is_number

__all__ = ["DEFAULT_ORDER", "ElectionPlan", "plan_election"]

#: Order of the two Iraqi voting days when no ``dates`` are given.
DEFAULT_ORDER = ("special", "general")
#: Options of :func:`electsec.prepare` (what each day's problem is).
_PREPARE_OPTIONS = ("max_distance_m", "max_time_s", "k", "jurisdiction", "backup", "options")
#: Options of :func:`electsec.solve` (how each day is solved).
_SOLVE_OPTIONS = ("split", "objective", "coverage", "seed", "executor")
#: Options of solve_assignment that speak of one plan, not of an election.
_ONE_PLAN_OPTIONS = ("baseline", "max_changes", "max_cost_increase_pct")
#: Columns of :attr:`ElectionPlan.forces_by_day`.
FORCES_COLUMNS = ("phase", "garrison_id", "capacity", "retained", "held_back", "available", "used")

Teams = float | str | Mapping[str, float | str] | None


@dataclass(frozen=True)
class ElectionPlan:
    """The plans of every voting day, in date order, and the forces of each day.

    Attributes
    ----------
    days
        ``{phase: AssignmentResult}`` in date order (``special`` before ``general``).
    dates
        ``{phase: datetime.date or None}`` in the same order (None: no date given).
    forces_by_day
        One row per day × garrison: ``phase, garrison_id, capacity`` (the garrison's
        ``capacity`` column), ``retained`` (teams kept back to vote, ``min_retained``),
        ``held_back`` (``hold_back``), ``available`` (capacity − retained − held back:
        what the day's plan could use, reserves included) and ``used``.
    parameters
        The election options (``min_retained``, ``hold_back``, ``dates``, ``order``) and
        the solve options every day was planned with.
    solve_time_s
        Wall time of the whole call, in seconds.
    """

    days: dict[str, AssignmentResult] = field(repr=False)
    dates: dict[str, dt.date | None]
    forces_by_day: pd.DataFrame = field(repr=False)
    parameters: dict[str, Any] = field(default_factory=dict, repr=False)
    solve_time_s: float = 0.0

    @property
    def special(self) -> AssignmentResult:
        """The plan of the ``special`` day (the security forces' vote)."""
        return self.day("special")

    @property
    def general(self) -> AssignmentResult:
        """The plan of the ``general`` day."""
        return self.day("general")

    def day(self, phase: str) -> AssignmentResult:
        """Return the plan of one day.

        Raises
        ------
        InputError
            When the election has no such phase (the known ones are named).
        """
        if phase in self.days:
            return self.days[phase]
        message = f"no {phase!r} day in this election ({did_you_mean(phase, self.days)})"
        raise InputError([Issue("arguments", "phase", (phase,), message)])

    def summary(self) -> pd.DataFrame:
        """Return the key figures of each day, one row per day (date first).

        Returns
        -------
        pandas.DataFrame
            Indexed by phase: ``date``, ``teams_available`` (Σ capacity − retained −
            held back) and the columns of :meth:`AssignmentResult.summary`.

        Examples
        --------
        >>> import electsec as es
        >>> centers = es.read_polling_centers("data/sample/tiny_centers.geojson")
        >>> election = es.plan_election(
        ...     {"special": centers.iloc[:8].drop(columns="phase"), "general": centers.iloc[8:]},
        ...     "data/sample/tiny_garrisons.geojson", min_retained=0.5,
        ...     dates={"special": "2025-11-09", "general": "2025-11-11"})
        >>> table = election.summary()
        >>> list(table["date"]), list(table["status"])
        (['2025-11-09', '2025-11-11'], ['optimal', 'optimal'])
        >>> [int(teams) for teams in table["teams_available"]]
        [56, 114]
        """
        rows = {phase: plan.summary() for phase, plan in self.days.items()}
        table = pd.DataFrame(rows).T.rename_axis("phase")
        available = self.forces_by_day.groupby("phase", sort=False)["available"].sum()
        table.insert(0, "date", [_iso(self.dates[p]) for p in table.index])
        table.insert(1, "teams_available", available.reindex(table.index).to_numpy())
        return table

    def to_dict(self) -> dict[str, Any]:
        """Return the election as JSON-ready data (:func:`electsec.schema.election_schema`).

        Returns
        -------
        dict
            ``schema_version``, ``kind`` (``"election"``), ``days`` (``phase``, ``date``
            and the day's ``plan``, as :meth:`AssignmentResult.to_dict`), ``forces_by_day``
            records, ``parameters`` and ``solve_time_s``.

        Examples
        --------
        >>> import electsec as es
        >>> from electsec.schema import check, election_schema
        >>> centers = es.read_polling_centers("data/sample/tiny_centers.geojson")
        >>> centers["phase"] = ["special"] * 8 + ["general"] * 32
        >>> data = es.plan_election(centers, "data/sample/tiny_garrisons.geojson").to_dict()
        >>> [day["phase"] for day in data["days"]]
        ['special', 'general']
        >>> check(data, election_schema(), table="election")
        []
        """
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "election",
            "days": [
                {"phase": phase, "date": _iso(self.dates[phase]), "plan": plan.to_dict()}
                for phase, plan in self.days.items()
            ],
            "forces_by_day": _records(self.forces_by_day),
            "parameters": _json_ready(self.parameters),
            "solve_time_s": self.solve_time_s,
        }

    def report(self, path: str | Path, **kwargs: Any) -> Path:
        """Write one offline HTML page: the days side by side, forces by day, each day's plan.

        Parameters
        ----------
        path
            The ``.html`` file to write.
        **kwargs
            ``title``, and ``basemap`` / ``network`` as for :func:`electsec.report.write_report`
            (needs the ``plot`` extra).

        Returns
        -------
        pathlib.Path
        """
        from electsec.report import write_election_report  # noqa: PLC0415

        return write_election_report(self, path, **kwargs)

    def __repr__(self) -> str:
        days = ", ".join(
            f"{p}{'' if self.dates[p] is None else f' {_iso(self.dates[p])}'}: "
            f"{plan.coverage_status}, {plan.assignments['teams'].sum()} teams"
            for p, plan in self.days.items()
        )
        return f"ElectionPlan({days})"


def plan_election(
    centers: Source | Mapping[str, Source],
    garrisons: Source,
    costs: Any = None,
    *,
    min_retained: Teams = 0.0,
    hold_back: Teams = None,
    dates: Mapping[str, Any] | None = None,
    **solve_options: Any,
) -> ElectionPlan:
    """Plan every voting day of an election against the same garrisons.

    Parameters
    ----------
    centers
        One layer with a ``phase`` column (``"special"`` / ``"general"``, or other day
        names with ``dates``), or a mapping ``{phase: layer}`` (anything
        :func:`read_polling_centers` reads; a ``phase`` column, if present, must
        match its key). Optional column ``votes_agency``: the agencies whose members
        vote at the centre that day, comma-separated (``"army, police"``); garrisons
        of those agencies never guard it that day (their pairs are left out exactly).
    garrisons
        Garrisons (anything :func:`read_garrisons` reads); ``capacity`` is what each
        can send on any one day. Optional ``command``, ``agency``, ``reserve`` columns
        work as for :func:`electsec.solve_assignment`.
    costs
        None (geodesic), a :class:`CostMatrix` covering every day's centres (its rows
        are taken per day), a :class:`electsec.network.RoadNetwork` (travel times are
        built per day, within a numeric ``max_time_s``), or ``{phase: CostMatrix}``
        naming every day (a None value: geodesic that day).
    min_retained
        Teams each garrison keeps back on the forces' voting day (they vote there, and
        their duties go on): a fraction in [0, 1] of its ``capacity``, rounded **up** to
        whole teams (0.25 of 10 teams keeps 3; 0 and 1 are fractions too: none, all), or
        the name of a garrison column holding a fraction (float column) or a team count
        (integer column) per garrison. A single value applies to the ``special`` day;
        ``{phase: value}`` sets it for any days.
    hold_back
        Teams kept out of a later day's plan (rest after the special day, other duties),
        in the same forms as ``min_retained``; a single value applies to the ``general``
        day. None: every team used on one day is available the next.
    dates
        ``{phase: date}`` (``datetime.date`` or ISO ``"2025-11-09"``). Days are planned
        in date order; without dates, ``special`` comes before ``general`` and other
        phase names need a date. Two days on one date are refused (they would share
        the forces).
    **solve_options
        Passed to :func:`electsec.prepare` / :func:`electsec.solve` for every day:
        ``split``, ``objective``, ``coverage``, ``seed``, ``executor``,
        ``max_distance_m``, ``max_time_s``, ``k``, ``jurisdiction``, ``backup``,
        ``options``, and ``time_limit_s``, which bounds the **whole** call: each day is
        given the time left in proportion to its share of the remaining centres (the
        small special day leaves what it does not use to the general day).

    Returns
    -------
    ElectionPlan

    Raises
    ------
    InputError
        Bad layers or options (every problem of every day, each named with its day):
        an unknown phase or option, ``min_retained`` out of [0, 1], an unknown column.
    InfeasibleError
        With ``coverage="full"`` (the default), a day whose centres cannot all be
        covered, as :func:`electsec.solve_assignment` does; the message names the day
        and ``.partial`` holds that day's best plan. With ``coverage="max"`` every day is
        planned and short days carry ``coverage_status="partial"``.
    SolverError
        A day with no plan within the limits (the message names the day).

    Notes
    -----
    Days are independent problems: what a garrison sends on day 1 comes back for day 2,
    so day ``t`` has capacity ``capacity − retained_t − held_back_t`` per garrison.
    The ``votes_agency`` rule is applied by :func:`electsec.prepare` itself (any plan of
    a layer with that column honours it): centres under the same rule share one spatial
    index of the garrisons allowed to guard them, so the plan stays exact over every
    allowed pair without a dense matrix.

    Examples
    --------
    >>> import electsec as es
    >>> centers = es.read_polling_centers("data/sample/tiny_centers.geojson")
    >>> centers["phase"] = ["special"] * 10 + ["general"] * 30
    >>> election = es.plan_election(centers, "data/sample/tiny_garrisons.geojson",
    ...                             min_retained=0.5, split=True)
    >>> list(election.days)
    ['special', 'general']
    >>> forces = election.forces_by_day.set_index(["phase", "garrison_id"])
    >>> bool((forces["used"] <= forces["available"]).all())
    True
    """
    budget = Budget(solve_options.get("time_limit_s"))
    issues = _option_issues(solve_options)
    layers = _phase_layers(centers, issues)
    try:
        depots = read_garrisons(garrisons)
    except InputError as exc:
        raise InputError([*issues, *exc.issues]) from None
    order, when = _order(list(layers), dates, issues)
    retained = _day_teams(min_retained, "min_retained", "special", order, depots, issues)
    held = _day_teams(hold_back, "hold_back", "general", order, depots, issues)
    issues += _costs_issues(costs, order)
    if issues:
        raise InputError(issues)
    forces = _forces(depots, order, retained, held)
    instances = _instances(layers, depots, forces, costs, order, solve_options)
    how = {k: v for k, v in solve_options.items() if k in _SOLVE_OPTIONS}
    plans = _solve_days(instances, order, when, budget, how)
    used = [plans[p].garrison_load.set_index("garrison_id")["used"] for p in order]
    forces["used"] = np.concatenate([u.reindex(depots.index).to_numpy() for u in used])
    params = {
        "min_retained": min_retained,
        "hold_back": hold_back,
        "dates": {p: _iso(d) for p, d in when.items()},
        "order": list(order),
        **{k: v for k, v in solve_options.items() if k != "executor"},
    }
    return ElectionPlan(
        days=plans,
        dates=when,
        forces_by_day=forces.loc[:, list(FORCES_COLUMNS)],
        parameters=_json_ready(params),  # a copy: later edits of the caller's options stay out
        solve_time_s=budget.elapsed(),
    )


# ----------------------------------------------------------------------------- checks


def _option_issues(options: Mapping[str, Any]) -> list[Issue]:
    known = (*_PREPARE_OPTIONS, *_SOLVE_OPTIONS, "time_limit_s")
    issues = []
    for name in options:
        if name in _ONE_PLAN_OPTIONS:
            message = (
                "speaks of one plan: re-plan a day with es.solve(instance, baseline="
                "election.special) (or .general) instead"
            )
            issues.append(Issue("arguments", name, (), message))
        elif name not in known:
            named = (*known, "costs", "min_retained", "hold_back", "dates")
            message = f"unknown option ({did_you_mean(name, named)})"
            issues.append(Issue("arguments", name, (), message))
    return issues + _solve_issues(
        options.get("split", False),
        options.get("objective", "total"),
        options.get("coverage", "full"),
        options.get("seed", 0),
        options.get("time_limit_s"),
    )


def _on_day(issue: Issue, phase: str) -> Issue:
    return dataclasses.replace(issue, message=f"{phase} day: {issue.message}")


def _phase_layers(
    centers: Source | Mapping[str, Source], issues: list[Issue]
) -> dict[str, gpd.GeoDataFrame]:
    """Each day's validated centres, from one layer with ``phase`` or a mapping."""
    if isinstance(centers, Mapping) and centers.get("type") != "FeatureCollection":
        return _mapped_layers(centers, issues)
    try:
        layer = read_polling_centers(centers)
    except InputError as exc:
        issues += exc.issues
        return {}
    if "phase" not in layer.columns:
        message = (
            "is missing: give each centre its voting day ('special' or 'general'), "
            "or pass centers={phase: layer}"
        )
        issues.append(Issue("centers", "phase", (), message))
        return {}
    phase = layer["phase"].astype(object).where(layer["phase"].notna(), "").astype(str)
    phase = phase.str.strip()
    empty = layer.index[(phase == "").to_numpy()]
    if len(empty):
        issues.append(Issue("centers", "phase", tuple(empty), "is empty; name the voting day"))
        return {}
    return {str(p): layer[phase.to_numpy() == p] for p in dict.fromkeys(phase)}


def _mapped_layers(
    centers: Mapping[str, Source], issues: list[Issue]
) -> dict[str, gpd.GeoDataFrame]:
    if not centers:
        issues.append(Issue("centers", None, (), "the mapping {phase: layer} is empty"))
    layers = {}
    for phase, source in centers.items():
        if not isinstance(phase, str) or not phase.strip():
            message = f"phase names must be non-empty strings, got {phase!r}"
            issues.append(Issue("centers", "phase", (), message))
            continue
        try:
            layer = read_polling_centers(source)
        except InputError as exc:
            issues += [_on_day(i, phase) for i in exc.issues]
            continue
        if "phase" in layer.columns:  # an empty phase reads as the mapping's day
            said = layer["phase"].astype(object).where(layer["phase"].notna(), "")
            said = said.astype(str).str.strip()
            other = layer.index[((said != "") & (said != phase)).to_numpy()]
            if len(other):
                message = f"{phase} day: the layer's phase column says another day"
                issues.append(Issue("centers", "phase", tuple(other), message))
        layers[phase] = layer
    return layers


def _order(
    phases: list[str], dates: Mapping[str, Any] | None, issues: list[Issue]
) -> tuple[list[str], dict[str, dt.date | None]]:
    """Days in date order (``special`` before ``general`` without dates)."""
    given = _dates(dates, phases, issues)
    if given is None:
        return phases, dict.fromkeys(phases)
    when: dict[str, dt.date | None] = {p: given.get(p) for p in phases}
    dated = {p: d for p, d in when.items() if d is not None}
    if len(set(dated.values())) < len(dated):
        twins = tuple(p for p, d in dated.items() if list(dated.values()).count(d) > 1)
        message = "two voting days on one date would share the forces; give distinct dates"
        issues.append(Issue("arguments", "dates", twins, message))
    if len(dated) == len(phases):
        order = sorted(phases, key=lambda p: (dated[p], p))
    else:
        undated = [p for p in phases if p not in dated and p not in DEFAULT_ORDER]
        if undated:
            message = "give dates={phase: 'YYYY-MM-DD'} for these days to order them"
            issues.append(Issue("arguments", "dates", tuple(undated), message))
        order = [p for p in DEFAULT_ORDER if p in phases] + undated
        known = [dated[p] for p in order if p in dated]
        if known != sorted(known):
            message = "without a date for every day, 'special' must come before 'general'"
            issues.append(Issue("arguments", "dates", tuple(dated), message))
    return order, {p: when[p] for p in order}


def _dates(
    dates: Mapping[str, Any] | None, phases: list[str], issues: list[Issue]
) -> dict[str, dt.date] | None:
    if dates is None:
        if set(phases) <= set(DEFAULT_ORDER):
            return {}
        extra = tuple(p for p in phases if p not in DEFAULT_ORDER)
        message = "give dates={phase: 'YYYY-MM-DD'} for every day to order days other than "
        issues.append(Issue("arguments", "dates", extra, message + "'special'/'general'"))
        return None
    if not isinstance(dates, Mapping):
        message = f"must be a mapping {{phase: date}}, got {type(dates).__name__}"
        issues.append(Issue("arguments", "dates", (), message))
        return None
    out = {}
    for phase, value in dates.items():
        if phase not in phases:
            message = f"names no day of the centres ({did_you_mean(phase, phases)})"
            issues.append(Issue("arguments", "dates", (phase,), message))
            continue
        day = as_date(value)
        if day is None:
            message = f"must be a date or an ISO date string 'YYYY-MM-DD', got {value!r}"
            issues.append(Issue("arguments", "dates", (phase,), message))
        else:
            out[phase] = day
    return out


def _day_teams(
    value: Teams,
    name: str,
    default_phase: str,
    phases: list[str],
    garrisons: gpd.GeoDataFrame,
    issues: list[Issue],
) -> dict[str, np.ndarray]:
    """Teams per garrison for each day the option applies to."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        per = dict(value)
        for phase in [p for p in per if p not in phases]:
            message = f"names no day of the centres ({did_you_mean(phase, phases)})"
            issues.append(Issue("arguments", name, (phase,), message))
            del per[phase]
    elif default_phase in phases:
        per = {default_phase: value}
    else:
        if not (is_number(value) and value == 0):
            message = (
                f"a single value applies to the {default_phase!r} day, which the centres "
                f"do not have ({', '.join(phases)}); give {{phase: value}}"
            )
            issues.append(Issue("arguments", name, (), message))
        return {}
    found = {phase: _teams(v, name, garrisons, issues) for phase, v in per.items()}
    return {phase: teams for phase, teams in found.items() if teams is not None}


def _teams(
    value: Any, name: str, garrisons: gpd.GeoDataFrame, issues: list[Issue]
) -> np.ndarray | None:
    """Read a fraction of capacity (rounded up) or a garrison column as whole teams."""
    capacity = garrisons["capacity"].to_numpy(np.int64)
    if is_number(value):
        if float(value) > 1:
            message = f"must be a fraction in [0, 1] or a garrison column, got {value!r}"
            issues.append(Issue("arguments", name, (), message))
            return None
        return _rounded_up(float(value) * capacity)
    if not isinstance(value, str):
        message = f"must be a fraction in [0, 1] or a garrison column, got {value!r}"
        issues.append(Issue("arguments", name, (), message))
        return None
    if value not in garrisons.columns:
        message = f"names no garrison column ({did_you_mean(value, garrisons.columns)})"
        issues.append(Issue("garrisons", value, (), f"{name}={value!r} {message}"))
        return None
    return _column_teams(garrisons, value, name, issues)


def _column_teams(
    garrisons: gpd.GeoDataFrame, column: str, name: str, issues: list[Issue]
) -> np.ndarray | None:
    raw = garrisons[column]
    capacity = garrisons["capacity"].to_numpy(np.int64)
    numbers = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    if pd.api.types.is_bool_dtype(raw.dtype) or np.isnan(numbers).any():
        bad = garrisons.index[np.isnan(numbers)]
        message = f"({name}) must hold a fraction (floats) or team counts (integers)"
        issues.append(Issue("garrisons", column, tuple(bad), message))
        return None
    if pd.api.types.is_integer_dtype(raw.dtype):
        bad = garrisons.index[(numbers < 0) | (numbers > capacity)]
        if len(bad):
            message = f"({name}) team counts must lie in [0, capacity]"
            issues.append(Issue("garrisons", column, tuple(bad), message))
            return None
        counts: np.ndarray = numbers.astype(np.int64)
        return counts
    bad = garrisons.index[(numbers < 0) | (numbers > 1)]
    if len(bad):
        message = f"({name}) fractions must lie in [0, 1] (an integer column counts teams)"
        issues.append(Issue("garrisons", column, tuple(bad), message))
        return None
    return _rounded_up(numbers * capacity)


def _rounded_up(teams: np.ndarray) -> np.ndarray:
    """Whole teams, rounding up (a float error of 1e-9 does not add a team)."""
    return np.ceil(np.asarray(teams, dtype=float) - 1e-9).clip(min=0).astype(np.int64)


def _costs_issues(costs: Any, phases: list[str]) -> list[Issue]:
    if costs is None or isinstance(costs, CostMatrix) or _is_network(costs):
        return []
    if isinstance(costs, Mapping):
        unknown = [p for p in costs if p not in phases]
        missing = [p for p in phases if p not in costs]
        bad = [p for p, c in costs.items() if c is not None and not isinstance(c, CostMatrix)]
        issues = [
            Issue("costs", None, (p,), f"names no day of the centres ({did_you_mean(p, phases)})")
            for p in unknown
        ]
        if missing:
            message = "{phase: CostMatrix} must name every day (None: geodesic that day)"
            issues.append(Issue("costs", None, tuple(missing), message))
        if bad:
            issues.append(Issue("costs", None, tuple(bad), "must be CostMatrix values or None"))
        return issues
    message = (
        f"must be a CostMatrix, a RoadNetwork or {{phase: CostMatrix}}, got {type(costs).__name__}"
    )
    return [Issue("costs", None, (), message)]


def _is_network(costs: Any) -> bool:
    if type(costs).__name__ != "RoadNetwork":
        return False
    from electsec.network import RoadNetwork  # noqa: PLC0415 - only for road costs

    return isinstance(costs, RoadNetwork)


# ------------------------------------------------------------------------- each day


def _forces(
    garrisons: gpd.GeoDataFrame,
    order: list[str],
    retained: Mapping[str, np.ndarray],
    held: Mapping[str, np.ndarray],
) -> pd.DataFrame:
    """One row per day × garrison: capacity, retained, held back and available."""
    capacity = garrisons["capacity"].to_numpy(np.int64)
    zero = np.zeros(len(capacity), dtype=np.int64)
    frames = [
        pd.DataFrame(
            {
                "phase": phase,
                "garrison_id": garrisons.index.to_numpy(),
                "capacity": capacity,
                "retained": retained.get(phase, zero),
                "held_back": held.get(phase, zero),
            }
        )
        for phase in order
    ]
    forces = pd.concat(frames, ignore_index=True)
    forces["available"] = forces["capacity"] - forces["retained"] - forces["held_back"]
    over = forces[forces["available"] < 0]
    if len(over):
        message = "min_retained + hold_back exceed the garrison's capacity on one day"
        raise InputError([Issue("garrisons", "capacity", tuple(over["garrison_id"]), message)])
    return forces


def _instances(
    layers: Mapping[str, gpd.GeoDataFrame],
    garrisons: gpd.GeoDataFrame,
    forces: pd.DataFrame,
    costs: Any,
    order: list[str],
    options: Mapping[str, Any],
) -> dict[str, Instance]:
    """Prepare every day (its capacities, its costs), reporting every day's problems."""
    prep = {k: v for k, v in options.items() if k in _PREPARE_OPTIONS}
    issues: list[Issue] = []
    instances = {}
    for phase in order:
        day = forces[forces["phase"] == phase]
        depots = garrisons.assign(capacity=day["available"].to_numpy(np.int64))
        try:
            day_costs = _day_costs(costs, phase, layers[phase], depots, prep)
            instances[phase] = prepare(layers[phase], depots, day_costs, **prep)
        except InputError as exc:
            issues += [_on_day(i, phase) for i in exc.issues]
    if issues:
        raise InputError(issues)
    return instances


def _day_costs(
    costs: Any,
    phase: str,
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    prep: Mapping[str, Any],
) -> CostMatrix | None:
    """Return the day's cost matrix: its rows of a matrix, its entry, or road travel times."""
    if isinstance(costs, Mapping):
        given: CostMatrix | None = costs[phase]
        return given
    if isinstance(costs, CostMatrix):
        return _rows(costs, centers.index)
    if costs is None:
        return None
    limit = prep.get("max_time_s")
    return distance_matrix(
        centers,
        garrisons,
        metric="travel_time",
        network=costs,
        max_time_s=float(limit) if is_number(limit) else None,
    )


def _rows(costs: CostMatrix, ids: pd.Index) -> CostMatrix:
    """Return the rows of ``ids`` of a matrix covering several days' centres."""
    pos = pd.Index(costs.center_ids.astype(str)).get_indexer(ids)
    missing = ids[pos < 0]
    if len(missing):
        message = "centres missing from the cost matrix; build it for every day's centres"
        raise InputError([Issue("costs", None, tuple(missing), message)])
    road = costs.road
    if road is not None:
        road = dataclasses.replace(
            road,
            **{
                f.name: getattr(road, f.name)[pos]
                for f in dataclasses.fields(road)
                if isinstance(getattr(road, f.name), np.ndarray)
            },
        )
    mine = set(ids)
    return dataclasses.replace(
        costs,
        matrix=costs.matrix[pos, :],
        center_ids=pd.Index(ids),
        unreachable=tuple(u for u in costs.unreachable if u in mine),
        road=road,
    )


def _solve_days(
    instances: Mapping[str, Instance],
    order: list[str],
    when: Mapping[str, dt.date | None],
    budget: Budget,
    how: Mapping[str, Any],
) -> dict[str, AssignmentResult]:
    """Solve the days in order, each given its share of the time left."""
    rows = {p: max(1, len(instances[p].problem.demand)) for p in order}
    plans = {}
    for k, phase in enumerate(order):
        left = budget.left()
        share = None if left is None else left * rows[phase] / sum(rows[q] for q in order[k:])
        try:
            plans[phase] = solve(instances[phase], time_limit_s=share, **how)
        except InfeasibleError as exc:
            day = _day_name(phase, when[phase])
            reason = f"on the {day}, {exc.diagnosis.reason}"
            diagnosis = dataclasses.replace(exc.diagnosis, reason=reason)
            raise InfeasibleError(diagnosis, partial=exc.partial) from exc
        except SolverError as exc:
            raise SolverError(f"{_day_name(phase, when[phase])}: {exc}") from exc
    return plans


def _day_name(phase: str, date: dt.date | None) -> str:
    return f"{phase} day" + ("" if date is None else f" ({date.isoformat()})")


def _iso(date: dt.date | None) -> str | None:
    return None if date is None else date.isoformat()


def _json_ready(value: Any) -> Any:
    """Return options as JSON: mappings and lists copied, numbers plain, others as text."""
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, str) or value is None:
        return value
    if is_number(value, minimum=-math.inf):
        return int(value) if isinstance(value, int | np.integer) else float(value)
    return value.isoformat() if isinstance(value, dt.date) else repr(value)
