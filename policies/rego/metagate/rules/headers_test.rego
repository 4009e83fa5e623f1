# regopy 1.5: a rule as a `with` value is undefined, so each test binds its facts to locals.
package metagate.test.headers

import data.metagate.rules.headers

jwt := {"name": "authorization", "path": "$headers.authorization", "shape": "bearer_jwt"}

cookie := {"name": "cookie", "path": "$headers.cookie", "shape": "other"}

api_key := {"name": "x-api-key", "path": "$headers.x-api-key", "shape": "other"}

authorization(shape) := {"name": "authorization", "path": "$headers.authorization", "shape": shape}

rules(blocks) := [b.rule | some b in blocks]

test_the_sdks_bearer_jwt_passes if {
	facts := [jwt]
	count(headers.block) == 0 with input.headers.credentials as facts
}

test_no_credential_passes if {
	facts := []
	count(headers.block) == 0 with input.headers.credentials as facts
	count(headers.block) == 0 with input.request.method as "GET"
}

test_a_masked_capture_passes if {
	facts := [authorization("redacted")]
	count(headers.block) == 0 with input.headers.credentials as facts
}

test_basic_authorization_is_refused if {
	facts := [authorization("basic")]
	blocks := headers.block with input.headers.credentials as facts
	blocks == {{"rule": "headers.authorization_shape", "path": "$headers.authorization", "entity": "basic"}}
}

test_other_and_opaque_authorizations_are_refused_by_default if {
	other := [authorization("other")]
	rules(headers.block) == ["headers.authorization_shape"] with input.headers.credentials as other
	opaque := [authorization("bearer_opaque")]
	rules(headers.block) == ["headers.authorization_shape"] with input.headers.credentials as opaque
}

test_opaque_bearer_can_be_allowed if {
	facts := [authorization("bearer_opaque")]
	config := {"authorization_shapes": ["bearer_jwt", "bearer_opaque"]}
	count(headers.block) == 0 with input.headers.credentials as facts with data.metagate.config.headers as config
}

test_cookie_and_api_key_are_refused_beside_a_good_token if {
	facts := [jwt, cookie, api_key]
	blocks := headers.block with input.headers.credentials as facts
	blocks == {
		{"rule": "headers.credential_not_sent_by_sdk", "path": "$headers.cookie", "entity": "cookie"},
		{"rule": "headers.credential_not_sent_by_sdk", "path": "$headers.x-api-key", "entity": "x-api-key"},
	}
}

test_a_credential_header_can_be_allowed_by_name if {
	facts := [jwt, cookie]
	config := {"credential_headers_allowed": ["authorization", "cookie"]}
	count(headers.block) == 0 with input.headers.credentials as facts with data.metagate.config.headers as config
}

test_repeated_authorization_is_refused if {
	facts := [jwt, jwt]
	rules(headers.block) == ["headers.authorization_repeated"] with input.headers.credentials as facts
}
