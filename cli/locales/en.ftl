# Messages of the `kith` command, in English.
# Each language has one file with the same message ids; see cli/src/i18n.rs.

identity-created = created identity { $identity }
identity-exists = identity { $identity } already exists
identity = identity { $identity }
identity-new = identity { $identity } (new)
data-dir = data dir { $path }
error-no-data-dir = no data directory: pass --data-dir or set KITH_DATA_DIR
error-cannot-access = cannot access { $path }: { $cause }
error-bad-key = { $path } does not hold a valid key: { $cause }
error-other = { $error }
up-peer-id = peer id { $peer }
up-listening = listening on { $addr }
up-gateway = Gateway (HTTP API): { $url }
up-running = running; press Ctrl-C to stop
up-stopping = stopping: finishing writes…
up-stopped = stopped
error-config = configuration: { $cause }
