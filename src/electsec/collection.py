"""Collection points of the ballot transfer: warehouses, the tally centre, airfields.

After the count, every centre's ballot boxes travel to its governorate's **warehouse**
(the governorate electoral office), and the result media (memory sticks) go on from the
warehouse to the national **tally** centre in Baghdad, by road or flown from an
**airfield**. :func:`read_collection_points` reads and validates that layer the way
:func:`electsec.read_polling_centers` reads centres: one :class:`~electsec.errors.InputError`
listing every problem, with the ids, the column and the fix.

Times of day are minutes after midnight of the election day; a closing time at or before
the opening time is on the next day (``"18:00"``-``"08:00"`` is open 14 hours).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd

from electsec.errors import InputError, Issue
from electsec.io import Source, _to_geodataframe
from electsec.validation import _crs, _geometry_issues, _ids

__all__ = ["KINDS", "POINT_COLUMNS", "read_collection_points"]

logger = logging.getLogger(__name__)

#: Kinds of collection point.
KINDS: Final = ("warehouse", "tally", "airfield")
#: Columns of the validated layer, in order (index ``point_id``).
POINT_COLUMNS: Final = (
    "kind",
    "name",
    "governorates",
    "opens_min",
    "closes_min",
    "convoys_per_hour",
    "boxes_capacity",
    "slot_min",
)
#: ``governorates`` value of a point serving every governorate.
ALL: Final = "*"
#: Minutes between an airfield's departure slots when ``slot_min`` is not given.
DEFAULT_SLOT_MIN: Final = 30
_DAY_MIN: Final = 24 * 60
_TABLE: Final = "collection_points"


def read_collection_points(
    source: Source,
    *,
    id_col: str = "point_id",
    crs: Any = None,
    layer: str | int | None = None,
) -> gpd.GeoDataFrame:
    """Read and validate the collection points of the ballot transfer.

    Parameters
    ----------
    source
        Same forms as for :func:`electsec.read_polling_centers`. Columns: ``kind``
        (``warehouse``, ``tally`` or ``airfield``); ``governorates`` it serves
        (``;``-separated names, or ``*`` for all; a list is accepted too; the tally
        centre may leave it empty); ``opens`` and ``closes`` (``"HH:MM"`` or minutes
        after midnight; empty means always open; closing at or before opening is the
        next day); optional ``convoys_per_hour`` (intake rate: hand-overs at least
        ``60 / convoys_per_hour`` minutes apart), ``boxes_capacity`` (ballot boxes it
        can take in total), ``slot_min`` (airfields: minutes between departure slots
        from opening, default 30) and ``name``.
    id_col
        Column with the unique point id.
    crs
        CRS to assume when the source has none.
    layer
        The layer of a multi-layer file.

    Returns
    -------
    geopandas.GeoDataFrame
        A validated copy indexed by ``point_id`` (str) with the columns of
        :data:`POINT_COLUMNS`: ``governorates`` as a tuple of names (``("*",)`` for
        all), ``opens_min`` and ``closes_min`` as int minutes (``closes_min`` may pass
        1440: the next day), ``convoys_per_hour`` float (NaN: no limit),
        ``boxes_capacity`` Int64 (NA: no limit), ``slot_min`` int. Reading it again
        gives it back unchanged.

    Raises
    ------
    InputError
        Listing every problem, with the offending ids.

    Examples
    --------
    >>> import electsec as es
    >>> points = es.read_collection_points("data/sample/collection_points.geojson")
    >>> int((points["kind"] == "tally").sum())
    1
    """
    frame = _to_geodataframe(source, table=_TABLE, id_col=id_col, crs=crs, layer=layer)
    issues: list[Issue] = []
    ids = _ids(frame, _TABLE, id_col, issues)
    layer_crs = _crs(frame, _TABLE, crs, issues)
    labels = ids if ids is not None else pd.Index(frame.index.astype(str))
    _geometry_issues(frame, labels, layer_crs, _TABLE, issues)
    columns = _columns(frame, labels, issues)
    if not issues:
        issues += _layer_issues(columns, labels)
    if issues:
        raise InputError(issues)
    assert ids is not None  # noqa: S101 - no issues means the ids were read
    out = gpd.GeoDataFrame(columns, index=ids.rename("point_id"), geometry=frame.geometry.values)
    out = out.set_crs(layer_crs, allow_override=True)
    logger.debug("read %d collection points", len(out))
    return out


def _columns(frame: gpd.GeoDataFrame, labels: pd.Index, issues: list[Issue]) -> dict[str, Any]:
    """Every column of the validated layer, read from ``frame`` (problems to ``issues``)."""
    n = len(frame)
    kind = _text(frame, "kind", n)
    bad = [str(k) not in KINDS for k in kind]
    if "kind" not in frame.columns:
        issues.append(Issue(_TABLE, "kind", (), f"column is missing; one of {KINDS} per row"))
    elif any(bad):
        msg = f"must be one of {KINDS}"
        issues.append(Issue(_TABLE, "kind", tuple(labels[np.asarray(bad)]), msg))
    opens = _times(frame, "opens", 0, labels, issues)
    closes = _times(frame, "closes", None, labels, issues, days=2)
    closes = np.where(np.isnan(closes), opens + _DAY_MIN, closes)
    closes = np.where(closes <= opens, closes + _DAY_MIN, closes)
    return {
        "kind": [str(k) for k in kind],
        "name": [str(v) for v in _text(frame, "name", n, default="")],
        "governorates": _governorates(frame, n),
        "opens_min": opens.astype(np.int64),
        "closes_min": closes.astype(np.int64),
        "convoys_per_hour": _numbers(frame, "convoys_per_hour", labels, issues, whole=False),
        "boxes_capacity": pd.array(
            _numbers(frame, "boxes_capacity", labels, issues, whole=True), dtype="Int64"
        ),
        "slot_min": _slots(frame, labels, issues),
    }


def _text(frame: pd.DataFrame, column: str, n: int, default: str = "") -> list[Any]:
    if column not in frame.columns:
        return [default] * n
    return [default if _blank(v) else v for v in frame[column].to_numpy()]


def _blank(value: Any) -> bool:
    """Tell None, NaN and empty text (a blank cell)."""
    if isinstance(value, str):
        return not value.strip()
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _governorates(frame: pd.DataFrame, n: int) -> list[tuple[str, ...]]:
    out = []
    for value in _text(frame, "governorates", n):
        if isinstance(value, list | tuple | np.ndarray):  # a list, or a validated layer
            names = [str(v).strip() for v in value]
        else:
            names = [part.strip() for part in str(value).split(";")]
        out.append(tuple(name for name in names if name))
    return out


def _times(
    frame: pd.DataFrame,
    column: str,
    default: float | None,
    labels: pd.Index,
    issues: list[Issue],
    *,
    days: int = 1,
) -> np.ndarray:
    """Minutes after midnight (float, NaN when blank and no default).

    A validated layer's ``<column>_min`` is read when ``column`` is absent (``closes_min``
    may reach into the next day: ``days=2``).
    """
    out = np.full(len(frame), np.nan if default is None else float(default))
    limit = 1
    if column not in frame.columns and f"{column}_min" in frame.columns:
        column, limit = f"{column}_min", days
    if column not in frame.columns:
        return out
    bad = []
    for i, value in enumerate(frame[column].to_numpy()):
        if _blank(value):
            continue
        minutes = _minutes(value, limit)
        if minutes is None:
            bad.append(labels[i])
        else:
            out[i] = minutes
    if bad:
        msg = 'must be a time of day "HH:MM" (00:00-23:59) or minutes after midnight (0-1439)'
        issues.append(Issue(_TABLE, column, tuple(bad), msg))
    return out


def _minutes(value: Any, days: int = 1) -> float | None:
    """``"HH:MM"``, a ``datetime.time`` or a number of minutes as minutes after midnight."""
    if isinstance(value, dt.time):  # GDAL reads "HH:MM" properties as times
        return float(value.hour * 60 + value.minute)
    if isinstance(value, str) and ":" in value:
        hours, _, minutes = value.strip().partition(":")
        if hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60:
            return float(int(hours) * 60 + int(minutes))
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    ok = math.isfinite(number) and number.is_integer() and 0 <= number < days * _DAY_MIN
    return number if ok else None


def _numbers(
    frame: pd.DataFrame, column: str, labels: pd.Index, issues: list[Issue], *, whole: bool
) -> np.ndarray:
    """Read a positive number per row (NaN when blank: no limit)."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    raw = frame[column].to_numpy(dtype=object)
    blank = np.array([_blank(v) for v in raw], dtype=bool)
    values = pd.to_numeric(pd.Series(np.where(blank, np.nan, raw)), errors="coerce").to_numpy()
    bad = ~blank & (~np.isfinite(values) | (values <= 0))
    if whole:
        bad |= ~blank & np.isfinite(values) & (values % 1 != 0)
    if bad.any():
        what = "whole numbers > 0" if whole else "numbers > 0"
        issues.append(Issue(_TABLE, column, tuple(labels[bad]), f"must be {what} or empty"))
    return np.where(bad, np.nan, values).astype(float)


def _slots(frame: pd.DataFrame, labels: pd.Index, issues: list[Issue]) -> np.ndarray:
    slots = _numbers(frame, "slot_min", labels, issues, whole=True)
    return np.where(np.isnan(slots), DEFAULT_SLOT_MIN, slots).astype(np.int64)


def _layer_issues(columns: dict[str, Any], labels: pd.Index) -> list[Issue]:
    """Problems of the layer as a whole: one tally centre, warehouses that serve someone."""
    issues = []
    kind = np.asarray(columns["kind"])
    served = np.array([bool(g) for g in columns["governorates"]], dtype=bool)
    tallies = labels[kind == "tally"]
    if len(tallies) != 1:
        msg = f"needs exactly one row of kind 'tally' (the tally centre), got {len(tallies)}"
        issues.append(Issue(_TABLE, "kind", tuple(tallies), msg))
    if not (kind == "warehouse").any():
        msg = "needs at least one 'warehouse' (where the convoys take the boxes)"
        issues.append(Issue(_TABLE, "kind", (), msg))
    empty = labels[(kind != "tally") & ~served]
    if len(empty):
        msg = "must name the governorate(s) served (';'-separated, or '*' for all)"
        issues.append(Issue(_TABLE, "governorates", tuple(empty), msg))
    return issues
