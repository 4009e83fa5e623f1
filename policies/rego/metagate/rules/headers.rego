# Credential headers. The ZenML SDK authenticates with one header only, `Authorization:
# Bearer <JWT>` (its workspace and API tokens are signed JWTs), so any other credential a
# request carries (Cookie, X-Api-Key, Proxy-Authorization, a `Basic ...` value in a custom
# header ...) is not the SDK talking: refused with a reason rather than stripped, so the
# client learns why and the trail records it, instead of a silent change to what the server
# sees. Authorization itself must have a shape in headers.authorization_shapes.
#
# The proxy masks every credential value before inspection; the policy sees one fact per
# credential header, never a value: {"name", "path", "shape"} (docs/POLICY_INPUT.md).
# Shapes: bearer_jwt, bearer_opaque, basic, redacted (masked upstream, as captures are), other.
package metagate.rules.headers

import data.metagate.lib

settings := object.get(lib.config, "headers", {})

# Credential headers a request may carry at all.
allowed_names := {name | some name in object.get(settings, "credential_headers_allowed", ["authorization"])}

# Shapes an Authorization header may have. "redacted" is the mask itself, which holds nothing
# (a capture replayed by `metagate scan`); a deployment whose clients log in with a ZenML Pro
# control-plane token of another format adds "bearer_opaque".
authorization_shapes := {shape | some shape in object.get(settings, "authorization_shapes", ["bearer_jwt", "redacted"])}

credentials := object.get(object.get(input, "headers", {}), "credentials", [])

authorizations := [c | some c in credentials; c.name == "authorization"]

block contains lib.item("headers.credential_not_sent_by_sdk", c.path, c.name) if {
	some c in credentials
	not allowed_names[c.name]
}

block contains lib.item("headers.authorization_shape", c.path, c.shape) if {
	some c in authorizations
	not authorization_shapes[c.shape]
}

# Two Authorization headers: which one the server reads is its choice, not the gate's.
block contains lib.item("headers.authorization_repeated", authorizations[0].path, "") if {
	count(authorizations) > 1
}
