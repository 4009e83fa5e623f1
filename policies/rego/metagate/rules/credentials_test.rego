package metagate.test.credentials

import data.metagate.rules.credentials

fields := [
	{"path": "$.values.aws_secret_access_key", "class": "credential"},
	{"path": "$.name", "class": "name"},
	{"path": "$.values.region", "class": "user_dict"},
]

secret_create := {"known": true, "template": "/api/v1/secrets", "resource": "secrets", "action": "create", "write": true, "sdk_auth": false}

test_credential_in_a_write_blocks if {
	fs := fields
	ep := secret_create
	credentials.block == [{"rule": "credential.write", "path": "$.values.aws_secret_access_key", "entity": "credential"}] with input.fields as fs with input.endpoint as ep
}

test_credential_in_a_read_does_not_block if {
	fs := fields
	ep := object.union(secret_create, {"write": false})
	credentials.block == [] with input.fields as fs with input.endpoint as ep
}

test_sdk_auth_endpoint_keeps_its_credentials if {
	fs := [{"path": "$.user_code", "class": "credential"}]
	ep := {"known": true, "template": "/api/v1/devices/{device_id}/verify", "resource": "devices", "action": "auth", "write": true, "sdk_auth": true}
	credentials.block == [] with input.fields as fs with input.endpoint as ep
}

test_exempt_resource_is_not_blocked if {
	fs := fields
	ep := secret_create
	settings := {"exempt_resources": ["secrets"]}
	credentials.block == [] with input.fields as fs with input.endpoint as ep with data.metagate.config.credential_write as settings
}

# A service connector's configuration: the scanner classes each top-level attribute, and only
# the connector type's secret attributes (and credential-looking keys) are "credential".
connector_create := {"known": true, "template": "/api/v1/service_connectors", "resource": "service_connectors", "action": "create", "write": true, "sdk_auth": false}

test_connector_with_region_only_does_not_block if {
	fs := [
		{"path": "$.auth_method", "class": "name"},
		{"path": "$.configuration.region", "class": "user_dict"},
	]
	ep := connector_create
	credentials.block == [] with input.fields as fs with input.endpoint as ep
}

test_connector_secret_attribute_blocks_only_itself if {
	fs := [
		{"path": "$.configuration.region", "class": "user_dict"},
		{"path": "$.configuration.aws_secret_access_key", "class": "credential"},
	]
	ep := connector_create
	credentials.block == [{"rule": "credential.write", "path": "$.configuration.aws_secret_access_key", "entity": "credential"}] with input.fields as fs with input.endpoint as ep
}

test_secret_reference_is_not_a_credential if {
	fs := [{"path": "$.configuration.aws_secret_access_key", "class": "secret_ref"}]
	ep := connector_create
	credentials.block == [] with input.fields as fs with input.endpoint as ep
}
