//! How fast can an embedded engine take the rows the Kith store writes?
//!
//! Every event of the storage benchmark becomes, on average, about eight rows
//! in one atomic batch: the event by id (a duplicate check reads it first),
//! the log entry with the envelope (~300 bytes, sequential key), the author and
//! kind timelines, a reference row, a counter (read, then written), a hashtag
//! and a mention row. This program writes exactly that shape, 4,096 events per
//! atomic batch with an fsync after each, into one engine at a time, each in
//! its own child process so peak memory is per engine.
//!
//! ```text
//! cargo run --release --manifest-path storage/engines/Cargo.toml -- 1000000
//! cargo run --release --manifest-path storage/engines/Cargo.toml -- 200000 sled fjall
//! ```
//!
//! It measures the engine alone: no signature checks, no Kith code. Whatever
//! it reports for an engine is a ceiling for the store built on that engine.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use sha2::{Digest, Sha256};

const ENGINES: [&str; 4] = ["sled", "sled-alpha", "fjall", "redb"];
const BATCH: u64 = 4096;
const CACHE: usize = 256 << 20;

fn digest(n: u64, salt: u8) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([salt]);
    h.update(n.to_be_bytes());
    h.finalize().into()
}

/// One row to write; `read_first` rows are read before they are written
/// (duplicate check, counter increment).
struct Row {
    key: Vec<u8>,
    value: Vec<u8>,
    read_first: bool,
}

fn rows(i: u64) -> [Row; 8] {
    let id = digest(i, 0);
    let author = digest(i % 10_000, 1);
    let target = digest(i / 3, 0);
    let t = (1_700_000_000_000u64 + i * 10).to_be_bytes();
    let row = |parts: &[&[u8]], value: Vec<u8>, read_first| Row {
        key: parts.concat(),
        value,
        read_first,
    };
    [
        row(&[b"e", &id], i.to_be_bytes().to_vec(), true),
        row(&[b"q", &i.to_be_bytes()], vec![7u8; 300], false),
        row(&[b"b", &author, &[1], &t, &id], vec![], false),
        row(&[b"k", &[1], &t, &id], author.to_vec(), false),
        row(&[b"r", &target, &[2, 1], &t, &id], author.to_vec(), false),
        row(&[b"n", &target, &[3]], i.to_be_bytes().to_vec(), true),
        row(&[b"h", &digest(i % 2000, 2)[..8], &[0], &t, &id], author.to_vec(), false),
        row(&[b"p", &digest(i % 5000, 1), &[4, 1], &t, &id], author.to_vec(), false),
    ]
}

/// Writes `n` events into `engine` at `dir`; returns (seconds, rows).
fn run(engine: &str, dir: &Path, n: u64) -> (f64, u64) {
    let start = Instant::now();
    let mut written = 0u64;
    let batches = (0..n).step_by(BATCH as usize).map(|i| i..(i + BATCH).min(n));
    match engine {
        "sled" => {
            let db = sled::Config::new().path(dir).cache_capacity(CACHE as u64).open().expect("open");
            for range in batches {
                let mut b = sled::Batch::default();
                for row in range.flat_map(rows) {
                    if row.read_first {
                        db.get(&row.key).expect("get");
                    }
                    b.insert(row.key, row.value);
                    written += 1;
                }
                db.apply_batch(b).expect("apply");
                db.flush().expect("flush");
            }
        }
        "sled-alpha" => {
            let db: sled_alpha::Db =
                sled_alpha::Config::new().path(dir).cache_capacity_bytes(CACHE).open().expect("open");
            for range in batches {
                let mut b = sled_alpha::Batch::default();
                for row in range.flat_map(rows) {
                    if row.read_first {
                        db.get(&row.key).expect("get");
                    }
                    b.insert(row.key, row.value);
                    written += 1;
                }
                db.apply_batch(b).expect("apply");
                db.flush().expect("flush");
            }
        }
        "fjall" => {
            let ks = fjall::Config::new(dir).cache_size(CACHE as u64).open().expect("open");
            let p = ks
                .open_partition("store", fjall::PartitionCreateOptions::default())
                .expect("partition");
            for range in batches {
                let mut b = ks.batch();
                for row in range.flat_map(rows) {
                    if row.read_first {
                        p.get(&row.key).expect("get");
                    }
                    b.insert(&p, row.key, row.value);
                    written += 1;
                }
                b.commit().expect("commit");
                ks.persist(fjall::PersistMode::SyncAll).expect("fsync");
            }
        }
        "redb" => {
            use redb::ReadableTable;
            const TABLE: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("store");
            std::fs::create_dir_all(dir).expect("dir");
            let db = redb::Database::builder()
                .set_cache_size(CACHE)
                .create(dir.join("store.redb"))
                .expect("open");
            for range in batches {
                let tx = db.begin_write().expect("begin");
                {
                    let mut table = tx.open_table(TABLE).expect("table");
                    for row in range.flat_map(rows) {
                        if row.read_first {
                            table.get(row.key.as_slice()).expect("get");
                        }
                        table.insert(row.key.as_slice(), row.value.as_slice()).expect("insert");
                        written += 1;
                    }
                }
                tx.commit().expect("commit");
            }
        }
        other => panic!("unknown engine {other}; one of {ENGINES:?}"),
    }
    (start.elapsed().as_secs_f64(), written)
}

fn du(path: &Path) -> u64 {
    fn walk(p: &Path) -> u64 {
        let Ok(meta) = std::fs::symlink_metadata(p) else { return 0 };
        if meta.is_dir() {
            std::fs::read_dir(p)
                .map(|rd| rd.flatten().map(|e| walk(&e.path())).sum())
                .unwrap_or(0)
        } else {
            meta.len()
        }
    }
    walk(path)
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        let (engine, n, dir) = (&args[2], args[3].parse().expect("n"), PathBuf::from(&args[4]));
        let (secs, written) = run(engine, &dir, n);
        println!(
            "{engine}\t{n}\t{secs:.2}\t{:.0}\t{:.2}\t{:.0}\t{:.0}",
            n as f64 / secs,
            secs * 1e6 / written as f64,
            du(&dir) as f64 / n as f64,
            peak_rss_kib() as f64 / 1024.0
        );
        return;
    }
    let n: u64 = args.get(1).map_or(1_000_000, |s| s.parse().expect("events"));
    let chosen: Vec<&str> = if args.len() > 2 {
        args[2..].iter().map(String::as_str).collect()
    } else {
        ENGINES.to_vec()
    };
    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
    println!("{n} events x 8 rows, {BATCH} events per atomic batch + fsync, cache {} MiB, {cores} cores", CACHE >> 20);
    println!("engine\tevents\tsecs\tevents/s\tus/row\tdisk B/event\tpeak RSS MiB");
    let me = std::env::current_exe().expect("exe");
    for engine in chosen {
        let dir = std::env::temp_dir().join(format!("kith-engine-bench-{engine}-{}", std::process::id()));
        let status = Command::new(&me)
            .args(["--child", engine, &n.to_string()])
            .arg(&dir)
            .status()
            .expect("child");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(status.success(), "{engine} failed");
    }
}
