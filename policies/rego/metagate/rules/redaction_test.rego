package metagate.test.redaction

import data.metagate.rules.redaction

fields := [
	{"path": "$.step_configurations.train.spec.source_code", "class": "code"},
	{"path": "$.client_environment.python_packages", "class": "package_list"},
	{"path": "$.metadata.string_representation", "class": "value_repr"},
	{"path": "$.exception_info.traceback", "class": "log"},
	{"path": "$.exception_info.message", "class": "log"},
	{"path": "$.values.note", "class": "user_dict"},
	{"path": "$.configuration.key", "class": "credential"},
]

redacted_paths(items) := {path | some item in items; some path in item.paths}

test_code_package_lists_value_reprs_and_tracebacks_are_redacted if {
	fs := fields
	redacted_paths(redaction.redact) == {
		"$.step_configurations.train.spec.source_code",
		"$.client_environment.python_packages",
		"$.metadata.string_representation",
		"$.exception_info.traceback",
	} with input.fields as fs
}

test_rule_ids_name_the_class_or_the_suffix if {
	fs := fields
	{item.rule | some item in redaction.redact} == {"redact.code", "redact.package_list", "redact.value_repr", "redact.traceback"} with input.fields as fs
}

test_items_are_leaves_with_their_class_as_entity if {
	fs := fields
	items := redaction.redact with input.fields as fs
	some item in items
	item.rule == "redact.code"
	item.entity == "code"
	item.leaf == true
}

test_one_item_per_rule_holds_all_its_paths if {
	fs := [
		{"path": "$.metadata.mean.a", "class": "value_repr"},
		{"path": "$.metadata.mean.b", "class": "value_repr"},
		{"path": "$.metadata.max.a", "class": "value_repr"},
	]
	items := redaction.redact with input.fields as fs
	count(items) == 1
	count(items[0].paths) == 3
}

test_nothing_to_redact_gives_no_item if {
	fs := [{"path": "$.values.note", "class": "user_dict"}]
	redaction.redact == [] with input.fields as fs
}

test_classes_come_from_data if {
	fs := fields
	classes := ["user_dict"]
	none := {"log": []}
	redacted_paths(redaction.redact) == {"$.values.note"} with input.fields as fs
		with data.metagate.config.redact_classes as classes
		with data.metagate.config.redact_path_suffixes as none
}
