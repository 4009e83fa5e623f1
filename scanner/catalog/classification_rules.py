"""Hand-written classification rules the catalog generator applies on top of its structural rules.

Pure data (no zenml import), so the generator, the tests and a reviewer read the same table.
Every (model, field) key here must exist in the installed zenml: the generator fails on a stale
entry, which is what flags a renamed field after a ZenML upgrade.
"""

from __future__ import annotations

from typing import Any

# Keys of artifact metadata that materializers derive from the artifact's value (egress doc 2c).
VALUE_REPR_KEYS = ("string_representation", "most_common_word", "mean", "std", "min", "max")

_PACKAGES = {"key_classes": {"python_packages": "package_list"}}
_CRED_KEYS = {"class": "user_dict", "credential_keys": True}
# A service connector's configuration is one flat dict of the connector's attributes: the
# region, the role, the auth method's options, and, for methods that need one, its secrets. A
# value is a credential only under a key that holds a secret value: one of the attributes
# ZenML's connector types declare as a secret (`secret_keys: "connector"`: the generator reads
# them from zenml's service connector models) or a credential-looking key. `region` is not.
_CONNECTOR_CONFIG = {**_CRED_KEYS, "secret_keys": "connector"}
# Flavor configs: the artifact store `path` is customer storage.
_COMPONENT_CONFIG = {**_CRED_KEYS, "key_classes": {"path": "uri"}}

# (model, field) -> {"class": ..., optional "key_classes": {key: class}, "credential_keys": bool,
#                     "secret_keys": "connector" (top-level keys that are secrets),
#                     "max_depth": int (required when an open-ended type gets a proven class)}
FIELD_OVERRIDES: dict[tuple[str, str], dict[str, Any]] = {
    # --- code ----------------------------------------------------------------------------
    ("PipelineSnapshotRequest", "source_code"): {"class": "code"},
    ("StepRunRequest", "source_code"): {"class": "code"},
    ("StepRunRequest", "docstring"): {"class": "code"},
    ("BuildItem", "dockerfile"): {"class": "code"},
    ("BuildItem", "requirements"): {"class": "code"},
    # --- logs ----------------------------------------------------------------------------
    ("ExceptionInfo", "traceback"): {"class": "log"},
    ("ExceptionInfo", "message"): {"class": "log"},
    ("ExceptionInfo", "source"): {"class": "source_ref"},
    # --- environments: user dicts whose pip freeze is a package list ---------------------
    ("PipelineSnapshotRequest", "client_environment"): {"class": "user_dict", **_PACKAGES},
    ("PipelineRunRequest", "orchestrator_environment"): {"class": "user_dict", **_PACKAGES},
    # --- value-derived artifact metadata -------------------------------------------------
    ("ArtifactVersionRequest", "metadata"): {
        "class": "user_dict",
        "key_classes": {key: "value_repr" for key in VALUE_REPR_KEYS},
    },
    # --- hashes the structural name rule does not catch ----------------------------------
    ("StepConfiguration", "caching_parameters"): {"class": "hash", "max_depth": 1},
    ("StepRunRequest", "cache_key"): {"class": "hash"},
    # --- URIs the name rule does not catch ------------------------------------------------
    ("BuildItem", "image"): {"class": "uri"},
    # --- credentials ------------------------------------------------------------------------
    ("SecretRequest", "values"): {"class": "credential"},
    ("SecretUpdate", "values"): {"class": "credential"},
    ("ServiceConnectorRequest", "configuration"): _CONNECTOR_CONFIG,
    ("ServiceConnectorUpdate", "configuration"): _CONNECTOR_CONFIG,
    ("ServiceConnectorInfo", "configuration"): _CONNECTOR_CONFIG,
    ("WebhookRequest", "secret"): {"class": "credential"},
    ("WebhookRotateSecretRequest", "secret"): {"class": "credential"},
    ("DeploymentRequest", "auth_key"): {"class": "credential"},
    ("DeploymentUpdate", "auth_key"): {"class": "credential"},
    ("ServerActivationRequest", "admin_password"): {"class": "credential"},
    ("OAuthDeviceVerificationRequest", "user_code"): {"class": "credential"},
    # --- account credentials the SDK manages itself: never scanned -----------------------
    ("UserRequest", "password"): {"class": "auth"},
    ("UserRequest", "activation_token"): {"class": "auth"},
    ("UserUpdate", "password"): {"class": "auth"},
    ("UserUpdate", "old_password"): {"class": "auth"},
    ("UserUpdate", "activation_token"): {"class": "auth"},
    # --- personal data / free text --------------------------------------------------------
    ("UserRequest", "email"): {"class": "free_text"},
    ("UserRequest", "full_name"): {"class": "free_text"},
    ("UserUpdate", "email"): {"class": "free_text"},
    ("UserUpdate", "full_name"): {"class": "free_text"},
    ("PipelineRunRequest", "status_reason"): {"class": "free_text"},
    ("PipelineRunUpdate", "status_reason"): {"class": "free_text"},
    ("RunWaitConditionRequest", "question"): {"class": "free_text"},
    ("StepConfiguration", "command"): {"class": "free_text"},
    # --- python import paths given as plain strings ---------------------------------------
    ("FlavorRequest", "source"): {"class": "source_ref"},
    ("FlavorUpdate", "source"): {"class": "source_ref"},
    ("ServiceRequest", "service_source"): {"class": "source_ref"},
    ("ServiceUpdate", "service_source"): {"class": "source_ref"},
    ("HookInvocationRequest", "source"): {"class": "source_ref"},
    # --- user dicts that hold credentials under credential-looking keys -------------------
    ("CodeRepositoryRequest", "config"): _CRED_KEYS,
    ("CodeRepositoryUpdate", "config"): _CRED_KEYS,
    ("ComponentRequest", "configuration"): _COMPONENT_CONFIG,
    ("ComponentUpdate", "configuration"): _COMPONENT_CONFIG,
    ("ComponentInfo", "configuration"): _COMPONENT_CONFIG,
    # --- filters ----------------------------------------------------------------------------
    ("PipelineRunFilter", "run_metadata"): {"class": "user_dict"},
}

# Model card text (FT) wherever a Model / ModelRequest / ModelUpdate appears.
for _model in ("Model", "ModelRequest", "ModelUpdate"):
    for _field in ("license", "audience", "use_cases", "limitations", "trade_offs", "ethics"):
        FIELD_OVERRIDES[(_model, _field)] = {"class": "free_text"}

# Field names that are credential-bearing user dicts in every model that has them
# (runtime env vars, Docker/orchestrator settings), when structurally a user dict.
CREDENTIAL_KEY_FIELD_NAMES = frozenset({"environment", "settings"})

# Models that are open-ended on the wire (SerializeAsAny bases): treat their content as a user dict.
OPAQUE_MODELS = frozenset({"BaseSettings"})

# Class of keys a model accepts beyond its declared fields (pydantic extra="allow").
EXTRA_FIELD_CLASSES = {"Source": "source_ref", "ExceptionInfo": "log"}
DEFAULT_EXTRA_CLASS = "user_dict"

# Models whose plain-string fields are python import paths.
SOURCE_MODELS = frozenset({"Source"})

# Query parameters whose values can carry data (egress doc section 1), by name on any route.
QUERY_OVERRIDES: dict[str, str] = {
    "run_metadata": "user_dict",
    "config": "user_dict",
    "labels_str": "user_dict",
    "search": "free_text",
    "description": "free_text",
    "full_name": "free_text",
    "email": "free_text",
    "token": "auth",          # short-lived download token minted by the server
    "user_code": "credential",
    "device_code": "credential",
}

# Routes that are the SDK's own authentication.
SDK_AUTH_ROUTES = frozenset({
    ("POST", "/api/v1/login"),
    ("POST", "/api/v1/device_authorization"),
    ("GET", "/api/v1/api_token"),
    ("GET", "/api/v1/logout"),
    ("PUT", "/api/v1/devices/{device_id}/verify"),
})

# First path segment -> resource name, where the segment is an alias or not a resource name.
RESOURCE_ALIASES = {
    "run-metadata": "run_metadata",
    "pipeline_deployments": "pipeline_snapshots",
    "workspaces": "projects",
    "secrets_operations": "secrets",
    "current-user": "users",
    "stack-deployment": "stack_deployment",
    "component-types": "components",
    "service_connector_types": "service_connectors",
    "activate": "server",
    "settings": "server",
    "info": "server",
    "statistics": "server",
    "health": "server",
    "ready": "server",
    "login": "auth",
    "logout": "auth",
    "api_token": "auth",
    "device_authorization": "auth",
}

# Collections nested under a parent id that are resources of their own.
NESTED_RESOURCES = frozenset({"api_keys", "model_versions"})

# POST routes whose last literal segment makes them a create or a read (everything else: other).
POST_CREATE_TAILS = frozenset({"batch"})
POST_READ_TAILS = frozenset({"statistics"})
# PUT/PATCH routes that trigger an operation rather than update a record.
PUT_OTHER_TAILS = frozenset({"verify", "backup", "restore", "sync"})
# (method, template) with an action the generic rules get wrong.
ACTION_OVERRIDES = {
    ("POST", "/api/v1/runs/{pipeline_run_id}/events"): "create",
}

# Keys under a credential_keys user dict that mark the value as a credential. Matched per word
# (split on non-alphanumerics and camelCase) so "tokenizer" or "keyword" do not match.
CREDENTIAL_KEY_REGEX = (
    r"(?i)(?:^|[^a-z0-9])(?:pass(?:word|wd|phrase)?|pwd|secrets?|tokens?|api_?keys?|keys?|"
    r"credentials?|private_?key|kubeconfig|auth|authorization|bearer|cookie|"
    r"connection_?string|dsn)(?:$|[^a-z0-9])"
)

# A ZenML secret reference, `{{ secret_name.secret_key }}`, and nothing else: a name and a key
# of identifier characters (letters, digits, `_`, `-`; ZenML splits on the first dot), optional
# blanks inside the braces. ZenML's own test (`secret_utils._secret_reference_expression`,
# `\{\{\s*\S+?\.\S+\s*\}\}`) accepts any non-blank text around a dot, so a PEM body, a DSN with
# its password or a plain secret between braces would pass as a reference; a value the detectors
# and the credential rule skip must have exactly the shape of one. Every string this accepts,
# ZenML's expression accepts too (the generator checks a sample).
SECRET_REFERENCE_REGEX = (
    r"\{\{[ \t]{0,4}[A-Za-z0-9_][A-Za-z0-9_\-]{0,127}\.[A-Za-z_][A-Za-z0-9_\-]{0,127}[ \t]{0,4}\}\}"
)
