"""The ``electsec`` command.

Exit codes
----------
0  a plan was written
2  bad input or bad arguments (every problem is listed)
3  infeasible: the diagnosis (and the partial plan) were written
4  the solver stopped without a plan
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd

from electsec import explain
from electsec.assign import solve_assignment
from electsec.errors import Diagnosis, InfeasibleError, InputError, Issue, SolverError
from electsec.io import read_garrisons, read_polling_centers
from electsec.result import AssignmentResult
from electsec.validation import did_you_mean

__all__ = ["main"]

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_INPUT, EXIT_INFEASIBLE, EXIT_SOLVER = 0, 2, 3, 4

_EPILOG = """\
exit codes:
  0  plan written          2  bad input or arguments
  3  infeasible: diagnosis and partial plan written
  4  solver stopped without a plan

examples:
  electsec plan data/sample/centers.geojson data/sample/garrisons.geojson --out out
  electsec diagnose data/sample/centers.geojson data/sample/garrisons.geojson \\
      --tier-limit-km high=15
"""


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``electsec`` command."""
    parser = argparse.ArgumentParser(
        prog="electsec",
        description="Plan election-day security: which garrison sends how many teams to "
        "which polling centre.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _plan_parser(sub)
    _diagnose_parser(sub)
    _report_parser(sub)
    return parser


def _plan_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``plan`` sub-command."""
    plan = sub.add_parser(
        "plan",
        help="solve an assignment and write the plan, a CSV and a map",
        description="Assign every polling centre its teams from garrisons within capacity, "
        "at least total team-distance, and write the plan to --out.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common_arguments(plan)
    plan.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (created; required unless the request comes on stdin)",
    )
    plan.add_argument(
        "--split", action="store_true", help="let a centre's teams come from several garrisons"
    )
    plan.add_argument(
        "--objective",
        choices=("total", "max"),
        default="total",
        help="total: least team-distance; max: shortest worst trip, then least total",
    )
    plan.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="S",
        help="seconds for the whole solve; only the single-sourcing search is cut short "
        "(default: until it stalls; split plans are exact and fast)",
    )
    plan.add_argument("--seed", type=int, default=0, help="search seed (default 0)")
    plan.add_argument("--no-map", action="store_true", help="skip the HTML map")


def _diagnose_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``diagnose`` sub-command."""
    diagnose = sub.add_parser(
        "diagnose",
        help="say whether every centre can be covered and, if not, which cannot and why",
        description="Check whether the garrisons can cover every centre under the limits. "
        "If not, list the centres with no garrison in reach, the blocking regions (centres "
        "needing more teams than every garrison within their reach holds, by governorate), "
        "and the smallest single limit that would work. Exit 0 if coverable, 3 if not.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common_arguments(diagnose)
    diagnose.add_argument("--out", type=Path, default=None, help="also write diagnosis.json")


def _report_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``report`` sub-command."""
    report = sub.add_parser(
        "report",
        help="plan and write a self-contained HTML report that opens offline",
        description="Solve like 'plan' and write one HTML file with the key figures, a map "
        "(no web tiles needed), charts, tables by governorate and agency, the uncovered "
        "centres and, when forces are short, the diagnosis.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common_arguments(report)
    report.add_argument("--out", type=Path, required=True, help="the .html file to write")
    report.add_argument("--split", action="store_true", help="as for 'plan'")
    report.add_argument(
        "--time-limit", type=float, default=None, metavar="S", help="as for 'plan'"
    )
    report.add_argument(
        "--basemap",
        type=Path,
        default=None,
        help="polygons drawn under the map, e.g. data/sample/governorates.geojson",
    )


def _common_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments every sub-command shares, in their help order."""
    _input_arguments(parser)
    _reach_arguments(parser)
    _backup_arguments(parser)
    parser.add_argument(
        "--jurisdiction",
        action="append",
        default=[],
        metavar="AGENCY=GOV[,GOV...]",
        help="governorates where an agency may operate, e.g. "
        "--jurisdiction peshmerga=Erbil,Duhok,Al-Sulaymaniyah (repeatable; agencies not "
        "named operate anywhere)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the result as JSON instead of a summary"
    )


def _input_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the two input layers (or a JSON request on stdin)."""
    parser.add_argument(
        "centers",
        help="polling centres: GeoJSON, GeoPackage, Shapefile, GeoParquet or CSV "
        "(center_id, demand, lon/lat); '-' reads a JSON request on stdin instead: "
        '{"centers": FeatureCollection, "garrisons": FeatureCollection, "options": '
        '{"split", "objective", "max_distance_m", "k", "time_limit_s", "seed", "coverage", '
        '"backup", "jurisdiction"}} and '
        "answers with JSON on stdout",
    )
    parser.add_argument(
        "garrisons",
        nargs="?",
        default=None,
        help="garrisons: same formats (garrison_id, capacity)",
    )


def _reach_arguments(parser: argparse.ArgumentParser) -> None:
    """Add how far teams may be sent: limits, road travel times, nearest garrisons."""
    parser.add_argument(
        "--max-distance-km",
        type=float,
        default=None,
        help="never send teams farther than this (with --roads: minutes of travel)",
    )
    parser.add_argument(
        "--roads",
        type=Path,
        default=None,
        metavar="ROADS",
        help="plan on road travel times over this road layer (LineStrings with highway, "
        "maxspeed_kmh and oneway columns, e.g. data/sample/roads.gpkg); limits are then "
        "minutes",
    )
    parser.add_argument(
        "--tier-limit-km",
        action="append",
        default=[],
        metavar="TIER=KM",
        help="response limit for one risk tier, e.g. --tier-limit-km high=15 (repeatable; "
        "replaces --max-distance-km)",
    )
    parser.add_argument(
        "--k", type=int, default=None, help="only consider the K nearest garrisons of each centre"
    )


def _backup_arguments(parser: argparse.ArgumentParser) -> None:
    """Add backup coverage from the garrisons' reserves."""
    parser.add_argument(
        "--backup-km",
        type=float,
        default=None,
        metavar="KM",
        help="give every covered centre a backup garrison (its reserve column) within KM "
        "(with --roads: minutes), never one that serves it",
    )
    parser.add_argument(
        "--centers-per-team",
        type=int,
        default=1,
        metavar="N",
        help="centres one reserve team may back up (default 1; with --backup-km)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    commands = {"plan": _plan, "diagnose": _diagnose, "report": _report}
    try:
        return commands[args.command](args)
    except OSError as exc:  # an --out that cannot be written, a file that cannot be read
        where = f" {exc.filename}" if exc.filename else ""
        message = f"cannot read or write{where}: {exc.strerror or exc}; check the paths"
        return _failed(args, InputError([Issue("arguments", "out", (), message)]))


def _limits(args: argparse.Namespace) -> float | dict[str, float] | None:
    """Return the response limit in metres, or in seconds when planning on roads."""
    scale = 60.0 if args.roads is not None else 1000.0
    if args.tier_limit_km:
        limits = {}
        for item in args.tier_limit_km:
            tier, _, value = item.partition("=")
            try:
                limits[tier] = float(value) * scale
            except ValueError:
                limits[tier] = float("nan")  # reported by the library as a bad limit
        return limits
    return None if args.max_distance_km is None else args.max_distance_km * scale


def _road_costs(centers: Any, garrisons: Any, roads: Path, limit: Any) -> Any:
    """Travel-time costs over the road layer at ``roads``, cut at the largest limit."""
    from electsec.costs import distance_matrix  # noqa: PLC0415
    from electsec.network import RoadNetwork  # noqa: PLC0415

    try:
        network = RoadNetwork.from_roads(gpd.read_file(roads))
    except (OSError, ValueError) as exc:
        raise InputError(
            [Issue("arguments", "--roads", (), f"cannot read {roads}: {exc}")]
        ) from exc
    values = list(limit.values()) if isinstance(limit, dict) else [limit]
    finite = [v for v in values if v is not None]
    cut = max(finite) if finite and not isinstance(limit, dict) else None
    return distance_matrix(
        centers, garrisons, metric="travel_time", network=network, max_time_s=cut
    )


def _diagnose(args: argparse.Namespace) -> int:
    args.split, args.objective, args.time_limit, args.seed = True, "total", None, 0
    try:
        centers, garrisons, options = _request(args, needs_out=False)
        options.update(split=True, objective="total")
        with _progress(args, "solving the assignment"):
            plan = solve_assignment(centers, garrisons, **options)
    except InputError as exc:
        return _failed(args, exc)
    except InfeasibleError as exc:
        _write_diagnosis(args.out, exc)
        _warn(args, exc.partial)
        _emit(args, exc.to_dict(), _diagnosis_text(exc.diagnosis), stream=sys.stdout)
        return EXIT_INFEASIBLE
    _warn(args, plan)
    teams = int(plan.assignments["teams"].sum())
    _emit(
        args,
        {"feasible": True, "teams": teams},
        f"feasible: all {teams} teams can be placed within the limits",
        stream=sys.stdout,
    )
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    args.objective, args.seed = "total", 0
    try:
        centers, garrisons, options = _request(args, needs_out=True)
        centers, garrisons = read_polling_centers(centers), read_garrisons(garrisons)
        basemap = None if args.basemap is None else gpd.read_file(args.basemap)
    except InputError as exc:
        return _failed(args, exc)
    code, diagnosis = EXIT_OK, None
    try:
        with _progress(args, "solving the assignment"):
            plan = solve_assignment(centers, garrisons, **options)
    except InfeasibleError as exc:
        if exc.partial is None:  # pragma: no cover - partial plans always come with it
            raise
        plan, diagnosis, code = exc.partial, exc.diagnosis, EXIT_INFEASIBLE
    except SolverError as exc:
        return _failed(args, exc)
    path = plan.report(
        args.out, centers=centers, garrisons=garrisons, diagnosis=diagnosis, basemap=basemap
    )
    _emit(
        args,
        {"report": str(path), "status": plan.status, "infeasible": diagnosis is not None},
        f"report written to {path}",
        stream=sys.stdout,
    )
    return code


@contextlib.contextmanager
def _progress(args: argparse.Namespace, what: str) -> Iterator[None]:
    """Show a spinner on a terminal while a long step runs (never in JSON mode or pipes)."""
    if args.json or not sys.stderr.isatty():
        yield
        return
    from rich.console import Console  # noqa: PLC0415

    with Console(stderr=True).status(f"{what}…"):
        yield


def _table(summary: Any) -> str:
    """Render key figures as a readable two-column table."""
    from rich import box  # noqa: PLC0415
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    table = Table(show_header=False, box=box.SIMPLE, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for key, value in summary.items():
        shown = str(value)
        if isinstance(value, float):
            shown = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
        table.add_row(str(key).replace("_", " "), shown)
    console = Console(file=io.StringIO(), width=72, record=True, color_system=None)
    console.print(table)
    return console.export_text().rstrip()


def _failed(args: argparse.Namespace, exc: InputError | SolverError) -> int:
    """Report bad input or a solver failure on stderr (JSON on stdout) and pick the code."""
    if isinstance(exc, InputError):
        _emit(args, exc.to_dict(), str(exc), stream=sys.stderr)
        return EXIT_INPUT
    _emit(args, {"error": "SolverError", "message": str(exc)}, f"SOLVER: {exc}", stream=sys.stderr)
    return EXIT_SOLVER


def _write_diagnosis(out: Path | None, exc: InfeasibleError) -> bool:
    """Write ``diagnosis.json`` into ``out`` when a folder was given; tell whether it was."""
    if out is None:
        return False
    out.mkdir(parents=True, exist_ok=True)
    (out / "diagnosis.json").write_text(json.dumps(exc.to_dict(), indent=2))
    return True


def _diagnosis_text(d: Diagnosis) -> str:
    lines = [
        f"INFEASIBLE: {d.reason}",
        f"  {explain.shortfall_label(d)}: {d.shortfall} of {d.total_demand} "
        f"(capacity {d.total_capacity})",
        f"  centres with {explain.in_reach_label(d)}: {len(d.unreachable_centers)}",
    ]
    lines += [
        f"  smallest single limit that would work: {limit}"
        for limit in explain.feasible_limits(d, short=True)
    ]
    lines += [f"  {sentence}" for sentence in explain.tier_limit_sentences(d)]
    lines += [f"  {sentence}" for sentence in explain.unserved_sentences(d)]
    lines.append("  blocking regions (largest deficit first):")
    lines.append(f"    {'governorates':<28} {'centres':>7} {'need':>6} {'reach':>6} {'short':>6}")
    for r in d.blocking_regions[:25]:
        where = explain.places(r) or "-"
        lines.append(
            f"    {where[:28]:<28} {len(r.centers):>7} {r.demand:>6} "
            f"{r.capacity:>6} {r.deficit:>6}"
        )
    if len(d.blocking_regions) > 25:
        lines.append(f"    ... {len(d.blocking_regions) - 25} more (see --json)")
    fixes = [r for r in d.blocking_regions if r.reinforcement is not None]
    if fixes:
        lines.append("  reinforcements that would cover them:")
    for r in fixes[:10]:
        where = explain.places(r) or "-"
        lines.append(f"    {where}, {len(r.centers)} centres: {explain.reinforcement_sentence(r)}")
    return "\n".join(lines)


def _check_options(options: dict[str, Any]) -> None:
    """Refuse request options that ``solve_assignment`` does not take."""
    known = set(inspect.signature(solve_assignment).parameters) - {
        "centers",
        "garrisons",
        "costs",
        "executor",
    }
    issues = [
        Issue("arguments", "options", (), f"unknown option {name!r} ({did_you_mean(name, known)})")
        for name in sorted(set(options) - known, key=str)
    ]
    if issues:
        raise InputError(issues)


def _request(args: argparse.Namespace, *, needs_out: bool) -> tuple[Any, Any, dict[str, Any]]:
    """Layers and options from the command line, or from a JSON request on stdin."""
    if args.centers == "-":
        args.json = True
        try:
            request = json.load(sys.stdin)
            options = dict(request.get("options") or {})
            _check_options(options)
            return request["centers"], request["garrisons"], options
        except (json.JSONDecodeError, KeyError, AttributeError, TypeError) as exc:
            issue = Issue(
                "arguments",
                "stdin",
                (),
                f"the request must be a JSON object with "
                f"'centers' and 'garrisons' FeatureCollections ({exc})",
            )
            raise InputError([issue]) from exc
    required = [("GARRISONS", args.garrisons)] + ([("--out", args.out)] if needs_out else [])
    missing = [name for name, value in required if value is None]
    if missing:
        issue = Issue("arguments", None, (), f"missing {' and '.join(missing)}")
        raise InputError([issue])
    options = {
        "split": args.split,
        "objective": args.objective,
        "max_distance_m": _limits(args),
        "k": args.k,
        "time_limit_s": args.time_limit,
        "seed": args.seed,
    }
    if args.backup_km is not None:
        unit, scale = ("max_time_s", 60.0) if args.roads is not None else ("max_distance_m", 1e3)
        options["backup"] = {
            unit: args.backup_km * scale,
            "centers_per_team": args.centers_per_team,
        }
    if args.jurisdiction:
        options["jurisdiction"] = {
            agency: [g.strip() for g in places.split(",") if g.strip()]
            for agency, _, places in (item.partition("=") for item in args.jurisdiction)
        }
    centers, garrisons = str(args.centers), str(args.garrisons)
    if args.roads is not None:
        centers, garrisons = read_polling_centers(centers), read_garrisons(garrisons)
        options["max_time_s"] = options.pop("max_distance_m")
        options["costs"] = _road_costs(centers, garrisons, args.roads, options["max_time_s"])
    return centers, garrisons, options


def _check_paths(args: argparse.Namespace) -> None:
    """Refuse a missing ``--roads``/``--basemap`` file or an ``--out`` that is a file."""
    issues = [
        Issue("arguments", f"--{name}", (), f"file not found: {path}")
        for name in ("roads", "basemap")
        if (path := getattr(args, name, None)) is not None and not Path(path).exists()
    ]
    out = getattr(args, "out", None)
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        issues.append(
            Issue("arguments", "--out", (), f"{out} is a file; --out names a folder to write")
        )
    if issues:
        raise InputError(issues)


def _plan(args: argparse.Namespace) -> int:
    try:
        _check_paths(args)
        centers, garrisons, options = _request(args, needs_out=True)
        with _progress(args, "solving the assignment"):
            plan = solve_assignment(centers, garrisons, **options)
    except InputError as exc:
        return _failed(args, exc)
    except InfeasibleError as exc:
        if _write_diagnosis(args.out, exc) and exc.partial is not None:
            _write(exc.partial, args.out, with_map=not args.no_map)
        _warn(args, exc.partial)
        _emit(
            args,
            exc.to_dict(),
            f"INFEASIBLE: {exc}\nDiagnosis written to {args.out}/diagnosis.json",
            stream=sys.stderr,
        )
        return EXIT_INFEASIBLE
    except SolverError as exc:
        return _failed(args, exc)
    _warn(args, plan)
    if args.out is None:
        _emit(args, plan.to_dict(), _table(plan.summary()), stream=sys.stdout)
        return EXIT_OK
    written = _write(plan, args.out, with_map=not args.no_map)
    text = _table(plan.summary()) + "\n\nwritten:\n" + "\n".join(f"  {p}" for p in written)
    _emit(args, plan.to_dict(), text, stream=sys.stdout)
    return EXIT_OK


def _warn(args: argparse.Namespace, plan: AssignmentResult | None) -> None:
    """Print the plan's warnings on stderr (in JSON mode they are in the JSON)."""
    if plan is None or args.json:
        return
    for warning in plan.warnings:
        sys.stderr.write(f"WARNING: {warning}\n")


def _emit(args: argparse.Namespace, data: dict[str, Any], text: str, *, stream: Any) -> None:
    if args.json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        stream.write(text + "\n")


def _write(plan: AssignmentResult, out: Path, *, with_map: bool) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    lines = plan.to_geodataframe()
    paths = [
        out / "assignments.csv",
        out / "plan.geojson",
        out / "plan.gpkg",
        out / "summary.json",
    ]
    plan.assignments.to_csv(paths[0], index=False)
    lines.to_file(paths[1], driver="GeoJSON", engine="pyogrio")
    lines.to_file(paths[2], layer="assignments", driver="GPKG", engine="pyogrio")
    loads = plan.garrison_load.set_index("garrison_id")
    import geopandas as gpd  # noqa: PLC0415

    gpd.GeoDataFrame(
        loads, geometry=plan.garrison_points.reindex(loads.index).to_numpy(), crs="EPSG:4326"
    ).reset_index().to_file(paths[2], layer="garrison_load", driver="GPKG", engine="pyogrio")
    paths[3].write_text(json.dumps(plan.summary().to_dict(), indent=2, default=str))
    if with_map:
        paths.append(out / "map.html")
        plan.explore().save(str(paths[-1]))
    return paths


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
