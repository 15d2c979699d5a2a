"""Validate and normalise one layer of sites (centres or garrisons).

Validation collects every problem of a layer and returns them as :class:`Issue` objects;
the public readers raise them together in one :class:`InputError`.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import Any, TypeGuard

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from electsec.errors import InputError, Issue, did_you_mean

__all__ = [
    "MAX_TEAMS",
    "did_you_mean",
    "flag",
    "is_number",
    "response_limits",
    "team_counts",
    "validate_layer",
]

logger = logging.getLogger(__name__)

#: Names of the id (index) and team-count columns of each validated layer, whatever the
#: source called them: validated layers read again as they are.
CANONICAL = {"centers": ("center_id", "demand"), "garrisons": ("garrison_id", "capacity")}
#: How far (degrees) points may lie outside a projected CRS's area of use.
_AREA_MARGIN_DEG = 10.0
#: Largest team count accepted per site, so that team counts stay far inside the int64
#: arithmetic of the OR-Tools solvers (no bound on totals or costs is enforced yet).
MAX_TEAMS = 10**6


def validate_layer(
    frame: gpd.GeoDataFrame,
    *,
    table: str,
    id_col: str,
    value_col: str,
    crs: Any = None,
) -> tuple[gpd.GeoDataFrame | None, list[Issue]]:
    """Check one layer and return its normalised copy plus every problem found.

    Parameters
    ----------
    frame
        The layer; it is not modified.
    table
        ``"centers"`` or ``"garrisons"``, used in messages.
    id_col
        Column (or index name) holding the site ids.
    value_col
        Column with the non-negative integer team count (demand or capacity).
    crs
        CRS to assume when the layer has none.

    Returns
    -------
    tuple
        The validated copy (index = id as ``str`` named ``center_id``/``garrison_id``,
        the team count as int64 in ``demand``/``capacity`` whatever ``value_col`` was,
        Point geometry, CRS kept) or None when there were problems, and the list of
        problems. Reading a validated copy again gives it back unchanged.
    """
    issues: list[Issue] = []
    ids = _ids(frame, table, id_col, issues)
    layer_crs = _crs(frame, table, crs, issues)
    labels = ids if ids is not None else pd.Index(frame.index.astype(str))
    _geometry_issues(frame, labels, layer_crs, table, issues)
    values = team_counts(frame, labels, table, value_col, issues)
    if issues:
        return None, issues
    assert ids is not None  # noqa: S101 - no issues means ids and values were built
    assert values is not None  # noqa: S101
    id_name, value_name = CANONICAL[table]
    if value_col != value_name and value_name in frame.columns:
        message = (
            f"has both {value_col!r} ({_value_arg(table)}) and {value_name!r}; the validated "
            f"layer names its teams {value_name!r}: drop or rename one"
        )
        return None, [Issue(table, value_name, (), message)]
    out = frame.drop(columns=[c for c in (id_col,) if c in frame.columns])
    out = out.rename(columns={value_col: value_name}).copy()
    out.index = ids.rename(id_name)
    out[value_name] = values
    out = out.set_crs(layer_crs, allow_override=True)
    return out, issues


def _ids(frame: gpd.GeoDataFrame, table: str, id_col: str, issues: list[Issue]) -> pd.Index | None:
    if id_col in frame.columns:
        raw = pd.Series(frame[id_col].to_numpy(), dtype=object)
    elif frame.index.name == id_col:
        raw = pd.Series(frame.index.to_numpy(), dtype=object)
    else:
        issues.append(
            Issue(table, id_col, (), f"id column {id_col!r} is missing; pass id_col= to name it")
        )
        return None
    missing = raw.isna().to_numpy()
    if missing.any():
        rows = tuple(f"row {i}" for i in np.flatnonzero(missing))
        issues.append(Issue(table, id_col, rows, "ids must not be empty"))
    ids = pd.Index(raw.where(~missing, "").map(_id_text), dtype=str, name=id_col)
    duplicated = ids[ids.duplicated() & ~missing]
    if len(duplicated):
        issues.append(Issue(table, id_col, tuple(dict.fromkeys(duplicated)), "ids must be unique"))
    return ids if not missing.any() else None


def _id_text(value: object) -> str:
    """Spell an id as text; integral floats (from CSV or JSON) lose their ``.0``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _crs(frame: gpd.GeoDataFrame, table: str, crs: Any, issues: list[Issue]) -> pyproj.CRS | None:
    try:
        given = pyproj.CRS.from_user_input(crs) if crs is not None else None
    except pyproj.exceptions.CRSError as exc:
        issues.append(
            Issue(table, "geometry", (), f"crs={crs!r} is not a CRS pyproj knows: {exc}")
        )
        return None
    if frame.crs is None:
        if given is None:
            issues.append(
                Issue(
                    table,
                    "geometry",
                    (),
                    "has no CRS; pass crs='EPSG:4326' (or the "
                    "layer's real CRS) or call .set_crs() first",
                )
            )
        return _surface_crs(given, table, issues)
    if given is not None and not given.equals(frame.crs, ignore_axis_order=True):
        issues.append(
            Issue(
                table,
                "geometry",
                (),
                f"has CRS {frame.crs.to_string()} but crs="
                f"{given.to_string()} was passed; reproject with .to_crs() instead",
            )
        )
    return _surface_crs(pyproj.CRS.from_user_input(frame.crs), table, issues)


def _surface_crs(crs: pyproj.CRS | None, table: str, issues: list[Issue]) -> pyproj.CRS | None:
    """Refuse CRSs whose x/y are not a position on the Earth's surface (geocentric, 3-D…)."""
    if crs is None or crs.is_geographic or crs.is_projected:
        return crs
    kind = "geocentric" if crs.is_geocentric else (crs.type_name or "non-surface")
    issues.append(
        Issue(
            table,
            "geometry",
            (),
            f"CRS {crs.to_string()} is {kind}, not a geographic or projected CRS; "
            "reproject to lon/lat (EPSG:4326) or a projected CRS first",
        )
    )
    return None


def _geometry_issues(
    frame: gpd.GeoDataFrame,
    labels: pd.Index,
    crs: pyproj.CRS | None,
    table: str,
    issues: list[Issue],
) -> None:
    geom = frame.geometry.to_numpy()
    missing = shapely.is_missing(geom) | shapely.is_empty(geom)
    not_point = ~missing & (shapely.get_type_id(geom) != shapely.GeometryType.POINT)
    points = np.where(missing | not_point, None, geom)  # GEOS refuses get_x on POINT EMPTY
    x = np.where(missing | not_point, 0.0, shapely.get_x(points))
    y = np.where(missing | not_point, 0.0, shapely.get_y(points))
    x = np.nan_to_num(np.asarray(x, dtype=float), nan=np.inf, posinf=np.inf, neginf=-np.inf)
    y = np.nan_to_num(np.asarray(y, dtype=float), nan=np.inf, posinf=np.inf, neginf=-np.inf)
    not_finite = ~missing & ~not_point & ~(np.isfinite(x) & np.isfinite(y))
    for mask, what in (
        (missing, "geometry is missing or empty"),
        (not_point, "geometry must be a Point (use .centroid or .representative_point())"),
        (not_finite, "coordinates must be finite numbers"),
    ):
        if mask.any():
            issues.append(Issue(table, "geometry", tuple(labels[mask]), what))
    ok = ~(missing | not_point | not_finite)
    if crs is not None and ok.any():
        _area_issues(x[ok], y[ok], labels[ok], crs, table, issues)


def _area_issues(
    x: np.ndarray,
    y: np.ndarray,
    labels: pd.Index,
    crs: pyproj.CRS,
    table: str,
    issues: list[Issue],
) -> None:
    if crs.is_geographic:
        bad = (np.abs(x) > 180) | (np.abs(y) > 90)
        flag(
            issues,
            table,
            "geometry",
            labels,
            bad,
            f"coordinates lie outside lon -180..180 / lat -90..90 of {crs.to_string()}; "
            "are they projected metres? set the layer's real CRS",
        )
        return
    if np.all((np.abs(x) <= 180) & (np.abs(y) <= 90)):
        issues.append(
            Issue(
                table,
                "geometry",
                (),
                f"every coordinate lies within ±180/±90 although the "
                f"CRS {crs.to_string()} is projected (metres): these look like lon/lat "
                "degrees; set crs='EPSG:4326' instead",
            )
        )
        return
    area = crs.area_of_use
    to_lonlat = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(x, y, errcheck=False)
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    on_earth = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    if area is None:
        flag(
            issues,
            table,
            "geometry",
            labels,
            ~on_earth,
            f"coordinates do not map to a lon/lat on Earth in {crs.to_string()}; check the CRS",
        )
        return
    m = _AREA_MARGIN_DEG
    bad = ~(
        on_earth
        & (lon >= area.west - m)
        & (lon <= area.east + m)
        & (lat >= area.south - m)
        & (lat <= area.north + m)
    )
    flag(
        issues,
        table,
        "geometry",
        labels,
        bad,
        f"coordinates lie outside the area where {crs.to_string()} is valid ({area.name}); "
        "check the CRS",
    )


def flag(
    issues: list[Issue],
    table: str,
    column: str,
    labels: pd.Index,
    bad: np.ndarray,
    message: str,
) -> bool:
    """Add one issue naming the ``labels`` where ``bad`` holds, if any; tell whether it did."""
    if not bad.any():
        return False
    issues.append(Issue(table, column, tuple(labels[bad]), message))
    return True


def team_counts(
    frame: pd.DataFrame,
    labels: pd.Index,
    table: str,
    value_col: str,
    issues: list[Issue],
) -> np.ndarray | None:
    """Read a column of whole, non-negative team counts, adding any problem to ``issues``.

    Returns the int64 counts, or None when the column is missing or any value is bad.
    """
    if value_col not in frame.columns:
        issues.append(
            Issue(
                table,
                value_col,
                (),
                f"column {value_col!r} is missing; it holds the teams "
                f"per site (name another column with {_value_arg(table)}=)",
            )
        )
        return None
    raw = frame[value_col]
    if pd.api.types.is_bool_dtype(raw.dtype):
        issues.append(Issue(table, value_col, (), "must hold team counts, not True/False"))
        return None
    values, codes = _exact_counts(raw)
    for code, what in enumerate(_COUNT_PROBLEMS[1:], start=1):
        mask = codes == code
        if mask.any():
            issues.append(Issue(table, value_col, tuple(labels[mask]), what))
    return None if codes.any() else values


_COUNT_PROBLEMS = (
    "",
    "is missing (NaN); every site needs a team count",
    "is not a number",
    "must be finite",
    "must not be negative",
    "must be a whole number of teams",
    "must be a team count, not True/False",
    f"exceeds the largest team count accepted, {MAX_TEAMS:,}",
)


def _exact_counts(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Read counts exactly (no float round trip); codes index ``_COUNT_PROBLEMS`` (0 = ok)."""
    if pd.api.types.is_integer_dtype(raw.dtype) and not pd.api.types.is_extension_array_dtype(
        raw.dtype
    ):
        arr = raw.to_numpy()
        too_big = arr > MAX_TEAMS
        codes = np.where(arr < 0, 4, np.where(too_big, 7, 0)).astype(np.int8)
        return np.where(codes == 0, arr, 0).astype(np.int64), codes
    cells = [_one_count(v) for v in raw.to_numpy(dtype=object)]
    values = np.fromiter((v for v, _ in cells), dtype=np.int64, count=len(cells))
    codes = np.fromiter((c for _, c in cells), dtype=np.int8, count=len(cells))
    return values, codes


def _one_count(value: object) -> tuple[int, int]:
    """Return ``(count, 0)`` for a valid team count, else ``(0, problem code)``."""
    code = 0
    number = 0
    if isinstance(value, bool | np.bool_):
        code = 6
    elif isinstance(value, str):
        value = _parse_text(value)
        code = 2 if value is None else 0
    if code == 0:
        if value is None or value is pd.NA or value is pd.NaT:
            code = 1
        elif isinstance(value, int | np.integer):
            number = int(value)
        elif isinstance(value, float | np.floating):
            number, code = _float_count(float(value))
        else:
            code = 2
    if code == 0 and number < 0:
        code = 4
    elif code == 0 and number > MAX_TEAMS:
        code = 7
    return (number, 0) if code == 0 else (0, code)


def _parse_text(text: str) -> int | float | None:
    """Parse a team count written as text exactly; None when it is not a number."""
    try:
        return int(text.strip())
    except ValueError:
        pass
    try:
        number = float(text.strip())
    except ValueError:
        return None
    return None if np.isnan(number) else number


def _float_count(number: float) -> tuple[int, int]:
    if np.isnan(number):
        return 0, 1
    if np.isinf(number):
        return 0, 3
    if number < 0:
        return 0, 4
    if not number.is_integer():
        return 0, 5
    return int(number), 0


def _value_arg(table: str) -> str:
    return "demand_col" if table == "centers" else "capacity_col"


def response_limits(
    centers: gpd.GeoDataFrame, limit: object, *, name: str = "max_distance_m"
) -> np.ndarray | None:
    """Turn a response limit into one value per centre (``inf`` = no limit).

    Parameters
    ----------
    centers
        Validated centres.
    limit
        None; one number for every centre; a mapping ``{tier: limit}`` applied through
        the ``tier`` column (tiers not named get no limit); or the name of a column of
        ``centers`` holding each centre's limit (empty cells: no limit).
    name
        The argument's name, for messages.

    Returns
    -------
    numpy.ndarray or None
        float64 limits per centre, or None when no limit applies.

    Raises
    ------
    InputError
        For negative, non-finite or non-numeric limits, a missing column, or a mapping
        without a ``tier`` column.
    """
    if limit is None:
        return None
    if isinstance(limit, str):
        return _column_limits(centers, limit, name)
    if isinstance(limit, dict):
        return _tier_limits(centers, limit, name)
    if not is_number(limit):
        raise InputError(
            [
                Issue(
                    "arguments",
                    name,
                    (),
                    f"must be a finite number ≥ 0, a "
                    f"{{tier: limit}} dict or a column name, got {limit!r}",
                )
            ]
        )
    return np.full(len(centers), float(limit))


def _column_limits(centers: gpd.GeoDataFrame, column: str, name: str) -> np.ndarray:
    """Limits read from a column of ``centers`` (empty cells: no limit)."""
    if column not in centers.columns:
        raise InputError(
            [
                Issue(
                    "arguments",
                    name,
                    (),
                    f"names column {column!r}, which the centres do not have "
                    f"({did_you_mean(column, centers.columns)})",
                )
            ]
        )
    values = pd.to_numeric(centers[column], errors="coerce").to_numpy(float)
    bad = (pd.notna(centers[column]).to_numpy() & np.isnan(values)) | (values < 0)
    bad |= np.isinf(values) | centers[column].map(lambda v: isinstance(v, bool)).to_numpy(bool)
    if bad.any():
        raise InputError(
            [
                Issue(
                    "centers",
                    column,
                    tuple(centers.index[bad]),
                    "response limits must be numbers ≥ 0 (leave empty for none)",
                )
            ]
        )
    return np.where(np.isnan(values), np.inf, values)


def _tier_limits(centers: gpd.GeoDataFrame, limit: dict[Any, Any], name: str) -> np.ndarray:
    """Limits per tier, applied through the ``tier`` column (tiers not named: no limit)."""
    if "tier" not in centers.columns:
        raise InputError(
            [
                Issue(
                    "centers",
                    "tier",
                    (),
                    f"{name} is given per tier, but the centres have no 'tier' column",
                )
            ]
        )
    bad_keys = [k for k, v in limit.items() if not is_number(v)]
    if bad_keys:
        raise InputError(
            [
                Issue(
                    "arguments",
                    name,
                    tuple(bad_keys),
                    "per-tier limits must be finite numbers ≥ 0",
                )
            ]
        )
    tiers = centers["tier"].astype(str)
    unknown = [k for k in limit if str(k) not in set(tiers)]
    if unknown:
        raise InputError(
            [
                Issue(
                    "arguments",
                    name,
                    (),
                    f"names tier {k!r}, which no centre has ({did_you_mean(k, tiers.unique())})",
                )
                for k in unknown
            ]
        )
    mapped = tiers.map({str(k): float(v) for k, v in limit.items()})
    per_center: np.ndarray = mapped.fillna(np.inf).to_numpy(float)
    return per_center


def as_date(value: Any) -> dt.date | None:
    """Read a date, a datetime or an ISO ``'YYYY-MM-DD'`` as a ``datetime.date``; else None."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def is_number(
    value: object, *, minimum: float = 0.0, strict: bool = False, integer: bool = False
) -> TypeGuard[int | float | np.integer[Any] | np.floating[Any]]:
    """Tell whether ``value`` is a finite real number at or above ``minimum``.

    Python and numpy integer and floating scalars count; bools (``True``, ``np.True_``)
    never do, nor do strings, arrays or NaN.

    Parameters
    ----------
    value
        Anything.
    minimum
        The least value allowed.
    strict
        Whether ``value`` must exceed ``minimum`` rather than reach it.
    integer
        Whether ``value`` must be an integer (``int`` or a numpy integer; a float such
        as ``3.0`` is refused).

    Returns
    -------
    bool
        True when ``value`` qualifies; a type guard for static checkers.
    """
    if isinstance(value, bool | np.bool_):
        return False
    if isinstance(value, int | np.integer):
        number: float | int = int(value)
    elif integer or not isinstance(value, float | np.floating):
        return False
    elif math.isfinite(value):
        number = float(value)
    else:
        return False
    return number > minimum if strict else number >= minimum
