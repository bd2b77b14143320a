//! The real `kith` binary, run as a person would run it.

use std::process::{Command, Output};

fn kith(dir: &std::path::Path, lang: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kith"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("KITH_LANG")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", lang)
        .output()
        .expect("kith runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8")
}

#[test]
fn init_speaks_spanish_and_english_and_keeps_one_identity() {
    let dir = tempfile::tempdir().unwrap();
    let first = kith(dir.path(), "es_AR.UTF-8", &["init"]);
    assert!(first.status.success());
    let text = stdout(&first);
    assert!(text.starts_with("identidad creada kith1"), "{text}");
    assert!(text.contains("carpeta de datos"), "{text}");

    let second = kith(dir.path(), "en_US.UTF-8", &["init"]);
    let text = stdout(&second);
    assert!(
        text.starts_with("identity kith1") && text.contains("already exists"),
        "{text}"
    );

    // `--json` is for programs: the same in every language.
    let json = kith(dir.path(), "es", &["id", "--json"]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["created"], false);
    let id = value["identity"].as_str().unwrap();
    assert!(text.contains(id));
    assert_eq!(stdout(&kith(dir.path(), "es", &["id"])).trim(), id);
}

#[test]
fn a_damaged_key_file_is_a_one_line_error_in_the_readers_language() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("identity.key"), "garbage").unwrap();
    let es = kith(dir.path(), "es_ES.UTF-8", &["up"]);
    assert_eq!(es.status.code(), Some(1));
    let err = String::from_utf8(es.stderr).unwrap();
    assert!(
        err.starts_with("kith: ") && err.contains("no contiene una clave válida"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let en = kith(dir.path(), "C", &["up"]);
    let err = String::from_utf8(en.stderr).unwrap();
    assert!(err.contains("does not hold a valid key"), "{err}");
    // Nothing was replaced.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("identity.key")).unwrap(),
        "garbage"
    );
}

/// `kith up` runs a real node until SIGTERM, says where it listens, and
/// stops cleanly (store flushed, exit status 0).
#[test]
fn up_runs_a_node_until_sigterm() {
    use std::io::{BufRead, BufReader};
    for (lang, json) in [("es_ES.UTF-8", false), ("C", true)] {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec![
            "up",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--no-mdns",
            "--gateway",
            "127.0.0.1:0",
            "--relay",
            "127.0.0.1:0",
        ];
        if json {
            args.push("--json");
        }
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kith"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(&args)
            .env_remove("KITH_LANG")
            .env_remove("LC_ALL")
            .env("LANG", lang)
            .env("KITH_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let mut seen = vec![first.clone()];
        if json {
            let v: serde_json::Value = serde_json::from_str(&first).unwrap();
            assert_eq!(v["event"], "started");
            assert!(v["peer_id"].as_str().unwrap().starts_with("12D3KooW"));
            let relay = v["relay"].as_str().unwrap();
            assert!(relay.starts_with("ws://127.0.0.1:"), "{relay}");
            let listen = v["listen"][0].as_str().unwrap();
            assert!(
                listen.starts_with("/ip4/127.0.0.1/tcp/") && listen.contains("/p2p/12D3KooW"),
                "{listen}"
            );
        } else {
            assert!(first.starts_with("identidad kith1"), "{first}");
            for line in lines.by_ref() {
                let line = line.unwrap();
                seen.push(line.clone());
                if line.starts_with("en marcha") {
                    break;
                }
            }
            let text = seen.join("\n");
            assert!(
                text.contains("id de par 12D3KooW")
                    && text.contains("escuchando en /ip4/127.0.0.1/tcp/"),
                "{text}"
            );
            let url = std::fs::read_to_string(dir.path().join("gateway.url")).unwrap();
            assert!(
                text.contains(&format!("Pasarela (API HTTP): {}", url.trim())),
                "{text}"
            );
            assert!(text.contains("Relé Nostr: ws://127.0.0.1:"), "{text}");
        }
        let status = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let rest: Vec<String> = lines.map(Result::unwrap).collect();
        let exit = child.wait().unwrap();
        assert!(exit.success(), "{exit:?}");
        let last = rest.last().cloned().unwrap_or_default();
        if json {
            assert_eq!(last, r#"{"event":"stopped"}"#);
        } else {
            assert_eq!(last, "detenido");
        }
        assert!(dir.path().join("store-v1").exists());
        assert!(!dir.path().join("gateway.url").exists());
    }
}
