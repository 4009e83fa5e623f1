"""Metadata-only schemas: pydantic v2 models generated from the endpoint catalog.

Each ZenML request model in the catalog becomes a pydantic model whose field types follow
the field's class: bounded strings, bounded user dicts, URIs under configured storage
prefixes. Validation reports violations by JSON path and kind, never quoting a value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Optional, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    create_model,
)
from pydantic_core import PydanticCustomError

from metagate.scanner import jsonpath
from metagate.scanner.catalog import Catalog, Endpoint, FieldSpec
from metagate.scanner.model import Violation


@dataclass(frozen=True, slots=True)
class SchemaLimits:
    name_length: int = 255
    text_length: int = 65_535
    code_length: int = 65_535 * 4          # step source can be long; it is redacted anyway
    log_length: int = 1024 * 1024
    user_dict_depth: int = 16
    user_dict_items: int = 20_000          # dict entries plus list items, whole field
    user_dict_string: int = 65_535
    user_dict_bytes: int = 2 * 1024 * 1024


# --- field types by class -------------------------------------------------------------
#
# Shapes are left to ZenML's own server validation; these types bound what any field can
# carry. A proven class (id, enum, timestamp ...) whose value does not look the part is not
# an error here: the scanner simply scans it (see `proven`). The one exception is a string
# hash field, whose shape is exact (`_digest_check`).


def _bounds_check(limits: SchemaLimits, string_limit: int, uri: bool = False) -> Any:
    """The one Python check of a field's whole value: depth, entries, bytes, string lengths
    and, for URIs, the storage prefixes given with the validation."""

    def check(value: Any, info: ValidationInfo) -> Any:
        prefixes: tuple[str, ...] = (info.context or {}).get("storage_prefixes", ()) if uri else ()
        items = 0
        size = 0
        stack = [(value, 0)]
        while stack:
            node, depth = stack.pop()
            if depth > limits.user_dict_depth:
                raise PydanticCustomError("too_deep", "nested deeper than {limit} levels", {"limit": limits.user_dict_depth})
            if isinstance(node, dict):
                items += len(node)
                for key, child in node.items():
                    size += len(key)
                    stack.append((child, depth + 1))
            elif isinstance(node, list):
                items += len(node)
                stack.extend((child, depth + 1) for child in node)
            elif isinstance(node, str):
                if len(node) > string_limit:
                    raise PydanticCustomError("too_long", "a string longer than {limit} characters", {"limit": string_limit})
                if prefixes and node and not node.startswith(prefixes):
                    raise PydanticCustomError("uri_outside_storage", "URI is outside the configured storage prefixes")
                size += len(node)
            else:
                size += 8
            if items > limits.user_dict_items:
                raise PydanticCustomError("too_large", "more than {limit} entries", {"limit": limits.user_dict_items})
        if size > limits.user_dict_bytes:
            raise PydanticCustomError("too_large", "more than {limit} bytes", {"limit": limits.user_dict_bytes})
        return value

    return check


def _bounded_json(limits: SchemaLimits, string_limit: int, uri: bool = False) -> Any:
    return Annotated[JsonValue, AfterValidator(_bounds_check(limits, string_limit, uri))]


def _native_first(limits: SchemaLimits, string_limit: int) -> Any:
    """What `_bounded_json` accepts, with scalars checked by pydantic-core itself: only a
    container value calls back into Python. For the strict schemas, which only answer
    "clean or not": their errors are never reported (see `validate`)."""
    # Parsed JSON holds only JSON types, so `Any` inside: JsonValue would call a Python
    # discriminator on every node.
    containers = Union[list[Any], dict[str, Any]]
    bounded = Annotated[containers, AfterValidator(_bounds_check(limits, string_limit))]
    return _first_fit(Union[Annotated[str, StringConstraints(max_length=string_limit)], int, float, bool, None, bounded])


def _first_fit(union: Any) -> Any:
    """A union the strict models try member by member, stopping at the first that fits: they
    only answer pass or fail, which does not depend on the order (pydantic's default "smart"
    mode tries every member to pick the best one, which the reporting models need)."""
    return Annotated[union, Field(union_mode="left_to_right")]


def _digest_check(value: Any) -> Any:
    # The shape only (a real digest's bytes are printable more than 75% once in 2,500, and
    # then `proven` has the value scanned, not refused): hex of a digest length, not all digits.
    if value is not None and (len(value) not in _DIGEST_LENGTHS or not _HASH_TEXT.fullmatch(value) or value.isdigit()):
        raise PydanticCustomError("not_a_digest", "a hash field that holds no hex digest")
    return value


# A hash field ZenML declares as a string (content_hash, cache_key, code_hash, checksums) only
# ever holds a digest as `hexdigest()` writes it: anything else there (digits, a name, a
# number) is data in a field no detector can read for context, so it is a violation.
_DIGEST_TYPES = frozenset({"str", "Optional[str]"})


def _leaf_type(spec: FieldSpec, limits: SchemaLimits, strict: bool = False) -> Any:
    cls = spec.field_class
    declared = spec.max_length
    if cls == "hash" and spec.type_repr in _DIGEST_TYPES:
        return Annotated[Optional[str], AfterValidator(_digest_check)]
    if cls == "uri":  # storage prefixes come with each validation, so checked in Python
        return _bounded_json(limits, declared or limits.text_length, uri=True)
    if cls in ("id", "enum", "timestamp", "numeric", "hash", "name", "source_ref", "secret_ref"):
        string_limit = declared or limits.name_length
    elif cls == "free_text":
        string_limit = declared or limits.text_length
    elif cls == "code":
        string_limit = limits.code_length
    elif cls == "log":
        string_limit = limits.log_length
    else:  # user_dict, package_list, value_repr, credential, auth, unknown
        string_limit = limits.user_dict_string
    return _native_first(limits, string_limit) if strict else _bounded_json(limits, string_limit)


def _bounded_scalar(limits: SchemaLimits, string_limit: int) -> Any:
    return Union[Annotated[str, StringConstraints(max_length=string_limit)], int, float, bool, None]


def _split_top(text: str, separators: str) -> list[str]:
    parts, depth, current = [], 0, []
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if depth == 0 and char in separators:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def _parse_type(text: str) -> tuple[str, tuple]:
    """`Optional[Dict[str, List[UUID | Tag]]]` → ("Optional", (("Dict", (("str", ()), ...)),)).
    `A | B` at the top level is a Union."""
    text = text.strip()
    alternatives = _split_top(text, "|")
    if len(alternatives) > 1:
        return ("Union", tuple(_parse_type(a) for a in alternatives))
    if "[" in text and text.endswith("]"):
        head, _, inner = text.partition("[")
        return (head.strip(), tuple(_parse_type(a) for a in _split_top(inner[:-1], ",")))
    return (text, ())


class _Base(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=(), arbitrary_types_allowed=True)


class _StrictBase(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=(), arbitrary_types_allowed=True)


class SchemaSet:
    """Pydantic models for every catalog model, built on first use and cached.

    Two sets: the *reporting* models accept unknown fields and bound every field in one
    Python check, so a failure names each violation and unknown field; the *strict* models
    forbid unknown fields and leave scalars to pydantic-core. A body the strict models accept
    has neither violations nor unknown fields under the reporting ones (they accept the same
    values, and more), so clean traffic is answered by the strict models alone.
    """

    def __init__(self, catalog: Catalog, limits: SchemaLimits | None = None) -> None:
        self.catalog = catalog
        self.limits = limits or SchemaLimits()
        self._models: dict[str, type[BaseModel]] = {}
        self._strict_models: dict[str, type[BaseModel]] = {}
        self._adapters: dict[tuple[str, str, bool], TypeAdapter | None] = {}

    def model(self, name: str, strict: bool = False) -> type[BaseModel]:
        models = self._strict_models if strict else self._models
        if name in models:
            return models[name]
        spec = self.catalog.model(name)
        if spec is None:
            raise KeyError(name)
        base = _StrictBase if strict else _Base
        # Register a forward reference first so recursive models (Step in Step) resolve.
        fields: dict[str, Any] = {}
        models[name] = create_model(name, __base__=base)  # placeholder for recursion
        for field_name, field_spec in spec.fields.items():
            annotation = self._field_type(field_spec, strict)
            fields[field_name] = (Optional[annotation], Field(default=None))
        model = create_model(name, __base__=base, **fields)
        models[name] = model
        return model

    def _field_type(self, spec: FieldSpec, strict: bool) -> Any:
        leaf = _leaf_type(spec, self.limits, strict)
        if not spec.models:
            return leaf
        # Objects must validate as one of the models; containers follow the declared type
        # (`Dict[K, List[UUID | ComponentInfo]]`); scalars are bounded, and ZenML's server
        # checks the rest of the shape.
        scalar = _bounded_scalar(self.limits, spec.max_length or self.limits.name_length)
        return self._from_type(_parse_type(spec.type_repr), set(spec.models), scalar, strict)

    def _from_type(self, node: Any, models: set[str], scalar: Any, strict: bool) -> Any:
        head, args = node
        if head in ("List", "list", "Set", "set", "Tuple", "tuple", "Sequence", "FrozenSet"):
            inner = [a for a in args if a != ("...", ())]
            members = [self._from_type(a, models, scalar, strict) for a in inner] or [scalar]
            # A bare member where a list is declared is ZenML's to refuse (or coerce); ours is
            # to bound it, so both shapes validate here.
            member = self._union(tuple(members), strict) if len(members) > 1 else members[0]
            return self._union((list[member], member), strict)
        if head in ("Dict", "dict", "Mapping", "MutableMapping") and len(args) == 2:
            return self._union((dict[str, self._from_type(args[1], models, scalar, strict)], scalar), strict)
        if head in ("Optional", "Union"):
            members = [self._from_type(a, models, scalar, strict) for a in args]
            return self._union(tuple(members), strict) if len(members) > 1 else members[0]
        name = head.rsplit(".", 1)[-1]
        if name in models and self.catalog.model(name) is not None:
            # ZenML coerces some scalars into models (a Source from "module.attr"): allow both.
            return self._union((self.model(name, strict), scalar), strict)
        if name == "NoneType":
            return type(None)
        return scalar

    @staticmethod
    def _union(members: tuple[Any, ...], strict: bool) -> Any:
        return _first_fit(Union[members]) if strict else Union[members]

    def adapter(self, endpoint: Endpoint, strict: bool = False) -> TypeAdapter | None:
        key = (endpoint.body_kind, endpoint.body_model or "", strict)
        if key in self._adapters:
            return self._adapters[key]
        adapter: TypeAdapter | None = None
        # A union body (triggers) names its members in body_models.
        names = endpoint.body_models or ((endpoint.body_model,) if endpoint.body_model else ())
        body = Union[tuple(self.model(n, strict) for n in names)] if names else None
        if endpoint.body_kind == "model" and body is not None:
            adapter = TypeAdapter(body)
        elif endpoint.body_kind == "list" and body is not None:
            adapter = TypeAdapter(list[body])
        elif endpoint.body_kind == "str_list":
            adapter = TypeAdapter(list[Annotated[str, StringConstraints(max_length=self.limits.name_length)]])
        self._adapters[key] = adapter
        return adapter


_KIND_BY_ERROR = {
    "string_too_long": "too_long",
    "string_type": "bad_type",
    "too_long": "too_long",
    "too_deep": "too_deep",
    "too_large": "too_large",
    "uri_outside_storage": "uri_outside_storage",
    "not_a_digest": "not_a_digest",
}

_MESSAGE = {
    "too_long": "longer than the {limit} characters allowed",
    "too_deep": "nested deeper than {limit} levels",
    "too_large": "more than {limit} allowed",
    "uri_outside_storage": "URI outside the configured storage prefixes",
    "bad_type": "not the type this metadata field has",
    "not_a_digest": "a hash field that holds no hex digest of a real digest length",
}


# Entries pydantic adds to `loc` for union members and validators; they are not field names.
_LOC_TAGS = frozenset({"int", "float", "bool", "str", "none", "constrained-str", "list", "dict", "JsonValue"})


def _path_of(loc: tuple[Any, ...], model_names: set[str]) -> str:
    parts = [p for p in loc if isinstance(p, int) or (p not in model_names and p not in _LOC_TAGS and "[" not in p)]
    return jsonpath.render(parts)


def _drop_union_noise(violations: list[Violation]) -> list[Violation]:
    """A union reports a type error for every member that did not fit. When a more specific
    violation explains the failure, the member mismatches around it are noise."""
    specific = [v for v in violations if v.kind != "bad_type"]
    kept = []
    for violation in violations:
        if violation.kind == "bad_type" and any(
            jsonpath.is_under(other.path, violation.path) for other in specific
        ):
            continue
        kept.append(violation)
    return kept


def validate(
    schemas: SchemaSet, endpoint: Endpoint, document: Any, storage_prefixes: tuple[str, ...] = ()
) -> tuple[list[Violation], list[str]]:
    """Violations and unknown-field paths of `document` against the endpoint's body model."""
    strict = schemas.adapter(endpoint, strict=True)
    if strict is None:
        return [], []
    try:
        strict.validate_python(document, context={"storage_prefixes": storage_prefixes})
        return [], []
    except ValidationError:
        return report(schemas, endpoint, document, storage_prefixes)  # something to report


def report(
    schemas: SchemaSet, endpoint: Endpoint, document: Any, storage_prefixes: tuple[str, ...] = ()
) -> tuple[list[Violation], list[str]]:
    """`validate` without the strict models' shortcut: the reporting models alone."""
    adapter = schemas.adapter(endpoint)
    if adapter is None:
        return [], []
    context = {"storage_prefixes": storage_prefixes}
    violations: dict[tuple[str, str], Violation] = {}
    try:
        value = adapter.validate_python(document, context=context)
    except ValidationError as exc:
        model_names = set(schemas._models)
        for error in exc.errors(include_url=False, include_input=False, include_context=True):
            kind = _KIND_BY_ERROR.get(error["type"], "bad_type")
            path = _path_of(error["loc"], model_names)
            limit = (error.get("ctx") or {}).get("max_length") or (error.get("ctx") or {}).get("limit") or "?"
            violations.setdefault((path, kind), Violation(path, kind, _MESSAGE[kind].format(limit=limit)))
        # An invalid body has no validated instance: report unknown fields structurally.
        return _drop_union_noise(list(violations.values())), _unknown_fields_raw(schemas, endpoint, document)
    return [], sorted(_unknown_fields(value, ()))


def _unknown_fields(value: Any, parts: tuple[Any, ...]) -> list[str]:
    found: list[str] = []
    if isinstance(value, BaseModel):
        for key in value.model_extra or {}:
            found.append(jsonpath.render(parts + (key,)))
        for key in type(value).model_fields:
            found.extend(_unknown_fields(getattr(value, key), parts + (key,)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, (BaseModel, list, dict)):
                found.extend(_unknown_fields(item, parts + (index,)))
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, BaseModel):
                found.extend(_unknown_fields(item, parts + (key,)))
    return found


def _unknown_fields_raw(schemas: SchemaSet, endpoint: Endpoint, document: Any) -> list[str]:
    spec = schemas.catalog.model(endpoint.body_model or "")
    if spec is None:
        return []
    items = document if isinstance(document, list) and endpoint.body_kind == "list" else [document]
    found: list[str] = []
    for index, item in enumerate(items):
        if isinstance(item, dict):
            prefix = (index,) if endpoint.body_kind == "list" else ()
            found.extend(jsonpath.render(prefix + (key,)) for key in item if key not in spec.fields)
    return sorted(found)


# A UUID as `str(uuid)` writes it: dashed, one case, an RFC 9562 version (1-8) and variant (the
# 17th digit 8-b: that byte has its high bit set). Hex-encoded text never has that bit, so a
# 16-character secret or name hex-encoded in UUID form is no id.
_UUID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    r"|[0-9A-F]{8}-[0-9A-F]{4}-[1-8][0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}"
)
# A datetime as ZenML serialises one (pydantic's ISO 8601): a date *and* a time, optional
# fraction and offset. A bare date is not what the SDK sends for a datetime field (a date of
# birth is): it is scanned.
_TS = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+\-]\d{2}:?\d{2})?$")
# Enum values as ZenML spells its 255 string enum members (zenml.enums, 0.98): lower-case
# snake/kebab/dotted words (222: `step_output`, `continue_on_failure`), one CamelCase word (14:
# `DataArtifact`, `True`), UPPER_SNAKE (7: `INFO`). Segments are short and the first is letters
# only, so key ids like AKIA… or ghp_… tokens never pass as one; capitalised words joined by a
# separator (`Jane_Doe`, `Jane.Doe`) are no member's shape and are scanned.
_ENUM_TEXT = re.compile(
    r"[a-z]{1,24}(?:[_\-.][a-z0-9]{1,16}){0,6}"
    r"|(?:[A-Z][a-z0-9]{1,15}){1,4}"
    r"|[A-Z]{1,24}(?:_[A-Z0-9]{1,16}){0,6}"
)
# Content hashes, cache keys and checksums are hex digests as `hexdigest()` renders them: one
# case, and the length of a real digest (MD5 32, SHA-1 40, SHA-224 56, SHA-256 64, SHA-384 96,
# SHA-512 128). What ZenML 0.98 sends: 32 (cache_key, content_hash) and 64 (code_hash).
_HASH_TEXT = re.compile(r"[0-9a-f]{32,128}|[0-9A-F]{32,128}")
_DIGEST_LENGTHS = frozenset({32, 40, 56, 64, 96, 128})
# A number too short to be a card, account or phone number (longer ones are scanned, as are
# integers of nine digits or more in a body).
_SHORT_NUMBER = re.compile(r"-?[0-9]{1,8}(?:\.[0-9]{1,8})?")
_MAX_NUMBER_DIGITS = 8
# A digest's bytes are uniform: the share of printable ASCII among them is about 37%. Hex
# text whose bytes are mostly printable is encoded text (a key, a name), not a digest: for a
# random 16-byte digest, 13 or more printable bytes happen about once in 2,500, and then the
# value is only scanned, never blocked for its shape.
_MAX_PRINTABLE_SHARE = 0.75


def _is_digest(value: str) -> bool:
    if len(value) not in _DIGEST_LENGTHS or not _HASH_TEXT.fullmatch(value):
        return False
    if value.isdigit():
        return False  # 32+ decimal digits: (10/16)^32 < 1e-6 for a digest; digits are data
    raw = bytes.fromhex(value)
    printable = sum(1 for byte in raw if 0x20 <= byte < 0x7F or byte in (0x09, 0x0A, 0x0D))
    return printable <= _MAX_PRINTABLE_SHARE * len(raw)


def proven(field_class: str, value: Any) -> bool:
    """True when a leaf's value really has the shape its class promises, so the detectors
    may skip it. A leaf that fails this is scanned whatever the catalog says.

    Each class is proven by exactly the shape ZenML sends for it (see
    `tests/corpus/captured/`): an id by a UUID, a timestamp by an ISO datetime, a hash by a
    hex digest of a real digest length, a number by a short number. A number is proven only
    where the class is a number or a choice: an integer is no digest, id or timestamp."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, (int, float)):
        return field_class in ("numeric", "enum")
    if not isinstance(value, str):
        return False
    if field_class == "id":
        return bool(_UUID.fullmatch(value))
    if field_class == "timestamp":
        return bool(_TS.fullmatch(value))
    if field_class == "enum":
        return bool(_ENUM_TEXT.fullmatch(value))
    if field_class == "hash":
        return _is_digest(value)
    if field_class == "numeric":  # query values are strings: page=1, size=50
        # Eight digits in all: `45390040.10602815` is a card with a dot in it.
        return bool(_SHORT_NUMBER.fullmatch(value)) and sum(c.isdigit() for c in value) <= _MAX_NUMBER_DIGITS
    return False
