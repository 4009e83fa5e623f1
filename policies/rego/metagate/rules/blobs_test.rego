package metagate.test.blobs

import data.metagate.rules.blobs

test_finding_over_threshold_blocks_naming_rule_path_and_entity if {
	fs := [{"entity": "BLOB_PICKLE", "category": "blob", "path": "$.values.note", "score": 0.9, "detector": "test", "field_class": "user_dict"}]
	blobs.block == [{"rule": "blob.detected", "path": "$.values.note", "entity": "BLOB_PICKLE"}] with input.findings as fs
}

test_finding_under_threshold_does_not_block if {
	fs := [{"entity": "BLOB_PICKLE", "category": "blob", "path": "$.values.note", "score": 0.2, "detector": "test", "field_class": "user_dict"}]
	blobs.block == [] with input.findings as fs
}

test_threshold_comes_from_data if {
	fs := [{"entity": "BLOB_PICKLE", "category": "blob", "path": "$.values.note", "score": 0.9, "detector": "test", "field_class": "user_dict"}]
	blobs.block == [] with input.findings as fs with data.metagate.config.thresholds.blob as 0.95
}

test_other_categories_are_not_this_packages_business if {
	fs := [{"entity": "X", "category": "other", "path": "$.values.note", "score": 1.0, "detector": "test", "field_class": "user_dict"}]
	blobs.block == [] with input.findings as fs
}

test_finding_in_redacted_field_does_not_block if {
	fs := [{"entity": "BLOB_PICKLE", "category": "blob", "path": "$.steps.s.source_code", "score": 1.0, "detector": "test", "field_class": "code"}]
	blobs.block == [] with input.findings as fs
}

# --- data by shape: a measured finding blocks when it reaches its entity's thresholds -----

shape_finding(entity, measure) := {
	"entity": entity, "category": "blob", "path": "$.values.note", "score": 0.9,
	"detector": "prose", "field_class": "user_dict", "measure": measure,
}

test_prose_past_thresholds_blocks if {
	fs := [shape_finding("PROSE", {"words": 80, "sentences": 6, "word_share": 90})]
	blobs.block == [{"rule": "blob.detected", "path": "$.values.note", "entity": "PROSE"}] with input.findings as fs
}

test_prose_short_of_one_threshold_does_not_block if {
	# Many words but one sentence: a list of words, not a text.
	fs := [shape_finding("PROSE", {"words": 80, "sentences": 1, "word_share": 90})]
	blobs.block == [] with input.findings as fs
}

test_records_table_of_three_rows_blocks_two_does_not if {
	three := [shape_finding("RECORDS_TABLE", {"rows": 3, "columns": 2})]
	two := [shape_finding("RECORDS_TABLE", {"rows": 2, "columns": 5})]
	count(blobs.block) == 1 with input.findings as three
	blobs.block == [] with input.findings as two
}

test_numeric_count_threshold_comes_from_data if {
	fs := [shape_finding("NUMERIC_ARRAY", {"numbers": 100})]
	count(blobs.block) == 1 with input.findings as fs
	blobs.block == [] with input.findings as fs with data.metagate.config.shape_thresholds.NUMERIC_ARRAY as {"numbers": 500}
}

test_measured_entity_without_thresholds_blocks if {
	# Fail closed: a shape the data names no minimum for is data.
	fs := [shape_finding("NEW_SHAPE", {"rows": 1})]
	count(blobs.block) == 1 with input.findings as fs
}

test_missing_measure_name_counts_as_zero if {
	fs := [shape_finding("PROSE", {"words": 80})]
	blobs.block == [] with input.findings as fs
}

test_unmeasured_numeric_array_blocks_as_before if {
	fs := [{"entity": "NUMERIC_ARRAY", "category": "blob", "path": "$.values.e", "score": 0.9, "detector": "arrays", "field_class": "user_dict"}]
	count(blobs.block) == 1 with input.findings as fs
}

test_numbers_spread_over_fields_block_only_when_dense if {
	dense := [shape_finding("NUMERIC_SPREAD", {"numbers": 768, "fields": 16, "per_field": 48})]
	sparse := [shape_finding("NUMERIC_SPREAD", {"numbers": 600, "fields": 120, "per_field": 5})]
	count(blobs.block) == 1 with input.findings as dense
	blobs.block == [] with input.findings as sparse
}

# --- where a shape is data: shape_classes -------------------------------------------------

test_prose_in_a_description_is_reported_not_blocked if {
	f := object.union(shape_finding("PROSE", {"words": 80, "sentences": 6, "word_share": 90}), {"field_class": "free_text", "path": "$.description"})
	blobs.block == [] with input.findings as [f]
}

test_prose_in_user_data_still_blocks_with_classes_listed if {
	fs := [shape_finding("PROSE", {"words": 80, "sentences": 6, "word_share": 90})]
	blobs.block == [{"rule": "blob.detected", "path": "$.values.note", "entity": "PROSE"}] with input.findings as fs
}

test_entity_without_classes_blocks_in_any_class if {
	f := object.union(shape_finding("NUMERIC_ARRAY", {"numbers": 700}), {"field_class": "free_text", "path": "$.description"})
	blobs.block == [{"rule": "blob.detected", "path": "$.description", "entity": "NUMERIC_ARRAY"}] with input.findings as [f]
}

test_shape_classes_come_from_data if {
	f := object.union(shape_finding("PROSE", {"words": 80, "sentences": 6, "word_share": 90}), {"field_class": "free_text", "path": "$.description"})
	blobs.block == [{"rule": "blob.detected", "path": "$.description", "entity": "PROSE"}] with input.findings as [f]
		with data.metagate.config.shape_classes.PROSE as ["user_dict", "free_text"]
}

# --- prose that tells of people (PERSONAL_PROSE): data in a description too ---------------

personal(measure) := object.union(shape_finding("PERSONAL_PROSE", measure), {"field_class": "free_text", "path": "$.description"})

test_a_ticket_in_a_description_blocks if {
	f := personal({"words": 60, "sentences": 4, "word_share": 95, "person": 6, "person_per_mille": 100, "turns": 0})
	blobs.block == [{"rule": "blob.detected", "path": "$.description", "entity": "PERSONAL_PROSE"}] with input.findings as [f]
}

test_a_description_with_one_person_word_does_not_block if {
	f := personal({"words": 60, "sentences": 4, "word_share": 95, "person": 1, "person_per_mille": 16, "turns": 0})
	blobs.block == [] with input.findings as [f]
}

test_a_long_text_with_few_person_words_does_not_block if {
	f := personal({"words": 900, "sentences": 40, "word_share": 95, "person": 5, "person_per_mille": 5, "turns": 0})
	blobs.block == [] with input.findings as [f]
}
