# Fields the server never needs back: source code, pip freezes, value-derived artifact
# metadata and tracebacks. They are replaced by a hash marker instead of blocking the run.
#
# One item per rule with all its paths ("paths"), not one per field: a pandas artifact can
# bring hundreds of value_repr fields and regopy pays for every object it builds. The paths
# are leaves of the body ("leaf"), so main only needs exact matches against them.
package metagate.rules.redaction

import data.metagate.lib

classes := lib.redact_classes

by_class := [item |
	some class in classes
	paths := [f.path | some f in lib.watched_fields; f.class == class]
	count(paths) > 0
	item := {"rule": concat(".", ["redact", class]), "paths": paths, "entity": class, "leaf": true}
]

# Fields of a class whose path ends in a listed suffix, e.g. log fields ending in
# ".traceback": rule id redact.<suffix without its dot>.
by_suffix := [item |
	some class
	some suffix in lib.redact_suffixes[class]
	paths := [f.path | some f in lib.watched_fields; f.class == class; endswith(f.path, suffix)]
	count(paths) > 0
	item := {"rule": concat(".", ["redact", trim_prefix(suffix, ".")]), "paths": paths, "entity": class, "leaf": true}
]

redact := array.concat(by_class, by_suffix)
