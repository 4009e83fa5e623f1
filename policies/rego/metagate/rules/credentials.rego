# A credential-class field (secret values, connector keys, webhook secrets, credential-keyed
# environment/settings entries) in a write request would store a credential on the hosted
# server: blocked. Not on the SDK's own auth endpoints, nor for resources listed in
# credential_write.exempt_resources.
package metagate.rules.credentials

import data.metagate.lib

settings := object.get(lib.config, "credential_write", {})

applies if {
	lib.is_write
	not lib.is_sdk_auth
	not exempt_resource
}

exempt_resource if {
	resource := object.get(lib.endpoint, "resource", null)
	resource in object.get(settings, "exempt_resources", [])
}

block := [lib.item("credential.write", f.path, "credential") |
	applies
	some f in lib.watched_fields
	f.class == "credential"
]
