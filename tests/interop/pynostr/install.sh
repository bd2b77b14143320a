#!/usr/bin/env bash
# Installs the pynostr interop client's pinned packages (idempotent; see ../venv.sh).
exec "$(dirname "${BASH_SOURCE[0]}")/../venv.sh" "$(dirname "${BASH_SOURCE[0]}")" \
  'pynostr.relay_manager, pynostr.event, pynostr.key'
