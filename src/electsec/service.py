"""JSON requests from services: validated up front, data inline, files only when allowed.

A request (:func:`electsec.schema.request_schema`) carries its layers inline as GeoJSON.
A layer may instead name a file only when the operator allows a data directory: the path
is then resolved inside it, and ``..``, absolute paths, links leading out of it, and
anything but a regular file of a known geodata format are refused. So a service passing
its clients' JSON through cannot be made to read the server's other files.

>>> import json
>>> from pathlib import Path
>>> from electsec.service import read_request, solve_request
>>> sample = Path("data/sample")
>>> request = {
...     "centers": json.loads((sample / "tiny_centers.geojson").read_text()),
...     "garrisons": json.loads((sample / "tiny_garrisons.geojson").read_text()),
...     "options": {"split": True, "max_distance_m": {"high": 30000}},
... }
>>> solve_request(read_request(request)).status
'optimal'
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import geopandas as gpd
from shapely.errors import ShapelyError

from electsec.assign import solve_assignment
from electsec.config import SolverOptions
from electsec.errors import InputError, Issue
from electsec.io import _layer, read_garrisons, read_polling_centers
from electsec.result import AssignmentResult
from electsec.schema import check_request, request_schema

__all__ = ["DATA_SUFFIXES", "Request", "data_path", "read_request", "read_roads", "solve_request"]

#: File types a request may name inside the data directory: plain geodata formats only
#: (no GDAL virtual formats such as .vrt, which can point at other files, and no archives).
DATA_SUFFIXES = (
    ".geojson",
    ".json",
    ".gpkg",
    ".shp",
    ".fgb",
    ".csv",
    ".parquet",
    ".geoparquet",
    ".osm",
    ".pbf",
)
_SHAPEFILE_PARTS = (".shx", ".dbf", ".prj", ".cpg")
_NO_FILES = (
    "file paths are refused: send the layer inline as a GeoJSON FeatureCollection "
    "(the operator may allow files inside one directory with --data-dir)"
)


@dataclass(frozen=True)
class Request:
    """A validated request: the layers read, and the keyword arguments of the solve.

    Attributes
    ----------
    centers, garrisons
        Validated layers (as :func:`read_polling_centers` / :func:`read_garrisons` give).
    roads
        Road lines to plan on travel times over, or None (geodesic distances).
    options
        Keyword arguments of :func:`electsec.solve_assignment` (``solver_options`` of the
        request become ``options=SolverOptions(...)``).
    """

    centers: gpd.GeoDataFrame = field(repr=False)
    garrisons: gpd.GeoDataFrame = field(repr=False)
    roads: gpd.GeoDataFrame | None = field(repr=False)
    options: Mapping[str, Any]

    def replace(self, **changes: Any) -> Request:
        """Return a copy with some fields changed (``options`` replaced as a whole)."""
        return dataclasses.replace(self, **changes)


def read_request(request: object, *, data_dir: str | os.PathLike[str] | None = None) -> Request:
    """Validate a decoded JSON request and read its layers.

    Parameters
    ----------
    request
        The request (``json.load`` output); it is not modified.
    data_dir
        The directory files named in the request are read from; None (the default)
        refuses every file path, so layers must be inline.

    Returns
    -------
    Request

    Raises
    ------
    InputError
        Listing every problem: schema violations (unknown options named with the closest
        known ones), refused paths, and problems in the layers themselves.
    """
    issues = check_request(request)
    if issues:
        raise InputError(issues)
    assert isinstance(request, dict)  # noqa: S101 - the schema says it is an object
    layers: dict[str, Any] = {}
    for name in ("centers", "garrisons", "roads"):
        if name in request:
            try:
                layers[name] = _read_layer(name, request[name], data_dir)
            except InputError as exc:
                issues += exc.issues
    if issues:
        raise InputError(issues)
    options = _options(request.get("options") or {})
    return Request(layers["centers"], layers["garrisons"], layers.get("roads"), options)


def solve_request(request: Request, *, network: Any = None) -> AssignmentResult:
    """Solve a request: road travel times when it has roads, else geodesic distances.

    Parameters
    ----------
    request
        From :func:`read_request` (or built by the command line).
    network
        The :class:`~electsec.network.RoadNetwork` already built from ``request.roads``
        (a caller that also draws the routes builds it once); built here when None.

    Returns
    -------
    AssignmentResult

    Raises
    ------
    InputError, InfeasibleError, SolverError
        As :func:`electsec.solve_assignment` does.
    """
    options = dict(request.options)
    costs = None
    if request.roads is not None:
        costs = _road_costs(request.centers, request.garrisons, request.roads, options, network)
    return solve_assignment(request.centers, request.garrisons, costs, **options)


def data_path(path: str, data_dir: str | os.PathLike[str] | None, *, name: str) -> Path:
    """Resolve a path named in a request inside the operator's data directory.

    Parameters
    ----------
    path
        The relative path the request gives.
    data_dir
        The allowed directory, or None (every path is refused).
    name
        The request field, for messages.

    Returns
    -------
    pathlib.Path
        The real path of a regular file inside ``data_dir``.

    Raises
    ------
    InputError
        If no directory is allowed, or ``path`` is absolute, has a ``..`` part, leads out
        of the directory through a link, is missing, is not a regular file (a device, a
        FIFO, a directory) or is not a known geodata format. Messages repeat the
        request's path only, never where the directory is.
    """
    if data_dir is None:
        raise InputError([Issue("request", name, (), _NO_FILES)])
    parts = PurePosixPath(path).parts
    if os.path.isabs(path) or path.startswith("~") or ".." in parts or "\0" in path:
        message = f"{path!r}: give a path relative to the data directory, without '..'"
        raise InputError([Issue("request", name, (), message)])
    root = os.path.realpath(data_dir)
    real = os.path.realpath(os.path.join(root, path))
    _check_file(real, root, path, name)
    if real.lower().endswith(".shp"):  # GDAL also opens the parts next to it
        for part in _SHAPEFILE_PARTS:
            sidecar = os.path.splitext(real)[0] + part
            if os.path.lexists(sidecar):
                _check_file(os.path.realpath(sidecar), root, path, name)
    return Path(real)


def _check_file(real: str, root: str, shown: str, name: str) -> None:
    """Refuse a resolved path outside ``root``, missing, irregular or of an unknown type."""
    if os.path.commonpath([root, real]) != root:
        message = f"{shown!r} leads out of the data directory (through a link); refused"
        raise InputError([Issue("request", name, (), message)])
    try:
        mode = os.stat(real).st_mode
    except OSError:
        message = f"{shown!r}: no such file in the data directory"
        raise InputError([Issue("request", name, (), message)]) from None
    if not stat.S_ISREG(mode):
        message = f"{shown!r} is not a regular file (a directory, device or FIFO); refused"
        raise InputError([Issue("request", name, (), message)])
    if not real.lower().endswith(DATA_SUFFIXES + _SHAPEFILE_PARTS):
        message = f"{shown!r}: only these file types are read: {', '.join(DATA_SUFFIXES)}"
        raise InputError([Issue("request", name, (), message)])


def read_roads(source: Any, *, layer: str | int | None = None) -> gpd.GeoDataFrame:
    """Read a road layer: a file path (one layer of it) or a GeoJSON FeatureCollection.

    Parameters
    ----------
    source
        A path, or a FeatureCollection dict of LineStrings (lon/lat, RFC 7946).
    layer
        The layer of a multi-layer file; by default an ``.osm``/``.pbf`` file gives its
        ways (:func:`electsec.network.read_osm_roads`).

    Returns
    -------
    geopandas.GeoDataFrame
        The lines with their properties (``highway``, ``maxspeed_kmh``, ``oneway``).

    Raises
    ------
    InputError
        If the file cannot be read or has several layers and none is named.
    """
    if isinstance(source, Mapping):
        try:
            return gpd.GeoDataFrame.from_features(source["features"], crs="EPSG:4326")
        except (KeyError, TypeError, ValueError, AttributeError, ShapelyError) as exc:
            message = f"invalid GeoJSON road features: {exc}"
            raise InputError([Issue("roads", "geometry", (), message)]) from exc
    path = Path(source)
    if layer is None and path.suffix.lower() in (".osm", ".pbf"):
        from electsec.network import read_osm_roads  # noqa: PLC0415 - loads the road code

        return read_osm_roads(path)  # its ways (from_roads reads their other_tags)
    try:
        return gpd.read_file(path, engine="pyogrio", layer=_layer(path, "roads", layer))
    except (OSError, ValueError, RuntimeError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError([Issue("roads", None, (), f"cannot read {path.name}: {exc}")]) from exc


def _read_layer(name: str, value: Any, data_dir: str | os.PathLike[str] | None) -> Any:
    """One layer of a request: inline GeoJSON, or a file inside the data directory."""
    layer = None
    if isinstance(value, dict) and "path" in value:
        value, layer = value["path"], value.get("layer")
    if isinstance(value, str):
        value = data_path(value, data_dir, name=name)
    if name == "roads":
        return read_roads(value, layer=layer)
    reader = read_polling_centers if name == "centers" else read_garrisons
    return reader(value, layer=layer)


def _options(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Turn the request's options into keyword arguments of ``solve_assignment``."""
    integers = _integer_fields(request_schema())
    options = {key: _whole(key, value, integers) for key, value in raw.items()}
    tuning = options.pop("solver_options", None)
    if tuning is not None:
        options["options"] = SolverOptions(**tuning)
    return options


def _whole(key: str, value: Any, integers: frozenset[str]) -> Any:
    """JSON Schema counts ``3.0`` as an integer: give the library ``3`` for such fields."""
    if isinstance(value, dict):
        return {k: _whole(k, v, integers) for k, v in value.items()}
    if key in integers and isinstance(value, float):
        return int(value)
    return value


def _integer_fields(schema: Mapping[str, Any]) -> frozenset[str]:
    """Names of the option fields (at any depth) whose type includes ``integer``."""
    found: set[str] = set()
    stack = [schema["$defs"]["options"], schema["$defs"]["solver_options"]]
    while stack:
        node = stack.pop()
        for key, sub in node.get("properties", {}).items():
            kinds = sub.get("type", [])
            if "integer" in (kinds if isinstance(kinds, list) else [kinds]):
                found.add(key)
            stack.append(sub)
    return frozenset(found)


def _road_costs(
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    roads: Any,
    options: Mapping[str, Any],
    network: Any,
) -> Any:
    """Travel-time costs over ``roads``, cut at the response limit when it is one number."""
    from electsec.costs import distance_matrix  # noqa: PLC0415 - loads the road code
    from electsec.network import RoadNetwork  # noqa: PLC0415

    if network is None:
        network = RoadNetwork.from_roads(roads)
    return distance_matrix(
        centers, garrisons, metric="travel_time", network=network, max_time_s=_cut(options)
    )


def _cut(options: Mapping[str, Any]) -> float | None:
    """Return the largest time a pair may take: the response or backup limit, if numbers."""
    backup = options.get("backup")
    limits = [options.get("max_time_s")]
    if isinstance(backup, Mapping) and backup.get("max_time_s") is not None:
        limits.append(backup["max_time_s"])
    numbers = [v for v in limits if isinstance(v, int | float) and not isinstance(v, bool)]
    return max(numbers) if len(numbers) == len(limits) else None
