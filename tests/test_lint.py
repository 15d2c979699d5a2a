"""The code stays ruff-clean and mypy --strict clean (the style the project keeps)."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603


@pytest.mark.skipif(
    shutil.which("ruff") is None and not (Path(sys.prefix) / "bin/ruff").exists(),
    reason="ruff is not installed",
)
def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.prefix) / "bin/ruff")
    paths = [p for p in ("src", "tests", "benchmarks", "data/sample") if (ROOT / p).exists()]
    result = _run(ruff, "check", *paths)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean():
    pytest.importorskip("mypy")
    result = _run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


#: Most code lines a function may have (docstring, blank and comment-only lines excluded).
_MAX_CODE_LINES = 60


def _code_lines(function: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> int:
    """Count the non-blank, non-comment lines of a function's body after its docstring."""
    body = function.body
    first = body[0]
    docstring = (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )
    start = (first.end_lineno or first.lineno) + 1 if docstring else first.lineno
    end = function.end_lineno or function.lineno
    stripped = (line.strip() for line in lines[start - 1 : end])
    return sum(1 for line in stripped if line and not line.startswith("#"))


def _function_sizes() -> dict[tuple[str, str], int]:
    """Code lines of every function and method in src/electsec, by (path, qualified name)."""
    sizes = {}
    package = ROOT / "src" / "electsec"
    for path in sorted(package.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        where = path.relative_to(package).as_posix()
        stack: list[tuple[ast.AST, str]] = [(ast.parse(source), "")]
        while stack:
            node, prefix = stack.pop()
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    name = f"{prefix}{child.name}"
                    if not isinstance(child, ast.ClassDef):
                        sizes[where, name] = _code_lines(child, lines)
                    stack.append((child, f"{name}."))
                else:
                    stack.append((child, prefix))
    return sizes


def test_functions_are_short():
    long = {key: size for key, size in _function_sizes().items() if size > _MAX_CODE_LINES}
    assert not long, f"functions over {_MAX_CODE_LINES} code lines: {long}"


def test_solve_assignment_is_a_short_facade():
    """``solve_assignment`` is ``solve(prepare(...))``: its body stays at most 40 lines."""
    assert _function_sizes()["assign.py", "solve_assignment"] <= 40


#: Where code may not reach into a RoadNetwork's private attributes (network.py may).
_NETWORK_CLIENTS = ("src/electsec", "benchmarks")


def _road_network_privates() -> set[str]:
    """The private names of :class:`~electsec.network.RoadNetwork`: methods and attributes."""
    tree = ast.parse((ROOT / "src/electsec/network.py").read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "RoadNetwork")
    names = set()
    for node in ast.walk(cls):
        if isinstance(node, ast.FunctionDef):
            names.add(node.name)
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
        ):
            names.add(node.attr)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def _private_uses(paths: list[Path], privates: set[str]) -> list[str]:
    """``path:line name`` wherever ``something._private`` is read, ``self``/``cls`` aside."""

    def reaches_in(node: ast.Attribute) -> bool:
        own = isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"}
        return node.attr in privates and not own

    return sorted(
        f"{path.name}:{node.lineno} {node.attr}"
        for path in paths
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and reaches_in(node)
    )


def _network_clients() -> list[Path]:
    """Every module of src/electsec and benchmarks but network.py itself."""
    return [
        path
        for where in _NETWORK_CLIENTS
        for path in sorted((ROOT / where).rglob("*.py"))
        if path != ROOT / "src/electsec/network.py"
    ]


def _is_network_module(node: ast.ImportFrom) -> bool:
    """``from electsec.network import ...`` or, inside the package, ``from .network ...``."""
    return node.module == "electsec.network" or (node.level > 0 and node.module == "network")


def _network_private_imports(paths: list[Path]) -> list[str]:
    """``path:line name`` wherever a private name of ``electsec.network`` is imported or read.

    Catches ``from electsec.network import _x`` (aliased or not, relative too) and
    ``network._x`` on a name bound to the module (``from electsec import network``,
    ``import electsec.network as n``, ``electsec.network._x``).
    """

    def private(name: str) -> bool:
        return name.startswith("_") and not name.startswith("__")

    found = []
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        bound = {"electsec.network"}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and _is_network_module(node):
                found += [
                    f"{path.name}:{node.lineno} {a.name}" for a in node.names if private(a.name)
                ]
            elif isinstance(node, ast.ImportFrom) and node.module == "electsec":
                bound |= {a.asname or a.name for a in node.names if a.name == "network"}
            elif isinstance(node, ast.Import):
                bound |= {
                    a.asname for a in node.names if a.name == "electsec.network" and a.asname
                }
        found += [
            f"{path.name}:{node.lineno} {node.attr}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and private(node.attr)
            and ast.unparse(node.value) in bound
        ]
    return sorted(found)


def test_road_network_privates_stay_in_network_py():
    """Other modules use RoadNetwork's public seam (``snap_xy``, ``segments_of``, ...)."""
    privates = _road_network_privates()
    assert {"_snap", "_seg_geom", "_edge_seg", "_seg_a", "_tree"} <= privates
    paths = _network_clients()
    assert len(paths) > 10
    assert _private_uses(paths, privates) == []


def test_network_module_privates_stay_in_network_py():
    """Other modules import only public names of electsec.network (``augmented_graph``, ...)."""
    paths = _network_clients()
    assert ROOT / "src/electsec/closures.py" in paths
    assert ROOT / "benchmarks/bench_network.py" in paths
    assert _network_private_imports(paths) == []


def test_the_network_import_scan_catches_a_private_import(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text(
        "from electsec.network import RoadNetwork, _augmented\n"
        "from electsec.network import _sweep as sweep, shortest_arcs as _sweep\n"
        "from .network import _xy\n"
        "from electsec import network as net\n"
        "import electsec.network\n"
        "from electsec.closures import _sweep\n"
        "\n"
        "def f(x):\n"
        "    net.points_xy(x), net.__name__, x._BATCH_BYTES\n"
        "    return net._BATCH_BYTES, electsec.network._searched_matrix\n",
        encoding="utf-8",
    )
    found = _network_private_imports([planted])
    assert found == [
        "planted.py:1 _augmented",
        "planted.py:10 _BATCH_BYTES",
        "planted.py:10 _searched_matrix",
        "planted.py:2 _sweep",
        "planted.py:3 _xy",
    ]


def test_the_private_scan_catches_a_use(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text(
        "def f(net, after, xy):\n"
        "    s = after._snap(xy)\n"
        "    return net._seg_geom[s.segment], self._snap(xy), net.snap_xy(xy)\n",
        encoding="utf-8",
    )
    found = _private_uses([planted], _road_network_privates())
    assert found == ["planted.py:2 _snap", "planted.py:3 _seg_geom"]
