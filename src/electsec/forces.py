"""Who may serve where: agencies, jurisdictions and reserves, turned into arrays.

A centre may need teams of several agencies (an ``agency`` column on the garrisons, and
``demand_<agency>`` columns, or one ``agency`` column, on the centres). Each (centre,
agency) pair with teams to place becomes one *demand row*; a row can only be served by
garrisons of its agency, and only where a jurisdiction lets that agency operate. The
solvers see rows exactly as they see centres, so agencies that share no garrison fall
apart into independent problems by themselves.

Garrisons may hold back a ``reserve`` of teams (quick-reaction forces): those teams are
not sent to centres; they back centres up (see :class:`electsec.config.Backup`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from electsec.errors import InputError, Issue
from electsec.problem import Forces
from electsec.validation import did_you_mean, flag, team_counts

__all__ = [
    "COMMAND",
    "VOTES_AGENCY",
    "Forces",
    "Jurisdiction",
    "jurisdiction_mapping",
    "read_forces",
]

#: Allowed governorates per agency, as a mapping, a table or (agency, governorate) pairs;
#: or ``"command"``: each garrison serves only centres of its own command.
Jurisdiction = (
    Mapping[str, Iterable[str] | str]
    | pd.DataFrame
    | Iterable[tuple[str, str]]
    | Literal["command"]
)


def read_forces(
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    jurisdiction: Jurisdiction | None = None,
) -> Forces:
    """Build the demand rows of two validated layers.

    Parameters
    ----------
    centers, garrisons
        Validated layers. Optional columns: ``agency`` on garrisons; ``demand_<agency>``
        (teams of each agency, summing to ``demand``) or ``agency`` on centres;
        ``governorate`` on centres (for ``jurisdiction``); ``reserve`` on garrisons;
        ``votes_agency`` on centres (agencies whose members vote there, comma-separated:
        garrisons of those agencies never guard it).
        Agencies are used only when the centres say which they need; otherwise any
        garrison may serve any centre.
    jurisdiction
        Where each agency may operate: ``{"police": ["Baghdad", "Basra"]}``, a table with
        ``agency`` and ``governorate`` columns, or (agency, governorate) pairs. Agencies
        not named may operate anywhere. Or ``"command"``: each garrison serves only the
        centres of its own command (a ``command`` column on both layers: the centre's
        area, the garrison's operations command).

    Returns
    -------
    Forces

    Raises
    ------
    InputError
        Listing every problem with the offending ids.
    """
    issues: list[Issue] = []
    reserve = _reserve(garrisons, issues)
    garrison_agency = _garrison_agency(garrisons, issues) if _needs_agencies(centers) else None
    rows = _rows(centers, garrison_agency, issues)
    by_command = is_command(jurisdiction)
    center_class, class_garrisons = _pair_rules(centers, garrisons, issues, by_command=by_command)
    if by_command:
        jurisdiction = None
    allowed_by = _jurisdiction(jurisdiction, centers, garrison_agency, issues)
    if issues:
        raise InputError(issues)
    assert rows is not None  # noqa: S101 - no issues means the rows were built
    row_center, demand, row_agency = rows
    allowed = np.ones(len(row_center), dtype=bool)
    if allowed_by and row_agency is not None:
        governorate = centers["governorate"].astype(str).to_numpy()[row_center]
        for agency, places in allowed_by.items():
            mine = row_agency == agency
            allowed[mine] = np.isin(governorate[mine], sorted(places))
    return Forces(
        row_center=row_center,
        demand=demand,
        row_agency=row_agency,
        allowed=allowed,
        garrison_agency=garrison_agency,
        capacity=garrisons["capacity"].to_numpy(np.int64) - reserve,
        reserve=reserve,
        center_class=center_class,
        class_garrisons=class_garrisons,
    )


#: The ``jurisdiction`` that keeps each garrison to the centres of its own command.
COMMAND = "command"


def is_command(jurisdiction: object) -> bool:
    """Whether ``jurisdiction`` asks for garrisons to serve their own command only."""
    return isinstance(jurisdiction, str) and jurisdiction == COMMAND


#: Centre column naming the agencies whose members vote there (comma-separated): their
#: garrisons may not guard it.
VOTES_AGENCY = "votes_agency"


def _pair_rules(
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    issues: list[Issue],
    *,
    by_command: bool,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Centre classes and the garrisons each class may be served by (or None, None).

    The rules: ``jurisdiction="command"`` (a garrison serves its own command's centres)
    and a ``votes_agency`` column (garrisons of the agencies voting at a centre may not
    guard it). Centres under the same rules share a class, so the solvers see a few
    garrison subsets, as they do for agencies.
    """
    keys, tables = [], []
    for rule in (_commands(centers, garrisons, issues) if by_command else None,
                 _votes(centers, garrisons, issues)):  # fmt: skip
        if rule is not None:
            keys.append(rule[0])
            tables.append(rule[1])
    if not keys:
        return None, None
    unique, inverse = np.unique(np.stack(keys, axis=1), axis=0, return_inverse=True)
    allowed = np.ones((len(unique), len(garrisons)), dtype=bool)
    for j, table in enumerate(tables):
        allowed &= table[unique[:, j]]
    return inverse.ravel().astype(np.int64), allowed


def _votes(
    centers: gpd.GeoDataFrame, garrisons: gpd.GeoDataFrame, issues: list[Issue]
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per centre the code of its voting agencies; per code the garrisons not voting there."""
    if VOTES_AGENCY not in centers.columns:
        return None
    raw = centers[VOTES_AGENCY]
    text = raw.astype(object).where(raw.notna(), "").astype(str)
    votes = [frozenset(a.strip() for a in t.split(",") if a.strip()) for t in text]
    if not any(votes):
        return None
    if "agency" not in garrisons.columns:
        message = "needs an 'agency' column on the garrisons (whose teams vote where)"
        issues.append(Issue("centers", VOTES_AGENCY, (), message))
        return None
    if not _needs_agencies(centers):  # otherwise read_forces has flagged empty agencies
        _garrison_agency(garrisons, issues)  # whose members vote where must be known
    agency = garrisons["agency"].astype(str).str.strip().to_numpy(dtype=object)
    known = set(agency)
    unknown = sorted({a for v in votes for a in v} - known)
    if unknown:
        ids = tuple(i for i, v in zip(centers.index, votes, strict=True) if v - known)
        names = "; ".join(f"{a!r}: {did_you_mean(a, known)}" for a in unknown)
        issues.append(
            Issue("centers", VOTES_AGENCY, ids, f"names agencies no garrison belongs to ({names})")
        )
        return None
    distinct = sorted(set(votes), key=sorted)
    code = {v: k for k, v in enumerate(distinct)}
    table = np.array([[a not in v for a in agency] for v in distinct], dtype=bool)
    return np.array([code[v] for v in votes], dtype=np.int64), table


def _commands(
    centers: gpd.GeoDataFrame, garrisons: gpd.GeoDataFrame, issues: list[Issue]
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per centre its command code; per code the garrisons of that command."""
    names = []
    for table, layer in (("centers", centers), ("garrisons", garrisons)):
        if COMMAND not in layer.columns:
            message = (
                "is missing; jurisdiction='command' needs each centre's command (its area) "
                "and each garrison's command"
            )
            issues.append(Issue(table, COMMAND, (), message))
            continue
        raw = layer[COMMAND]
        text = raw.astype(object).where(raw.notna(), "").astype(str).str.strip()
        flag(issues, table, COMMAND, layer.index, (text == "").to_numpy(), "is empty")
        names.append(text.to_numpy(dtype=object))
    if len(names) < 2:
        return None
    known = set(names[1])
    unknown = ~np.isin(names[0], sorted(known))
    if unknown.any():
        shown = sorted(set(names[0][unknown]))[:5]
        hints = "; ".join(f"{c!r}: {did_you_mean(c, known)}" for c in shown)
        message = f"names a command no garrison belongs to ({hints})"
        flag(issues, "centers", COMMAND, centers.index, unknown, message)
    space = np.asarray(sorted(known | set(names[0])), dtype=object)
    garrison_code = np.searchsorted(space, names[1])
    table = np.arange(len(space))[:, None] == garrison_code[None, :]
    return np.searchsorted(space, names[0]).astype(np.int64), table


def _needs_agencies(centers: gpd.GeoDataFrame) -> bool:
    """Whether centres say which agencies they need (else any garrison may serve)."""
    return "agency" in centers.columns or any(
        str(c).startswith("demand_") for c in centers.columns
    )


def _reserve(garrisons: gpd.GeoDataFrame, issues: list[Issue]) -> np.ndarray:
    if "reserve" not in garrisons.columns:
        return np.zeros(len(garrisons), dtype=np.int64)
    found = team_counts(garrisons, garrisons.index, "garrisons", "reserve", issues)
    if found is None:
        return np.zeros(len(garrisons), dtype=np.int64)
    flag(
        issues,
        "garrisons",
        "reserve",
        garrisons.index,
        found > garrisons["capacity"].to_numpy(np.int64),
        "reserve must not exceed capacity (the reserve is held back from it)",
    )
    return found


def _garrison_agency(garrisons: gpd.GeoDataFrame, issues: list[Issue]) -> np.ndarray | None:
    if "agency" not in garrisons.columns:
        return None
    raw = garrisons["agency"]
    missing = raw.isna().to_numpy() | (raw.astype(str).str.strip() == "").to_numpy()
    flag(
        issues,
        "garrisons",
        "agency",
        garrisons.index,
        missing,
        "is empty; every garrison belongs to one agency",
    )
    agency: np.ndarray = raw.astype(str).str.strip().to_numpy(dtype=object)
    return agency


def _rows(
    centers: gpd.GeoDataFrame, garrison_agency: np.ndarray | None, issues: list[Issue]
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    demand = centers["demand"].to_numpy(np.int64)
    if garrison_agency is None:
        per_agency = [c for c in centers.columns if str(c).startswith("demand_")]
        if per_agency:
            issues.append(
                Issue(
                    "garrisons",
                    "agency",
                    (),
                    f"centres give teams per agency ({', '.join(map(str, per_agency))}) but "
                    "garrisons have no 'agency' column; add one",
                )
            )
            return None
        return np.arange(len(centers), dtype=np.int64), demand, None
    named = {
        str(c).removeprefix("demand_") for c in centers.columns if str(c).startswith("demand_")
    }
    agencies = sorted(set(garrison_agency) | named)
    table = _agency_table(centers, agencies, issues)
    if table is None:
        return None
    center, agency = np.nonzero(table > 0)
    return (
        center.astype(np.int64),
        table[center, agency],
        np.asarray(agencies, dtype=object)[agency],
    )


def _agency_table(
    centers: gpd.GeoDataFrame, agencies: list[str], issues: list[Issue]
) -> np.ndarray | None:
    """Teams per centre (rows) and agency (columns)."""
    demand = centers["demand"].to_numpy(np.int64)
    columns = [f"demand_{a}" for a in agencies]
    if any(c in centers.columns for c in columns):
        table = np.zeros((len(centers), len(agencies)), dtype=np.int64)
        before = len(issues)
        for j, column in enumerate(columns):
            if column in centers.columns:
                found = team_counts(centers, centers.index, "centers", column, issues)
                table[:, j] = 0 if found is None else found
        if len(issues) > before:
            return None
        if flag(
            issues,
            "centers",
            "demand",
            centers.index,
            table.sum(axis=1) != demand,
            f"must equal {' + '.join(c for c in columns if c in centers.columns)}",
        ):
            return None
        return table
    return _one_agency_each(centers, agencies, demand, issues)


def _one_agency_each(
    centers: gpd.GeoDataFrame, agencies: list[str], demand: np.ndarray, issues: list[Issue]
) -> np.ndarray | None:
    named = centers["agency"].astype(str).str.strip().to_numpy(dtype=object)
    if flag(
        issues,
        "centers",
        "agency",
        centers.index,
        (demand > 0) & ~np.isin(named, agencies),
        f"names no agency of the garrisons (they have: {', '.join(agencies)})",
    ):
        return None
    table = np.zeros((len(centers), len(agencies)), dtype=np.int64)
    known = np.isin(named, agencies)
    col = np.searchsorted(np.asarray(agencies, dtype=object), named[known])
    table[np.flatnonzero(known), col] = demand[known]
    return table


def _jurisdiction(
    jurisdiction: Jurisdiction | None,
    centers: gpd.GeoDataFrame,
    garrison_agency: np.ndarray | None,
    issues: list[Issue],
) -> dict[str, set[str]]:
    if jurisdiction is None:
        return {}
    try:
        allowed = jurisdiction_mapping(jurisdiction)
    except (TypeError, ValueError, KeyError) as exc:
        issues.append(
            Issue(
                "arguments",
                "jurisdiction",
                (),
                f"give {{agency: [governorates]}}, a table with 'agency' and 'governorate' "
                f"columns, or (agency, governorate) pairs ({exc})",
            )
        )
        return {}
    if garrison_agency is None:
        issues.append(
            Issue(
                "arguments",
                "jurisdiction",
                (),
                "needs agencies: an 'agency' column on the garrisons, and on the centres "
                "demand_<agency> columns (teams of each) or an 'agency' column",
            )
        )
        return {}
    unknown = sorted(set(allowed) - set(garrison_agency))
    if unknown:
        issues.append(
            Issue(
                "arguments",
                "jurisdiction",
                tuple(unknown),
                "names agencies that no garrison belongs to ("
                + "; ".join(f"{a!r}: {did_you_mean(a, set(garrison_agency))}" for a in unknown)
                + ")",
            )
        )
    issues += _place_issues(allowed, centers)
    return allowed


def _place_issues(allowed: dict[str, set[str]], centers: gpd.GeoDataFrame) -> list[Issue]:
    """Governorates a jurisdiction names must be the centres' own."""
    if "governorate" not in centers.columns:
        message = "is missing; jurisdiction needs each centre's governorate"
        return [Issue("centers", "governorate", (), message)]
    issues: list[Issue] = []
    known = set(centers["governorate"].astype(str))
    for agency, places in sorted(allowed.items()):
        issues.extend(
            Issue(
                "arguments",
                "jurisdiction",
                (agency,),
                f"governorate {place!r} is not one of the centres' governorates "
                f"({did_you_mean(place, known)})",
            )
            for place in sorted(places - known)
        )
    return issues


def jurisdiction_mapping(jurisdiction: Any) -> dict[str, set[str]]:
    """Normalise a jurisdiction to ``{agency: {governorates}}``.

    Raises
    ------
    TypeError, ValueError, KeyError
        When ``jurisdiction`` is none of the accepted forms.
    """
    pairs: Iterable[tuple[Any, Any]]
    if isinstance(jurisdiction, pd.DataFrame):
        pairs = zip(jurisdiction["agency"], jurisdiction["governorate"], strict=True)
    elif isinstance(jurisdiction, Mapping):
        pairs = (
            (agency, place)
            for agency, places in jurisdiction.items()
            for place in ([places] if isinstance(places, str) else places)
        )
    else:
        pairs = ((agency, place) for agency, place in jurisdiction)
    allowed: dict[str, set[str]] = {}
    for agency, place in pairs:
        allowed.setdefault(str(agency), set()).add(str(place))
    return allowed
