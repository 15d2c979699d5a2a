"""Outputs recorded before the prepare → solve → label refactor stay identical.

The goldens in ``tests/golden/`` were written by ``python tests/golden_cases.py`` on the
code before the refactor; every case here must reproduce its JSON exactly (timings aside).
"""

import json

import pytest

from golden_cases import CASES, GOLDEN, run


@pytest.mark.parametrize("name", sorted(CASES))
def test_output_is_unchanged(name, tmp_path):
    expected = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    assert run(name, tmp_path) == expected
