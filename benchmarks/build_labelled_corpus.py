"""Build tests/corpus/labelled/: captured ZenML traffic, clean and with labelled leaks.

    .venv/bin/python benchmarks/build_labelled_corpus.py     # rewrites the committed files

Every case is one line of JSON in the capture format `metagate scan` reads (method, path,
query, headers, body_text) plus a `label`:

    {"id", "kind": "clean" | "leak", "source": "<captured file>:<line>", "category",
     "sample", "place", "technique", "decision": "allow" | "redact" | "block",
     "findings": [{"category", "entity", "path"}]}

- clean.jsonl: every request in tests/corpus/captured/*.jsonl as the SDK sent it. Expected:
  no finding; decision `redact` when the catalog classes a field as code, package list,
  value-derived metadata or traceback (those leave as markers), `allow` otherwise. The one
  real leak of the captures (pii_pipeline's e-mail in run metadata) is labelled a leak.
- leaks.jsonl: a PII, secret or blob sample injected at a place a user fills (run metadata,
  descriptions, status reasons, exception messages, source code, artifact value reprs, a
  query parameter) of a captured request. Expected: a finding of the sample's category and
  entity at that JSON path; `block`, or `redact` where the place is itself redacted.
- evasions.jsonl: the samples at two small places, wrapped in each evasion encoding
  (percent, HTML entities, JSON escapes, nested JSON, full-width, zero-width, base64,
  gzip+base64, base64 of percent-encoding).

Labels come from how a case was made, never from running a detector; only the clean
decision uses the endpoint catalog's field classes (a schema fact, not a detection).
All samples are made up (documentation ranges, test card numbers, example keys).
"""

from __future__ import annotations

import base64
import copy
import gzip
import io
import json
import math
import pickle
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CAPTURED = ROOT / "tests" / "corpus" / "captured"
LABELLED = ROOT / "tests" / "corpus" / "labelled"

REDACTED_CLASSES = frozenset({"code", "package_list", "value_repr"})  # policies/rego/metagate/data.json


# --- samples -----------------------------------------------------------------------------

_PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


def _npy() -> bytes:
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (64,), }"
    header += " " * (118 - len(header)) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + bytes(range(256))


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("weights.bin", date_time=(2024, 1, 1, 0, 0, 0)), bytes(range(200)))
    return buffer.getvalue()


_PICKLE = pickle.dumps({"weights": [0.25] * 40, "bias": 0.1}, protocol=4)
_EMBEDDING = json.dumps([round(math.sin(i * 0.37) * 0.5, 4) for i in range(160)])
_CSV = "customer_id,age,income,segment\n" + "".join(
    f"{1000 + i},{18 + (i * 7) % 60},{20000 + (i * 3517) % 90000}.00,{'ABC'[i % 3]}\n" for i in range(24)
)
_PEM = (
    "-----BEGIN " + "PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
    "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n-----END " + "PRIVATE KEY-----"
)


@dataclass(frozen=True)
class Sample:
    name: str
    category: str   # pii | secret | blob
    entity: str     # the entity the value is (metagate's and Presidio's names for PII)
    value: str


SAMPLES: tuple[Sample, ...] = (
    Sample("email", "pii", "EMAIL_ADDRESS", "jane.doe@example.com"),
    Sample("email_tagged", "pii", "EMAIL_ADDRESS", "ml-ops+alerts@acme-corp.io"),
    Sample("phone_e164", "pii", "PHONE_NUMBER", "+1 415-555-2671"),
    Sample("phone_national", "pii", "PHONE_NUMBER", "(415) 555-2671"),
    Sample("card_visa", "pii", "CREDIT_CARD", "4111 1111 1111 1111"),
    Sample("card_mastercard", "pii", "CREDIT_CARD", "5555-5555-5555-4444"),
    Sample("iban_gb", "pii", "IBAN_CODE", "GB82 WEST 1234 5698 7654 32"),
    Sample("iban_de", "pii", "IBAN_CODE", "DE89370400440532013000"),
    Sample("ssn", "pii", "US_SSN", "219-09-9999"),
    Sample("ipv4", "pii", "IP_ADDRESS", "81.2.69.160"),
    Sample("ipv6", "pii", "IP_ADDRESS", "2001:4860:4860::8888"),
    Sample("mac", "pii", "MAC_ADDRESS", "3c:22:fb:0a:1b:2c"),
    Sample("bitcoin", "pii", "CRYPTO", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"),
    Sample("date_of_birth", "pii", "DATE_OF_BIRTH", "date of birth: 1984-03-12"),
    Sample("aws_access_key", "secret", "AWS_ACCESS_KEY", "AKIA" + "Z7QX4RT2WPLM5BNC"),
    Sample("github_token", "secret", "GITHUB_TOKEN", "ghp_" + "a1B2c3D4e5F6g7H8i9J0" + "k1L2m3N4o5P6q7R8"),
    Sample("github_fine_grained_token", "secret", "GITHUB_TOKEN", "github_pat_" + "11AJKQ2ZI0aB3cD4eF5gH6"
           + "_" + "iJ7kL8mN9oP0qR1sT2uV3wX4yZ5aB6cD7eF8gH9iJ0kL1mN2oP3qR4sT5uV"),
    Sample("gitlab_token", "secret", "GITLAB_TOKEN", "glpat-" + "x7Yb3Kq9Lm2Np4Rs6Tv8"),
    Sample("slack_token", "secret", "SLACK_TOKEN", "xoxb-" + "2431234567-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"),
    Sample("stripe_key", "secret", "STRIPE_KEY", "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"),
    Sample("openai_key", "secret", "OPENAI_KEY", "sk-" + "proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v2W3x4"),
    Sample("huggingface_token", "secret", "HUGGINGFACE_TOKEN", "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz12345678"),
    Sample("jwt", "secret", "JWT", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJqYW5lIiwiaWF0IjoxNzE3MjQ1Mjk2fQ"
           ".8sWqG2m0k3ZyXn6sRr1J3jX1qk5fQmGm2yN8bqk0Zx4"),
    Sample("private_key", "secret", "PRIVATE_KEY", _PEM),
    Sample("database_url", "secret", "DATABASE_URL_PASSWORD", "postgresql://ml:" + "S3cr3tPassw0rd" + "@db.internal:5432/zenml"),
    Sample("basic_auth_url", "secret", "BASIC_AUTH_URL", "https://deploy:" + "hunter2hunter2" + "@registry.example.com/v2/"),
    Sample("azure_connection_string", "secret", "AZURE_STORAGE_KEY",
           "DefaultEndpointsProtocol=https;AccountName=mlstore;AccountKey="
           + base64.b64encode(bytes(range(64))).decode() + ";EndpointSuffix=core.windows.net"),
    Sample("gcp_service_account", "secret", "GCP_SERVICE_ACCOUNT_KEY", json.dumps({
        "type": "service_account", "project_id": "ml-prod", "private_key_id": "4f" * 20, "private_key": _PEM + "\n",
        "client_email": "trainer@ml-prod.iam.gserviceaccount.com"})),
    Sample("pickle_base64", "blob", "BLOB_PICKLE", base64.b64encode(_PICKLE).decode()),
    Sample("pickle_hex", "blob", "BLOB_PICKLE", _PICKLE.hex()),
    Sample("npy_base64", "blob", "BLOB_NPY", base64.b64encode(_npy()).decode()),
    Sample("png_base64", "blob", "BLOB_PNG", base64.b64encode(_PNG).decode()),
    Sample("zip_base64", "blob", "BLOB_ZIP", base64.b64encode(_zip()).decode()),
    Sample("parquet_base64", "blob", "BLOB_PARQUET", base64.b64encode(b"PAR1" + bytes(range(120)) + b"PAR1").decode()),
    Sample("gzip_base64", "blob", "BLOB_GZIP", base64.b64encode(gzip.compress(bytes(range(256)) * 4, mtime=0)).decode()),
    Sample("png_data_uri", "blob", "DATA_URI", "data:image/png;base64," + base64.b64encode(_PNG).decode()),
    Sample("embedding_text", "blob", "NUMERIC_ARRAY", _EMBEDDING),
    Sample("csv_dump", "blob", "CSV_TABLE", _CSV),
)


# --- evasion encodings -------------------------------------------------------------------


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


TECHNIQUES: dict[str, Callable[[str], str]] = {
    "percent": lambda s: "".join(f"%{b:02X}" for b in s.encode()),
    "html_entities": lambda s: "".join(f"&#{ord(c)};" for c in s),
    "json_escapes": lambda s: "".join(f"\\u{ord(c):04x}" for c in s),
    "nested_json": lambda s: json.dumps({"run": {"contact": s}}),
    "double_json": lambda s: json.dumps(json.dumps({"contact": s})),
    "fullwidth": _fullwidth,
    "zero_width": lambda s: "\u200b".join(s),
    "base64": lambda s: base64.b64encode(s.encode()).decode(),
    "gzip_base64": lambda s: base64.b64encode(gzip.compress(s.encode(), mtime=0)).decode(),
    "base64_of_percent": lambda s: base64.b64encode("".join(f"%{b:02X}" for b in s.encode()).encode()).decode(),
}


# --- places ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    name: str
    method: str
    path_prefix: str
    parts: tuple[str | int, ...]          # JSON location of the field; ("$query", name) for a query parameter
    inject: Callable[[Any, str], str]     # (old value, sample) -> new value
    decision: str                         # what the gate must do

    @property
    def json_path(self) -> str:
        from metagate.scanner import jsonpath

        if self.parts[0] == "$query":
            return jsonpath.render(self.parts[1:], root="$query")
        return jsonpath.render(self.parts)


PLACES: tuple[Place, ...] = (
    Place("run_metadata_note", "POST", "/api/v1/run-metadata", ("values", "note"), lambda old, s: f"trained by {s}", "block"),
    Place("run_metadata_value", "POST", "/api/v1/run-metadata", ("values", "contact"), lambda old, s: s, "block"),
    Place("run_status_reason", "POST", "/api/v1/runs", ("status_reason",), lambda old, s: f"waiting for {s}", "block"),
    Place("pipeline_description", "POST", "/api/v1/pipelines", ("description",), lambda old, s: f"owned by {s}", "block"),
    Place("model_description", "POST", "/api/v1/pipeline_snapshots", ("pipeline_configuration", "model", "description"),
          lambda old, s: f"{old} Owner: {s}.", "block"),
    Place("step_exception_message", "PUT", "/api/v1/steps/", ("exception_info", "message"),
          lambda old, s: f"{old} (while calling {s})", "block"),
    Place("stack_name_query", "GET", "/api/v1/stacks", ("$query", "name"), lambda old, s: s, "block"),
    Place("step_source_code", "POST", "/api/v1/steps", ("source_code",), lambda old, s: f'{old}\nCONTACT = "{s}"\n', "redact"),
    Place("artifact_value_repr", "POST", "/api/v1/artifact_versions/batch", (0, "metadata", "string_representation"),
          lambda old, s: f"{{'note': '{s}'}}", "redact"),
)
EVASION_PLACES = ("run_metadata_note", "step_exception_message")


# --- building ----------------------------------------------------------------------------


def captured() -> Iterator[tuple[str, int, dict[str, Any]]]:
    for path in sorted(CAPTURED.glob("*.jsonl")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if line.strip():
                yield path.name, number, json.loads(line)


def _get(node: Any, parts: tuple[str | int, ...]) -> Any:
    for part in parts:
        node = node[part]
    return node


def _fits(record: dict[str, Any], place: Place) -> bool:
    if record["method"] != place.method or not record["path"].startswith(place.path_prefix):
        return False
    if place.parts[0] == "$query":
        return any(k == place.parts[1] for k, _ in record.get("query") or [])
    if not record.get("body_text"):
        return False
    try:
        parent = _get(json.loads(record["body_text"]), place.parts[:-1])
    except (KeyError, IndexError, TypeError):
        return False
    return isinstance(parent, dict) and (place.parts[-1] in parent or place.parts[0] == "values")


def _base_record(place: Place, records: list[tuple[str, int, dict[str, Any]]]) -> tuple[str, int, dict[str, Any]]:
    for source, number, record in records:
        # The PII capture's own leak must not ride along into other cases.
        if _fits(record, place) and "jane.doe@example.com" not in (record.get("body_text") or ""):
            return source, number, record
    raise SystemExit(f"no captured request fits place {place.name}: re-capture the corpus")


def _inject(record: dict[str, Any], place: Place, value: str) -> dict[str, Any]:
    record = copy.deepcopy(record)
    if place.parts[0] == "$query":
        record["query"] = [[k, place.inject(v, value) if k == place.parts[1] else v] for k, v in record["query"]]
        return record
    body = json.loads(record["body_text"])
    parent = _get(body, place.parts[:-1])
    parent[place.parts[-1]] = place.inject(parent.get(place.parts[-1]) or "", value)
    if place.parts[0] == "values":  # run metadata declares a type for every value
        body.setdefault("types", {})[place.parts[-1]] = "string"
    record["body_text"] = json.dumps(body)
    return record


def _case(record: dict[str, Any], label: dict[str, Any]) -> dict[str, Any]:
    case = {k: record[k] for k in ("method", "path", "query", "headers", "body_text")}
    case["label"] = label
    return case


def leak_label(case_id: str, source: str, sample: Sample, place: Place, technique: str) -> dict[str, Any]:
    return {
        "id": case_id, "kind": "leak", "source": source, "category": sample.category, "sample": sample.name,
        "place": place.name, "technique": technique, "decision": place.decision,
        "findings": [{"category": sample.category, "entity": sample.entity, "path": place.json_path}],
    }


def clean_decision(record: dict[str, Any], scanner: Any) -> str:
    """`redact` when the catalog classes a leaf as something the default policy redacts."""
    from metagate.scanner.capture import request_from_record

    scan = scanner.scan(request_from_record(record))
    for leaf in scan.leaves:
        if leaf.is_key:
            continue
        if leaf.field_class in REDACTED_CLASSES or (leaf.field_class == "log" and leaf.path.endswith(".traceback")):
            return "redact"
    return "allow"


def build() -> dict[str, list[dict[str, Any]]]:
    from metagate.scanner.catalog import Catalog
    from metagate.scanner.pipeline import Scanner
    from metagate.scanner.schemas import SchemaSet

    catalog = Catalog.load()
    # Classes only, no detectors; every leaf with its text.
    bare = Scanner(catalog, SchemaSet(catalog), [], [], b"\x00" * 32, remember_clean=False)
    records = list(captured())

    clean: list[dict[str, Any]] = []
    for source, number, record in records:
        where = f"{source}:{number}"
        if "jane.doe@example.com" in (record.get("body_text") or ""):
            label = {"id": f"captured-{source.removesuffix('.jsonl')}-{number}", "kind": "leak", "source": where,
                     "category": "pii", "sample": "email", "place": "run_metadata_note", "technique": "captured",
                     "decision": "block",
                     "findings": [{"category": "pii", "entity": "EMAIL_ADDRESS", "path": "$.values.note"}]}
        else:
            label = {"id": f"clean-{source.removesuffix('.jsonl')}-{number}", "kind": "clean", "source": where,
                     "category": None, "sample": None, "place": None, "technique": None,
                     "decision": clean_decision(record, bare), "findings": []}
        clean.append(_case(record, label))

    leaks: list[dict[str, Any]] = []
    for place in PLACES:
        source, number, record = _base_record(place, records)
        for sample in SAMPLES:
            case_id = f"leak-{place.name}-{sample.name}"
            leaks.append(_case(_inject(record, place, sample.value),
                               leak_label(case_id, f"{source}:{number}", sample, place, "plain")))

    evasions: list[dict[str, Any]] = []
    places = {p.name: p for p in PLACES}
    for technique, encode in TECHNIQUES.items():
        for n, sample in enumerate(SAMPLES):
            place = places[EVASION_PLACES[n % len(EVASION_PLACES)]]
            source, number, record = _base_record(place, records)
            case_id = f"evasion-{technique}-{sample.name}"
            evasions.append(_case(_inject(record, place, encode(sample.value)),
                                  leak_label(case_id, f"{source}:{number}", sample, place, technique)))
    return {"clean.jsonl": clean, "leaks.jsonl": leaks, "evasions.jsonl": evasions}


def main() -> int:
    LABELLED.mkdir(parents=True, exist_ok=True)
    for name, cases in build().items():
        text = "".join(json.dumps(case, ensure_ascii=False) + "\n" for case in cases)
        (LABELLED / name).write_text(text, encoding="utf-8")
        print(f"{name}: {len(cases)} cases, {len(text.encode()) / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
