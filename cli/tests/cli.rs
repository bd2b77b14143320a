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
fn up_speaks_spanish_and_english_and_keeps_one_identity() {
    let dir = tempfile::tempdir().unwrap();
    let first = kith(dir.path(), "es_AR.UTF-8", &["up"]);
    assert!(first.status.success());
    let text = stdout(&first);
    assert!(text.starts_with("identidad kith1"), "{text}");
    assert!(text.contains("(nueva)"), "{text}");
    assert!(text.contains("no hay nada en marcha"), "{text}");

    let second = kith(dir.path(), "en_US.UTF-8", &["up"]);
    let text = stdout(&second);
    assert!(
        text.starts_with("identity kith1") && !text.contains("(new)"),
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
