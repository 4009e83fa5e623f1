# The decision the proxy enforces: data.metagate.main.decision (docs/POLICY_INPUT.md).
#
# Every package under data.metagate.rules may define `block`, `redact`, `warn` and `exempt`
# (each a set or an array of items). This package only collects and composes them, so a team
# adds rules by adding a package, never by editing this one. Items (README.md beside this):
#   {"rule": id, "path": JSON path, "entity": what was found (optional)}
#   {"rule": id, "paths": [JSON path, ...], "entity": ..., "leaf": true (optional)}
#   exempt: {"rule": id, "path": prefix (optional: the whole request)}
#
# Collections are arrays, not sets: regopy builds large sets in O(n^2). The engines sort and
# de-duplicate the lists of the decision, so the order here does not matter.
package metagate.main

import data.metagate.lib

blocks_in := [item | some item in data.metagate.rules[_].block]

warns_in := [item | some item in data.metagate.rules[_].warn]

redacts := [item | some item in data.metagate.rules[_].redact]

exemptions := [item | some item in data.metagate.rules[_].exempt]

decision := compose(blocks_in, redacts, warns_in, exemptions)

# The decision for the given contributions: a pure function, so the Rego unit tests can call
# it with literal items (regopy compiles each `main.decision with ...` test into a copy of the
# whole policy, ~85 MB). The checks per item are inlined: each function call costs regopy
# tens of microseconds, and a request can bring hundreds of items.
compose(blocks, redacts, warns, exemptions) := {
	"action": action_of(count(block_hits), count(redact_paths), count(warn_hits)),
	"rules": (({hit[0].rule | some hit in block_hits} | {item.rule | some item in redacts; count(paths_of(item)) > 0}) | {hit[0].rule | some hit in warn_hits}),
	"reasons": array.concat([reason(hit[0], hit[1]) | some hit in block_hits], redact_reasons),
	"redact": redact_paths,
	"warnings": [concat("", [hit[0].rule, ": ", hit[1]]) | some hit in warn_hits],
} if {
	redact_paths := array.concat(
		[item.path | some item in redacts],
		[path | some item in redacts; some path in item.paths],
	)

	# Paths that may have something under them; a "leaf" item's paths only match exactly.
	subtree_paths := array.concat(
		[item.path | some item in redacts; not item.leaf],
		[path | some item in redacts; not item.leaf; some path in item.paths],
	)

	# [item, path] for each path of each item that still counts. A block at a redacted path,
	# or under one, does not block: the value never leaves. An exemption without a path
	# covers the whole request.
	block_hits := [[item, path] |
		some item in blocks
		some path in paths_of(item)
		not path in redact_paths
		count([p | some p in subtree_paths; startswith(path, p); lib.is_under(path, p)]) == 0
		count([e | some e in exemptions; e.rule == item.rule; lib.is_under(path, object.get(e, "path", "$"))]) == 0
	]

	warn_hits := [[item, path] |
		some item in warns
		some path in paths_of(item)
		count([e | some e in exemptions; e.rule == item.rule; lib.is_under(path, object.get(e, "path", "$"))]) == 0
	]

	# The reason head once per item: a redaction item can carry hundreds of paths.
	redact_reasons := array.concat(
		[reason(item, item.path) | some item in redacts],
		[concat("", [head, path]) | some item in redacts; head := reason_head(item); some path in item.paths],
	)
}

paths_of(item) := [item.path] if {
	item.path
} else := item.paths

action_of(blocks, redacts, warns) := "block" if {
	blocks > 0
} else := "redact" if {
	redacts > 0
} else := "warn" if {
	warns > 0
} else := "allow"

# "<rule>: <entity> at <path>", or "<rule>: <path>" without an entity. Never a value.
# concat, not sprintf: regopy 1.5 quotes %s strings that passed through a function call.
reason_head(item) := concat("", [item.rule, ": ", item.entity, " at "]) if {
	object.get(item, "entity", "") != ""
} else := concat("", [item.rule, ": "])

reason(item, path) := concat("", [reason_head(item), path])
