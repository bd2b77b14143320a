//! End-to-end storage benchmark: ingest throughput measured against bare
//! signature verification of the same events, disk and memory per event, and
//! query and search latency over a store of a million synthetic events.
//!
//! ```text
//! cargo bench -p kith-storage --bench store                            # 1,000,000 events
//! KITH_BENCH_EVENTS=100000 cargo bench -p kith-storage --bench store   # a quick run
//! ```
//!
//! Environment (all optional):
//!
//! | variable | default | what |
//! |---|---|---|
//! | `KITH_BENCH_EVENTS` | 1000000 | events generated and stored |
//! | `KITH_BENCH_SAMPLES` | 1000 | samples per query type |
//! | `KITH_BENCH_SEARCH_SAMPLES` | 1000 | search queries |
//! | `KITH_BENCH_SEARCH_OFF` | 1 | also ingest into a second store with search off (0 to skip) |
//! | `KITH_BENCH_INGEST_CHUNK` | 4096 | events per `Store::ingest_blocking` call |
//! | `KITH_BENCH_INGEST_THREADS` | 2 | threads calling `Store::ingest_blocking` concurrently |
//! | `KITH_BENCH_DIR` | system temp dir | where the temporary stores are created |
//! | `KITH_BENCH_CACHE_MB` | `StoreConfig` default | sled page cache, for experiments |
//! | `KITH_BENCH_PENDING` | 0 | events parked (waiting for a dependency) before the ingest |
//!
//! The corpus: 10,000 authors with Zipf-skewed activity and popularity,
//! posts with 0–3 hashtags out of 2,000 (Zipf) and 0–2 mentions, replies
//! (plus a few threads of 1,000 replies to one root), reactions of six types,
//! reposts, and follows (each following author follows 50–500 others; two
//! "heavy" authors follow exactly 500, one chosen by popularity and one
//! uniformly at random). `created_at` grows with the index, with 2 s of jitter.
//!
//! Prints a table on stdout, and as its last line one JSON object with every number.

#![allow(clippy::print_stdout)]

mod common;

use common::{Rng, Zipf, env_usize, load_average, outcome_name};

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use kith_protocol::kinds::{
    Content, Follow, Post, Reaction, ReactionType, Reply, Repost, Revocation,
};
use kith_protocol::{
    Event, EventId, Keypair, Kind, PublicKey, Rel, UnsignedEvent, Unverified, verify_batch,
};
use kith_storage::{Filter, IngestOutcome, SEARCH_DIR, STORE_DIR, SearchQuery, Store, StoreConfig};
use serde_json::{Value, json};

/// 2026-01-01T00:00:00Z.
const T0: u64 = 1_767_225_600_000;
const AUTHORS: usize = 10_000;
const TAGS: usize = 2_000;
const WORDS: usize = 20_000;
const LANGS: [&str; 3] = ["es", "en", "pt"];
/// Events built (ids computed) before they are signed in parallel.
const GEN_BLOCK: usize = 65_536;
/// Events per `verify_batch` call.
const VERIFY_CHUNK: usize = 1024;
const WORKERS: usize = 2;
const PAGE: usize = 50;
/// Samples run and thrown away before each measured query type.
const WARM_UP: usize = 50;

// ---------------------------------------------------------------- randomness

/// Pronounceable made-up words, unique across calls sharing `taken`.
fn vocabulary(
    rng: &mut Rng,
    n: usize,
    syllables: (usize, usize),
    taken: &mut HashSet<String>,
) -> Vec<String> {
    const C: &[u8] = b"bcdfghjklmnprstvz";
    const V: &[u8] = b"aeiou";
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let mut w = String::new();
        for _ in 0..rng.range(syllables.0, syllables.1) {
            w.push(char::from(C[rng.below(C.len())]));
            w.push(char::from(V[rng.below(V.len())]));
        }
        if rng.chance(0.3) {
            w.push(char::from(C[rng.below(C.len())]));
        }
        if taken.insert(w.clone()) {
            out.push(w);
        }
    }
    // Frequent words are short, as in real text.
    out.sort_by_key(String::len);
    out
}

// ---------------------------------------------------------------- corpus

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ty {
    Post,
    Reply,
    Reaction,
    Repost,
    Follow,
    Root(usize),
    ThreadReply(usize),
}

struct Corpus {
    envelopes: Vec<Vec<u8>>,
    authors: Vec<PublicKey>,
    kinds: BTreeMap<&'static str, usize>,
    /// (label, author index) of the authors following exactly 500.
    heavy: Vec<(&'static str, usize)>,
    follow_lists: usize,
    roots: Vec<EventId>,
    thread_size: usize,
    posts: Vec<EventId>,
    tags: Vec<String>,
    tag_uses: Vec<u32>,
    words: Vec<String>,
    build_secs: f64,
    sign_secs: f64,
}

/// What the generator remembers to pick targets from.
struct GenState {
    posts: Vec<EventId>,
    /// A few recent posts per author (reaction and reply targets).
    author_posts: Vec<VecDeque<EventId>>,
    /// Recent replies with their roots.
    replies: VecDeque<(EventId, EventId)>,
    roots: Vec<Option<EventId>>,
    thread_replies: Vec<Vec<EventId>>,
}

impl GenState {
    /// A post that attracts attention: mostly a popular author's recent post.
    fn popular_post(&self, rng: &mut Rng, popularity: &Zipf) -> Option<EventId> {
        if rng.chance(0.75) {
            let a = popularity.sample(rng);
            let recent = &self.author_posts[a];
            if !recent.is_empty() {
                return Some(recent[rng.below(recent.len())]);
            }
        }
        let n = self.posts.len();
        if n == 0 {
            return None;
        }
        let window = n.min(5_000);
        Some(self.posts[n - 1 - rng.below(window)])
    }

    fn recent_reply(&self, rng: &mut Rng) -> Option<(EventId, EventId)> {
        if self.replies.is_empty() {
            None
        } else {
            Some(self.replies[rng.below(self.replies.len())])
        }
    }

    fn live_root(&self, rng: &mut Rng) -> Option<EventId> {
        let live: Vec<EventId> = self.roots.iter().flatten().copied().collect();
        if live.is_empty() {
            None
        } else {
            Some(live[rng.below(live.len())])
        }
    }
}

fn key(n: usize) -> Keypair {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(n as u64).to_le_bytes());
    seed[31] = 0xb7;
    Keypair::from_seed(&seed).expect("a seed gives a usable key")
}

fn distinct(
    rng: &mut Rng,
    count: usize,
    exclude: usize,
    mut draw: impl FnMut(&mut Rng) -> usize,
) -> Vec<usize> {
    let mut seen = HashSet::with_capacity(count);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let x = draw(rng);
        if x != exclude && seen.insert(x) {
            out.push(x);
        }
    }
    out
}

fn sentence(rng: &mut Rng, words: &[String], zipf: &Zipf, lo: usize, hi: usize) -> String {
    let n = rng.range(lo, hi);
    let mut s = String::with_capacity(n * 7);
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&words[zipf.sample(rng)]);
    }
    s
}

fn generate(n: usize) -> Corpus {
    let started = Instant::now();
    let mut rng = Rng(0x4b17_4b17_2026);
    let mut taken = HashSet::new();
    let words = vocabulary(&mut rng, WORDS, (1, 4), &mut taken);
    let tags = vocabulary(&mut rng, TAGS, (2, 4), &mut taken);
    let word_zipf = Zipf::new(WORDS, 1.05);
    let tag_zipf = Zipf::new(TAGS, 1.0);
    // Author index = rank: 0 is the most active and the most popular.
    let activity = Zipf::new(AUTHORS, 0.8);
    let popularity = Zipf::new(AUTHORS, 1.0);
    let keys: Vec<Keypair> = std::thread::scope(|s| {
        let half = AUTHORS / 2;
        let a = s.spawn(move || (0..half).map(key).collect::<Vec<_>>());
        let b = s.spawn(move || (half..AUTHORS).map(key).collect::<Vec<_>>());
        let mut v = a.join().expect("key thread");
        v.extend(b.join().expect("key thread"));
        v
    });
    let authors: Vec<PublicKey> = keys.iter().map(Keypair::public).collect();
    let langs: Vec<Option<&'static str>> = (0..AUTHORS)
        .map(|_| match rng.below(100) {
            0..40 => Some(LANGS[0]),
            40..75 => Some(LANGS[1]),
            75..90 => Some(LANGS[2]),
            _ => None,
        })
        .collect();

    // Follow graph: two heavy authors with exactly 500, then others with
    // 50–500 (log-uniform) until a fifth of the events are follows.
    let budget = n / 5;
    let heavy = vec![("popular", 3usize), ("uniform", 7usize)];
    let mut pairs: Vec<(usize, usize)> = Vec::with_capacity(budget);
    for (label, who) in &heavy {
        let followees = if *label == "popular" {
            distinct(&mut rng, 500, *who, |r| popularity.sample(r))
        } else {
            distinct(&mut rng, 500, *who, |r| r.below(AUTHORS))
        };
        pairs.extend(followees.into_iter().map(|f| (*who, f)));
    }
    let mut followers: Vec<usize> = (0..AUTHORS)
        .filter(|a| !heavy.iter().any(|h| h.1 == *a))
        .collect();
    rng.shuffle(&mut followers);
    let mut follow_lists = heavy.len();
    for who in followers {
        let want = (50.0 * 10f64.powf(rng.unit())) as usize;
        let room = budget.saturating_sub(pairs.len());
        if room < 50 {
            break;
        }
        let count = want.min(room);
        pairs.extend(
            distinct(&mut rng, count, who, |r| popularity.sample(r))
                .into_iter()
                .map(|f| (who, f)),
        );
        follow_lists += 1;
    }
    rng.shuffle(&mut pairs);

    // The plan: hot threads at fixed places, the rest shuffled.
    let threads = (n / 200_000).clamp(1, 5);
    let thread_size = (n / 20).clamp(1, 1000);
    let mut plan: Vec<Option<Ty>> = vec![None; n];
    for t in 0..threads {
        let root = n * (10 + 15 * t) / 100;
        plan[root] = Some(Ty::Root(t));
        let window = (n / 5).max(thread_size + 1);
        for _ in 0..thread_size {
            let mut i = (root + 1 + rng.below(window)).min(n - 1);
            while plan[i].is_some() {
                i = if i + 1 < n { i + 1 } else { root + 1 };
            }
            plan[i] = Some(Ty::ThreadReply(t));
        }
    }
    let free = plan.iter().filter(|p| p.is_none()).count();
    let follows = pairs.len().min(free);
    let posts = (n / 5).min(free - follows);
    let reposts = (n / 20).min(free - follows - posts);
    let replies = (n / 5)
        .saturating_sub(threads * thread_size)
        .min(free - follows - posts - reposts);
    let reactions = free - follows - posts - reposts - replies;
    let mut types = Vec::with_capacity(free);
    for (ty, count) in [
        (Ty::Follow, follows),
        (Ty::Post, posts),
        (Ty::Repost, reposts),
        (Ty::Reply, replies),
        (Ty::Reaction, reactions),
    ] {
        types.extend(std::iter::repeat_n(ty, count));
    }
    rng.shuffle(&mut types);
    let mut types = types.into_iter();
    let plan: Vec<Ty> = plan
        .into_iter()
        .map(|p| p.unwrap_or_else(|| types.next().expect("one type per free slot")))
        .collect();

    let mut st = GenState {
        posts: Vec::with_capacity(posts + threads),
        author_posts: vec![VecDeque::new(); AUTHORS],
        replies: VecDeque::new(),
        roots: vec![None; threads],
        thread_replies: vec![Vec::new(); threads],
    };
    let mut tag_uses = vec![0u32; TAGS];
    let mut kinds: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut follow_iter = pairs.into_iter();
    let mut envelopes: Vec<Vec<u8>> = Vec::with_capacity(n);
    let mut build_secs = started.elapsed().as_secs_f64();
    let mut sign_secs = 0.0;
    let reaction_weights = [60usize, 20, 8, 5, 4, 3];

    let mut i = 0;
    while i < n {
        let t_build = Instant::now();
        let end = (i + GEN_BLOCK).min(n);
        let mut block: Vec<(usize, UnsignedEvent)> = Vec::with_capacity(end - i);
        for (idx, ty) in plan.iter().enumerate().take(end).skip(i) {
            let created_at = T0 + idx as u64 * 10 + rng.below(2_000) as u64;
            let mut author = activity.sample(&mut rng);
            let lang = langs[author];
            let content =
                |rng: &mut Rng, lo, hi, tag_count: usize, lang: Option<&str>, uses: &mut [u32]| {
                    let mut text = sentence(rng, &words, &word_zipf, lo, hi);
                    for t in distinct(rng, tag_count, usize::MAX, |r| tag_zipf.sample(r)) {
                        uses[t] += 1;
                        text.push_str(" #");
                        text.push_str(&tags[t]);
                    }
                    let mut c = Content::text(text);
                    c.lang = lang.map(String::from);
                    c
                };
            // Falls back to a post while there is nothing to point at yet.
            let mut ty = *ty;
            let target = match ty {
                Ty::Reaction | Ty::Repost => {
                    if ty == Ty::Reaction && rng.chance(0.02) {
                        st.live_root(&mut rng)
                            .or_else(|| st.popular_post(&mut rng, &popularity))
                    } else if ty == Ty::Reaction && rng.chance(0.15) {
                        st.recent_reply(&mut rng).map(|r| r.0)
                    } else {
                        st.popular_post(&mut rng, &popularity)
                    }
                }
                _ => None,
            };
            if (matches!(ty, Ty::Reaction | Ty::Repost) && target.is_none())
                || (ty == Ty::Reply && st.posts.is_empty())
                || matches!(ty, Ty::ThreadReply(t) if st.roots[t].is_none())
            {
                ty = Ty::Post;
            }
            let body = match ty {
                Ty::Post | Ty::Root(_) => {
                    let tag_count = match rng.below(10) {
                        0..3 => 0,
                        3..7 => 1,
                        7..9 => 2,
                        _ => 3,
                    };
                    let c = content(&mut rng, 8, 30, tag_count, lang, &mut tag_uses);
                    let mut u =
                        UnsignedEvent::new(authors[author], created_at, Post { content: c });
                    let mentions = match rng.below(10) {
                        0..7 => 0,
                        7..9 => 1,
                        _ => 2,
                    };
                    for m in distinct(&mut rng, mentions, author, |r| popularity.sample(r)) {
                        u = u.ref_identity(Rel::Mention, authors[m]);
                    }
                    u
                }
                Ty::Reply | Ty::ThreadReply(_) => {
                    let (root, parent) = match ty {
                        Ty::ThreadReply(t) => {
                            let root = st.roots[t].expect("checked above");
                            let earlier = &st.thread_replies[t];
                            if earlier.is_empty() || rng.chance(0.5) {
                                (root, root)
                            } else {
                                (root, earlier[rng.below(earlier.len())])
                            }
                        }
                        _ => match st.recent_reply(&mut rng) {
                            Some((reply, root)) if rng.chance(0.3) => (root, reply),
                            _ => {
                                let p =
                                    st.popular_post(&mut rng, &popularity).expect("posts exist");
                                (p, p)
                            }
                        },
                    };
                    let tag_count = usize::from(rng.chance(0.1));
                    let c = content(&mut rng, 3, 15, tag_count, lang, &mut tag_uses);
                    UnsignedEvent::new(authors[author], created_at, Reply { content: c })
                        .ref_event(Rel::Root, root)
                        .ref_event(Rel::Parent, parent)
                }
                Ty::Reaction => {
                    let mut pick = rng.below(100);
                    let mut r = 0;
                    while pick >= reaction_weights[r] {
                        pick -= reaction_weights[r];
                        r += 1;
                    }
                    UnsignedEvent::new(
                        authors[author],
                        created_at,
                        Reaction {
                            reaction: ReactionType::ALL[r],
                        },
                    )
                    .ref_event(Rel::Target, target.expect("checked above"))
                }
                Ty::Repost => UnsignedEvent::new(authors[author], created_at, Repost {})
                    .ref_event(Rel::Target, target.expect("checked above")),
                Ty::Follow => {
                    let (who, whom) = follow_iter.next().expect("one pair per follow slot");
                    author = who;
                    UnsignedEvent::new(authors[who], created_at, Follow {})
                        .ref_identity(Rel::Subject, authors[whom])
                }
            };
            let id = body.id();
            *kinds.entry(body.kind().name()).or_default() += 1;
            match ty {
                Ty::Post | Ty::Root(_) => {
                    st.posts.push(id);
                    let recent = &mut st.author_posts[author];
                    if recent.len() == 8 {
                        recent.pop_front();
                    }
                    recent.push_back(id);
                    if let Ty::Root(t) = ty {
                        st.roots[t] = Some(id);
                    }
                }
                Ty::Reply | Ty::ThreadReply(_) => {
                    let root = body.refs[0].target;
                    let root = match root {
                        kith_protocol::RefTarget::Event(r) => r,
                        kith_protocol::RefTarget::Identity(_) => {
                            unreachable!("a reply's root is an event")
                        }
                    };
                    if let Ty::ThreadReply(t) = ty {
                        st.thread_replies[t].push(id);
                    } else {
                        if st.replies.len() == 10_000 {
                            st.replies.pop_front();
                        }
                        st.replies.push_back((id, root));
                    }
                }
                _ => {}
            }
            block.push((author, body));
        }
        build_secs += t_build.elapsed().as_secs_f64();
        let t_sign = Instant::now();
        let second = block.split_off(block.len() / 2);
        let sign = |part: Vec<(usize, UnsignedEvent)>| -> Vec<Vec<u8>> {
            part.into_iter()
                .map(|(a, u)| {
                    u.sign(&keys[a])
                        .expect("generated events are valid")
                        .as_bytes()
                        .to_vec()
                })
                .collect()
        };
        let (first, second) = std::thread::scope(|s| {
            let h = s.spawn(|| sign(second));
            let first = sign(block);
            (first, h.join().expect("signing thread"))
        });
        envelopes.extend(first);
        envelopes.extend(second);
        sign_secs += t_sign.elapsed().as_secs_f64();
        i = end;
        eprint!("\r  generated {i}/{n}");
    }
    eprintln!();
    let roots = st.roots.iter().flatten().copied().collect();
    Corpus {
        envelopes,
        authors,
        kinds,
        heavy,
        follow_lists,
        roots,
        thread_size,
        posts: st.posts,
        tags,
        tag_uses,
        words,
        build_secs,
        sign_secs,
    }
}

// ---------------------------------------------------------------- system

/// A `kB` line of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim_start_matches(':')
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(0)
        * 1024
}

/// A field of `/proc/self/io`.
fn io_field(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim_start_matches(':')
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// Clock ticks per second of `/proc` CPU times (USER_HZ, 100 on Linux).
const TICKS: f64 = 100.0;

/// `(comm, user + system seconds)` from a `/proc/.../stat` file.
fn stat_cpu(path: &Path) -> Option<(String, f64)> {
    let s = std::fs::read_to_string(path).ok()?;
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    let comm = s[open + 1..close].to_string();
    let fields: Vec<&str> = s[close + 2..].split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((comm, ticks as f64 / TICKS))
}

/// CPU seconds of every live thread, by thread id.
fn threads_cpu() -> HashMap<String, (String, f64)> {
    let mut out = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for entry in dir.flatten() {
            if let Some(c) = stat_cpu(&entry.path().join("stat")) {
                out.insert(entry.file_name().to_string_lossy().into_owned(), c);
            }
        }
    }
    out
}

/// CPU seconds the calling thread has used.
fn own_cpu() -> f64 {
    stat_cpu(Path::new("/proc/thread-self/stat")).map_or(0.0, |c| c.1)
}

/// CPU seconds the whole machine has spent busy (all cores, from `/proc/stat`).
fn machine_busy() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(cpu) = stat.lines().next() else {
        return 0.0;
    };
    let v: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy: u64 = [0, 1, 2, 5, 6, 7].iter().filter_map(|i| v.get(*i)).sum();
    busy as f64 / TICKS
}

fn process_cpu() -> f64 {
    stat_cpu(Path::new("/proc/self/stat")).map_or(0.0, |c| c.1)
}

/// CPU seconds per thread name used between two snapshots (threads alive at the second).
fn cpu_by_name(
    before: &HashMap<String, (String, f64)>,
    after: &HashMap<String, (String, f64)>,
) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (tid, (comm, secs)) in after {
        let prior = before.get(tid).map_or(0.0, |b| b.1);
        // Group numbered threads (sled-io-3, thrd-tantivy-index0...) by their stem.
        let stem = comm
            .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-')
            .to_string();
        *out.entry(stem).or_default() += secs - prior;
    }
    out.retain(|_, v| *v >= 0.05);
    out
}

/// Bytes files take on disk (allocated blocks, like `du`).
fn du(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_dir() {
        std::fs::read_dir(path)
            .map(|d| d.flatten().map(|e| du(&e.path())).sum())
            .unwrap_or(0)
    } else {
        meta.blocks() * 512
    }
}

// ---------------------------------------------------------------- verify and ingest

fn verify_chunk(chunk: &[Vec<u8>]) -> (Vec<Event>, usize) {
    let mut bad = 0;
    let decoded: Vec<Unverified> = chunk
        .iter()
        .filter_map(|b| Unverified::decode(b).map_err(|_| bad += 1).ok())
        .collect();
    let events: Vec<Event> = verify_batch(decoded)
        .into_iter()
        .filter_map(|r| r.map_err(|_| bad += 1).ok())
        .collect();
    (events, bad)
}

/// Decode + `verify_batch` of every envelope on `WORKERS` threads; (seconds, valid).
fn verify_reference(envelopes: &[Vec<u8>]) -> (f64, usize, usize) {
    let next = AtomicUsize::new(0);
    let chunks: Vec<&[Vec<u8>]> = envelopes.chunks(VERIFY_CHUNK).collect();
    let started = Instant::now();
    let (ok, bad) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WORKERS)
            .map(|_| {
                s.spawn(|| {
                    let (mut ok, mut bad) = (0, 0);
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(chunk) = chunks.get(i) else { break };
                        let (events, b) = verify_chunk(chunk);
                        ok += events.len();
                        bad += b;
                    }
                    (ok, bad)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("verify thread"))
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    });
    (started.elapsed().as_secs_f64(), ok, bad)
}

struct IngestRun {
    secs: f64,
    outcomes: BTreeMap<&'static str, usize>,
    invalid: usize,
    /// CPU seconds spent decoding and verifying (both workers).
    verify_cpu: f64,
    /// Seconds workers waited for room in the queue to the ingest threads.
    verify_blocked: f64,
    /// Per `ingest_blocking` call: time to acknowledgement.
    ack: Vec<Duration>,
    /// Seconds the ingest threads waited for verified events.
    ingest_starved: f64,
    threads: BTreeMap<String, f64>,
    process_cpu: f64,
    write_bytes: u64,
}

/// Decode + verify (`WORKERS` threads, `verify_batch` of 1024) feeding
/// `ingest_threads` threads that call `ingest_blocking` with `chunk` events.
fn ingest(store: &Store, envelopes: &[Vec<u8>], chunk: usize, ingest_threads: usize) -> IngestRun {
    let cpu_before = threads_cpu();
    let process_before = process_cpu();
    let write_before = io_field("write_bytes");
    let groups: Vec<&[Vec<u8>]> = envelopes.chunks(chunk).collect();
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<Vec<Event>>(2);
    let rx = Mutex::new(rx);
    let started = Instant::now();
    let (workers, storers) = std::thread::scope(|s| {
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let tx = tx.clone();
                let (groups, next) = (&groups, &next);
                std::thread::Builder::new()
                    .name(format!("bench-verify-{w}"))
                    .spawn_scoped(s, move || {
                        let (mut invalid, mut blocked) = (0, Duration::ZERO);
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(group) = groups.get(i) else { break };
                            let mut events = Vec::with_capacity(group.len());
                            for part in group.chunks(VERIFY_CHUNK) {
                                let (ok, bad) = verify_chunk(part);
                                events.extend(ok);
                                invalid += bad;
                            }
                            let t = Instant::now();
                            if tx.send(events).is_err() {
                                break;
                            }
                            blocked += t.elapsed();
                        }
                        (invalid, blocked, own_cpu())
                    })
                    .expect("spawn")
            })
            .collect();
        drop(tx);
        let storers: Vec<_> = (0..ingest_threads)
            .map(|w| {
                let rx = &rx;
                std::thread::Builder::new()
                    .name(format!("bench-ingest-{w}"))
                    .spawn_scoped(s, move || {
                        let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
                        let mut ack = Vec::new();
                        let mut starved = Duration::ZERO;
                        loop {
                            let t = Instant::now();
                            let batch = rx.lock().expect("queue lock").recv();
                            starved += t.elapsed();
                            let Ok(batch) = batch else { break };
                            let t = Instant::now();
                            let out = store.ingest_blocking(batch).expect("ingest");
                            ack.push(t.elapsed());
                            for o in &out {
                                *outcomes.entry(outcome_name(o)).or_default() += 1;
                            }
                        }
                        (outcomes, ack, starved)
                    })
                    .expect("spawn")
            })
            .collect();
        let workers: Vec<_> = workers
            .into_iter()
            .map(|h| h.join().expect("verify thread"))
            .collect();
        let storers: Vec<_> = storers
            .into_iter()
            .map(|h| h.join().expect("ingest thread"))
            .collect();
        (workers, storers)
    });
    let secs = started.elapsed().as_secs_f64();
    let mut threads = cpu_by_name(&cpu_before, &threads_cpu());
    let mut run = IngestRun {
        secs,
        outcomes: BTreeMap::new(),
        invalid: 0,
        verify_cpu: 0.0,
        verify_blocked: 0.0,
        ack: Vec::new(),
        ingest_starved: 0.0,
        threads: BTreeMap::new(),
        process_cpu: process_cpu() - process_before,
        write_bytes: io_field("write_bytes") - write_before,
    };
    for (invalid, blocked, cpu) in workers {
        run.invalid += invalid;
        run.verify_blocked += blocked.as_secs_f64();
        run.verify_cpu += cpu;
    }
    for (outcomes, ack, starved) in storers {
        for (k, v) in outcomes {
            *run.outcomes.entry(k).or_default() += v;
        }
        run.ack.extend(ack);
        run.ingest_starved += starved.as_secs_f64();
    }
    threads.insert("bench-verify (2 workers)".into(), run.verify_cpu);
    run.threads = threads;
    run
}

// ---------------------------------------------------------------- latency

struct Latency {
    name: String,
    samples: usize,
    p50_us: f64,
    p99_us: f64,
    max_us: f64,
    mean_us: f64,
    /// Mean number of results per call.
    rows: f64,
    target_us: f64,
}

impl Latency {
    fn ok(&self) -> bool {
        self.p99_us < self.target_us
    }

    fn json(&self) -> Value {
        json!({
            "samples": self.samples,
            "p50_us": round1(self.p50_us),
            "p99_us": round1(self.p99_us),
            "max_us": round1(self.max_us),
            "mean_us": round1(self.mean_us),
            "rows": round1(self.rows),
            "target_p99_us": self.target_us,
            "ok": self.ok(),
        })
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e6
}

fn latency_of(name: &str, mut times: Vec<Duration>, rows: usize, target_us: f64) -> Latency {
    times.sort();
    let n = times.len().max(1);
    Latency {
        name: name.to_string(),
        samples: times.len(),
        p50_us: percentile(&times, 0.50),
        p99_us: percentile(&times, 0.99),
        max_us: times.last().map_or(0.0, |d| d.as_secs_f64() * 1e6),
        mean_us: times.iter().map(Duration::as_secs_f64).sum::<f64>() * 1e6 / n as f64,
        rows: rows as f64 / n as f64,
        target_us,
    }
}

/// Runs `op` (which returns how many results it got) `WARM_UP + samples` times.
fn measure(
    name: &str,
    samples: usize,
    target_us: f64,
    seed: u64,
    mut op: impl FnMut(&mut Rng) -> usize,
) -> Latency {
    let mut rng = Rng(seed);
    for _ in 0..WARM_UP {
        op(&mut rng);
    }
    let mut times = Vec::with_capacity(samples);
    let mut rows = 0;
    for _ in 0..samples {
        let t = Instant::now();
        rows += op(&mut rng);
        times.push(t.elapsed());
    }
    let l = latency_of(name, times, rows, target_us);
    eprintln!(
        "  {:<44} p50 {:>9.1} µs  p99 {:>9.1} µs",
        l.name, l.p50_us, l.p99_us
    );
    l
}

fn queries(store: &Store, c: &Corpus, samples: usize) -> Vec<Latency> {
    const TARGET: f64 = 5_000.0;
    let mut out = Vec::new();
    out.push(measure(
        "author timeline, page of 50 (top-1000 authors)",
        samples,
        TARGET,
        1,
        |r| {
            let a = c.authors[r.below(1000)];
            store
                .author_timeline(&a, false, None, PAGE)
                .expect("query")
                .events
                .len()
        },
    ));
    out.push(measure(
        "author timeline, page 2 (cursor)",
        samples,
        TARGET,
        2,
        |r| {
            let a = c.authors[r.below(1000)];
            let first = store.author_timeline(&a, false, None, PAGE).expect("query");
            match first.next {
                Some(cursor) => store
                    .author_timeline(&a, false, Some(cursor), PAGE)
                    .expect("query")
                    .events
                    .len(),
                None => 0,
            }
        },
    ));
    for (label, who) in &c.heavy {
        let follows = store.follow_set(&c.authors[*who]).expect("follow set");
        assert_eq!(follows.len(), 500, "the heavy author follows 500");
        let name = format!("home timeline, 500 follows ({label}), page 1");
        out.push(measure(&name, samples, TARGET, 3, |_| {
            let follows: std::collections::HashSet<_> = store
                .follow_set(&c.authors[*who])
                .expect("follow set")
                .into_iter()
                .collect();
            store
                .home_timeline(&follows, None, PAGE)
                .expect("home")
                .events
                .len()
        }));
    }
    let root_stats = store.stats(&c.roots, None).expect("stats");
    for (root, s) in c.roots.iter().zip(&root_stats) {
        let page = store.thread(root, None, PAGE).expect("thread");
        // Ordinary replies may land in a hot thread too.
        assert!(page.total >= c.thread_size, "thread size");
        assert_eq!(s.thread_replies as usize, page.total, "thread counter");
        eprintln!("  thread {root}: {} replies", page.total);
    }
    out.push(measure(
        &format!("thread of {}, first page of 50", c.thread_size),
        samples,
        TARGET,
        4,
        |r| {
            let root = c.roots[r.below(c.roots.len())];
            store
                .thread(&root, None, PAGE)
                .expect("thread")
                .replies
                .len()
        },
    ));
    // Where page 10 of each thread starts, found outside the timing.
    let page10: Vec<(EventId, Option<EventId>)> = c
        .roots
        .iter()
        .map(|root| {
            let mut after = None;
            for _ in 0..9 {
                after = store.thread(root, after, PAGE).expect("thread").next;
            }
            (*root, after)
        })
        .collect();
    out.push(measure(
        &format!("thread of {}, page 10 (after a reply)", c.thread_size),
        samples,
        TARGET,
        5,
        |r| {
            let (root, after) = page10[r.below(page10.len())];
            store
                .thread(&root, after, PAGE)
                .expect("thread")
                .replies
                .len()
        },
    ));
    out.push(measure(
        &format!("thread of {}, whole walk (pages of 50)", c.thread_size),
        samples,
        TARGET * 20.0,
        6,
        |r| {
            let root = c.roots[r.below(c.roots.len())];
            let mut after = None;
            let mut total = 0;
            loop {
                let page = store.thread(&root, after, PAGE).expect("thread");
                total += page.replies.len();
                match page.next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            total
        },
    ));
    out.push(measure(
        "stats (counts + mine) for 50 events",
        samples,
        TARGET,
        7,
        |r| {
            // 50 consecutive posts: a page of a busy timeline.
            let start = r.below(c.posts.len().saturating_sub(PAGE).max(1));
            let ids = &c.posts[start..(start + PAGE).min(c.posts.len())];
            let viewer = c.authors[r.below(AUTHORS)];
            let stats = store.stats(ids, Some(&viewer)).expect("stats");
            stats
                .iter()
                .map(|s| s.reactions.iter().sum::<u64>() as usize)
                .sum()
        },
    ));
    let popular: Vec<usize> = (0..10).collect();
    let rare: Vec<usize> = {
        let mut v: Vec<usize> = (0..TAGS)
            .filter(|t| (1..PAGE as u32).contains(&c.tag_uses[*t]))
            .collect();
        if v.is_empty() {
            v = vec![TAGS - 1];
        }
        v
    };
    out.push(measure(
        "hashtag page of 50, popular tags (top 10)",
        samples,
        TARGET,
        8,
        |r| {
            let tag = &c.tags[popular[r.below(popular.len())]];
            let f = Filter {
                hashtags: vec![tag.clone()],
                limit: PAGE,
                ..Filter::default()
            };
            store.query(&f, None).expect("hashtag").events.len()
        },
    ));
    out.push(measure(
        "hashtag page of 50, rare tags (<50 uses)",
        samples,
        TARGET,
        9,
        |r| {
            let tag = &c.tags[rare[r.below(rare.len())]];
            let f = Filter {
                hashtags: vec![tag.clone()],
                limit: PAGE,
                ..Filter::default()
            };
            store.query(&f, None).expect("hashtag").events.len()
        },
    ));
    out.push(measure(
        "followers page of 50, top-100 popular",
        samples,
        TARGET,
        10,
        |r| {
            let a = c.authors[r.below(100)];
            store.followers(&a, None, PAGE).expect("followers").len()
        },
    ));
    out.push(measure(
        "followers page of 50, any author",
        samples,
        TARGET,
        11,
        |r| {
            let a = c.authors[r.below(AUTHORS)];
            store.followers(&a, None, PAGE).expect("followers").len()
        },
    ));
    out
}

/// Search queries: 1–3 words, some with typos, some with a language or kind filter.
fn search_queries(c: &Corpus, samples: usize) -> Vec<(&'static str, SearchQuery)> {
    let mut rng = Rng(0x5ea2c4);
    let zipf = Zipf::new(WORDS, 1.05);
    // People search for content words more than for the commonest ones.
    let content = Zipf::new(6_000 - 100, 0.8);
    (0..samples)
        .map(|_| {
            let n = match rng.below(10) {
                0..5 => 1,
                5..8 => 2,
                _ => 3,
            };
            let mut words: Vec<String> = (0..n)
                .map(|_| {
                    let rank = if rng.chance(0.6) {
                        100 + content.sample(&mut rng)
                    } else {
                        zipf.sample(&mut rng)
                    };
                    c.words[rank].clone()
                })
                .collect();
            let mut class = "plain";
            if rng.chance(0.3) {
                // One substituted letter in the longest word (made at least 5
                // letters long): within the distance the search allows.
                let longest = (0..words.len())
                    .max_by_key(|i| words[*i].len())
                    .unwrap_or(0);
                while words[longest].len() < 5 {
                    words[longest] = c.words[100 + content.sample(&mut rng)].clone();
                }
                let mut b = words[longest].clone().into_bytes();
                let at = rng.below(b.len());
                b[at] = if b[at] == b'x' { b'y' } else { b'x' };
                words[longest] = String::from_utf8(b).expect("ascii");
                class = "typo";
            }
            let mut q = SearchQuery {
                text: words.join(" "),
                limit: 20,
                ..SearchQuery::default()
            };
            match rng.below(10) {
                0..2 => {
                    q.lang = Some(LANGS[rng.below(LANGS.len())].to_string());
                    class = if class == "typo" {
                        "typo+filter"
                    } else {
                        "lang"
                    };
                }
                2..4 => {
                    q.kinds = vec![if rng.chance(0.5) {
                        Kind::Post
                    } else {
                        Kind::Reply
                    }];
                    class = if class == "typo" {
                        "typo+filter"
                    } else {
                        "kind"
                    };
                }
                _ => {}
            }
            (class, q)
        })
        .collect()
}

fn search_latency(store: &Store, c: &Corpus, samples: usize) -> (Vec<Latency>, usize) {
    const TARGET: f64 = 20_000.0;
    let qs = search_queries(c, samples + WARM_UP);
    for (_, q) in &qs[..WARM_UP] {
        store.search(q).expect("search");
    }
    let mut by_class: BTreeMap<&str, (Vec<Duration>, usize)> = BTreeMap::new();
    let mut all = Vec::with_capacity(samples);
    let mut rows = 0;
    let mut empty = 0;
    for (class, q) in &qs[WARM_UP..] {
        let t = Instant::now();
        let hits = store.search(q).expect("search").len();
        let d = t.elapsed();
        all.push(d);
        rows += hits;
        empty += usize::from(hits == 0);
        let e = by_class.entry(class).or_default();
        e.0.push(d);
        e.1 += hits;
    }
    let mut out = vec![latency_of(
        "search, all queries (1-3 words, limit 20)",
        all,
        rows,
        TARGET,
    )];
    for (class, (times, rows)) in by_class {
        out.push(latency_of(&format!("search, {class}"), times, rows, TARGET));
    }
    for l in &out {
        eprintln!(
            "  {:<44} p50 {:>9.1} µs  p99 {:>9.1} µs",
            l.name, l.p50_us, l.p99_us
        );
    }
    (out, empty)
}

// ---------------------------------------------------------------- report

fn mib(b: u64) -> f64 {
    b as f64 / (1 << 20) as f64
}

fn open_store(base: &Path, search: bool) -> (tempfile::TempDir, Store) {
    let dir = tempfile::Builder::new()
        .prefix("kith-store-bench-")
        .tempdir_in(base)
        .expect("temp dir");
    let mut config = StoreConfig::new(dir.path());
    config.search = search;
    if let Some(mb) = std::env::var("KITH_BENCH_CACHE_MB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        config.cache_bytes = mb << 20;
    }
    let store = Store::open(config).expect("open store");
    // Events waiting for a dependency that never comes (revocations of unknown
    // delegations), as a node in a network usually has some.
    let parked = env_usize("KITH_BENCH_PENDING", 0);
    if parked > 0 {
        let k = key(AUTHORS + 1);
        let events: Vec<Event> = (0..parked)
            .map(|i| {
                let mut digest = [0x5au8; 32];
                digest[..8].copy_from_slice(&(i as u64).to_be_bytes());
                UnsignedEvent::new(k.public(), T0, Revocation::default())
                    .ref_event(Rel::Target, EventId::from_digest(digest))
                    .sign(&k)
                    .expect("valid revocation")
            })
            .collect();
        let out = store.ingest_blocking(events).expect("ingest parked");
        assert!(
            out.iter()
                .all(|o| matches!(o, IngestOutcome::Pending { .. })),
            "parked: {out:?}"
        );
    }
    (dir, store)
}

/// CPU seconds of the store's writer thread (its name is cut to 15 bytes in `/proc`).
fn writer_cpu(run: &IngestRun) -> f64 {
    run.threads
        .iter()
        .filter(|(k, _)| k.starts_with("kith-store-wr"))
        .map(|(_, v)| v)
        .sum()
}

fn ingest_json(run: &IngestRun, n: usize, verify_rate: f64) -> Value {
    let mut ack = run.ack.clone();
    ack.sort();
    json!({
        "secs": round1(run.secs),
        "events_per_s": (n as f64 / run.secs).round(),
        "ratio_to_verify": (n as f64 / run.secs / verify_rate * 1000.0).round() / 1000.0,
        "outcomes": run.outcomes,
        "invalid": run.invalid,
        "verify_cpu_s": round1(run.verify_cpu),
        "verify_blocked_s": round1(run.verify_blocked),
        "ingest_starved_s": round1(run.ingest_starved),
        "ack_p50_ms": round1(percentile(&ack, 0.5) / 1000.0),
        "ack_p99_ms": round1(percentile(&ack, 0.99) / 1000.0),
        "process_cpu_s": round1(run.process_cpu),
        "writer_cpu_us_per_event": round1(writer_cpu(run) * 1e6 / n as f64),
        "cpu_by_thread_s": run.threads.iter().map(|(k, v)| (k.clone(), json!(round1(*v)))).collect::<serde_json::Map<_, _>>(),
        "disk_write_bytes": run.write_bytes,
    })
}

fn print_ingest(label: &str, run: &IngestRun, n: usize, verify_rate: f64) {
    let rate = n as f64 / run.secs;
    let ratio = rate / verify_rate;
    let mut ack = run.ack.clone();
    ack.sort();
    let ok = rate >= 30_000.0 && ratio >= 0.3;
    println!(
        "{:<46} {:>14} {:>22} {}",
        format!("ingest ({label}) events/s"),
        format!("{rate:.0}"),
        "≥ 30,000",
        if ok { "ok" } else { "MISSED" }
    );
    println!(
        "{:<46} {:>14} {:>22} {}",
        format!("ingest ({label}) / verify ratio"),
        format!("{ratio:.3}"),
        "≥ 0.3",
        if ratio >= 0.3 { "ok" } else { "MISSED" }
    );
    println!(
        "{:<46} {:>14.1}",
        format!("ingest ({label}) wall s"),
        run.secs
    );
    println!(
        "{:<46} {:>14}",
        format!("ingest ({label}) ack p50 / p99 ms"),
        format!(
            "{:.1} / {:.1}",
            percentile(&ack, 0.5) / 1000.0,
            percentile(&ack, 0.99) / 1000.0
        )
    );
    println!(
        "{:<46} {:>14}",
        format!("ingest ({label}) outcomes"),
        run.outcomes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "{:<46} {:>14}",
        format!(
            "ingest ({label}) CPU s (process, of {:.0} avail.)",
            run.secs * WORKERS as f64
        ),
        format!("{:.1}", run.process_cpu)
    );
    for (name, secs) in &run.threads {
        println!("{:<46} {:>14.1}", format!("   CPU s in {name}"), secs);
    }
    println!(
        "{:<46} {:>14.1}",
        "   writer thread CPU µs / event",
        writer_cpu(run) * 1e6 / n as f64
    );
    println!(
        "{:<46} {:>14}",
        "   verify blocked / ingest starved s",
        format!("{:.1} / {:.1}", run.verify_blocked, run.ingest_starved)
    );
    println!(
        "{:<46} {:>14.0}",
        format!("ingest ({label}) bytes written to disk / event"),
        run.write_bytes as f64 / n as f64
    );
}

fn main() {
    let n = env_usize("KITH_BENCH_EVENTS", 1_000_000).max(1_000);
    let samples = env_usize("KITH_BENCH_SAMPLES", 1_000).max(1);
    let search_samples = env_usize("KITH_BENCH_SEARCH_SAMPLES", 1_000).max(1);
    let search_off = env_usize("KITH_BENCH_SEARCH_OFF", 1) != 0;
    let chunk = env_usize("KITH_BENCH_INGEST_CHUNK", 4096).max(1);
    let ingest_threads = env_usize("KITH_BENCH_INGEST_THREADS", 2).max(1);
    let base = std::env::var_os("KITH_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
    let load_start = load_average();
    let (busy_start, own_start, wall_start) = (machine_busy(), process_cpu(), Instant::now());
    eprintln!("kith-storage bench: {n} events, {cores} cores, load average {load_start:?}");

    eprintln!("[1/6] generating and signing");
    let corpus = generate(n);
    let envelope_bytes: usize = corpus.envelopes.iter().map(Vec::len).sum();
    let envelope_heap: usize = corpus.envelopes.iter().map(|e| e.capacity() + 24).sum();
    let rss_corpus = status_bytes("VmRSS");

    eprintln!("[2/6] reference: decode + verify_batch of every event");
    let (verify_secs, verified, invalid) = verify_reference(&corpus.envelopes);
    assert_eq!(invalid, 0, "every generated event verifies");
    let verify_rate = verified as f64 / verify_secs;
    eprintln!("  {verify_rate:.0} events/s");

    eprintln!("[3/6] ingest, search on");
    let (dir, store) = open_store(&base, true);
    let on = ingest(&store, &corpus.envelopes, chunk, ingest_threads);
    eprintln!("  {:.0} events/s", n as f64 / on.secs);
    let last_seq = store.last_seq().expect("last seq");
    let t = Instant::now();
    let search = store.search_index().expect("search is on");
    let caught_up = search.wait_indexed(last_seq, Duration::from_secs(3600));
    let catch_up_secs = t.elapsed().as_secs_f64();
    let searchable_rate = n as f64 / (on.secs + catch_up_secs);
    eprintln!("  search caught up {catch_up_secs:.1} s after the last ack");

    eprintln!("[4/6] disk and memory");
    let sled_estimate = store.size_on_disk().expect("size");
    let store_du = du(&dir.path().join(STORE_DIR));
    let search_du = du(&dir.path().join(SEARCH_DIR));
    let disk = sled_estimate + search_du;

    eprintln!("[5/6] queries ({samples} samples each, after {WARM_UP} warm-up)");
    let query_rows = queries(&store, &corpus, samples);
    eprintln!("[6/6] search ({search_samples} queries)");
    let (search_rows, empty_searches) = search_latency(&store, &corpus, search_samples);
    let hwm_on = status_bytes("VmHWM");
    drop(store);
    drop(dir);

    let off = if search_off {
        eprintln!("[+] ingest, search off");
        let (dir, store) = open_store(&base, false);
        let run = ingest(&store, &corpus.envelopes, chunk, ingest_threads);
        eprintln!("  {:.0} events/s", n as f64 / run.secs);
        let sled_off = store.size_on_disk().expect("size");
        drop(store);
        drop(dir);
        Some((run, sled_off))
    } else {
        None
    };
    let hwm = status_bytes("VmHWM");
    let load_end = load_average();
    let wall = wall_start.elapsed().as_secs_f64();
    let others = ((machine_busy() - busy_start) - (process_cpu() - own_start)).max(0.0);

    // ------------------------------------------------------------ table
    let line = "-".repeat(100);
    println!();
    println!("Kith storage benchmark: {n} events, {cores} cores (available_parallelism)");
    println!(
        "load average at start {load_start:?}, at end {load_end:?} (the end includes this bench); \
         other processes used {:.2} cores on average over the {:.0} s run",
        others / wall,
        wall
    );
    if load_start.first().is_some_and(|l| *l > 1.5) || others / wall > 0.25 {
        println!("WARNING: the machine was busy (other processes); numbers are pessimistic");
    }
    let defaults = StoreConfig::new(".");
    println!(
        "store: StoreConfig defaults (flush {:?}, max_batch {}, cache {} MiB{}), {} events parked before ingest; \
         ingest_blocking calls of {chunk} events from {ingest_threads} threads",
        defaults.flush_interval,
        defaults.max_batch,
        std::env::var("KITH_BENCH_CACHE_MB")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(defaults.cache_bytes >> 20),
        if std::env::var_os("KITH_BENCH_CACHE_MB").is_some() {
            " from KITH_BENCH_CACHE_MB"
        } else {
            ""
        },
        env_usize("KITH_BENCH_PENDING", 0),
    );
    println!("{line}");
    println!(
        "corpus: {} authors ({} with follow lists), kinds {:?}, {} threads of {}",
        AUTHORS,
        corpus.follow_lists,
        corpus.kinds,
        corpus.roots.len(),
        corpus.thread_size
    );
    println!(
        "        {} tags (top tag {} uses, {} tags used 1-49 times), {} languages + none, {} words",
        TAGS,
        corpus.tag_uses[0],
        corpus
            .tag_uses
            .iter()
            .filter(|u| (1..50).contains(*u))
            .count(),
        LANGS.len(),
        corpus.words.len()
    );
    println!(
        "        envelopes {:.1} MiB ({:.0} B/event, {:.1} MiB on the heap), build {:.1} s, sign {:.1} s on 2 threads ({:.0} events/s)",
        mib(envelope_bytes as u64),
        envelope_bytes as f64 / n as f64,
        mib(envelope_heap as u64),
        corpus.build_secs,
        corpus.sign_secs,
        n as f64 / corpus.sign_secs
    );
    println!("{line}");
    println!("{:<46} {:>14} {:>22}", "metric", "value", "target");
    println!(
        "{:<46} {:>14.0}",
        "verify reference (decode + verify_batch) ev/s", verify_rate
    );
    print_ingest("search on", &on, n, verify_rate);
    println!(
        "{:<46} {:>14}",
        "search caught up after last ack (s)",
        format!(
            "{catch_up_secs:.1}{}",
            if caught_up { "" } else { " (TIMED OUT)" }
        )
    );
    println!(
        "{:<46} {:>14.0}",
        "ingest until searchable, events/s", searchable_rate
    );
    if let Some((run, sled_off)) = &off {
        print_ingest("search off", run, n, verify_rate);
        println!(
            "{:<46} {:>14.0}",
            "disk B/event, search off (sled estimate)",
            *sled_off as f64 / n as f64
        );
    }
    println!(
        "{:<46} {:>14.0}",
        "disk B/event (sled estimate + search du)",
        disk as f64 / n as f64
    );
    println!(
        "{:<46} {:>14}",
        "   sled estimate / store du / search du MiB",
        format!(
            "{:.0} / {:.0} / {:.0}",
            mib(sled_estimate),
            mib(store_du),
            mib(search_du)
        )
    );
    println!(
        "{:<46} {:>14}",
        "peak RSS (VmHWM) MiB, search-on run / whole",
        format!("{:.0} / {:.0}", mib(hwm_on), mib(hwm))
    );
    println!(
        "{:<46} {:>14.0}",
        "   of which the corpus (RSS after generation) MiB",
        mib(rss_corpus)
    );
    println!("{line}");
    println!(
        "{:<46} {:>8} {:>10} {:>10} {:>10} {:>8} {:>9} ",
        "query (µs)", "samples", "p50", "p99", "max", "rows", "p99 <"
    );
    for l in query_rows.iter().chain(&search_rows) {
        println!(
            "{:<46} {:>8} {:>10.1} {:>10.1} {:>10.1} {:>8.1} {:>9.0} {}",
            l.name,
            l.samples,
            l.p50_us,
            l.p99_us,
            l.max_us,
            l.rows,
            l.target_us,
            if l.ok() { "ok" } else { "MISSED" }
        );
    }
    println!("searches with no hits: {empty_searches} of {search_samples}");
    println!("{line}");

    let key_name = |name: &str| {
        name.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect::<String>()
            .split('_')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("_")
    };
    let json = json!({
        "bench": "kith-storage/store",
        "events": n,
        "cores": cores,
        "load_start": load_start,
        "load_end": load_end,
        "other_processes_cores": (others / wall * 100.0).round() / 100.0,
        "wall_s": wall.round(),
        "parked_before_ingest": env_usize("KITH_BENCH_PENDING", 0),
        "cache_bytes": std::env::var("KITH_BENCH_CACHE_MB").ok().and_then(|v| v.parse::<u64>().ok()).map_or(StoreConfig::new(".").cache_bytes, |mb| mb << 20),
        "corpus": {
            "authors": AUTHORS,
            "follow_lists": corpus.follow_lists,
            "kinds": corpus.kinds,
            "threads": corpus.roots.len(),
            "thread_size": corpus.thread_size,
            "envelope_bytes": envelope_bytes,
            "envelope_heap_bytes": envelope_heap,
            "build_s": round1(corpus.build_secs),
            "sign_s": round1(corpus.sign_secs),
        },
        "verify_events_per_s": verify_rate.round(),
        "ingest_search_on": ingest_json(&on, n, verify_rate),
        "search_catch_up_s": round1(catch_up_secs),
        "search_caught_up": caught_up,
        "searchable_events_per_s": searchable_rate.round(),
        "ingest_search_off": off.as_ref().map(|(run, _)| ingest_json(run, n, verify_rate)),
        "disk": {
            "bytes_per_event": (disk as f64 / n as f64).round(),
            "sled_estimate_bytes": sled_estimate,
            "store_du_bytes": store_du,
            "search_du_bytes": search_du,
            "search_off_sled_estimate_bytes": off.as_ref().map(|(_, s)| *s),
        },
        "memory": {
            "vm_hwm_search_on_bytes": hwm_on,
            "vm_hwm_bytes": hwm,
            "corpus_rss_bytes": rss_corpus,
        },
        "queries": query_rows.iter().map(|l| (key_name(&l.name), l.json())).collect::<serde_json::Map<_, _>>(),
        "search": search_rows.iter().map(|l| (key_name(&l.name), l.json())).collect::<serde_json::Map<_, _>>(),
        "search_empty": empty_searches,
    });
    println!("{json}");
}
