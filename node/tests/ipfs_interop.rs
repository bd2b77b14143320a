//! Interoperability with an IPFS implementation we did not write: a Node.js
//! Helia peer (`@helia/utils` + `@helia/unixfs` + `@helia/block-brokers`'
//! bitswap on js-libp2p, `tests/interop/helia/`) and a Kith node exchange
//! UnixFS files over bitswap 1.2.0 on loopback, in both directions:
//!
//! 1. Kith adds a multi-chunk file; Helia dials Kith and `unixfs.cat`s it.
//! 2. Helia hangs up and `unixfs.addBytes` another file; Kith dials Helia and
//!    `cat_unixfs`es it with Helia as the provider.
//!
//! A second test has Helia wait past its bitswap stream idle timeout before
//! it asks Kith for a file.
//!
//! The npm packages are installed by `tests/interop/helia/install.sh` (which
//! `tests/run` calls); these tests talk only to 127.0.0.1.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::*;
use kith_node::net::behaviour::{Multiaddr, PeerId};
use kith_node::node::Node;
use rust_ipfs::IpfsPath;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::time::timeout;

/// A whole test must finish within this.
const TEST_LIMIT: Duration = Duration::from_secs(60);
/// One fetch (every block of one file) must finish within this.
const CAT_LIMIT: Duration = Duration::from_secs(20);
/// rust-ipfs cuts files into 256 KiB chunks: 13 leaves, the last partial.
const KITH_FILE_LEN: usize = 3 * 1024 * 1024 + 12_345;
/// `@helia/unixfs` `addBytes` cuts files into 1 MiB chunks: 3 leaves, the
/// last partial.
const HELIA_FILE_LEN: usize = 5 * 512 * 1024 + 777;
/// Helia resets an inbound bitswap stream on which nothing arrived for 5 s
/// (`@helia/bitswap` `DEFAULT_MESSAGE_RECEIVE_TIMEOUT`).
const HELIA_STREAM_IDLE: Duration = Duration::from_secs(5);

fn helia_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop/helia")
}

/// Fails with the command to run when the pinned npm packages are not
/// installed (the tests themselves stay off the network).
fn require_install() -> PathBuf {
    let dir = helia_dir();
    let lock =
        std::fs::read(dir.join("package-lock.json")).expect("package-lock.json is checked in");
    let want = hex::encode(Sha256::digest(&lock));
    match std::fs::read_to_string(dir.join("node_modules/.kith-lock-sha")) {
        Ok(have) if have.trim() == want => dir,
        Ok(_) => panic!(
            "tests/interop/helia/node_modules was installed from another package-lock.json: \
             run tests/interop/helia/install.sh"
        ),
        Err(_) => {
            panic!(
                "tests/interop/helia/node_modules is missing: run tests/interop/helia/install.sh"
            )
        }
    }
}

/// `len` pseudo-random bytes (splitmix64), different for each `seed`.
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The Helia peer (`peer.mjs`): commands on its stdin, JSON lines back on
/// its stdout, its logs on our stderr (set `DEBUG=helia:*,libp2p:*`). The
/// process is killed when this is dropped (a failing test).
struct HeliaPeer {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<Value>,
    next_id: u64,
    peer_id: PeerId,
    addr: Multiaddr,
}

impl HeliaPeer {
    /// Starts the peer and waits for its `ready` line.
    async fn spawn(dir: &Path) -> HeliaPeer {
        let mut child = Command::new("node")
            .arg(dir.join("peer.mjs"))
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `node` (install Node.js >= 20): {e}"));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel(64);
        tokio::spawn(async move {
            let mut out = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = out.next_line().await {
                let v = serde_json::from_str(&line).unwrap_or_else(|e| {
                    json!({"event": "error", "message": format!("not a JSON line ({e}): {line}")})
                });
                if tx.send(v).await.is_err() {
                    break;
                }
            }
        });
        let mut peer = HeliaPeer {
            child,
            stdin,
            lines,
            next_id: 1,
            peer_id: PeerId::random(),
            addr: Multiaddr::empty(),
        };
        let ready = peer
            .expect("ready", Duration::from_secs(20), |v| v["event"] == "ready")
            .await;
        peer.peer_id = ready["peer_id"].as_str().unwrap().parse().unwrap();
        peer.addr = ready["listen"][0].as_str().unwrap().parse().unwrap();
        peer
    }

    /// The next line for which `want` holds, within `limit`. An error line
    /// or the end of the output fails the test.
    async fn expect(
        &mut self,
        what: &str,
        limit: Duration,
        want: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(v)) if v["event"] == "error" => {
                    panic!("helia peer, while we waited for {what}: {v}")
                }
                Ok(Some(v)) if want(&v) => return v,
                Ok(Some(_)) => {}
                Ok(None) => panic!(
                    "helia peer exited while we waited for {what} ({:?})",
                    self.child.try_wait()
                ),
                Err(_) => panic!("no {what} from the helia peer within {limit:?}"),
            }
        }
    }

    /// Sends one command and waits for its answer.
    async fn request(&mut self, mut cmd: Value, limit: Duration) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        cmd["id"] = id.into();
        let mut line = cmd.to_string();
        line.push('\n');
        self.stdin
            .write_all(line.as_bytes())
            .await
            .expect("write to the helia peer");
        let what = format!("the answer to {cmd}");
        self.expect(&what, limit, |v| v["id"] == id).await
    }

    /// Helia dials `kith` and both sides see the connection.
    async fn dial(&mut self, kith: &Node) {
        let dialed = self
            .request(
                json!({"cmd": "dial", "addr": tcp_addr(kith).to_string(), "timeout_ms": 10_000}),
                Duration::from_secs(15),
            )
            .await;
        assert!(
            dialed["protocols"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == "/ipfs/bitswap/1.2.0"),
            "Helia sees bitswap 1.2.0 among Kith's protocols: {dialed}"
        );
        let me = self.peer_id;
        eventually(
            Duration::from_secs(10),
            "Kith sees Helia connected",
            || async { kith.connected_peers().await.contains(&me) },
        )
        .await;
    }

    /// Helia fetches `cid` with `unixfs.cat` and must get exactly `bytes`.
    async fn cat_expecting(&mut self, cid: &str, bytes: &[u8]) {
        let got = self
            .request(
                json!({"cmd": "cat", "cid": cid, "timeout_ms": CAT_LIMIT.as_millis() as u64}),
                CAT_LIMIT + Duration::from_secs(5),
            )
            .await;
        assert_eq!(got["size"], bytes.len(), "Helia got every byte of {cid}");
        assert_eq!(
            got["sha256"],
            sha256_hex(bytes),
            "Helia got {cid} byte for byte"
        );
    }

    /// Asks the peer to stop and reaps it (killed if it does not exit).
    async fn stop(mut self) {
        let _ = self.stdin.write_all(b"{\"cmd\":\"stop\"}\n").await;
        match timeout(Duration::from_secs(5), self.child.wait()).await {
            Ok(status) => {
                let status = status.expect("wait for the helia peer");
                assert!(status.success(), "helia peer exited with {status}");
            }
            Err(_) => {
                let _ = self.child.kill().await;
                panic!("helia peer did not stop within 5 s");
            }
        }
    }
}

/// Kith adds `bytes` with rust-ipfs's UnixFS importer; returns the root CID.
async fn kith_adds(kith: &Node, bytes: &[u8]) -> String {
    let path = kith
        .ipfs()
        .add_unixfs(bytes.to_vec())
        .await
        .expect("kith adds the file");
    path.root().cid().expect("a CID path").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helia_and_a_kith_node_exchange_unixfs_files_over_bitswap() {
    let dir = require_install();
    timeout(TEST_LIMIT, async {
        let data_dir = tempfile::tempdir().unwrap();
        let kith = start(data_dir.path()).await;
        let mut helia = HeliaPeer::spawn(&dir).await;

        // Kith → Helia: Kith adds a file; Helia dials Kith and cats it.
        let ours = pseudo_random(KITH_FILE_LEN, 1);
        let cid = kith_adds(&kith, &ours).await;
        helia.dial(&kith).await;
        helia.cat_expecting(&cid, &ours).await;

        // Helia → Kith, on a new connection that Kith dials: Helia hangs up
        // and adds a file; Kith dials Helia and cats the file from it.
        helia
            .request(
                json!({"cmd": "hang_up", "peer_id": kith.peer_id().to_string()}),
                Duration::from_secs(10),
            )
            .await;
        let helia_id = helia.peer_id;
        eventually(
            Duration::from_secs(10),
            "Kith sees Helia hang up",
            || async { !kith.connected_peers().await.contains(&helia_id) },
        )
        .await;
        let theirs = pseudo_random(HELIA_FILE_LEN, 2);
        let file = data_dir.path().join("from-helia.bin");
        std::fs::write(&file, &theirs).unwrap();
        let added = helia
            .request(
                json!({"cmd": "add_file", "path": file.to_str().unwrap()}),
                Duration::from_secs(10),
            )
            .await;
        assert_eq!(added["sha256"], sha256_hex(&theirs), "Helia read the file");
        let cid = added["cid"].as_str().unwrap().to_owned();
        let root: IpfsPath = cid.parse().expect("Helia prints a CID");
        assert_eq!(kith.connect(helia.addr.clone()).await.unwrap(), helia_id);
        let cat = kith
            .ipfs()
            .cat_unixfs(root)
            .provider(helia_id)
            .timeout(CAT_LIMIT);
        let fetched = match timeout(CAT_LIMIT + Duration::from_secs(5), cat).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(e)) => panic!("Kith cannot fetch {cid} from Helia at {}: {e}", helia.addr),
            Err(_) => panic!("Kith did not fetch {cid} from Helia within {CAT_LIMIT:?}"),
        };
        assert_eq!(fetched.len(), theirs.len(), "Kith got every byte of {cid}");
        assert!(
            fetched[..] == theirs[..],
            "Kith got {cid} byte for byte (sha256 {} instead of {})",
            sha256_hex(&fetched),
            sha256_hex(&theirs)
        );

        helia.stop().await;
        kith.shutdown().await.unwrap();
    })
    .await
    .unwrap_or_else(|_| panic!("the exchange with Helia took more than {TEST_LIMIT:?}"));
}

/// Helia resets a bitswap stream that stays idle for 5 s; a Kith node must
/// still answer a peer that asks for a file later than that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kith_serves_helia_after_helia_reset_an_idle_bitswap_stream() {
    let dir = require_install();
    timeout(TEST_LIMIT, async {
        let data_dir = tempfile::tempdir().unwrap();
        let kith = start(data_dir.path()).await;
        let mut helia = HeliaPeer::spawn(&dir).await;
        let ours = pseudo_random(KITH_FILE_LEN, 3);
        let cid = kith_adds(&kith, &ours).await;
        helia.dial(&kith).await;
        // Not a wait for readiness: the idle time is what is tested. It is
        // Helia's wall clock in another process, so time cannot be paused.
        tokio::time::sleep(HELIA_STREAM_IDLE + Duration::from_secs(1)).await;
        helia.cat_expecting(&cid, &ours).await;
        helia.stop().await;
        kith.shutdown().await.unwrap();
    })
    .await
    .unwrap_or_else(|_| panic!("the exchange with Helia took more than {TEST_LIMIT:?}"));
}
