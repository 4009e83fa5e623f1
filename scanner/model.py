"""Value types shared by the scanner, the policy engines, the proxy and the audit trail.

Everything here is picklable (it crosses into worker processes) and none of it holds a
sensitive value except `InspectionRequest.body`, which never leaves the worker pipeline.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

# Classes a request field can have. Ids, enums, timestamps and numbers are proven by the
# schema and never scanned; everything else can hold data and is scanned.
FieldClass = Literal[
    "id",            # UUID or other reference
    "enum",          # enum member or bool
    "name",          # short name chosen by a user (pipeline, step, tag ...)
    "timestamp",
    "numeric",
    "hash",          # content hash, cache key, checksum
    "uri",           # customer storage or endpoint URI
    "source_ref",    # python import path of user code (module/attribute)
    "free_text",     # description, model-card text, status reason
    "user_dict",     # arbitrary user JSON: parameters, settings, run metadata values
    "code",          # source code, docstrings, Dockerfiles, requirements text
    "log",           # tracebacks and exception text
    "package_list",  # pip freeze of the client or orchestrator environment
    "value_repr",    # value-derived artifact metadata (string_representation ...)
    "credential",    # a secret value, connector key, token, password
    "secret_ref",    # a {{secret.key}} reference: names a secret, holds none
    "auth",          # the SDK's own authentication material (login form)
    "unknown",       # not in the catalog
]

# Classes the detectors never look at: the schema already proved their shape.
PROVEN_CLASSES: frozenset[str] = frozenset({"id", "enum", "timestamp", "numeric", "hash", "auth"})

Action = Literal["allow", "block", "redact", "warn"]


@dataclass(frozen=True, slots=True)
class InspectionRequest:
    """One HTTP request as the proxy hands it to the inspection pipeline."""

    method: str
    path: str                                  # without the query string
    body: bytes = b""                          # raw, as on the wire (may be content-encoded)
    headers: tuple[tuple[str, str], ...] = ()  # credential header values already masked
    query: tuple[tuple[str, str], ...] = ()
    scheme: str = "https"
    host: str = ""
    port: int = 443
    client: str = ""
    user_id: str | None = None
    request_id: str = ""
    upstream_role: Literal["zenml", "storage", "other"] = "zenml"
    # (lower-case name, shape) of each credential header, computed by the proxy before it
    # masked them (scanner/headers.py `credential_facts`); None: not computed, the scanner
    # derives them from `headers` (in-process callers that never masked anything).
    credentials: tuple[tuple[str, str], ...] | None = None
    # Short values this client's earlier forwarded requests carried (proxy/recent_values.py),
    # oldest first: a value split over requests is joined with them (scanner/across_requests.py).
    earlier: tuple["Piece", ...] = ()

    def header(self, name: str, default: str = "") -> str:
        name = name.lower()
        size = len(name)
        for key, value in self.headers:
            if len(key) == size and key.lower() == name:  # lengths first: lower() only on a likely match
                return value
        return default


@dataclass(frozen=True, slots=True)
class Piece:
    """A short value a forwarded request carried, and where: the endpoint template and the
    JSON path with list indexes dropped (`$.add_tags[]`)."""

    template: str
    place: str
    text: str


# A leaf's text is the value as sent, then each decoded or joined view of it (scanner/evasion.py),
# each on lines of their own between this separator: no base64 run, digit group or package
# pin reaches across it.
VIEW_SEPARATOR = "\n;\n"


def views(text: str, limit: int = -1) -> Iterator[tuple[int, str]]:
    """(offset, view) for the value as sent and each view appended to it (at most `limit`+1
    pieces when a limit is given): detectors that judge a whole value judge each view."""
    offset = 0
    for view in text.split(VIEW_SEPARATOR, limit):
        yield offset, view
        offset += len(view) + len(VIEW_SEPARATOR)


@dataclass(frozen=True, slots=True)
class Leaf:
    """A string (or key) inside the request with where it sits and what it is."""

    path: str          # JSON path, e.g. $.values.note or $.query.name
    text: str
    field_class: str
    is_key: bool = False


@dataclass(frozen=True, slots=True)
class Finding:
    """Something a detector found. Never holds the matched value, only its keyed hash."""

    entity: str        # EMAIL_ADDRESS, AWS_ACCESS_KEY, BLOB_PICKLE ...
    category: str      # pii | secret | blob
    path: str
    start: int
    end: int
    score: float
    detector: str
    fingerprint: str   # HMAC-SHA256 of the matched text under the deployment key (hex, 32 chars)
    field_class: str = "unknown"
    # What a shape detector measured ((name, count) pairs: words, sentences, rows, columns,
    # numbers ...), for the policy to compare with its thresholds; () for other findings.
    measure: tuple[tuple[str, int], ...] = ()

    def as_policy_input(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "entity": self.entity,
            "category": self.category,
            "path": self.path,
            "score": self.score,
            "detector": self.detector,
            "field_class": self.field_class,
        }
        if self.measure:
            entry["measure"] = dict(self.measure)
        return entry


@dataclass(frozen=True, slots=True)
class Violation:
    """A way the payload departs from the metadata-only schema (never quotes the value)."""

    path: str
    kind: str          # too_long, too_deep, too_large, bad_type, uri_outside_storage, unknown_field ...
    message: str


@dataclass(slots=True)
class Decision:
    action: Action = "allow"
    rules: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    redact: list[str] = field(default_factory=list)     # JSON paths
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_policy(cls, result: dict[str, Any]) -> "Decision":
        action = result.get("action", "block")
        if action not in ("allow", "block", "redact", "warn"):
            return cls("block", ["engine.bad_output"], [f"policy returned unknown action {action!r}"])
        return cls(
            action=action,
            rules=sorted(str(r) for r in result.get("rules", [])),
            reasons=sorted(str(r) for r in result.get("reasons", [])),
            redact=sorted(str(p) for p in result.get("redact", [])),
            warnings=sorted(str(w) for w in result.get("warnings", [])),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
