"""The ``electsec scenarios`` and ``electsec contingency`` sub-commands.

Both read the two layers, prepare them once, run the sweep (here, on ``--workers N``
local processes, or on a Dask scheduler with ``--scheduler ADDRESS``) with a progress bar,
and write the table (CSV) and an offline map of the worst scenario's plan, with the
orders that changed from the baseline drawn over it (a diff map), to ``--out``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import shapely
import shapely.errors
import shapely.geometry

from electsec.areas import Area
from electsec.assign import solve
from electsec.costs import distance_matrix
from electsec.diff import diff_plans
from electsec.errors import ElectsecError, InputError, Issue
from electsec.io import read_garrisons, read_polling_centers
from electsec.preparation import prepare
from electsec.problem import Instance
from electsec.result import AssignmentResult
from electsec.scenarios import Scenario, contingency, run_scenarios
from electsec.service import read_roads

__all__ = ["add_parsers", "contingency_command", "scenarios_command"]

_SCENARIO_KEYS = (
    "name",
    "garrisons_lost",
    "capacity",
    "demand",
    "centers_removed",
    "tiers",
    "limits",
    "centers_added",
    "roads_closed",
)
#: Scenario fields that select by id or area (a JSON object, or a list of areas).
_SELECTIONS = ("capacity", "demand", "tiers")
_AREA_KEYS = ("governorate", "agency", "polygon", "ids")


def add_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``scenarios`` and ``contingency`` to the ``electsec`` command."""
    scenarios = sub.add_parser(
        "scenarios",
        help="solve what-if scenarios (garrisons lost, capacities or demands changed)",
        description="Solve what-if scenarios on one prepared instance and write the table "
        "(scenarios.csv) and a map of the worst scenario's plan and the orders it changed "
        "(map.html, offline).",
    )
    what = scenarios.add_mutually_exclusive_group(required=True)
    what.add_argument("--lose-each", action="store_true", help="lose each garrison in turn")
    what.add_argument(
        "--scenarios",
        type=Path,
        metavar="FILE.json",
        help='a JSON list of {"name", "garrisons_lost", "capacity", "demand", '
        '"centers_removed", "tiers", "limits", "centers_added"} objects; capacity, '
        'demand and tiers are {"id" or "governorate:X" or "agency:X": value} or a list '
        'of {"area": {"governorate", "agency", "ids", "polygon" (GeoJSON, lon/lat)}, '
        '"value"}; values are teams or "-50%%"; centers_added is a layer path '
        "(relative to the JSON file); roads_closed (with --roads) is a list of edge ids "
        "or a GeoJSON polygon",
    )
    contingency_ = sub.add_parser(
        "contingency",
        help="N-1: lose every garrison in turn; find the single points of failure",
        description="Lose every garrison in turn (split plans, exact) and write "
        "contingency.csv and a map of the worst loss's plan and the orders it changed "
        "(map.html, offline).",
    )
    for parser in (scenarios, contingency_):
        _sweep_arguments(parser, whole_flag=parser is contingency_)


def _sweep_arguments(parser: argparse.ArgumentParser, *, whole_flag: bool) -> None:
    parser.add_argument("centers", help="polling centres (any format electsec reads)")
    parser.add_argument("garrisons", help="garrisons (any format electsec reads)")
    if whole_flag:
        parser.add_argument(
            "--whole", action="store_true", help="single-sourcing plans (default: split)"
        )
    else:
        parser.add_argument("--split", action="store_true", help="split plans")
    parser.add_argument("--max-distance", type=float, metavar="M", help="response limit, m")
    parser.add_argument(
        "--roads",
        type=Path,
        metavar="FILE",
        help="road lines (e.g. data/sample/roads.gpkg): plan on travel times over them",
    )
    parser.add_argument(
        "--max-time", type=float, metavar="S", help="with --roads: response limit, seconds"
    )
    parser.add_argument("--time-limit", type=float, metavar="S", help="seconds per scenario")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N", help="N local worker processes")
    where.add_argument("--scheduler", metavar="ADDRESS", help="a Dask scheduler's address")
    parser.add_argument("--checkpoint", type=Path, metavar="DIR", help="resume folder")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--no-map", action="store_true", help="do not write map.html")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.set_defaults(json=False)


def scenarios_command(args: argparse.Namespace) -> int:
    """Run ``electsec scenarios``."""
    base, network = _base(args)
    scenarios = _read_scenarios(args.scenarios) if args.scenarios else _each(base)
    with _executor(args) as executor:
        sweep = run_scenarios(
            base,
            scenarios,
            split=args.split,
            executor=executor,
            progress=not args.no_progress,
            checkpoint=args.checkpoint,
            network=network,
            coverage="max",
            time_limit_s=args.time_limit,
        )
    worst = _worst(sweep.table, "scenario")
    plan = None if worst is None else sweep.plans[worst]
    return _write(args, sweep.table, "scenarios.csv", plan, sweep.baseline)


def contingency_command(args: argparse.Namespace) -> int:
    """Run ``electsec contingency``."""
    base, _ = _base(args)
    with _executor(args) as executor:
        table = contingency(
            base,
            split=not args.whole,
            executor=executor,
            progress=not args.no_progress,
            checkpoint=args.checkpoint,
            time_limit_s=args.time_limit,
        )
    worst = _worst(table, "garrison_id")
    plan = before = None
    if worst is not None and not args.no_map:
        lost = Scenario(worst, garrisons_lost=(worst,)).apply(base)
        plan = _plan_or_partial(lost, split=not args.whole, time_limit_s=args.time_limit)
        before = _plan_or_partial(base, split=not args.whole, time_limit_s=args.time_limit)
    return _write(args, table, "contingency.csv", plan, before)


def _base(args: argparse.Namespace) -> tuple[Instance, Any]:
    """Prepare the layers (on road travel times with ``--roads``), and the network."""
    centers = read_polling_centers(args.centers)
    garrisons = read_garrisons(args.garrisons)
    if args.roads is None:
        if args.max_time is not None:
            message = "is seconds of road travel and needs --roads; or use --max-distance"
            raise InputError([Issue("arguments", "--max-time", (), message)])
        return prepare(centers, garrisons, max_distance_m=args.max_distance), None
    if args.max_distance is not None:
        message = "with --roads the limit is --max-time (seconds of travel)"
        raise InputError([Issue("arguments", "--max-distance", (), message)])
    from electsec.network import RoadNetwork  # noqa: PLC0415 - the road stack on demand

    network = RoadNetwork.from_roads(read_roads(args.roads))
    costs = distance_matrix(centers, garrisons, metric="travel_time", network=network)
    return prepare(centers, garrisons, costs, max_time_s=args.max_time), network


def _each(base: Instance) -> list[Scenario]:
    return [Scenario(str(g), garrisons_lost=(str(g),)) for g in base.labels.garrison_ids]


def _read_scenarios(path: Path) -> list[Scenario]:
    """Scenarios from a JSON list; every bad entry named at once."""
    try:
        items = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        message = f"{path} is not JSON ({exc.msg}, line {exc.lineno})"
        raise InputError([Issue("arguments", "scenarios", (), message)]) from None
    if not isinstance(items, list):
        message = f"{path} must hold a JSON list of scenario objects"
        raise InputError([Issue("arguments", "scenarios", (), message)])
    issues, scenarios = [], []
    for k, item in enumerate(items):
        if not isinstance(item, dict) or "name" not in item:
            message = "each scenario must be an object with a 'name'"
            issues.append(Issue("arguments", "scenarios", (k,), message))
            continue
        unknown = sorted(set(item) - set(_SCENARIO_KEYS))
        if unknown:
            message = f"unknown keys {unknown}; use {', '.join(_SCENARIO_KEYS)}"
            issues.append(Issue("arguments", "scenarios", (item["name"],), message))
            continue
        before = len(issues)
        fields = _scenario_fields(item, path.parent, issues)
        if len(issues) == before:
            scenarios.append(Scenario(**fields))
    if issues:
        raise InputError(issues)
    return scenarios


def _scenario_fields(item: dict[str, Any], folder: Path, issues: list[Issue]) -> dict[str, Any]:
    """Turn one JSON scenario into :class:`Scenario` fields (areas, paths)."""
    fields = dict(item)
    for key in _SELECTIONS:
        if isinstance(item.get(key), list):
            fields[key] = {
                _area(entry, item["name"], key, issues): _value(entry) for entry in item[key]
            }
    if isinstance(item.get("centers_added"), str):
        fields["centers_added"] = folder / item["centers_added"]
    if isinstance(item.get("roads_closed"), dict):
        fields["roads_closed"] = _polygon(
            item["roads_closed"], item["name"], "roads_closed", issues
        )
    return fields


def _polygon(geometry: object, name: str, key: str, issues: list[Issue]) -> Any:
    """Read a GeoJSON geometry (lon/lat); an issue naming the scenario when it is not one."""
    try:
        return shapely.geometry.shape(geometry)
    except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.ShapelyError):
        message = f"{key}: polygon must be a GeoJSON Polygon or MultiPolygon geometry"
        issues.append(Issue("arguments", "scenarios", (name,), message))
        return None


def _value(entry: object) -> Any:
    return entry.get("value") if isinstance(entry, dict) else None


def _area(entry: object, name: str, key: str, issues: list[Issue]) -> Area | int:
    """Read one ``{"area": {...}, "value": ...}`` entry (its polygon is GeoJSON)."""
    spec = entry.get("area") if isinstance(entry, dict) else None
    if not isinstance(entry, dict) or not isinstance(spec, dict) or "value" not in entry:
        spec = {"?": None}
    if set(spec) - set(_AREA_KEYS):
        message = (
            f'{key}: each list entry is {{"area": {{{", ".join(_AREA_KEYS)}}}, "value": ...}}, '
            f"got {entry!r}"
        )
        issues.append(Issue("arguments", "scenarios", (name,), message))
        return len(issues)  # a placeholder key; the scenario is not built
    polygon = spec.get("polygon")
    if polygon is not None:
        before = len(issues)
        polygon = _polygon(polygon, name, key, issues)
        if len(issues) > before:
            return len(issues)
    return Area(
        governorate=spec.get("governorate", ()),
        agency=spec.get("agency", ()),
        polygon=polygon,
        ids=spec.get("ids", ()),
    )


@contextmanager
def _executor(args: argparse.Namespace) -> Iterator[Any]:
    if args.workers is not None:
        if args.workers < 1:
            message = f"must be ≥ 1, got {args.workers}"
            raise InputError([Issue("arguments", "workers", (), message)])
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            yield pool
        return
    if args.scheduler is None:
        yield None
        return
    try:
        from distributed import Client  # noqa: PLC0415 - optional: electsec[dask]
    except ImportError:
        message = "needs Dask: pip install 'electsec[dask]'"
        raise InputError([Issue("arguments", "scheduler", (), message)]) from None
    with Client(args.scheduler) as client:  # type: ignore[no-untyped-call]
        yield client


def _worst(table: pd.DataFrame, key: str) -> str | None:
    """Return the scenario with the most teams short, then the largest cost increase."""
    change = "objective_change_pct" if "objective_change_pct" in table else "cost_increase_pct"
    ranked = table.dropna(subset=["teams_short"]).sort_values(
        ["teams_short", change], ascending=False, kind="stable"
    )
    return None if ranked.empty else str(ranked.iloc[0][key])


#: How the map draws the orders that changed from the baseline: (changes, colour, layer).
_DIFF_LAYERS = (
    (("dropped", "fewer"), "#d62728", "orders dropped (baseline)"),
    (("added", "more"), "#2ca02c", "orders added (scenario)"),
)


def _diff_layers(fmap: Any, baseline: AssignmentResult, plan: AssignmentResult) -> None:
    """Draw on ``fmap`` the (centre, garrison) orders that changed from ``baseline``.

    Plain folium layers (no legend, no CDN), so the page stays offline; the map's layer
    control moves after them (its script names every layer drawn before it).
    """
    lines = diff_plans(baseline, plan).to_geodataframe()
    for changes, colour, layer in _DIFF_LAYERS:
        part = lines[lines["change"].isin(changes)]
        if len(part):
            part.explore(
                m=fmap,
                color=colour,
                name=f"{layer}: {len(part)}",
                style_kwds={"weight": 3, "dashArray": "6 4", "opacity": 0.9},
            )
    children = fmap._children  # folium keeps a map's layers, in order, here
    for key in [k for k, child in children.items() if type(child).__name__ == "LayerControl"]:
        children[key] = children.pop(key)


def _plan_or_partial(
    instance: Instance, *, split: bool, time_limit_s: float | None
) -> AssignmentResult | None:
    try:
        return solve(instance, split=split, coverage="max", time_limit_s=time_limit_s)
    except ElectsecError:
        return None


def _write(
    args: argparse.Namespace,
    table: pd.DataFrame,
    name: str,
    plan: AssignmentResult | ElectsecError | None,
    baseline: AssignmentResult | None = None,
) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / name, index=False)
    written = [out / name]
    partial = getattr(plan, "partial", plan)
    if isinstance(partial, AssignmentResult) and not args.no_map:
        fmap = partial.explore()
        if baseline is not None:
            _diff_layers(fmap, baseline, partial)
        fmap.save(str(out / "map.html"))
        written.append(out / "map.html")
    print(table.head(10).to_string(index=False))
    print("wrote " + ", ".join(map(str, written)))
    return 0
