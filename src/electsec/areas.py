"""Where a scenario edit applies: ids, governorates, agencies or a polygon (lon/lat).

An :class:`Area` picks garrisons (for capacity edits) or centres and their demand rows
(for demand and tier edits) out of a prepared :class:`~electsec.problem.Instance` by its
labels. Every criterion given must hold (they combine with *and*); each one may name
several values (any of them). A name no garrison or centre carries is an error naming
the close ones, and an area that selects nothing is an error too (a polygon drawn in
x = lat, y = lon selects nothing, rather than silently changing nothing).

Scenario mappings also take two string shorthands for the common cases:
``"governorate:Baghdad"`` and ``"agency:police"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from electsec.errors import Issue, did_you_mean
from electsec.problem import Labels

__all__ = ["Area", "area_of", "centers_in", "garrisons_in", "rows_in"]

_PREFIXES = ("governorate", "agency")


@dataclass(frozen=True)
class Area:
    """A selection of garrisons or centres by their labels.

    Parameters
    ----------
    governorate
        One governorate or several (a centre's ``governorate`` column; for garrisons,
        theirs).
    agency
        One agency or several: garrisons of it, or the demand rows (teams) of it.
    polygon
        A shapely ``Polygon`` or ``MultiPolygon`` in lon/lat (EPSG:4326): the points
        inside it or on its edge.
    ids
        Garrison or centre ids.

    Examples
    --------
    >>> import electsec as es
    >>> es.Area(governorate="Baghdad", agency=["police", "army"])
    Area(governorate=('Baghdad',), agency=('police', 'army'))
    """

    governorate: str | Sequence[str] = ()
    agency: str | Sequence[str] = ()
    polygon: Any = None
    ids: str | Sequence[str] = ()

    def __post_init__(self) -> None:
        for name in ("governorate", "agency", "ids"):
            object.__setattr__(self, name, _names(getattr(self, name)))

    def __repr__(self) -> str:
        parts = [
            f"{name}={getattr(self, name)!r}"
            for name in ("governorate", "agency", "ids")
            if getattr(self, name)
        ]
        if self.polygon is not None:
            parts.append(f"polygon=<{getattr(self.polygon, 'geom_type', '?')}>")
        return f"Area({', '.join(parts)})"


def _names(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Iterable):
        return (str(value),)
    return tuple(str(v) for v in value)


def area_of(key: object) -> Area | None:
    """Return the :class:`Area` a mapping key names (``"agency:police"``…), None for an id."""
    if isinstance(key, Area):
        return key
    text = str(key)
    prefix, colon, name = text.partition(":")
    if colon and prefix.strip().lower() in _PREFIXES:
        if prefix.strip().lower() == "agency":
            return Area(agency=name.strip())
        return Area(governorate=name.strip())
    return None


def garrisons_in(area: Area, labels: Labels, option: str, issues: list[Issue]) -> np.ndarray:
    """Boolean mask of the garrisons in ``area`` (issues for unknown names)."""
    before, attributes = len(issues), labels.garrison_attributes
    mask = np.ones(len(labels.garrison_ids), dtype=bool)
    checks = (
        ("governorate", _names(area.governorate), attributes.get("governorate")),
        ("agency", _names(area.agency), attributes.get("agency")),
        ("garrison id", _names(area.ids), labels.garrison_ids),
    )
    for what, wanted, values in checks:
        mask &= _named(what, wanted, values, "garrisons", option, issues)
    mask &= _inside(area.polygon, labels.garrison_lonlat, option, issues)
    return _nonempty(mask, area, "garrison", option, issues, before)


def centers_in(area: Area, labels: Labels, option: str, issues: list[Issue]) -> np.ndarray:
    """Boolean mask of the centres in ``area`` (with ``agency``: needing that agency)."""
    before = len(issues)
    rows = _rows(area, labels, option, issues)
    mask = _center_mask(area, labels, option, issues)
    if rows is not None:
        mask &= np.bincount(labels.forces.row_center[rows], minlength=len(mask)) > 0
    return _nonempty(mask, area, "centre", option, issues, before)


def rows_in(area: Area, labels: Labels, option: str, issues: list[Issue]) -> np.ndarray:
    """Boolean mask of the demand rows in ``area`` (centres in it; rows of its agency)."""
    before, forces = len(issues), labels.forces
    mask = _center_mask(area, labels, option, issues)[forces.row_center]
    rows = _rows(area, labels, option, issues)
    if rows is not None:
        mask &= rows
    return _nonempty(mask, area, "demand row", option, issues, before)


def _center_mask(area: Area, labels: Labels, option: str, issues: list[Issue]) -> np.ndarray:
    mask = _named(
        "governorate", _names(area.governorate), labels.governorate, "centres", option, issues
    )
    mask = mask & _named(
        "centre id", _names(area.ids), labels.center_ids, "centres", option, issues
    )
    inside: np.ndarray = mask & _inside(area.polygon, labels.center_lonlat, option, issues)
    return inside


def _rows(area: Area, labels: Labels, option: str, issues: list[Issue]) -> np.ndarray | None:
    """Rows of the area's agencies (None: no agency asked)."""
    wanted = _names(area.agency)
    if not wanted:
        return None
    agency = labels.forces.row_agency
    if agency is None:
        message = (
            "the centres do not ask for agencies (no 'agency' or demand_<agency> column), "
            "so an agency selects none of their teams"
        )
        issues.append(Issue("arguments", option, wanted, message))
        return np.zeros(len(labels.forces.row_center), dtype=bool)
    return _named("agency", wanted, agency, "centres", option, issues)


def _named(
    what: str,
    wanted: tuple[str, ...],
    values: np.ndarray | None,
    table: str,
    option: str,
    issues: list[Issue],
) -> np.ndarray:
    """Mask of ``values`` among ``wanted`` (all True when nothing is wanted)."""
    if not wanted:
        return np.ones(1 if values is None else len(values), dtype=bool)
    if values is None:
        message = f"the {table} have no {what} column; select by ids or a polygon"
        issues.append(Issue("arguments", option, wanted, message))
        return np.zeros(1, dtype=bool)
    known = {str(v) for v in values}
    for name in wanted:
        if name not in known:
            message = f"no {table[:-1]} has {what} {name!r} ({did_you_mean(name, known)})"
            issues.append(Issue("arguments", option, (name,), message))
    found: np.ndarray = np.isin(np.asarray(values).astype(str), list(wanted))
    return found


def _inside(polygon: Any, lonlat: np.ndarray, option: str, issues: list[Issue]) -> np.ndarray:
    """Mask of the points inside ``polygon`` or on its edge (all True without one)."""
    if polygon is None:
        return np.ones(len(lonlat), dtype=bool)
    if not isinstance(polygon, shapely.Polygon | shapely.MultiPolygon) or polygon.is_empty:
        got = getattr(polygon, "geom_type", type(polygon).__name__)
        message = f"polygon must be a shapely Polygon or MultiPolygon in lon/lat, got {got}"
        issues.append(Issue("arguments", option, (), message))
        return np.zeros(len(lonlat), dtype=bool)
    x0, y0, x1, y1 = polygon.bounds
    if not (x0 >= -180 and x1 <= 180 and y0 >= -90 and y1 <= 90):
        message = (
            f"polygon bounds {polygon.bounds} are not lon/lat degrees; "
            "reproject it to EPSG:4326 first"
        )
        issues.append(Issue("arguments", option, (), message))
        return np.zeros(len(lonlat), dtype=bool)
    inside: np.ndarray = shapely.intersects_xy(polygon, lonlat[:, 0], lonlat[:, 1])
    return inside


def _nonempty(
    mask: np.ndarray, area: Area, what: str, option: str, issues: list[Issue], before: int
) -> np.ndarray:
    """Add an issue when ``area`` selects nothing (and nothing else was wrong with it)."""
    if not mask.any() and len(issues) == before:
        hint = " (polygons are lon/lat: x = longitude)" if area.polygon is not None else ""
        issues.append(Issue("arguments", option, (), f"{area!r} selects no {what}{hint}"))
    return mask
