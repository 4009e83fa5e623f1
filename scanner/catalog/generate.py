"""Generate the ZenML endpoint catalog from the installed zenml server package.

Run with the ZenML venv's python (never in the project venv):

    /work/venv-zenml/bin/python scanner/catalog/generate.py --out scanner/catalog/zenml-<version>.json

It imports the zenml FastAPI app with the workload manager and RBAC switched on (as on ZenML Pro)
so the routes registered only there are included, walks every route, and expands each request
body model recursively into field classes. Structural rules (types, a few field names) classify
most fields; `classification_rules.py` holds the explicit overrides for data-bearing fields.
Output is sorted and deterministic, so the diff after a ZenML upgrade is the review.
"""

from __future__ import annotations

import argparse
import datetime as dt
import enum
import json
import os
import sys
import tempfile
import types
import typing
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The rules module sits next to this script (it is also importable from the project).
sys.path.insert(0, str(Path(__file__).resolve().parent))
import classification_rules as rules

GENERATOR_PATH = "scanner/catalog/generate.py"
CATALOG_FORMAT = 1
API_PREFIX = "/api/v1"

# Data-bearing classes win over proven ones when a field's alternatives disagree.
CLASS_PRIORITY = (
    "credential", "code", "log", "package_list", "value_repr", "user_dict", "free_text",
    "uri", "source_ref", "name", "hash", "timestamp", "numeric", "id", "enum", "auth",
)


# Mirrors metagate.scanner.model.PROVEN_CLASSES (not imported: this runs in the zenml venv).
PROVEN_CLASSES = frozenset({"id", "enum", "timestamp", "numeric", "hash", "auth"})


_CONFIG_DIR: tempfile.TemporaryDirectory[str] | None = None


def _prepare_environment() -> None:
    """Configure the server settings before zenml reads them (it does so at import time)."""
    # Pro-like: any non-empty source enables the gated routers; the sources are never loaded
    # because the app's lifespan never runs here.
    os.environ["ZENML_SERVER_RBAC_IMPLEMENTATION_SOURCE"] = "metagate.catalog.placeholder.Rbac"
    os.environ["ZENML_SERVER_WORKLOAD_MANAGER_IMPLEMENTATION_SOURCE"] = (
        "metagate.catalog.placeholder.WorkloadManager"
    )
    # Non-external auth keeps the user-management routes an OSS server registers.
    for name in ("ZENML_SERVER_AUTH_SCHEME", "ZENML_SERVER_EXTERNAL_SERVER_ID"):
        os.environ.pop(name, None)
    os.environ["ZENML_ANALYTICS_OPT_IN"] = "false"
    if "ZENML_CONFIG_PATH" not in os.environ:
        # Keep the import from touching the user's zenml config; removed when the process exits.
        global _CONFIG_DIR
        _CONFIG_DIR = tempfile.TemporaryDirectory(prefix="metagate-catalog-")
        os.environ["ZENML_CONFIG_PATH"] = _CONFIG_DIR.name


# ---------------------------------------------------------------------------------------------
# Type analysis
# ---------------------------------------------------------------------------------------------


@dataclass
class TypeAtoms:
    """What a field annotation can hold on the wire, flattened."""

    atoms: set[str] = field(default_factory=set)  # str uuid enum int float datetime any secret
    models: list[type] = field(default_factory=list)
    in_dict: bool = False          # string atoms sit as values of a dict (user keys and values)
    model_dict_depth: int = 0      # arbitrary-key dict levels in front of the nested models
    max_depth: int = 0             # list/dict levels above the deepest scalar or nested model
    unbounded: bool = False        # holds Any somewhere: no depth limit


def _is_pydantic_model(tp: Any) -> bool:
    from pydantic import BaseModel

    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _scalar_atom(tp: type) -> str:
    from pydantic import SecretStr

    if issubclass(tp, SecretStr):
        return "secret"
    if issubclass(tp, uuid.UUID):
        return "uuid"
    if issubclass(tp, (bool, enum.Enum)):
        return "enum"
    if issubclass(tp, (dict, Mapping, list, set, tuple)):   # e.g. ServiceConnectorConfiguration
        return "any"
    if issubclass(tp, (str, bytes)):
        return "str"
    if issubclass(tp, int):
        return "int"
    if issubclass(tp, (float, dt.timedelta)):
        return "float"
    if issubclass(tp, (dt.datetime, dt.date, dt.time)):
        return "datetime"
    return "str"                                            # Path-like, str-serialised classes


def analyze(tp: Any, out: TypeAtoms | None = None, depth: int = 0, dict_levels: int = 0,
            in_dict: bool = False) -> TypeAtoms:
    out = out if out is not None else TypeAtoms()
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)

    def add_atom(atom: str) -> None:
        out.atoms.add(atom)
        out.max_depth = max(out.max_depth, depth)
        if atom == "any":
            out.unbounded = True
        if atom == "str" and in_dict:
            out.in_dict = True

    if tp is type(None):
        return out
    if origin is typing.Annotated:
        return analyze(args[0], out, depth, dict_levels, in_dict)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            analyze(arg, out, depth, dict_levels, in_dict)
        return out
    if origin is typing.Literal:
        add_atom("enum")
        return out
    if isinstance(origin, type) and issubclass(origin, (dict, Mapping)):
        value_type = args[1] if len(args) == 2 else Any
        return analyze(value_type, out, depth + 1, dict_levels + 1, True)
    if origin in (typing.Sequence,) or (isinstance(origin, type) and issubclass(origin, (list, set, frozenset, tuple))):
        for arg in args or (Any,):
            if arg is not Ellipsis:
                analyze(arg, out, depth + 1, dict_levels, in_dict)
        return out
    if tp is Any or tp is object or not isinstance(tp, type):
        add_atom("any")                          # Any, TypeVar, ForwardRef: open-ended
        return out
    if _is_pydantic_model(tp):
        if tp.__name__ in rules.OPAQUE_MODELS:
            add_atom("any")
        else:
            if tp not in out.models:
                out.models.append(tp)
            out.model_dict_depth = max(out.model_dict_depth, dict_levels)
            out.max_depth = max(out.max_depth, depth)
        return out
    add_atom(_scalar_atom(tp))
    return out


_GENERIC_NAMES = {"list": "List", "dict": "Dict", "set": "Set", "tuple": "Tuple", "frozenset": "FrozenSet"}


def type_repr(tp: Any) -> str:
    """A short, stable rendering of an annotation (no addresses, no validators)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is type(None):
        return "None"
    if tp is Any:
        return "Any"
    if origin is typing.Annotated:
        return type_repr(args[0])
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        rendered = " | ".join(type_repr(a) for a in inner)
        return f"Optional[{rendered}]" if len(inner) < len(args) else rendered
    if origin is typing.Literal:
        return "Literal[" + ", ".join(repr(a.value if isinstance(a, enum.Enum) else a) for a in args) + "]"
    if origin is not None:
        name = getattr(origin, "__name__", None) or str(origin).replace("typing.", "")
        name = _GENERIC_NAMES.get(name, name)
        return f"{name}[" + ", ".join("..." if a is Ellipsis else type_repr(a) for a in args) + "]"
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def max_length_of(field_info: Any) -> int | None:
    """max_length from the field's own metadata or from an Annotated alternative."""
    found: list[int] = []

    def scan(metadata: Any) -> None:
        for item in metadata or ():
            value = getattr(item, "max_length", None)
            if isinstance(value, int):
                found.append(value)

    scan(field_info.metadata)

    def visit(tp: Any) -> None:
        if typing.get_origin(tp) is typing.Annotated:
            scan(typing.get_args(tp)[1:])
            visit(typing.get_args(tp)[0])
        elif typing.get_origin(tp) in (typing.Union, types.UnionType):
            for arg in typing.get_args(tp):
                visit(arg)

    visit(field_info.annotation)
    return min(found) if found else None


# ---------------------------------------------------------------------------------------------
# Field classification
# ---------------------------------------------------------------------------------------------


def _str_class_by_name(name: str) -> str:
    """Class of a plain string field from its name."""
    if name in ("uri", "url", "code_path") or name.endswith(("_url", "_uri")):
        return "uri"
    if name in ("content_hash", "code_hash", "checksum", "cache_key") or name.endswith(("_checksum", "_hash")):
        return "hash"
    if name == "description":
        return "free_text"
    return "name"


def _pick(classes: set[str]) -> str:
    for candidate in CLASS_PRIORITY:
        if candidate in classes:
            return candidate
    return "unknown"


def classify_atoms(name: str, found: TypeAtoms, *, filter_semantics: bool, source_model: bool) -> str:
    """Field class of the scalar leaves of a field (nested models are classified on their own)."""
    atoms = found.atoms
    if not atoms:
        return "unknown"            # a pure nested model: its own fields carry the classes
    if "secret" in atoms:
        return "credential"
    if "any" in atoms:
        return "user_dict"
    if "str" in atoms and found.in_dict:
        return "user_dict"          # labels, env vars, substitutions: user keys and values
    if filter_semantics and "str" in atoms and len(atoms) > 1:
        # Filter values accept "op:value" strings next to the typed value.
        if "uuid" in atoms:
            by_id = (name == "id" or name.endswith("_id")) and "name_or_id" not in name
            return "id" if by_id else "name"
        if "datetime" in atoms:
            return "timestamp"
        if atoms & {"int", "float"}:
            return "numeric"
        if "enum" in atoms:
            return "enum"
    per_atom = set()
    for atom in atoms:
        if atom == "str":
            per_atom.add("source_ref" if source_model else _str_class_by_name(name))
        elif atom == "uuid":
            per_atom.add("id")
        elif atom == "enum":
            per_atom.add("enum")
        elif atom in ("int", "float"):
            per_atom.add("numeric")
        elif atom == "datetime":
            per_atom.add("timestamp")
    if name.endswith(("_hash", "_checksum")) and per_atom <= {"name", "hash"}:
        return "hash"
    return _pick(per_atom)


# ---------------------------------------------------------------------------------------------
# Model expansion
# ---------------------------------------------------------------------------------------------


def connector_secret_attributes() -> frozenset[str]:
    """Names of the attributes zenml's service connector types declare as secrets (`SecretStr`
    fields of their auth-method configuration models), read from the installed zenml's source:
    the integrations' connector modules need their cloud SDKs to import, their source does not."""
    import ast

    import zenml

    found: set[str] = set()
    for path in sorted(Path(zenml.__file__).resolve().parent.rglob("service_connectors/*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            for item in node.body:
                if (
                    isinstance(item, ast.AnnAssign)
                    and isinstance(item.target, ast.Name)
                    and "SecretStr" in ast.unparse(item.annotation)
                ):
                    found.add(item.target.id)
    if not {"aws_secret_access_key", "password", "token"} <= found:
        raise SystemExit(f"service connector secrets not found in zenml's source: {sorted(found)}")
    return frozenset(found)


class ModelRegistry:
    """Request models by name, expanded recursively; fails on a name clash."""

    def __init__(self) -> None:
        self.classes: dict[str, type] = {}
        self.specs: dict[str, dict[str, Any]] = {}
        self.used_overrides: set[tuple[str, str]] = set()

    def add(self, model: type) -> str:
        name = model.__name__
        known = self.classes.get(name)
        if known is not None:
            if known is not model:
                raise SystemExit(f"two request models named {name}: {known} and {model}")
            return name
        self.classes[name] = model
        self.specs[name] = {}          # placeholder against recursion
        self.specs[name] = self._expand(model)
        return name

    def _merged_fields(self, model: type) -> dict[str, Any]:
        """Declared fields, plus those of zenml subclasses for polymorphic bases like Source."""
        fields = dict(model.model_fields)
        if model.__name__ in rules.SOURCE_MODELS:
            stack = list(model.__subclasses__())
            while stack:
                sub = stack.pop()
                stack.extend(sub.__subclasses__())
                for fname, finfo in sub.model_fields.items():
                    fields.setdefault(fname, finfo)
        return fields

    def _expand(self, model: type) -> dict[str, Any]:
        name = model.__name__
        is_filter = name.endswith("Filter")
        source_model = name in rules.SOURCE_MODELS
        out_fields: dict[str, Any] = {}
        for fname, finfo in sorted(self._merged_fields(model).items()):
            wire_name = fname             # the SDK dumps request models without by_alias
            found = analyze(finfo.annotation)
            nested = [self.add(m) for m in found.models]
            spec: dict[str, Any] = {
                "class": classify_atoms(fname, found, filter_semantics=is_filter, source_model=source_model),
                "type": type_repr(finfo.annotation),
                "required": bool(finfo.is_required()),
            }
            if spec["class"] == "user_dict" and fname in rules.CREDENTIAL_KEY_FIELD_NAMES:
                spec["credential_keys"] = True
            override = rules.FIELD_OVERRIDES.get((name, fname))
            if override is not None:
                self.used_overrides.add((name, fname))
                spec["class"] = override["class"]
                if override.get("key_classes"):
                    spec["key_classes"] = dict(sorted(override["key_classes"].items()))
                if override.get("credential_keys"):
                    spec["credential_keys"] = True
                if override.get("secret_keys") == "connector":
                    spec["secret_keys"] = sorted(connector_secret_attributes())
            if nested:
                spec["models"] = nested
                if found.model_dict_depth:
                    spec["dict_depth"] = found.model_dict_depth
            if override is not None and "max_depth" in override:
                spec["max_depth"] = override["max_depth"]
            elif not found.unbounded and spec["class"] not in ("user_dict", "credential"):
                spec["max_depth"] = found.max_depth
            elif spec["class"] in PROVEN_CLASSES:
                # A proven class is never scanned, so its shape must be bounded.
                raise SystemExit(f"{name}.{fname}: open-ended type classified {spec['class']}: "
                                 "give the override a max_depth")
            max_length = max_length_of(finfo)
            if max_length is not None:
                spec["max_length"] = max_length
            out_fields[wire_name] = spec
        result: dict[str, Any] = {"fields": out_fields}
        if model.model_config.get("extra") == "allow":
            result["extra"] = rules.EXTRA_FIELD_CLASSES.get(name, rules.DEFAULT_EXTRA_CLASS)
        return result

    def add_union(self, models: list[type]) -> str:
        return "|".join(self.add(m) for m in models)


# ---------------------------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------------------------


def iter_api_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(full path, APIRoute) for every API route, across FastAPI's lazily included routers."""
    from fastapi.routing import APIRoute

    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif getattr(route, "original_router", None) is not None:      # FastAPI >= 0.120
            context = getattr(route, "include_context", None)
            yield from iter_api_routes(route.original_router.routes, prefix + getattr(context, "prefix", ""))


def _is_catalog_route(path: str) -> bool:
    """API routes plus the probes; the dashboard and catch-all routes are not SDK traffic."""
    if ":path}" in path:
        return False
    return path.startswith(API_PREFIX + "/") or path in ("/health", "/ready")


def resource_of(path: str) -> str:
    segments = [s for s in path.split("/") if s]
    if segments[:2] == ["api", "v1"]:
        segments = segments[2:]
    if len(segments) >= 3 and segments[0] == "workspaces" and segments[1].startswith("{"):
        segments = segments[2:]              # /workspaces/{project}/<resource>/... alias
    resource = rules.RESOURCE_ALIASES.get(segments[0], segments[0].replace("-", "_"))
    for index in range(1, len(segments)):
        if segments[index] in rules.NESTED_RESOURCES and segments[index - 1].startswith("{"):
            resource = segments[index]
    return resource


def action_of(method: str, path: str, resource: str, sdk_auth: bool) -> str:
    if sdk_auth:
        return "auth"
    if (method, path) in rules.ACTION_OVERRIDES:
        return rules.ACTION_OVERRIDES[(method, path)]
    if method in ("GET", "HEAD"):
        return "read"
    if method == "DELETE":
        return "delete"
    tail = path.rstrip("/").rsplit("/", 1)[-1]
    if method == "POST":
        if tail in rules.POST_READ_TAILS:
            return "read"
        collection = rules.RESOURCE_ALIASES.get(tail, tail.replace("-", "_"))
        if collection == resource or tail in rules.POST_CREATE_TAILS:
            return "create"
        return "other"
    if method in ("PUT", "PATCH"):
        return "other" if tail in rules.PUT_OTHER_TAILS else "update"
    return "other"


def body_of(method: str, route: Any, registry: ModelRegistry) -> dict[str, Any]:
    from fastapi import params as fastapi_params
    from fastapi.dependencies.utils import get_flat_dependant

    flat = get_flat_dependant(route.dependant)
    body_params = list(flat.body_params)
    if method == "GET":
        # A filter field FastAPI cannot put in the query (ServiceConnectorFilter.labels) turns
        # into a GET body param; neither the SDK nor the dashboard sends a GET body.
        body_params = []
    if not body_params:
        return {"body_kind": "none", "body_model": None}
    if any(isinstance(p.field_info, fastapi_params.Form) for p in body_params):
        return {"body_kind": "form", "body_model": None, "form_fields": sorted(p.alias for p in body_params)}
    if len(body_params) != 1:
        raise SystemExit(f"{route.path}: more than one JSON body parameter is not supported")
    annotation = body_params[0].field_info.annotation
    found = analyze(annotation)
    is_list = typing.get_origin(_strip_optional(annotation)) is list
    if found.models and not found.atoms:
        kind = "list" if is_list else "model"
        return {"body_kind": kind, "body_model": registry.add_union(found.models)}
    if is_list and found.atoms == {"str"}:
        return {"body_kind": "str_list", "body_model": None}
    raise SystemExit(f"{route.path}: unsupported body annotation {type_repr(annotation)}")


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) is typing.Annotated:
        return _strip_optional(typing.get_args(tp)[0])
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(inner) == 1:
            return _strip_optional(inner[0])
    return tp


def query_of(route: Any) -> dict[str, str]:
    from fastapi.dependencies.utils import get_flat_dependant

    out: dict[str, str] = {}
    for param in get_flat_dependant(route.dependant).query_params:
        name = param.alias
        if name in rules.QUERY_OVERRIDES:
            out[name] = rules.QUERY_OVERRIDES[name]
        else:
            found = analyze(param.field_info.annotation)
            out[name] = classify_atoms(name, found, filter_semantics=True, source_model=False)
    return dict(sorted(out.items()))


def build_catalog() -> dict[str, Any]:
    _prepare_environment()
    import zenml
    from zenml.zen_server.utils import server_config
    from zenml.zen_server.zen_server_api import app

    config = server_config()
    if not (config.workload_manager_enabled and config.rbac_enabled):
        raise SystemExit("could not switch on the workload manager and RBAC routes")

    registry = ModelRegistry()
    endpoints: dict[tuple[str, str], dict[str, Any]] = {}
    for path, route in iter_api_routes(app.routes):
        if not _is_catalog_route(path):
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            sdk_auth = (method, path) in rules.SDK_AUTH_ROUTES
            resource = resource_of(path)
            entry: dict[str, Any] = {
                "method": method,
                "path": path,
                "resource": resource,
                "action": action_of(method, path, resource, sdk_auth),
                **body_of(method, route, registry),
                "query": query_of(route),
                "sdk_auth": sdk_auth,
                "deprecated": bool(route.deprecated) or path.startswith(API_PREFIX + "/workspaces"),
            }
            if (method, path) in endpoints:
                raise SystemExit(f"duplicate route {method} {path}")
            endpoints[(method, path)] = entry

    missing_auth = rules.SDK_AUTH_ROUTES - endpoints.keys()
    stale = set(rules.FIELD_OVERRIDES) - registry.used_overrides
    if missing_auth or stale:
        raise SystemExit(f"stale rules: sdk auth routes {sorted(missing_auth)}, field overrides {sorted(stale)}")

    from zenml.utils import secret_utils

    _check_secret_reference(secret_utils._secret_reference_expression)
    return {
        "format": CATALOG_FORMAT,
        "zenml_version": zenml.__version__,
        "generator": GENERATOR_PATH,
        "credential_key_regex": rules.CREDENTIAL_KEY_REGEX,
        "secret_ref_regex": rules.SECRET_REFERENCE_REGEX,
        "endpoints": [endpoints[key] for key in sorted(endpoints, key=lambda k: (k[1], k[0]))],
        "models": {name: registry.specs[name] for name in sorted(registry.specs)},
    }


_REFERENCE_SAMPLES = ("{{aws.secret_access_key}}", "{{ my-secret.password }}", "{{\tdb_1.dsn\t}}")


def _check_secret_reference(zenml_expression: Any) -> None:
    """Ours must be a narrowing of ZenML's: a reference ZenML would not resolve is no reference."""
    import re

    ours = re.compile(rules.SECRET_REFERENCE_REGEX)
    for sample in _REFERENCE_SAMPLES:
        if not (ours.fullmatch(sample) and zenml_expression.fullmatch(sample)):
            raise SystemExit(f"secret reference rule out of step with zenml on {sample!r}")


def render(catalog: dict[str, Any]) -> str:
    """JSON with one endpoint and one model field per line: compact, yet a readable diff."""

    def dumps(value: Any) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))

    lines = ["{"]
    scalars = [k for k in catalog if k not in ("endpoints", "models")]
    for key in scalars:
        lines.append(f" {dumps(key)}:{dumps(catalog[key])},")
    lines.append(' "endpoints":[')
    lines.append(",\n".join(f"  {dumps(e)}" for e in catalog["endpoints"]))
    lines.append(" ],")
    lines.append(' "models":{')
    model_blocks = []
    for name, spec in catalog["models"].items():
        head = f"  {dumps(name)}:{{"
        if "extra" in spec:
            head += f'"extra":{dumps(spec["extra"])},'
        fields = ",\n".join(f"   {dumps(f)}:{dumps(s)}" for f, s in spec["fields"].items())
        model_blocks.append(head + '"fields":{\n' + fields + "}}" if fields else head + '"fields":{}}')
    lines.append(",\n".join(model_blocks))
    lines.append(" }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="where to write the catalog JSON")
    args = parser.parse_args(argv)
    catalog = build_catalog()
    text = render(catalog)
    json.loads(text)                     # the hand-rolled layout must stay valid JSON
    Path(args.out).write_text(text, encoding="utf-8")
    print(f"zenml {catalog['zenml_version']}: {len(catalog['endpoints'])} endpoints, "
          f"{len(catalog['models'])} models -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
