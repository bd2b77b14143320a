#!/usr/bin/env python3
"""Kith interop client: pynostr (a Python Nostr library we did not write)
against a Kith relay, to prove the relay speaks NIP-01 the way an independent
client in another language expects.

    .venv/bin/python client.py <ws://host:port> <scenario>

Scenarios: publish, forged (see each function below). Each is a sequence of
checks; a check that passes prints one line "ok <scenario>: <what>" on stdout;
the first that fails prints "FAILED: <scenario>: <what was expected and what
came>" on stderr and the process exits 1. Exit 0 only when every check passed.
The scenario also prints "stored <scenario> ids: ..." and "refused <scenario>
ids: ..." on stdout, which the Rust test checks against the relay's store.

Everything goes through pynostr's own machinery: keys, events, ids, signing
and verification (pynostr.key, pynostr.event, pynostr.metadata), filters
(pynostr.filters), and the tornado-based RelayManager/Relay with its
MessagePool for the WebSocket, OK, EVENT and EOSE handling. pynostr's Relay
is one-shot: messages are queued, then `run_sync()` connects, sends them
(one per message read) and closes the connection once every subscription
has had its EOSE. So a publishing round queues its EVENTs, then a REQ that
matches none of them: the relay answers in order, so every OK comes before
that EOSE. Events are read back in a later round, on a new connection: a
REQ sent on the connection that has just published a matching event may get
that event twice, once stored and once more after EOSE as if live (the
relay's live broadcast of it can still be queued for the connection when
the REQ is answered), which a client cannot tell from a new event.

The raw frames are recorded too (by wrapping the Relay's `_on_message`),
because pynostr silently drops what it does not like (CLOSED, NOTICE, events
that fail its own checks); the checks compare both views.
"""

import json
import logging
import os
import signal
import sys
import time
import uuid

# pynostr prints the relay's NIP-42 AUTH challenge with print(): keep stdout
# for the "ok" lines only.
OUT = sys.stdout
sys.stdout = sys.stderr
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(name)s: %(message)s")

from pynostr.event import Event, EventKind  # noqa: E402
from pynostr.exception import RelayException  # noqa: E402
from pynostr.filters import Filters, FiltersList  # noqa: E402
from pynostr.key import PrivateKey  # noqa: E402
from pynostr.message_pool import EventMessage, OKMessage  # noqa: E402
from pynostr.metadata import Metadata  # noqa: E402
from pynostr.relay_manager import RelayManager  # noqa: E402

#: Bound of one round (connect, send everything, read until the last EOSE).
ROUND_S = 10
#: The whole scenario; the Rust test has its own, longer bound (60 s).
SCENARIO_S = 50
scenario_name = "?"


class CheckFailed(Exception):
    pass


def fail(message):
    raise CheckFailed(message)


def check(cond, message):
    if not cond:
        fail(message)


def passed(message):
    OUT.write(f"ok {scenario_name}: {message}\n")
    OUT.flush()


def short(event_id):
    return event_id[:12]


class Session:
    """One relay through pynostr's RelayManager, round by round."""

    def __init__(self, url):
        self.url = url
        self.manager = RelayManager(timeout=ROUND_S)
        self.manager.add_relay(url, timeout=ROUND_S, close_on_eose=True)
        self.relay = self.manager.relays[url]
        self.raw = []  # every text frame the relay sent, parsed, in order
        original = self.relay._on_message

        def record(message):
            try:
                self.raw.append(json.loads(message))
            except (TypeError, ValueError):
                self.raw.append(["(not JSON)", message])
            original(message)

        self.relay._on_message = record
        self.sent = []  # (kind of message, event id or subscription id)

    def publish(self, event):
        """Queues a signed event through pynostr's own publish path."""
        self.manager.publish_event(event)
        self.sent.append(("EVENT", event.id))

    def publish_raw(self, event_dict):
        """Queues an EVENT that pynostr would refuse to publish (a forgery)."""
        self.manager.publish_message(json.dumps(["EVENT", event_dict]))
        self.sent.append(("EVENT", event_dict["id"]))

    def subscribe(self, label, *filters):
        sub = f"{label}-{uuid.uuid4().hex[:8]}"
        self.manager.add_subscription_on_relay(self.url, sub, FiltersList(list(filters)))
        self.sent.append(("REQ", sub))
        return sub

    def run_round(self, what):
        """Connects, sends what was queued and reads until the last EOSE.

        Returns (what was sent, pynostr's OK messages, its event messages by
        subscription, the raw frames of this round)."""
        check(self.sent, f"{what}: nothing queued")
        check(self.sent[-1][0] == "REQ", f"{what}: a round must end with a REQ")
        start = len(self.raw)
        eose_before = self.relay.eose_counter
        began = time.monotonic()
        self.manager.run_sync()
        took = time.monotonic() - began
        raw = self.raw[start:]
        reqs = [s for k, s in self.sent if k == "REQ"]
        eoses = [m[1] for m in raw if m and m[0] == "EOSE"]
        if self.relay.eose_counter - eose_before < len(reqs) or self.relay.connected:
            odd = [m for m in raw if m and m[0] not in ("EVENT", "OK", "EOSE")]
            fail(
                f"{what}: no EOSE for each of {len(reqs)} REQs within {ROUND_S} s (the round "
                f"ended after {took:.1f} s with EOSE for {eoses}, {len(raw)} frames; frames "
                f"pynostr ignores: {odd!r:.600}; pynostr's log on stderr says why)"
            )
        pool = self.manager.message_pool
        oks = pool.get_all_ok()
        events = {}
        for m in pool.get_all_events():
            check(isinstance(m, EventMessage), f"{what}: pynostr gave {m!r} as an event")
            events.setdefault(m.subscription_id, []).append(m)
        notices = pool.get_all_notices()
        pool.get_all_eose()
        check(not notices, f"{what}: unexpected NOTICE {notices!r}")
        sent = self.sent
        self.sent = []
        return sent, oks, events, raw


def frames_pynostr_ignores(raw):
    """Frames other than EVENT, OK, EOSE and the NIP-42 AUTH challenge."""
    return [m for m in raw if not (m and m[0] in ("EVENT", "OK", "EOSE", "AUTH"))]


def check_oks(what, sent, oks, expect):
    """`expect` is a list of (accepted, prefix or None) per EVENT sent, in order."""
    ids = [i for k, i in sent if k == "EVENT"]
    check(
        len(oks) == len(ids),
        f"{what}: {len(ids)} EVENTs sent, {len(oks)} OK messages came: {oks!r:.800}",
    )
    for n, (ok, eid, (accepted, prefix)) in enumerate(zip(oks, ids, expect)):
        check(isinstance(ok, OKMessage), f"{what}: OK #{n} is {ok!r}")
        check(ok.event_id == eid, f"{what}: OK #{n} names {ok.event_id}, expected {eid}")
        check(
            ok.ok is accepted,
            f"{what}: OK #{n} for {short(eid)} is {ok.ok!r} ({ok.message!r}), expected {accepted}",
        )
        if prefix is None:
            check(
                not ok.message.startswith("duplicate:"),
                f"{what}: OK #{n} for {short(eid)} says {ok.message!r} for a new event",
            )
        else:
            check(
                ok.message.startswith(prefix + ":"),
                f"{what}: OK #{n} for {short(eid)} has message {ok.message!r}, "
                f"expected the machine-readable prefix {prefix!r}",
            )


def check_sub(what, sub, events, raw, expected, published, ordered=True):
    """Exactly `expected` (ids, newest first when `ordered`) came on `sub`,
    each verified by pynostr and identical to what was published."""
    got = events.get(sub, [])
    raw_events = [m for m in raw if m and m[0] == "EVENT" and m[1] == sub]
    # pynostr drops events that fail its own signature check or do not match
    # the subscription's filters: compare with what actually came.
    check(
        len(raw_events) == len(got),
        f"{what}: the relay sent {len(raw_events)} events on {sub} but only {len(got)} "
        f"passed pynostr's signature and filter checks: {raw_events!r:.800}",
    )
    got_ids = [m.event.id for m in got]
    raw_ids = [m[2].get("id") for m in raw_events]
    check(
        raw_ids == got_ids,
        f"{what}: ids the relay sent {raw_ids} differ from the ids pynostr computes {got_ids}",
    )
    eose_at = next((n for n, m in enumerate(raw) if m[:2] == ["EOSE", sub]), None)
    check(eose_at is not None, f"{what}: no EOSE for {sub}")
    late = [m[2].get("id") for m in raw[eose_at + 1:] if m[:2] == ["EVENT", sub]]
    check(
        not late,
        f"{what}: events came on {sub} after its EOSE (published before the REQ, so not live): "
        f"{[short(i) for i in late]}; before it: {[short(i) for i in raw_ids[:len(raw_ids) - len(late)]]}",
    )
    check(
        sorted(got_ids) == sorted(expected) and len(set(got_ids)) == len(got_ids),
        f"{what}: expected {[short(i) for i in expected]}, got {[short(i) for i in got_ids]}",
    )
    if ordered:
        check(
            got_ids == expected,
            f"{what}: expected newest first {[short(i) for i in expected]}, "
            f"got {[short(i) for i in got_ids]}",
        )
    for m in got:
        e = m.event
        check(e.verify(), f"{what}: pynostr's Event.verify() rejects {e.id}")
        want = published[e.id]
        for field in ("pubkey", "created_at", "kind", "tags", "content", "sig"):
            check(
                getattr(e, field) == getattr(want, field),
                f"{what}: {short(e.id)} came back with {field} {getattr(e, field)!r}, "
                f"published {getattr(want, field)!r}",
            )
    return got


def note(key, content, created_at, tags):
    e = Event(content=content, created_at=created_at, kind=EventKind.TEXT_NOTE, tags=[list(t) for t in tags])
    e.sign(key.hex())
    check(e.verify(), "pynostr verifies the note it just signed")
    return e


def scenario_publish(url):
    """Kind-1 notes with tags and a kind-0 profile from a fresh key, OK true
    for each; then REQ by author, by kind and tag, by #e and #p, by ids, with
    a limit, several filters at once and kind 0; a repeat is a duplicate."""
    key = PrivateKey()
    pk = key.public_key.hex()
    friend = PrivateKey().public_key.hex()
    run = uuid.uuid4().hex[:10]
    topic_a, topic_b = f"kith-a-{run}", f"kith-b-{run}"
    now = int(time.time())

    notes = []
    for i in range(5):
        tags = [["t", topic_a if i % 2 == 0 else topic_b], ["client", "pynostr", "interop"]]
        if i == 1:
            tags.append(["p", friend, "", "mention"])
        if i == 3:
            tags.append(["e", notes[0].id, "", "root"])
        content = f"pynostr note {i} for Kith: \"quoted\", back\\slash, tab\t, newline\n, héllo ✓ 🦀"
        notes.append(note(key, content, now - 100 + 10 * i, tags))
    profile = Metadata(name=f"pynostr-{run}", about="Kith interop test profile ✓", created_at=now - 5)
    profile.sign(key.hex())
    check(profile.kind == EventKind.SET_METADATA and profile.verify(), "pynostr signs a kind 0")
    published = {e.id: e for e in notes + [profile]}
    passed(f"signed 5 kind-1 notes and a kind-0 profile with a fresh key {short(pk)}")

    # Round 1: publish everything and a repeat of note 0 (then a REQ that
    # matches none of them, to end the round: see the module docstring).
    s = Session(url)
    for e in notes:
        s.publish(e)
    s.publish(profile)
    s.publish(notes[0])
    sync = s.subscribe("sync", Filters(authors=[friend]))
    sent, oks, events, raw = s.run_round("round 1 (publish)")
    check_oks("publish", sent, oks, [(True, None)] * 6 + [(True, "duplicate")])
    passed("each of the 6 events was answered OK true with its id")
    passed(f"publishing note 0 again was answered OK true {oks[6].message!r}")
    check_sub("REQ {authors:[a key that never published]}", sync, events, raw, [], published)
    odd = frames_pynostr_ignores(raw)
    check(not odd, f"round 1: unexpected frames {odd!r:.600}")

    # Round 2: reading back with REQ filters on a fresh connection.
    by_author = s.subscribe("author", Filters(authors=[pk]))
    topic_a_filter = Filters(kinds=[EventKind.TEXT_NOTE], authors=[pk])
    topic_a_filter.add_arbitrary_tag("t", [topic_a])
    by_tag = s.subscribe("kind-tag", topic_a_filter)
    by_p = s.subscribe("p-tag", Filters(pubkey_refs=[friend], kinds=[EventKind.TEXT_NOTE]))
    by_e = s.subscribe("e-tag", Filters(event_refs=[notes[0].id]))
    by_ids = s.subscribe("ids", Filters(ids=[notes[1].id, notes[3].id, profile.id]))
    limited = s.subscribe("limit", Filters(authors=[pk], kinds=[EventKind.TEXT_NOTE], limit=2))
    topic_b_filter = Filters(kinds=[EventKind.TEXT_NOTE])
    topic_b_filter.add_arbitrary_tag("t", [topic_b])
    two = s.subscribe("two-filters", Filters(ids=[notes[0].id]), topic_b_filter)
    kind0 = s.subscribe("kind0", Filters(kinds=[EventKind.SET_METADATA], authors=[pk]))
    none = s.subscribe("nothing", Filters(authors=[friend]))
    sent, oks, events, raw = s.run_round("round 2 (REQ filters)")
    check(not oks, f"round 2: OK messages without EVENTs: {oks!r}")
    newest = lambda *es: [e.id for e in sorted(es, key=lambda e: -e.created_at)]  # noqa: E731
    check_sub("REQ by author", by_author, events, raw, newest(*notes, profile), published)
    passed("REQ {authors:[pk]} returned exactly the 6 events, newest first, as published, signatures valid")
    check_sub("REQ kind 1 + #t", by_tag, events, raw, newest(notes[0], notes[2], notes[4]), published)
    passed("REQ {kinds:[1], authors, #t:[topic A]} returned exactly notes 4, 2, 0")
    check_sub("REQ #p", by_p, events, raw, [notes[1].id], published)
    passed("REQ {#p:[friend], kinds:[1]} returned exactly note 1")
    check_sub("REQ #e", by_e, events, raw, [notes[3].id], published)
    passed("REQ {#e:[note 0]} returned exactly note 3")
    check_sub("REQ ids", by_ids, events, raw, newest(notes[1], notes[3], profile), published)
    passed("REQ {ids:[note 1, note 3, profile]} returned exactly those 3")
    check_sub("REQ limit", limited, events, raw, newest(notes[3], notes[4]), published)
    passed("REQ {authors, kinds:[1], limit:2} returned exactly the 2 newest notes")
    check_sub("REQ two filters", two, events, raw, newest(notes[0], notes[1], notes[3]), published, ordered=False)
    passed("REQ with 2 filters (ids OR kind+#t) returned their union once each: notes 0, 1, 3")
    got = check_sub("REQ kind 0", kind0, events, raw, [profile.id], published)
    meta = Metadata.from_event(got[0].event)
    check(
        meta.name == f"pynostr-{run}" and meta.about == "Kith interop test profile ✓",
        f"kind 0 parsed by pynostr's Metadata: name {meta.name!r}, about {meta.about!r}",
    )
    passed("REQ {kinds:[0], authors} returned the profile; pynostr's Metadata parses its name and about")
    check_sub("REQ nothing", none, events, raw, [], published)
    passed("REQ {authors:[a key that never published]} returned only EOSE")
    odd = frames_pynostr_ignores(raw)
    check(not odd, f"round 2: unexpected frames {odd!r:.600}")

    OUT.write(f"stored {scenario_name} ids: {' '.join(published)}\n")


def scenario_forged(url):
    """Tampered events are refused with OK false "invalid:" and never served:
    content changed under the old id; content changed with a recomputed id
    but the old signature; a tag added under the old id; another key's pubkey
    with a recomputed id. The genuine event whose forgery came first is then
    still accepted as new."""
    key = PrivateKey()
    pk = key.public_key.hex()
    other = PrivateKey().public_key.hex()
    now = int(time.time())
    genuine = note(key, "genuine note from pynostr", now - 30, [["t", "kith-forged"]])
    b = note(key, "the note that is forged first, then published", now - 20, [["t", "kith-forged"]])
    c = note(key, "a note that is only ever forged", now - 10, [["t", "kith-forged"]])
    d = note(key, "a note whose author is swapped", now - 5, [])

    stale_content = dict(b.to_dict(), content="tampered content, old id and signature")
    recomputed = Event.from_dict(dict(b.to_dict(), content="tampered content, recomputed id"))
    recomputed_content = recomputed.to_dict()  # from_dict recomputes the id; sig is b's
    stale_tags = dict(c.to_dict(), tags=c.tags + [["p", other]])
    swapped = Event.from_dict(dict(d.to_dict(), pubkey=other)).to_dict()
    forgeries = [stale_content, recomputed_content, stale_tags, swapped]
    probe = RelayManager(timeout=ROUND_S)
    probe.add_relay(url)
    for f in forgeries:
        check(not Event.from_dict(f).verify(), f"pynostr's Event.verify() accepts the forgery {f!r:.300}")
        try:
            probe.publish_event(Event.from_dict(f))
            fail(f"pynostr's publish_event agreed to publish the forgery {f!r:.300}")
        except RelayException:
            pass
    check(recomputed_content["id"] != b.id and swapped["id"] != d.id, "forgeries with new ids")
    passed("pynostr's own Event.verify() and publish_event() reject each of the 4 forgeries")

    s = Session(url)
    s.publish(genuine)
    for f in forgeries:
        s.publish_raw(f)
    s.publish(b)
    sync = s.subscribe("sync", Filters(authors=[other]))
    sent, oks, events, raw = s.run_round("forged round")
    check_oks(
        "forged",
        sent,
        oks,
        [(True, None)] + [(False, "invalid")] * 4 + [(True, None)],
    )
    passed("the genuine note was answered OK true")
    passed(f"content tampered under the old id: OK false {oks[1].message!r}")
    passed(f"content tampered with a recomputed id: OK false {oks[2].message!r}")
    passed(f"tag added under the old id: OK false {oks[3].message!r}")
    passed(f"pubkey swapped with a recomputed id: OK false {oks[4].message!r}")
    passed("the genuine event whose forgery was refused first is accepted as new (OK true, no duplicate:)")
    published = {genuine.id: genuine, b.id: b}
    check_sub("REQ by the swapped-in author, same connection", sync, events, raw, [], published)
    odd = frames_pynostr_ignores(raw)
    check(not odd, f"forged round: unexpected frames {odd!r:.600}")

    # Reading back on a fresh connection.
    by_author = s.subscribe("author", Filters(authors=[pk]))
    by_other = s.subscribe("other", Filters(authors=[other]))
    by_forged_ids = s.subscribe("ids", Filters(ids=[recomputed_content["id"], c.id, swapped["id"]]))
    sent, oks, events, raw = s.run_round("read-back round")
    check(not oks, f"read-back round: OK messages without EVENTs: {oks!r}")
    check_sub("REQ by author after forgeries", by_author, events, raw, [b.id, genuine.id], published)
    passed("REQ {authors:[pk]} returned only the 2 genuine events, with their genuine content")
    check_sub("REQ by the swapped-in author", by_other, events, raw, [], published)
    passed("REQ {authors:[the swapped-in key]} returned nothing")
    check_sub("REQ by the forgeries' ids", by_forged_ids, events, raw, [], published)
    passed("REQ {ids:[the refused forgeries' ids]} returned nothing")
    odd = frames_pynostr_ignores(raw)
    check(not odd, f"read-back round: unexpected frames {odd!r:.600}")

    OUT.write(f"stored {scenario_name} ids: {genuine.id} {b.id}\n")
    OUT.write(f"refused {scenario_name} ids: {recomputed_content['id']} {c.id} {swapped['id']}\n")


SCENARIOS = {"publish": scenario_publish, "forged": scenario_forged}


def main():
    global scenario_name
    if len(sys.argv) != 3 or sys.argv[2] not in SCENARIOS:
        sys.stderr.write(f"usage: client.py <ws://host:port> <{'|'.join(SCENARIOS)}>\n")
        return 2
    url, scenario_name = sys.argv[1], sys.argv[2]

    def too_long(signum, frame):
        sys.stderr.write(f"FAILED: {scenario_name}: the scenario did not finish within {SCENARIO_S} s\n")
        sys.stderr.flush()
        OUT.flush()
        os._exit(1)

    signal.signal(signal.SIGALRM, too_long)
    signal.alarm(SCENARIO_S)
    try:
        SCENARIOS[scenario_name](url)
    except CheckFailed as e:
        sys.stderr.write(f"FAILED: {scenario_name}: {e}\n")
        return 1
    except Exception as e:  # a crash is a failure too, with its traceback
        import traceback

        traceback.print_exc()
        sys.stderr.write(f"FAILED: {scenario_name}: {type(e).__name__}: {e}\n")
        return 1
    passed("all checks passed")
    return 0


if __name__ == "__main__":
    code = main()
    OUT.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: pynostr's IOLoop may still hold a socket.
    os._exit(code)
