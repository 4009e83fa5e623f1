"""The scanner's one pass over a request: normalise → classify endpoint → validate → detect.

Pure computation, no I/O: the proxy runs it in worker processes, `metagate scan` and
`metagate policy test` run it directly, so all three see exactly the same facts.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from metagate.scanner import headers as header_kinds
from metagate.scanner import jsonpath
from metagate.scanner.catalog import Catalog, Endpoint, path_segments
from metagate.scanner.detection import LeafDetection
from metagate.scanner.detectors.base import Detector, TreeDetector
from metagate.scanner.detectors.shapes import Measured, ShapeTreeDetector
from metagate.scanner.evasion import expand_leaves, forget_clean_texts
from metagate.scanner.fingerprint import fingerprint
from metagate.scanner.leaves import Collected, LeafWalker
from metagate.scanner.model import (
    PROVEN_CLASSES,
    Finding,
    InspectionRequest,
    Leaf,
    Violation,
)
from metagate.scanner.normalize import BodyError, Limits, NormalizedBody, normalize_body
from metagate.scanner.schemas import SchemaSet, proven, validate
from metagate.scanner.memo import CleanMemo, digest

_MAX_CLEAN_HEADER_SETS = 4096

# Integers this long in user data can be card or account numbers: scan them as text.
_LONG_INT_DIGITS = 9

# ZenML list filters write a value as `<operator>:<operand>` (`?name=contains:churn`,
# `?created=gte:2024-01-01 00:00:00`, `?id=oneof:["…"]`); sort_by as `asc:`/`desc:<field>`
# (zenml.enums GenericFilterOps, SorterOps). The operand is the value.
_FILTER_OPERATOR = re.compile(
    r"(?:equals|notequals|contains|notcontains|startswith|endswith|oneof|notoneof|isnull|isnotnull"
    r"|gte|gt|lte|lt|in|asc|desc):"
)


@dataclass(slots=True)
class ScanResult:
    endpoint: Endpoint | None
    body: NormalizedBody | None = None
    parse_error: str | None = None       # readable, never quotes the body (audit, block reason)
    parse_error_code: str | None = None  # closed vocabulary (policy input)
    violations: list[Violation] = field(default_factory=list)
    unknown_fields: list[str] = field(default_factory=list)
    leaves: list[Leaf] = field(default_factory=list)      # what the detectors looked at
    # Leaves of subtrees (or of a whole request without a body) found clean by an earlier
    # scan and not inspected again (see `memo`): path, class and key flag only, text "".
    settled: list[Leaf] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    inventory: dict[str, int] = field(default_factory=dict)  # field class → leaf count
    top_fields: list[str] = field(default_factory=list)      # top-level field names


class Scanner:
    def __init__(
        self,
        catalog: Catalog,
        schemas: SchemaSet,
        detectors: Sequence[Detector],
        tree_detectors: Sequence[TreeDetector],
        fingerprint_key: bytes,
        limits: Limits | None = None,
        storage_prefixes: tuple[str, ...] = (),
        remember_clean: bool = True,
    ) -> None:
        self.catalog = catalog
        self.schemas = schemas
        self.detectors = list(detectors)
        self.tree_detectors = list(tree_detectors)
        self.key = fingerprint_key
        self.limits = limits or Limits()
        self.storage_prefixes = storage_prefixes
        self.walker = LeafWalker(catalog)
        # Holds the cache of detector results for strings that repeat across requests.
        self.detection = LeafDetection(self.detectors)
        # Subtrees and body-less requests found clean before (off: every leaf is collected,
        # with its text, on every scan).
        self.clean_memo = CleanMemo() if remember_clean else None
        # Digests of the header leaves of body-less repeats that were found clean (see
        # `_clean_repeat`): never a text.
        self._clean_headers: set[tuple[int, int, int]] = set()

    def clear_caches(self) -> None:
        """Forget every remembered result: the next scan starts cold."""
        self.detection.cache.clear()
        forget_clean_texts()
        self._clean_headers.clear()
        if self.clean_memo is not None:
            self.clean_memo.clear()

    def scan(self, request: InspectionRequest) -> ScanResult:
        # A request without a body that was seen before and found clean (the SDK's reads
        # repeat on every run) is answered from the memo: its path and query fields, no text.
        # Its headers are scanned every time: the SDK's X-Request-ID and Idempotency-Key are
        # new on every request, so a key holding them would never repeat (and would fill the
        # memo with entries that crowd out the body units).
        memo = self.clean_memo
        if memo is None or request.body:
            return self._scan(request)
        repeat_key = _request_key(request)
        clean = memo.get(repeat_key)
        if clean is not None:
            return self._clean_repeat(request, clean.leaves)
        result = self._scan(request)
        if not (result.findings or result.violations or result.parse_error):
            memo.put(repeat_key, [leaf for leaf in result.leaves if not _is_header(leaf)], Counter())
        return result

    def _clean_repeat(self, request: InspectionRequest, fields: tuple[Leaf, ...]) -> ScanResult:
        result = ScanResult(self.catalog.match(request.method, request.path), settled=list(fields))
        result.body = normalize_body(b"", "", request.header("content-encoding"), self.limits)
        self._collect_headers(request, result)
        if result.leaves:
            # What decoding and the detectors make of these leaves depends on the leaves
            # alone (every detector of a body-less request reads only them): header leaves
            # found clean before, the same paths, classes and texts, are clean again. The
            # SDK's fresh ids are not among them (headers.is_sdk_id), so they repeat.
            collected = result.leaves
            key = digest(repr([(leaf.path, leaf.text, leaf.field_class, leaf.is_key) for leaf in collected])
                         .encode("utf-8", "surrogatepass"))
            if key in self._clean_headers:
                return result
            expansion = expand_leaves(collected)
            result.leaves = expansion.leaves
            for path in expansion.undecoded:
                result.violations.append(Violation(path, "undecoded", "encoded content past the decoding limits"))
            self._detect(result, frozenset())
            if expansion.leaves is collected and not result.violations and not result.findings:
                if len(self._clean_headers) >= _MAX_CLEAN_HEADER_SETS:
                    self._clean_headers.clear()
                self._clean_headers.add(key)
        return result

    def _scan(self, request: InspectionRequest) -> ScanResult:
        endpoint = self.catalog.match(request.method, request.path)
        result = ScanResult(endpoint)
        # An empty body is empty whatever its type (its encoding can still be refused).
        content_type = request.header("content-type") if request.body else ""
        content_encoding = request.header("content-encoding")
        try:
            result.body = normalize_body(request.body, content_type, content_encoding, self.limits)
        except BodyError as exc:
            result.parse_error, result.parse_error_code = str(exc), exc.code
            return result

        body = result.body
        collected: Collected | None = None
        if body.kind in ("text", "binary"):
            result.parse_error = f"{body.kind} body where ZenML sends JSON"
            result.parse_error_code = f"{body.kind}_body"
            # Still look at the text: the policy may choose to let some of it through.
            text = body.decoded.decode("utf-8", "replace") if body.kind == "text" else ""
            if text:
                result.leaves.append(Leaf("$", text, "unknown"))
        elif body.kind == "form":
            self._collect_form(endpoint, body.document, result)
        elif body.kind == "json":
            collected = self._collect_json(endpoint, body.document, result)

        self._collect_path(endpoint, request.path, result)
        self._collect_query(endpoint, request, result)
        self._collect_headers(request, result)
        collected_leaves = result.leaves
        expansion = expand_leaves(collected_leaves)  # decoded views of encoded values
        result.leaves = expansion.leaves
        schema_clean = not result.violations and not result.unknown_fields  # before `undecoded`
        for path in expansion.undecoded:
            result.violations.append(Violation(path, "undecoded", "encoded content past the decoding limits"))
        self._detect(result, collected.settled_nodes if collected else frozenset())
        if collected is not None and collected.units and schema_clean:
            self._remember(collected, collected_leaves, result, expansion.undecoded)
        return result

    # --- collection ------------------------------------------------------------------

    def _collect_form(self, endpoint: Endpoint | None, form: dict[str, str], result: ScanResult) -> None:
        result.top_fields = sorted(form)
        if endpoint is not None and endpoint.sdk_auth:
            # The SDK's own login: never scanned, never recorded beyond field names.
            result.inventory = {"auth": len(form)}
            return
        for name, value in form.items():
            result.leaves.append(Leaf(jsonpath.render((name,)), value, "unknown"))
        result.inventory = {"unknown": len(form)}

    def _collect_json(self, endpoint: Endpoint | None, document: Any, result: ScanResult) -> Collected | None:
        if isinstance(document, dict):
            result.top_fields = sorted(document)
        collected: Collected | None = None
        if self.clean_memo is None:
            leaves, result.inventory = self.walker.collect(endpoint, document)
            result.leaves.extend(leaves)
        else:
            collected = self.walker.collect_units(endpoint, document, self.clean_memo)
            result.leaves.extend(collected.leaves)
            result.settled = collected.settled
            result.inventory = dict(collected.inventory)
        if endpoint is not None and endpoint.body_kind in ("model", "list", "str_list"):
            # A settled unit passed the strict schema when it was remembered (only units of
            # bodies without violations are), and every field is validated on its own: it
            # is validated as the null that every field accepts.
            # (Not for a union of body models: another member may take the other fields.)
            single_model = len(endpoint.body_models or ()) <= 1
            settled = collected.settled_nodes if collected and single_model else ()
            checked = _without(document, settled) if settled else document
            result.violations, result.unknown_fields = validate(self.schemas, endpoint, checked, self.storage_prefixes)
        elif endpoint is not None and endpoint.body_kind == "none":
            result.violations.append(Violation("$", "unexpected_body", "this endpoint takes no body"))
        return collected

    def _collect_path(self, endpoint: Endpoint | None, path: str, result: ScanResult) -> None:
        # A path parameter is a value the client chose (a run or model name, or anything at
        # all on a route the catalog does not know): scanned like a query value, as a leaf
        # named by its parameter (`$path.run_name_or_id`). UUIDs in a parameter are ids.
        encoded_slashes = _segments_with_encoded_slash(path)
        if encoded_slashes:
            # A value the client sent as one segment with `/` percent-encoded (base64 and
            # ascii85 text hold `/`) is split by the decoded path the server routes on:
            # scanned whole as well, as the segment it was sent as.
            result.leaves.append(Leaf("$path", "\n".join(encoded_slashes), "unknown"))
        if endpoint is not None and "{" not in endpoint.template:
            return  # a route of literal segments only
        parts = path_segments(path)
        if parts is None:
            result.leaves.append(Leaf("$path", path, "unknown"))
            return
        if endpoint is None:
            for index, part in enumerate(parts):
                if not proven("id", part):
                    result.leaves.append(Leaf(f"$path[{index}]", part, "unknown"))
            return
        for name, part in zip(_template_parts(endpoint.template), parts):
            if name is not None and not proven("id", part):
                result.leaves.append(Leaf(_rooted("$path", name), part, "name"))

    def _collect_query(self, endpoint: Endpoint | None, request: InspectionRequest, result: ScanResult) -> None:
        # Each value is a leaf named by its parameter (`$query.name`), so key semantics read
        # the name as they read a body key; a filter's operator is not part of the value.
        # A name the route does not declare is the client's choice: a key leaf, as a body key.
        for name in dict.fromkeys(name for name, _ in request.query):
            if endpoint is None or name not in endpoint.query:
                result.leaves.append(Leaf(_rooted("$query", name), name, "unknown", True))
        # Every pair, in order, a repeated one too: the values of a name given several times
        # are the items of a list, and the pieces of one split value repeat (`c=j&c=a&c=n&c=e`);
        # the fragment joins must see every piece.
        for name, value in request.query:
            cls = self.catalog.classify_query(endpoint, name) if endpoint is not None else "unknown"
            operand = _filter_operand(value)
            if not operand:
                continue  # `isnull:`, or an empty value: nothing was sent
            if cls in PROVEN_CLASSES:
                if _proven_operand(cls, operand):
                    continue
                cls = "name"  # not of its class's shape: scanned, as a body leaf would be
            result.leaves.append(Leaf(_rooted("$query", name), operand, cls))

    def _collect_headers(self, request: InspectionRequest, result: ScanResult) -> None:
        # Every header but credentials (masked; the policy decides on their shape) and
        # transport headers of their proper shape is a value the client chose: scanned by
        # every detector, named by the header (`$headers.x-request-id`). A name outside the
        # known vocabulary is the client's choice too: a key leaf, as a body key is.
        pairs = dict.fromkeys(_scanned_headers(request))  # a repeated pair once
        for name in dict.fromkeys(name for name, _ in pairs):
            if name not in header_kinds.KNOWN_NAMES:
                result.leaves.append(Leaf(_rooted("$headers", name), name, "unknown", True))
        for name, value in pairs:
            result.leaves.append(Leaf(_rooted("$headers", name), value, "unknown"))

    # --- detection -------------------------------------------------------------------

    def _detect(self, result: ScanResult, settled_nodes: Collection[int]) -> None:
        """Findings of the detectors on `result.leaves` and of the tree detectors on the body
        outside the settled subtrees."""
        leaves = result.leaves
        findings: list[Finding] = []
        for hit in self.detection.scan(leaves):
            leaf = leaves[hit.leaf]
            detector = hit.detector
            findings.append(
                Finding(
                    entity=hit.entity,
                    category=detector.category,
                    path=leaf.path,
                    start=hit.start,
                    end=hit.end,
                    score=round(float(hit.score), 3),
                    detector=detector.name,
                    fingerprint=fingerprint(self.key, leaf.text[hit.start : hit.end]),
                    field_class=leaf.field_class,
                    measure=detector.measure(hit.entity, leaf.text[hit.start : hit.end]) if isinstance(detector, Measured) else (),
                )
            )
        body = result.body
        if body is not None and body.kind == "json":
            for detector in self.tree_detectors:
                if not detector.may_find(body.decoded):
                    continue
                if isinstance(detector, ShapeTreeDetector):  # user-data subtrees only, measured
                    found = detector.scan_user_data(
                        body.document, settled_nodes, self.catalog, result.endpoint, result.unknown_fields
                    )
                else:
                    found = detector.scan_tree(body.document, settled_nodes)
                for path, entity, score, *measure in found:
                    findings.append(
                        Finding(entity, detector.category, path, 0, 0, round(float(score), 3), detector.name, "",
                                "user_dict", measure[0] if measure else ())
                    )
        result.findings = findings

    def _remember(self, collected: Collected, leaves: list[Leaf], result: ScanResult, undecoded: list[str]) -> None:
        """Remember the fresh units in which nothing at all was found, of a body the schema
        found nothing in either. `leaves` are the leaves as collected (before decoding), of
        which each unit holds a slice."""
        assert self.clean_memo is not None
        expanded = result.leaves
        # Every finding, of a leaf (key or value) or of a tree detector, has a path in its unit.
        flagged = undecoded + [finding.path for finding in result.findings]
        for unit in collected.units:
            if expanded is not leaves and any(expanded[i] is not leaves[i] for i in range(unit.start, unit.end)):
                continue  # a decoded view or a joined value
            if any(_inside(path, unit.path) for path in flagged):
                continue
            self.clean_memo.put(unit.key, leaves[unit.start : unit.end], unit.inventory)


def _scanned_headers(request: InspectionRequest) -> list[tuple[str, str]]:
    return header_kinds.scanned(request.headers)


_ENCODED_SLASH = re.compile(r"%(?:2[Ff]|5[Cc])")


def _segments_with_encoded_slash(path: str) -> list[str]:
    """The segments of the path as sent (split at its literal `/`) that hold a percent-encoded
    `/` or `\\`, each decoded: one value that the decoded path splits in several."""
    raw = path.split("?", 1)[0].split("#", 1)[0]
    if "%" not in raw or not _ENCODED_SLASH.search(raw):
        return []
    return [unquote(segment) for segment in raw.split("/") if _ENCODED_SLASH.search(segment)]


def _filter_operand(value: str) -> str:
    match = _FILTER_OPERATOR.match(value)
    return value[match.end():] if match else value


def _proven_operand(field_class: str, operand: str) -> bool:
    """A filter operand of the parameter's class: one value, or a `oneof:` JSON list of them."""
    if proven(field_class, operand):
        return True
    if not operand.startswith("["):
        return False
    try:
        values = json.loads(operand)
    except ValueError:
        return False
    return isinstance(values, list) and bool(values) and all(
        isinstance(v, str) and proven(field_class, v) for v in values
    )


def _credential_facts(request: InspectionRequest) -> list[dict[str, str]]:
    """What the policy learns of the credential headers: name, path and shape, no value."""
    facts = request.credentials
    if facts is None:  # an in-process caller that masked nothing: the same facts, derived here
        facts = header_kinds.credential_facts(request.headers)
    return [{"name": name, "path": _rooted("$headers", name), "shape": shape} for name, shape in facts]


def _request_key(request: InspectionRequest) -> tuple[str, int, int, int]:
    """A digest of everything but the headers that a scan of a request without a body reads
    (never the text): the headers are scanned on every request (see `Scanner.scan`)."""
    read = (request.method, request.path, request.query, request.header("content-encoding"))
    return ("request", *digest(repr(read).encode("utf-8", "surrogatepass")))


def _is_header(leaf: Leaf) -> bool:
    return leaf.path.startswith("$headers")


def _without(document: Any, settled: Collection[int]) -> Any:
    """`document` with the settled units (by id) as null: a shallow copy of the top level."""
    if type(document) is dict:
        return {key: None if id(value) in settled else value for key, value in document.items()}
    if type(document) is list:
        return [_without(item, settled) for item in document]
    return document


@lru_cache(maxsize=4096)  # header, query and path parameter names repeat request after request
def _rooted(root: str, name: str) -> str:
    return jsonpath.render((name,), root=root)


@lru_cache(maxsize=4096)
def _template_parts(template: str) -> tuple[str | None, ...]:
    """Per segment of a route template: the parameter's name, or None for a literal."""
    return tuple(
        part[1:-1] if part.startswith("{") and part.endswith("}") else None for part in template.strip("/").split("/")
    )


def _inside(path: str, root: str) -> bool:
    return path == root or (path.startswith(root) and path[len(root)] in ".[")


def policy_input(request: InspectionRequest, scan: ScanResult) -> dict[str, Any]:
    """The document the Rego policy decides on (see docs/POLICY_INPUT.md). No values."""
    endpoint = scan.endpoint
    body = scan.body
    write = request.method.upper() in ("POST", "PUT", "PATCH", "DELETE")
    return {
        "request": {
            "method": request.method.upper(),
            "host": request.host,
            "path": request.path,
            "content_type": request.header("content-type"),
            "bytes": len(request.body),
            "decoded_bytes": len(body.decoded) if body is not None else None,
            "client": request.client,
            "user_id": request.user_id,
            "upstream_role": request.upstream_role,
        },
        "endpoint": {
            "known": endpoint is not None,
            "template": endpoint.template if endpoint else None,
            "resource": endpoint.resource if endpoint else None,
            "action": endpoint.action if endpoint else "other",
            "write": write,
            "sdk_auth": bool(endpoint and endpoint.sdk_auth),
        },
        "schema": {
            "parse_error": scan.parse_error_code,
            "violations": [{"path": v.path, "kind": v.kind, "message": v.message} for v in scan.violations],
            "unknown_fields": scan.unknown_fields,
        },
        "headers": {"credentials": _credential_facts(request)},
        "fields": [
            {"path": leaf.path, "class": leaf.field_class}
            for leaves in (scan.leaves, scan.settled)
            for leaf in leaves
            if not leaf.is_key
        ],
        "findings": [f.as_policy_input() for f in scan.findings],
    }
