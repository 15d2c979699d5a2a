"""The published JSON Schemas of electsec: requests (what a service sends) and responses.

:func:`request_schema` documents every field of a JSON request (shapes and units);
:func:`check_request` validates a request against it and returns every problem as an
:class:`~electsec.errors.Issue`. The validator is small and driven by the schema itself,
so that a service needs no JSON Schema library at run time; it understands the keywords
the two schemas use (``type``, ``const``, ``enum``, ``properties``, ``required``,
``additionalProperties``, ``items``, ``prefixItems``, ``minItems``, ``maxItems``,
``minProperties``, ``minimum``, ``maximum``, ``exclusiveMinimum``, ``minLength``,
``pattern``, ``oneOf``, ``anyOf`` and local ``$ref``) with draft 2020-12 semantics, and
refuses a schema that uses any other. Numbers must be finite (JSON has no NaN).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from functools import cache
from importlib.resources import files
from typing import Any

from electsec.errors import Issue, did_you_mean

__all__ = [
    "SCHEMA_VERSION",
    "check",
    "check_request",
    "election_schema",
    "request_schema",
    "response_schema",
    "transfer_schema",
]

#: Version of the JSON layout; bumped on any incompatible change.
SCHEMA_VERSION = "1.0"

#: Keywords that only annotate (never fail a value).
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "default", "examples", "$defs"}
)
_Path = tuple[str | int, ...]
#: A problem: where, what is wrong, and the value found (None when not worth showing).
_Error = tuple[_Path, str, str | None]
_JSON_TYPES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


#: The keywords :func:`_scalar_errors` checks.
_SCALAR_KEYWORDS = frozenset(
    {"const", "enum", "minimum", "maximum", "exclusiveMinimum", "minLength", "pattern"}
)
#: The Python types of the JSON types other than numbers.
_PYTHON_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


@cache
def _load(kind: str) -> str:
    return (files("electsec") / "schemas" / f"{kind}-{SCHEMA_VERSION}.json").read_text()


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
    schema: dict[str, Any] = json.loads(_load("response"))
    return schema


def election_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of ``plan_election(...).to_dict()``.

    The file ``schemas/election-1.0.json`` refers to the plan of each day as
    ``#/$defs/plan``; the definitions of :func:`response_schema` are added here, so
    the schema returned is self-contained (any JSON Schema library, or :func:`check`).

    Returns
    -------
    dict
        A fresh copy.

    Examples
    --------
    >>> from electsec.schema import election_schema
    >>> election_schema()["properties"]["kind"]
    {'const': 'election'}
    >>> "plan" in election_schema()["$defs"]
    True
    """
    schema: dict[str, Any] = json.loads(_load("election"))
    schema["$defs"] = {**response_schema()["$defs"], **schema.get("$defs", {})}
    return schema


def transfer_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of ``plan_transfer(...).to_dict()``.

    Returns
    -------
    dict
        A fresh copy (self-contained).

    Examples
    --------
    >>> from electsec.schema import transfer_schema
    >>> transfer_schema()["properties"]["kind"]
    {'const': 'transfer'}
    """
    schema: dict[str, Any] = json.loads(_load("transfer"))
    return schema


def request_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of a request (``electsec plan -``).

    A request is ``{"centers", "garrisons", "roads"?, "options"?, "schema_version"?}``:
    layers as inline GeoJSON FeatureCollections (or files inside the operator's data
    directory), and ``options`` the keyword arguments of
    :func:`electsec.solve_assignment`, with units in their names (metres, seconds).

    Returns
    -------
    dict
        A fresh copy; every property has a ``description``.

    Examples
    --------
    >>> from electsec.schema import request_schema
    >>> sorted(request_schema()["required"])
    ['centers', 'garrisons']
    >>> request_schema()["$defs"]["options"]["properties"]["time_limit_s"]["type"]
    ['number', 'null']
    """
    schema: dict[str, Any] = json.loads(_load("request"))
    return schema


def check_request(request: object) -> list[Issue]:
    """Validate a decoded JSON request against :func:`request_schema`.

    Parameters
    ----------
    request
        The request, as ``json.load`` returns it.

    Returns
    -------
    list of Issue
        Every problem (empty when the request is valid). Problems repeated over features
        are reported once, with the feature positions as ``ids``; an unknown option is
        named with the closest known ones.

    Examples
    --------
    >>> from electsec.schema import check_request
    >>> for issue in check_request({"centers": [], "garrisons": {}, "option": {}}):
    ...     print(issue)  # doctest: +NORMALIZE_WHITESPACE
    request.centers: must be a FeatureCollection of centres or a file path (see the
      schema), got an array
    request.garrisons: must be a FeatureCollection of garrisons or a file path (see the
      schema), got an object
    request: unknown field 'option' (known: 'centers', 'garrisons', 'options', 'roads',
      'schema_version'; did you mean 'options'?)
    """
    return check(request, request_schema(), table="request")


def check(value: object, schema: Mapping[str, Any], *, table: str) -> list[Issue]:
    """Validate ``value`` against ``schema`` (the subset of keywords listed above).

    Parameters
    ----------
    value
        Decoded JSON.
    schema
        A JSON Schema whose ``$ref`` s point into its own ``$defs``.
    table
        The :attr:`Issue.table` of the problems.

    Returns
    -------
    list of Issue
        Every problem, grouped as :func:`check_request` describes.

    Raises
    ------
    ValueError
        If ``schema`` uses a keyword this validator does not implement.
    """
    found = list(_Validator(schema).errors(value, schema, ()))
    grouped: dict[tuple[str, str], list[int]] = {}
    for path, message, got in found:
        indices = [p for p in path if isinstance(p, int)]
        column = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)[1:]
        if indices:  # the same problem in many features is reported once
            key = (re.sub(r"\[\d+\]", "[*]", column), message)
            grouped.setdefault(key, []).append(indices[0])
        else:
            grouped.setdefault((column, f"{message}, got {got}" if got else message), [])
    return [
        Issue(table, column or None, tuple(dict.fromkeys(ids)), message)
        for (column, message), ids in grouped.items()
    ]


class _Validator:
    """A draft 2020-12 validator for the keywords of electsec's own schemas."""

    _KEYWORDS = frozenset(
        {
            "type", "const", "enum", "properties", "required", "additionalProperties",
            "items", "prefixItems", "minItems", "maxItems", "minProperties", "minimum",
            "maximum", "exclusiveMinimum", "minLength", "pattern", "oneOf", "anyOf", "$ref",
        }
    )  # fmt: skip

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        unknown = sorted(set(_keywords(root)) - self._KEYWORDS - _ANNOTATIONS)
        if unknown:
            msg = f"the schema uses keywords this validator does not implement: {unknown}"
            raise ValueError(msg)

    def errors(self, value: object, schema: Mapping[str, Any], path: _Path) -> Iterator[_Error]:
        """Yield ``(path, message)`` for every way ``value`` breaks ``schema``."""
        if "$ref" in schema:
            yield from self.errors(value, self._resolve(schema["$ref"]), path)
        if "type" in schema and not _is_type(value, schema["type"]):
            yield path, f"must be {_type_text(schema['type'])}", _shown(value)
            return
        if not _SCALAR_KEYWORDS.isdisjoint(schema):
            yield from _scalar_errors(value, schema, path)
        if "oneOf" in schema or "anyOf" in schema:
            yield from self._choice_errors(value, schema, path)
        if isinstance(value, dict):
            yield from self._object_errors(value, schema, path)
        if isinstance(value, list):
            yield from self._array_errors(value, schema, path)

    def _resolve(self, ref: str) -> Mapping[str, Any]:
        if not ref.startswith("#/"):
            msg = f"only local references are supported, got {ref!r}"
            raise ValueError(msg)
        node: Any = self.root
        for part in ref[2:].split("/"):
            node = node[part]
        resolved: Mapping[str, Any] = node
        return resolved

    def _choice_errors(
        self, value: object, schema: Mapping[str, Any], path: _Path
    ) -> Iterator[_Error]:
        one = "oneOf" in schema
        branches = [self._resolved(b) for b in schema["oneOf" if one else "anyOf"]]
        failures = [list(self.errors(value, b, path)) for b in branches]
        matched = sum(not f for f in failures)
        if matched == 1 or (matched > 1 and not one):
            return
        if matched > 1:
            yield path, "matches more than one of the allowed forms", None
            return
        fitting = [i for i, b in enumerate(branches) if self._fits(value, b)]
        if len(fitting) == 1:  # the value meant this form: say what is wrong with it
            yield from failures[fitting[0]]
            return
        forms = " or ".join(str(b.get("title", _type_text(b.get("type", "?")))) for b in branches)
        yield path, f"must be {forms} (see the schema)", _shown(value)

    def _fits(self, value: object, schema: Mapping[str, Any]) -> bool:
        """Whether ``value`` has the branch's type and carries its required fields."""
        schema = self._resolved(schema)
        if "type" in schema and not _is_type(value, schema["type"]):
            return False
        if "oneOf" in schema or "anyOf" in schema:
            branches = schema.get("oneOf", schema.get("anyOf", []))
            return any(self._fits(value, b) for b in branches)
        required = schema.get("required", ())
        return not isinstance(value, dict) or all(name in value for name in required)

    def _resolved(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in schema and len(schema) == 1:
            schema = self._resolve(schema["$ref"])
        return schema

    def _object_errors(
        self, value: dict[str, Any], schema: Mapping[str, Any], path: _Path
    ) -> Iterator[_Error]:
        properties = schema.get("properties", {})
        for name in schema.get("required", ()):
            if name not in value:
                yield path, f"needs the field {name!r}", None
        if len(value) < schema.get("minProperties", 0):
            yield path, f"needs at least {schema['minProperties']} field(s)", None
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                yield from self.errors(item, properties[name], (*path, name))
            elif extra is False:
                what = "option" if path[-1:] == ("options",) else "field"
                yield path, f"unknown {what} {name!r} ({did_you_mean(name, properties)})", None
            elif isinstance(extra, Mapping):
                yield from self.errors(item, extra, (*path, name))

    def _array_errors(
        self, value: list[Any], schema: Mapping[str, Any], path: _Path
    ) -> Iterator[_Error]:
        if len(value) < schema.get("minItems", 0):
            yield path, f"needs at least {schema['minItems']} item(s)", str(len(value))
        if len(value) > schema.get("maxItems", math.inf):
            yield path, f"takes at most {schema['maxItems']} item(s)", str(len(value))
        prefix = schema.get("prefixItems", [])
        for index, item in enumerate(value):
            sub = prefix[index] if index < len(prefix) else schema.get("items")
            if sub is not None:
                yield from self.errors(item, sub, (*path, index))


def _scalar_errors(value: object, schema: Mapping[str, Any], path: _Path) -> Iterator[_Error]:
    """``const``, ``enum``, the bounds of numbers and the length or pattern of strings."""
    if "const" in schema and not _equal(value, schema["const"]):
        yield path, f"must be {schema['const']!r}", _shown(value)
    if "enum" in schema and not any(_equal(value, e) for e in schema["enum"]):
        yield path, f"must be one of {', '.join(map(repr, schema['enum']))}", _shown(value)
    if _is_type(value, "number"):
        number = float(value)  # type: ignore[arg-type]
        if "minimum" in schema and number < schema["minimum"]:
            yield path, f"must be ≥ {schema['minimum']}", _shown(value)
        if "maximum" in schema and number > schema["maximum"]:
            yield path, f"must be ≤ {schema['maximum']}", _shown(value)
        if "exclusiveMinimum" in schema and number <= schema["exclusiveMinimum"]:
            yield path, f"must be > {schema['exclusiveMinimum']}", _shown(value)
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            yield path, "must not be empty", None
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            yield path, f"must match {schema['pattern']!r}", _shown(value)


def _keywords(schema: object) -> Iterator[str]:
    """Every keyword used anywhere in a schema (property names are not keywords)."""
    if isinstance(schema, list):
        for item in schema:
            yield from _keywords(item)
    if not isinstance(schema, Mapping):
        return
    for key, sub in schema.items():
        yield key
        if key in ("properties", "$defs"):
            for item in sub.values():
                yield from _keywords(item)
        elif key not in ("const", "enum", "default", "examples", "required"):
            yield from _keywords(sub)


def _is_type(value: object, kind: str | list[str]) -> bool:
    if isinstance(kind, list):
        return any(_is_type(value, k) for k in kind)
    if kind in {"number", "integer"}:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if isinstance(value, int):
            return True
        return math.isfinite(value) and (kind == "number" or value.is_integer())
    return isinstance(value, _PYTHON_TYPES[kind])


def _equal(value: object, expected: object) -> bool:
    """JSON equality: ``1 == 1.0`` but ``True != 1``."""
    if isinstance(value, bool) or isinstance(expected, bool):
        return type(value) is type(expected) and value == expected
    return value == expected


def _type_text(kind: str | list[str]) -> str:
    kinds = kind if isinstance(kind, list) else [kind]
    return " or ".join(_JSON_TYPES.get(k, k) for k in kinds)


def _shown(value: object) -> str:
    if isinstance(value, dict | list):
        return f"{_type_text('object' if isinstance(value, dict) else 'array')}"
    text = json.dumps(value) if _is_json_scalar(value) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_json_scalar(value: object) -> bool:
    return (
        value is None
        or isinstance(value, str | bool | int)
        or (isinstance(value, float) and math.isfinite(value))
    )
