"""The ``electsec election`` sub-command: both voting days, their timelines and the orders.

It reads the centres of every day (one layer with a ``phase`` column, or the general-day
layer plus ``--special``), plans every day with :func:`electsec.plan_election`, builds
the movement timeline (:func:`electsec.movement_timeline`) and writes into ``--out``::

    summary.csv, election.json, forces_by_day.csv     the days side by side
    <phase>/                                          each day's plan, as 'electsec plan'
    movements.csv, by_hour.csv, late.csv,
    backup_response.csv (with backups),
    timeline_summary.csv, timeline.html               the timeline (and its chart)
    orders/                                           one order per garrison and command
    report.html                                       the election report (offline)

Exit codes as for every command: 0 written, 2 bad input or flags (each named), 3 a day
cannot be covered (``diagnosis.json`` written; with ``--coverage max`` the plans,
timelines and orders are written too, each day's uncovered centres listed in
``<phase>/uncovered.csv`` and on standard error), 4 the solver stopped without a plan.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd

from electsec.errors import InfeasibleError, InputError, Issue
from electsec.io import read_polling_centers
from electsec.service import read_roads

__all__ = ["add_parser", "election_command"]

#: The flag that sets each option of plan_election / movement_timeline (for messages).
_FLAGS = {
    "min_retained": "--min-retained",
    "hold_back": "--hold-back",
    "time_limit_s": "--time-limit",
    "split": "--split",
    "coverage": "--coverage",
    "objective": "--objective",
    "seed": "--seed",
    "k": "--k",
    "max_distance_m": "--max-distance-km/--tier-limit-km",
    "max_time_s": "--max-time-min/--tier-limit-min",
    "backup": "--backup-km/--backup-min",
    "jurisdiction": "--jurisdiction",
    "polls_open": "--polls-open",
    "polls_close": "--polls-close",
    "in_place_min": "--in-place-min",
    "count_min": "--count-min",
    "earliest_departure": "--earliest-departure",
    "speed_kmh": "--speed-kmh",
}
_DEFAULT_SPEED_KMH = 40.0
_EXAMPLE = """\
example:
  electsec election data/sample/centers.geojson data/sample/garrisons.geojson \\
      --special data/sample/special_centers.geojson \\
      --date-special 2025-11-09 --date-general 2025-11-11 --min-retained 0.25 \\
      --split --out out/election
"""


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``election`` to the ``electsec`` command."""
    from electsec import cli  # noqa: PLC0415 - the shared flags live there

    parser = sub.add_parser(
        "election",
        help="plan both voting days, their movement timelines and every unit's orders",
        description="Plan every voting day (special, then general) against the same "
        "garrisons, build each day's movement timeline (departures, arrivals, release, "
        "return) and write the plans, the timelines, one tasking order per garrison and "
        "per command, and an offline report into --out.",
        epilog=_EXAMPLE + "\n" + cli._EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "centers",
        help="polling centres: the general day's layer (with --special), or one layer of "
        "every day with a 'phase' column (special / general)",
    )
    parser.add_argument("garrisons", help="garrisons (capacity; optional command, agency)")
    parser.add_argument(
        "--special", type=Path, default=None, metavar="SPECIAL", help="the special day's centres"
    )
    _day_arguments(parser)
    cli._reach_arguments(parser)
    cli._backup_arguments(parser)
    parser.add_argument(
        "--jurisdiction",
        action="append",
        default=[],
        metavar="AGENCY=GOV[,GOV...]",
        help="as for 'plan' (repeatable)",
    )
    _solve_arguments(parser)
    _timeline_arguments(parser)
    from electsec import cli_transfer  # noqa: PLC0415 - the transfer's flags live there

    cli_transfer.transfer_arguments(parser, required=False)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.add_argument("--no-map", action="store_true", help="skip each day's map.html")
    parser.add_argument(
        "--json", action="store_true", help="print the election as JSON instead of a summary"
    )


def _day_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date-special", metavar="YYYY-MM-DD", help="the special voting day")
    parser.add_argument("--date-general", metavar="YYYY-MM-DD", help="the general voting day")
    parser.add_argument(
        "--date",
        action="append",
        default=[],
        metavar="PHASE=YYYY-MM-DD",
        help="the date of another phase of the centres (repeatable)",
    )
    parser.add_argument(
        "--min-retained",
        default=None,
        metavar="F",
        help="on the special day each garrison keeps this fraction of its teams (they vote; "
        "rounded up), or the name of a garrison column holding it (default 0)",
    )
    parser.add_argument(
        "--hold-back",
        default=None,
        metavar="F",
        help="teams kept out of the general day, as for --min-retained (default none)",
    )


def _solve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--split", action="store_true", help="as for 'plan'")
    parser.add_argument(
        "--objective", choices=("total", "max"), default=None, help="as for 'plan'"
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="S",
        help="seconds for planning every day together (each day gets its share)",
    )
    parser.add_argument("--seed", type=int, default=None, help="search seed (default 0)")
    parser.add_argument(
        "--coverage",
        choices=("full", "max"),
        default="full",
        help="full (default): a day that cannot be fully covered stops with its diagnosis "
        "(exit 3); max: cover as many centres as possible and write every plan, timeline "
        "and order anyway, listing the uncovered centres (exit 3 if any is left)",
    )


def _timeline_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--polls-open", default="07:00", metavar="HH:MM", help="local time (default 07:00)"
    )
    parser.add_argument(
        "--polls-close", default="18:00", metavar="HH:MM", help="local time (default 18:00)"
    )
    parser.add_argument(
        "--in-place-min",
        type=float,
        default=60,
        metavar="MIN",
        help="teams are in place this long before the polls open (default 60)",
    )
    parser.add_argument(
        "--count-min",
        type=float,
        default=120,
        metavar="MIN",
        help="teams are released this long after the polls close (default 120)",
    )
    parser.add_argument(
        "--earliest-departure",
        default=None,
        metavar="HH:MM",
        help="no unit leaves before this time; centres it cannot reach in time are "
        "reported late (default: any time)",
    )
    parser.add_argument(
        "--speed-kmh",
        type=float,
        default=None,
        metavar="KMH",
        help=f"without --roads: travel at this speed over the geodesic distance "
        f"(default {_DEFAULT_SPEED_KMH:g})",
    )


def election_command(args: argparse.Namespace) -> int:
    """Run ``electsec election``; return the exit code."""
    from electsec import cli, cli_transfer  # noqa: PLC0415

    args.command = "election"
    issues = cli._path_issues(args)
    if args.special is not None and not args.special.is_file():
        issues.append(Issue("arguments", "--special", (), f"file not found: {args.special}"))
    options, flag_issues = cli._flag_options(args, roads=args.roads is not None)
    if args.coverage != "full":
        options["coverage"] = args.coverage
    issues += flag_issues + _timeline_issues(args) + cli_transfer.transfer_issues(args)
    centers, phase_issues = _centers(args)
    issues += phase_issues
    dates = _dates(args, list(centers), issues)
    if issues:
        raise InputError(issues)
    roads = None if args.roads is None else read_roads(args.roads, layer=args.roads_layer)
    network = cli._network(roads)
    try:
        election = _plan(args, centers, dates, options, network)
    except InfeasibleError as exc:
        cli._write_diagnosis(args.out, exc)
        cli._emit(args, exc.to_dict(), f"INFEASIBLE: {exc}", stream=sys.stderr)
        return cli.EXIT_INFEASIBLE
    timeline = _timeline(args, election, network)
    written = _write(args, election, timeline, network)
    transfer = None
    if args.points is not None:  # the night after the general day, escorted from its timeline
        phase = "general" if "general" in election.days else [*election.days][-1]
        transfer = cli_transfer.run_transfer(args, election, timeline, network, phase)
        written += cli_transfer.write_transfer(transfer, args.out / "transfer")
    text = election.summary().T.to_string() + "\n\n" + timeline.summary().T.to_string()
    if transfer is not None:
        text += "\n\nballot transfer:\n" + transfer.summary().to_string()
    text += "\n\nwritten:\n"
    text += "\n".join(f"  {p}" for p in written)
    data = {**election.to_dict(), "written": [str(p) for p in written]}
    if transfer is not None:
        data["transfer"] = transfer.summary().to_dict()
    cli._emit(args, data, text, stream=sys.stdout)
    partial = _warn_uncovered(args, election)
    if transfer is not None and len(transfer.dropped):  # the plan is written; say what is not
        sys.stderr.write(f"WARNING: {len(transfer.dropped)} centres dropped from the transfer; "
                         "see transfer/dropped.csv\n")  # fmt: skip
        return cli.EXIT_INFEASIBLE
    return cli.EXIT_INFEASIBLE if partial else cli.EXIT_OK


def _warn_uncovered(args: argparse.Namespace, election: Any) -> bool:
    """List each day's uncovered centres on stderr (``--coverage max``); True if any."""
    partial = False
    for phase, plan in election.days.items():
        ids = [str(i) for i in plan.uncovered["center_id"]]
        if not ids:
            continue
        partial = True
        shown = ", ".join(ids[:20]) + (f", … ({len(ids)} in all)" if len(ids) > 20 else "")
        sys.stderr.write(
            f"WARNING: the {phase} day leaves {len(ids)} centres uncovered "
            f"(see {args.out / phase / 'uncovered.csv'}): {shown}\n"
        )
    return partial


def _timeline_issues(args: argparse.Namespace) -> list[Issue]:
    """Refuse timeline flags that cannot apply, naming each flag."""
    issues = []
    if args.roads is not None and args.speed_kmh is not None:
        message = "travel times come from --roads; drop --speed-kmh (it is for geodesic travel)"
        issues.append(Issue("arguments", "--speed-kmh", (), message))
    if args.speed_kmh is not None and not args.speed_kmh > 0:
        issues.append(Issue("arguments", "--speed-kmh", (), f"must be > 0, got {args.speed_kmh}"))
    for flag in ("--in-place-min", "--count-min"):
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        if not value >= 0:
            issues.append(Issue("arguments", flag, (), f"must be ≥ 0 minutes, got {value}"))
    clocks = {}
    for flag in ("--polls-open", "--polls-close", "--earliest-departure"):
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        if value is None:
            continue
        clocks[flag] = _clock(value)
        if clocks[flag] is None:
            message = f"must be a time of day HH:MM, e.g. 07:00, got {value!r}"
            issues.append(Issue("arguments", flag, (), message))
    opens, closes = clocks.get("--polls-open"), clocks.get("--polls-close")
    if opens is not None and closes is not None and closes <= opens:
        message = f"the polls must close after they open ({args.polls_open})"
        issues.append(Issue("arguments", "--polls-close", (), message))
    return issues


def _clock(text: str) -> dt.time | None:
    try:
        return dt.time.fromisoformat(text.strip()) if len(text.strip()) in (4, 5) else None
    except ValueError:
        return None


def _centers(
    args: argparse.Namespace,
) -> tuple[dict[str, gpd.GeoDataFrame], list[Issue]]:
    """Each day's centres: CENTERS (general) and --special, or CENTERS split by phase."""
    issues: list[Issue] = []
    layers = {}
    sources = (("special", args.special), ("general", args.centers))
    for phase, source in sources if args.special is not None else (("", args.centers),):
        try:
            layers[phase] = read_polling_centers(source)
        except InputError as exc:
            issues += exc.issues
    if args.special is not None or "" not in layers:
        return layers, issues
    layer = layers.pop("")
    if "phase" not in layer.columns:
        message = (
            "CENTERS has no 'phase' column: give the special day's centres with --special "
            "SPECIAL, or one layer of every day with a phase column (special / general)"
        )
        return {}, [*issues, Issue("arguments", "--special", (), message)]
    phase = layer["phase"].astype(str).str.strip()
    for name in dict.fromkeys(phase):
        layers[name] = layer[(phase == name).to_numpy()]
    return layers, issues


def _dates(args: argparse.Namespace, phases: list[str], issues: list[Issue]) -> dict[str, dt.date]:
    """Each day's date from --date-special, --date-general and --date PHASE=DATE."""
    given: dict[str, tuple[str, str]] = {}
    for phase in ("special", "general"):
        value = getattr(args, f"date_{phase}")
        if value is not None:
            given[phase] = (f"--date-{phase}", value)
    for item in args.date:
        phase, _, value = item.partition("=")
        given[phase.strip()] = ("--date", value)
    dates = {}
    for phase, (flag, value) in given.items():
        try:
            dates[phase] = dt.date.fromisoformat(value.strip())
        except ValueError:
            message = f"must be a date YYYY-MM-DD, e.g. 2025-11-09, got {value!r}"
            issues.append(Issue("arguments", flag, (), message))
        if phases and phase not in phases:
            message = f"the centres have no {phase!r} day (their days: {', '.join(phases)})"
            issues.append(Issue("arguments", flag, (), message))
    for phase in phases:
        if phase not in given:
            flag = f"--date-{phase}" if phase in ("special", "general") else "--date"
            message = f"give the date of the {phase} day (YYYY-MM-DD): its timeline needs it"
            issues.append(Issue("arguments", flag, (phase,), message))
    return dates


def _fraction_or_column(value: str | None) -> float | str | None:
    """Read a number (a fraction of capacity), else the name of a garrison column."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return value


def _flagged(exc: InputError, dates: Mapping[str, Any]) -> InputError:
    """Return the same problems, each option named by the flag that sets it."""
    issues = []
    for issue in exc.issues:
        column = issue.column
        if issue.table == "arguments" and column in ("dates", "date"):
            known = [p for p in issue.ids if p in dates] or list(dates)
            column = "/".join(f"--date-{p}" for p in known) or "--date"
        elif issue.table == "arguments" and column in _FLAGS:
            column = _FLAGS[column]
        message = issue.message
        for option, flag in _FLAGS.items():  # "min_retained='x' names no column"
            message = message.replace(f"{option}=", f"{flag} ")
        issues.append(dataclasses.replace(issue, column=column, message=message))
    return InputError(issues)


def _plan(
    args: argparse.Namespace,
    centers: Mapping[str, gpd.GeoDataFrame],
    dates: Mapping[str, dt.date],
    options: Mapping[str, Any],
    network: Any,
) -> Any:
    """Plan every day (the flags' options; road travel times with --roads)."""
    import electsec as es  # noqa: PLC0415

    retained = _fraction_or_column(args.min_retained)
    try:
        return es.plan_election(
            dict(centers),
            args.garrisons,
            network,
            min_retained=0.0 if retained is None else retained,
            hold_back=_fraction_or_column(args.hold_back),
            dates=dict(dates),
            **options,
        )
    except InputError as exc:
        raise _flagged(exc, dates) from None


def _timeline(args: argparse.Namespace, election: Any, network: Any) -> Any:
    """Build the movement timeline of every day."""
    import electsec as es  # noqa: PLC0415

    # with --roads the plans are on road travel times: the timeline takes them from there
    speed = None if network is not None else args.speed_kmh or _DEFAULT_SPEED_KMH
    try:
        return es.movement_timeline(
            election,
            speed_kmh=speed,
            polls_open=args.polls_open,
            polls_close=args.polls_close,
            in_place_min=_whole(args.in_place_min),
            count_min=_whole(args.count_min),
            earliest_departure=args.earliest_departure,
        )
    except InputError as exc:
        raise _flagged(exc, election.dates) from None


def _whole(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _write(args: argparse.Namespace, election: Any, timeline: Any, network: Any) -> list[Path]:
    """Write the plans, the timeline, the orders and the report into ``--out``."""
    from electsec import cli  # noqa: PLC0415
    from electsec.orders import write_orders  # noqa: PLC0415

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for phase, plan in election.days.items():
        written += cli._write(plan, out / phase, with_map=not args.no_map, network=network)
    tables = {
        "summary.csv": election.summary(),
        "forces_by_day.csv": election.forces_by_day,
        "movements.csv": timeline.movements,
        "by_hour.csv": timeline.by_hour,
        "late.csv": timeline.late,
        "timeline_summary.csv": timeline.summary(),
    }
    backup = getattr(timeline, "backup_response", None)
    if backup is not None and len(backup):
        tables["backup_response.csv"] = backup
    for name, table in tables.items():
        table.to_csv(out / name, index=name.endswith("summary.csv"))
        written.append(out / name)
    written.append(out / "election.json")
    written[-1].write_text(json.dumps(election.to_dict(), indent=2), encoding="utf-8")
    orders = write_orders(timeline, out / "orders", network=network)
    written += [orders[0], out / "orders" / "garrisons", out / "orders" / "commands"]
    written.append(timeline.chart(out / "timeline.html"))
    written.append(election.report(out / "report.html", network=network))
    return written
