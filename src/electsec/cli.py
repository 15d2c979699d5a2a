"""The ``electsec`` command.

Exit codes
----------
0  a plan was written
2  bad input or bad arguments (every problem is listed)
3  infeasible: the diagnosis (and the partial plan) were written
4  the solver stopped without a plan, or an internal error (one line; ``--debug`` shows
   the traceback)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import geopandas as gpd

from electsec import __version__, explain
from electsec.errors import (
    Diagnosis,
    ElectsecError,
    InfeasibleError,
    InputError,
    Issue,
    SolverError,
)
from electsec.preparation import read_layers
from electsec.result import AssignmentResult
from electsec.schema import SCHEMA_VERSION
from electsec.service import Request, read_request, read_roads, solve_request

__all__ = ["main"]

EXIT_OK, EXIT_INPUT, EXIT_INFEASIBLE, EXIT_SOLVER = 0, 2, 3, 4

_EPILOG = """\
exit codes:
  0  plan written          2  bad input or arguments
  3  infeasible: diagnosis and partial plan written
  4  solver stopped without a plan, or an internal error

units: without --roads limits are kilometres (--max-distance-km, --tier-limit-km,
--backup-km); with --roads they are minutes of travel (--max-time-min, --tier-limit-min,
--backup-min).

examples:
  electsec plan data/sample/centers.geojson data/sample/garrisons.geojson --out out
  electsec diagnose data/sample/centers.geojson data/sample/garrisons.geojson \\
      --tier-limit-km high=15
  electsec plan - --data-dir /srv/electsec/data < request.json
"""

_STDIN_HELP = (
    "'-' reads a JSON request on stdin instead (layers inline as GeoJSON; its schema is "
    "electsec.schema.request_schema()) and answers with JSON on stdout; flags given with "
    "it apply and win over the request's options"
)


class _UsageError(Exception):
    """A command line argparse refuses (exit 2)."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        self.parser = parser
        super().__init__(message)


class _Parser(argparse.ArgumentParser):
    """An argument parser that raises on bad arguments, so that ``main`` can answer."""

    def error(self, message: str) -> NoReturn:
        """Raise :class:`_UsageError` instead of exiting."""
        raise _UsageError(self, message)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``electsec`` command."""
    parser = _Parser(
        prog="electsec",
        description="Plan election-day security: which garrison sends how many teams to "
        "which polling centre.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"electsec {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an internal error"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _plan_parser(sub)
    _diagnose_parser(sub)
    _report_parser(sub)
    _sweep_parsers(sub)
    _election_parser(sub)
    _transfer_parser(sub)
    return parser


def _sweep_parsers(sub: argparse._SubParsersAction[_Parser]) -> None:
    """Add ``scenarios`` and ``contingency`` (see :mod:`electsec.cli_sweeps`)."""
    from electsec import cli_sweeps  # noqa: PLC0415 - its own module, loaded with the parser

    cli_sweeps.add_parsers(sub)


def _election_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    """Add ``election`` (see :mod:`electsec.cli_election`)."""
    from electsec import cli_election  # noqa: PLC0415 - its own module, loaded with the parser

    cli_election.add_parser(sub)


def _transfer_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    """Add ``transfer`` (see :mod:`electsec.cli_transfer`)."""
    from electsec import cli_transfer  # noqa: PLC0415 - its own module, loaded with the parser

    cli_transfer.add_parser(sub)


def _plan_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
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
        default=None,
        help="total (default): least team-distance; max: shortest worst trip, then least total",
    )
    plan.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="S",
        help="seconds for the whole solve; only the single-sourcing search is cut short "
        "(default: until it stalls; split plans are exact and fast)",
    )
    plan.add_argument("--seed", type=int, default=None, help="search seed (default 0)")
    plan.add_argument("--no-map", action="store_true", help="skip the HTML map (with --out)")


def _diagnose_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
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


def _report_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
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
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="with '-': the directory a request may name files in (relative paths only, "
        "read inside DIR; without it a request's layers must be inline GeoJSON)",
    )


def _input_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the two input layers (or a JSON request on stdin)."""
    parser.add_argument(
        "centers",
        help="polling centres: GeoJSON, GeoPackage, Shapefile, GeoParquet or CSV "
        f"(center_id, demand, lon/lat); {_STDIN_HELP}",
    )
    parser.add_argument(
        "garrisons",
        nargs="?",
        default=None,
        help="garrisons: same formats (garrison_id, capacity); not with '-'",
    )


def _reach_arguments(parser: argparse.ArgumentParser) -> None:
    """Add how far teams may be sent: limits, road travel times, nearest garrisons."""
    parser.add_argument(
        "--max-distance-km",
        type=float,
        default=None,
        metavar="KM",
        help="never send teams farther than KM (geodesic; not with --roads)",
    )
    parser.add_argument(
        "--max-time-min",
        type=float,
        default=None,
        metavar="MIN",
        help="with --roads: never send teams more than MIN minutes away",
    )
    parser.add_argument(
        "--roads",
        type=Path,
        default=None,
        metavar="ROADS",
        help="plan on road travel times over this road layer (LineStrings with highway, "
        "maxspeed_kmh and oneway columns, e.g. data/sample/roads.gpkg) or OpenStreetMap "
        "file (.osm/.pbf); limits are then minutes (--max-time-min, --tier-limit-min, "
        "--backup-min)",
    )
    parser.add_argument(
        "--roads-layer",
        default=None,
        metavar="NAME",
        help="the layer of --roads when the file has several (OpenStreetMap: lines)",
    )
    parser.add_argument(
        "--tier-limit-km",
        action="append",
        default=[],
        metavar="TIER=KM",
        help="response limit for one risk tier, e.g. --tier-limit-km high=15 (repeatable; "
        "tiers not named are unlimited; not with --max-distance-km)",
    )
    parser.add_argument(
        "--tier-limit-min",
        action="append",
        default=[],
        metavar="TIER=MIN",
        help="with --roads: the same in minutes, e.g. --tier-limit-min high=10",
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
        help="give every covered centre a backup garrison (its reserve column) within KM, "
        "never one that serves it",
    )
    parser.add_argument(
        "--backup-min",
        type=float,
        default=None,
        metavar="MIN",
        help="with --roads: the same within MIN minutes",
    )
    parser.add_argument(
        "--centers-per-team",
        type=int,
        default=None,
        metavar="N",
        help="centres one reserve team may back up (default 1; with --backup-km/-min)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0, 2, 3 or 4, never a traceback)."""
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(words)
    except _UsageError as exc:
        return _usage_failed(exc, json_out="--json" in words or "-" in words)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    commands = {"plan": _plan, "diagnose": _diagnose, "report": _report, **_sweep_commands()}
    try:
        return commands[args.command](args)
    except OSError as exc:  # an --out that cannot be written, a file that cannot be read
        where = f" {exc.filename}" if exc.filename else ""
        message = f"cannot read or write{where}: {exc.strerror or exc}; check the paths"
        return _failed(args, InputError([Issue("arguments", None, (), message)]))
    except ElectsecError as exc:
        return _failed(args, exc)
    except Exception as exc:
        if args.debug:
            raise
        return _internal_error(args, exc)


def _usage_failed(exc: _UsageError, *, json_out: bool) -> int:
    """Answer a command line argparse refused: usage on stderr (and JSON on stdout)."""
    exc.parser.print_usage(sys.stderr)
    sys.stderr.write(f"{exc.parser.prog}: error: {exc}\n")
    if json_out:
        error = InputError([Issue("arguments", None, (), str(exc))])
        sys.stdout.write(json.dumps(error.to_dict(), indent=2) + "\n")
    return EXIT_INPUT


def _sweep_commands() -> dict[str, Callable[[argparse.Namespace], int]]:
    from electsec import cli_election, cli_sweeps, cli_transfer  # noqa: PLC0415

    return {
        "transfer": _guarded(cli_transfer.transfer_command),
        "scenarios": _guarded(cli_sweeps.scenarios_command),
        "contingency": _guarded(cli_sweeps.contingency_command),
        "election": _guarded(cli_election.election_command),
    }


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Report the typed errors of a sweep command as the other commands do."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except (InputError, SolverError) as exc:
            return _failed(args, exc)

    return run


def _internal_error(args: argparse.Namespace, exc: Exception) -> int:
    """Report an unexpected failure in one line (exit 4); ``--debug`` shows the traceback."""
    first = (str(exc).strip().splitlines() or [""])[0]
    message = f"internal error: {type(exc).__name__}: {first}"
    data = {"error": "InternalError", "schema_version": SCHEMA_VERSION, "message": message}
    text = f"electsec: {message} (rerun as 'electsec --debug ...' for the traceback)"
    _emit(args, data, text, stream=sys.stderr)
    return EXIT_SOLVER


def _network(roads: gpd.GeoDataFrame | None) -> Any:
    """Build the road network the plan's routes are drawn on (None without roads)."""
    if roads is None:
        return None
    from electsec.network import RoadNetwork  # noqa: PLC0415

    return RoadNetwork.from_roads(roads)


def _diagnose(args: argparse.Namespace) -> int:
    try:
        request = _request(args, needs_out=False)
        request = request.replace(options={**request.options, "split": True, "objective": "total"})
        with _progress(args, "solving the assignment"):
            plan = solve_request(request)
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
        {"schema_version": SCHEMA_VERSION, "feasible": True, "teams": teams},
        f"feasible: all {teams} teams can be placed within the limits",
        stream=sys.stdout,
    )
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    try:
        request = _request(args, needs_out=True)
        basemap = None if args.basemap is None else _read_basemap(args.basemap)
        network = _network(request.roads)
    except InputError as exc:
        return _failed(args, exc)
    code, diagnosis = EXIT_OK, None
    try:
        with _progress(args, "solving the assignment"):
            plan = solve_request(request, network=network)
    except InfeasibleError as exc:
        if exc.partial is None:  # pragma: no cover - partial plans always come with it
            raise
        plan, diagnosis, code = exc.partial, exc.diagnosis, EXIT_INFEASIBLE
    path = plan.report(
        args.out,
        centers=request.centers,
        garrisons=request.garrisons,
        diagnosis=diagnosis,
        basemap=basemap,
        network=network,
    )
    data = {
        "schema_version": SCHEMA_VERSION,
        "report": str(path),
        "status": plan.status,
        "coverage_status": plan.coverage_status,
        "infeasible": diagnosis is not None,
    }
    _emit(args, data, f"report written to {path}", stream=sys.stdout)
    return code


def _read_basemap(path: Path) -> gpd.GeoDataFrame:
    """Read the polygons drawn under the report's map (a bad file is bad input)."""
    try:
        return gpd.read_file(path, engine="pyogrio")
    except (OSError, ValueError, RuntimeError) as exc:
        message = f"cannot read {path}: {exc}"
        raise InputError([Issue("arguments", "--basemap", (), message)]) from exc


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


def _failed(args: argparse.Namespace, exc: ElectsecError) -> int:
    """Report bad input or a solver failure on stderr (JSON on stdout) and pick the code."""
    if isinstance(exc, InputError):
        _emit(args, exc.to_dict(), str(exc), stream=sys.stderr)
        return EXIT_INPUT
    if isinstance(exc, InfeasibleError):
        _emit(args, exc.to_dict(), f"INFEASIBLE: {exc}", stream=sys.stderr)
        return EXIT_INFEASIBLE
    data = {"error": "SolverError", "schema_version": SCHEMA_VERSION, "message": str(exc)}
    _emit(args, data, f"SOLVER: {exc}", stream=sys.stderr)
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


#: The limit flags by unit: (single limit, per-tier limits, backup limit) flags, the
#: option they set and the scale to metres or seconds.
_UNITS = {
    "km": (("--max-distance-km", "--tier-limit-km", "--backup-km"), "max_distance_m", 1000.0),
    "min": (("--max-time-min", "--tier-limit-min", "--backup-min"), "max_time_s", 60.0),
}


#: The flags that set each option, for the notes on options a flag replaces.
_FLAG_OF = {
    "split": "--split",
    "objective": "--objective",
    "time_limit_s": "--time-limit",
    "seed": "--seed",
    "k": "--k",
    "max_distance_m": "--max-distance-km/--tier-limit-km",
    "max_time_s": "--max-time-min/--tier-limit-min",
    "backup": "--backup-km/--backup-min/--centers-per-team",
    "jurisdiction": "--jurisdiction",
}


def _request(args: argparse.Namespace, *, needs_out: bool) -> Request:
    """Layers and options from the command line, or from a JSON request on stdin.

    With ``-``, the flags given apply too and win over the request's options (each
    replaced option is named in a note on stderr); flags that cannot apply are refused.
    Every problem found (arguments, JSON, request, layers) is raised in one InputError.
    """
    stdin = args.centers == "-"
    args.json = args.json or stdin
    issues = _argument_issues(args, stdin=stdin, needs_out=needs_out)
    raw, readable = None, args.garrisons is not None
    if stdin:
        raw, json_issues = _stdin_request()
        issues += json_issues
        readable = not json_issues
    roads = args.roads is not None or (isinstance(raw, dict) and "roads" in raw)
    flags, flag_issues = _flag_options(args, roads=roads)
    issues += flag_issues
    request = None
    if readable:
        try:
            request = _read_inputs(args, raw, stdin=stdin)
        except InputError as exc:
            issues += exc.issues
    if issues or request is None:
        raise InputError(issues)
    if args.roads is not None:
        if request.roads is not None:
            sys.stderr.write("note: --roads replaces the request's roads\n")
        request = request.replace(roads=read_roads(args.roads, layer=args.roads_layer))
    elif getattr(args, "roads_layer", None) is not None:
        message = "names a layer of --roads; give --roads FILE too"
        raise InputError([Issue("arguments", "--roads-layer", (), message)])
    return request.replace(options=_merge(request.options, flags))


def _stdin_request() -> tuple[Any, list[Issue]]:
    """Decode the JSON request on stdin; bad JSON is an issue."""
    try:
        return json.load(sys.stdin), []
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        message = f"the request on stdin is not JSON ({exc}); see request_schema()"
        return None, [Issue("arguments", "stdin", (), message)]


def _read_inputs(args: argparse.Namespace, raw: Any, *, stdin: bool) -> Request:
    """Read the request, or the two layer files named on the command line."""
    if stdin:
        return read_request(raw, data_dir=args.data_dir)
    centers, garrisons = read_layers(args.centers, args.garrisons)
    return Request(centers, garrisons, None, {})


def _argument_issues(args: argparse.Namespace, *, stdin: bool, needs_out: bool) -> list[Issue]:
    """Arguments missing, contradicting each other, or naming unusable paths."""
    issues = []
    if stdin and args.garrisons is not None:
        message = "with '-' both layers come in the request on stdin; drop GARRISONS"
        issues.append(Issue("arguments", "GARRISONS", (), message))
    missing = [] if stdin else [n for n, v in (("GARRISONS", args.garrisons),) if v is None]
    missing += ["--out"] if needs_out and not stdin and args.out is None else []
    if missing:
        issues.append(Issue("arguments", None, (), f"missing {' and '.join(missing)}"))
    if getattr(args, "no_map", False) and args.out is None:
        issues.append(Issue("arguments", "--no-map", (), "applies with --out only"))
    if args.data_dir is not None and not stdin:
        message = "names where a request on stdin ('-') may read files; not used otherwise"
        issues.append(Issue("arguments", "--data-dir", (), message))
    elif args.data_dir is not None and not args.data_dir.is_dir():
        issues.append(Issue("arguments", "--data-dir", (), f"not a directory: {args.data_dir}"))
    return issues + _path_issues(args)


def _path_issues(args: argparse.Namespace) -> list[Issue]:
    """Refuse missing ``--roads``/``--basemap`` files and an ``--out`` that cannot be written."""
    issues = [
        Issue("arguments", f"--{name}", (), f"file not found: {path}")
        for name in ("roads", "basemap")
        if (path := getattr(args, name, None)) is not None and not Path(path).is_file()
    ]
    out = args.out
    if out is None:
        return issues
    as_file = args.command == "report"
    if as_file and out.is_dir():
        issues.append(Issue("arguments", "--out", (), f"{out} is a folder; name the .html file"))
    elif not as_file and out.exists() and not out.is_dir():
        message = f"{out} is a file; --out names a folder to write"
        issues.append(Issue("arguments", "--out", (), message))
    elif not _writable(out.parent if as_file else out):
        issues.append(Issue("arguments", "--out", (), f"cannot write to {out}; check the path"))
    return issues


def _writable(folder: Path) -> bool:
    """Whether ``folder`` can be written, or created inside its nearest existing parent."""
    here = folder.absolute()
    while not here.exists() and here != here.parent:
        here = here.parent
    return here.is_dir() and os.access(here, os.W_OK | os.X_OK)


def _flag_options(args: argparse.Namespace, *, roads: bool) -> tuple[dict[str, Any], list[Issue]]:
    """Return the options the flags give (only those given) and the flags in a wrong unit."""
    unit = "min" if roads else "km"
    flags, option, scale = _UNITS[unit]
    issues = _unit_issues(args, roads=roads)
    options: dict[str, Any] = {"split": True} if getattr(args, "split", False) else {}
    for attr, key in (
        ("objective", "objective"),
        ("time_limit", "time_limit_s"),
        ("seed", "seed"),
    ):
        if getattr(args, attr, None) is not None:
            options[key] = getattr(args, attr)
    if args.k is not None:
        options["k"] = args.k
    limit, limit_issues = _limits(args, unit=unit, scale=scale)
    issues += limit_issues
    if limit is not None:
        options[option] = limit
    backup = getattr(args, _dest(flags[2]))
    if backup is not None:
        options["backup"] = {
            option: backup * scale,
            "centers_per_team": args.centers_per_team or 1,
        }
    elif args.centers_per_team is not None:
        options["backup"] = {"centers_per_team": args.centers_per_team}
    if args.jurisdiction:
        options["jurisdiction"] = {
            agency: [g.strip() for g in places.split(",") if g.strip()]
            for agency, _, places in (item.partition("=") for item in args.jurisdiction)
        }
    return options, issues


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def _unit_issues(args: argparse.Namespace, *, roads: bool) -> list[Issue]:
    """Refuse limit flags in the wrong unit, naming the right flag."""
    wrong, right = (_UNITS["km"][0], _UNITS["min"][0]) if roads else (_UNITS["min"][0], None)
    issues = []
    for position, flag in enumerate(wrong):
        if getattr(args, _dest(flag)) in (None, []):
            continue
        if right is not None:
            message = (
                f"with road travel times (--roads, or roads in the request) limits are "
                f"minutes: use {right[position]}"
            )
        else:
            message = (
                f"is minutes of road travel and needs --roads; or use {_UNITS['km'][0][position]}"
            )
        issues.append(Issue("arguments", flag, (), message))
    return issues


def _limits(
    args: argparse.Namespace, *, unit: str, scale: float
) -> tuple[float | dict[str, float] | None, list[Issue]]:
    """Return the response limit in metres (or seconds on roads) from the ``unit`` flags."""
    single_flag, tier_flag, _ = _UNITS[unit][0]
    single, tiers = getattr(args, _dest(single_flag)), getattr(args, _dest(tier_flag))
    if not tiers:
        return (None if single is None else single * scale), []
    if single is not None:
        message = f"give {single_flag} or {tier_flag}, not both (tiers not named are unlimited)"
        return None, [Issue("arguments", tier_flag, (), message)]
    limits, issues = {}, []
    for item in tiers:
        tier, _, value = item.partition("=")
        try:
            limits[tier] = float(value) * scale
        except ValueError:
            message = f"{item!r} is not TIER={unit.upper()}, e.g. high=15"
            issues.append(Issue("arguments", tier_flag, (), message))
    return limits, issues


def _merge(options: Mapping[str, Any], flags: Mapping[str, Any]) -> dict[str, Any]:
    """Put the flags' options over the request's (a note on stderr names each one replaced)."""
    merged = dict(options)
    for key, value in flags.items():
        if key == "backup" and set(value) == {"centers_per_team"}:
            base = options.get("backup")
            if base is None:
                message = "needs a backup limit: --backup-km (or --backup-min with --roads)"
                raise InputError([Issue("arguments", "--centers-per-team", (), message)])
            value = {**base, **value}  # noqa: PLW2901 - the per-team count joins the request's
        if key in options and options[key] != value:
            flag = _FLAG_OF.get(key, "a flag")
            sys.stderr.write(f"note: {flag} replaces the request's option {key!r}\n")
        merged[key] = value
    return merged


def _plan(args: argparse.Namespace) -> int:
    try:
        request = _request(args, needs_out=True)
        network = _network(request.roads)
        with _progress(args, "solving the assignment"):
            plan = solve_request(request, network=network)
    except InputError as exc:
        return _failed(args, exc)
    except InfeasibleError as exc:
        if _write_diagnosis(args.out, exc) and exc.partial is not None:
            _write(exc.partial, args.out, with_map=not args.no_map, network=network)
        _warn(args, exc.partial)
        where = f"\nDiagnosis written to {args.out}/diagnosis.json" if args.out else ""
        _emit(args, exc.to_dict(), f"INFEASIBLE: {exc}{where}", stream=sys.stderr)
        return EXIT_INFEASIBLE
    except SolverError as exc:
        return _failed(args, exc)
    _warn(args, plan)
    if args.out is None:
        _emit(args, plan.to_dict(), _table(plan.summary()), stream=sys.stdout)
        return EXIT_OK
    written = _write(plan, args.out, with_map=not args.no_map, network=network)
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


def _write(
    plan: AssignmentResult, out: Path, *, with_map: bool, network: Any = None
) -> list[Path]:
    """Write the plan's tables, layers, key figures and map into ``out``.

    Tables and layers are for people: names, governorate, tier and agency next to the
    ids, costs in km (or minutes) to 0.1 beside whole metres (or seconds). With
    a road ``network``, assignments are drawn along their road routes.
    """
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / name for name in ("assignments.csv", "garrison_load.csv", "uncovered.csv")]
    for path in paths:
        plan.readable(path.stem).to_csv(path, index=False)
    paths += _write_layers(plan, out, network)
    paths.append(out / "summary.json")
    paths[-1].write_text(json.dumps(plan.summary().to_dict(), indent=2, default=str))
    if with_map:
        paths.append(out / "map.html")
        plan.explore(network=network).save(str(paths[-1]))
    return paths


def _write_layers(plan: AssignmentResult, out: Path, network: Any) -> list[Path]:
    """``plan.geojson`` (assignment lines) and ``plan.gpkg`` (lines, garrisons, uncovered)."""
    lines = gpd.GeoDataFrame(
        plan.readable("assignments"),
        geometry=plan.to_geodataframe(network=network).geometry.to_numpy(),
        crs="EPSG:4326",
    )
    geojson, gpkg = out / "plan.geojson", out / "plan.gpkg"
    lines.to_file(geojson, driver="GeoJSON", engine="pyogrio")
    if gpkg.exists():
        gpkg.unlink()  # a re-run must not keep an old run's layers
    lines.to_file(gpkg, layer="assignments", driver="GPKG", engine="pyogrio")
    for name, points in (
        ("garrison_load", plan.garrison_points),
        ("uncovered", plan.center_points),
    ):
        table = plan.readable(name)
        if len(table):
            key = table.columns[0]
            layer = gpd.GeoDataFrame(
                table, geometry=points.reindex(table[key]).to_numpy(), crs="EPSG:4326"
            )
            layer.to_file(gpkg, layer=name, driver="GPKG", engine="pyogrio")
    return [geojson, gpkg]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
