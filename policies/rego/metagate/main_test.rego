# Tests of how main composes the contributions. They call main.compose with literal items:
# regopy 1.5 cannot evaluate `main.decision with ...` (see main.rego); the whole path from
# input to decision is covered by tests/unit/test_policies.py through the engines.
package metagate.test.main

import data.metagate.main

pii := {"rule": "pii.detected", "path": "$.values.note", "entity": "EMAIL_ADDRESS"}

code := {"rule": "redact.code", "paths": ["$.steps.s.source_code"], "entity": "code", "leaf": true}

unknown := {"rule": "schema.unknown_field", "path": "$.foo", "entity": "unknown_field"}

test_nothing_contributed_allows if {
	main.compose([], [], [], []) == {"action": "allow", "rules": set(), "reasons": [], "redact": [], "warnings": []}
}

test_block_wins_over_redact_and_warn if {
	b := pii
	r := code
	w := unknown
	d := main.compose([b], [r], [w], [])
	d.action == "block"
	d.rules == {"pii.detected", "redact.code", "schema.unknown_field"}
	d.redact == ["$.steps.s.source_code"]
}

test_redact_wins_over_warn if {
	r := code
	w := unknown
	main.compose([], [r], [w], []).action == "redact"
}

test_warning_alone_warns if {
	w := unknown
	d := main.compose([], [], [w], [])
	d.action == "warn"
	d.warnings == ["schema.unknown_field: $.foo"]
}

test_reasons_name_rule_entity_and_path if {
	b := pii
	r := code
	d := main.compose([b], [r], [], [])
	d.reasons == ["pii.detected: EMAIL_ADDRESS at $.values.note", "redact.code: code at $.steps.s.source_code"]
}

test_reason_without_entity_names_rule_and_path if {
	d := main.compose([{"rule": "custom.rule", "path": "$.x"}], [], [], [])
	d.reasons == ["custom.rule: $.x"]
}

test_block_at_a_redacted_path_does_not_block if {
	r := code
	d := main.compose([{"rule": "pii.detected", "path": "$.steps.s.source_code", "entity": "EMAIL_ADDRESS"}], [r], [], [])
	d.action == "redact"
	d.rules == {"redact.code"}
}

test_block_under_a_redacted_subtree_does_not_block if {
	r := {"rule": "custom.redact", "path": "$.values"}
	b := pii
	main.compose([b], [r], [], []).action == "redact"
}

test_block_beside_a_redacted_path_still_blocks if {
	r := {"rule": "custom.redact", "path": "$.val"}
	b := pii
	main.compose([b], [r], [], []).action == "block"
}

test_leaf_items_only_cover_their_own_paths if {
	r := {"rule": "custom.redact", "paths": ["$.values"], "leaf": true}
	b := pii
	main.compose([b], [r], [], []).action == "block"
}

test_exemption_drops_matching_rule_under_its_path if {
	b := pii
	e := {"rule": "pii.detected", "path": "$.values"}
	main.compose([b], [], [], [e]).action == "allow"
}

test_exemption_without_path_covers_the_request if {
	w := unknown
	e := {"rule": "schema.unknown_field"}
	main.compose([], [], [w], [e]).action == "allow"
}

test_exemption_for_another_rule_changes_nothing if {
	b := pii
	e := {"rule": "secret.detected"}
	main.compose([b], [], [], [e]).action == "block"
}

test_items_with_many_paths_give_one_reason_per_path if {
	b := {"rule": "custom.block", "paths": ["$.a", "$.b"], "entity": "X"}
	d := main.compose([b], [], [], [])
	d.reasons == ["custom.block: X at $.a", "custom.block: X at $.b"]
}

test_redaction_item_with_no_paths_does_not_redact if {
	r := {"rule": "redact.code", "paths": [], "leaf": true}
	main.compose([], [r], [], []).action == "allow"
}

test_contributions_of_any_rules_package_are_collected if {
	b := [{"rule": "team.rule", "path": "$.x"}]
	items := main.blocks_in with data.metagate.rules.team.block as b
	some item in items
	item.rule == "team.rule"
}

test_end_to_end_redaction_hides_the_finding_it_covers if {
	ep := {"known": true, "template": "/api/v1/steps", "resource": "steps", "action": "create", "write": true, "sdk_auth": false}
	fields := [{"path": "$.source_code", "class": "code"}, {"path": "$.name", "class": "name"}]
	findings := [{"entity": "EMAIL_ADDRESS", "category": "pii", "path": "$.source_code", "score": 1.0, "detector": "presidio", "field_class": "code"}]
	d := main.decision with input.endpoint as ep with input.fields as fields with input.findings as findings
	d == {
		"action": "redact",
		"rules": {"redact.code"},
		"reasons": ["redact.code: code at $.source_code"],
		"redact": ["$.source_code"],
		"warnings": [],
	}
}

test_end_to_end_unknown_write_blocks if {
	ep := {"known": false, "template": null, "resource": null, "action": "other", "write": true, "sdk_auth": false}
	req := {"method": "PUT", "path": "/api/v1/new"}
	d := main.decision with input.endpoint as ep with input.request as req
	d.action == "block"
	d.reasons == ["endpoint.unknown_write: PUT at $"]
}
