# Helpers shared by the rule packages: functions of input and data.metagate.config only.
# Nothing here contributes to the decision by itself.
package metagate.lib

config := data.metagate.config

endpoint := object.get(input, "endpoint", {})

redact_suffixes := object.get(config, "redact_path_suffixes", {})

# The classes the default rules look at, and their fields found in one pass over
# input.fields: regopy pays a few microseconds per field and pass, and a snapshot has hundreds.
watched_classes := (({c | some c in object.get(config, "redact_classes", [])} | {c | redact_suffixes[c]}) | {"credential"})

watched_fields := [f |
	some f in object.get(input, "fields", [])
	watched_classes[f.class]
]

# Fail closed: a request whose write flag is missing counts as a write.
is_write if object.get(endpoint, "write", true) == true

is_sdk_auth if object.get(endpoint, "sdk_auth", false) == true

# True when `path` is `prefix` or lies inside it (the rule of scanner/jsonpath.is_under).
is_under(path, prefix) if path == prefix

is_under(path, prefix) if startswith(path, concat("", [prefix, "."]))

is_under(path, prefix) if startswith(path, concat("", [prefix, "["]))

# Score at or above which a finding of `category` blocks, unless its entity has its own
# threshold (entity_thresholds). With no thresholds configured at all, every finding blocks.
category_threshold(category) := t if {
	t := config.thresholds[category]
} else := t if {
	t := config.thresholds["default"]
} else := 0

entity_thresholds := object.get(config, "entity_thresholds", {})

ignored_entities := {e | some e in object.get(config, "ignored_entities", [])}

sdk_auth_exempt_classes := {c | some c in object.get(config, "sdk_auth_exempt_classes", [])}

redact_classes := {c | some c in object.get(config, "redact_classes", [])}

# Findings of `category` that are strong enough to block and that nothing exempts: ignored
# entities, the SDK's own credential fields on its auth endpoints, and fields that the
# default redaction replaces (the value never leaves). Checked per finding with lookups,
# inline: regopy pays tens of microseconds per function call, and a request can bring
# hundreds of findings. An array, not a set: regopy builds large sets in O(n^2).
blocking_findings(category) := [f |
	default_threshold := category_threshold(category)
	some f in object.get(input, "findings", [])
	f.category == category
	f.score >= object.get(entity_thresholds, f.entity, default_threshold)
	not ignored_entities[f.entity]
	not sdk_auth_exempt(f)
	not redact_classes[f.field_class]
	not redacted_by_suffix(f)
]

sdk_auth_exempt(finding) if {
	is_sdk_auth
	sdk_auth_exempt_classes[finding.field_class]
}

redacted_by_suffix(finding) if {
	some suffix in redact_suffixes[finding.field_class]
	endswith(finding.path, suffix)
}

# One contribution to a decision set (see README.md): rule id, JSON path, entity.
item(rule, path, entity) := {"rule": rule, "path": path, "entity": entity}
