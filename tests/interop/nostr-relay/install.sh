#!/usr/bin/env bash
# Installs the nostr-relay outside relay's pinned packages (idempotent; see ../venv.sh).
exec "$(dirname "${BASH_SOURCE[0]}")/../venv.sh" "$(dirname "${BASH_SOURCE[0]}")" \
  'nostr_relay.web, nostr_relay.storage.db, aiosqlite, uvicorn'
