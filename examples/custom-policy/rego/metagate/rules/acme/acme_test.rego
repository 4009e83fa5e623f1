# Unit tests of ACME's package: `metagate policy test examples/custom-policy` runs them with
# the embedded engine, `opa test` runs them too. regopy-safe forms only (policies/rego/README.md):
# replace input keys one by one, values bound to locals first.
package metagate.test.acme

import data.metagate.main
import data.metagate.rules.acme

run_metadata := {"known": true, "template": "/api/v1/run-metadata", "resource": "run_metadata", "action": "create", "write": true, "sdk_auth": false}

pipelines := {"known": true, "template": "/api/v1/pipelines", "resource": "pipelines", "action": "create", "write": true, "sdk_auth": false}

finding(entity, path) := {"entity": entity, "category": "pii", "path": path, "score": 1.0, "detector": "presidio", "field_class": "user_dict"}

test_forbidden_field_blocks_wherever_it_sits if {
	fs := [
		{"path": "$.values.customer_id", "class": "user_dict"},
		{"path": "$.values.rows[3].customer_id", "class": "user_dict"},
		{"path": "$.values.note", "class": "user_dict"},
	]
	blocked := {b.path | some b in acme.block} with input.fields as fs
	blocked == {"$.values.customer_id", "$.values.rows[3].customer_id"}
}

test_forbidden_field_block_names_rule_and_field if {
	fs := [{"path": "$.values.patient_id", "class": "user_dict"}]
	acme.block == {{"rule": "acme.forbidden_field", "path": "$.values.patient_id", "entity": "patient_id"}} with input.fields as fs
}

test_similar_names_are_not_forbidden if {
	fs := [{"path": "$.values.customer_id_count", "class": "user_dict"}, {"path": "$.values.customers", "class": "user_dict"}]
	count(acme.block) == 0 with input.fields as fs
}

test_owner_email_is_exempt_on_run_metadata if {
	ep := run_metadata
	fs := [finding("EMAIL_ADDRESS", "$.values.owner")]
	acme.exempt == {{"rule": "pii.detected", "path": "$.values.owner"}} with input.endpoint as ep with input.findings as fs
}

test_email_on_another_endpoint_is_not_exempt if {
	ep := pipelines
	fs := [finding("EMAIL_ADDRESS", "$.description")]
	count(acme.exempt) == 0 with input.endpoint as ep with input.findings as fs
}

test_other_entity_on_run_metadata_is_not_exempt if {
	ep := run_metadata
	fs := [finding("PHONE_NUMBER", "$.values.owner")]
	count(acme.exempt) == 0 with input.endpoint as ep with input.findings as fs
}

test_email_beside_other_pii_in_one_field_is_not_exempt if {
	ep := run_metadata
	fs := [finding("EMAIL_ADDRESS", "$.values.owner"), finding("CREDIT_CARD", "$.values.owner")]
	count(acme.exempt) == 0 with input.endpoint as ep with input.findings as fs
}

test_email_outside_the_allowed_subtree_is_not_exempt if {
	ep := run_metadata
	fs := [finding("EMAIL_ADDRESS", "$.resources[0].type")]
	count(acme.exempt) == 0 with input.endpoint as ep with input.findings as fs
}

# How main composes the exemption with the shipped pii rule (main.compose: see main_test.rego).
test_exempted_email_does_not_block_the_request if {
	b := {"rule": "pii.detected", "path": "$.values.owner", "entity": "EMAIL_ADDRESS"}
	e := {"rule": "pii.detected", "path": "$.values.owner"}
	main.compose([b], [], [], [e]).action == "allow"
}
