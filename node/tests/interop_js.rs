//! Interoperability with a libp2p implementation we did not write: a
//! Node.js peer on js-libp2p and `@chainsafe/libp2p-gossipsub`
//! (`tests/interop/gossip-js/`) meshes with a Kith node over TCP, noise and
//! yamux, receives a Kith event byte for byte, and publishes one that the
//! Kith node validates and stores.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use kith_node::ingest::Verdict;
use kith_node::net::behaviour::{PeerId, message_id};
use kith_node::protocol::Keypair;
use kith_node::storage::IngestOutcome;
use kith_node::topics;
use serde_json::Value;

fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop/gossip-js")
}

/// Installs the pinned npm packages (idempotent; `tests/run` does it too).
fn install() {
    let status = Command::new("bash")
        .arg(js_dir().join("install.sh"))
        .status()
        .expect("bash runs install.sh");
    assert!(status.success(), "installing the js-libp2p peer failed");
}

struct JsPeer {
    child: Child,
    lines: std::sync::mpsc::Receiver<Value>,
}

impl JsPeer {
    fn spawn(args: &[&str]) -> JsPeer {
        let mut child = Command::new("node")
            .arg(js_dir().join("peer.mjs"))
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("node runs");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line).expect("the peer prints JSON lines");
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        JsPeer { child, lines }
    }

    /// The next line whose "event" is `event` (within 30 s).
    async fn wait(&self, event: &str) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            match self.lines.try_recv() {
                Ok(v) if v["event"] == event => return v,
                Ok(v) => assert_ne!(
                    v["event"], "timeout",
                    "js peer timed out waiting for {event}"
                ),
                Err(_) => {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "no {event} from the js peer"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }

    fn exit_code(mut self) -> Option<i32> {
        self.child.wait().ok()?.code()
    }
}

impl Drop for JsPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_js_libp2p_peer_receives_and_sends_kith_events() {
    install();
    let dir = tempfile::tempdir().unwrap();
    let a = start(dir.path()).await;
    let me = a.identity().public();
    let topic = topics::author_topic(&me);
    let addr = tcp_addr(&a).to_string();

    // Kith → JS: the JS peer subscribes to the author's topic and gets the
    // envelope, byte for byte, with the message id both sides compute.
    let js = JsPeer::spawn(&[
        "--dial",
        &addr,
        "--topic",
        &topic,
        "--expect",
        "1",
        "--timeout-ms",
        "30000",
    ]);
    let ready = js.wait("ready").await;
    let js_peer: PeerId = ready["peer_id"].as_str().unwrap().parse().unwrap();
    wait_topic_peer(&a, &topic, js_peer).await;
    let (event, verdict) = a.publish(post(me, now(), "hola desde Kith")).await.unwrap();
    assert!(matches!(
        verdict,
        Verdict::Store(IngestOutcome::Stored { .. })
    ));
    let got = js.wait("message").await;
    assert_eq!(got["topic"], topic.as_str());
    assert_eq!(
        got["data_hex"],
        hex::encode(event.as_bytes()),
        "byte for byte"
    );
    assert_eq!(
        got["msg_id_hex"],
        hex::encode(message_id(&topic, event.as_bytes())),
        "both sides compute the same message id"
    );
    // Unsigned gossip: the publishing node is not named in the message.
    assert!(got["author"].is_null(), "{got}");
    assert_eq!(got["from"], a.peer_id().to_string());
    assert_eq!(js.exit_code(), Some(0));

    // JS → Kith: A follows `z`; a JS peer publishes z's signed post on z's
    // topic; A validates and stores it.
    let z = Keypair::generate(&mut rand_core::OsRng);
    a.publish(follow(me, now(), z.public())).await.unwrap();
    let z_topic = topics::author_topic(&z.public());
    let z_post = post_by(&z, now(), "hola desde js-libp2p");
    let hex_post = hex::encode(z_post.as_bytes());
    let js = JsPeer::spawn(&[
        "--dial",
        &addr,
        "--topic",
        &z_topic,
        "--expect",
        "0",
        "--publish-hex",
        &hex_post,
        "--timeout-ms",
        "30000",
    ]);
    let published = js.wait("published").await;
    assert_eq!(published["data_hex"], hex_post.as_str());
    let id = z_post.id();
    eventually(
        Duration::from_secs(20),
        "A stores the event the JS peer published",
        || has(&a, &id),
    )
    .await;
    assert_eq!(js.exit_code(), Some(0));
    a.shutdown().await.unwrap();
}
