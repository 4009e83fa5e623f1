# ACME's own rules, loaded beside metagate's shipped policy: with policy.extra_dirs, or built
# into a bundle with `metagate policy build`. Nothing in the shipped policy is edited.
#
# Settings: data.metagate.config.acme (rego/metagate/config/acme/data.json). Like every
# rules package this one only sees the policy input (docs/POLICY_INPUT.md): paths, field
# classes, findings. Never a value.
package metagate.rules.acme

import data.metagate.lib

settings := object.get(lib.config, "acme", {})

forbidden := {name | some name in object.get(settings, "forbidden_fields", [])}

# A field ACME never lets leave, wherever it sits: any key of that name on the field's path
# ($.values.customer_id, $.values.rows[3].customer_id ...).
block contains lib.item("acme.forbidden_field", f.path, name) if {
	some f in input.fields
	some segment in split(f.path, ".")
	name := split(segment, "[")[0]
	forbidden[name]
}

# One entity allowed on one endpoint: each exception names the endpoint template, the
# entity and the subtree where it may appear. A path that also holds any other kind of
# personal data stays blocked: the exemption covers the whole field, so it is only given
# when the allowed entity is all there is.
exempt contains {"rule": "pii.detected", "path": f.path} if {
	some exception in object.get(settings, "pii_exceptions", [])
	object.get(lib.endpoint, "template", null) == exception.endpoint
	some f in input.findings
	f.category == "pii"
	f.entity == exception.entity
	lib.is_under(f.path, object.get(exception, "under", "$"))
	not other_pii_at(f.path, exception.entity)
}

other_pii_at(path, entity) if {
	some g in input.findings
	g.path == path
	g.category == "pii"
	g.entity != entity
}
