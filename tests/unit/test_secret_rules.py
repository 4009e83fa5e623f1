"""The secret rules as data (gitleaks' catalogue, translated) and what they must hold to.

- gitleaks.toml is shipped as it is upstream (sha256, licence, commit recorded) and every rule
  but the listed ones loads into a `SecretRule`; RE2's syntax is translated faithfully.
- keywords gate the rules, allowlists excuse what gitleaks excuses, and every rule decides a
  pathological 1 MB input fast.
- key context: a secret under a key that names one, in every naming style, blocks; under a
  neutral key only the rules and entropy judge it.
- through the whole gate: secrets of many public formats x the test suite's encodings x every
  kind of place are blocked (or redacted where the policy redacts the field), and the
  metadata that looks like a secret (digests, ids, references, URIs, encoded configs, model
  names, the SDK's own bearer JWT) is not.

Token-shaped values are assembled from parts or generated, so this file does not itself look
like a leaked credential to a repository scanner.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from metagate.scanner.detectors import secret_rules
from metagate.scanner.detectors.secret_rules import gitleaks_rules, translate_re2
from metagate.scanner.detectors.secrets import OWN_RULES, RULES, SecretDetector
from metagate.scanner.model import Leaf

from tests.support import strategies as S
from tests.support.gate_properties import BLOCKING_SCORE, GATE_PROPERTIES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def detector() -> SecretDetector:
    return SecretDetector()


def found(detector: SecretDetector, leaves: list[Leaf]) -> list[tuple[int, str, str]]:
    return sorted((h.leaf, h.entity, leaves[h.leaf].text[h.start : h.end]) for h in detector.scan(leaves))


# --- the data file ------------------------------------------------------------------------


def test_gitleaks_toml_is_the_recorded_upstream_file_with_its_licence():
    source = json.loads(secret_rules.GITLEAKS_SOURCE.read_text())
    assert hashlib.sha256(secret_rules.GITLEAKS_TOML.read_bytes()).hexdigest() == source["sha256"]
    assert secret_rules.verify_source() == source["sha256"]
    assert re.fullmatch(r"[0-9a-f]{40}", source["repository_commit"]) and source["licence"] == "MIT"
    licence = (secret_rules.HERE / source["licence_file"]).read_text()
    assert licence.startswith("MIT License") and source["copyright"] in licence
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "*.toml" in pyproject["tool"]["setuptools"]["package-data"]["metagate.scanner.detectors"]


# Rules of gitleaks.toml that cannot be loaded, by id, and why. A new upstream file that adds
# one fails here until it is looked at.
UNTRANSLATED = {"pkcs12-file": "a path-only rule: it matches file names, and a request has none"}


def test_every_gitleaks_rule_loads_but_the_listed_ones():
    upstream = tomllib.loads(secret_rules.GITLEAKS_TOML.read_text())["rules"]
    loaded = gitleaks_rules()
    assert dict(loaded.untranslated) == UNTRANSLATED
    assert len(loaded.rules) + len(loaded.untranslated) == len(upstream) == 222
    assert [r.source for r in loaded.rules] == [f"gitleaks:{r['id']}" for r in upstream if r["id"] not in UNTRANSLATED]
    for rule, entry in zip(loaded.rules, (r for r in upstream if r["id"] not in UNTRANSLATED)):
        assert rule.keyword_texts == tuple(dict.fromkeys(k.lower() for k in entry["keywords"]))
        assert rule.entropy == (entry.get("entropy") or None)
        assert rule.secret_group == (entry.get("secretGroup") or None)
        assert len(rule.allowlists) <= len(entry.get("allowlists", ()))
    assert loaded.global_allowlist is not None and "abcdefghijklmnopqrstuvwxyz" in loaded.global_allowlist.stopwords


def test_rules_are_gitleaks_first_and_our_own_only_for_formats_gitleaks_lacks():
    assert [r.source for r in RULES] == [r.source for r in (*OWN_RULES, *gitleaks_rules().rules)]
    # Each kept with its reason in secrets.py (OWN_RULES); a vendor gitleaks covers is not here.
    assert {r.id for r in OWN_RULES} == {
        "AWS_SECRET_ACCESS_KEY", "DISCORD_TOKEN", "SQUARE_OAUTH_SECRET", "NPM_TOKEN", "BASIC_AUTH_URL",
        "AZURE_STORAGE_KEY", "SOFTLAYER_KEY", "IBM_CLOUD_IAM_KEY", "IBM_COS_HMAC_KEY", "CLOUDANT_KEY",
        "HUGGINGFACE_TOKEN", "OPENAI_KEY", "ZENML_API_KEY", "GCP_SERVICE_ACCOUNT_KEY", "AZURE_CONNECTION_STRING",
        "AZURE_SAS_TOKEN", "DATABASE_URL_PASSWORD", "BASIC_AUTH_CREDENTIALS", "NETRC_PASSWORD", "PGPASS_PASSWORD",
        "PRIVATE_KEY", "MAILCHIMP_API_KEY", "TELEGRAM_BOT_TOKEN",
    }


@pytest.mark.parametrize(
    ("re2", "python"),
    [
        (r"\b(p8e-(?i)[a-z0-9]{32})", r"\b(p8e-(?i:[a-z0-9]{32}))"),          # flags to the end of the group
        (r"a(?i)b|c", r"a(?i:b)|(?i:c)"),                                     # ... across its alternatives
        (r"x(?i)y(?-i:Z)w", r"x(?i:y(?-i:Z)w)"),
        (r"(?i)abc", r"(?i)abc"),                                             # global flags at the start
        (r"tok(?:[^\w-]|\z)", r"tok(?:[^\w-]|\Z)"),
        (r"pat[[:alnum:]]{14}", r"pat[a-zA-Z0-9]{14}"),
        (r"(?<name>ab)", r"(?P<name>ab)"),
        (r"[]a]", r"[\]a]"),
        (r"[(]x[)]", r"[(]x[)]"),
    ],
)
def test_re2_syntax_is_translated_to_python(re2, python):
    assert translate_re2(re2) == python
    re.compile(python)


@pytest.mark.parametrize("re2", [r"\pL+", r"(?U)a+", r"[[:^alpha:]]", r"(ab"])
def test_re2_without_a_faithful_python_form_is_refused(re2):
    with pytest.raises(secret_rules.Untranslatable):
        translate_re2(re2)


def test_mid_pattern_flags_keep_their_re2_meaning():
    rule = next(r for r in RULES if r.source == "gitleaks:adobe-client-secret")
    secret = "p8e-" + "Ab3dEf7hIj1lMn0pQr5tUv9xYz2bCd4f"
    assert rule.pattern.search(f"key {secret} ") and rule.pattern.search(f"key {secret.replace('p8e', 'P8E')} ") is None


# --- keywords, allowlists, windows ---------------------------------------------------------


def test_a_rule_runs_only_where_one_of_its_keywords_occurs(detector, monkeypatch):
    ran: list[str] = []
    original = SecretDetector._rule_hits

    def spy(index, leaf, rule):
        ran.append(rule.source)
        return original(index, leaf, rule)

    monkeypatch.setattr(SecretDetector, "_rule_hits", staticmethod(spy))
    detector.scan([Leaf("$.values.note", "nothing to see in plain words", "user_dict")])
    assert ran == []
    detector.scan([Leaf("$.values.note", "uses ADAFRUIT here", "user_dict")])
    assert "gitleaks:adafruit-api-key" in ran and "gitleaks:github-pat" not in ran


def test_gitleaks_allowlists_excuse_what_gitleaks_excuses(detector):
    # gitleaks' `.+EXAMPLE$` is not applied (secret_rules.DROPPED_ALLOWLIST_REGEXES): AWS's
    # documented example key is what leak tests plant.
    example = "AKIA" + "IOSFODNN7" + "EXAMPLE"
    assert found(detector, [Leaf("$.configuration.key_id", example, "credential")]) == [(0, "AWS_ACCESS_KEY", example)]
    # The global stopword: a run of the alphabet marks a made-up token.
    fake = "ghp_" + "abcdefghijklmnopqrstuvwxyz" + "0123456789"
    assert found(detector, [Leaf("$.values.note", f"token {fake} here", "user_dict")]) == []
    # generic-api-key: its match allowlist (a key's id) and its stopwords.
    assert found(detector, [Leaf("$.steps.s.source_code", 'public_key = "9f8e7d6c5b4a39281706"\n', "code")]) == []
    assert found(detector, [Leaf("$.steps.s.source_code", 'api_version = "2023-05-01-preview7"\n', "code")]) == []


def test_a_token_is_found_anywhere_in_a_long_leaf_and_whole(detector):
    token = "glpat-" + "x7Yb3Kq9Lm2Np4Rs6Tv8" + "Qz"           # longer than gitleaks' 20 characters
    filler = "lorem ipsum dolor sit amet " * 40000
    for text in (f"{token} {filler}", f"{filler}{token} {filler}", f"{filler}{token}"):
        assert found(detector, [Leaf("$.logs", text, "user_dict")]) == [(0, "GITLAB_TOKEN", token)]


@pytest.mark.parametrize(("entity", "token"), [
    ("MAILCHIMP_API_KEY", "8f3a9c2e7b1d4f6a0c5e9b2d7f1a3c6e-us14"),
    ("TELEGRAM_BOT_TOKEN", "5823917461:AAGx7Lq2Wm9Rt4Yp8Kd3Nf6Hs1Vb5Cz0QeX"),
])
def test_tokens_of_distinctive_shape_are_found_under_any_name(detector, entity, token):
    # gitleaks finds these only after the vendor's name ("mailchimp_key = ..."): a key pasted
    # under a neutral key or in a note has none.
    for text in (token, f"note: {token}", f"[{token}]"):
        assert (0, entity, token) in found(detector, [Leaf("$.values.note", text, "user_dict")]), text
    # Look-alikes: an MD5 with another suffix, a time and a version with AA.
    for text in ("8f3a9c2e7b1d4f6a0c5e9b2d7f1a3c6e-useast1", "8f3a9c2e7b1d4f6a0c5e9b2d7f1a3c6e-v14", "build 12:AAB", "10:AA"):
        assert [f for f in found(detector, [Leaf("$.values.note", text, "user_dict")]) if f[1] == entity] == [], text


def test_a_token_ends_at_the_delimiters_of_a_request(detector):
    key = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
    for text in (f"Owner: {key}.", f"?k={key}&x=1", f"[{key}]", f"f({key})", f"<{key}>", f"{key}/x"):
        assert (0, "STRIPE_KEY", key) in found(detector, [Leaf("$.values.note", text, "user_dict")]), text


# --- bounded: a pathological 1 MB input per rule ---------------------------------------------

MB = 1 << 20
# Seconds for one rule on one 1 MB input; a linear scan of 1 MB takes well under a second even
# on this shared machine. A rule over it has a pattern that backtracks: rewrite or window it.
PER_RULE_BUDGET = 3.0


def _pathological(rule) -> list[str]:
    """The inputs that cost a backtracking engine most: the rule's keyword everywhere (each
    a candidate: `kw=kw=...`, `kw_kw_...`), and one candidate that never ends."""
    keyword = (rule.keyword_texts or ("key",))[0]
    return [
        ((keyword + "=") * (MB // (len(keyword) + 1)))[:MB],
        ((keyword + "_") * (MB // (len(keyword) + 1)))[:MB],
        keyword + ("aB3" * (MB // 3))[:MB],
    ]


def test_every_rule_decides_a_pathological_megabyte_fast():
    slow = []
    for rule in RULES:
        for text in _pathological(rule):
            started = time.perf_counter()
            list(SecretDetector._rule_hits(0, Leaf("$.x", text, "user_dict"), rule))
            took = time.perf_counter() - started
            if took > PER_RULE_BUDGET:
                slow.append((rule.source, text[:20], round(took, 2)))
    assert slow == []


def test_the_detector_decides_a_pathological_request_fast(detector):
    texts = ["key=" * (MB // 4), "token: " * (MB // 7), "-----BEGIN PRIVATE KEY-----" + "A" * MB,
             "eyJ" + "a" * MB, "curl -H " * (MB // 8), "curl -u '" * (MB // 9), "password = '" + "x" * MB,
             "https://u:" * (MB // 10), "machine h password " * (MB // 19)]
    started = time.perf_counter()
    detector.scan([Leaf(f"$.values.k{i}", text, "user_dict") for i, text in enumerate(texts)])
    assert time.perf_counter() - started < 20


# --- key context in every naming style ---------------------------------------------------------

GENERATED = "Zx81KqP0v2LmN7tR4yW9"   # 20 characters, letters and digits: a generated password


@pytest.mark.parametrize("key", S.SECRET_KEY_NAMES)
@pytest.mark.parametrize("where", ["$.values.{}", "$.pipeline_configuration.parameters.{}", "$query.{}"])
def test_a_value_under_a_secret_key_is_a_secret_in_any_naming_style(detector, key, where):
    path = where.format(key) if re.fullmatch(r"[A-Za-z_]\w*", key) else where.format("")[:-1] + f'["{key}"]'
    if where.startswith("$query"):
        path = f"$query.{key}"
    assert [e for _, e, _ in found(detector, [Leaf(path, GENERATED, "user_dict")])] == ["SECRET_KEYWORD"]


@pytest.mark.parametrize(
    "path",
    ['$.values.api_key.value', '$.values.password.prod', '$.values.api_keys[0]', '$.values.credentials.prod',
     '$.values["x-api-key"].current', '$.values.privateKey.pem', '$.values.passwords.db'],
)
def test_a_random_value_under_a_parent_key_that_names_secrets_is_a_secret(detector, path):
    assert [e for _, e, _ in found(detector, [Leaf(path, GENERATED, "user_dict")])] == ["SECRET_KEYWORD"]


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("$.values.note", GENERATED),                         # a neutral key: only rules and entropy judge
        ("$.values.run", GENERATED),
        ("$.values.api_key.name", "prod-openai"),              # what the secret is called
        ("$.values.api_key.value", "prod-openai"),             # a word, not a generated value
        ("$.values.secrets[0]", "aws_creds"),                  # ZenML: names of secrets
        ("$.values.auth_method", "implicit"),
        ("$.values.token_type", "bearer"),
        ("$.values.password_min_length", "12"),
        ("$.values.credentials.region", "eu-west-1"),
    ],
)
def test_neutral_keys_and_names_of_secrets_are_not_secrets(detector, path, text):
    assert found(detector, [Leaf(path, text, "user_dict")]) == []


def test_a_docker_config_auth_is_basic_credentials(detector):
    auth = base64.b64encode(b"robot$acme:" + b"Tr0ub4dor&3x").decode()
    assert found(detector, [Leaf('$.values.auths["registry.acme.example"].auth', auth, "user_dict")]) == [
        (0, "BASIC_AUTH_CREDENTIALS", auth)]
    assert found(detector, [Leaf("$.values.auth", "implicit", "user_dict")]) == []


# --- the whole gate: formats x encodings x kinds of place --------------------------------------

GATE = settings(GATE_PROPERTIES, max_examples=2,
                suppress_health_check=[*GATE_PROPERTIES.suppress_health_check, HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def inspector():
    from metagate.proxy.inspection import Inspector, InspectorSettings

    return Inspector(InspectorSettings(fingerprint_key=b"\x0c" * 32))


def _under(path: str, expected: str) -> bool:
    if expected.startswith("$headers") or expected.startswith("$path"):
        path, expected = path.lower(), expected.lower()
    return path == expected or path.startswith(expected + ".") or path.startswith(expected + "[")


def _inspect(inspector, leak: S.Leak):
    from metagate.scanner.capture import request_from_record

    return inspector.inspect(request_from_record(leak.record, leak.placement.name))


def _check_secret_leak(inspector, leak: S.Leak) -> None:
    result = _inspect(inspector, leak)
    action = result.decision.action
    seen = sorted({(f["category"], f["entity"], f["path"], f["score"]) for f in result.findings})
    assert any(f["category"] == "secret" and _under(f["path"], leak.path) and f["score"] >= BLOCKING_SCORE
               for f in result.findings), f"no secret at {leak.path}: {leak.describe()}; {action}, {seen}"
    if leak.placement.redacted and action == "redact":
        return
    assert action == "block", f"{action} ({result.decision.rules}): {leak.describe()}; findings {seen}"


SECRET_CASES = [(fmt, encoding, group) for fmt in S.SECRET_FORMATS for group in S.PLACEMENT_GROUPS
                for encoding in S.secret_encodings(fmt, group)]
# Reversal and ROT13 are undone only where the result starts with a prefix of the decoders'
# own list (scanner/decoders.py `_SECRET_SHAPES`: AKIA, ghp_, glpat-, sk_live_, AIza, PEM ...);
# formats without one (a Slack webhook, an Azure secret, a JWT, a DSN, a credential file) stay
# reversed. Not the secret rules' to fix: listed here, not hidden.
_UNDONE_BY_DECODERS = frozenset({"aws_access_key", "github_token", "gitlab_token", "stripe_key", "google_api_key",
                                 "pem_private_key"})
# Undone since by the letter statistics of ROT13 and the reversed view's secret shapes
# (scanner/decoders.py): the pairs pass as a whole gate, so they are no gap.
_TURNED_BACK = frozenset({("slack_token", "rot13"), ("azure_client_secret", "rot13"), ("jwt_with_secret", "rot13"),
                          ("dsn_with_password", "reversed"), ("dsn_with_password", "rot13"),
                          ("basic_auth_url", "rot13"), ("pgpass_line", "rot13")})
_DECODER_GAP = pytest.mark.xfail(strict=False, reason="reversed/ROT13 of a format with no prefix in "
                                                      "decoders._SECRET_SHAPES is not decoded")


def _case(fmt: str, encoding: str, group: str):
    gap = encoding in ("reversed", "rot13") and fmt not in _UNDONE_BY_DECODERS and (fmt, encoding) not in _TURNED_BACK
    return pytest.param(fmt, encoding, group, id=f"{fmt}-{encoding}-{group}", marks=[_DECODER_GAP] if gap else [])


@pytest.mark.parametrize(("fmt", "encoding", "group"), [_case(*c) for c in SECRET_CASES])
@GATE
@given(data=st.data())
def test_secret_formats_are_caught_in_every_encoding_and_kind_of_place(inspector, data, fmt, encoding, group):
    _check_secret_leak(inspector, data.draw(S.secret_leaks(fmt, encoding, group), label="leak"))


@pytest.mark.parametrize("kind", S.SECRET_LOOKALIKES)
@settings(GATE_PROPERTIES, max_examples=40,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_clean_secret_lookalikes_are_not_flagged(inspector, data, kind):
    leak = data.draw(S.placed_secret_lookalikes(kind), label="look-alike")
    result = _inspect(inspector, leak)
    blocking = sorted({(f["entity"], f["path"]) for f in result.findings
                       if f["category"] == "secret" and f["score"] >= BLOCKING_SCORE})
    assert blocking == [], leak.describe()
    # Secrets' share of the decision: other categories judge shapes of their own (base64 of a
    # config is a blob detector's question).
    assert "secret.detected" not in result.decision.rules, f"{result.decision.reasons}: {leak.describe()}"


def test_the_sdk_bearer_jwt_is_allowed_only_in_its_header(inspector):
    """The SDK's own `Authorization: Bearer <JWT>` passes by the header policy; the same JWT
    written into a body field is a secret."""
    from tests.support.payloads import jwt

    token = jwt("7f3c1a2e-9b4d-4c8e-a1f0-3d5b6c7e8f90", "Rk9vYmFyU2lnbmF0dXJlU2VjcmV0UGFydDAx")
    _, template = next((w, r) for w, r in S.captured_records()
                       if r["method"] == "POST" and r["path"] == "/api/v1/run-metadata")
    record = {k: v for k, v in template.items() if k != "response_status"}
    record["headers"] = {**{k: v for k, v in record["headers"].items() if k.lower() != "authorization"},
                         "Authorization": f"Bearer {token}"}
    clean = S.Leak(S.Entity("clean", frozenset(), "text", "", ()), S.ENCODINGS["plain"],
                   S.PLACEMENTS["header"], "", record, "$headers.authorization")
    assert _inspect(inspector, clean).decision.action != "block"
    body = json.loads(record["body_text"])
    body["values"]["note"] = token
    record = {**record, "body_text": json.dumps(body)}
    leaked = S.Leak(S.Entity("jwt", S.SECRET, "text", token, ()), S.ENCODINGS["plain"],
                    S.PLACEMENTS["run_metadata_value"], token, record, "$.values.note")
    _check_secret_leak(inspector, leaked)


def test_curl_credentials_need_curl_before_the_option(detector):
    token = "Zx81KqP0v2LmN7tR4yW9bC3dF6hJ1sA5"
    line = f'curl -s https://api.acme.example/v1 \\\n  -H "X-Api-Key: {token}"'
    assert (0, "CURL_AUTH_HEADER", token) in found(detector, [Leaf("$.values.howto", line, "user_dict")])
    user = f"curl --user bob:{token} https://x.acme.example"
    assert (0, "CURL_AUTH_USER", f"bob:{token}") in found(detector, [Leaf("$.values.howto", user, "user_dict")])
    assert not [h for h in found(detector, [Leaf("$.values.howto", f'wget -H "X-Api-Key: {token}"', "user_dict")])
                if h[1].startswith("CURL")]
