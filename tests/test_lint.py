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
