#!/usr/bin/env bash
# Installs this folder's pinned npm dependencies (idempotent; see ../npm-ci.sh).
exec "$(dirname "${BASH_SOURCE[0]}")/../npm-ci.sh" "$(dirname "${BASH_SOURCE[0]}")"
