"""Maps and charts render (folium and matplotlib, loaded lazily)."""

import html

import matplotlib as mpl
import pytest

import electsec as es
from electsec.plot import charts

mpl.use("Agg")


@pytest.fixture
def tiny_plan(tiny):
    return es.solve_assignment(*tiny)


def test_explore_has_every_layer(tiny_plan, tmp_path):
    fmap = tiny_plan.explore()
    path = tmp_path / "map.html"
    fmap.save(str(path))
    html = path.read_text()
    for layer in ("assignments", "centres", "garrisons"):
        assert layer in html


def test_explore_shows_uncovered_centres(tiny):
    with pytest.raises(es.InfeasibleError) as info:
        es.solve_assignment(*tiny, split=True, max_distance_m=2_000)
    html = info.value.partial.explore(tiles=None).get_root().render()
    assert "uncovered centres" in html


def test_static_plot_and_charts(tiny, tiny_plan, tmp_path):
    ax = tiny_plan.plot()
    ax.figure.savefig(tmp_path / "plan.png")
    fig = charts(tiny_plan, tiny[0])
    fig.savefig(tmp_path / "charts.png")
    assert (tmp_path / "plan.png").stat().st_size > 10_000
    assert len(fig.axes) >= 3


def _layers(fmap):
    return [getattr(child, "layer_name", None) for child in fmap._children.values()]


def test_garrisons_are_capped_rings_drawn_beneath_the_centres(tiny_plan):
    fmap = tiny_plan.explore()
    names = [n for n in _layers(fmap) if n in ("assignments", "garrisons", "centres")]
    assert names == ["assignments", "garrisons", "centres"]  # Leaflet draws in this order
    rings = next(c for c in fmap._children.values() if getattr(c, "layer_name", "") == "garrisons")
    radii = [rings.style_function(f)["radius"] for f in rings.data["features"]]
    assert max(radii) == pytest.approx(10.0)
    assert min(radii) >= 3.0


def test_tooltips_and_popups_name_the_sites(tiny, tiny_plan):
    page = tiny_plan.explore().get_root().render()
    centers, garrisons = tiny
    for value in (centers["name"].iloc[0], garrisons["name"].iloc[0], garrisons["agency"].iloc[0]):
        assert value in page
    with pytest.raises(es.InfeasibleError) as info:
        es.solve_assignment(*tiny, split=True, max_distance_m=2_000)
    partial = info.value.partial
    reason = partial.uncovered["reason"].iloc[0]  # the true reason, with its numbers
    assert "beyond" in reason
    assert html.escape(reason, quote=False) in partial.explore().get_root().render()
