# Serialized data found by the detectors (pickles, archives, images, long numeric arrays, record arrays)
# at or above the threshold in data.metagate.config block. Exempt: ignored entities, the SDK's
# own credential fields on its auth endpoints, and findings in fields that are redacted (the
# value never leaves). See lib.blocking_findings.
#
# Data by shape (scanner/detectors/shapes.py: PROSE, RECORDS_TABLE, COLUMN_LISTS, NUMERIC_ARRAY
# in user data) comes with a `measure` (words, sentences, rows, columns, numbers ...): such a
# finding blocks only when its measure reaches every minimum that
# data.metagate.config.shape_thresholds names for its entity. A measured entity without
# thresholds blocks (fail closed); a finding without a measure blocks as before.
# data.metagate.config.shape_classes names, per entity, the field classes where its shape is
# data: prose in a model description or an exception message is reported (the detectors
# measure ZenML's own prose fields too) but blocks only in the classes listed. An entity not
# listed there blocks in any class.
package metagate.rules.blobs

import data.metagate.lib

shape_thresholds := object.get(lib.config, "shape_thresholds", {})

shape_classes := object.get(lib.config, "shape_classes", {})

block := [lib.item("blob.detected", f.path, f.entity) |
	some f in lib.blocking_findings("blob")
	shape_reaches_thresholds(f)
	shape_in_blocking_class(f)
]

shape_in_blocking_class(finding) if not shape_classes[finding.entity]

shape_in_blocking_class(finding) if {
	some cls in shape_classes[finding.entity]
	cls == finding.field_class
}

shape_reaches_thresholds(finding) if not finding.measure

shape_reaches_thresholds(finding) if {
	finding.measure
	not shape_thresholds[finding.entity]
}

shape_reaches_thresholds(finding) if {
	minimums := shape_thresholds[finding.entity]
	every name, minimum in minimums {
		object.get(finding.measure, name, 0) >= minimum
	}
}
