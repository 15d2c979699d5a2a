"""Run a sweep's tasks: here, on any :class:`~concurrent.futures.Executor`, or on Dask.

The driver side of :func:`electsec.run_scenarios`, :func:`electsec.contingency` and
:func:`electsec.robustness`. The solved base (:class:`~electsec.solvers.warm.WarmBase`)
goes to the workers once: a Dask ``Client`` (or its ``get_executor()``) scatters it to
every worker; any other executor gets it through a file the workers read once each
(:func:`~electsec.solvers.warm.solve_cached`). Answers come back as they complete, are
checkpointed (:class:`Checkpoint`) and shown on a progress bar when asked.

Dask is never imported here: a client is recognised by its type's module, so
``import electsec`` works without ``distributed`` installed.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import itertools
import os
import pickle
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from electsec.errors import InputError, Issue
from electsec.problem import Instance
from electsec.result import AssignmentResult
from electsec.solvers.pipeline import Settings
from electsec.solvers.tally import Reference, Tally, tally, tally_cached, tally_edit
from electsec.solvers.warm import Edit, Solved, WarmBase, solve_cached, solve_edit

__all__ = [
    "Checkpoint",
    "Reference",
    "Task",
    "answer_key",
    "reference",
    "run_each",
    "run_tallies",
    "run_tasks",
    "summary",
]


def reference(plan: AssignmentResult, instance: Instance) -> Reference:
    """Return the plan a sweep counts changes against, read in ``instance``'s order."""
    table = plan.assignments
    center = pd.Index(instance.labels.center_ids).get_indexer(table["center_id"])
    garrison = pd.Index(instance.labels.garrison_ids).get_indexer(table["garrison_id"])
    teams = table["teams"].to_numpy(np.int64)
    return Reference.from_plan(center, garrison, teams, float(plan.objective), instance)


def summary(name: str, solved: Solved, instance: Instance, ref: Reference) -> list[Any]:
    """One table row of a sweep, from the outcome's arrays (no labelling needed).

    ``scenario, status, teams_short, centers_uncovered, objective, objective_change_pct,
    worst, centers_changed, solve_s`` — the values the labelled plan has.
    """
    return [name, *tally(solved, instance, ref).row]


@dataclass(frozen=True)
class Task:
    """One scenario to solve: its name, its edit and the key its checkpoint files carry."""

    name: str
    edit: Edit
    key: str


def task_key(
    base: WarmBase, name: str, edit: Edit, settings: Settings, limit: float | None
) -> str:
    """Name a task by everything its answer depends on (base, edit, settings, limit)."""
    digest = hashlib.sha256(base.key.encode())
    digest.update(pickle.dumps((name, settings, limit), protocol=4))
    for values in (edit.capacity, edit.demand):
        digest.update(b"-" if values is None else values.tobytes())
    return digest.hexdigest()[:24]


def answer_key(*parts: object) -> str:
    """Name a task solved from scratch by everything its answer depends on (pickled).

    For :func:`run_each` tasks: the edited instance and the solve options, with anything
    that varies between equal runs (a plan's timings) left out by the caller.
    """
    digest = hashlib.sha256(b"electsec-each")
    for part in parts:
        digest.update(pickle.dumps(part, protocol=4))
    return digest.hexdigest()[:24]


class Checkpoint:
    """A folder holding each finished task: its answer (pickle) and its table row (Parquet).

    An interrupted sweep given the same folder again skips the tasks found there: tasks
    are pure, so a stored answer is the answer a new run would compute.

    Parameters
    ----------
    path
        The folder (created when missing).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            message = f"{self.path} exists and is not a folder; give a folder for the checkpoint"
            raise InputError([Issue("arguments", "checkpoint", (), message)])
        self.path.mkdir(parents=True, exist_ok=True)

    def load(self, key: str) -> Any:
        """Return the stored answer of task ``key`` (what :meth:`write` got), or None."""
        file = self.path / f"{key}.pkl"
        if not file.exists():
            return None
        with file.open("rb") as f:
            return pickle.load(f)  # noqa: S301 - written by this class

    def write(self, key: str, answer: object, row: dict[str, Any]) -> None:
        """Store one answer and its row (each file appears whole or not at all).

        The row goes first: a folder never holds an answer without its row.
        """
        _atomic(self.path / f"{key}.parquet", lambda p: pd.DataFrame([row]).to_parquet(p))
        _atomic(self.path / f"{key}.pkl", lambda p: p.write_bytes(pickle.dumps(answer)))

    def table(self) -> pd.DataFrame:
        """Every stored row (in no particular order)."""
        files = sorted(self.path.glob("*.parquet"))
        return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def _atomic(path: Path, write: Callable[[Path], Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    tmp.replace(path)


def run_tasks(
    base: WarmBase,
    tasks: Sequence[Task],
    settings: Settings,
    time_limit_s: float | None,
    *,
    executor: Any = None,
    progress: bool = False,
    label: str = "scenarios",
) -> Iterator[tuple[int, Solved]]:
    """Yield ``(position, answer)`` for every task, in the order they complete.

    Parameters
    ----------
    base
        The solved base, sent to the workers once.
    tasks
        What to solve.
    settings, time_limit_s
        How each task is solved.
    executor
        None (here, in turn), a Dask ``Client`` or its ``get_executor()``, or any
        :class:`concurrent.futures.Executor`.
    progress
        Show a progress bar (on standard error).
    label
        The bar's text.
    """
    job = _Job(solve_edit, solve_cached, (), base.key, "solve")
    return _run(job, base, tasks, settings, time_limit_s, executor, progress=progress, label=label)


def run_tallies(
    base: WarmBase,
    ref: Reference,
    tasks: Sequence[Task],
    settings: Settings,
    time_limit_s: float | None,
    *,
    executor: Any = None,
    progress: bool = False,
    label: str = "scenarios",
) -> Iterator[tuple[int, Tally]]:
    """As :func:`run_tasks`, but each worker sends back only the :class:`Tally` of its answer.

    For sweeps that keep no plans: the base and ``ref`` go to each worker once, and an
    answer crosses back as its row and the centres it left short (bytes, not arrays
    over every demand row); the driver does no per-answer work.
    """
    key = f"{base.key}:{ref.digest}"
    job = _Job(tally_edit, tally_cached, (ref,), key, "tally")
    return _run(job, base, tasks, settings, time_limit_s, executor, progress=progress, label=label)


def run_each(
    run: Callable[..., Any],
    shared: tuple[Any, ...],
    tasks: Sequence[tuple[str, tuple[Any, ...]]],
    *,
    executor: Any = None,
    progress: bool = False,
    label: str = "scenarios",
) -> Iterator[tuple[int, Any]]:
    """Yield ``(position, run(*shared, *args))`` for each ``(key, args)`` task, as they finish.

    For tasks that share no warm base (each carries its own edited instance): ``shared``
    goes to each worker once on Dask (to every task on other executors); a task's own
    arguments travel only when it is submitted, with a few tasks per worker in flight,
    so the driver never queues every instance at once. On Dask each task is named by its
    key and its arguments are on every worker, so a task lost with a worker is run again
    elsewhere.

    Parameters
    ----------
    run
        A pure, picklable function.
    shared
        Its first arguments, the same for every task.
    tasks
        ``(key, args)``: a key naming everything the answer depends on
        (:func:`answer_key`), and the task's own arguments.
    executor, progress, label
        As for :func:`run_tasks`.
    """
    answers: Iterator[tuple[int, Any]]
    if executor is None:
        answers = ((i, run(*shared, *args)) for i, (_, args) in enumerate(tasks))
    elif _dask_client(executor) is not None:
        answers = _each_on_dask(_dask_client(executor), run, shared, tasks)
    else:
        answers = _each_on_executor(executor, run, shared, tasks)
    with _bar(len(tasks), label, show=progress) as advance:
        for found in answers:
            advance()
            yield found


def _each_on_executor(
    executor: cf.Executor,
    run: Callable[..., Any],
    shared: tuple[Any, ...],
    tasks: Sequence[tuple[str, tuple[Any, ...]]],
) -> Iterator[tuple[int, Any]]:
    window = 2 * max(1, int(getattr(executor, "_max_workers", 0) or os.cpu_count() or 1))
    queue = iter(enumerate(tasks))
    pending: dict[cf.Future[Any], int] = {}
    try:
        while True:
            for i, (_, args) in itertools.islice(queue, window - len(pending)):
                pending[executor.submit(run, *shared, *args)] = i
            if not pending:
                return
            done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for future in done:
                yield pending.pop(future), future.result()
    finally:
        for future in pending:
            future.cancel()


#: Times a task the Dask scheduler cancels (its worker died at the wrong moment) is sent again.
_DASK_TRIES = 3


def _each_on_dask(
    client: Any,
    run: Callable[..., Any],
    shared: tuple[Any, ...],
    tasks: Sequence[tuple[str, tuple[Any, ...]]],
) -> Iterator[tuple[int, Any]]:
    from distributed import as_completed  # noqa: PLC0415 - optional dependency

    common = client.scatter(list(shared), broadcast=True, hash=False) if shared else []
    window = 2 * max(1, sum(client.nthreads().values()))
    queue = iter(enumerate(tasks))
    # Each future stays held until its answer is fetched: a finished task whose worker dies
    # before then is recomputed.
    pending: dict[Any, int] = {}

    tries: dict[int, int] = {}

    def submit(i: int, key: str, args: tuple[Any, ...]) -> Any:
        # A task's own arguments travel inside the task, not scattered: the scheduler keeps
        # them, so a task lost with its worker is run again elsewhere (scattered data dies
        # with the worker holding it, and a broadcast stalls on a worker going away).
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Ll]arge.*", category=UserWarning)
            again = f"-{tries[i]}" if tries.get(i) else ""
            future = client.submit(
                run, *common, *args, key=f"electsec-each-{key}{again}", pure=True
            )
        pending[future] = i
        return future

    started = as_completed(  # type: ignore[no-untyped-call]
        [submit(i, *task) for i, task in itertools.islice(queue, window)]
    )
    try:
        for future in started:
            i = pending.pop(future)
            try:
                answer = future.result()
            except CancelledError:  # the scheduler forgot it while a worker died: again
                tries[i] = tries.get(i, 0) + 1
                if tries[i] > _DASK_TRIES:
                    raise
                common = client.scatter(list(shared), broadcast=True, hash=False) if shared else []
                started.add(submit(i, *tasks[i]))  # type: ignore[no-untyped-call]
                continue
            yield i, answer
            for i, task in itertools.islice(queue, 1):
                started.add(submit(i, *task))  # type: ignore[no-untyped-call]
    finally:
        client.cancel(list(pending))
        client.cancel(common)


@dataclass(frozen=True)
class _Job:
    """What a worker runs: here (on the base), or cached (on a file), and its extras."""

    here: Callable[..., Any]
    cached: Callable[..., Any]
    extra: tuple[Any, ...]
    key: str
    kind: str


def _run(
    job: _Job,
    base: WarmBase,
    tasks: Sequence[Task],
    settings: Settings,
    time_limit_s: float | None,
    executor: Any,
    *,
    progress: bool,
    label: str,
) -> Iterator[tuple[int, Any]]:
    if executor is None:
        answers: Iterator[tuple[int, Any]] = (
            (i, job.here(base, *job.extra, t.edit, settings, time_limit_s))
            for i, t in enumerate(tasks)
        )
    elif _dask_client(executor) is not None:
        answers = _on_dask(_dask_client(executor), job, base, tasks, settings, time_limit_s)
    else:
        answers = _on_executor(executor, job, base, tasks, settings, time_limit_s)
    with _bar(len(tasks), label, show=progress) as advance:
        for found in answers:
            advance()
            yield found


def _dask_client(executor: Any) -> Any:
    """Return the ``distributed.Client`` behind ``executor``, or None (no Dask import)."""
    module = type(executor).__module__
    if not module.startswith("distributed"):
        return None
    return getattr(executor, "_client", executor)


def _on_dask(
    client: Any,
    job: _Job,
    base: WarmBase,
    tasks: Sequence[Task],
    settings: Settings,
    time_limit_s: float | None,
) -> Iterator[tuple[int, Any]]:
    """Scatter the base (and the job's extras) to every worker once, then one pure task each.

    Tasks are named by :func:`task_key`, so a task lost with a worker is re-run by the
    scheduler elsewhere with the same answer.
    """
    from distributed import as_completed  # noqa: PLC0415 - optional dependency

    shared = client.scatter([base, *job.extra], broadcast=True, hash=False)
    futures = {
        client.submit(
            job.here,
            *shared,
            t.edit,
            settings,
            time_limit_s,
            key=f"electsec-{job.kind}-{t.key}",
            pure=True,
        ): i
        for i, t in enumerate(tasks)
    }
    try:
        for future in as_completed(futures):  # type: ignore[no-untyped-call]
            yield futures[future], future.result()
    finally:
        client.cancel(list(futures))
        client.cancel(shared)


def _on_executor(
    executor: cf.Executor,
    job: _Job,
    base: WarmBase,
    tasks: Sequence[Task],
    settings: Settings,
    time_limit_s: float | None,
) -> Iterator[tuple[int, Any]]:
    """Write the base (and extras) to a file once; each worker loads it on its first task."""
    with tempfile.TemporaryDirectory(prefix="electsec-sweep-") as folder:
        path = Path(folder) / "base.pkl"
        shared = (base, *job.extra) if job.extra else base
        path.write_bytes(pickle.dumps(shared, protocol=pickle.HIGHEST_PROTOCOL))
        futures = {
            executor.submit(job.cached, job.key, str(path), t.edit, settings, time_limit_s): i
            for i, t in enumerate(tasks)
        }
        try:
            for future in cf.as_completed(futures):
                yield futures[future], future.result()
        finally:
            for future in futures:
                future.cancel()


@contextmanager
def _bar(total: int, label: str, *, show: bool) -> Iterator[Callable[[], None]]:
    """Show a tqdm progress bar on standard error (nothing at all when ``show`` is False).

    ``tqdm.auto`` draws a widget in a Jupyter notebook and a text bar elsewhere.
    """
    if not show:
        yield lambda: None
        return
    from tqdm.auto import tqdm  # noqa: PLC0415 - only when a bar is shown

    with tqdm(total=total, desc=label, file=sys.stderr, unit="scenario") as bar:
        yield lambda: bar.update(1)
