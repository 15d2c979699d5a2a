"""The published JSON Schema of electsec's responses (plans, diagnoses, input errors)."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

__all__ = ["SCHEMA_VERSION", "response_schema"]

#: Version of the JSON layout; bumped on any incompatible change.
SCHEMA_VERSION = "1.0"


@cache
def _load() -> str:
    return (files("electsec") / "schemas" / f"response-{SCHEMA_VERSION}.json").read_text()


def response_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) that every ``to_dict()`` response follows.

    Returns
    -------
    dict
        A fresh copy; validate with any JSON Schema library, e.g. ``jsonschema``.

    Examples
    --------
    >>> from electsec.schema import response_schema
    >>> response_schema()["$defs"]["plan"]["properties"]["schema_version"]
    {'const': '1.0'}
    """
    schema: dict[str, Any] = json.loads(_load())
    return schema
