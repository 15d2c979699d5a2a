"""Generic test helpers: random instances and exact geodesics (no electsec internals)."""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest

#: The WGS84 ellipsoid, exactly as a planner's GIS would measure distances.
GEOD = pyproj.Geod(ellps="WGS84")

#: A box around Iraq: lon 43–46, lat 31–35.
IRAQ_BOX = (43.0, 46.0, 31.0, 35.0)


def make_instance(
    rng: np.random.Generator,
    n: int,
    m: int,
    *,
    demand_max: int = 4,
    demand_min: int = 0,
    capacity_ratio: float = 1.3,
    box: tuple[float, float, float, float] = IRAQ_BOX,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Draw a random instance: ``n`` centres and ``m`` garrisons in ``box``.

    Demands are uniform integers in ``[demand_min, demand_max]``. The total capacity is
    ``round(capacity_ratio × total demand)`` (at least 1), split among the garrisons with
    random weights, so some garrisons may get 0 and a ratio below 1 gives an infeasible
    instance. Returns raw GeoDataFrames (ids in ``center_id`` / ``garrison_id`` columns,
    EPSG:4326), as a caller would pass them.
    """
    lon0, lon1, lat0, lat1 = box
    demand = rng.integers(demand_min, demand_max + 1, size=n).astype(np.int64)
    total = max(1, round(capacity_ratio * int(demand.sum())))
    weights = rng.dirichlet(np.ones(m))
    capacity = rng.multinomial(total, weights).astype(np.int64)
    centers = points_frame(
        "center_id",
        [f"c{i}" for i in range(n)],
        "demand",
        demand,
        rng.uniform(lon0, lon1, n),
        rng.uniform(lat0, lat1, n),
    )
    garrisons = points_frame(
        "garrison_id",
        [f"g{j}" for j in range(m)],
        "capacity",
        capacity,
        rng.uniform(lon0, lon1, m),
        rng.uniform(lat0, lat1, m),
    )
    return centers, garrisons


def points_frame(
    id_col: str,
    ids: list[str],
    value_col: str,
    values: np.ndarray | list[int],
    lon: np.ndarray | list[float],
    lat: np.ndarray | list[float],
) -> gpd.GeoDataFrame:
    """A raw point layer in EPSG:4326 with an id column and an integer value column."""
    return gpd.GeoDataFrame(
        {id_col: list(ids), value_col: np.asarray(values, dtype=np.int64)},
        geometry=gpd.points_from_xy(np.asarray(lon, float), np.asarray(lat, float)),
        crs="EPSG:4326",
    )


def layer_arrays(
    layer: gpd.GeoDataFrame, id_col: str, value_col: str
) -> tuple[pd.Index, np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(ids, values, lon, lat)`` of a raw or reader-normalised layer.

    Accepts both an id column (raw layer) and an id index (what the readers return).
    Coordinates are transformed to EPSG:4326 here, independently of the library.
    """
    frame = layer.set_index(id_col) if id_col in layer.columns else layer
    ids = pd.Index(frame.index.astype(str))
    geom = frame.geometry
    if not geom.crs.equals(pyproj.CRS("EPSG:4326")):
        geom = geom.to_crs("EPSG:4326")
    values = frame[value_col].to_numpy(np.int64)
    return ids, values, geom.x.to_numpy(float), geom.y.to_numpy(float)


def geodesic_m(
    lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray
) -> np.ndarray:
    """WGS84 geodesic distance in metres between paired points (pyproj, exact)."""
    _, _, dist = GEOD.inv(
        np.asarray(lon1, float),
        np.asarray(lat1, float),
        np.asarray(lon2, float),
        np.asarray(lat2, float),
    )
    return np.asarray(dist, dtype=float)


def dense_distances(
    centers: gpd.GeoDataFrame, garrisons: gpd.GeoDataFrame
) -> tuple[pd.Index, np.ndarray, pd.Index, np.ndarray, np.ndarray]:
    """Return ``(center_ids, demand, garrison_ids, capacity, D)`` with D the n × m geodesics."""
    c_ids, demand, c_lon, c_lat = layer_arrays(centers, "center_id", "demand")
    g_ids, capacity, g_lon, g_lat = layer_arrays(garrisons, "garrison_id", "capacity")
    n, m = len(c_ids), len(g_ids)
    dist = geodesic_m(
        np.repeat(c_lon, m), np.repeat(c_lat, m), np.tile(g_lon, n), np.tile(g_lat, n)
    ).reshape(n, m)
    return c_ids, demand, g_ids, capacity, dist


def offset(lon: float, lat: float, azimuth_deg: float, distance_m: float) -> tuple[float, float]:
    """The point ``distance_m`` metres from (lon, lat) along ``azimuth_deg`` (geodesic)."""
    lon2, lat2, _ = GEOD.fwd(lon, lat, azimuth_deg, distance_m)
    return float(lon2), float(lat2)


class SlowClock:
    """A stand-in for the ``time`` module whose every reading is an hour after the last.

    Patched into :mod:`electsec.solvers.flow`, it makes any further pricing round look
    too long for ``time_limit_s``, so the early stop with a proven bound can be tested
    deterministically.
    """

    def __init__(self) -> None:
        import time

        self.now = time.perf_counter()

    def perf_counter(self) -> float:
        self.now += 3600.0
        return self.now


# -- pages in a headless browser with the network cut ------------------------------------

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
#: Skips without chromium, unless ELECTSEC_REQUIRE_BROWSER is set (CI): then it fails.
needs_browser = pytest.mark.skipif(
    BROWSER is None and not os.environ.get("ELECTSEC_REQUIRE_BROWSER"),
    reason="no chromium on this machine (CI installs it)",
)
#: A script, stylesheet, image or link that points at the web.
WEB_ASSET = re.compile(r"""(?:src|href)\s*=\s*["']https?://""")


def chromium(tmp_path: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """Open ``url`` in headless chromium whose every connection goes to a dead proxy."""
    assert BROWSER is not None, "ELECTSEC_REQUIRE_BROWSER is set but chromium is missing"
    args = [
        BROWSER,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        "--virtual-time-budget=10000",
        *extra,
        url,
    ]
    return subprocess.run(args, capture_output=True, text=True, timeout=180, check=False)  # noqa: S603


#: Put first in a page's <head>: records script errors, then (after load) what each frame
#: (iframes included) drew and every request it attempted, into <pre id="electsec-probe">.
_PROBE = """<script>
window.__probe_errors = [];
window.addEventListener("error", function (e) { window.__probe_errors.push(String(e.message)); });
window.addEventListener("load", function () { setTimeout(function () {
  var out = {requests: [], leaflet: 0, paths: 0, markers: 0, tiles: 0, legends: [],
             frames: 0, errors: window.__probe_errors};
  function walk(doc) {
    doc.defaultView.performance.getEntriesByType("resource").forEach(function (e) {
      if (!/^(data|blob|file|about):/i.test(e.name)) { out.requests.push(e.name); }
    });
    out.leaflet += doc.querySelectorAll(".leaflet-container").length;
    out.paths += doc.querySelectorAll(".leaflet-overlay-pane path").length;
    out.markers += doc.querySelectorAll(".leaflet-marker-icon").length;
    out.tiles += doc.querySelectorAll(".leaflet-tile").length;
    doc.querySelectorAll(".electsec-legend").forEach(function (n) {
      out.legends.push(n.textContent);
    });
    doc.querySelectorAll("iframe").forEach(function (f) {
      out.frames += 1;
      try { walk(f.contentDocument); } catch (err) { out.errors.push(String(err)); }
    });
  }
  walk(document);
  var pre = document.createElement("pre");
  pre.id = "electsec-probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}, 3000); });
</script>"""


def render_offline(tmp_path: Path, page: Path) -> dict[str, Any]:
    """Open a copy of ``page`` with no network and return what it drew.

    Returns a dict: ``leaflet`` (map containers Leaflet built), ``paths`` (SVG lines and
    circle markers drawn), ``markers``, ``tiles``, ``legends`` (texts of the electsec
    legends), ``frames``, ``errors`` (script errors) and ``requests`` (every URL the page
    or its frames tried to fetch other than data:/file: ones — all fail here).
    """
    text = page.read_text(encoding="utf-8")
    head = re.search(r"<head[^>]*>", text, flags=re.IGNORECASE)
    at = head.end() if head else 0
    probe = page.with_name(f"probe-{page.name}")
    probe.write_text(text[:at] + _PROBE + text[at:], encoding="utf-8")
    dom = chromium(tmp_path, probe.as_uri(), "--dump-dom").stdout
    found = re.search(r'<pre id="electsec-probe">(.*?)</pre>', dom, flags=re.DOTALL)
    assert found, f"the page never finished loading: {dom[-500:]}"
    result: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return result


@contextlib.contextmanager
def local_cluster(n_workers: int = 2) -> Iterator[tuple[Any, Any]]:
    """A Dask ``LocalCluster`` of worker processes and its ``Client``, on free ports only.

    Its scheduler's HTTP server takes a random port and serves no dashboard: the default
    8787 may be taken (another suite on the machine), and the warning Dask gives then is
    an error under this suite's ``filterwarnings = error``.
    """
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            scheduler_kwargs={"dashboard": False},
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield cluster, client
