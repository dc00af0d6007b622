//! `p2p-keygen` end to end: the real binary, real files, real pipes.

use crate::common;
use crate::common::{DEADLINE, Finished};
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;

fn keygen(home: &Path, args: &[&str], stdin: &[u8]) -> Finished {
    let mut cmd = common::command(&bin!("p2p-keygen"), home);
    cmd.args(args).current_dir(home);
    common::run(cmd, stdin, DEADLINE)
}

fn lines(records: &[Value]) -> Vec<u8> {
    records
        .iter()
        .flat_map(|r| format!("{r}\n").into_bytes())
        .collect()
}

#[test]
fn new_with_output_writes_a_0600_file_and_prints_only_the_public_record() {
    let home = common::tempdir();
    let out = keygen(home.path(), &["new", "-o", "key.json"], b"");
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let records = out.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["type"], "identity");
    assert!(
        records[0].get("secret_key").is_none(),
        "secret on stdout: {}",
        out.text()
    );
    let path = home.path().join("key.json");
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let stored: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(stored["id"], records[0]["id"]);
    assert_eq!(stored["secret_key"].as_str().unwrap().len(), 64);
}

#[test]
fn new_refuses_to_overwrite_without_force() {
    let home = common::tempdir();
    let first = common::make_key(home.path(), "key.json");
    let again = keygen(home.path(), &["new", "-o", "key.json"], b"");
    assert_eq!(again.code(), 2);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    let id = keygen(home.path(), &["id", "-i", "key.json"], b"");
    assert_eq!(id.records()[0]["id"], first.as_str());
    let forced = keygen(home.path(), &["new", "-o", "key.json", "--force"], b"");
    assert_eq!(forced.code(), 0, "{}", forced.stderr);
    assert_ne!(forced.records()[0]["id"], first.as_str());
}

#[test]
fn new_piped_into_id_gives_the_public_record() {
    let home = common::tempdir();
    let secret = keygen(home.path(), &["new"], b"");
    assert_eq!(secret.code(), 0);
    let record = &secret.records()[0];
    assert!(record["secret_key"].is_string());
    let public = keygen(home.path(), &["id"], &secret.stdout);
    assert_eq!(public.code(), 0, "{}", public.stderr);
    assert_eq!(
        public.records(),
        vec![json!({"type": "identity", "id": record["id"], "public_key": record["public_key"]})]
    );
}

#[test]
fn a_seed_from_rfc8032_gives_its_public_key() {
    let home = common::tempdir();
    let seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    let out = keygen(home.path(), &["new", "--seed", seed], b"");
    assert_eq!(
        out.records()[0]["public_key"],
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
    let bad = keygen(home.path(), &["new", "--seed", "abc"], b"");
    assert_eq!(bad.code(), 2);
    assert!(bad.stderr.contains("64 hex digits"), "{}", bad.stderr);
}

#[test]
fn a_key_file_others_can_read_is_refused_unless_allowed() {
    let home = common::tempdir();
    let id = common::make_key(home.path(), "key.json");
    let path = home.path().join("key.json");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let refused = keygen(home.path(), &["id", "-i", "key.json"], b"");
    assert_eq!(refused.code(), 2);
    assert!(refused.stderr.contains("chmod 600"), "{}", refused.stderr);
    let allowed = keygen(
        home.path(),
        &["id", "-i", "key.json", "--allow-readable-key"],
        b"",
    );
    assert_eq!(allowed.records()[0]["id"], id.as_str());
}

#[test]
fn identity_lookup_order_is_flag_then_env_then_xdg() {
    let home = common::tempdir();
    let xdg_dir = home.path().join(".config/p2p");
    std::fs::create_dir_all(&xdg_dir).unwrap();
    let xdg = common::make_key(home.path(), ".config/p2p/identity.json");
    let env = common::make_key(home.path(), "env.json");
    let flag = common::make_key(home.path(), "flag.json");
    let peer_id = |extra: &[&str], env_key: Option<&str>| {
        let mut cmd = common::command(&bin!("p2p-keygen"), home.path());
        cmd.current_dir(home.path())
            .args(["peer", "--addr", "udp://192.0.2.1:1"])
            .args(extra);
        if let Some(file) = env_key {
            cmd.env("P2P_IDENTITY", file);
        }
        let out = common::run(cmd, b"", DEADLINE);
        assert_eq!(out.code(), 0, "{}", out.stderr);
        out.records()[0]["id"].as_str().unwrap().to_owned()
    };
    assert_eq!(peer_id(&[], None), xdg);
    assert_eq!(peer_id(&[], Some("env.json")), env);
    assert_eq!(peer_id(&["-i", "flag.json"], Some("env.json")), flag);
    std::fs::remove_file(xdg_dir.join("identity.json")).unwrap();
    let mut cmd = common::command(&bin!("p2p-keygen"), home.path());
    cmd.args(["peer", "--addr", "udp://192.0.2.1:1"]);
    let none = common::run(cmd, b"", DEADLINE);
    assert_eq!(none.code(), 2);
    assert!(none.stderr.contains("p2p-keygen new -o"), "{}", none.stderr);
}

#[test]
fn sign_then_verify_passes_lines_through_unchanged() {
    let home = common::tempdir();
    let id = common::make_key(home.path(), "key.json");
    let input = lines(&[
        json!({"type": "message", "text": "héllo", "n": 1.50}),
        json!({"z": [1, {"b": 2, "a": 1}]}),
    ]);
    let signed = keygen(home.path(), &["sign", "-i", "key.json"], &input);
    assert_eq!(signed.code(), 0, "{}", signed.stderr);
    let records = signed.records();
    assert_eq!(records.len(), 2);
    assert!(
        records
            .iter()
            .all(|r| r["signer"] == id.as_str() && r["sig"].as_str().unwrap().len() == 128)
    );
    assert_eq!(records[0]["text"], "héllo");
    let verified = keygen(home.path(), &["verify", "--signer", &id], &signed.stdout);
    assert_eq!(verified.code(), 0, "{}", verified.stderr);
    assert_eq!(verified.stdout, signed.stdout);
}

#[test]
fn verify_reports_each_bad_line_by_number_and_keeps_the_good_ones() {
    let home = common::tempdir();
    let id = common::make_key(home.path(), "key.json");
    let other = common::make_key(home.path(), "other.json");
    let input = lines(&[json!({"n": 1}), json!({"n": 2}), json!({"n": 3})]);
    let signed = keygen(home.path(), &["sign", "-i", "key.json"], &input).text();
    let good: Vec<&str> = signed.lines().collect();
    let tampered = good[1].replace("\"n\":2", "\"n\":20");
    let truncated = &good[2][..good[2].len() / 2];
    let mut text = String::new();
    for line in [
        good[0],
        &tampered,
        truncated,
        "[1,2,3]",
        "{\"n\":4}",
        good[2],
    ] {
        text.push_str(line);
        text.push('\n');
    }
    let out = keygen(home.path(), &["verify"], text.as_bytes());
    assert_eq!(
        out.code(),
        2,
        "input errors outrank failed signatures: {}",
        out.stderr
    );
    assert_eq!(out.text(), format!("{}\n{}\n", good[0], good[2]));
    for expected in [
        "line 2: signature does not match",
        "line 3: not valid JSON",
        "line 4: not a JSON object (found an array)",
        "line 5: not signed (no sig field)",
    ] {
        assert!(
            out.stderr.contains(expected),
            "missing {expected:?} in:\n{}",
            out.stderr
        );
    }
    assert!(out.stderr.contains("truncated"), "{}", out.stderr);

    let wrong_signer = keygen(
        home.path(),
        &["verify", "--signer", &other],
        signed.as_bytes(),
    );
    assert_eq!(wrong_signer.code(), 1);
    assert!(wrong_signer.stdout.is_empty());
    assert!(
        wrong_signer.stderr.contains(&format!(
            "line 1: signed by {id}, not by the required {other}"
        )),
        "{}",
        wrong_signer.stderr
    );

    let only_tampered = keygen(
        home.path(),
        &["verify"],
        format!("{}\n{tampered}\n", good[0]).as_bytes(),
    );
    assert_eq!(only_tampered.code(), 1, "a failed signature alone exits 1");
}

#[test]
fn strict_stops_at_the_first_bad_line() {
    let home = common::tempdir();
    common::make_key(home.path(), "key.json");
    let input = b"{\"n\":1}\nnot json\n{\"n\":3}\n";
    let out = keygen(home.path(), &["sign", "-i", "key.json", "--strict"], input);
    assert_eq!(out.code(), 2);
    assert_eq!(out.records().len(), 1, "{}", out.text());
    assert!(
        out.stderr.contains("line 2: not valid JSON"),
        "{}",
        out.stderr
    );
    let lenient = keygen(home.path(), &["sign", "-i", "key.json"], input);
    assert_eq!(lenient.code(), 2);
    assert_eq!(lenient.records().len(), 2);
}

#[test]
fn parallel_verify_keeps_input_order() {
    let home = common::tempdir();
    common::make_key(home.path(), "key.json");
    let input: Vec<u8> = (0..5_000)
        .flat_map(|i| format!("{{\"i\":{i}}}\n").into_bytes())
        .collect();
    let signed = keygen(
        home.path(),
        &["sign", "-i", "key.json", "--jobs", "3"],
        &input,
    );
    assert_eq!(signed.code(), 0, "{}", signed.stderr);
    let verified = keygen(home.path(), &["verify", "--jobs", "3"], &signed.stdout);
    assert_eq!(verified.code(), 0, "{}", verified.stderr);
    assert_eq!(verified.stdout, signed.stdout);
    let order: Vec<u64> = verified
        .records()
        .iter()
        .map(|r| r["i"].as_u64().unwrap())
        .collect();
    assert_eq!(order, (0..5_000).collect::<Vec<u64>>());
}

#[test]
fn a_peer_record_verifies_even_after_a_receiver_adds_via() {
    let home = common::tempdir();
    let id = common::make_key(home.path(), "key.json");
    let out = keygen(
        home.path(),
        &[
            "peer",
            "-i",
            "key.json",
            "--addr",
            "udp://192.0.2.1:4000",
            "--addr",
            "tcp://[2001:db8::1]:443",
            "--topic",
            "chat",
        ],
        b"",
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let mut record = out.records().remove(0);
    assert_eq!(record["type"], "peer");
    assert_eq!(record["id"], id.as_str());
    assert_eq!(
        record["addrs"],
        json!(["udp://192.0.2.1:4000", "tcp://[2001:db8::1]:443"])
    );
    assert!(record["seq"].as_u64().unwrap() > 1_700_000_000_000);
    record["via"] = json!("mdns");
    let ok = keygen(
        home.path(),
        &["verify", "--signer", &id],
        &lines(&[record.clone()]),
    );
    assert_eq!(ok.code(), 0, "{}", ok.stderr);
    record["addrs"] = json!(["udp://203.0.113.66:4000"]);
    let forged = keygen(home.path(), &["verify"], &lines(&[record]));
    assert_eq!(forged.code(), 1);
    let bad_addr = keygen(
        home.path(),
        &["peer", "-i", "key.json", "--addr", "192.0.2.1"],
        b"",
    );
    assert_eq!(bad_addr.code(), 2);
    assert!(
        bad_addr.stderr.contains("not an address"),
        "{}",
        bad_addr.stderr
    );
}

#[test]
fn seal_and_open_round_trip_binary_data_and_detect_tampering() {
    let home = common::tempdir();
    let bob = common::make_key(home.path(), "bob.json");
    common::make_key(home.path(), "eve.json");
    let secret: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let sealed = keygen(home.path(), &["seal", "--to", &bob], &secret);
    assert_eq!(sealed.code(), 0, "{}", sealed.stderr);
    let records = sealed.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["type"], "sealed");
    assert_eq!(records[0]["to"], bob.as_str());
    let opened = keygen(home.path(), &["open", "-i", "bob.json"], &sealed.stdout);
    assert_eq!(opened.code(), 0, "{}", opened.stderr);
    assert!(opened.stdout == secret, "plaintext differs");

    let by_eve = keygen(home.path(), &["open", "-i", "eve.json"], &sealed.stdout);
    assert_eq!(by_eve.code(), 1);
    assert!(by_eve.stdout.is_empty());

    let mut tampered = records[0].clone();
    let b64 = tampered["ciphertext_b64"].as_str().unwrap();
    let flipped = if b64.starts_with('A') { "B" } else { "A" };
    tampered["ciphertext_b64"] = json!(format!("{flipped}{}", &b64[1..]));
    let out = keygen(
        home.path(),
        &["open", "-i", "bob.json"],
        &lines(&[tampered]),
    );
    assert_eq!(out.code(), 1);
    assert!(out.stdout.is_empty());
    assert!(out.stderr.contains("line 1: cannot open"), "{}", out.stderr);
}

#[test]
fn convert_round_trips_every_form() {
    let home = common::tempdir();
    let secret = keygen(home.path(), &["new"], b"");
    let secret_text = secret.text();
    let all = keygen(home.path(), &["convert", secret_text.trim()], b"");
    assert_eq!(all.code(), 0, "{}", all.stderr);
    let forms = all.records().remove(0);
    assert!(
        forms.get("secret_key").is_none(),
        "convert leaked the secret"
    );
    let id = forms["id"].as_str().unwrap();
    assert!(forms["ssb_id"].as_str().unwrap().starts_with('@'));
    assert!(
        forms["openssh"]
            .as_str()
            .unwrap()
            .starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5")
    );
    assert!(forms["libp2p_id"].as_str().unwrap().starts_with("12D3KooW"));
    assert!(forms["libp2p_cid"].as_str().unwrap().starts_with("k51"));
    for form in ["id", "hex", "base64", "ssb", "openssh", "libp2p", "cid"] {
        let text = keygen(
            home.path(),
            &["convert", "--to", form],
            secret_text.as_bytes(),
        )
        .text();
        let back = keygen(home.path(), &["convert", "--to", "id", text.trim()], b"");
        assert_eq!(back.code(), 0, "{form}: {}", back.stderr);
        assert_eq!(back.text().trim(), id, "{form}");
    }
    for form in ["identity", "ssb-secret"] {
        let text = keygen(
            home.path(),
            &["convert", "--to", form],
            secret_text.as_bytes(),
        );
        assert_eq!(text.code(), 0, "{form}: {}", text.stderr);
        let back = keygen(home.path(), &["convert", "--to", "identity"], &text.stdout);
        assert_eq!(back.code(), 0, "{form}: {}", back.stderr);
        let record: Value = serde_json::from_slice(&back.stdout).unwrap();
        assert_eq!(
            record["secret_key"],
            secret.records()[0]["secret_key"],
            "{form}"
        );
    }
    let public_only = keygen(home.path(), &["convert", "--to", "ssb-secret", id], b"");
    assert_eq!(public_only.code(), 2);
    let garbage = keygen(home.path(), &["convert", "nonsense"], b"");
    assert_eq!(garbage.code(), 2);
    assert!(garbage.stderr.contains("'nonsense'"), "{}", garbage.stderr);
}

/// RFC 8032 test 1's public key and its libp2p peer id and CIDv1, computed
/// independently with the PyPI packages `multiformats` and `base58`.
#[test]
fn convert_matches_libp2p_test_vectors_both_ways() {
    let home = common::tempdir();
    let hex = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    let libp2p_id = "12D3KooWQK1wnefoLrcVHbbnf5tLzbopUd3K3bFAoJpA7YJgL5pV";
    let cid = "k51qzi5uqu5dljtg5upm7x7ugan9lql3ewyknv4r4mhhkwzn8n7cnbd1unfwgq";
    let to = |form: &str, value: &str| {
        let out = keygen(home.path(), &["convert", "--to", form, value], b"");
        assert_eq!(out.code(), 0, "{form} {value}: {}", out.stderr);
        out.text().trim().to_owned()
    };
    assert_eq!(to("libp2p", hex), libp2p_id);
    assert_eq!(to("cid", hex), cid);
    assert_eq!(to("hex", libp2p_id), hex);
    assert_eq!(to("hex", cid), hex);
    // A libp2p id of another key type is refused with the reason.
    let sha256_id = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N";
    let out = keygen(home.path(), &["convert", sha256_id], b"");
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr.contains("not of an Ed25519 key"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_closed_stdout_ends_quietly_with_status_0() {
    let home = common::tempdir();
    common::make_key(home.path(), "key.json");
    let mut cmd = common::command(&bin!("p2p-keygen"), home.path());
    cmd.current_dir(home.path())
        .args(["sign", "-i", "key.json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = common::Guard(cmd.spawn().unwrap());
    drop(child.0.stdout.take());
    let mut stdin = child.0.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        for i in 0..50_000 {
            if writeln!(stdin, "{{\"i\":{i}}}").is_err() {
                break;
            }
        }
    });
    let status = child
        .wait_until(DEADLINE)
        .expect("sign hung on a closed stdout");
    writer.join().unwrap();
    assert_eq!(status.code(), Some(0));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.0.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.is_empty(), "a broken pipe should be quiet: {stderr}");
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let home = common::tempdir();
    assert_eq!(keygen(home.path(), &["frobnicate"], b"").code(), 2);
    assert_eq!(keygen(home.path(), &["--generate", "pdf"], b"").code(), 2);
    let help = keygen(home.path(), &["sign", "--help"], b"");
    assert_eq!(help.code(), 0);
    assert!(help.text().contains("Example"), "{}", help.text());
}
