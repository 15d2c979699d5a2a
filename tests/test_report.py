"""The HTML report and offline maps render in a real headless browser with no network.

Chromium runs with every connection sent to a dead proxy, so a page that needs anything
from the web shows nothing. CI installs Debian's chromium and sets
ELECTSEC_REQUIRE_BROWSER=1, which turns a missing browser into a failure, not a skip.
"""

import re

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import pytest

import electsec as es
from helpers import WEB_ASSET, needs_browser
from helpers import chromium as _chromium

mpl.use("Agg")


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


def test_report_header_says_infeasible_over_uncovered_centres(report_path, short_plan):
    page = report_path.read_text()
    partial = short_plan.partial
    assert partial.status == "optimal"  # the solver's word for the partial plan...
    header = page.split("<h2>Key figures</h2>")[0]
    assert "INFEASIBLE" in header  # ...but the page leads with the coverage
    assert f"{len(partial.uncovered)} centre(s) uncovered" in header
    assert "status optimal" not in header


def test_report_of_a_complete_plan_says_so(tiny, tmp_path):
    page = es.solve_assignment(*tiny).report(tmp_path / "r.html").read_text()
    assert "every centre has its teams" in page.split("<h2>Key figures</h2>")[0]
    assert "INFEASIBLE" not in page


def test_report_states_every_limit_and_option(tiny, tmp_path):
    centers, garrisons = tiny
    centers = centers.assign(agency="police")
    garrisons = garrisons.assign(agency="police", reserve=1)
    plan = es.solve_assignment(
        centers,
        garrisons,
        split=True,
        max_distance_m={"high": 3_000, "low": 20_000},
        coverage="max",
        time_limit_s=30,
        seed=7,
        jurisdiction={"police": ["Baghdad"]},
        backup={"max_distance_m": 50_000, "centers_per_team": 20},
    )
    page = plan.report(tmp_path / "r.html").read_text()
    planned = page.split("<h2>Planned under</h2>")[1].split("<h2>")[0]
    for option in plan.parameters:
        assert f"<th>{option}</th>" in planned
    for shown in ("high: 3 km; low: 20 km", "30 s", "police: Baghdad", "max_distance_m: 50 km"):
        assert shown in planned
    assert "PARTIAL" in page.split("<h2>Key figures</h2>")[0]
