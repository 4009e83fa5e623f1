"""The whole inspection pipeline for one request, as worker processes run it.

request → normalise → classify endpoint → validate schema → detect → decide (Rego) → redact.
`metagate scan` and the policy tests build the same Inspector, so they see what the proxy sees.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typing import TYPE_CHECKING

from metagate.scanner.model import Decision, InspectionRequest, Piece

if TYPE_CHECKING:  # the proxy process never imports the engines, detectors or Presidio
    from metagate.policies.engine import PolicyEngine
    from metagate.scanner.pipeline import ScanResult
    from metagate.scanner.recorded_paths import PathMask


@dataclass(frozen=True)
class InspectorSettings:
    """Everything a worker needs to build its Inspector; picklable."""

    fingerprint_key: bytes
    storage_prefixes: tuple[str, ...] = ()
    max_body_bytes: int = 8 * 1024 * 1024
    max_decoded_bytes: int = 16 * 1024 * 1024
    policy_engine: str = "regopy"
    opa_url: str | None = None
    policy_dirs: tuple[Path, ...] = ()
    policy_data: dict[str, Any] = field(default_factory=dict)
    detector_config: dict[str, Any] = field(default_factory=dict)
    catalog_path: Path | None = None
    # "module:attribute" of the class the worker builds; tests swap in a crashing one.
    factory: str = "metagate.proxy.inspection:Inspector"

    def build(self) -> "Inspector":
        module, _, attribute = self.factory.partition(":")
        return getattr(importlib.import_module(module), attribute)(self)


@dataclass
class InspectionResult:
    """What the proxy needs to enforce and record. Holds no sensitive value (`pieces` are
    values of a request the policy let through)."""

    decision: Decision
    endpoint: str | None
    resource: str | None
    action: str
    sdk_auth: bool
    bytes_in: int
    decoded_bytes: int | None
    parse_error: str | None
    violations: list[dict[str, str]]
    unknown_fields: list[str]
    findings: list[dict[str, Any]]
    inventory: dict[str, int]
    top_fields: list[str]
    redacted_paths: list[str]
    new_body: bytes | None          # set when redaction rewrote the body
    policy_hash: str
    timings_ms: dict[str, float]
    # The request path and query parameter names as the record may keep them, when a name or
    # segment in them held a finding (scanner/recorded_paths.py); None: as sent.
    recorded_path: str | None = None
    recorded_query_params: list[str] | None = None
    # The request's short values, for the proxy to join with this client's next requests
    # (scanner/across_requests.py): values it forwards anyway, never recorded.
    pieces: tuple[Piece, ...] = ()


class Inspector:
    def __init__(self, settings: InspectorSettings) -> None:
        from metagate.scanner.catalog import Catalog
        from metagate.scanner.detectors.registry import build_detectors
        from metagate.scanner.normalize import Limits
        from metagate.scanner.pipeline import Scanner
        from metagate.scanner.schemas import SchemaSet

        self.settings = settings
        catalog = Catalog.load(settings.catalog_path)
        detectors, tree_detectors = build_detectors(settings.detector_config)
        self.scanner = Scanner(
            catalog,
            SchemaSet(catalog),
            detectors,
            tree_detectors,
            settings.fingerprint_key,
            Limits(settings.max_body_bytes, settings.max_decoded_bytes),
            settings.storage_prefixes,
        )
        self.engine = self._engine(settings)

    @staticmethod
    def _engine(settings: InspectorSettings) -> "PolicyEngine":
        from metagate.policies.engine import OpaRestEngine, RegopyEngine

        if settings.policy_engine == "opa":
            if not settings.opa_url:
                raise ValueError("policy.engine is opa but policy.opa_url is not set")
            return OpaRestEngine(settings.opa_url)
        return RegopyEngine(data_overrides=settings.policy_data or None, extra_dirs=settings.policy_dirs)

    @property
    def policy_hash(self) -> str:
        return self.engine.policy_hash

    def inspect(self, request: InspectionRequest) -> InspectionResult:
        from metagate.scanner.across_requests import findings_across_requests, pieces_of
        from metagate.scanner.pipeline import policy_input
        from metagate.scanner.recorded_paths import PathMask

        started = time.perf_counter()
        scan = self.scanner.scan(request)
        template = scan.endpoint.template if scan.endpoint else None
        if request.earlier:
            scan.findings.extend(findings_across_requests(
                self.scanner.detection, self.settings.fingerprint_key, template, scan.leaves, request.earlier))
        scanned = time.perf_counter()
        # Names the client chose that hold a finding are masked in everything the policy
        # reads and the record keeps; redaction gets the real paths back.
        mask = PathMask.of(
            scan.leaves, scan.findings, self.settings.fingerprint_key, template, request.path,
        )
        document = policy_input(request, scan)
        if mask:
            document = mask.mask_paths(document)
            document["request"]["path"] = mask.request_path(request.path)
        decision = Decision.from_policy(self.engine.evaluate(document))
        decision.redact = [mask.unmask(path) for path in decision.redact]
        decided = time.perf_counter()
        new_body, redacted = self._redact(scan, decision)
        decision.redact = [mask.mask(path) for path in decision.redact]
        done = time.perf_counter()
        result = self._result(scan, decision, new_body, [mask.mask(path) for path in redacted], mask, request, {
            "scan": (scanned - started) * 1000,
            "policy": (decided - scanned) * 1000,
            "redact": (done - decided) * 1000,
        }, len(request.body))
        if decision.action != "block":
            result.pieces = pieces_of(template, scan.leaves)
        return result

    def _redact(self, scan: "ScanResult", decision: Decision) -> tuple[bytes | None, list[str]]:
        from metagate.scanner.redact import redact_body

        if decision.action != "redact" or not decision.redact:
            return None, []
        if scan.body is None or scan.body.kind != "json":
            # Only JSON bodies can be rewritten: a redaction we cannot apply is a block.
            decision.action = "block"
            decision.rules.append("redact.not_applicable")
            decision.reasons.append("redact.not_applicable: body is not JSON, fields cannot be redacted")
            return None, []
        body, done = redact_body(scan.body.document, decision.redact, self.settings.fingerprint_key)
        return body, done

    def _result(
        self, scan: "ScanResult", decision: Decision, new_body: bytes | None, redacted: list[str],
        mask: "PathMask", request: InspectionRequest, timings: dict[str, float], bytes_in: int,
    ) -> InspectionResult:
        endpoint = scan.endpoint
        return InspectionResult(
            decision=decision,
            endpoint=endpoint.template if endpoint else None,
            resource=endpoint.resource if endpoint else None,
            action=endpoint.action if endpoint else "other",
            sdk_auth=bool(endpoint and endpoint.sdk_auth),
            bytes_in=bytes_in,
            decoded_bytes=len(scan.body.decoded) if scan.body is not None else None,
            parse_error=scan.parse_error,
            violations=[{"path": mask.mask(v.path), "kind": v.kind, "message": v.message} for v in scan.violations],
            unknown_fields=[mask.mask(path) for path in scan.unknown_fields],
            findings=[
                {
                    "entity": f.entity, "category": f.category, "path": mask.mask(f.path), "score": f.score,
                    "detector": f.detector, "fingerprint": f.fingerprint, "field_class": f.field_class,
                }
                for f in scan.findings
            ],
            inventory=scan.inventory,
            top_fields=[mask.top_field(name) for name in scan.top_fields],
            redacted_paths=redacted,
            new_body=new_body,
            policy_hash=self.engine.policy_hash,
            timings_ms={k: round(v, 3) for k, v in timings.items()},
            recorded_path=mask.request_path(request.path.split("?", 1)[0]) if mask else None,
            recorded_query_params=mask.query_params(name for name, _ in request.query) if mask.query_names else None,
        )
