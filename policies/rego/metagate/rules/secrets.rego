# Secrets found by the detectors (keys, tokens, private keys, connection strings ...)
# at or above the threshold in data.metagate.config block. Exempt: ignored entities, the SDK's
# own credential fields on its auth endpoints, and findings in fields that are redacted (the
# value never leaves). See lib.blocking_findings.
package metagate.rules.secrets

import data.metagate.lib

block := [lib.item("secret.detected", f.path, f.entity) | some f in lib.blocking_findings("secret")]
