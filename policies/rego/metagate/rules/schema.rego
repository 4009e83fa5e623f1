# What the metadata-only schema check found. A body that cannot be parsed cannot be
# inspected, so it is blocked; each violation blocks as schema.<kind> unless the config lists
# its kind as a warning (unknown fields, by default) or ignores it.
package metagate.rules.schema

import data.metagate.lib

schema := object.get(input, "schema", {})

settings := object.get(lib.config, "schema", {})

warn_kinds := {kind | some kind in object.get(settings, "warn_kinds", [])}

ignored_kinds := {kind | some kind in object.get(settings, "ignored_kinds", [])}

violations := object.get(schema, "violations", [])

# parse_error is null when the body parsed. Its text is not repeated: it may quote the body.
# parse_error is a code (scanner/normalize.py); the reason says why in the words of
# data.metagate.config.parse_errors, never in the input's own words.
unparseable := [lib.item("schema.unparseable", "$", object.get(lib.config.parse_errors, code, "unparseable body")) |
	code := object.get(schema, "parse_error", null)
	code != null
]

violation_blocks := [lib.item(concat(".", ["schema", v.kind]), v.path, v.kind) |
	some v in violations
	not warn_kinds[v.kind]
	not ignored_kinds[v.kind]
]

block := array.concat(unparseable, violation_blocks)

violation_warns := [lib.item(concat(".", ["schema", v.kind]), v.path, v.kind) |
	some v in violations
	warn_kinds[v.kind]
	not ignored_kinds[v.kind]
]

unknown_fields := [lib.item("schema.unknown_field", path, "unknown_field") |
	not ignored_kinds.unknown_field
	some path in object.get(schema, "unknown_fields", [])
]

warn := array.concat(violation_warns, unknown_fields)
