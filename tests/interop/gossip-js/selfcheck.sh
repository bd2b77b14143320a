#!/usr/bin/env bash
# JS-to-JS self-check of peer.mjs (no Rust involved).
#
#  1. listener publishes: a --listen-only peer publishes random bytes once a
#     peer subscribes; a dialing peer must receive exactly those bytes.
#  2. dialer publishes: a --listen-only peer expects one message; a dialing
#     peer publishes random bytes.
# In both, data_hex must equal the published hex and msg_id_hex must equal
# sha256(topic || 0x00 || data), computed here with sha256sum, independently
# of peer.mjs. Only 127.0.0.1 is used.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

bash "$here/install.sh"

topic="kith/1/a/2f"
timeout_ms=20000
work="$(mktemp -d)"
listener_pid=""
addr=""

cleanup() {
  if [[ -n "$listener_pid" ]] && kill -0 "$listener_pid" 2>/dev/null; then
    kill "$listener_pid" 2>/dev/null || true
    wait "$listener_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

failures=0
passes=0

fail() {
  echo "selfcheck: FAIL: $*" >&2
  failures=$((failures + 1))
}

pass() {
  echo "selfcheck: ok: $*"
  passes=$((passes + 1))
}

random_hex() {
  head -c "$1" /dev/urandom | od -An -tx1 -v | tr -d ' \n'
}

# sha256(topic || 0x00 || data) with data given as hex.
kith_msg_id() {
  local t="$1" h="$2"
  {
    printf '%s' "$t"
    printf '\000'
    printf '%b' "$(printf '%s' "$h" | sed 's/../\\x&/g')"
  } | sha256sum | cut -d' ' -f1
}

# field NAME FILE EVENT: value of string field NAME in the first line of FILE
# whose "event" is EVENT.
field() {
  grep -m1 "\"event\":\"$3\"" "$2" | sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"
}

# Starts a --listen-only peer in the background (sets listener_pid) and sets
# addr to its /p2p/ listen address once it printed ready.
start_listener() { # out err args...
  local out="$1" err="$2"
  shift 2
  node peer.mjs --listen-only --topic "$topic" --timeout-ms "$timeout_ms" "$@" >"$out" 2>"$err" &
  listener_pid=$!
  local i
  for i in $(seq 1 200); do
    if grep -q '"event":"ready"' "$out"; then
      addr="$(grep -m1 -o '"/ip4/127\.0\.0\.1/tcp/[0-9]*/p2p/[A-Za-z0-9]*"' "$out" | tr -d '"')"
      [[ -n "$addr" ]] && return 0
      break
    fi
    kill -0 "$listener_pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "selfcheck: listener did not become ready" >&2
  cat "$out" "$err" >&2
  return 1
}

wait_listener() {
  local rc=0
  wait "$listener_pid" || rc=$?
  listener_pid=""
  return "$rc"
}

check_message() { # name file hex expected_id expected_from
  local name="$1" file="$2" hex="$3" id="$4" from="$5"
  local got_data got_id got_from
  got_data="$(field data_hex "$file" message)"
  got_id="$(field msg_id_hex "$file" message)"
  got_from="$(field from "$file" message)"
  [[ "$got_data" == "$hex" ]] && pass "$name: data_hex matches" || fail "$name: data_hex '$got_data' != '$hex'"
  [[ "$got_id" == "$id" ]] && pass "$name: msg_id_hex = sha256(topic||0x00||data)" || fail "$name: msg_id_hex '$got_id' != '$id'"
  [[ "$got_from" == "$from" ]] && pass "$name: from = publisher $from" || fail "$name: from '$got_from' != '$from'"
}

# --- 1. listener publishes, dialer receives -------------------------------
hex1="$(random_hex 24)"
id1="$(kith_msg_id "$topic" "$hex1")"
start_listener "$work/l1.out" "$work/l1.err" --publish-hex "$hex1" --expect 0
listener_id="${addr##*/p2p/}"
d_rc=0
node peer.mjs --dial "$addr" --topic "$topic" --expect 1 --timeout-ms "$timeout_ms" >"$work/d1.out" 2>"$work/d1.err" || d_rc=$?
l_rc=0
wait_listener || l_rc=$?
echo "--- case 1 listener stdout"; cat "$work/l1.out"
echo "--- case 1 dialer stdout"; cat "$work/d1.out"
[[ -s "$work/l1.err" ]] && { echo "--- case 1 listener stderr"; cat "$work/l1.err"; }
[[ -s "$work/d1.err" ]] && { echo "--- case 1 dialer stderr"; cat "$work/d1.err"; }
((d_rc == 0)) && pass "case1: dialer exit 0" || fail "case1: dialer exit $d_rc"
((l_rc == 0)) && pass "case1: listener exit 0" || fail "case1: listener exit $l_rc"
[[ "$(field msg_id_hex "$work/l1.out" published)" == "$id1" ]] &&
  pass "case1: published msg_id_hex matches" || fail "case1: published msg_id_hex mismatch"
check_message case1 "$work/d1.out" "$hex1" "$id1" "$listener_id"

# --- 2. dialer publishes, listener receives -------------------------------
hex2="$(random_hex 40)"
id2="$(kith_msg_id "$topic" "$hex2")"
start_listener "$work/l2.out" "$work/l2.err" --expect 1
d_rc=0
node peer.mjs --dial "$addr" --topic "$topic" --publish-hex "$hex2" --expect 0 --timeout-ms "$timeout_ms" >"$work/d2.out" 2>"$work/d2.err" || d_rc=$?
l_rc=0
wait_listener || l_rc=$?
dialer_id="$(field peer_id "$work/d2.out" ready)"
echo "--- case 2 listener stdout"; cat "$work/l2.out"
echo "--- case 2 dialer stdout"; cat "$work/d2.out"
[[ -s "$work/l2.err" ]] && { echo "--- case 2 listener stderr"; cat "$work/l2.err"; }
[[ -s "$work/d2.err" ]] && { echo "--- case 2 dialer stderr"; cat "$work/d2.err"; }
((d_rc == 0)) && pass "case2: dialer exit 0" || fail "case2: dialer exit $d_rc"
((l_rc == 0)) && pass "case2: listener exit 0" || fail "case2: listener exit $l_rc"
[[ "$(field msg_id_hex "$work/d2.out" published)" == "$id2" ]] &&
  pass "case2: published msg_id_hex matches" || fail "case2: published msg_id_hex mismatch"
check_message case2 "$work/l2.out" "$hex2" "$id2" "$dialer_id"

echo "selfcheck: $passes passed, $failures failed"
((failures == 0))
