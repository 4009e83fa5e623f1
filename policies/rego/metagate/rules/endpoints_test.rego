package metagate.test.endpoints

import data.metagate.rules.endpoints

unknown_write := {"known": false, "template": null, "resource": null, "action": "other", "write": true, "sdk_auth": false}

unknown_read := {"known": false, "template": null, "resource": null, "action": "other", "write": false, "sdk_auth": false}

known_write := {"known": true, "template": "/api/v1/run-metadata", "resource": "run_metadata", "action": "create", "write": true, "sdk_auth": false}

post := {"method": "POST", "path": "/api/v1/new-thing"}

test_unknown_write_blocks if {
	ep := unknown_write
	req := post
	blocks := endpoints.block with input.endpoint as ep with input.request as req
	blocks == {{"rule": "endpoint.unknown_write", "path": "$", "entity": "POST"}}
}

test_unknown_read_is_allowed if {
	ep := unknown_read
	count(endpoints.block) == 0 with input.endpoint as ep
	count(endpoints.warn) == 0 with input.endpoint as ep
}

test_known_write_is_not_this_packages_business if {
	ep := known_write
	count(endpoints.block) == 0 with input.endpoint as ep
}

test_missing_endpoint_counts_as_unknown_write if {
	req := post
	count(endpoints.block) == 1 with input.request as req
}

test_unknown_write_can_be_lowered_to_a_warning if {
	ep := unknown_write
	policy := {"write": "warn", "read": "allow"}
	count(endpoints.block) == 0 with input.endpoint as ep with data.metagate.config.unknown_endpoint as policy
	endpoints.warn == {{"rule": "endpoint.unknown_write", "path": "$", "entity": ""}} with input.endpoint as ep
		with data.metagate.config.unknown_endpoint as policy
}

test_unknown_read_can_be_blocked if {
	ep := unknown_read
	policy := {"write": "block", "read": "block"}
	blocks := endpoints.block with input.endpoint as ep with data.metagate.config.unknown_endpoint as policy
	[b.rule | some b in blocks] == ["endpoint.unknown_read"]
}
