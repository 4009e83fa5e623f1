package metagate.test.schema

import data.metagate.rules.schema

test_parse_error_blocks_and_says_why_in_its_own_words if {
	s := {"parse_error": "malformed_json", "violations": [], "unknown_fields": []}
	schema.block == [{"rule": "schema.unparseable", "path": "$", "entity": "malformed JSON"}] with input.schema as s
}

test_unknown_parse_error_codes_are_not_echoed if {
	s := {"parse_error": "sk_live_abcdef", "violations": [], "unknown_fields": []}
	schema.block == [{"rule": "schema.unparseable", "path": "$", "entity": "unparseable body"}] with input.schema as s
}

test_null_parse_error_does_not_block if {
	s := {"parse_error": null, "violations": [], "unknown_fields": []}
	schema.block == [] with input.schema as s
}

test_each_violation_blocks_as_its_kind if {
	s := {"parse_error": null, "violations": [
		{"path": "$.values", "kind": "too_deep", "message": "nesting deeper than 8"},
		{"path": "$.description", "kind": "too_long", "message": "longer than 64 KB"},
		{"path": "$.uri", "kind": "uri_outside_storage", "message": "not under a storage prefix"},
	]}
	blocks := schema.block with input.schema as s
	[[b.rule, b.path] | some b in blocks] == [
		["schema.too_deep", "$.values"],
		["schema.too_long", "$.description"],
		["schema.uri_outside_storage", "$.uri"],
	]
}

test_unknown_field_violation_only_warns if {
	s := {"parse_error": null, "violations": [{"path": "$.foo", "kind": "unknown_field", "message": "not in the model"}]}
	schema.block == [] with input.schema as s
	[w.rule | some w in schema.warn] == ["schema.unknown_field"] with input.schema as s
}

test_unknown_fields_warn_with_their_path if {
	s := {"parse_error": null, "violations": [], "unknown_fields": ["$.foo", "$.bar"]}
	[[w.rule, w.path] | some w in schema.warn] == [["schema.unknown_field", "$.foo"], ["schema.unknown_field", "$.bar"]] with input.schema as s
}

test_ignored_kind_neither_blocks_nor_warns if {
	s := {"parse_error": null, "violations": [{"path": "$.x", "kind": "bad_type", "message": "m"}], "unknown_fields": ["$.y"]}
	settings := {"warn_kinds": [], "ignored_kinds": ["bad_type", "unknown_field"]}
	schema.block == [] with input.schema as s with data.metagate.config.schema as settings
	schema.warn == [] with input.schema as s with data.metagate.config.schema as settings
}

test_a_kind_can_be_lowered_to_a_warning if {
	s := {"parse_error": null, "violations": [{"path": "$.x", "kind": "too_long", "message": "m"}]}
	settings := {"warn_kinds": ["too_long"]}
	schema.block == [] with input.schema as s with data.metagate.config.schema as settings
	[w.rule | some w in schema.warn] == ["schema.too_long"] with input.schema as s with data.metagate.config.schema as settings
}
