//! Crash safety: an acknowledged event survives the writer being killed.
//!
//! This target has no libtest harness. Run without arguments it is the
//! *parent*: for each round it starts itself again as a *child* (first argument
//! [`CHILD_ARG`]) that opens a store and ingests signed events from one to
//! three threads as fast as it can, printing each event's id once
//! `ingest_blocking` has answered for it. The parent kills the child with
//! SIGKILL at a random moment (while it is still opening the store, right
//! after its first acknowledgement, or anywhere from 5 ms to 800 ms in),
//! reopens the store and checks that every acknowledged event is there (or
//! was legitimately removed since: deleted by a stored delete, or an expired
//! story), that a stored delete's target is gone, that the integrity check
//! passes, that the search index opens and catches up, and that the store
//! takes new events with the sequence continuing. Some directories see two or
//! three kills in a row, with or without the parent opening the store between
//! them, so recovery itself gets killed too.
//!
//! `KITH_CRASH_SEED=<n>` repeats a run's plan (the seed is printed first);
//! `KITH_CRASH_KILLS=<n>` changes the number of kills (default 24).
//! The last line reads `crash: N passed, M failed`; the exit code is non-zero
//! on any failure.

// Without libtest, stdout is this target's report (clippy's
// `allow-print-in-tests` covers only `cfg(test)` code).
#![allow(clippy::print_stdout)]

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use kith_protocol::kinds::{
    Content, Delete, Follow, Post, Profile, Reaction, ReactionType, Reply, Repost, Story, Unfollow,
};
use kith_protocol::{Event, EventId, Keypair, Payload, Rel, UnsignedEvent};
use kith_storage::{IngestOutcome, SearchQuery, Store, StoreConfig};

/// First argument that makes this binary the child.
const CHILD_ARG: &str = "__kith_crash_child";
/// Kills per run unless `KITH_CRASH_KILLS` says otherwise.
const DEFAULT_KILLS: usize = 24;
/// A child that is somehow never killed stops by itself after this long.
const CHILD_MAX: Duration = Duration::from_secs(30);
/// Identities the events are written by.
const PEOPLE: usize = 8;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(CHILD_ARG) {
        let (Some(dir), Some(seed)) = (args.get(2), args.get(3).and_then(|s| s.parse().ok()))
        else {
            eprintln!("usage: {} {CHILD_ARG} <dir> <seed>", args[0]);
            std::process::exit(2);
        };
        if let Err(e) = child(Path::new(dir), seed) {
            eprintln!("crash child: {e:#}");
            std::process::exit(1);
        }
        std::process::exit(0);
    }
    // Any other arguments (a test-name filter, `--nocapture`, ...) are cargo's
    // and do not concern this target.
    std::process::exit(parent());
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// xorshift64*, seeded through splitmix64.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    /// Log-uniform in `lo..=hi`, so short and long delays are both common.
    fn log_range(&mut self, lo: u64, hi: u64) -> u64 {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        let v = (lo as f64) * ((hi as f64) / (lo as f64)).powf(u);
        (v as u64).clamp(lo, hi)
    }
}

// ---------------------------------------------------------------------------
// The child.

/// How a child runs, a function of its seed (the parent derives it too, to
/// describe the round even when the child dies before saying anything).
#[derive(Debug, Clone)]
struct Plan {
    threads: usize,
    search: bool,
    flush_interval: Duration,
    max_batch: usize,
    expiry: Option<Duration>,
}

impl Plan {
    fn of(seed: u64) -> Plan {
        let mut rng = Rng::new(seed ^ 0x706c_616e);
        Plan {
            threads: 1 + rng.index(3),
            search: rng.percent(60),
            flush_interval: Duration::from_micros(rng.range(0, 5_000)),
            max_batch: [50, 300, 8192][rng.index(3)],
            expiry: rng
                .percent(50)
                .then(|| Duration::from_millis(rng.range(10, 200))),
        }
    }

    fn config(&self, dir: &Path) -> StoreConfig {
        let mut config = StoreConfig::new(dir);
        config.search = self.search;
        config.flush_interval = self.flush_interval;
        config.max_batch = self.max_batch;
        config.expiry_interval = self.expiry;
        config.cache_bytes = 32 << 20;
        config
    }
}

fn people() -> Vec<Keypair> {
    (1..=PEOPLE as u8)
        .map(|n| Keypair::from_seed(&[n; 32]).unwrap())
        .collect()
}

fn child(dir: &Path, seed: u64) -> anyhow::Result<()> {
    // A thread that fails must end the process at once: the parent would
    // otherwise kill a child whose other threads carry on, and never know.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("crash child: {info}");
        std::process::exit(101);
    }));
    let plan = Plan::of(seed);
    let store = Store::open(plan.config(dir)).context("opening the store")?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "open")?;
        out.flush()?;
    }
    let started = Instant::now();
    let shared = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..plan.threads)
        .map(|t| {
            let store = store.clone();
            let generator = Generator::new(seed ^ ((t as u64 + 1) << 48), shared.clone());
            let rng = Rng::new(seed.rotate_left(17) ^ t as u64);
            std::thread::spawn(move || {
                if let Err(e) = ingest_loop(&store, generator, rng, started) {
                    eprintln!("crash child: {e:#}");
                    std::process::exit(1);
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    Ok(())
}

/// Ingests groups of 1 to 200 events until killed, printing each
/// acknowledged event's id (and what the store said) once the group's
/// `ingest_blocking` has returned.
fn ingest_loop(
    store: &Store,
    mut generator: Generator,
    mut rng: Rng,
    started: Instant,
) -> anyhow::Result<()> {
    while started.elapsed() < CHILD_MAX {
        let n = match rng.below(10) {
            0..4 => rng.range(1, 10),
            4..8 => rng.range(10, 60),
            _ => rng.range(60, 200),
        };
        let batch: Vec<Event> = (0..n).map(|_| generator.next()).collect();
        let outcomes = store.ingest_blocking(batch.clone())?;
        ensure!(outcomes.len() == batch.len(), "one outcome per event");
        let mut text = String::new();
        for (event, outcome) in batch.iter().zip(&outcomes) {
            let (word, seq) = match outcome {
                IngestOutcome::Stored { seq } => ("stored", Some(*seq)),
                IngestOutcome::Duplicate => ("duplicate", None),
                IngestOutcome::Deleted => ("deleted", None),
                // Not acknowledgements; reported so the parent can tell how
                // much of the mix was refused.
                IngestOutcome::Expired => ("expired", None),
                _ => ("refused", None),
            };
            write!(text, "{} {word}", event.id())?;
            if let Some(seq) = seq {
                write!(text, " seq={seq}")?;
            }
            if let Payload::Story(s) = event.payload() {
                write!(text, " exp={}", s.expires_at)?;
            }
            text.push('\n');
        }
        generator.acknowledged(&batch, &outcomes);
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
    }
    Ok(())
}

const WORDS: &[&str] = &[
    "hola", "mundo", "rust", "gossip", "perritos", "café", "lluvia", "tren", "música", "mercado",
    "vecinos", "plaza",
];
const TAGS: &[&str] = &[
    "#kith",
    "#Rust",
    "#Adopción",
    "#café",
    "#noticias",
    "#barrio",
];

fn push_capped<T>(v: &mut VecDeque<T>, item: T, cap: usize) {
    if v.len() == cap {
        v.pop_front();
    }
    v.push_back(item);
}

/// A realistic, seeded stream of events: posts with hashtags and mentions,
/// replies, reactions (some replacing earlier ones), follows and unfollows,
/// reposts, deletes (some sent before their target), stories (some expiring
/// within the run), profiles, and resent duplicates.
struct Generator {
    rng: Rng,
    keys: Vec<Keypair>,
    clock: u64,
    /// (id, root) of this thread's recent posts and replies.
    answerable: VecDeque<(EventId, EventId)>,
    /// Same, acknowledged by any thread of this child.
    shared: Arc<Mutex<Vec<(EventId, EventId)>>>,
    /// This thread's deletable events with their author.
    deletable: VecDeque<(usize, EventId)>,
    /// Recent reactions: (author, target).
    reactions: VecDeque<(usize, EventId)>,
    /// Recent events, to send again.
    recent: VecDeque<Event>,
    /// Events whose delete was sent first, with how many events until they go.
    held: Vec<(u32, Event)>,
    n: u64,
}

impl Generator {
    fn new(seed: u64, shared: Arc<Mutex<Vec<(EventId, EventId)>>>) -> Generator {
        Generator {
            rng: Rng::new(seed),
            keys: people(),
            clock: now_ms(),
            answerable: VecDeque::new(),
            shared,
            deletable: VecDeque::new(),
            reactions: VecDeque::new(),
            recent: VecDeque::new(),
            held: Vec::new(),
            n: 0,
        }
    }

    fn sign(&mut self, who: usize, body: UnsignedEvent) -> Event {
        let event = body.sign(&self.keys[who]).unwrap();
        push_capped(&mut self.recent, event.clone(), 64);
        event
    }

    fn text(&mut self) -> String {
        let mut s = String::new();
        for _ in 0..self.rng.range(2, 8) {
            let w = WORDS[self.rng.index(WORDS.len())];
            s.push_str(w);
            s.push(' ');
        }
        for _ in 0..self.rng.range(0, 2) {
            let t = TAGS[self.rng.index(TAGS.len())];
            s.push_str(t);
            s.push(' ');
        }
        write!(s, "n{}", self.n).unwrap();
        s
    }

    /// Something to answer or react to.
    fn target(&mut self) -> Option<(EventId, EventId)> {
        if self.rng.percent(30) {
            let shared = self.shared.lock().unwrap();
            if !shared.is_empty() {
                return Some(shared[self.rng.index(shared.len())]);
            }
        }
        if self.answerable.is_empty() {
            return None;
        }
        let i = self.rng.index(self.answerable.len());
        Some(self.answerable[i])
    }

    fn post(&mut self, who: usize, t: u64) -> Event {
        let text = self.text();
        let mut body = UnsignedEvent::new(
            self.keys[who].public(),
            t,
            Post {
                content: Content::text(text),
            },
        );
        // Up to two distinct people mentioned.
        let first = self.rng.index(PEOPLE);
        for m in [first, (first + 1 + self.rng.index(PEOPLE - 1)) % PEOPLE]
            .into_iter()
            .take(self.rng.index(3))
        {
            body = body.ref_identity(Rel::Mention, self.keys[m].public());
        }
        let e = self.sign(who, body);
        push_capped(&mut self.answerable, (e.id(), e.id()), 256);
        push_capped(&mut self.deletable, (who, e.id()), 256);
        e
    }

    fn react(&mut self, who: usize, t: u64, target: EventId) -> Event {
        let r = ReactionType::ALL[self.rng.index(ReactionType::ALL.len())];
        let e = self.sign(
            who,
            UnsignedEvent::new(self.keys[who].public(), t, Reaction { reaction: r })
                .ref_event(Rel::Target, target),
        );
        push_capped(&mut self.reactions, (who, target), 128);
        push_capped(&mut self.deletable, (who, e.id()), 256);
        e
    }

    fn next(&mut self) -> Event {
        self.n += 1;
        for h in &mut self.held {
            h.0 = h.0.saturating_sub(1);
        }
        if let Some(i) = self.held.iter().position(|h| h.0 == 0) {
            return self.held.swap_remove(i).1;
        }
        self.clock += 1;
        let t = self.clock;
        let who = self.rng.index(PEOPLE);
        let me = self.keys[who].public();
        match self.rng.below(100) {
            0..30 => self.post(who, t),
            30..45 => match self.target() {
                Some((parent, root)) => {
                    let text = self.text();
                    let e = self.sign(
                        who,
                        UnsignedEvent::new(
                            me,
                            t,
                            Reply {
                                content: Content::text(text),
                            },
                        )
                        .ref_event(Rel::Root, root)
                        .ref_event(Rel::Parent, parent),
                    );
                    push_capped(&mut self.answerable, (e.id(), root), 256);
                    push_capped(&mut self.deletable, (who, e.id()), 256);
                    e
                }
                None => self.post(who, t),
            },
            45..58 => match self.target() {
                Some((target, _)) => self.react(who, t, target),
                None => self.post(who, t),
            },
            // The same person reacting again: the newer reaction replaces the older.
            58..65 if !self.reactions.is_empty() => {
                let i = self.rng.index(self.reactions.len());
                let (who, target) = self.reactions[i];
                self.react(who, t, target)
            }
            58..73 => {
                let other = self.keys[(who + 1 + self.rng.index(PEOPLE - 1)) % PEOPLE].public();
                self.sign(
                    who,
                    UnsignedEvent::new(me, t, Follow {}).ref_identity(Rel::Subject, other),
                )
            }
            73..77 => {
                let other = self.keys[(who + 1 + self.rng.index(PEOPLE - 1)) % PEOPLE].public();
                self.sign(
                    who,
                    UnsignedEvent::new(me, t, Unfollow {}).ref_identity(Rel::Subject, other),
                )
            }
            77..83 => match self.target() {
                Some((target, _)) => {
                    let e = self.sign(
                        who,
                        UnsignedEvent::new(me, t, Repost {}).ref_event(Rel::Target, target),
                    );
                    push_capped(&mut self.deletable, (who, e.id()), 256);
                    e
                }
                None => self.post(who, t),
            },
            83..87 if !self.deletable.is_empty() => {
                let i = self.rng.index(self.deletable.len());
                let (author, target) = self.deletable.remove(i).unwrap();
                let body = UnsignedEvent::new(self.keys[author].public(), t, Delete::default())
                    .ref_event(Rel::Target, target);
                self.sign(author, body)
            }
            // A delete that arrives before the post it deletes.
            83..89 => {
                let p = self.post(who, t);
                self.deletable.pop_back();
                self.answerable.pop_back();
                self.clock += 1;
                let del = UnsignedEvent::new(me, self.clock, Delete::default())
                    .ref_event(Rel::Target, p.id());
                let later = self.rng.range(1, 40) as u32;
                self.held.push((later, p));
                self.sign(who, del)
            }
            89..94 => {
                // Stories are about now; some expire while the child runs.
                let created = now_ms().max(t);
                let life = if self.rng.percent(25) {
                    self.rng.range(30, 1_500)
                } else {
                    3_600_000
                };
                let text = self.text();
                let mut body = UnsignedEvent::new(
                    me,
                    created,
                    Story {
                        text,
                        media: None,
                        expires_at: created + life,
                    },
                );
                if self.rng.percent(30) {
                    let m = self.rng.index(PEOPLE);
                    body = body.ref_identity(Rel::Mention, self.keys[m].public());
                }
                let e = self.sign(who, body);
                push_capped(&mut self.deletable, (who, e.id()), 256);
                e
            }
            94..96 => {
                let name = format!("{} {}", WORDS[self.rng.index(WORDS.len())], self.n);
                let bio = self.text();
                self.sign(
                    who,
                    UnsignedEvent::new(
                        me,
                        t,
                        Profile {
                            name,
                            bio,
                            avatar: None,
                            banner: None,
                            langs: vec!["es".into()],
                            links: Vec::new(),
                            nostr: None,
                            dm_key: None,
                        },
                    ),
                )
            }
            _ if !self.recent.is_empty() => {
                let i = self.rng.index(self.recent.len());
                self.recent[i].clone()
            }
            _ => self.post(who, t),
        }
    }

    /// Makes the acknowledged posts and replies available to the other threads.
    fn acknowledged(&mut self, batch: &[Event], outcomes: &[IngestOutcome]) {
        let mut shared = self.shared.lock().unwrap();
        for (e, o) in batch.iter().zip(outcomes) {
            if !matches!(o, IngestOutcome::Stored { .. }) {
                continue;
            }
            let root = match e.payload() {
                Payload::Post(_) => e.id(),
                Payload::Reply(_) => match e.event_ref(Rel::Root) {
                    Some(r) => r,
                    None => continue,
                },
                _ => continue,
            };
            if shared.len() == 512 {
                shared.remove(0);
            }
            shared.push((e.id(), root));
        }
    }
}

// ---------------------------------------------------------------------------
// The parent.

/// What the children (and the parent's own writes) were told about one event.
#[derive(Debug, Default, Clone)]
struct Ack {
    stored_seq: Option<u64>,
    deleted: bool,
    duplicate: bool,
    expires_at: Option<u64>,
}

/// A child's line about one event: what it was told, if that was an
/// acknowledgement, and whether it was a refusal (an expired story counts as
/// neither).
fn parse_line(line: &str) -> Option<(EventId, Option<Ack>, bool)> {
    let mut parts = line.split(' ');
    let id: EventId = parts.next()?.parse().ok()?;
    let mut ack = Ack::default();
    let word = parts.next()?;
    let stored = word == "stored";
    match word {
        "stored" => {}
        "duplicate" => ack.duplicate = true,
        "deleted" => ack.deleted = true,
        "expired" => return Some((id, None, false)),
        "refused" => return Some((id, None, true)),
        _ => return None,
    }
    for p in parts {
        if let Some(v) = p.strip_prefix("seq=") {
            ack.stored_seq = Some(v.parse().ok()?);
        } else if let Some(v) = p.strip_prefix("exp=") {
            ack.expires_at = Some(v.parse().ok()?);
        } else {
            return None;
        }
    }
    if stored != ack.stored_seq.is_some() {
        return None;
    }
    Some((id, Some(ack), false))
}

fn merge(into: &mut HashMap<EventId, Ack>, id: EventId, ack: Ack) {
    let a = into.entry(id).or_default();
    a.stored_seq = a.stored_seq.or(ack.stored_seq);
    a.deleted |= ack.deleted;
    a.duplicate |= ack.duplicate;
    a.expires_at = a.expires_at.or(ack.expires_at);
}

#[derive(Debug, Clone, Copy)]
enum Timing {
    /// Killed this long after the start, most likely while opening the store.
    Opening(u64),
    /// Killed this long after its first acknowledgement.
    FirstAck(u64),
    /// Killed this long after the start.
    After(u64),
}

impl std::fmt::Display for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Timing::Opening(ms) => write!(f, "opening+{ms}ms"),
            Timing::FirstAck(ms) => write!(f, "first-ack+{ms}ms"),
            Timing::After(ms) => write!(f, "at {ms}ms"),
        }
    }
}

/// Kills the child if the parent bails out early.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a child said before it was killed, and when.
#[derive(Debug, Default)]
struct Run {
    acks: Vec<(EventId, Ack)>,
    /// Events the store refused (pending, rejected, overloaded): none are
    /// expected from the generator's mix.
    refused: usize,
    killed_at: Duration,
    opened_at: Option<Duration>,
    first_ack_at: Option<Duration>,
    /// The child died halfway through writing its last line.
    torn_line: bool,
}

/// Starts a child on `dir`, kills it as `timing` says, and collects what it acknowledged.
fn run_child(dir: &Path, seed: u64, timing: Timing) -> anyhow::Result<Run> {
    let exe = std::env::current_exe()?;
    let start = Instant::now();
    let mut child = Reaper(
        Command::new(exe)
            .arg(CHILD_ARG)
            .arg(dir)
            .arg(seed.to_string())
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting the child")?,
    );
    let stdout = child.0.stdout.take().context("child stdout")?;
    let mut stderr = child.0.stderr.take().context("child stderr")?;
    let (first_tx, first_rx) = mpsc::channel::<()>();
    // Every complete line in the pipe was written before the child died, so
    // it counts whenever the parent gets to read it.
    let reader = std::thread::spawn(move || -> anyhow::Result<Run> {
        let mut reader = BufReader::new(stdout);
        let mut run = Run::default();
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                return Ok(run);
            }
            if line.last() != Some(&b'\n') {
                // Cut off by the kill: it claims nothing.
                run.torn_line = true;
                return Ok(run);
            }
            let text = std::str::from_utf8(&line[..line.len() - 1])?;
            if text == "open" {
                run.opened_at = Some(start.elapsed());
                continue;
            }
            let (id, ack, refusal) =
                parse_line(text).with_context(|| format!("bad child line {text:?}"))?;
            run.refused += usize::from(refusal);
            let Some(ack) = ack else { continue };
            if run.first_ack_at.is_none() {
                run.first_ack_at = Some(start.elapsed());
                let _ = first_tx.send(());
            }
            run.acks.push((id, ack));
        }
    });
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    // The delay before the kill is the experiment (when the child dies), not a
    // wait for readiness: readiness (the first acknowledgement) is waited on
    // as a condition with a timeout below.
    match timing {
        Timing::Opening(ms) | Timing::After(ms) => {
            std::thread::sleep(Duration::from_millis(ms).saturating_sub(start.elapsed()));
        }
        Timing::FirstAck(ms) => {
            // A child that never acknowledges anything is found out below.
            let _ = first_rx.recv_timeout(Duration::from_secs(20));
            if ms > 0 {
                std::thread::sleep(Duration::from_millis(ms));
            }
        }
    }
    let killed_at = start.elapsed();
    child.0.kill().context("killing the child")?;
    let status = child.0.wait()?;
    let heard = reader
        .join()
        .map_err(|_| anyhow::anyhow!("reader panicked"))?;
    let stderr = errors.join().unwrap_or_default();
    if status.signal() != Some(9) {
        bail!("the child was not killed but ended with {status}; its stderr:\n{stderr}");
    }
    ensure!(
        stderr.trim().is_empty(),
        "the child complained before it was killed:\n{stderr}"
    );
    let run = Run {
        killed_at,
        ..heard?
    };
    if matches!(timing, Timing::FirstAck(_)) && run.first_ack_at.is_none() {
        bail!("the child acknowledged nothing in 20 s; its stderr:\n{stderr}");
    }
    Ok(run)
}

#[derive(Debug, Default)]
struct Verified {
    reopen: Duration,
    integrity: Duration,
    events: u64,
    checked: usize,
    gone: usize,
    catch_up: Option<Duration>,
}

/// Reopens the store after a kill and checks everything acknowledged so far.
/// Writes a few events too (recorded in `acked`), to prove the store still works.
fn verify(
    dir: &Path,
    acked: &mut HashMap<EventId, Ack>,
    keys: &[Keypair],
    round: usize,
    check_search: bool,
) -> anyhow::Result<Verified> {
    let mut config = StoreConfig::new(dir);
    config.expiry_interval = None;
    config.flush_interval = Duration::from_millis(1);
    config.cache_bytes = 32 << 20;
    let t = Instant::now();
    let store = Store::open(config).context("reopening the store after the kill")?;
    let reopen = t.elapsed();
    let last = store.last_seq()?;
    let search = store.search_index().context("search is on")?;
    ensure!(
        search.indexed_seq() <= last,
        "the search index says it indexed up to seq {} but the store ends at {last}",
        search.indexed_seq()
    );

    let now = now_ms();
    let mut problems = Vec::new();
    let mut gone = 0;
    for (id, ack) in acked.iter() {
        let tomb = store.tombstone(id)?;
        match store.get_with_seq(id)? {
            Some(s) => {
                if let Some(seq) = ack.stored_seq
                    && s.seq != seq
                {
                    problems.push(format!(
                        "{id} was acknowledged with seq {seq}, stored with {}",
                        s.seq
                    ));
                }
                if s.seq > last {
                    problems.push(format!("{id} has seq {} after the last {last}", s.seq));
                }
                if ack.deleted {
                    problems.push(format!("{id} was acknowledged as deleted but is stored"));
                }
                if let Payload::Delete(_) = s.event.payload()
                    && let Some(target) = s.event.event_ref(Rel::Target)
                {
                    if store.contains(&target)? {
                        problems.push(format!("delete {id} is stored but its target {target} too"));
                    }
                    if store.tombstone(&target)?.is_none() {
                        problems.push(format!("delete {id} is stored without a tombstone"));
                    }
                }
            }
            None => {
                gone += 1;
                match tomb {
                    Some(delete) => {
                        if !store.contains(&delete)? {
                            problems.push(format!(
                                "{id} is tombstoned by {delete}, which is not stored"
                            ));
                        }
                    }
                    None if ack.expires_at.is_some_and(|e| e <= now) => {}
                    None => problems.push(format!(
                        "{id} was acknowledged ({ack:?}) but is neither stored nor deleted"
                    )),
                }
            }
        }
    }
    ensure!(
        problems.is_empty(),
        "{} of {} acknowledged events are wrong, among them:\n  {}",
        problems.len(),
        acked.len(),
        problems
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ")
    );

    let t = Instant::now();
    let report = store.check_integrity()?;
    let integrity = t.elapsed();
    ensure!(report.is_ok(), "integrity check failed: {report:#?}");

    // The store takes new events, and the sequence goes on from where it was.
    // Children's clocks start at their start and run ahead of the wall clock
    // (one millisecond per event), so an hour back is a time only this
    // check uses: a follow, which has no content, must not be one a child sent.
    let t = now_ms() - 3_600_000;
    let k = &keys[round % keys.len()];
    let word = format!("crashcheck{round}x{}", acked.len());
    let post = UnsignedEvent::new(
        k.public(),
        t,
        Post {
            content: Content::text(format!("{word} #kith")),
        },
    )
    .sign(k)?;
    let other = &keys[(round + 1) % keys.len()];
    let like = UnsignedEvent::new(
        other.public(),
        t + 1,
        Reaction {
            reaction: ReactionType::Love,
        },
    )
    .ref_event(Rel::Target, post.id())
    .sign(other)?;
    let follow = UnsignedEvent::new(other.public(), t + 2, Follow {})
        .ref_identity(Rel::Subject, k.public())
        .sign(other)?;
    let events = vec![post.clone(), like, follow];
    let outcomes = store.ingest_blocking(events.clone())?;
    for (i, (e, o)) in events.iter().zip(&outcomes).enumerate() {
        let expected = last + 1 + i as u64;
        ensure!(
            *o == IngestOutcome::Stored { seq: expected },
            "after reopening, event {i} got {o:?}, not seq {expected}"
        );
        merge(
            acked,
            e.id(),
            Ack {
                stored_seq: Some(expected),
                ..Ack::default()
            },
        );
    }
    // The index catches up with everything, including what the killed child
    // stored but never got indexed. It commits every 500 ms, so this waits;
    // the caller asks for it when a killed child was writing the index.
    let catch_up = if check_search {
        let t = Instant::now();
        ensure!(
            search.wait_indexed(last + 3, Duration::from_secs(30)),
            "the search index did not catch up to seq {} (at {})",
            last + 3,
            search.indexed_seq()
        );
        let catch_up = t.elapsed();
        let hits = store.search(&SearchQuery {
            text: word,
            limit: 5,
            ..SearchQuery::default()
        })?;
        ensure!(
            hits.first().map(|h| h.id) == Some(post.id()),
            "search does not find the post written after reopening: {hits:?}"
        );
        Some(catch_up)
    } else {
        None
    };
    Ok(Verified {
        reopen,
        integrity,
        events: report.events,
        checked: acked.len(),
        gone,
        catch_up,
    })
}

fn ms(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

fn parent() -> i32 {
    let started = Instant::now();
    let seed = match std::env::var("KITH_CRASH_SEED") {
        Ok(s) => match s.parse::<u64>() {
            Ok(n) => n,
            Err(_) => {
                println!("crash: KITH_CRASH_SEED={s:?} is not a number");
                return 2;
            }
        },
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    };
    let kills: usize = std::env::var("KITH_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_KILLS);
    println!("crash: seed {seed} (KITH_CRASH_SEED={seed} repeats this plan), {kills} kills");
    let mut rng = Rng::new(seed);
    let keys = people();
    let (mut passed, mut failed) = (0usize, 0usize);
    let (mut total_acks, mut total_checked, mut total_gone) = (0usize, 0usize, 0usize);
    let (mut min_kill, mut max_kill) = (Duration::MAX, Duration::ZERO);
    let (mut killed_opening, mut max_reopen) = (0usize, Duration::ZERO);
    let mut kill = 0usize;
    let mut dir_no = 0usize;
    while kill < kills {
        dir_no += 1;
        let lives = (1 + rng.index(3)).min(kills - kill);
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => {
                println!("crash: no temporary directory: {e}");
                return 1;
            }
        };
        let mut acked: HashMap<EventId, Ack> = HashMap::new();
        // Kills since the parent last checked this directory.
        let mut unchecked = 0usize;
        // Whether a child killed since then kept a search index.
        let mut search_since = false;
        for life in 1..=lives {
            kill += 1;
            unchecked += 1;
            let child_seed = rng.next();
            let plan = Plan::of(child_seed);
            search_since |= plan.search;
            let timing = match kill % 5 {
                1 => Timing::FirstAck(rng.range(0, 3)),
                3 => Timing::Opening(rng.range(1, 25)),
                _ if rng.percent(50) => Timing::After(rng.log_range(5, 800)),
                _ => Timing::After(rng.range(5, 800)),
            };
            let mut line = format!(
                "crash: kill {kill:>2}/{kills} dir {dir_no} life {life}/{lives} \
                 [{} thread(s), search {}, batch<={}, flush {}us{}] {timing}:",
                plan.threads,
                if plan.search { "on" } else { "off" },
                plan.max_batch,
                plan.flush_interval.as_micros(),
                match plan.expiry {
                    Some(e) => format!(", expiry every {}", ms(e)),
                    None => String::new(),
                },
            );
            let outcome = run_child(dir.path(), child_seed, timing).and_then(|run| {
                min_kill = min_kill.min(run.killed_at);
                max_kill = max_kill.max(run.killed_at);
                total_acks += run.acks.len();
                let opened = run.opened_at.is_some_and(|o| o <= run.killed_at);
                if !opened {
                    killed_opening += 1;
                }
                write!(
                    line,
                    " killed {} ({}; first ack {}), {} acks{}{}",
                    ms(run.killed_at),
                    match run.opened_at {
                        Some(o) if opened => format!("opened {}", ms(o)),
                        _ => "still opening".into(),
                    },
                    run.first_ack_at.map_or("-".into(), ms),
                    run.acks.len(),
                    if run.refused > 0 {
                        format!(" ({} REFUSED)", run.refused)
                    } else {
                        String::new()
                    },
                    if run.torn_line {
                        ", torn last line"
                    } else {
                        ""
                    },
                )?;
                for (id, ack) in run.acks {
                    merge(&mut acked, id, ack);
                }
                // Sometimes the next child recovers the store itself, and may
                // be killed while doing so.
                if life < lives && rng.percent(50) {
                    line.push_str(" | not reopened");
                    return Ok(None);
                }
                let check_search = search_since || rng.percent(25);
                search_since = false;
                let v = verify(dir.path(), &mut acked, &keys, kill, check_search)?;
                Ok(Some(v))
            });
            match outcome {
                Ok(Some(v)) => {
                    total_checked += v.checked;
                    total_gone += v.gone;
                    max_reopen = max_reopen.max(v.reopen);
                    passed += unchecked;
                    unchecked = 0;
                    let _ = write!(
                        line,
                        " | reopen {}, {} acked ok ({} deleted/expired since), {} events, \
                         integrity {}, search {}",
                        ms(v.reopen),
                        v.checked,
                        v.gone,
                        v.events,
                        ms(v.integrity),
                        v.catch_up.map_or("not waited for".into(), |d| format!(
                            "caught up in {}",
                            ms(d)
                        )),
                    );
                    println!("{line}");
                }
                Ok(None) => println!("{line}"),
                Err(e) => {
                    failed += unchecked;
                    unchecked = 0;
                    println!("{line}\ncrash: FAILED (seed {seed}, kill {kill}): {e:#}");
                    // The directory is suspect; go on with a fresh one.
                    let kept: PathBuf = dir.keep();
                    println!("crash: store kept at {}", kept.display());
                    break;
                }
            }
        }
        failed += unchecked;
    }
    println!(
        "crash: {kill} kills in {:.1}s; kill times {}..{} ({killed_opening} while opening); \
         {total_acks} acknowledgements, {total_checked} acknowledged events checked \
         ({total_gone} legitimately gone); slowest reopen {}",
        started.elapsed().as_secs_f64(),
        ms(min_kill),
        ms(max_kill),
        ms(max_reopen),
    );
    println!("crash: {passed} passed, {failed} failed");
    if failed > 0 { 1 } else { 0 }
}
