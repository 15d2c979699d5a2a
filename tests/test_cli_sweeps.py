"""The ``scenarios`` and ``contingency`` sub-commands: tables, maps, typed errors."""

import json

import pandas as pd
import pytest

from electsec.cli import EXIT_INPUT, EXIT_OK, main
from helpers import WEB_ASSET, needs_browser, render_offline

TINY = ["data/sample/tiny_centers.geojson", "data/sample/tiny_garrisons.geojson"]


def test_scenarios_from_a_file_write_the_table_and_a_map(tmp_path, repo_root, capsys):
    spec = tmp_path / "what-if.json"
    spec.write_text(
        json.dumps(
            [
                {"name": "lose two", "garrisons_lost": ["TG01", "TG02"]},
                {"name": "half TG03", "capacity": {"TG03": "-50%"}},
            ]
        )
    )
    paths = [str(repo_root / p) for p in TINY]
    out = tmp_path / "out"
    args = ["scenarios", *paths, "--scenarios", str(spec), "--split", "--out", str(out)]
    assert main(args) == EXIT_OK
    table = pd.read_csv(out / "scenarios.csv")
    assert list(table["scenario"]) == ["lose two", "half TG03"]
    assert table.loc[0, "teams_short"] > 0
    page = (out / "map.html").read_text()
    assert "leaflet" in page.lower()
    printed = capsys.readouterr()
    assert "wrote" in printed.out
    assert "2/2" in printed.err  # the CLI shows a tqdm bar by default: two scenarios done


def test_contingency_shows_a_bar_unless_told_not_to(tmp_path, repo_root, capfd):
    paths = [str(repo_root / p) for p in TINY]
    args = ["contingency", *paths, "--no-map"]
    assert main([*args, "--out", str(tmp_path / "a")]) == EXIT_OK
    total = len(pd.read_csv(tmp_path / "a" / "contingency.csv"))
    assert f"{total}/{total}" in capfd.readouterr().err
    assert main([*args, "--no-progress", "--out", str(tmp_path / "b")]) == EXIT_OK
    assert "/" + str(total) not in capfd.readouterr().err


def test_contingency_on_local_workers_equals_the_library(tmp_path, repo_root):
    import electsec as es

    paths = [str(repo_root / p) for p in TINY]
    out = tmp_path / "n-1"
    args = ["contingency", *paths, "--workers", "2", "--no-progress", "--out", str(out)]
    assert main(args) == EXIT_OK
    table = pd.read_csv(out / "contingency.csv")
    expected = es.contingency(es.prepare(*paths))
    assert list(table["garrison_id"]) == list(expected["garrison_id"])
    assert list(table["teams_short"]) == list(expected["teams_short"])
    assert (out / "map.html").exists()


def test_bad_scenario_files_exit_2_naming_the_entry(tmp_path, repo_root, capsys):
    spec = tmp_path / "bad.json"
    spec.write_text(json.dumps([{"name": "x", "garisons_lost": ["TG01"]}, {"no": "name"}]))
    paths = [str(repo_root / p) for p in TINY]
    args = ["scenarios", *paths, "--scenarios", str(spec), "--out", str(tmp_path / "o")]
    assert main(args) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "garisons_lost" in err
    assert "'name'" in err


def test_scenario_files_take_areas_tiers_limits_and_added_centres(tmp_path, repo_root):
    import shapely

    import electsec as es

    centers = es.read_polling_centers(repo_root / TINY[0])
    garrisons = es.read_garrisons(repo_root / TINY[1])
    centers.iloc[:30].reset_index().to_file(tmp_path / "old.geojson")
    centers.iloc[30:].reset_index().to_file(tmp_path / "new.geojson")
    south = shapely.box(44.2, 33.0, 44.5, 33.3)
    spec = [
        {
            "name": "areas",
            "capacity": {"agency:army": "-50%"},
            "demand": [{"area": {"polygon": shapely.geometry.mapping(south)}, "value": "+50%"}],
            "tiers": [{"area": {"governorate": "Babil"}, "value": "high"}],
        },
        {"name": "looser", "limits": 30000},
        {"name": "new", "centers_added": "new.geojson"},
    ]
    (tmp_path / "what-if.json").write_text(json.dumps(spec))
    out = tmp_path / "out"
    args = ["scenarios", str(tmp_path / "old.geojson"), str(repo_root / TINY[1])]
    args += ["--scenarios", str(tmp_path / "what-if.json"), "--split", "--max-distance", "20000"]
    assert main([*args, "--no-progress", "--no-map", "--out", str(out)]) == EXIT_OK
    table = pd.read_csv(out / "scenarios.csv").set_index("scenario")
    base = es.prepare(centers.iloc[:30], garrisons, max_distance_m=20000)
    expected = [
        es.Scenario(
            "areas",
            capacity={"agency:army": "-50%"},
            demand={es.Area(polygon=south): "+50%"},
            tiers={"governorate:Babil": "high"},
        ),
        es.Scenario("looser", limits=30000),
        es.Scenario("new", centers_added=centers.iloc[30:]),
    ]
    for s in expected:
        plan = es.solve(s.apply(base), split=True, coverage="max")
        assert table.loc[s.name, "objective"] == pytest.approx(plan.objective)
        assert table.loc[s.name, "teams_short"] == int(plan.uncovered["teams"].sum())


def test_bad_areas_in_scenario_files_are_named(tmp_path, repo_root, capsys):
    spec = [
        {"name": "shape", "demand": [{"area": {"polygon": {"type": "Nope"}}, "value": 1}]},
        {"name": "entry", "capacity": [{"where": "Baghdad", "value": 1}]},
    ]
    (tmp_path / "bad.json").write_text(json.dumps(spec))
    paths = [str(repo_root / p) for p in TINY]
    args = ["scenarios", *paths, "--scenarios", str(tmp_path / "bad.json")]
    assert main([*args, "--out", str(tmp_path / "o")]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "GeoJSON" in err
    assert '"area"' in err


def test_scenario_files_close_roads_with_roads_given(tmp_path, repo_root):
    import geopandas as gpd
    import shapely

    import electsec as es
    from electsec.network import RoadNetwork

    box = shapely.box(44.347, 33.309, 44.387, 33.349)  # around TG01
    spec = [
        {"name": "box", "roads_closed": shapely.geometry.mapping(box)},
        {"name": "ids", "roads_closed": [0, 1, 2]},
    ]
    (tmp_path / "roads.json").write_text(json.dumps(spec))
    roads = repo_root / "data" / "sample" / "roads.gpkg"
    paths = [str(repo_root / p) for p in TINY]
    args = ["scenarios", *paths, "--scenarios", str(tmp_path / "roads.json"), "--split"]
    args += ["--roads", str(roads), "--max-time", "1800", "--no-progress", "--no-map"]
    assert main([*args, "--out", str(tmp_path / "out")]) == EXIT_OK
    table = pd.read_csv(tmp_path / "out" / "scenarios.csv").set_index("scenario")
    net = RoadNetwork.from_roads(gpd.read_file(roads))
    costs = es.distance_matrix(*paths, metric="travel_time", network=net)
    for name, edges in (("box", net.edges_in(box)), ("ids", [0, 1, 2])):
        closed = es.distance_matrix(*paths, metric="travel_time", network=net.without(edges))
        direct = es.solve(es.prepare(*paths, closed, max_time_s=1800), split=True, coverage="max")
        assert table.loc[name, "objective"] == pytest.approx(direct.objective)
    base = es.solve(es.prepare(*paths, costs, max_time_s=1800), split=True, coverage="max")
    assert table.loc["box", "objective"] != pytest.approx(base.objective)
    bad = ["scenarios", *paths, "--lose-each", "--max-time", "60", "--out", str(tmp_path / "x")]
    assert main(bad) == EXIT_INPUT


@needs_browser
def test_the_scenarios_map_shows_the_orders_that_changed_offline(tmp_path, repo_root):
    import electsec as es

    paths = [str(repo_root / p) for p in TINY]
    spec = tmp_path / "lose.json"
    spec.write_text(json.dumps([{"name": "lose TG01", "garrisons_lost": ["TG01"]}]))
    out = tmp_path / "out"
    args = ["scenarios", *paths, "--scenarios", str(spec), "--split", "--no-progress"]
    assert main([*args, "--out", str(out)]) == EXIT_OK
    base = es.prepare(*paths)
    before = es.solve(base, split=True, coverage="max")
    after = es.solve(
        es.Scenario("x", garrisons_lost=["TG01"]).apply(base), split=True, coverage="max"
    )
    # Independently: the (centre, garrison) pairs whose teams went down or up.
    key = ["center_id", "garrison_id"]
    a = before.assignments.groupby(key)["teams"].sum()
    b = after.assignments.groupby(key)["teams"].sum()
    both = pd.concat([a.rename("a"), b.rename("b")], axis=1).fillna(0)
    dropped, added = int((both["b"] < both["a"]).sum()), int((both["b"] > both["a"]).sum())
    assert dropped > 0
    page = out / "map.html"
    text = page.read_text()
    assert f"orders dropped (baseline): {dropped}" in text
    assert f"orders added (scenario): {added}" in text
    assert not WEB_ASSET.search(text)
    drawn = render_offline(tmp_path, page)
    assert drawn["errors"] == []
    assert drawn["requests"] == []
