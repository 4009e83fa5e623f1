# Requests to endpoints the catalog does not know. A write to an unknown endpoint could carry
# anything, so by default it is blocked; an unknown read only asks the server for something.
# The SDK's own auth endpoints are known endpoints: they are handled by the credential and
# finding rules, which exempt their credential fields.
package metagate.rules.endpoints

import data.metagate.lib

unknown_policy := object.get(lib.config, "unknown_endpoint", {})

# A missing setting counts as "block" for writes and "allow" for reads.
write_action := object.get(unknown_policy, "write", "block")

read_action := object.get(unknown_policy, "read", "allow")

unknown if object.get(lib.endpoint, "known", false) != true

block contains lib.item("endpoint.unknown_write", "$", method) if {
	unknown
	lib.is_write
	write_action == "block"
	method := object.get(object.get(input, "request", {}), "method", "")
}

warn contains lib.item("endpoint.unknown_write", "$", "") if {
	unknown
	lib.is_write
	write_action == "warn"
}

block contains lib.item("endpoint.unknown_read", "$", "") if {
	unknown
	not lib.is_write
	read_action == "block"
}

warn contains lib.item("endpoint.unknown_read", "$", "") if {
	unknown
	not lib.is_write
	read_action == "warn"
}
