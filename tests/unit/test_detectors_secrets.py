"""SecretDetector: detect-secrets rules in memory plus the tight rules it lacks.

Token-shaped test values are assembled from parts so this file does not itself look like a
leaked credential to a repository scanner.
"""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
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
GITHUB_FINE = "github_pat_" + "11ABCDEFG0123456789abc" + "_" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789aBcDeFgHiJkLmNoPqRsTuVw"
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
        "HIGH_ENTROPY_STRING",
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
