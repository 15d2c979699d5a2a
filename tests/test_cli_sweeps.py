"""The ``scenarios`` and ``contingency`` sub-commands: tables, maps, typed errors."""

import json

import pandas as pd

from electsec.cli import EXIT_INPUT, EXIT_OK, main

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
    assert "wrote" in capsys.readouterr().out


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
