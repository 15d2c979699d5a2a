"""Shared helpers for the benchmarks: isolated child processes, peak RSS, bare baselines.

Each side of a comparison runs in its own ``spawn`` child process, so its peak resident
set size (``ru_maxrss``) is its own and not inflated by the other side or by the parent.
The parent also samples the child's RSS with psutil, so a side that is killed on timeout
still reports how much memory it had reached.
"""

from __future__ import annotations

import contextlib
import cProfile
import hashlib
import io
import multiprocessing as mp
import os
import platform
import pstats
import queue
import resource
import subprocess
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

_KB_PER_MB = 1024.0
ROOT = Path(__file__).resolve().parents[1]


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / _KB_PER_MB


def _child(out: Any, fn: Callable[..., dict[str, Any]], args: tuple, kwargs: dict) -> None:
    try:
        profile = kwargs.pop("_profile", 0)
        if profile:
            prof = cProfile.Profile()
            result = prof.runcall(fn, *args, **kwargs)
            text = io.StringIO()
            stats = pstats.Stats(prof, stream=text).sort_stats("cumulative")
            stats.print_stats(profile)
            stats.sort_stats("tottime").print_stats(profile)
            result["profile"] = text.getvalue()
        else:
            result = fn(*args, **kwargs)
        result["peak_rss_mb"] = peak_rss_mb()
        out.put(result)
    except BaseException as exc:  # report every failure to the parent
        out.put({"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()})


def run_isolated(
    fn: Callable[..., dict[str, Any]],
    *args: Any,
    timeout_s: float | None = None,
    profile: int = 0,
    **kwargs: Any,
) -> dict[str, Any]:
    """Run ``fn(*args, **kwargs)`` in a fresh spawned process and return its dict.

    The dict gains ``peak_rss_mb`` (the child's own peak) and ``sampled_rss_mb`` (the
    largest RSS the parent saw while polling). On timeout, a crash or an exception the
    dict has an ``error`` key instead of results. ``profile`` > 0 runs ``fn`` under
    cProfile and adds the top ``profile`` functions as ``profile`` text.
    """
    import psutil

    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    if profile:
        kwargs["_profile"] = profile
    proc = ctx.Process(target=_child, args=(out, fn, args, kwargs))
    started = time.monotonic()
    proc.start()
    handle = psutil.Process(proc.pid)
    sampled = 0.0
    result: dict[str, Any] | None = None
    while result is None:
        try:
            result = out.get(timeout=0.5)
        except queue.Empty:
            with contextlib.suppress(psutil.Error):
                sampled = max(sampled, handle.memory_info().rss / 2**20)
            if not proc.is_alive():
                result = {"error": f"child died with exit code {proc.exitcode}"}
            elif timeout_s is not None and time.monotonic() - started > timeout_s:
                proc.kill()
                result = {"error": f"killed after {timeout_s:.0f} s timeout"}
    proc.join()
    result["sampled_rss_mb"] = sampled
    result.setdefault("peak_rss_mb", sampled)
    return result


def machine() -> str:
    """One line describing the machine the figures come from."""
    import ortools
    import scipy

    return (
        f"{platform.node()} | {os.cpu_count()} cores | {platform.machine()}"
        f" | Python {platform.python_version()} | numpy {np.__version__}"
        f" | scipy {scipy.__version__} | ortools {ortools.__version__}"
        f" | load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


def code_version() -> str:
    """Git commit of the checkout plus a digest of ``src/electsec`` as it is on disk now.

    Others edit ``src/`` while benchmarks run, so each electsec side records this right
    after importing electsec: the digest identifies the exact code that was measured.
    """
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src" / "electsec").rglob("*.py")):
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = "unknown", []
    changed = [d for d in dirty if d.startswith("src/")]
    state = f" + uncommitted {', '.join(changed)}" if changed else ""
    return f"commit {commit}{state}; src digest {digest.hexdigest()[:12]}"


def verdict(ok: Any) -> str:
    """``MET`` or ``MISSED``, for a target check."""
    return "MET" if bool(ok) else "MISSED"


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """Print rows (dicts) as a markdown table with the given columns."""
    cells = [[_fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[k]) for row in cells)) for k, c in enumerate(columns)]
    print("| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |")
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for row in cells:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) + " |")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if np.isnan(value):
            return "-"
        if abs(value) >= 1e5:
            return f"{value:,.0f}"
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    return str(value)


# --- the "bare script" baseline: KD-tree + geodesic + OR-Tools min-cost flow ------------


def unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """3-D unit vectors of lon/lat degrees (for a chord-distance KD-tree)."""
    lo, la = np.radians(lon), np.radians(lat)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def knn_geodesic_arcs(
    center_lonlat: np.ndarray, garrison_lonlat: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The k nearest garrisons of each centre (KD-tree) with exact WGS84 metres (pyproj)."""
    import pyproj
    from scipy.spatial import cKDTree

    tree = cKDTree(unit_vectors(garrison_lonlat[:, 0], garrison_lonlat[:, 1]))
    _, idx = tree.query(unit_vectors(center_lonlat[:, 0], center_lonlat[:, 1]), k=k)
    rows = np.repeat(np.arange(len(center_lonlat), dtype=np.int32), k)
    cols = idx.ravel().astype(np.int32)
    a, b = center_lonlat[rows], garrison_lonlat[cols]
    _, _, dist = pyproj.Geod(ellps="WGS84").inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    return rows, cols, np.asarray(dist, dtype=float)


def bare_min_cost_flow(
    demand: np.ndarray,
    capacity: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    cost_m: np.ndarray,
) -> dict[str, Any]:
    """Split plan by OR-Tools min-cost flow on given arcs; costs rounded to whole metres.

    Network: source → garrison (capacity) → centre (demand) → sink. If the arcs cannot
    carry all demand, the maximum flow at least cost is taken and ``shortfall`` reported.
    """
    from ortools.graph.python import min_cost_flow

    n, m = len(demand), len(capacity)
    src, sink = n + m, n + m + 1
    total = int(demand.sum())
    tails = np.concatenate([cols, np.full(m, src), np.arange(n) + m]).astype(np.int32)
    heads = np.concatenate([rows + m, np.arange(m), np.full(n, sink)]).astype(np.int32)
    caps = np.concatenate([demand[rows], capacity, demand]).astype(np.int64)
    cost = np.rint(cost_m).astype(np.int64)
    costs = np.concatenate([cost, np.zeros(m + n, np.int64)])
    mcf = min_cost_flow.SimpleMinCostFlow()
    mcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    mcf.set_nodes_supplies(np.array([src, sink], np.int32), np.array([total, -total], np.int64))
    if mcf.solve() != mcf.OPTIMAL:
        mcf.solve_max_flow_with_min_cost()
    flow = np.asarray(mcf.flows(np.arange(len(rows), dtype=np.int32)), dtype=np.int64)
    covered = int(flow.sum())
    return {
        "status": "optimal" if covered == total else f"{total - covered:,} teams short",
        "objective": float(flow @ cost),
        "shortfall": total - covered,
        "arcs": len(rows),
    }
