"""SecretDetector: detect-secrets rules in memory plus the tight rules it lacks.

Token-shaped test values are assembled from parts so this file does not itself look like a
leaked credential to a repository scanner.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from metagate.scanner.detectors.secrets import SecretDetector
from metagate.scanner.model import Leaf


@pytest.fixture(scope="module")
def detector() -> SecretDetector:
    return SecretDetector()


def found(detector: SecretDetector, leaves: list[Leaf]) -> list[tuple[int, str, str]]:
    return sorted((h.leaf, h.entity, leaves[h.leaf].text[h.start : h.end]) for h in detector.scan(leaves))


AWS_KEY_ID = "AKIA" + "IOSFODNN7" + "EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0" + "k1L2m3N4o5P6q7R8"
GITLAB = "glpat-" + "xYz12AbC34dEf56GhI78jk"
SLACK = "xoxb-" + "123456789012-1234567890123-" + "AbCdEfGhIjKlMnOpQrStUvWx"
STRIPE = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
OPENAI = "sk-proj-" + "abcDEF1234567890abcd" + "T3BlbkFJ" + "abcdefghij1234567890"
HF = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh"
# No run of the alphabet in it: gitleaks' global stopword `abcdefghijklmnopqrstuvwxyz` marks a
# made-up token.
GITHUB_FINE = "github_pat_" + "11ABCDEFG0123456789abc" + "_" + "Qm7XzR2vTn8LpW4kYc9HdF3sJb6GaE1uVo5NiK0rMt7ZqP2wLx8CyB4hDg6"
AZURE_CLIENT = "Xq7" + "8Q~" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY2z"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0"
    + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)
PEM = (
    "-----BEGIN "
    + "PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nabcdefghijklmnop==\n-----END "
    + "PRIVATE KEY-----"
)
AZURE_KEY = "Zm9vYmFy" * 11
SA_JSON = json.dumps(
    {
        "type": "service_account",
        "project_id": "acme",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": PEM + "\n",
        "client_email": "runner@acme.iam.gserviceaccount.com",
    }
)


POSITIVES = [
    ("$.configuration.key_id", AWS_KEY_ID, "credential", "AWS_ACCESS_KEY", AWS_KEY_ID),
    ("$.values.note", f"aws_secret = '{AWS_SECRET}'", "user_dict", "SECRET_KEYWORD", AWS_SECRET),
    ("$.config.repo_token", GITHUB, "user_dict", "GITHUB_TOKEN", GITHUB),
    ("$.config.x", f"token is {GITLAB} ok", "user_dict", "GITLAB_TOKEN", GITLAB),
    ("$.config.x", SLACK, "user_dict", "SLACK_TOKEN", SLACK),
    ("$.config.x", STRIPE, "user_dict", "STRIPE_KEY", STRIPE),
    ("$.config.x", OPENAI, "user_dict", "OPENAI_KEY", OPENAI),
    ("$.config.x", f"HF_TOKEN={HF}", "user_dict", "HUGGINGFACE_TOKEN", HF),
    ("$.values.note", f"pushed with {GITHUB_FINE}", "user_dict", "GITHUB_TOKEN", GITHUB_FINE),
    ("$.values.note", f"tenant app: {AZURE_CLIENT}", "user_dict", "AZURE_CLIENT_SECRET", AZURE_CLIENT),
    ("$.config.x", f"Bearer {JWT}", "user_dict", "JWT", JWT),
    ("$.config.x", PEM, "credential", "PRIVATE_KEY", PEM),
    ("$.config.uri", "https://admin:s3cretPass@db.internal:5432/x", "uri", "BASIC_AUTH_URL", "s3cretPass"),
    (
        "$.config.uri",
        "postgresql://zenml:P@ss!w0rd$@db.internal:5432/zenml",
        "uri",
        "DATABASE_URL_PASSWORD",
        "P@ss!w0rd$",
    ),
    (
        "$.config.conn",
        f"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={AZURE_KEY};EndpointSuffix=core.windows.net",
        "credential",
        "AZURE_STORAGE_KEY",
        AZURE_KEY,
    ),
    (
        "$.config.sb",
        "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey="
        + "Q2xvdWRLZXk" * 4
        + "=",
        "credential",
        "AZURE_CONNECTION_STRING",
        "Q2xvdWRLZXk" * 4 + "=",
    ),
    ("$.configuration.password", "hunter22", "credential", "SECRET_KEYWORD", "hunter22"),
    (
        "$.settings.environment.MY_API_KEY",
        "a8f5f167f44f4964e6c998dee827110c",
        "user_dict",
        "SECRET_KEYWORD",
        "a8f5f167f44f4964e6c998dee827110c",
    ),
    (
        "$.steps.t.source_code",
        'def f():\n    password = "Tr0ub4dor&3"\n    return password\n',
        "code",
        "SECRET_KEYWORD",
        "Tr0ub4dor&3",
    ),
    (
        "$.images[0].dockerfile",
        "FROM python:3.11\nENV DB_PASSWORD=sup3rs3cret\nRUN pip install x\n",
        "code",
        "SECRET_KEYWORD",
        "sup3rs3cret",
    ),
    (
        "$.values.x",
        'client = Client(token="Zx81KqP0v2LmN7tR4yW9bC3dF6hJ1sA5")',
        "code",
        "GENERIC_API_KEY",          # gitleaks' generic-api-key names it (it was HIGH_ENTROPY_STRING)
        "Zx81KqP0v2LmN7tR4yW9bC3dF6hJ1sA5",
    ),
    (
        "$.values.x",
        " Zx81KqP0v2LmN7tR4yW9bC3dF6hJ1sA5\n",
        "user_dict",
        "HIGH_ENTROPY_STRING",
        "Zx81KqP0v2LmN7tR4yW9bC3dF6hJ1sA5",
    ),
]


@pytest.mark.parametrize(
    ("path", "text", "field_class", "entity", "secret"), POSITIVES, ids=[p[3] + ":" + p[0] for p in POSITIVES]
)
def test_finds_each_secret_with_its_span(detector, path, text, field_class, entity, secret):
    assert (0, entity, secret) in found(detector, [Leaf(path, text, field_class)])


def test_gcp_service_account_json_reports_the_private_key(detector):
    hits = found(detector, [Leaf("$.configuration.service_account_json", SA_JSON, "credential")])
    entities = {entity for _, entity, _ in hits}
    assert entities == {"GCP_SERVICE_ACCOUNT_KEY"}
    assert any(text.startswith("-----BEGIN ") and text.endswith("\\n") for _, _, text in hits)


def test_one_finding_per_secret_not_one_per_rule(detector):
    # The PEM marker rule and the PEM block rule, the Azure plugin and the tight Azure rule,
    # and the keyword rule all see the same secrets: each is reported once.
    assert [e for _, e, _ in found(detector, [Leaf("$.k", PEM, "credential")])] == ["PRIVATE_KEY"]
    conn = f"AccountName=acme;AccountKey={AZURE_KEY};EndpointSuffix=core.windows.net"
    assert len(found(detector, [Leaf("$.k", conn, "credential")])) == 1


def test_hits_map_back_to_the_right_leaf(detector):
    leaves = [
        Leaf("$.a", "plain text", "free_text"),
        Leaf("$.id", str(uuid.uuid4()), "id"),
        Leaf("$.b", f"first {GITHUB}", "user_dict"),
        Leaf("$.c", "nothing", "user_dict"),
        Leaf("$.d", f"x\ny {AWS_KEY_ID}", "log"),
    ]
    assert found(detector, leaves) == [(2, "GITHUB_TOKEN", GITHUB), (4, "AWS_ACCESS_KEY", AWS_KEY_ID)]


def test_proven_classes_are_skipped(detector):
    for field_class in ("hash", "id", "auth"):
        assert not detector.wants(Leaf("$.x", GITHUB, field_class))


def test_secret_references_are_read_by_the_rules_only(detector):
    # Changed with issue 12: a reference used to be skipped whole. One of exactly ZenML's shape
    # names a secret, but a vendor token written as its name or key is still that token.
    assert detector.wants(Leaf("$.x", "{{ github.token }}", "secret_ref"))
    assert found(detector, [Leaf("$.settings.GITHUB_TOKEN", "{{ github.token }}", "secret_ref")]) == []
    assert found(detector, [Leaf("$.settings.TOKEN", f"{{{{ gh.{GITHUB} }}}}", "secret_ref")]) == [
        (0, "GITHUB_TOKEN", GITHUB)
    ]
    # A random token as a name or key is a secret written as a reference.
    random_key = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"
    assert found(detector, [Leaf("$.settings.KEY", f"{{{{ aws.{random_key} }}}}", "secret_ref")]) == [
        (0, "HIGH_ENTROPY_STRING", random_key)
    ]
    names = ["{{ aws-prod-credentials.secret_access_key }}", "{{ Databricks_Workspace_01.client_secret }}",
             "{{ mlflow.tracking_password }}"]
    assert found(detector, [Leaf("$.settings.KEY", name, "secret_ref") for name in names]) == []


# --- negatives ------------------------------------------------------------------------

NEGATIVES = [
    ("$.values.run", str(uuid.uuid4()), "user_dict"),
    ("$.values.digest", hashlib.sha256(b"x").hexdigest(), "user_dict"),
    ("$.code_reference.commit", hashlib.sha1(b"c").hexdigest(), "name"),
    ("$.content_hash", hashlib.md5(b"c").hexdigest(), "name"),
    ("$.image", "sha256:" + hashlib.sha256(b"img").hexdigest(), "uri"),
    ("$.configuration.password", "{{db.password}}", "user_dict"),
    ("$.configuration.aws_secret_access_key", "{{aws_creds.secret_access_key}}", "user_dict"),
    ("$.configuration.uri", "postgresql://zenml:{{db.password}}@db.internal:5432/zenml", "uri"),
    (
        "$.configuration.conn",
        "AccountName=acme;AccountKey={{azure.account_key}};EndpointSuffix=core.windows.net",
        "user_dict",
    ),
    ("$.configuration.token", "${GITHUB_TOKEN}", "user_dict"),
    ("$.configuration.api_key", "$API_KEY", "user_dict"),
    ("$.configuration.password", "********", "user_dict"),
    ("$.secrets[0]", "aws_creds", "user_dict"),
    ("$.settings.secret_name", "prod-db", "user_dict"),
    ("$.settings.token_type", "workload", "user_dict"),
    ("$.settings.tokenizer", "bert-base-uncased", "user_dict"),
    ("$.settings.private_key_path", "/home/zenml/.ssh/id_rsa", "user_dict"),
    ("$.settings.api_key_env", "OPENAI_API_KEY", "user_dict"),
    (
        "$.steps.t.source_code",
        'import os\npassword = os.environ["DB_PASSWORD"]\nsecret = get_secret("db")\napi_key = settings.api_key\n'
        f'digest = "{hashlib.sha256(b"q").hexdigest()}"\nrun_id = "{uuid.uuid4()}"\n'
        'model = AutoModel.from_pretrained("sentence-transformers/all-MiniLM-L6-v2")\n',
        "code",
    ),
    (
        "$.steps.t.source_code",
        'SECRET_EXISTS = "SECRET_EXISTS"\nclient = OpenAI(api_key="EMPTY")\nsecret_mount_point = "zenml"\n'
        'secret_name: str = "zenml-api-key"\nos.environ["WANDB_API_KEY"] = key\nsecret: SecretRequest = body\n'
        'network = "projects/12345/global/networks/myVPC"\n',
        "code",
    ),
    ("$.steps.t.docstring", "Reads the password from the secret store and rotates the api key weekly.", "code"),
    ("$.repo", "https://github.com/acme/repo.git", "uri"),
    ("$.repo", "https://user@github.com/acme/repo.git", "uri"),
    (
        "$.client_environment.python_packages",
        "numpy==2.4.6\nacme @ git+ssh://git@github.com/acme/lib.git@v1.2.3\n",
        "package_list",
    ),
    (
        "$.pipeline_spec.source",
        "zenml.integrations.gcp.service_connectors.gcp_service_connector.GCPServiceConnector",
        "source_ref",
    ),
    ("$.run_name", "training-2024_06_01-12_34_56_789012", "name"),
    ("$.values.model", "mistralai/Mixtral-8x7B-Instruct-v0.1", "user_dict"),
    ("$.values.model", "Qwen2.5-Coder-32B-Instruct-GPTQ-Int4", "user_dict"),
    ("$.values.name", "XGBClassifier_n500_d6_lr0.05_v3", "user_dict"),
    ("$.values.image", "ghcr.io/acme/Trainer-GPU:v1.2.3-cu121", "user_dict"),
    ("$.values.note", "quality Q~0.8 after tuning, recall 4Q~ stable", "user_dict"),
    ("$.values.doc", "set GITHUB_PAT (a github_pat_... token) as a CI secret", "user_dict"),
    ("$.values.storage_uri", "s3://acme-zenml-artifacts/trainer/output/" + uuid.uuid4().hex, "uri"),
]


@pytest.mark.parametrize(("path", "text", "field_class"), NEGATIVES, ids=[n[0] + ":" + n[1][:24] for n in NEGATIVES])
def test_zenml_metadata_and_references_are_not_secrets(detector, path, text, field_class):
    assert found(detector, [Leaf(path, text, field_class)]) == []


def test_detector_has_no_state_between_requests(detector):
    leaves = [Leaf("$.x", GITHUB, "user_dict")]
    assert found(detector, leaves) == found(detector, leaves) == [(0, "GITHUB_TOKEN", GITHUB)]
    assert found(detector, []) == []


# --- paths and URIs under any root (issue 12) -------------------------------------------

ARTIFACT_ROOTS = [
    "/srv/mlops/zenml/Prod-Store/local_stores",
    "/mnt/Data/ZenML",
    "s3://ML-Artifacts-Prod/zenml",
    "gs://acme-ML-bucket/zenml/stores",
    "az://Container01/zenml",
    "abfs://Container01@acct.dfs.core.windows.net/zenml",
    "file:///srv/mlops/ZenML",
    "C:\\Users\\MLOps\\AppData\\Local\\zenml",
    "\\\\fileserver\\MLShare\\zenml",
]


def artifact_uri(root: str, seed: int) -> str:
    """A ZenML artifact URI: <root>/<store id>/<step>/<output>/<step run id>/<8 hex>."""
    rng = random.Random(seed)
    sep = "\\" if "\\" in root else "/"
    store, run = uuid.UUID(int=rng.getrandbits(128), version=4), uuid.UUID(int=rng.getrandbits(128), version=4)
    return sep.join([root, str(store), "Load_Data", "Training_Rows", str(run), f"{rng.getrandbits(32):08x}"])


@pytest.mark.parametrize("root", ARTIFACT_ROOTS)
def test_artifact_uris_under_any_root_are_not_secrets(detector, root):
    leaves = []
    for seed in range(40):
        uri = artifact_uri(root, seed)
        leaves += [Leaf("$[0].uri", uri, "uri"), Leaf("$[0].visualizations[0].uri", uri + "/data.json", "uri"),
                   Leaf("$.values.where", uri, "user_dict")]
    assert found(detector, leaves) == []


@pytest.mark.parametrize(
    ("text", "entity", "secret"),
    [
        (f"s3://bucket/{AWS_KEY_ID}/x", "AWS_ACCESS_KEY", AWS_KEY_ID),
        (f"s3://bucket/zenml/{GITHUB}/model.pkl", "GITHUB_TOKEN", GITHUB),
        ("https://admin:S3cretPassw0rd@host.example.com/x", "BASIC_AUTH_URL", "S3cretPassw0rd"),
        (f"/srv/mlops/{uuid.uuid4()}/aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW/x", "HIGH_ENTROPY_STRING",
         "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW"),
        (f"gs://bucket/{AWS_SECRET}", "HIGH_ENTROPY_STRING", "bucket/" + AWS_SECRET),
        (f"C:\\data\\{uuid.uuid4()}\\aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW", "HIGH_ENTROPY_STRING",
         "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW"),
    ],
)
def test_a_key_inside_a_uri_is_still_found(detector, text, entity, secret):
    assert found(detector, [Leaf("$[0].uri", text, "uri")]) == [(0, entity, secret)]


# --- HTTP basic credentials wherever they are written (issue 12) --------------------------

BASIC = "Basic " + base64.b64encode(b"svc-etl:Tr0ub4dor&3").decode()


@pytest.mark.parametrize(
    ("path", "text", "secret"),
    [
        ("$headers.x-upstream-auth", BASIC, BASIC[len("Basic "):]),
        ("$headers.x-proxy-authorization", "basic " + base64.b64encode(b"bob:hunter22").decode(),
         base64.b64encode(b"bob:hunter22").decode()),
        ("$.values.curl", f"curl -H 'Authorization: {BASIC}' https://api.example.com", BASIC[len("Basic "):]),
        ("$headers.x-upstream", "svc-etl:Tr0ub4dor3@proxy.corp.example.com:8080", "Tr0ub4dor3"),
        ("$.settings.proxy", "bob:hunter22@10.0.0.5:3128", "hunter22"),
        ("$headers.x-origin", "https://bob:hunter22@origin.example.com/", "hunter22"),
    ],
)
def test_basic_auth_credentials_are_secrets(detector, path, text, secret):
    hits = found(detector, [Leaf(path, text, "unknown")])
    assert [(entity, value) for _, entity, value in hits if entity.startswith("BASIC_AUTH")] == [
        ("BASIC_AUTH_CREDENTIALS" if "asic " in text else "BASIC_AUTH_URL", secret)
    ]


@pytest.mark.parametrize(
    "text",
    [
        "basic training run on the full dataset",
        "Basic " + base64.b64encode(b"no colon here").decode(),        # not user:password
        "Basic dGVzdA==",
        "mailto:jane@example.com",
        "zenml/trainer:1.2.3@sha256:" + hashlib.sha256(b"i").hexdigest(),
        "owner note:jane@example.com is on call",                     # prose, not a whole value
        "git@github.com:acme/repo.git",
        "Bearer eyJhbGciOiJIUzI1NiJ9",                                 # not basic (JWT rules judge it)
    ],
)
def test_basic_auth_look_alikes_are_not_basic_credentials(detector, text):
    hits = found(detector, [Leaf("$headers.x-note", text, "unknown")])
    assert [h for h in hits if h[1].startswith("BASIC_AUTH")] == []


# --- references are whole values (issue 12) ----------------------------------------------


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("$.settings.db_password", "hunter2{{db.password}}"),
        ("$.settings.db_password", "{{db.password}} hunter2!"),
        ("$.settings.api_key", "{Tr0ub4dor 3!}"),          # braces round a value: no placeholder name
    ],
)
def test_a_reference_beside_a_value_does_not_hide_it(detector, path, text):
    assert [h[1] for h in found(detector, [Leaf(path, text, "user_dict")])] == ["SECRET_KEYWORD"]


def test_rules_are_one_list_of_gitleaks_shaped_records():
    from metagate.scanner.detectors.secrets import RULES, SecretRule

    assert RULES and all(isinstance(rule, SecretRule) and rule.keywords for rule in RULES)
    assert {"AWS_ACCESS_KEY", "PRIVATE_KEY", "DATABASE_URL_PASSWORD", "BASIC_AUTH_CREDENTIALS"} <= {r.id for r in RULES}


def test_settings_are_typed_and_give_the_config_keys():
    import dataclasses

    from metagate.scanner.detectors.base import settings_keys
    from metagate.scanner.detectors.registry import build_detectors
    from metagate.scanner.detectors.secrets import SecretSettings

    detector = SecretDetector(SecretSettings(keyword_score=0.6), high_entropy_score=0.4)
    assert (detector.keyword_score, detector.high_entropy_score, detector.min_entropy_length) == (0.6, 0.4, 20)
    with pytest.raises(TypeError):
        SecretDetector(entropy_limt=4.0)
    # The registry's `detectors.secrets` section accepts exactly the settings' fields.
    assert settings_keys(SecretDetector) == {"enabled"} | {f.name for f in dataclasses.fields(SecretSettings)}
    section = {f.name: getattr(SecretSettings(), f.name) for f in dataclasses.fields(SecretSettings)}
    detectors, _ = build_detectors({"secrets": section, "pii": {"enabled": False}})
    assert [d.settings for d in detectors if isinstance(d, SecretDetector)] == [SecretSettings()]
    with pytest.raises(ValueError):
        build_detectors({"secrets": {"entropy_limt": 4.0}})


def test_many_findings_in_one_request_take_linear_time(detector):
    # Dropping contained hits compared every pair of a request's hits: 20,000 flagged leaves
    # took 48 s. Now one sorted sweep.
    import time

    leaves = [Leaf(f"$.values.k{i}", f"{GITHUB[:-4]}{i:04d}", "user_dict") for i in range(20000)]
    started = time.perf_counter()
    hits = list(detector.scan(leaves))
    assert len(hits) == 20000
    assert time.perf_counter() - started < 10


def test_a_contained_hit_is_dropped_an_equal_one_kept():
    from metagate.scanner.detectors.base import Hit

    hits = [Hit(0, "PRIVATE_KEY", 0, 100, 0.99), Hit(0, "PRIVATE_KEY", 0, 31, 0.99), Hit(0, "A", 40, 60, 0.5),
            Hit(0, "B", 40, 60, 0.6), Hit(1, "C", 5, 10, 0.5), Hit(0, "D", 99, 120, 0.5)]
    kept = SecretDetector._drop_contained(hits)
    assert [(h.leaf, h.entity, h.start, h.end) for h in kept] == [
        (0, "PRIVATE_KEY", 0, 100), (0, "D", 99, 120), (1, "C", 5, 10)]


# Roots of any scheme, with the words a store path has (lower, Capitalised, CamelCase, UPPER,
# with digits and separators); the ids below them are fresh each example. A run of short
# random-looking parts (`8ABCF/0134567G/29DEHIJ-a`) stays a finding by design: an AWS secret
# key has `/` in it and looks exactly like that.
_ROOT_WORD = st.from_regex(
    r"[a-z]{1,10}[0-9]{0,3}|[0-9]{1,4}|[A-Z][a-z]{1,10}[0-9]{0,3}|(?:[A-Z][a-z]{2,7}){2,3}|[A-Z]{2,5}"
    r"|[a-z]{2,8}[-_][a-z0-9]{1,8}"
    r"|[A-Z][a-z]{1,8}-[A-Z][a-z]{1,8}",
    fullmatch=True,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    scheme=st.sampled_from(["", "s3://", "gs://", "az://", "abfs://", "file:///", "hdfs://nn:8020/", "C:\\", "\\\\srv\\"]),
    words=st.lists(_ROOT_WORD, min_size=1, max_size=6),
    tail=st.sampled_from(["", "data.json", "model.pkl", "logs/step.log", "visualizations/0.html"]),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_artifact_uris_of_random_roots_are_clean(detector, scheme, words, tail, seed):
    rng = random.Random(seed)
    sep = "\\" if "\\" in scheme else "/"
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)), f"{rng.getrandbits(32):08x}"]
    parts = [*words, ids[0], "trainer", "output", str(uuid.UUID(int=rng.getrandbits(128), version=4)), ids[1]]
    uri = scheme + ("/" if not scheme else "") + sep.join(parts) + (sep + tail.replace("/", sep) if tail else "")
    assert found(detector, [Leaf("$[0].uri", uri, "uri")]) == []
