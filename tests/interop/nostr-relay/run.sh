#!/usr/bin/env bash
# Serves nostr-relay 1.14 (PyPI; Dave St.Germain's Python relay, which we did
# not write) in the foreground as an independent "outside relay" for the
# bridge tests:
#
#   tests/interop/nostr-relay/run.sh PORT DATA_DIR
#
# It listens on ws://127.0.0.1:PORT/ only and keeps its sqlite database
# (nostr.sqlite3, with its -wal and -shm files) in DATA_DIR, made if missing;
# the config it runs with is written anew to DATA_DIR/config.yaml each start.
# It takes events of any kind from any pubkey without auth, if signed, with at
# most 262144 characters of content, and with a created_at neither more than a
# year old nor more than an hour ahead (nostr-relay's own fixed limit).
# Nothing in that config reaches beyond loopback (NIP-05 verification, follow
# lists and the like stay off). The relay is served by uvicorn in this one
# process (exec'd, so its pid is this script's); SIGTERM or SIGINT stops it.
#
# Run install.sh first. Works from any working directory. Stdout stays empty:
# everything the relay logs, or prints, goes to stderr, and it prints no
# "ready" line: wait until the port accepts connections, which took 3 to 4.5 s
# on a busy 2-core machine (Python imports, then an alembic migration that
# makes or checks the schema). SIGTERM stops it within about 1.5 s; it then
# exits with status 143 (uvicorn re-raises the signal), not 0.
#
# Behaviour of nostr-relay 1.14 worth knowing in a test (seen on this setup):
# - every rejected EVENT (bad signature, created_at out of range, too large)
#   makes that connection sleep before each later message and before the
#   rejection's own OK, 2 s at first and doubling with each rejection: send
#   events meant to be refused on a connection of their own;
# - a rejected EVENT's OK carries "" as the id; a duplicate gets
#   ["OK", id, false, "duplicate: exists"];
# - it checks the signature against the hash it computes but not the event's
#   claimed id, and stores the event under the claimed id;
# - a filter without ids, authors, kinds, since, until or #x tags ({} or just a
#   limit) matches nothing; {"since": 0} matches stored events but no live
#   ones ({"since": 1} matches both); "until" is exclusive; ids and authors
#   must be whole 64-hex values (no prefixes); several filters share the
#   last filter's limit;
# - it sends matching new events live to open subscriptions after EOSE; CLOSE
#   gets no reply, and there is no CLOSED message, no COUNT (NIP-45) and no
#   NOTICE for bad filters (just EOSE) or unknown messages (silence);
# - a replaceable or addressable event deletes older stored ones of its slot,
#   but an older one arriving later is stored too (both are then served);
#   kind 5 deletes by "e" tags only, not by "a" tags;
# - ephemeral events (20000-29999) are stored and served to REQs until the
#   5-minute garbage collection, as are NIP-40 expired ones.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
name="$(basename "$here")"

die() {
  echo "$name/run.sh: $*" >&2
  exit 1
}

[[ $# -eq 2 ]] || die "usage: run.sh PORT DATA_DIR"
port="$1"
[[ "$port" =~ ^[0-9]{1,5}$ ]] && ((10#$port >= 1 && 10#$port <= 65535)) ||
  die "PORT must be a number from 1 to 65535, got '$port'"
port="$((10#$port))"
[[ -x "$here/.venv/bin/nostr-relay" ]] ||
  die "no .venv in $here: run $here/install.sh first"

mkdir -p -- "$2" || die "cannot make DATA_DIR '$2'"
data="$(cd -- "$2" && pwd)"
python="$here/.venv/bin/python"

# PyYAML (a dependency of the relay) writes the config, so that any DATA_DIR
# path is quoted right. nostr-relay reads every top-level key into its Config.
NR_PORT="$port" NR_DATA="$data" "$python" - <<'EOF' || die "cannot write $data/config.yaml"
import os

import yaml

port = int(os.environ["NR_PORT"])
data = os.environ["NR_DATA"]
config = {
    "DEBUG": False,
    "relay_name": "kith tests: outside relay (nostr-relay)",
    "relay_description": "nostr-relay on loopback for the Kith bridge tests",
    "sysop_pubkey": "",
    "sysop_contact": "",
    "storage": {
        "class": "nostr_relay.storage.db.DBStorage",
        "sqlalchemy.url": "sqlite+aiosqlite:///" + os.path.join(data, "nostr.sqlite3"),
        "num_concurrent_reqs": 10,
        # sqlite has one writer at a time
        "num_concurrent_adds": 2,
        # No author or kind allow/deny list, no PoW, no p-tag cap.
        "validators": [
            "nostr_relay.validators.is_not_too_large",
            "nostr_relay.validators.is_signed",
            "nostr_relay.validators.is_recent",
        ],
    },
    # len(content) limit of is_not_too_large (the default is 4096)
    "max_event_size": 262144,
    # is_recent: at most this many seconds old (the default, one year); the
    # "not more than 3600 s in the future" limit is fixed in nostr-relay.
    "oldest_event": 31536000,
    "hellthread_limit": 0,
    # NIP-05 checks would fetch from the internet: off.
    "verification": {
        "nip05_verification": "disabled",
        "expiration": 86400 * 30,
        "update_frequency": 3600,
        "blacklist": None,
        "whitelist": None,
    },
    "authentication": {"enabled": False},
    # Deletes expired (NIP-40) and ephemeral (kinds 20000-29999) events.
    "garbage_collector": {"collect_interval": 300},
    "message_timeout": 1800,
    "subscription_limit": 64,
    "max_limit": 6000,
    # `serve --use-uvicorn` hands this section to uvicorn.Config (bind becomes
    # port); the name is nostr-relay's.
    "gunicorn": {
        "bind": f"127.0.0.1:{port}",
        "host": "127.0.0.1",
        "workers": 1,
        "loglevel": "warning",
        "access_log": False,
        "reload": False,
        "timeout_graceful_shutdown": 2,
    },
    # Everything to stderr (nostr-relay's default logs to stdout).
    "logging": {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "simple": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "simple",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "sqlalchemy.engine": {"level": "WARNING"},
            "websockets": {"level": "WARNING"},
        },
        "root": {"level": "INFO", "handlers": ["stderr"]},
    },
}
with open(os.path.join(data, "config.yaml"), "w") as f:
    yaml.safe_dump(config, f, sort_keys=False)
EOF

cd "$data"
# 1>&2: nostr-relay prints a line or two with print(); keep stdout empty.
PYTHONUNBUFFERED=1 exec "$here/.venv/bin/nostr-relay" -c "$data/config.yaml" \
  serve --use-uvicorn 1>&2
