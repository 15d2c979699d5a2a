"""Road layers as drivers see them: drivable classes, OpenStreetMap tags, junctions.

:class:`electsec.network.RoadNetwork` builds its graph from what this module makes of a
layer of road lines:

* **which lines are roads**: with a ``highway`` column, only the classes of the speed table
  (:data:`DEFAULT_SPEEDS_KMH`, overridable) are kept; footways, paths, cycleways, steps,
  pedestrian areas and lines with no ``highway`` value (waterways, railways, barriers) are
  dropped and counted in a :class:`RoadBuildReport`;
* **their tags**: ``oneway``, ``maxspeed``, ``bridge``, ``tunnel``, ``layer`` and
  ``junction`` come from columns of those names or, when absent, from the ``other_tags``
  hstore string that GDAL's OSM driver writes (``"oneway"=>"yes","maxspeed"=>"50"``);
* **where they meet**: lines are split at every vertex they share with another line (or
  with another line's end point), as OpenStreetMap ways meet at shared nodes; optionally
  also at true geometric crossings, except where a bridge or tunnel is involved or the two
  lines lie on different ``layer`` values.

Everything is vectorised with numpy and shapely: no Python loop runs per line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = [
    "DEFAULT_SPEEDS_KMH",
    "FALLBACK_SPEED_KMH",
    "RoadBuildReport",
    "maxspeed_kmh",
    "osm_tags",
]

logger = logging.getLogger(__name__)

#: Speeds (km/h) per drivable OSM ``highway`` class: a road without a usable speed of its
#: own is driven at its class's speed, and with ``drivable_only=True`` (the default) a line
#: whose class is not a key here is dropped. ``track`` is kept (in rural Iraq many villages
#: are reached only by tracks, and security teams drive 4×4 pick-ups); footway, path,
#: cycleway, bridleway, pedestrian, steps, corridor, construction, proposed, platform and
#: busway are not roads for a team's vehicle. Pass your own table as
#: ``highway_speeds_kmh=`` (e.g. ``{**DEFAULT_SPEEDS_KMH, "track": 10.0}``).
DEFAULT_SPEEDS_KMH: Mapping[str, float] = MappingProxyType(
    {
        "motorway": 100.0,
        "trunk": 80.0,
        "primary": 70.0,
        "secondary": 60.0,
        "tertiary": 50.0,
        "unclassified": 40.0,
        "road": 40.0,
        "residential": 30.0,
        "living_street": 10.0,
        "service": 20.0,
        "motorway_link": 60.0,
        "trunk_link": 50.0,
        "primary_link": 40.0,
        "secondary_link": 40.0,
        "tertiary_link": 30.0,
        "track": 20.0,
    }
)
#: Speed (km/h) of a kept road whose class is unknown and that has no speed of its own.
FALLBACK_SPEED_KMH = 30.0
#: Tags read from columns, or from ``other_tags`` when the column is absent.
OSM_TAGS = ("oneway", "maxspeed", "bridge", "tunnel", "layer", "junction")
#: The dropped-lines key of lines with no ``highway`` value.
NO_HIGHWAY = "(no highway tag)"
_ONEWAY_FORWARD = frozenset({"yes", "true", "1", "t", "y"})
_ONEWAY_REVERSE = frozenset({"-1", "reverse"})
_NOT_A_STRUCTURE = frozenset({"", "no", "false", "0", "nan", "none"})
_MAXSPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph)?", re.IGNORECASE)


@dataclass(frozen=True)
class RoadBuildReport:
    """What :meth:`RoadNetwork.from_roads` (or ``from_osm``/``from_osmnx``) made of its input.

    Attributes
    ----------
    lines
        Lines (or graph edges) read, after splitting MultiLineStrings.
    kept
        Lines kept as roads.
    dropped
        Lines dropped, per ``highway`` class (``"(no highway tag)"`` for waterways,
        railways, barriers and anything else without one).
    fallback_speed
        Kept lines with neither a speed nor a class in the speed table, driven at
        :data:`FALLBACK_SPEED_KMH`.
    interior_junctions
        Junctions made at a vertex inside a line (not at an end point).
    crossings_joined
        True crossings joined (``node_crossings=True`` only).
    crossings_left
        Crossings left unjoined because a bridge, a tunnel or differing ``layer`` values
        separate the two roads (``node_crossings=True`` only).
    """

    lines: int
    kept: int
    dropped: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    fallback_speed: int = 0
    interior_junctions: int = 0
    crossings_joined: int = 0
    crossings_left: int = 0

    @property
    def n_dropped(self) -> int:
        """Lines dropped in all."""
        return int(sum(self.dropped.values()))

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data."""
        return {
            "lines": self.lines,
            "kept": self.kept,
            "dropped": dict(self.dropped),
            "fallback_speed": self.fallback_speed,
            "interior_junctions": self.interior_junctions,
            "crossings_joined": self.crossings_joined,
            "crossings_left": self.crossings_left,
        }


@dataclass(frozen=True)
class _Lines:
    """Kept road lines and what the graph needs of each (arrays aligned with ``geometry``)."""

    geometry: np.ndarray
    speed_kmh: np.ndarray
    forward: np.ndarray
    backward: np.ndarray
    level: np.ndarray  # OSM ``layer`` (0 when absent)
    structure: np.ndarray  # a bridge or a tunnel: never joined at a crossing


@dataclass(frozen=True)
class _Noded:
    """Lines split at their junctions: one piece per graph edge."""

    node_coords: np.ndarray  # (N, 2) in the input CRS
    piece_coords: np.ndarray  # (P, 2) vertices of all pieces, in order
    piece_of: np.ndarray  # piece index of each vertex
    piece_line: np.ndarray  # the line each piece comes from
    tail: np.ndarray
    head: np.ndarray
    interior_junctions: int


# -- tags ------------------------------------------------------------------------------------


def osm_tags(
    roads: pd.DataFrame,
    names: tuple[str, ...] = OSM_TAGS,
    *,
    columns: Mapping[str, str | None] | None = None,
) -> pd.DataFrame:
    """Tag values per line: from a column of that name, else from ``other_tags``.

    Parameters
    ----------
    roads
        Road lines; ``other_tags`` is the hstore string of GDAL's OSM driver.
    names
        Tags to read.
    columns
        Column to read a tag from instead of its own name (None: never read that tag).

    Returns
    -------
    pandas.DataFrame
        One column per tag (object dtype, None where the line has no such tag), indexed
        like ``roads``.
    """
    out = pd.DataFrame(index=roads.index)
    hstore = roads["other_tags"] if "other_tags" in roads.columns else None
    for name in names:
        col = (columns or {}).get(name, name)
        if col is not None and col in roads.columns:
            out[name] = roads[col].astype(object).where(roads[col].notna(), None)
        elif col is not None and hstore is not None:
            pattern = rf'(?:^|,)"{re.escape(name)}"=>"((?:[^"\\]|\\.)*)"'
            found = hstore.astype("string").str.extract(pattern, expand=False)
            out[name] = found.astype(object).where(found.notna(), None)
        else:
            out[name] = pd.Series(None, index=roads.index, dtype=object)
    return out


def _factorize(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Return codes (-1 = missing) and distinct values; a list stands for its first item."""
    array = values.to_numpy(dtype=object)
    try:
        codes, uniques = pd.factorize(array)
    except TypeError:  # lists (osmnx merges edges): take their first item
        array = np.array([v[0] if isinstance(v, list) and v else v for v in array], dtype=object)
        codes, uniques = pd.factorize(array)
    return codes, np.asarray(uniques, dtype=object)


def _lower(values: pd.Series) -> np.ndarray:
    """Return the stripped lower-case text of each value ('' when missing), once per value."""
    codes, uniques = _factorize(values)
    text = np.array([str(u).strip().lower() for u in uniques] + [""], dtype=object)
    out: np.ndarray = text[codes]
    return out


def maxspeed_kmh(values: pd.Series) -> np.ndarray:
    """Read OSM ``maxspeed`` values (``"50"``, ``"30 mph"``, ``"60;80"``) as km/h.

    Parameters
    ----------
    values
        Raw ``maxspeed`` values (numbers are taken as km/h; lists give their first).

    Returns
    -------
    numpy.ndarray
        Speeds in km/h, NaN where the value is absent, not a number or not positive.
    """
    codes, uniques = _factorize(values)
    speed = np.full(len(uniques) + 1, np.nan)
    for k, value in enumerate(uniques):
        found = _MAXSPEED.match(str(value))
        if found is not None:
            speed[k] = float(found.group(1)) * (1.609344 if found.group(2) else 1.0)
    speed[~(speed > 0)] = np.nan
    out: np.ndarray = speed[codes]
    return out


def _first(values: pd.Series) -> pd.Series:
    """Take the first class of list values (osmnx merges edges); None for missing ones."""
    codes, uniques = _factorize(values)
    classes = np.concatenate([uniques, np.array([None], dtype=object)])[codes]
    return pd.Series(classes, index=values.index, dtype=object)


def _flags(tags: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return drivable directions (along the drawing, against it); roundabouts are one-way."""
    text = _lower(tags["oneway"])
    roundabout = _lower(tags["junction"]) == "roundabout"
    is_forward = np.isin(text, list(_ONEWAY_FORWARD)) | (roundabout & (text == ""))
    is_reverse = np.isin(text, list(_ONEWAY_REVERSE))
    return ~is_reverse, ~is_forward


def _levels(tags: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return OSM ``layer`` (0 when absent or unreadable) and whether a line is a structure."""
    level = pd.to_numeric(tags["layer"], errors="coerce").fillna(0).to_numpy(float)
    structure = np.zeros(len(tags), dtype=bool)
    for name in ("bridge", "tunnel"):
        structure |= ~np.isin(_lower(tags[name]), list(_NOT_A_STRUCTURE))
    return level.astype(np.int64), structure


# -- which lines are roads ---------------------------------------------------------------------


def _select(
    roads: gpd.GeoDataFrame,
    *,
    speed_col: str | None,
    highway_col: str | None,
    oneway_col: str | None,
    table: Mapping[str, float],
    drivable_only: bool,
) -> tuple[_Lines, dict[str, int], int]:
    """Kept lines with their speeds and flags; dropped counts; fallback-speed count."""
    tags = osm_tags(roads, columns={"oneway": oneway_col})
    has_class = highway_col is not None and highway_col in roads.columns
    classes = _first(roads[highway_col]) if has_class else pd.Series(None, index=roads.index)
    known = classes.isin(list(table)).to_numpy(bool)
    keep = known if (has_class and drivable_only) else np.ones(len(roads), dtype=bool)
    dropped = classes[~keep].fillna(NO_HIGHWAY).value_counts()
    speed = np.full(len(roads), np.nan)
    if speed_col is not None and speed_col in roads.columns:
        speed = pd.to_numeric(roads[speed_col], errors="coerce").to_numpy(float, copy=True)
    speed[~(speed > 0)] = np.nan
    speed = np.where(np.isnan(speed), maxspeed_kmh(tags["maxspeed"]), speed)
    by_class = classes.map(dict(table)).to_numpy(float)
    fallback = np.isnan(speed) & np.isnan(by_class)
    speed = np.where(np.isnan(speed), by_class, speed)
    speed[np.isnan(speed)] = FALLBACK_SPEED_KMH
    forward, backward = _flags(tags)
    level, structure = _levels(tags)
    lines = _Lines(
        np.asarray(roads.geometry.to_numpy(), dtype=object)[keep],
        speed[keep],
        forward[keep],
        backward[keep],
        level[keep],
        structure[keep],
    )
    counts = {str(k): int(v) for k, v in dropped.items()}
    return lines, counts, int((fallback & keep).sum())


def select_roads(
    roads: gpd.GeoDataFrame,
    *,
    speed_col: str | None,
    highway_col: str | None,
    oneway_col: str | None,
    highway_speeds_kmh: Mapping[str, float] | None,
    drivable_only: bool,
) -> tuple[_Lines, RoadBuildReport]:
    """Explode, drop empty and undrivable lines, read speeds and tags (see the module)."""
    roads = roads[~roads.geometry.is_empty].explode(index_parts=False)
    table = DEFAULT_SPEEDS_KMH if highway_speeds_kmh is None else highway_speeds_kmh
    lines, dropped, fallback = _select(
        roads,
        speed_col=speed_col,
        highway_col=highway_col,
        oneway_col=oneway_col,
        table=table,
        drivable_only=drivable_only,
    )
    report = RoadBuildReport(
        lines=len(roads),
        kept=len(lines.geometry),
        dropped=MappingProxyType(dict(sorted(dropped.items(), key=lambda kv: (-kv[1], kv[0])))),
        fallback_speed=fallback,
    )
    return lines, report


def log_report(report: RoadBuildReport, *, what: str = "road lines") -> None:
    """Warn about dropped lines and fallback speeds (a planner should know)."""
    if report.dropped:
        shown = ", ".join(f"{k} {v}" for k, v in report.dropped.items())
        logger.warning(
            "dropped %d of %d %s that are not drivable (%s); pass drivable_only=False to "
            "keep them, or highway_speeds_kmh= with the classes to drive",
            report.n_dropped,
            report.lines,
            what,
            shown,
        )
    if report.fallback_speed:
        logger.warning(
            "%d %s have no speed and no class in the speed table: driven at %g km/h",
            report.fallback_speed,
            what,
            FALLBACK_SPEED_KMH,
        )


# -- where lines meet --------------------------------------------------------------------------


def _dedupe(coords: np.ndarray, line: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop repeated consecutive vertices and lines left with fewer than two."""
    keep = np.ones(len(coords), dtype=bool)
    keep[1:] = (line[1:] != line[:-1]) | np.any(coords[1:] != coords[:-1], axis=1)
    coords, line = coords[keep], line[keep]
    count = np.bincount(line, minlength=int(line.max()) + 1 if len(line) else 0)
    good = count[line] >= 2
    return coords[good], line[good]


def _vertex_ids(coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return unique coordinates and each vertex's index into them (exact equality)."""
    flat = np.ascontiguousarray(coords, dtype=np.float64).view(np.complex128).ravel()
    uniq, inverse = np.unique(flat, return_inverse=True)
    return np.column_stack([uniq.real, uniq.imag]), inverse.ravel()


def node_lines(coords: np.ndarray, line: np.ndarray) -> _Noded:
    """Split lines at their ends and at every vertex that occurs more than once.

    A vertex occurring twice is shared by two lines (an OSM junction, or one line's end on
    another's interior) or closes a loop of one line; either way a driver can turn there.
    """
    coords, line = _dedupe(coords, line)
    uniq, vid = _vertex_ids(coords)
    first = np.ones(len(line), dtype=bool)
    first[1:] = line[1:] != line[:-1]
    last = np.ones(len(line), dtype=bool)
    last[:-1] = line[1:] != line[:-1]
    occurs = np.bincount(vid, minlength=len(uniq))
    is_node = first | last | (occurs[vid] >= 2)
    interior = is_node & ~first & ~last
    rep = 1 + interior.astype(np.int64)
    idx = np.repeat(np.arange(len(line)), rep)
    pos = np.cumsum(rep) - rep
    start = np.zeros(len(idx), dtype=bool)
    start[pos[first]] = True
    start[pos[interior] + 1] = True
    piece = np.cumsum(start) - 1
    starts = np.flatnonzero(start)
    ends = np.append(starts[1:] - 1, len(idx) - 1)
    node_vid = np.unique(vid[is_node])
    remap = np.full(len(uniq), -1, dtype=np.int64)
    remap[node_vid] = np.arange(len(node_vid))
    return _Noded(
        node_coords=uniq[node_vid],
        piece_coords=coords[idx],
        piece_of=piece,
        piece_line=line[idx[starts]],
        tail=remap[vid[idx[starts]]],
        head=remap[vid[idx[ends]]],
        interior_junctions=len(np.unique(vid[interior])),
    )


def crossing_vertices(
    lines: _Lines, coords: np.ndarray, line: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Insert the points where lines cross or touch (same layer, no bridge/tunnel).

    Returns
    -------
    coords, line
        The vertices with the crossing points inserted in order along both lines.
    joined, left
        Crossings joined, and crossings left apart by a bridge, tunnel or layer.
    """
    geom = lines.geometry
    tree = shapely.STRtree(geom)
    i, j = tree.query(geom, predicate="intersects")
    pair = i < j
    i, j = i[pair], j[pair]
    points = shapely.intersection(geom[i], geom[j])
    parts, owner = shapely.get_parts(points, return_index=True)
    is_point = shapely.get_type_id(parts) == 0
    parts, owner = parts[is_point], owner[is_point]
    a, b = i[owner], j[owner]
    ok = (lines.level[a] == lines.level[b]) & ~lines.structure[a] & ~lines.structure[b]
    xy = shapely.get_coordinates(parts)
    shared = _is_vertex(coords, line, xy, a) & _is_vertex(coords, line, xy, b)
    left = int((~ok & ~shared).sum())
    joined = int((ok & ~shared).sum())
    parts, a, b = parts[ok], a[ok], b[ok]
    at = np.concatenate([a, b])
    pts = np.concatenate([parts, parts])
    new_coords = shapely.get_coordinates(pts)
    new_along = shapely.line_locate_point(geom[at], pts)
    along = _along(coords, line)
    all_line = np.concatenate([line, at])
    all_along = np.concatenate([along, new_along])
    # Existing vertices sort before an inserted point at the same position (then deduped).
    kind = np.concatenate([np.zeros(len(line)), np.ones(len(at))])
    order = np.lexsort((kind, all_along, all_line))
    return np.concatenate([coords, new_coords])[order], all_line[order], joined, left


def _is_vertex(
    coords: np.ndarray, line: np.ndarray, xy: np.ndarray, owner: np.ndarray
) -> np.ndarray:
    """Whether each point ``xy[k]`` is already a vertex of line ``owner[k]``."""
    flat = np.ascontiguousarray(coords, dtype=np.float64).view(np.complex128).ravel()
    pflat = np.ascontiguousarray(xy, dtype=np.float64).view(np.complex128).ravel()
    uniq, inverse = np.unique(np.concatenate([flat, pflat]), return_inverse=True)
    inverse = inverse.ravel()
    size = np.int64(len(uniq))
    vertex_key = line.astype(np.int64) * size + inverse[: len(flat)]
    point_key = owner.astype(np.int64) * size + inverse[len(flat) :]
    return np.isin(point_key, vertex_key)


def _along(coords: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Planar distance of each vertex from the start of its line."""
    step = np.zeros(len(line))
    if len(line) > 1:
        same = line[1:] == line[:-1]
        step[1:] = np.where(same, np.hypot(*(coords[1:] - coords[:-1]).T), 0.0)
    total = np.cumsum(step)
    first = np.ones(len(line), dtype=bool)
    first[1:] = line[1:] != line[:-1]
    offset = total[first][np.cumsum(first) - 1]
    along: np.ndarray = total - offset
    return along
