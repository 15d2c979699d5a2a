"""The HTML report and offline maps render in a real headless browser with no network.

Chromium runs with every connection sent to a dead proxy, so a page that needs anything
from the web shows nothing. CI installs Debian's chromium and sets
ELECTSEC_REQUIRE_BROWSER=1, which turns a missing browser into a failure, not a skip.
"""

import os
import re
import shutil
import subprocess

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import pytest

import electsec as es

mpl.use("Agg")

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
needs_browser = pytest.mark.skipif(
    BROWSER is None and not os.environ.get("ELECTSEC_REQUIRE_BROWSER"),
    reason="no chromium on this machine (CI installs it)",
)
WEB_ASSET = re.compile(r"""(?:src|href)\s*=\s*["']https?://""")


def _chromium(tmp_path, url, *extra):
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
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603


@pytest.fixture
def basemap(repo_root):
    return gpd.read_file(repo_root / "data" / "sample" / "governorates.geojson")


@pytest.fixture
def short_plan(tiny):
    with pytest.raises(es.InfeasibleError) as info:
        es.solve_assignment(*tiny, split=True, max_distance_m=3_000)
    return info.value


@needs_browser
def test_the_browser_check_fails_for_a_page_that_needs_the_web(tiny, tmp_path):
    plan = es.solve_assignment(*tiny)
    path = tmp_path / "online.html"
    plan.explore(offline=False).save(str(path))  # Leaflet from a CDN: blank without network
    dom = _chromium(tmp_path, path.as_uri(), "--dump-dom").stdout
    assert not re.search(r'class="[^"]*leaflet-container', dom)


@pytest.fixture
def report_path(tiny, short_plan, tmp_path, basemap):
    """The report of the tiny sample's partial plan, with its diagnosis and basemap."""
    centers, garrisons = tiny
    return short_plan.partial.report(
        tmp_path / "report.html",
        centers=centers,
        garrisons=garrisons,
        diagnosis=short_plan.diagnosis,
        basemap=basemap,
    )


def test_offline_map_needs_no_web_asset(tiny, tmp_path, basemap):
    plan = es.solve_assignment(*tiny)
    path = tmp_path / "map.html"
    plan.explore(offline=True, basemap=basemap).save(str(path))
    assert not WEB_ASSET.search(path.read_text())


def test_report_is_one_self_contained_file(report_path):
    path = report_path
    page = path.read_text()
    assert not WEB_ASSET.search(page)
    for heading in (
        "Key figures",
        "Map",
        "By governorate",
        "By agency",
        "Uncovered centres",
        "Diagnosis",
        "Blocking regions",
    ):
        assert heading in page


@needs_browser
def test_offline_map_renders_in_a_browser_without_network(tiny, tmp_path, basemap):
    plan = es.solve_assignment(*tiny)
    path = tmp_path / "map.html"
    plan.explore(offline=True, basemap=basemap).save(str(path))
    dom = _chromium(tmp_path, path.as_uri(), "--dump-dom").stdout
    # Class names Leaflet adds at run time (folium's own CSS merely mentions them).
    assert re.search(r'class="[^"]*leaflet-container', dom), "Leaflet did not run"
    assert re.search(r'class="[^"]*leaflet-control-layers', dom)
    assert dom.count("<path") >= len(plan.assignments)  # lines and markers were drawn


@needs_browser
def test_the_cli_map_renders_offline_by_default_with_a_legend(repo_root, tmp_path):
    """The map `make demo` writes (electsec plan ... --out) needs no network."""
    from electsec.cli import main

    sample = repo_root / "data" / "sample"
    out = tmp_path / "out"
    args = ["plan", str(sample / "tiny_centers.geojson"), str(sample / "tiny_garrisons.geojson")]
    assert main([*args, "--out", str(out)]) == 0
    page = (out / "map.html").read_text()
    assert not WEB_ASSET.search(page)
    assert "electsec-legend" in page
    dom = _chromium(tmp_path, (out / "map.html").as_uri(), "--dump-dom").stdout
    assert re.search(r'class="[^"]*leaflet-container', dom), "Leaflet did not run"
    assert "response (km)" in dom


def test_web_tiles_are_opt_in(tiny):
    plan = es.solve_assignment(*tiny)
    assert not WEB_ASSET.search(plan.explore().get_root().render())
    online = plan.explore(tiles="OpenStreetMap").get_root().render()
    assert "tile.openstreetmap.org" in online
    with pytest.raises(es.InputError, match="tiles"):
        plan.explore(tiles="OpenStreetMap", offline=True)


@needs_browser
def test_report_renders_in_a_browser_without_network(report_path, tmp_path):
    path = report_path
    shot = tmp_path / "report.png"
    result = _chromium(tmp_path, path.as_uri(), "--window-size=1200,1600", f"--screenshot={shot}")
    assert shot.exists(), result.stderr[-2000:]
    pixels = mpl.image.imread(shot)
    assert pixels.shape[0] >= 1000
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 200  # not blank
