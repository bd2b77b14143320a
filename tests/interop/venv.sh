#!/usr/bin/env bash
# Installs a folder's pinned Python packages into DIR/.venv (a `python3 -m
# venv`), from DIR/requirements.txt with `pip install --require-hashes`, then
# checks that IMPORTS (a Python import list) import:
#
#   tests/interop/venv.sh DIR IMPORTS
#
# Idempotent: installs only when .venv is missing or was installed from a
# different requirements.txt (its sha256 is kept in .venv/.kith-requirements-sha);
# a stale or half-made .venv is removed and made anew. Safe to call from several
# tests at once: the install is serialised with flock when flock is available.
# All output goes to stderr; stdout stays empty. Each folder's install.sh
# calls it (as npm-ci.sh serves the npm folders).
set -euo pipefail

[[ $# -eq 2 ]] || { echo "usage: venv.sh DIR IMPORTS" >&2; exit 2; }
here="$(cd "$1" && pwd)"
imports="$2"
name="$(basename "$here")"
cd "$here"

die() {
  echo "$name/install.sh: $*" >&2
  exit 1
}

command -v python3 >/dev/null 2>&1 ||
  die "'python3' not found on PATH: install Python >= 3.9 (e.g. apt-get install python3 python3-venv) to run the interop tests"
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' ||
  die "Python >= 3.9 is required, found $(python3 --version 2>&1)"

[[ -f requirements.txt ]] || die "requirements.txt missing in $here"

reqs_sha() {
  # python3 is required anyway; this avoids depending on sha256sum/shasum.
  python3 -c 'import hashlib; print(hashlib.sha256(open("requirements.txt", "rb").read()).hexdigest(), end="")'
}

up_to_date() {
  [[ -x .venv/bin/python ]] &&
    [[ -f .venv/.kith-requirements-sha ]] &&
    [[ "$(cat .venv/.kith-requirements-sha)" == "$(reqs_sha)" ]]
}

install() {
  if up_to_date; then
    echo "$name/install.sh: .venv up to date" >&2
    return 0
  fi
  echo "$name/install.sh: creating .venv in $here from requirements.txt" >&2
  local want
  want="$(reqs_sha)"
  rm -rf "$here/.venv"
  python3 -m venv "$here/.venv" 1>&2 ||
    die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
  # Every package, dependencies included, must be in requirements.txt with its
  # hash; pip refuses anything else.
  PIP_DISABLE_PIP_VERSION_CHECK=1 .venv/bin/python -m pip install \
    --require-hashes --no-input --quiet -r requirements.txt 1>&2 ||
    die "pip install --require-hashes -r requirements.txt failed (is PyPI reachable?)"
  .venv/bin/python -c "import $imports" 1>&2 ||
    die "$imports does not import in the new .venv"
  printf '%s\n' "$want" >.venv/.kith-requirements-sha
}

if command -v flock >/dev/null 2>&1; then
  exec 9>"$here/.install.lock"
  flock 9
  install
else
  install
fi
