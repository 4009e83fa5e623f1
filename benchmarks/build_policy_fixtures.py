"""Build the policy fixtures from the captured SDK traffic in tests/corpus/captured/.

Writes `policies/fixtures/` (the shipped policy: a firing and an allow fixture per rule) and
`examples/custom-policy/fixtures/` (the worked example of docs/custom-policy.md). Each fixture
names its `source` line and what was edited. Re-run after re-capturing the corpus (a ZenML
upgrade), then `metagate policy test` and `metagate policy test examples/custom-policy`.

Usage (project venv, repository root): .venv/bin/python benchmarks/build_policy_fixtures.py
"""

from __future__ import annotations

import base64
import copy
import json
import pickle
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CAPTURED = ROOT / "tests" / "corpus" / "captured"
SHIPPED = ROOT / "policies" / "fixtures"
EXAMPLE = ROOT / "examples" / "custom-policy" / "fixtures"

FINDINGS = ["pii.detected", "secret.detected", "blob.detected"]
SCHEMA = ["schema.unparseable", "schema.too_long", "schema.too_deep", "schema.too_large", "schema.bad_type",
          "schema.unknown_field"]
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"                            # AWS's documented example key
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
Request = dict[str, Any]


def captured(name: str, line: int, keep_length: bool = True) -> tuple[Request, str]:
    record = json.loads((CAPTURED / f"{name}.jsonl").read_text().splitlines()[line - 1])
    request = {k: record[k] for k in ("method", "path", "query", "headers", "body_text") if record.get(k)}
    if not keep_length:
        request["headers"] = {k: v for k, v in request["headers"].items() if k.lower() != "content-length"}
    return request, f"tests/corpus/captured/{name}.jsonl:{line}"


def body(request: Request) -> Any:
    return json.loads(request["body_text"])


def with_body(request: Request, new_body: Any) -> Request:
    """`request` carrying `new_body` (a document, or text as is); its Content-Length dropped."""
    request = copy.deepcopy(request)
    request["body_text"] = new_body if isinstance(new_body, str) else json.dumps(new_body)
    request["headers"] = {k: v for k, v in request["headers"].items() if k.lower() != "content-length"}
    return request


def with_headers(request: Request, **headers: str) -> Request:
    """`request` with `headers` set (replacing a header of the same name)."""
    request = copy.deepcopy(request)
    request["headers"] = {**request["headers"], **headers}
    return request


def new_request(method: str, path: str, document: Any = None) -> Request:
    request: Request = {"method": method, "path": path, "headers": {
        "Host": "zenml.example.com", "User-Agent": "zenml/0.98.0", "Content-Type": "application/json"}}
    if document is not None:
        request["body_text"] = json.dumps(document)
    return request


def write(path: Path, name: str, description: str, request: Request, decision: str, rules: list[str] | None = None,
          not_rules: list[str] | None = None, source: str = "", settings: dict[str, Any] | None = None) -> None:
    document: dict[str, Any] = {"name": name, "description": description}
    if source:
        document["source"] = source
    if settings:
        document["settings"] = settings
    document["request"] = request
    expect: dict[str, Any] = {"decision": decision}
    if rules:
        expect["rules"] = rules
    if not_rules:
        expect["not_rules"] = not_rules
    document["expect"] = expect
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def shipped(family: str, name: str, *args: Any, **kwargs: Any) -> None:
    write(SHIPPED / family / f"{name}.json", name, *args, **kwargs)


def build_shipped() -> None:
    clean_md, clean_md_src = captured("clean_pipeline", 29)
    pipe, pipe_src = captured("clean_pipeline", 10)
    art, art_src = captured("clean_pipeline", 23)
    step, step_src = captured("clean_pipeline", 21)

    # Endpoints.
    shipped("endpoints", "unknown-write-blocked", "A write to an endpoint the catalog does not know could carry anything.",
            new_request("POST", "/api/v1/new-thing", {"name": "x"}), "block", rules=["endpoint.unknown_write"])
    shipped("endpoints", "known-write-allowed", "Registering a pipeline: a known write with names and ids only.",
            pipe, "allow", not_rules=["endpoint.unknown_write", "schema.too_long"], source=pipe_src)
    shipped("endpoints", "unknown-read-allowed", "An unknown read only asks the server for something: allowed by default.",
            new_request("GET", "/api/v1/new-thing"), "allow", not_rules=["endpoint.unknown_read"])
    shipped("endpoints", "unknown-read-blocked-when-configured",
            "With unknown_endpoint.read set to block, unknown reads are refused too.",
            new_request("GET", "/api/v1/new-thing"), "block", rules=["endpoint.unknown_read"],
            settings={"policy_data": {"unknown_endpoint": {"read": "block"}}})

    # Schema.
    shipped("schema", "malformed-json-blocked", "A body that does not parse cannot be inspected.",
            with_body(clean_md, clean_md["body_text"][:120]), "block", rules=["schema.unparseable"],
            source=clean_md_src + " (truncated)")
    long_name = {**body(pipe), "name": "p" * 300}
    shipped("schema", "name-too-long-blocked", "A 300-character pipeline name: names are bounded at 255.",
            with_body(pipe, long_name), "block", rules=["schema.too_long"], source=pipe_src + " (name lengthened)")
    deep: dict[str, Any] = {"level": 0}
    for level in range(1, 20):
        deep = {"level": level, "child": deep}
    shipped("schema", "metadata-too-deep-blocked", "Metadata nested 20 levels deep: user dicts are bounded at 16.",
            with_body(clean_md, metadata(clean_md, {"config": deep}, "dict")), "block", rules=["schema.too_deep"],
            source=clean_md_src + " (values replaced)")
    nested = {"optimizer": {"name": "adam", "betas": [0.9, 0.999]}}
    shipped("schema", "nested-metadata-allowed", "Metadata nested three levels: within bounds.",
            with_body(clean_md, metadata(clean_md, {"config": nested}, "dict")), "allow",
            not_rules=["schema.too_deep", "schema.too_large"], source=clean_md_src + " (values replaced)")
    shipped("schema", "metadata-too-large-blocked", "A metadata value with 21,000 entries: user dicts are bounded at 20,000.",
            with_body(clean_md, metadata(clean_md, {"labels": ["ok"] * 21000}, "list")), "block",
            rules=["schema.too_large"], source=clean_md_src + " (values replaced)")
    shipped("schema", "bad-type-blocked", "A list where the endpoint takes one object: the body is not the shape ZenML sends.",
            with_body(clean_md, [body(clean_md)]), "block", rules=["schema.bad_type"],
            source=clean_md_src + " (wrapped in a list)")
    shipped("schema", "unknown-field-warns", "A field ZenML 0.98 does not send: forwarded with a warning.",
            with_body(clean_md, {**body(clean_md), "notes_for_later": "x"}), "warn", rules=["schema.unknown_field"],
            source=clean_md_src + " (field added)")
    shipped("schema", "artifact-uri-outside-storage-blocked",
            "With storage prefixes configured, an artifact URI elsewhere is refused.",
            art, "block", rules=["schema.uri_outside_storage"], source=art_src,
            settings={"storage_prefixes": ["s3://ml-bucket/"]})
    shipped("schema", "artifact-uri-inside-storage-allowed", "The same artifact with its store's prefix configured.",
            art, "allow", not_rules=["schema.uri_outside_storage"], source=art_src,
            settings={"storage_prefixes": ["/tmp/metagate-capture-20y8fgn9/"]})
    not_a_digest = [{**body(art)[0], "content_hash": "078051120"}]
    shipped("schema", "hash-field-without-a-digest-blocked",
            "A string hash field (content_hash) holding no hex digest of a real digest length (nine digits, an SSN's "
            "shape) is refused: no detector can tell such digits from a count.",
            with_body(art, not_a_digest), "block", rules=["schema.not_a_digest"], source=art_src + " (content_hash replaced)")
    shipped("schema", "hash-field-with-a-digest-allowed",
            "A content_hash holding MD5's 32 hex digits, as the SDK writes it, is a hash, not user data.",
            art, "allow", not_rules=["schema.not_a_digest"], source=art_src)

    # Redaction.
    snapshot, snapshot_src = captured("clean_pipeline", 12)
    shipped("redaction", "snapshot-redacts-code-and-packages",
            "A pipeline snapshot: step source code and the client's pip freeze leave only as hash markers.",
            snapshot, "redact", rules=["redact.code", "redact.package_list"], not_rules=[*FINDINGS, "credential.write"],
            source=snapshot_src)
    run, run_src = captured("clean_pipeline", 19)
    shipped("redaction", "run-redacts-package-list", "A pipeline run with the orchestrator environment's package list.",
            run, "redact", rules=["redact.package_list"], not_rules=["redact.code"], source=run_src)
    placeholder, placeholder_src = captured("clean_pipeline", 13)
    shipped("redaction", "run-without-environment-allowed",
            "The placeholder run the SDK creates first: no package list, nothing to redact.",
            placeholder, "allow", not_rules=["redact.package_list", "redact.code", "endpoint.unknown_write"],
            source=placeholder_src)
    shipped("redaction", "step-redacts-source-code", "A step run carries its step's source code.",
            step, "redact", rules=["redact.code"], source=step_src)
    shipped("redaction", "step-without-source-code-allowed", "The same step run with source_code null: nothing to redact.",
            with_body(step, {**body(step), "source_code": None}), "allow", not_rules=["redact.code"],
            source=step_src + " (source_code set to null)")
    commented = body(step)
    commented["source_code"] = commented["source_code"].replace("@step\n", "@step\n# maintainer: jane.doe@example.com\n")
    shipped("redaction", "pii-in-source-code-is-redacted-not-blocked",
            "An e-mail address in a comment of step code: the code field is redacted, so the address never leaves "
            "and does not block.",
            with_body(step, commented), "redact", rules=["redact.code"], not_rules=["pii.detected"],
            source=step_src + " (comment added)")
    repr_art, repr_src = captured("clean_pipeline", 30)
    shipped("redaction", "artifact-redacts-value-repr",
            "An artifact version whose metadata holds the value's string representation.",
            repr_art, "redact", rules=["redact.value_repr"], source=repr_src)
    shipped("redaction", "artifact-without-value-repr-allowed", "An artifact version with size and length metadata only.",
            art, "allow", not_rules=["redact.value_repr", "schema.uri_outside_storage"], source=art_src)
    failed, failed_src = captured("failing_pipeline", 26)
    shipped("redaction", "failed-step-redacts-traceback",
            "A failed step's exception_info: the traceback is redacted, the exception message passes (it is scanned).",
            failed, "redact", rules=["redact.traceback"], not_rules=FINDINGS, source=failed_src)
    done, done_src = captured("clean_pipeline", 24)
    shipped("redaction", "completed-step-update-allowed", "A step update with status and outputs: no traceback, no code.",
            done, "allow", not_rules=["redact.traceback", "redact.code"], source=done_src)

    # Findings.
    shipped("findings", "clean-run-metadata-allowed",
            "The SDK's log_metadata call with metrics only: scanned, nothing found, forwarded as is.",
            clean_md, "allow", not_rules=[*FINDINGS, *SCHEMA, "endpoint.unknown_write", "credential.write"],
            source=clean_md_src)
    pii, pii_src = captured("pii_pipeline", 21)
    shipped("findings", "pii-in-run-metadata-blocked", "log_metadata with a (made-up) e-mail address in a free-form value.",
            pii, "block", rules=["pii.detected"], not_rules=["secret.detected", "blob.detected"], source=pii_src)
    shipped("findings", "aws-key-in-run-metadata-blocked", "An AWS access key id (AWS's documented example) logged as metadata.",
            with_body(clean_md, metadata(clean_md, {"aws_key": AWS_KEY_ID}, "str")), "block", rules=["secret.detected"],
            source=clean_md_src + " (values replaced)")
    pickled = base64.b64encode(pickle.dumps({"weights": [1.0] * 50}, protocol=4)).decode()
    shipped("findings", "pickle-in-run-metadata-blocked",
            "A base64-encoded pickle logged as metadata: serialized data, not metadata.",
            with_body(clean_md, metadata(clean_md, {"model": pickled}, "str")), "block", rules=["blob.detected"],
            source=clean_md_src + " (values replaced)")
    embedding = [round(0.0123 * i, 4) for i in range(2000)]
    shipped("findings", "embedding-in-run-metadata-blocked",
            "A 2,000-number embedding logged as metadata: a numeric array, i.e. data.",
            with_body(clean_md, metadata(clean_md, {"embedding": embedding}, "list")), "block", rules=["blob.detected"],
            source=clean_md_src + " (values replaced)")

    # Credentials.
    login, login_src = captured("clean_pipeline_api_key", 3)
    shipped("credentials", "sdk-api-key-login-allowed",
            "The SDK's own login with a service-account API key (the key itself is masked in the capture): its "
            "credential fields are exempt on auth endpoints.",
            login, "allow", not_rules=["credential.write", "secret.detected", "pii.detected"], source=login_src)
    store = {"name": "s3-store", "type": "artifact_store", "flavor": "s3", "configuration": {
        "path": "s3://ml-bucket/", "aws_access_key_id": AWS_KEY_ID, "aws_secret_access_key": AWS_SECRET}}
    shipped("credentials", "connector-keys-in-stack-component-blocked",
            "Registering an S3 artifact store with its keys inline would store credentials on the server.",
            new_request("POST", "/api/v1/components", store), "block", rules=["credential.write", "secret.detected"])
    store["configuration"] = {"path": "s3://ml-bucket/", "key": "{{aws.access_key_id}}", "secret": "{{aws.secret_access_key}}"}
    shipped("credentials", "secret-references-in-stack-component-allowed",
            "The same store referring to a ZenML secret: references name a secret, they hold none.",
            new_request("POST", "/api/v1/components", store), "allow", not_rules=["credential.write", "secret.detected"])
    connector = {"name": "aws-implicit", "connector_type": "aws", "description": "", "auth_method": "implicit",
                 "resource_types": ["aws-generic", "s3-bucket"], "resource_id": None, "supports_instances": False,
                 "expires_at": None, "expires_skew_tolerance": None, "expiration_seconds": None,
                 "configuration": {"region": "eu-west-1"}, "labels": {}}
    shipped("credentials", "connector-implicit-auth-allowed",
            "An AWS service connector on the workload's own identity (auth_method implicit): its configuration "
            "holds a region and no secret value, so it stores no credential.",
            new_request("POST", "/api/v1/service_connectors", connector), "allow",
            not_rules=["credential.write", "secret.detected"])
    connector = {**connector, "name": "aws-keys", "auth_method": "secret-key", "configuration": {
        "region": "eu-west-1", "aws_access_key_id": AWS_KEY_ID, "aws_secret_access_key": AWS_SECRET}}
    shipped("credentials", "connector-secret-key-blocked",
            "The same connector with its access key inline: the secret attributes of the connector type are "
            "credentials on the server.",
            new_request("POST", "/api/v1/service_connectors", connector), "block", rules=["credential.write"])
    store["configuration"] = {"path": "s3://ml-bucket/", "secret": "{{postgresql://ml:" + "Tr0ub4dor-3@db.example.com/ml}}"}
    shipped("credentials", "reference-shaped-dsn-in-stack-component-blocked",
            "A database URL with its password wrapped in braces, `{{...}}`, is no secret reference (a reference "
            "is exactly {{ name.key }}): a credential under a credential key, and a secret.",
            new_request("POST", "/api/v1/components", store), "block", rules=["credential.write", "secret.detected"])

    # Headers: the SDK authenticates with a bearer JWT only; everything else a header holds is scanned.
    user, user_src = captured("clean_pipeline_api_key", 5)
    jwt = ".".join(base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode() for part in (
        {"alg": "HS256", "typ": "JWT"}, {"sub": "7f1b6c1e-3f2a-4f6e-9d1a-2b3c4d5e6f70", "iss": "zenml"}))
    jwt += ".c2lnbmF0dXJlLW9mLXRoZS1zZXJ2ZXI"
    bearer = with_headers(user, Authorization=f"Bearer {jwt}")
    header_rules = ["headers.credential_not_sent_by_sdk", "headers.authorization_shape", "headers.authorization_repeated"]
    shipped("headers", "sdk-bearer-jwt-allowed",
            "The SDK's own read with its headers and a bearer JWT (the shape of the masked token in the capture).",
            bearer, "allow", not_rules=[*header_rules, "pii.detected"], source=user_src + " (token shaped)")
    shipped("headers", "cookie-beside-the-bearer-blocked",
            "A cookie the SDK never sends, beside the SDK's token: refused by name, the value never read.",
            with_headers(bearer, Cookie="session=0123456789abcdef"), "block",
            rules=["headers.credential_not_sent_by_sdk"], source=user_src + " (token shaped, cookie added)")
    shipped("headers", "basic-authorization-blocked",
            "HTTP basic credentials where the SDK sends a bearer JWT.",
            with_headers(user, Authorization="Basic dXNlcjpleGFtcGxlLXBhc3N3b3Jk"), "block",
            rules=["headers.authorization_shape"], source=user_src + " (basic credentials)")
    repeated = copy.deepcopy(bearer)
    repeated["headers"] = [*repeated["headers"].items(), ("Authorization", f"Bearer {jwt}")]
    shipped("headers", "repeated-authorization-blocked",
            "Two Authorization headers: which one the server reads is its choice, not the gate's.",
            repeated, "block", rules=["headers.authorization_repeated"], source=user_src + " (token shaped, twice)")
    shipped("headers", "ssn-as-request-id-blocked",
            "A US SSN where the SDK sends its 8-hex request id: headers are scanned like body fields.",
            with_headers(bearer, **{"X-Request-ID": "536-22-8471"}), "block", rules=["pii.detected"],
            source=user_src + " (request id replaced)")


def metadata(request: Request, values: dict[str, Any], kind: str) -> dict[str, Any]:
    """The run-metadata body of `request` with `values` in place of its own."""
    document = body(request)
    document["values"] = values
    document["types"] = {key: kind for key in values}
    return document


def build_example() -> None:
    def example(name: str, *args: Any, **kwargs: Any) -> None:
        write(EXAMPLE / f"{name}.json", name, *args, **kwargs)

    clean_md, clean_md_src = captured("clean_pipeline", 29, keep_length=False)
    replaced = clean_md_src + " (values replaced)"
    example("owner-email-in-run-metadata-allowed", "ACME's exception: the model owner's address in run metadata passes.",
            with_body(clean_md, metadata(clean_md, {"accuracy": "0.93", "owner": "jane.doe@example.com"}, "str")),
            "allow", not_rules=["pii.detected"], source=replaced)
    example("phone-beside-owner-email-blocked",
            "Only the e-mail address is excepted: a phone number in the same request still blocks.",
            with_body(clean_md, metadata(clean_md, {"owner": "jane.doe@example.com",
                                                    "support_line": "call +1 212-555-0147"}, "str")),
            "block", rules=["pii.detected"], source=replaced)
    pipe, pipe_src = captured("clean_pipeline", 10, keep_length=False)
    example("owner-email-in-pipeline-description-blocked",
            "The exception is for run metadata only: the same address in a pipeline description blocks.",
            with_body(pipe, {**body(pipe), "description": "questions to jane.doe@example.com"}),
            "block", rules=["pii.detected"], source=pipe_src + " (description added)")
    example("customer-id-in-run-metadata-blocked", "customer_id is a field ACME never lets leave.",
            with_body(clean_md, metadata(clean_md, {"customer_id": "CUST-000123", "accuracy": "0.93"}, "str")),
            "block", rules=["acme.forbidden_field"], source=replaced)
    example("customer-count-in-run-metadata-allowed", "A field that only resembles a forbidden one passes.",
            with_body(clean_md, metadata(clean_md, {"customer_count": "1200", "accuracy": "0.93"}, "str")),
            "allow", not_rules=["acme.forbidden_field"], source=replaced)
    art, art_src = captured("clean_pipeline", 23, keep_length=False)
    inside = body(art)
    inside[0]["uri"] = "s3://acme-ml-artifacts/training/training_rows/1651b585"
    inside[0]["visualizations"][0]["uri"] = "s3://acme-ml-artifacts/training/training_rows/1651b585/data.json"
    example("artifact-in-acme-bucket-allowed", "An artifact stored under one of ACME's storage prefixes (metagate.yaml).",
            with_body(art, inside), "allow", not_rules=["schema.uri_outside_storage"],
            source=art_src + " (URIs moved to ACME's bucket)")
    outside = copy.deepcopy(inside)
    outside[0]["uri"] = "s3://someones-personal-bucket/training_rows/1651b585"
    example("artifact-in-other-bucket-blocked", "An artifact URI outside ACME's storage prefixes.",
            with_body(art, outside), "block", rules=["schema.uri_outside_storage"],
            source=art_src + " (URI moved to another bucket)")


def main() -> None:
    for directory in (SHIPPED, EXAMPLE):
        for old in directory.rglob("*.json"):
            old.unlink()
    build_shipped()
    build_example()
    for directory in (SHIPPED, EXAMPLE):
        print(f"{directory.relative_to(ROOT)}: {len(list(directory.rglob('*.json')))} fixtures")


if __name__ == "__main__":
    main()
