"""Every HTML page electsec writes draws air-gapped, with its colour legend.

Each page is opened in headless chromium whose every connection goes to a dead proxy
(:func:`helpers.render_offline`); a probe script counts what Leaflet drew (in iframes
too) and every request the page attempted. A page that needs the web draws nothing, and
its attempts are listed — the first test proves the probe sees both.
"""

import html
import json
import re
import shlex

import geopandas as gpd
import nbclient
import nbformat
import pytest

import electsec as es
from electsec.cli import main
from helpers import WEB_ASSET, chromium, needs_browser, render_offline

pytestmark = needs_browser


@pytest.fixture
def plan(tiny):
    return es.solve_assignment(*tiny)


@pytest.fixture
def basemap(repo_root):
    return gpd.read_file(repo_root / "data" / "sample" / "governorates.geojson")


def _draws_offline(drawn, *, at_least):
    assert drawn["errors"] == []
    assert drawn["requests"] == []
    assert drawn["leaflet"] == 1, "Leaflet did not run"
    assert drawn["tiles"] == 0
    assert drawn["paths"] >= at_least
    assert len(drawn["legends"]) == 1
    assert "response (km)" in drawn["legends"][0]
    assert "garrison" in drawn["legends"][0]


def test_the_probe_sees_a_page_that_needs_the_web(plan, tmp_path):
    path = tmp_path / "online.html"
    plan.explore(tiles="OpenStreetMap").save(str(path))
    drawn = render_offline(tmp_path, path)
    assert drawn["leaflet"] == 0
    assert any("leaflet" in url for url in drawn["requests"])


@pytest.mark.parametrize("with_basemap", [False, True])
def test_explore_draws_offline(plan, basemap, tmp_path, with_basemap):
    path = tmp_path / "map.html"
    plan.explore(basemap=basemap if with_basemap else None).save(str(path))
    drawn = render_offline(tmp_path, path)
    # a line per assignment, a marker per centre and per garrison (+ the outlines)
    expected = len(plan.assignments) + 40 + 6 + (len(basemap) if with_basemap else 0)
    _draws_offline(drawn, at_least=expected)


def _demo_commands(repo_root, out):
    """The ``make demo`` recipe as argument lists, writing into ``out`` instead of out/."""
    text = (repo_root / "Makefile").read_text().replace("\\\n", " ")
    recipe = text.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    commands = []
    for line in recipe.splitlines()[1:]:
        words = shlex.split(line.strip())
        assert words[0] == "$(BIN)/electsec"
        at = words.index("--out")
        words[at + 1] = str(out / words[at + 1])
        commands.append(words[1:])
    return commands


@pytest.mark.slow
def test_the_demo_map_draws_offline_and_road_plans_follow_roads(repo_root, tmp_path):
    """Both ``make demo`` commands, verbatim, on the national sample."""
    first, roads = _demo_commands(repo_root, tmp_path)
    assert main(first) == 0
    page = tmp_path / "out" / "map.html"
    assert not WEB_ASSET.search(page.read_text())
    lines = gpd.read_file(tmp_path / "out" / "plan.geojson")
    _draws_offline(render_offline(tmp_path, page), at_least=len(lines) + 8_703 + 500)
    assert main(roads) == 0
    routes = gpd.read_file(tmp_path / "out" / "roads" / "plan.geojson")
    vertices = routes.geometry.count_coordinates()
    assert (vertices > 2).mean() > 0.9  # road routes, not straight garrison-centre lines


def test_the_report_draws_offline(tiny, basemap, tmp_path):
    centers, garrisons = tiny
    with pytest.raises(es.InfeasibleError) as info:
        es.solve_assignment(centers, garrisons, split=True, max_distance_m=3_000)
    path = info.value.partial.report(
        tmp_path / "report.html",
        centers=centers,
        garrisons=garrisons,
        diagnosis=info.value.diagnosis,
        basemap=basemap,
    )
    drawn = render_offline(tmp_path, path)
    assert drawn["frames"] == 1  # the map sits in an iframe; the probe looked inside
    _draws_offline(drawn, at_least=40 + 6)


def test_the_election_report_draws_offline(tiny, tmp_path):
    centers, garrisons = tiny
    layers = {"special": centers.iloc[:10].drop(columns="phase"), "general": centers.iloc[10:]}
    election = es.plan_election(layers, garrisons, min_retained=0.5)
    drawn = render_offline(tmp_path, election.report(tmp_path / "election.html"))
    assert drawn["errors"] == []
    assert drawn["requests"] == []
    assert drawn["frames"] == 2  # one map per day, each in its iframe
    assert drawn["leaflet"] == 2
    assert drawn["tiles"] == 0
    assert drawn["paths"] >= 40 + 2 * 6
    assert len(drawn["legends"]) == 2


#: Appended to a page: after load, the width of its "Voting days" table and of the window.
_WIDTH_PROBE = """<script>window.addEventListener("load", function () {
  var table = document.querySelector("table.days"), pre = document.createElement("pre");
  pre.id = "electsec-width";
  pre.textContent = JSON.stringify({table: table.getBoundingClientRect().width,
    window: document.documentElement.clientWidth, columns: table.rows[0].cells.length});
  document.body.appendChild(pre);
});</script>"""


def test_the_voting_days_table_fits_a_printed_page(tiny, tmp_path):
    centers, garrisons = tiny
    layers = {"special": centers.iloc[:10].drop(columns="phase"), "general": centers.iloc[10:]}
    election = es.plan_election(layers, garrisons, min_retained=0.5)
    page = election.report(tmp_path / "election.html")
    probe = tmp_path / "width.html"
    probe.write_text(page.read_text().replace("</body>", _WIDTH_PROBE + "</body>"))
    # an A4 page is 794 CSS px wide at 96 dpi
    dom = chromium(tmp_path, probe.as_uri(), "--dump-dom", "--window-size=794,1123").stdout
    found = re.search(r'<pre id="electsec-width">(.*?)</pre>', dom, flags=re.DOTALL)
    assert found, dom[-500:]
    width = json.loads(html.unescape(found.group(1)))
    assert width["columns"] == 3  # the figures' labels and one column per day
    assert 0 < width["table"] <= width["window"] <= 794


def _exported(nb, path):
    """The notebook as a static page, its outputs' HTML as nbconvert's export keeps it."""
    cells = [
        output["data"]["text/html"]
        for cell in nb.cells
        for output in cell.get("outputs", [])
        if "text/html" in output.get("data", {})
    ]
    body = "\n".join(f"<div class='output_html'>{html}</div>" for html in cells)
    path.write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{body}</body></html>"
    )
    return path


def test_a_notebook_export_of_explore_draws_offline(repo_root, tmp_path):
    """Run ``plan.explore()`` in a real kernel; its saved output draws with no network."""
    code = (
        "import electsec as es\n"
        "plan = es.solve_assignment('data/sample/tiny_centers.geojson',\n"
        "                           'data/sample/tiny_garrisons.geojson')\n"
        "plan.explore()"
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(repo_root)}}
    )
    client.execute()
    drawn = render_offline(tmp_path, _exported(nb, tmp_path / "notebook.html"))
    assert drawn["frames"] == 1  # Jupyter shows a folium map in an iframe
    _draws_offline(drawn, at_least=40 + 6)
