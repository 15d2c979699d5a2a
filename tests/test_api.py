"""The public surface: names, error types, typing marker and a light import."""

from __future__ import annotations

import importlib.resources
import inspect
import json
import subprocess
import sys

import pytest

import electsec as es

#: Heavy or optional packages that ``import electsec`` must not pull in.
NOT_AT_IMPORT = ("matplotlib", "folium", "osmnx", "dask", "distributed", "networkx", "pyvrp")


def test_import_does_not_load_heavy_packages() -> None:
    code = (
        "import json, sys\n"
        "import electsec\n"
        f"banned = {NOT_AT_IMPORT!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in banned)))\n"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(done.stdout) == []


def test_all_names_exist() -> None:
    assert len(es.__all__) == len(set(es.__all__))
    missing = [name for name in es.__all__ if not hasattr(es, name)]
    assert missing == []


def test_documented_api_is_exported() -> None:
    documented = {
        "read_polling_centers",
        "read_garrisons",
        "distance_matrix",
        "solve_assignment",
        "prepare",
        "solve",
        "Instance",
        "AssignmentResult",
        "CostMatrix",
        "ElectsecError",
        "InputError",
        "InfeasibleError",
        "SolverError",
        "Issue",
    }
    assert documented <= set(es.__all__)


def test_public_functions_stay_functions_once_their_modules_load() -> None:
    """A submodule named like a public function must not shadow it after import."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(es.__path__):
        importlib.import_module(f"electsec.{info.name}")
    for name in es.__all__:
        assert not inspect.ismodule(getattr(es, name)), name
    assert callable(es.prepare)
    assert callable(es.solve)


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from electsec import *", namespace)  # noqa: S102 - a fixed statement
    assert set(namespace) - {"__builtins__"} == set(es.__all__)


def test_version_is_a_string() -> None:
    assert isinstance(es.__version__, str)
    assert es.__version__


@pytest.mark.parametrize(
    ("error", "bases"),
    [
        (es.InputError, (es.ElectsecError, ValueError)),
        (es.InfeasibleError, (es.ElectsecError,)),
        (es.SolverError, (es.ElectsecError,)),
        (es.ElectsecError, (Exception,)),
    ],
)
def test_error_hierarchy(error: type[Exception], bases: tuple[type[Exception], ...]) -> None:
    for base in bases:
        assert issubclass(error, base)


@pytest.mark.parametrize("error", [es.InfeasibleError, es.SolverError])
def test_solver_outcomes_are_not_value_errors(error: type[Exception]) -> None:
    assert not issubclass(error, ValueError)


def test_input_error_is_caught_as_value_error() -> None:
    issue = es.Issue("centers", "demand", ("PC1",), "must not be negative")
    with pytest.raises(ValueError, match="PC1"):
        raise es.InputError([issue])


def test_issue_is_frozen() -> None:
    issue = es.Issue("centers", "demand", ("PC1",), "must not be negative")
    with pytest.raises(AttributeError):
        issue.message = "fine"  # type: ignore[misc]


def test_py_typed_is_shipped() -> None:
    marker = importlib.resources.files("electsec").joinpath("py.typed")
    assert marker.is_file()
