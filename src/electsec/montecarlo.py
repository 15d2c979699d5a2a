"""Monte Carlo robustness: lose random garrisons many times; what stays covered, what breaks.

:func:`robustness` draws ``n`` independent sets of ``lose`` garrisons, solves each loss
warm-started from the base optimum (as :func:`electsec.contingency` does) and sums the
draws up per centre (probability of staying covered), per garrison (how often its loss
came with a shortfall) and per draw (shortfall and worst response). Draw ``k`` takes its
garrisons from the ``k``-th child of ``numpy.random.SeedSequence(seed)``, so the same
seed gives the same draws, and the same result, whatever the executor, worker count or
completion order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from electsec.assign import solve
from electsec.errors import InputError, Issue
from electsec.problem import Instance
from electsec.scenarios import Scenario, _apply_all, _settings, _task
from electsec.solvers.pipeline import Outcome
from electsec.solvers.warm import Solved, WarmBase
from electsec.sweeping import Reference, run_tasks, summary
from electsec.validation import is_number

__all__ = ["Robustness", "robustness"]


@dataclass(frozen=True)
class Robustness:
    """What :func:`robustness` found.

    Attributes
    ----------
    draws
        One row per draw: ``draw, garrisons_lost`` (``+``-joined ids), then the sweep
        columns ``status, teams_short, centers_uncovered, objective,
        objective_change_pct, worst_m`` (or ``worst_s``), ``centers_changed, solve_s``.
    centers
        One row per centre: ``center_id, lon, lat, p_covered`` (share of draws in
        which it kept all its teams), lowest first.
    garrisons
        One row per garrison: ``garrison_id, times_lost, p_short_when_lost`` (share of
        its losses that left teams uncovered), ``mean_short_when_lost`` and
        ``criticality`` (mean teams short when it is lost minus when it is not), most
        critical first.
    seed
        The seed the draws came from.
    """

    draws: pd.DataFrame = field(repr=False)
    centers: pd.DataFrame = field(repr=False)
    garrisons: pd.DataFrame = field(repr=False)
    seed: int = 0

    def __repr__(self) -> str:
        short = int((self.draws["teams_short"].fillna(0) > 0).sum())
        return f"Robustness({len(self.draws)} draws, {short} with teams short, seed={self.seed})"


def robustness(
    base: Instance,
    *,
    n: int,
    lose: int,
    seed: int,
    split: bool = True,
    executor: Any = None,
    progress: bool = False,
    **solve_options: Any,
) -> Robustness:
    """Lose ``lose`` random garrisons, ``n`` times over, and sum up what breaks.

    Parameters
    ----------
    base
        The prepared instance (never modified).
    n
        Number of draws.
    lose
        Garrisons lost in each draw (drawn uniformly without replacement).
    seed
        Seed of the draws (``numpy.random.SeedSequence``); also the solver seed unless
        ``solve_options`` give one.
    split, executor, progress, solve_options
        As for :func:`electsec.run_scenarios`; ``coverage`` defaults to ``"max"``.

    Returns
    -------
    Robustness

    Examples
    --------
    >>> import electsec as es
    >>> base = es.prepare("data/sample/tiny_centers.geojson",
    ...                   "data/sample/tiny_garrisons.geojson")
    >>> found = es.robustness(base, n=20, lose=2, seed=1)
    >>> len(found.draws), len(found.centers) == base.n_centers
    (20, True)
    """
    _check(base, n, lose, seed)
    solve_options.setdefault("coverage", "max")
    solve_options.setdefault("seed", seed)
    settings, limit = _settings(split, solve_options)
    lost = _draws(base.n_garrisons, n, lose, seed)
    ids = np.asarray(base.labels.garrison_ids).astype(str)
    scenarios = [Scenario(f"draw {k}", garrisons_lost=tuple(ids[g])) for k, g in enumerate(lost)]
    edited = _apply_all(base, scenarios)
    warm = WarmBase.build(base)
    ref = Reference.of(solve(base, split=split, **solve_options), base)
    tasks = [
        _task(warm, s.name, e, settings, limit) for s, e in zip(scenarios, edited, strict=True)
    ]
    rows: list[list[Any]] = [[] for _ in tasks]
    covered = np.zeros(base.n_centers, dtype=np.int64)
    found = run_tasks(
        warm, tasks, settings, limit, executor=executor, progress=progress, label="draws"
    )
    for k, solved in found:
        rows[k] = ["+".join(ids[lost[k]]), *summary(str(k), solved, edited[k], ref)[1:]]
        covered += _kept(solved, base)
    return _tables(base, lost, rows, covered, seed)


def _check(base: Instance, n: object, lose: object, seed: object) -> None:
    issues = []
    if not isinstance(base, Instance):
        message = f"must be an Instance from es.prepare(), got {type(base).__name__}"
        issues.append(Issue("arguments", "base", (), message))
    if not is_number(n, integer=True, strict=True):
        issues.append(Issue("arguments", "n", (), f"must be a whole number ≥ 1, got {n!r}"))
    m = base.n_garrisons if isinstance(base, Instance) else 0
    if not (is_number(lose, integer=True) and lose <= m):
        message = f"must be a whole number of garrisons from 0 to {m}, got {lose!r}"
        issues.append(Issue("arguments", "lose", (), message))
    if not (is_number(seed, integer=True) and seed < 2**31):
        issues.append(Issue("arguments", "seed", (), f"must be in [0, 2**31), got {seed!r}"))
    if issues:
        raise InputError(issues)


def _draws(m: int, n: int, lose: int, seed: int) -> list[np.ndarray]:
    """Garrison positions lost in each draw, each from its own child seed (sorted)."""
    children = np.random.SeedSequence(seed).spawn(n)
    return [
        np.sort(np.random.default_rng(c).choice(m, size=lose, replace=False)) for c in children
    ]


def _kept(solved: Solved, base: Instance) -> np.ndarray:
    """1 for each centre that kept all its teams in this draw."""
    out = solved.outcome
    if not isinstance(out, Outcome) or out.unplaced.size:
        return np.zeros(base.n_centers, dtype=np.int64)
    row_center = base.labels.forces.row_center
    short = np.bincount(row_center, weights=out.plan.uncovered, minlength=base.n_centers)
    kept: np.ndarray = (short == 0).astype(np.int64)
    return kept


def _tables(
    base: Instance,
    lost: list[np.ndarray],
    rows: list[list[Any]],
    covered: np.ndarray,
    seed: int,
) -> Robustness:
    worst = "worst_m" if base.unit == "m" else "worst_s"
    columns = ["garrisons_lost", "status", "teams_short", "centers_uncovered", "objective"]
    columns += ["objective_change_pct", worst, "centers_changed", "solve_s"]
    draws = pd.DataFrame(rows, columns=columns)
    draws.insert(0, "draw", np.arange(len(rows)))
    lonlat = base.labels.center_lonlat
    centers = pd.DataFrame(
        {
            "center_id": base.labels.center_ids.astype(str),
            "lon": lonlat[:, 0],
            "lat": lonlat[:, 1],
            "p_covered": covered / max(len(rows), 1),
        }
    ).sort_values("p_covered", kind="stable", ignore_index=True)
    return Robustness(draws, centers, _garrisons(base, lost, draws), seed)


def _garrisons(base: Instance, lost: list[np.ndarray], draws: pd.DataFrame) -> pd.DataFrame:
    m = base.n_garrisons
    hit = np.zeros((len(lost), m), dtype=bool)
    for k, g in enumerate(lost):
        hit[k, g] = True
    short = draws["teams_short"].fillna(0).to_numpy(float)
    times = hit.sum(axis=0)
    when_lost = np.divide(short @ hit, times, out=np.zeros(m), where=times > 0)
    others = len(lost) - times
    when_kept = np.divide(short @ ~hit, others, out=np.zeros(m), where=others > 0)
    p_short = np.divide((short > 0).astype(float) @ hit, times, out=np.zeros(m), where=times > 0)
    table = pd.DataFrame(
        {
            "garrison_id": base.labels.garrison_ids.astype(str),
            "times_lost": times,
            "p_short_when_lost": p_short,
            "mean_short_when_lost": when_lost,
            "criticality": when_lost - when_kept,
        }
    )
    order = ["criticality", "p_short_when_lost"]
    return table.sort_values(order, ascending=False, kind="stable", ignore_index=True)
