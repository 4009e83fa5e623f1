# Unit tests for metagate.lib. Runs under `opa test` and policies/rego_tests.py (regopy).
# regopy-safe forms only (see README.md): `with input.<key> as <literal or local>`, never
# `with input as ...`, and values bound to locals rather than rule references.
package metagate.test.lib

import data.metagate.lib

test_is_under_same_path if lib.is_under("$.a.b", "$.a.b")

test_is_under_child_key if lib.is_under("$.a.b.c", "$.a.b")

test_is_under_child_index if lib.is_under("$.a.b[0]", "$.a.b")

test_is_under_quoted_key if lib.is_under(`$.a["odd key"]`, "$.a")

test_not_under_sibling_with_common_prefix if not lib.is_under("$.a.bc", "$.a.b")

test_not_under_parent if not lib.is_under("$.a", "$.a.b")

test_missing_write_flag_counts_as_write if {
	lib.is_write with input.endpoint as {"known": true}
}

test_read_is_not_write if {
	not lib.is_write with input.endpoint as {"write": false}
}

finding(category, entity, path, score, class) := {
	"entity": entity, "category": category, "path": path,
	"score": score, "detector": "test", "field_class": class,
}

test_blocking_findings_apply_category_threshold if {
	fs := [
		finding("pii", "EMAIL_ADDRESS", "$.values.a", 0.9, "user_dict"),
		finding("pii", "PHONE_NUMBER", "$.values.b", 0.4, "user_dict"),
		finding("secret", "AWS_ACCESS_KEY", "$.values.c", 0.9, "user_dict"),
	]
	found := lib.blocking_findings("pii") with input.findings as fs
	[f.path | some f in found] == ["$.values.a"]
}

test_score_equal_to_threshold_blocks if {
	fs := [finding("pii", "EMAIL_ADDRESS", "$.values.a", 0.5, "user_dict")]
	count(lib.blocking_findings("pii")) == 1 with input.findings as fs
}

test_entity_threshold_wins_over_category if {
	fs := [
		finding("pii", "PERSON", "$.values.a", 0.85, "user_dict"),
		finding("pii", "EMAIL_ADDRESS", "$.values.b", 0.85, "user_dict"),
	]
	ts := {"PERSON": 0.9}
	found := lib.blocking_findings("pii") with input.findings as fs
		with data.metagate.config.entity_thresholds as ts
	[f.entity | some f in found] == ["EMAIL_ADDRESS"]
}

test_ignored_entity_does_not_block if {
	fs := [finding("pii", "URL", "$.values.a", 1.0, "user_dict")]
	ignored := ["URL"]
	count(lib.blocking_findings("pii")) == 0 with input.findings as fs
		with data.metagate.config.ignored_entities as ignored
}

# Replaces the whole config: OPA merges an object given to `with` for a child path of a
# document that a rule reads whole (lib.config), so `thresholds as {}` would change nothing.
test_no_thresholds_configured_blocks_every_finding if {
	fs := [finding("blob", "BLOB_PICKLE", "$.values.a", 0.01, "user_dict")]
	cfg := {"thresholds": {}}
	count(lib.blocking_findings("blob")) == 1 with input.findings as fs
		with data.metagate.config as cfg
}

test_sdk_auth_credential_fields_are_exempt if {
	fs := [finding("secret", "GENERIC_TOKEN", "$.user_code", 0.9, "credential")]
	ep := {"known": true, "write": true, "sdk_auth": true}
	count(lib.blocking_findings("secret")) == 0 with input.findings as fs with input.endpoint as ep
}

test_sdk_auth_exemption_only_covers_its_credential_fields if {
	fs := [finding("pii", "EMAIL_ADDRESS", "$.client_id", 0.9, "name")]
	ep := {"known": true, "write": true, "sdk_auth": true}
	count(lib.blocking_findings("pii")) == 1 with input.findings as fs with input.endpoint as ep
}

test_credential_field_elsewhere_is_not_exempt if {
	fs := [finding("secret", "AWS_SECRET_KEY", "$.values.key", 0.9, "credential")]
	ep := {"known": true, "write": true, "sdk_auth": false}
	count(lib.blocking_findings("secret")) == 1 with input.findings as fs with input.endpoint as ep
}

test_finding_in_redacted_class_does_not_block if {
	fs := [finding("pii", "EMAIL_ADDRESS", "$.steps.train.source_code", 1.0, "code")]
	count(lib.blocking_findings("pii")) == 0 with input.findings as fs
}

test_finding_in_traceback_does_not_block if {
	fs := [finding("pii", "EMAIL_ADDRESS", "$.exception_info.traceback", 1.0, "log")]
	count(lib.blocking_findings("pii")) == 0 with input.findings as fs
}

test_finding_in_exception_message_blocks if {
	fs := [finding("pii", "EMAIL_ADDRESS", "$.exception_info.message", 1.0, "log")]
	count(lib.blocking_findings("pii")) == 1 with input.findings as fs
}

test_watched_fields_keep_only_classes_a_rule_reads if {
	fs := [
		{"path": "$.a", "class": "user_dict"},
		{"path": "$.b", "class": "code"},
		{"path": "$.c", "class": "credential"},
		{"path": "$.d", "class": "log"},
	]
	[f.path | some f in lib.watched_fields] == ["$.b", "$.c", "$.d"] with input.fields as fs
}
