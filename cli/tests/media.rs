//! `kith media add`, `kith post --media`, `kith story add --media`,
//! `kith profile set --avatar`, `kith media pins` and `kith media gc`
//! against a running node (its own identity, through its data dir).
//! Needs ffmpeg (tests/run installs it).

mod common;

use common::*;

fn jpeg(dir: &std::path::Path, name: &str, size: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-nostdin", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size={size}"))
        .args(["-frames:v", "1"])
        .arg(&path)
        .status()
        .expect("ffmpeg runs (tests/run installs it)");
    assert!(status.success());
    path
}

#[test]
fn media_through_the_cli() {
    let node = Node::start();
    let files = tempfile::tempdir().unwrap();
    let photo = jpeg(files.path(), "foto.jpg", "800x600");
    let photo = photo.to_str().unwrap();

    // Upload, wait for processing: the API's view.
    let view = node.json(&["media", "add", photo]);
    assert_eq!(view["status"], "ready", "{view}");
    assert_eq!(view["descriptor"]["mime"], "image/jpeg");
    assert_eq!(view["descriptor"]["width"], 800);
    let cid = view["cid"].as_str().unwrap().to_string();
    assert!(!view["descriptor"]["thumbs"].as_array().unwrap().is_empty());
    // For people: one line with the CID, type, size and state.
    let line = node.ok(&["media", "status", &cid]);
    assert!(
        line.starts_with(&cid)
            && line.contains("image/jpeg")
            && line.contains("800×600")
            && line.contains("[ready]"),
        "{line}"
    );

    // A post with two pictures: each uploaded and described.
    let second = jpeg(files.path(), "otra.png", "320x240");
    let written = node.json(&[
        "post",
        "Dos fotos #huerta",
        "--media",
        photo,
        "--media",
        second.to_str().unwrap(),
    ]);
    assert_eq!(written["outcome"], "stored", "{written}");
    let media = written["event"]["payload"]["media"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(media.len(), 2);
    assert_eq!(media[0]["cid"], cid.as_str());
    assert_eq!(media[1]["mime"], "image/png");

    // A story with a picture and a caption; a profile picture.
    let story = node.json(&["story", "add", "--media", photo, "--text", "hoy"]);
    assert_eq!(
        story["event"]["payload"]["media"]["cid"],
        cid.as_str(),
        "{story}"
    );
    let profile = node.json(&[
        "profile",
        "set",
        "--avatar",
        second.to_str().unwrap(),
        "--name",
        "Ana",
    ]);
    assert_eq!(
        profile["event"]["payload"]["avatar"]["mime"], "image/png",
        "{profile}"
    );
    assert_eq!(profile["event"]["payload"]["name"], "Ana");

    // The file is served by the gateway, byte for byte what was stored.
    let bytes = reqwest_get(&format!("{}/ipfs/{cid}", node.url));
    assert_eq!(
        bytes.len() as u64,
        view["descriptor"]["size"].as_u64().unwrap()
    );

    // Pins (the operator's view) and a collection that keeps them.
    let pins = node.json(&["media", "pins"]);
    let listed: Vec<&str> = pins["pins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["cid"].as_str().unwrap())
        .collect();
    assert!(listed.contains(&cid.as_str()), "{pins}");
    assert_eq!(listed.len(), 2, "{pins}");
    let text = node.ok(&["media", "pins"]);
    assert!(
        text.contains("own upload") && text.contains("2 pins"),
        "{text}"
    );
    let gc = node.json(&["media", "gc"]);
    assert!(gc["blocks"].is_u64(), "{gc}");
    assert_eq!(
        reqwest_get(&format!("{}/ipfs/{cid}", node.url)),
        bytes,
        "pinned files survive gc"
    );

    // Refusals are clear, in the reader's language.
    let text_file = files.path().join("notas.txt");
    std::fs::write(&text_file, "solo texto, no es una imagen").unwrap();
    let out = node.kith(&["media", "add", text_file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unsupported_type"),
        "{}",
        stderr(&out)
    );
    let out = node.kith_in("es", &["media", "status", &cid]);
    assert!(stdout(&out).contains("[ready]"), "{}", stdout(&out));
}

fn reqwest_get(url: &str) -> Vec<u8> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let r = client.get(url).send().await.unwrap();
        assert!(r.status().is_success(), "GET {url}: {}", r.status());
        r.bytes().await.unwrap().to_vec()
    })
}
