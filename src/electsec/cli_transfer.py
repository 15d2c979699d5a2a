"""The ``electsec transfer`` sub-command, and the transfer step of ``electsec election``.

``electsec transfer CENTERS GARRISONS --points P --out DIR`` plans the voting day as
``electsec plan`` does, builds its movement timeline (``--date``, polls and count flags as
for ``electsec election``), plans the night's ballot transfer with the timeline's
released teams as escorts (:func:`electsec.plan_transfer`) and writes into ``--out``::

    plan/                                   the day's plan, as 'electsec plan'
    routes.geojson                          one LineString per convoy
    stops.csv, dropped.csv, media.csv,
    escorts.csv, parts.csv                  the transfer's tables
    movements.csv, by_hour.csv              the timeline with the escort legs written in
    manifests/                              one custody CSV and page per convoy
    transfer.json, report.html              the plan as JSON, the offline report

With ``--plan DIR`` the day's plan is read from a folder ``electsec plan --out`` or
``electsec election --out`` wrote (``--phase`` picks an election's day, default general;
:func:`electsec.saved_plan.read_plan`) instead of solved again.

``electsec election ... --points P`` runs the same step after the general day, into
``--out``/transfer. Exit codes: 0 written, 2 bad input or flags (each named), 3 the day
cannot be covered (diagnosis written) or centres were dropped from the transfer (the
plan is written, ``dropped.csv`` says why), 4 the solver stopped without a plan.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from electsec.errors import InfeasibleError, InputError, Issue

__all__ = ["add_parser", "transfer_arguments", "transfer_command", "write_transfer"]

#: The flag that sets each option of plan_transfer (for messages).
FLAGS = {
    "points": "--points",
    "boxes": "--boxes",
    "ready_at": "--ready-at",
    "max_route_min": "--max-route-min",
    "media_deadline_min": "--media-deadline-min",
    "time_limit_s": "--transfer-time-limit",
    "max_iterations": "--max-iterations",
    "vehicles": "--vehicles-per-team/--boxes-per-vehicle",
    "vehicles_per_team": "--vehicles-per-team",
    "boxes_per_vehicle": "--boxes-per-vehicle",
    "seed": "--seed",
}
_EXAMPLE = """\
example:
  electsec transfer data/sample/tiny_centers.geojson data/sample/tiny_garrisons.geojson \\
      --points data/sample/collection_points.geojson --date 2025-11-11 --split \\
      --out out/transfer
"""


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``transfer`` to the ``electsec`` command."""
    from electsec import cli, cli_election  # noqa: PLC0415 - the shared flags live there

    parser = sub.add_parser(
        "transfer",
        help="plan the night's escorted ballot transfer to the warehouses and the tally",
        description="Plan the voting day as 'plan' does, build its movement timeline, "
        "then route the convoys that collect every centre's ballot boxes after the count "
        "to its governorate's warehouse, escorted by the teams the timeline releases, and "
        "the result media to the tally centre; write routes, stops, drops, media, "
        "custody manifests and an offline report into --out.",
        epilog=_EXAMPLE + "\n" + cli._EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("centers", help="polling centres (center_id, demand, governorate)")
    parser.add_argument("garrisons", help="garrisons (garrison_id, capacity)")
    cli._reach_arguments(parser)
    cli._backup_arguments(parser)
    parser.add_argument(
        "--jurisdiction", action="append", default=[], metavar="AGENCY=GOV[,GOV...]",
        help="as for 'plan' (repeatable)",
    )  # fmt: skip
    cli_election._solve_arguments(parser)
    parser.add_argument(
        "--date", default=None, metavar="YYYY-MM-DD", help="the voting day (default today)"
    )
    cli_election._timeline_arguments(parser)
    transfer_arguments(parser, required=True)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.add_argument(
        "--plan", type=Path, default=None, metavar="DIR",
        help="read the day's plan from a folder 'electsec plan --out' or 'electsec election "
        "--out' wrote instead of solving it (the layers must be the plan's)",
    )  # fmt: skip
    parser.add_argument(
        "--phase", default=None, metavar="DAY",
        help="with --plan on an election folder: the day (default general)",
    )  # fmt: skip
    parser.add_argument("--no-map", action="store_true", help="skip the plan's map.html")
    parser.add_argument(
        "--json", action="store_true", help="print the transfer as JSON instead of a summary"
    )


def transfer_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """Add the flags of the transfer (``--points`` required or, for election, optional)."""
    parser.add_argument(
        "--points", type=Path, required=required, default=None, metavar="P",
        help="collection points: warehouses, the tally centre, airfields (e.g. "
        "data/sample/collection_points.geojson)" + ("" if required else
        "; runs the ballot transfer after the general day"),
    )  # fmt: skip
    parser.add_argument(
        "--boxes", type=Path, default=None, metavar="CSV",
        help="ballot boxes per centre: a CSV center_id, boxes (default 5 each)",
    )  # fmt: skip
    parser.add_argument(
        "--ready-at", default=None, metavar="HH:MM",
        help="boxes ready at the centres (default: polls close + count, when teams are "
        "released)",
    )  # fmt: skip
    for flag, meta, text in (
        ("--max-route-min", "MIN", "longest convoy route in minutes (default none)"),
        ("--media-deadline-min", "MIN", "media due at the tally this long after --ready-at "
         "(default 360)"),
        ("--transfer-time-limit", "S", "seconds for routing the night (default 60)"),
        ("--vehicles-per-team", "F", "vehicles per team a garrison sent (default 0.5)"),
    ):  # fmt: skip
        parser.add_argument(flag, type=float, default=None, metavar=meta, help=text)
    parser.add_argument(
        "--boxes-per-vehicle", type=int, default=None, metavar="N",
        help="ballot boxes one vehicle carries (default 40)",
    )  # fmt: skip
    parser.add_argument(
        "--max-iterations", type=int, default=None, metavar="N",
        help="stop each part's routing search after N iterations (repeatable routes)",
    )  # fmt: skip


def transfer_command(args: argparse.Namespace) -> int:
    """Run ``electsec transfer``; return the exit code."""
    from electsec import cli, cli_election  # noqa: PLC0415

    args.command, args.data_dir, args.special = "transfer", None, None
    issues = cli._path_issues(args) + transfer_issues(args)
    options, flag_issues = cli._flag_options(args, roads=args.roads is not None)
    issues += flag_issues + cli_election._timeline_issues(args) + _date_issues(args)
    for name, path in (("CENTERS", args.centers), ("GARRISONS", args.garrisons)):
        if not Path(path).is_file():
            issues.append(Issue("arguments", name, (), f"file not found: {path}"))
    if args.phase is not None and args.plan is None:
        issues.append(Issue("arguments", "--phase", (), "applies with --plan only"))
    if issues:
        raise InputError(issues)
    plan, network = _saved(args) if args.plan is not None else _plan(args, options)
    if plan is None:
        return cli.EXIT_INFEASIBLE
    written = cli._write(plan, args.out / "plan", with_map=not args.no_map, network=network)
    timeline = _timeline(args, plan, network)
    tp = run_transfer(args, plan, timeline, network)
    written += write_transfer(tp, args.out)
    return _answer(args, tp, written)


def _date_issues(args: argparse.Namespace) -> list[Issue]:
    if args.date is None:
        return []
    try:
        dt.date.fromisoformat(args.date.strip())
    except ValueError:
        message = f"must be a date YYYY-MM-DD, e.g. 2025-11-11, got {args.date!r}"
        return [Issue("arguments", "--date", (), message)]
    return []


def transfer_issues(args: argparse.Namespace) -> list[Issue]:
    """Refuse transfer flags that cannot apply, naming each flag."""
    issues = []
    for flag in ("--points", "--boxes"):
        path = getattr(args, flag.lstrip("-"))
        if path is not None and not path.is_file():
            issues.append(Issue("arguments", flag, (), f"file not found: {path}"))
    if getattr(args, "points", None) is None:
        given = [f for f, d in _TRANSFER_DESTS.items() if getattr(args, d, None) is not None]
        issues += [Issue("arguments", f, (), "applies with --points only") for f in given]
    for flag in ("--max-route-min", "--media-deadline-min", "--transfer-time-limit",
                 "--vehicles-per-team", "--boxes-per-vehicle", "--max-iterations"):  # fmt: skip
        value = getattr(args, _TRANSFER_DESTS[flag])
        if value is not None and not value > 0:
            issues.append(Issue("arguments", flag, (), f"must be > 0, got {value:g}"))
    if args.ready_at is not None and _minutes(args.ready_at) is None:
        message = f"must be a time of day HH:MM, e.g. 20:00, got {args.ready_at!r}"
        issues.append(Issue("arguments", "--ready-at", (), message))
    return issues


_TRANSFER_DESTS = {
    "--boxes": "boxes",
    "--ready-at": "ready_at",
    "--max-route-min": "max_route_min",
    "--media-deadline-min": "media_deadline_min",
    "--transfer-time-limit": "transfer_time_limit",
    "--vehicles-per-team": "vehicles_per_team",
    "--boxes-per-vehicle": "boxes_per_vehicle",
    "--max-iterations": "max_iterations",
}


def _minutes(text: str) -> int | None:
    """Minutes after midnight of ``HH:MM`` (up to 47:59, the next day), or None."""
    hours, sep, minutes = text.strip().partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        return None
    value = int(hours) * 60 + int(minutes)
    return value if int(minutes) < 60 and value < 48 * 60 else None


def _plan(args: argparse.Namespace, options: dict[str, Any]) -> tuple[Any, Any]:
    """Plan the day as 'electsec plan' (None on an infeasible day: diagnosis written)."""
    from electsec import cli  # noqa: PLC0415
    from electsec.preparation import read_layers  # noqa: PLC0415
    from electsec.service import Request, read_roads, solve_request  # noqa: PLC0415

    centers, garrisons = read_layers(args.centers, args.garrisons)
    roads = None if args.roads is None else read_roads(args.roads, layer=args.roads_layer)
    network = cli._network(roads)
    request = Request(centers, garrisons, roads, options)
    try:
        return solve_request(request, network=network), network
    except InfeasibleError as exc:
        cli._write_diagnosis(args.out, exc)
        cli._emit(args, exc.to_dict(), f"INFEASIBLE: {exc}", stream=sys.stderr)
        return None, network


def _saved(args: argparse.Namespace) -> tuple[Any, Any]:
    """Read the day's plan from ``--plan`` (no solve), and the road network if given."""
    from electsec import cli  # noqa: PLC0415
    from electsec.saved_plan import read_plan  # noqa: PLC0415
    from electsec.service import read_roads  # noqa: PLC0415

    plan = read_plan(args.plan, args.centers, args.garrisons, phase=args.phase)
    roads = None if args.roads is None else read_roads(args.roads, layer=args.roads_layer)
    return plan, cli._network(roads)


def _timeline(args: argparse.Namespace, plan: Any, network: Any) -> Any:
    """Build the day's movement timeline (its released teams escort the convoys)."""
    import electsec as es  # noqa: PLC0415
    from electsec import cli_election  # noqa: PLC0415

    day = dt.date.today() if args.date is None else dt.date.fromisoformat(args.date.strip())
    speed = None if network is not None else args.speed_kmh or cli_election._DEFAULT_SPEED_KMH
    return es.movement_timeline(
        plan,
        date=day,
        speed_kmh=speed,
        polls_open=args.polls_open,
        polls_close=args.polls_close,
        in_place_min=cli_election._whole(args.in_place_min),
        count_min=cli_election._whole(args.count_min),
        earliest_departure=args.earliest_departure,
    )


def run_transfer(
    args: argparse.Namespace, plan: Any, timeline: Any, network: Any, phase: str | None = None
) -> Any:
    """Plan the transfer from the flags, escorted from ``timeline``; flag names in errors."""
    import electsec as es  # noqa: PLC0415

    ready = args.ready_at
    if ready is None:  # when the timeline releases the teams
        close = _minutes(args.polls_close) or 18 * 60
        ready = int(close + float(args.count_min))
    fleet = {
        key: value
        for key, value in (
            ("vehicles_per_team", args.vehicles_per_team),
            ("boxes_per_vehicle", args.boxes_per_vehicle),
        )
        if value is not None
    }
    options = {
        "boxes": None if args.boxes is None else str(args.boxes),
        "vehicles": fleet or None,
        "network": network,
        "ready_at": ready,
        "max_route_min": args.max_route_min,
        "time_limit_s": args.transfer_time_limit or 60.0,
        "seed": 0 if args.seed is None else args.seed,
        "max_iterations": args.max_iterations,
        "phase": phase,
    }
    if args.media_deadline_min is not None:
        options["media_deadline_min"] = args.media_deadline_min
    try:
        return es.plan_transfer(plan, str(args.points), timeline=timeline, **options)
    except InputError as exc:
        raise _flagged(exc) from None


def _flagged(exc: InputError) -> InputError:
    """Return the same problems, each option named by the flag that sets it."""
    issues = []
    for issue in exc.issues:
        column = issue.column
        if issue.table == "arguments" and column in FLAGS:
            column = FLAGS[column]
        elif issue.table in ("points", "collection_points"):
            column = f"--points: {column}" if column else "--points"
        elif issue.table == "boxes":
            column = f"--boxes: {column}" if column else "--boxes"
        issues.append(dataclasses.replace(issue, column=column))
    return InputError(issues)


def write_transfer(tp: Any, out: Path) -> list[Path]:
    """Write the transfer's tables, routes, manifests, JSON and report into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    routes = out / "routes.geojson"
    tp.routes.to_file(routes, driver="GeoJSON", engine="pyogrio")
    written = [routes]
    stops = tp.stops.assign(
        box_ids=tp.stops["box_ids"].map(";".join), seal_ids=tp.stops["seal_ids"].map(";".join)
    )
    tables = {"stops.csv": stops, "dropped.csv": tp.dropped, "media.csv": tp.media}
    tables["parts.csv"] = tp.parts
    if tp.escorts is not None:
        tables["escorts.csv"] = tp.escorts
        tables["movements.csv"] = tp.timeline.movements
        tables["by_hour.csv"] = tp.timeline.by_hour
    for name, table in tables.items():
        table.to_csv(out / name, index=False)
        written.append(out / name)
    manifests = tp.manifests(out / "manifests")
    written += [out / "manifests"] if manifests else []
    written.append(out / "transfer.json")
    written[-1].write_text(json.dumps(tp.to_dict(), indent=2, default=str), encoding="utf-8")
    written.append(tp.report(out / "report.html"))
    return written


def _answer(args: argparse.Namespace, tp: Any, written: list[Path]) -> int:
    """Print the summary (or JSON) and pick the code: 3 when centres were dropped."""
    from electsec import cli  # noqa: PLC0415

    text = tp.summary().to_string() + "\n\nwritten:\n" + "\n".join(f"  {p}" for p in written)
    data = {**tp.to_dict(), "written": [str(p) for p in written]}
    cli._emit(args, data, text, stream=sys.stdout)
    if len(tp.dropped) and not args.json:
        reasons = tp.dropped["reason"].value_counts().to_dict()
        sys.stderr.write(
            f"WARNING: {len(tp.dropped)} centres dropped {reasons}; see dropped.csv\n"
        )
    return cli.EXIT_INFEASIBLE if len(tp.dropped) else cli.EXIT_OK
