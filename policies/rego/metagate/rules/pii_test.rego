package metagate.test.pii

import data.metagate.rules.pii

test_finding_over_threshold_blocks_naming_rule_path_and_entity if {
	fs := [{"entity": "EMAIL_ADDRESS", "category": "pii", "path": "$.values.note", "score": 0.9, "detector": "test", "field_class": "user_dict"}]
	pii.block == [{"rule": "pii.detected", "path": "$.values.note", "entity": "EMAIL_ADDRESS"}] with input.findings as fs
}

test_finding_under_threshold_does_not_block if {
	fs := [{"entity": "EMAIL_ADDRESS", "category": "pii", "path": "$.values.note", "score": 0.2, "detector": "test", "field_class": "user_dict"}]
	pii.block == [] with input.findings as fs
}

test_threshold_comes_from_data if {
	fs := [{"entity": "EMAIL_ADDRESS", "category": "pii", "path": "$.values.note", "score": 0.9, "detector": "test", "field_class": "user_dict"}]
	pii.block == [] with input.findings as fs with data.metagate.config.thresholds.pii as 0.95
}

test_other_categories_are_not_this_packages_business if {
	fs := [{"entity": "X", "category": "other", "path": "$.values.note", "score": 1.0, "detector": "test", "field_class": "user_dict"}]
	pii.block == [] with input.findings as fs
}

test_finding_in_redacted_field_does_not_block if {
	fs := [{"entity": "EMAIL_ADDRESS", "category": "pii", "path": "$.steps.s.source_code", "score": 1.0, "detector": "test", "field_class": "code"}]
	pii.block == [] with input.findings as fs
}
