#!/usr/bin/env bash
# Install the pinned npm dependencies of one interop package: npm-ci.sh DIR.
#
# Idempotent: runs `npm ci` only when node_modules is missing or was installed
# from a different package-lock.json (its sha256 is kept in
# node_modules/.kith-lock-sha). Safe to call from several tests at once: the
# install is serialised with flock when flock is available.
# All output goes to stderr; stdout stays empty.
set -euo pipefail

here="$(cd "${1:?usage: npm-ci.sh DIR}" && pwd)"
name="$(basename "$here")"
cd "$here"

die() {
  echo "$name/install.sh: $*" >&2
  exit 1
}

command -v node >/dev/null 2>&1 ||
  die "'node' not found on PATH: install Node.js >= 20 (e.g. apt-get install nodejs npm) to run the interop tests"
command -v npm >/dev/null 2>&1 ||
  die "'npm' not found on PATH: install npm (e.g. apt-get install npm) to run the interop tests"

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [[ ! "$node_major" =~ ^[0-9]+$ ]] || ((node_major < 20)); then
  die "Node.js >= 20 is required, found $(node --version)"
fi

[[ -f package-lock.json ]] || die "package-lock.json missing in $here"

lock_sha() {
  # node is required anyway; this avoids depending on sha256sum/shasum.
  node -e 'process.stdout.write(require("node:crypto").createHash("sha256").update(require("node:fs").readFileSync("package-lock.json")).digest("hex"))'
}

up_to_date() {
  [[ -f node_modules/.package-lock.json ]] &&
    [[ -f node_modules/.kith-lock-sha ]] &&
    [[ "$(cat node_modules/.kith-lock-sha)" == "$(lock_sha)" ]]
}

install() {
  if up_to_date; then
    echo "$name/install.sh: node_modules up to date" >&2
    return 0
  fi
  echo "$name/install.sh: npm ci in $here" >&2
  local want
  want="$(lock_sha)"
  rm -f node_modules/.kith-lock-sha
  # No package in the tree has an install script; --ignore-scripts keeps it so.
  npm ci --no-audit --no-fund --ignore-scripts 1>&2 ||
    die "npm ci failed (is the npm registry reachable?)"
  printf '%s\n' "$want" >node_modules/.kith-lock-sha
}

if command -v flock >/dev/null 2>&1; then
  exec 9>"$here/.install.lock"
  flock 9
  install
else
  install
fi
