"""Monte Carlo robustness: lose random garrisons many times; what stays covered, what breaks.

:func:`robustness` draws ``n`` independent sets of ``lose`` garrisons, solves each loss
warm-started from the base optimum (as :func:`electsec.contingency` does) and sums the
draws up per centre (probability of staying covered), per garrison (how often its loss
came with a shortfall) and per draw (shortfall and worst response). With
``capacity_noise=p`` every garrison that is not lost also sends, in each draw, only a
random part of its teams: each of its teams (reserve aside) comes with probability
``1 - p``, independently (binomial thinning). Draw ``k`` takes its garrisons, then its
thinned capacities, from the ``k``-th child of ``numpy.random.SeedSequence(seed)``, so
the same seed gives the same draws, and the same result, whatever the executor, worker
count or completion order.

A draw is an edit of the base's capacities (no instance is built for it), and what
crosses back from a worker is its table row and the centres it left short
(:class:`~electsec.solvers.tally.Tally`), never the plan: with a process pool the base
goes to each worker once (a file each reads on its first draw), with Dask it is
scattered once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from electsec.assign import solve
from electsec.errors import InputError, Issue
from electsec.problem import Instance
from electsec.scenarios import _settings
from electsec.solvers.pipeline import Settings
from electsec.solvers.warm import Edit, WarmBase
from electsec.sweeping import Task, reference, run_tallies, task_key
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
    capacity
        (n, m) int64: the teams each garrison could send in each draw (reserve
        excluded; 0 when lost), in garrison order of the instance.
    """

    draws: pd.DataFrame = field(repr=False)
    centers: pd.DataFrame = field(repr=False)
    garrisons: pd.DataFrame = field(repr=False)
    seed: int = 0
    capacity: np.ndarray | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        short = int((self.draws["teams_short"].fillna(0) > 0).sum())
        return f"Robustness({len(self.draws)} draws, {short} with teams short, seed={self.seed})"


def robustness(
    base: Instance,
    *,
    n: int,
    lose: int = 0,
    seed: int,
    capacity_noise: float = 0.0,
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
    capacity_noise
        Probability ``p`` in [0, 1) that each team of a garrison that is not lost fails
        to come, independently per team and draw: its teams (reserve excluded) are
        ``Binomial(teams, 1 - p)``. 0 (default): capacities as given.
    split, executor, progress, solve_options
        As for :func:`electsec.run_scenarios`; ``coverage`` defaults to ``"max"``. A
        ``concurrent.futures.ProcessPoolExecutor(n)`` spreads the draws over ``n``
        worker processes (``benchmarks/bench_robustness.py --workers n`` measures it).

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
    _check(base, n, lose, seed, capacity_noise)
    solve_options.setdefault("coverage", "max")
    solve_options.setdefault("seed", seed)
    settings, limit = _settings(split, solve_options)
    lost, teams = _draws(base, n, lose, seed, float(capacity_noise))
    capacity = _capacities(base, lost, teams)
    warm = WarmBase.build(base)
    ref = reference(solve(base, split=split, **solve_options), base)
    tasks = [_task(warm, f"draw {k}", c, settings, limit) for k, c in enumerate(capacity)]
    ids = np.asarray(base.labels.garrison_ids).astype(str)
    rows: list[list[Any]] = [[] for _ in tasks]
    covered = np.zeros(base.n_centers, dtype=np.int64)
    found = run_tallies(
        warm, ref, tasks, settings, limit, executor=executor, progress=progress, label="draws"
    )
    for k, tallied in found:
        rows[k] = ["+".join(ids[lost[k]]), *tallied.row]
        if tallied.short_centers is not None:
            covered += 1
            covered[tallied.short_centers] -= 1
    table = _tables(base, lost, rows, covered, seed)
    return dataclasses.replace(table, capacity=np.stack(capacity))


def _capacities(
    base: Instance, lost: list[np.ndarray], teams: list[np.ndarray | None]
) -> list[np.ndarray]:
    """Teams each garrison can send in each draw (reserve excluded; 0 when lost).

    What :class:`~electsec.Scenario` gives a draw's losses and thinned capacities
    (``test_robustness`` holds the two equal), without building an instance per draw.
    """
    out = []
    for g, kept in zip(lost, teams, strict=True):
        capacity = (base.problem.capacity if kept is None else kept).astype(np.int64)
        capacity[g] = 0
        out.append(capacity)
    return out


def _task(
    warm: WarmBase, name: str, capacity: np.ndarray, settings: Settings, limit: float | None
) -> Task:
    same = np.array_equal(capacity, warm.instance.problem.capacity)
    edit = Edit(capacity=None if same else capacity)
    return Task(name, edit, task_key(warm, name, edit, settings, limit))


def _check(base: Instance, n: object, lose: object, seed: object, noise: object) -> None:
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
    if not (is_number(noise) and noise < 1):
        message = f"must be a probability in [0, 1) that a team fails to come, got {noise!r}"
        issues.append(Issue("arguments", "capacity_noise", (), message))
    if issues:
        raise InputError(issues)


def _draws(
    base: Instance, n: int, lose: int, seed: int, noise: float
) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """Per draw, from its own child seed: garrisons lost, then teams kept.

    Lost garrison positions are sorted; kept teams are every garrison's thinned teams
    (reserve excluded), or None without noise.
    """
    available = base.problem.capacity
    lost: list[np.ndarray] = []
    teams: list[np.ndarray | None] = []
    for child in np.random.SeedSequence(seed).spawn(n):
        rng = np.random.default_rng(child)
        lost.append(np.sort(rng.choice(base.n_garrisons, size=lose, replace=False)))
        teams.append(rng.binomial(available, 1.0 - noise) if noise > 0 else None)
    return lost, teams


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
