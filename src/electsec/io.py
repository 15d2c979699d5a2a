"""Read polling centres and garrisons from files, frames or GeoJSON into validated copies."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeAlias

import geopandas as gpd
import pandas as pd
from shapely.errors import ShapelyError

from electsec.errors import InputError, Issue
from electsec.validation import did_you_mean, validate_layer

__all__ = ["Source", "read_garrisons", "read_polling_centers"]

logger = logging.getLogger(__name__)

#: Anything the readers accept.
Source: TypeAlias = gpd.GeoDataFrame | pd.DataFrame | Mapping[str, Any] | str | os.PathLike[str]

_LON_NAMES = ("lon", "lng", "longitude", "x")
_LAT_NAMES = ("lat", "latitude", "y")
_WKT_NAMES = ("geometry", "wkt", "geom")
_PARQUET = (".parquet", ".geoparquet")


def read_polling_centers(
    source: Source,
    *,
    id_col: str = "center_id",
    demand_col: str = "demand",
    crs: Any = None,
    layer: str | int | None = None,
) -> gpd.GeoDataFrame:
    """Read and validate polling centres.

    Parameters
    ----------
    source
        A path (GeoJSON, GeoPackage, Shapefile, GeoParquet, or CSV with lon/lat or WKT
        columns), a GeoDataFrame, a DataFrame with lon/lat columns, or a GeoJSON
        FeatureCollection dict.
    id_col
        Column with the unique centre id.
    demand_col
        Column with the teams each centre needs (integer ≥ 0).
    crs
        CRS to assume when the source has none (for example ``"EPSG:4326"``).
    layer
        The layer of a multi-layer file (GeoPackage, OSM, ...), by name or position; a
        file with several layers and no ``layer`` is refused, naming them.

    Returns
    -------
    geopandas.GeoDataFrame
        A validated copy indexed by the centre id (``str``, index name ``center_id``),
        with the teams as int64 in ``demand`` (read from ``demand_col``), Point geometry
        and the source's CRS. The caller's object is never modified, and reading the
        copy again (as ``solve_assignment`` and ``distance_matrix`` do) returns it as is.

    Raises
    ------
    InputError
        Listing every problem found, with the offending ids.

    Examples
    --------
    >>> import electsec as es
    >>> centers = es.read_polling_centers("data/sample/tiny_centers.geojson")
    >>> centers["demand"].dtype
    dtype('int64')
    """
    return _read(
        source, table="centers", id_col=id_col, value_col=demand_col, crs=crs, layer=layer
    )


def read_garrisons(
    source: Source,
    *,
    id_col: str = "garrison_id",
    capacity_col: str = "capacity",
    crs: Any = None,
    layer: str | int | None = None,
) -> gpd.GeoDataFrame:
    """Read and validate garrisons (bases or units that send teams).

    Parameters
    ----------
    source
        Same forms as for :func:`read_polling_centers`.
    id_col
        Column with the unique garrison id.
    capacity_col
        Column with the teams each garrison can send (integer ≥ 0).
    crs
        CRS to assume when the source has none.
    layer
        As for :func:`read_polling_centers`.

    Returns
    -------
    geopandas.GeoDataFrame
        A validated copy indexed by the garrison id (``str``, index name
        ``garrison_id``), with the teams as int64 in ``capacity`` (read from
        ``capacity_col``).

    Raises
    ------
    InputError
        Listing every problem found, including an empty layer.

    Examples
    --------
    >>> import electsec as es
    >>> garrisons = es.read_garrisons("data/sample/tiny_garrisons.geojson")
    >>> int(garrisons["capacity"].sum()) > 0
    True
    """
    out = _read(
        source, table="garrisons", id_col=id_col, value_col=capacity_col, crs=crs, layer=layer
    )
    if out.empty:
        raise InputError(
            [Issue("garrisons", None, (), "has no rows; at least one garrison is needed")]
        )
    return out


def _read(
    source: Source,
    *,
    table: str,
    id_col: str,
    value_col: str,
    crs: Any,
    layer: str | int | None = None,
) -> gpd.GeoDataFrame:
    frame = _to_geodataframe(source, table=table, id_col=id_col, crs=crs, layer=layer)
    out, issues = validate_layer(frame, table=table, id_col=id_col, value_col=value_col, crs=crs)
    if issues:
        raise InputError(issues)
    assert out is not None  # noqa: S101
    logger.debug("read %d %s", len(out), table)
    return out


def _to_geodataframe(
    source: Source, *, table: str, id_col: str, crs: Any, layer: str | int | None = None
) -> gpd.GeoDataFrame:
    if layer is not None and not isinstance(source, str | os.PathLike):
        message = "layer= names a layer of a file; the source here is not a file path"
        raise InputError([Issue("arguments", "layer", (), message)])
    if isinstance(source, gpd.GeoDataFrame):
        return source.copy()
    if isinstance(source, pd.DataFrame):
        return _from_table(source, table=table, crs=crs)
    if isinstance(source, Mapping):
        return _from_geojson(source, table=table, crs=crs)
    if isinstance(source, str | os.PathLike):
        return _from_path(Path(source), table=table, id_col=id_col, crs=crs, layer=layer)
    raise InputError(
        [
            Issue(
                table,
                None,
                (),
                f"cannot read a {type(source).__name__}; pass a "
                "path, a GeoDataFrame, a DataFrame with lon/lat columns or a "
                "GeoJSON FeatureCollection dict",
            )
        ]
    )


def _from_path(
    path: Path, *, table: str, id_col: str, crs: Any, layer: str | int | None = None
) -> gpd.GeoDataFrame:
    if not path.exists():
        raise InputError([Issue(table, None, (), f"file not found: {path}")])
    flat = path.suffix.lower() == ".csv" or path.suffix.lower() in _PARQUET
    if flat and layer is not None:
        raise InputError([Issue("arguments", "layer", (), f"{path.name} has no layers")])
    try:
        if path.suffix.lower() == ".csv":
            return _from_table(pd.read_csv(path, dtype={id_col: str}), table=table, crs=crs)
        if path.suffix.lower() in _PARQUET:
            return gpd.read_parquet(path)
        return gpd.read_file(path, engine="pyogrio", layer=_layer(path, table, layer))
    except (OSError, ValueError, RuntimeError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError([Issue(table, None, (), f"cannot read {path}: {exc}")]) from exc


def _layer(path: Path, table: str, layer: str | int | None) -> str | int | None:
    """Return the layer to read: the one asked for or the only one (else InputError)."""
    import pyogrio  # noqa: PLC0415 - geopandas' own reader, loaded with it

    names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    if layer is None and len(names) > 1:
        message = f"has {len(names)} layers ({', '.join(names)}); pass layer= to name one"
        raise InputError([Issue(table, None, (), message)])
    if isinstance(layer, str) and layer not in names:
        message = f"{path.name} has no layer {layer!r} ({did_you_mean(layer, names)})"
        raise InputError([Issue("arguments", "layer", (), message)])
    if isinstance(layer, int) and not 0 <= layer < len(names):
        message = f"{path.name} has {len(names)} layer(s); layer={layer} is out of range"
        raise InputError([Issue("arguments", "layer", (), message)])
    return layer


def _from_geojson(data: Mapping[str, Any], *, table: str, crs: Any) -> gpd.GeoDataFrame:
    if data.get("type") != "FeatureCollection" or not isinstance(data.get("features"), list):
        raise InputError(
            [
                Issue(
                    table,
                    None,
                    (),
                    "a dict must be a GeoJSON FeatureCollection with a 'features' list",
                )
            ]
        )
    # RFC 7946: GeoJSON coordinates are WGS84 lon/lat unless the caller says otherwise.
    try:
        frame = gpd.GeoDataFrame.from_features(data["features"], crs=crs or "EPSG:4326")
    except (KeyError, TypeError, ValueError, AttributeError, ShapelyError) as exc:
        raise InputError(
            [
                Issue(
                    table,
                    "geometry",
                    (),
                    f"invalid GeoJSON features: {exc}; use Point geometries (RFC 7946)",
                )
            ]
        ) from exc
    if frame.empty and "geometry" not in frame.columns:
        frame = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=crs or "EPSG:4326"))
    return frame


def _from_table(frame: pd.DataFrame, *, table: str, crs: Any) -> gpd.GeoDataFrame:
    lower = {str(c).lower(): c for c in frame.columns}
    lon = next((lower[n] for n in _LON_NAMES if n in lower), None)
    lat = next((lower[n] for n in _LAT_NAMES if n in lower), None)
    if lon is not None and lat is not None:
        named_degrees = str(lon).lower() != "x"
        layer_crs = crs if crs is not None else ("EPSG:4326" if named_degrees else None)
        x = pd.to_numeric(frame[lon], errors="coerce")
        y = pd.to_numeric(frame[lat], errors="coerce")
        geometry = gpd.points_from_xy(x, y)
        return gpd.GeoDataFrame(frame.drop(columns=[lon, lat]), geometry=geometry, crs=layer_crs)
    wkt = next((lower[n] for n in _WKT_NAMES if n in lower), None)
    if wkt is not None:
        geometry = gpd.GeoSeries.from_wkt(
            frame[wkt].astype(object).where(frame[wkt].notna()), on_invalid="ignore"
        )
        return gpd.GeoDataFrame(frame.drop(columns=[wkt]), geometry=geometry.to_numpy(), crs=crs)
    raise InputError(
        [
            Issue(
                table,
                None,
                (),
                "a table needs lon/lat (or x/y) columns or a WKT 'geometry' column",
            )
        ]
    )
