"""General GAP benchmarks: OR-Library gap1-12 and A-D, Yagiura C/D/E (issue 3, item 5).

Reads the instances and best-known values from ``../shared/benchmarks/gap`` (relative to
the repository root; never copied into the repo). For every instance it runs
``solve_gap`` of ``gap_solver.py`` (next to this script) with ``--time-limit`` seconds and
``--workers`` CP-SAT workers, checks the plan independently (every job once, capacities
respected, objective recomputed) and prints the objective, the best known value
(``min_best_ub`` for min, ``max_opt_orlib`` for max), % worse than best known, the proven
bound and gap, time and status. ``--baseline PATTERN`` also runs the plain CP-SAT model
(the same model, no hint, no LP, no LNS) for ``--baseline-time-limit`` seconds on the
matching instances, side by side. A summary per family closes the output.

Examples (from the repository root)::

    .venv/bin/python benchmarks/bench_gap.py --only 'gap*'                  # gap1-12, max
    .venv/bin/python benchmarks/bench_gap.py --only 'gap*' --sense both
    .venv/bin/python benchmarks/bench_gap.py --only 'gap[abcd].txt' --time-limit 20
    .venv/bin/python benchmarks/bench_gap.py --only 'd201600,e801600' --baseline '*'
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import hashlib
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from gap_solver import GapInstance, read_gap_instances, solve_gap  # noqa: E402

from electsec.errors import ElectsecError  # noqa: E402

DATA = ROOT.parent / "shared" / "benchmarks" / "gap"


def family(row: dict[str, str]) -> str:
    if row["instance"].startswith("gap"):
        return "gap1-12"
    if row["file"].startswith("gap"):  # gapa.txt ... gapd.txt (OR-Library, Chu & Beasley)
        return f"{row['instance'][0].upper()} (OR-Lib)"
    return f"{row['instance'][0].upper()} (Yagiura)"


def matches(row: dict[str, str], patterns: list[str]) -> bool:
    """Match ``name`` or ``file:name`` (e.g. ``gapd.txt:*``, ``yagiura/*``)."""
    keys = (row["instance"], f"{row['file']}:{row['instance']}", row["file"])
    return any(fnmatch.fnmatch(k, p) for k in keys for p in patterns)


def load_rows(data: Path) -> list[dict[str, str]]:
    with (data / "known_values.csv").open() as fh:
        return list(csv.DictReader(fh))


_CACHE: dict[str, list[GapInstance]] = {}


def instance(data: Path, row: dict[str, str]) -> GapInstance:
    if row["file"] not in _CACHE:
        _CACHE[row["file"]] = read_gap_instances(data / row["file"])
    return _CACHE[row["file"]][int(row["index"]) - 1]


def best_known(row: dict[str, str], sense: str) -> int | None:
    value = row["min_best_ub"] if sense == "min" else row["max_opt_orlib"]
    return int(value) if value else None


def check(inst: GapInstance, assign: np.ndarray, objective: int) -> str:
    """Independent check: each job once at a valid agent, capacities, objective."""
    m, n = inst.cost.shape
    if assign.shape != (n,) or assign.min() < 0 or assign.max() >= m:
        return "bad assignment vector"
    jobs = np.arange(n)
    load = np.bincount(assign, weights=inst.weight[assign, jobs], minlength=m)
    if (load > inst.capacity).any():
        return f"capacity exceeded at agents {np.flatnonzero(load > inst.capacity).tolist()}"
    if int(inst.cost[assign, jobs].sum()) != objective:
        return "objective mismatch"
    return "ok"


def worse_pct(objective: int, best: int | None, sense: str) -> float | None:
    if best is None:
        return None
    diff = objective - best if sense == "min" else best - objective
    return 100.0 * diff / abs(best)


def run_side(
    inst: GapInstance, sense: str, method: str, time_limit: float, workers: int, seed: int
) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        sol = solve_gap(
            inst.cost,
            inst.weight,
            inst.capacity,
            sense=sense,  # type: ignore[arg-type]
            time_limit_s=time_limit,
            seed=seed,
            num_workers=workers,
            method=method,  # type: ignore[arg-type]
        )
    except ElectsecError as exc:
        return {"error": f"{type(exc).__name__}: {exc}", "time": time.perf_counter() - started}
    return {
        "objective": sol.objective,
        "bound": sol.bound,
        "gap": sol.gap,
        "status": sol.status,
        "time": time.perf_counter() - started,
        "check": check(inst, sol.assignment, sol.objective),
    }


def _digest(*paths: Path) -> str:
    """sha256 prefix of the solver's sources, in order."""
    h = hashlib.sha256()
    for path in paths:
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument(
        "--only",
        default="*",
        help="comma-separated fnmatch patterns on the name, the file or 'file:name'",
    )
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--sense", choices=["default", "min", "max", "both"], default="default")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--baseline", default="", help="fnmatch patterns of instances that also run plain CP-SAT"
    )
    parser.add_argument("--baseline-time-limit", type=float, default=30.0)
    args = parser.parse_args(argv)
    if not (args.data / "known_values.csv").exists():
        print(f"no GAP data at {args.data}")
        return 1
    patterns = [p.strip() for p in args.only.split(",") if p.strip()]
    base_patterns = [p.strip() for p in args.baseline.split(",") if p.strip()]
    rows = [r for r in load_rows(args.data) if matches(r, patterns)]

    digest = _digest(ROOT / "benchmarks" / "gap_solver.py", ROOT / "src/electsec/solvers/cpsat.py")
    print(f"# bench_gap  {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}")
    print(
        f"gap_solver.py + cpsat.py sha256 {digest}, python {platform.python_version()}, "
        f"{os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f}, "
        f"time limit {args.time_limit:g} s, workers {args.workers}, seed {args.seed}, "
        f"baseline {args.baseline_time_limit:g} s on {args.baseline or 'none'}"
    )
    print()
    print(
        "| instance | sense | m×n | best known | electsec | % worse | bound | proven gap % "
        "| time s | status | check | plain CP-SAT | % worse | time s | load |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|")
    results: list[dict[str, Any]] = []
    for row in rows:
        senses = {"default": [row["default_sense"]], "both": ["min", "max"]}.get(
            args.sense, [args.sense]
        )
        inst = instance(args.data, row)
        for sense in senses:
            best = best_known(row, sense)
            res = run_side(inst, sense, "lns", args.time_limit, args.workers, args.seed)
            res.update(name=row["instance"], sense=sense, best=best, family=family(row))
            res["worse"] = worse_pct(res["objective"], best, sense) if "objective" in res else None
            base: dict[str, Any] = {}
            if base_patterns and matches(row, base_patterns):
                base = run_side(
                    inst, sense, "cpsat", args.baseline_time_limit, args.workers, args.seed
                )
                if "objective" in base:
                    base["worse"] = worse_pct(base["objective"], best, sense)
            res["base"] = base
            results.append(res)
            m, n = inst.cost.shape
            if "error" in res:
                main_cols = f"{res['error']} | - | - | - | {res['time']:.1f} | error | - "
            else:
                main_cols = (
                    f"{res['objective']} | {fmt(res['worse'], '.3f')} | {res['bound']} | "
                    f"{100 * res['gap']:.3f} | {res['time']:.1f} | {res['status']} | "
                    f"{res['check']} "
                )
            if not base:
                base_cols = "- | - | -"
            elif "error" in base:
                base_cols = f"{base['error'][:40]} | - | {base['time']:.1f}"
            else:
                base_cols = (
                    f"{base['objective']} | {fmt(base['worse'], '.2f')} | {base['time']:.1f}"
                )
            print(
                f"| {row['instance']} | {sense} | {m}×{n} | {fmt(best, 'd')} | {main_cols}| "
                f"{base_cols} | {os.getloadavg()[0]:.2f} |",
                flush=True,
            )
    summarize(results)
    return 0


def summarize(results: list[dict[str, Any]]) -> None:
    print()
    print(
        "| family | sense | instances | proven optimal | = best known | mean % worse "
        "| max % worse | mean time s | plain CP-SAT: n, mean % worse, max % worse |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    keys = sorted({(r["family"], r["sense"]) for r in results})
    for fam, sense in keys:
        group = [r for r in results if (r["family"], r["sense"]) == (fam, sense)]
        ok = [r for r in group if "objective" in r]
        worse = [r["worse"] for r in ok if r["worse"] is not None]
        optimal = sum(r["status"] == "optimal" for r in ok)
        hit = sum(w <= 0 for w in worse)
        bases = [r["base"]["worse"] for r in group if r["base"].get("worse") is not None]
        base_txt = (
            f"{len(bases)}, {np.mean(bases):.2f}, {max(bases):.2f}"
            if bases
            else f"{sum(bool(r['base']) for r in group)} run, none solved"
            if any(r["base"] for r in group)
            else "-"
        )
        errors = len(group) - len(ok)
        err_txt = f" ({errors} errors)" if errors else ""
        print(
            f"| {fam} | {sense} | {len(group)}{err_txt} | {optimal} | {hit} | "
            f"{fmt(float(np.mean(worse)) if worse else None, '.3f')} | "
            f"{fmt(max(worse) if worse else None, '.3f')} | "
            f"{np.mean([r['time'] for r in group]):.1f} | {base_txt} |"
        )


if __name__ == "__main__":
    raise SystemExit(main())
