//! `p2p-punch` on loopback: the STUN client and server, the rendezvous and a punch
//! between two local peers, bad input; and interop with coturn (an independent STUN
//! implementation) inside a private network namespace.

use crate::common;
use crate::common::{DEADLINE, Finished, Running};
use serde_json::{Value, json};
use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn punch(home: &Path, args: &[&str]) -> Finished {
    let mut cmd = common::command(&bin!("p2p-punch"), home);
    cmd.args(args);
    common::run(cmd, b"", DEADLINE)
}

/// Starts `p2p-punch serve` with `args`; returns it and its listening record.
fn serve(home: &Path, args: &[&str]) -> (Running, Value) {
    let mut cmd = common::command(&bin!("p2p-punch"), home);
    cmd.arg("serve").args(args);
    let mut server = Running::start(cmd);
    let listening = server.wait_for(WAIT, |r| r["type"] == "listening");
    (server, listening)
}

fn addr(record: &Value, key: &str) -> String {
    record[key]
        .as_str()
        .unwrap()
        .trim_start_matches("udp://")
        .to_owned()
}

/// An identity file in `home`: its path and its peer id.
fn make_key(home: &Path) -> (String, String) {
    let id = common::make_key(home, "key.json");
    (home.join("key.json").display().to_string(), id)
}

#[test]
fn stun_against_our_server_reports_the_mapping() {
    let home = common::tempdir();
    let (_server, listening) = serve(home.path(), &["--bind", "127.0.0.1:0"]);
    let server = addr(&listening, "addr");
    let out = punch(home.path(), &["stun", &server, "--bind", "127.0.0.1:0"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let records = out.records();
    assert_eq!(records.len(), 1);
    let m = &records[0];
    assert_eq!(m["type"], "mapping");
    assert_eq!(m["server"], format!("udp://{server}"));
    assert_eq!(m["public"], m["local"], "no NAT on loopback");
    assert!(m["rtt_ms"].as_f64().unwrap() >= 0.0);
    assert!(m["software"].as_str().unwrap().starts_with("p2p-punch"));
    assert!(m.get("other").is_none(), "no --alt, so no OTHER-ADDRESS");
}

#[test]
fn nat_with_an_rfc5780_server_on_loopback_is_open() {
    let home = common::tempdir();
    let (_server, listening) = serve(
        home.path(),
        &["--bind", "127.0.0.1:0", "--alt", "127.0.0.2:0"],
    );
    assert!(
        listening["alt"]
            .as_str()
            .unwrap()
            .starts_with("udp://127.0.0.2:")
    );
    let server = addr(&listening, "addr");
    let out = punch(
        home.path(),
        &["nat", "--server", &server, "--bind", "127.0.0.1:0"],
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let nat = &out.records()[0];
    assert_eq!(nat["nat"], "open", "{nat}");
    assert_eq!(nat["mapping"], "none");
    assert_eq!(nat["filtering"], "endpoint-independent");
    assert_eq!(nat["rfc5780"], true);
    assert_eq!(nat["port_preserving"], true);
    assert!(out.stderr.contains("NAT: open"), "{}", out.stderr);
}

#[test]
fn garbage_does_not_stop_the_server_and_silence_times_out() {
    let home = common::tempdir();
    let (_server, listening) = serve(home.path(), &["--bind", "127.0.0.1:0"]);
    let server = addr(&listening, "addr");
    let junk = UdpSocket::bind("127.0.0.1:0").unwrap();
    for packet in [
        &b"hello"[..],
        &[0u8; 20],
        &[0, 1, 0, 4, 0x21, 0x12, 0xa4, 0x42],
        b"p2pR{nope",
    ] {
        junk.send_to(packet, &server).unwrap();
    }
    let out = punch(home.path(), &["stun", &server, "--bind", "127.0.0.1:0"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);

    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent = silent.local_addr().unwrap().to_string();
    let out = punch(
        home.path(),
        &[
            "stun",
            &silent,
            "--timeout",
            "300ms",
            "--bind",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(out.code(), 3, "{}", out.stderr);
    assert!(out.stderr.contains("no answer"), "{}", out.stderr);
}

#[test]
fn bad_arguments_are_usage_errors() {
    let home = common::tempdir();
    let out = punch(home.path(), &["stun", "udp://"]);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    let out = punch(
        home.path(),
        &["connect", "not-a-peer-id", "--rendezvous", "127.0.0.1"],
    );
    assert_eq!(out.code(), 2, "{}", out.stderr);
    let out = punch(
        home.path(),
        &["serve", "--bind", "127.0.0.1:0", "--alt", "127.0.0.1:0"],
    );
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(out.stderr.contains("another IP"), "{}", out.stderr);
    let help = punch(home.path(), &["--help"]);
    assert!(help.text().contains("\nExamples"), "{}", help.text());
}

#[test]
fn listen_and_connect_punch_on_loopback_through_the_rendezvous() {
    let home = common::tempdir();
    let (mut server, listening) = serve(home.path(), &["--bind", "127.0.0.1:0"]);
    let rendezvous = addr(&listening, "addr");
    let (key, id) = make_key(home.path());
    let mut cmd = common::command(&bin!("p2p-punch"), home.path());
    cmd.args([
        "listen",
        "-i",
        &key,
        "--rendezvous",
        &rendezvous,
        "--bind",
        "127.0.0.1:0",
    ]);
    let mut listener = Running::start(cmd);
    let ready = listener.wait_for(WAIT, |r| r["type"] == "listening");
    assert_eq!(ready["id"], id.as_str());
    assert_eq!(ready["mapping"], "none", "no NAT on loopback");
    server.wait_for(WAIT, |r| {
        r["event"] == "registered" && r["id"] == id.as_str()
    });

    let out = punch(
        home.path(),
        &[
            "connect",
            &id,
            "--rendezvous",
            &rendezvous,
            "--bind",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let mine = &out.records()[0];
    assert_eq!(mine["type"], "punch");
    assert_eq!(mine["ok"], true, "{mine}");
    assert_eq!(mine["id"], id.as_str());
    assert_eq!(mine["technique"], "direct");
    assert_eq!(mine["remote"], ready["addr"]);
    let theirs = listener.wait_for(WAIT, |r| r["type"] == "punch");
    assert_eq!(theirs["ok"], true, "{theirs}");
    assert_eq!(theirs["remote"], mine["local"]);
    assert_eq!(listener.wait(WAIT).map(|s| s.code()), Some(Some(0)));
    let introduced = server.wait_for(WAIT, |r| r["event"] == "introduced");
    assert_eq!(introduced["to"], id.as_str());
}

#[test]
fn connecting_to_an_unregistered_peer_fails_with_the_reason() {
    let home = common::tempdir();
    let (_server, listening) = serve(home.path(), &["--bind", "127.0.0.1:0"]);
    let rendezvous = addr(&listening, "addr");
    let (_, id) = make_key(home.path());
    let out = punch(
        home.path(),
        &[
            "connect",
            &id,
            "--rendezvous",
            &rendezvous,
            "--bind",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(out.code(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("not registered"), "{}", out.stderr);
}

#[test]
fn stdio_signalling_skips_bad_lines_and_punches_on_loopback() {
    let home = common::tempdir();
    let (_server, listening) = serve(home.path(), &["--bind", "127.0.0.1:0"]);
    let stun = addr(&listening, "addr");
    let start = || {
        let mut cmd = common::command(&bin!("p2p-punch"), home.path());
        cmd.args([
            "connect",
            "--signal",
            "stdio",
            "--stun",
            &stun,
            "--bind",
            "127.0.0.1:0",
        ]);
        Running::start(cmd)
    };
    let mut a = start();
    let mut b = start();
    let ca = a.wait_for(WAIT, |r| r["type"] == "candidate");
    let cb = b.wait_for(WAIT, |r| r["type"] == "candidate");
    a.send_line("this is not json");
    a.send_line(&json!({"type": "peer", "id": "ignored"}).to_string());
    let mut forged = cb.clone();
    forged["local"] = json!(["udp://127.0.0.1:9"]);
    a.send_line(&forged.to_string());
    a.send_line(&cb.to_string());
    b.send_line(&ca.to_string());
    let pa = a.wait_for(WAIT, |r| r["type"] == "punch");
    let pb = b.wait_for(WAIT, |r| r["type"] == "punch");
    assert_eq!(pa["ok"], true, "{pa}\n{}", a.stderr());
    assert_eq!(pb["ok"], true, "{pb}\n{}", b.stderr());
    assert_eq!(pa["remote"], pb["local"]);
    assert!(
        a.stderr().contains("line 1: not valid JSON"),
        "{}",
        a.stderr()
    );
    assert!(
        a.stderr()
            .contains("line 3: candidate: signature does not match"),
        "{}",
        a.stderr()
    );
    // Punched, but the bad input still shows in the exit status.
    assert_eq!(a.wait(WAIT).map(|s| s.code()), Some(Some(2)));
    assert_eq!(b.wait(WAIT).map(|s| s.code()), Some(Some(0)));
}

/// A private network namespace with coturn listening on two loopback addresses;
/// deleted (with coturn in it) on drop.
struct Coturn {
    netns: String,
    _turnserver: Running,
}

impl Coturn {
    fn start(home: &Path) -> Option<Coturn> {
        if !common::is_root() {
            common::skip(
                "coturn interop",
                "it runs in a network namespace, which needs root",
            );
            return None;
        }
        if !common::have("coturn interop", "turnserver") {
            return None;
        }
        let netns = format!("p2ppunch-coturn-{}", std::process::id());
        let ok = Command::new("ip")
            .args(["netns", "add", &netns])
            .status()
            .unwrap()
            .success()
            && Command::new("ip")
                .args(["-n", &netns, "link", "set", "lo", "up"])
                .status()
                .unwrap()
                .success();
        let guard_name = netns.clone();
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns",
            "exec",
            &netns,
            "turnserver",
            "-n",
            "--stun-only",
            "--no-cli",
            "--no-tls",
            "--no-dtls",
            "--listening-ip=127.0.0.1",
            "--listening-ip=127.0.0.2",
            "--listening-port=3478",
            "--alt-listening-port=3479",
            "--log-file=stdout",
            "--simple-log",
        ])
        .arg(format!(
            "--pidfile={}",
            home.join("turnserver.pid").display()
        ));
        let coturn = Coturn {
            netns: guard_name,
            _turnserver: Running::start(cmd),
        };
        assert!(ok, "could not create the namespace");
        // coturn prints nothing machine-readable when ready: ask until it answers.
        let end = std::time::Instant::now() + WAIT;
        while std::time::Instant::now() < end {
            let out = coturn.run(home, &["stun", "127.0.0.1:3478", "--timeout", "200ms"]);
            if out.code() == 0 {
                return Some(coturn);
            }
        }
        panic!("coturn did not start");
    }

    fn run(&self, home: &Path, args: &[&str]) -> Finished {
        let mut cmd = common::command(Path::new("ip"), home);
        cmd.args(["netns", "exec", &self.netns])
            .arg(bin!("p2p-punch"))
            .args(args);
        common::run(cmd, b"", DEADLINE)
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
    }
}

#[test]
fn coturn_as_the_server_for_stun_and_nat() {
    let home = common::tempdir();
    let Some(coturn) = Coturn::start(home.path()) else {
        return;
    };
    let out = coturn.run(
        home.path(),
        &["stun", "127.0.0.1:3478", "stun:127.0.0.2:3479"],
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let records = out.records();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["other"], "udp://127.0.0.2:3479");
    assert!(
        records[0]["software"].as_str().unwrap().contains("Coturn"),
        "{}",
        records[0]
    );
    assert_eq!(records[0]["public"], records[1]["public"]);
    let out = coturn.run(
        home.path(),
        &["nat", "--server", "127.0.0.1:3478", "--bind", "127.0.0.1:0"],
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let nat = &out.records()[0];
    assert_eq!(nat["nat"], "open", "{nat}");
    assert_eq!(nat["rfc5780"], true);
    assert_eq!(nat["filtering"], "endpoint-independent");
}

#[test]
fn turnutils_stunclient_against_our_server() {
    let home = common::tempdir();
    if !common::have(
        "turnutils_stunclient_against_our_server",
        "turnutils_stunclient",
    ) {
        return;
    }
    let (_server, listening) = serve(
        home.path(),
        &["--bind", "127.0.0.1:0", "--alt", "127.0.0.2:0"],
    );
    let server = addr(&listening, "addr");
    let alt = addr(&listening, "alt");
    let port = server.rsplit_once(':').unwrap().1;
    let mut cmd = Command::new("turnutils_stunclient");
    cmd.args(["-p", port, "127.0.0.1"]);
    let out = common::run(cmd, b"", DEADLINE);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let text = out.text();
    // Its RFC 5780 run: a plain response, then answers from the other address.
    assert!(
        text.contains(&format!("Response origin: : {server}")),
        "{text}"
    );
    assert!(text.contains(&format!("Other addr: : {alt}")), "{text}");
    assert!(
        text.contains(&format!("Response origin: : {alt}")),
        "{text}"
    );
    assert!(text.contains("UDP reflexive addr: 127.0.0.1:"), "{text}");
}

/// Sends `message` to the rendezvous from `socket` and returns its answer.
fn ask(
    socket: &UdpSocket,
    server: &str,
    message: &p2p_shared::connect::punch::rendezvous::Message,
) -> p2p_shared::connect::punch::rendezvous::Message {
    use p2p_shared::connect::punch::rendezvous::Message;
    socket.set_read_timeout(Some(WAIT)).unwrap();
    socket.send_to(&message.encode(), server).unwrap();
    let mut buf = [0u8; 2048];
    let n = socket.recv(&mut buf).expect("the rendezvous answers");
    Message::decode(&buf[..n]).unwrap()
}

/// Says hello to the rendezvous as `id` and returns the challenge.
fn challenge(
    socket: &UdpSocket,
    server: &str,
    id: p2p_shared::identity::peer_id::PeerId,
) -> String {
    use p2p_shared::connect::punch::rendezvous::Message;
    let Message::Challenge { challenge } = ask(socket, server, &Message::Hello { id }) else {
        panic!("no challenge");
    };
    challenge
}

/// Registers `record` answering `challenge` with a proof by `signer`; the answer.
fn register(
    socket: &UdpSocket,
    server: &str,
    record: serde_json::Map<String, Value>,
    challenge: String,
    signer: &p2p_shared::identity::Identity,
) -> p2p_shared::connect::punch::rendezvous::Message {
    use p2p_shared::connect::punch::rendezvous::{Message, prove};
    let proof = prove(signer, &hex::decode(&challenge).unwrap());
    ask(
        socket,
        server,
        &Message::Register {
            candidate: record,
            challenge,
            proof,
        },
    )
}

/// A peer registers with its key; then an attacker on another address tries to take
/// its place: with the victim's own (captured) candidate but its own proof, with a
/// candidate it signed but that names the victim, and by asking for introductions in
/// the victim's name. Each is refused with its reason and the victim stays reachable.
#[test]
fn the_rendezvous_refuses_registering_or_speaking_for_someone_else() {
    use p2p_shared::connect::punch::candidate::{Behaviour, Candidate};
    use p2p_shared::connect::punch::rendezvous::Message;
    use p2p_shared::identity::{Identity, signing};
    let home = common::tempdir();
    let (_server, listening) = serve(home.path(), &["--bind", "127.0.0.1:0"]);
    let server = addr(&listening, "addr");
    let victim = Identity::from_seed([1; 32]);
    let attacker = Identity::from_seed([2; 32]);
    let victim_socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let attacker_socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let candidate = |who: &Identity, socket: &UdpSocket| Candidate {
        id: who.id(),
        local: vec![socket.local_addr().unwrap()],
        observed: None,
        mapping: Behaviour::Unknown,
        ports: Vec::new(),
        nonce: [7; 16],
    };
    let challenge_for = |socket: &UdpSocket, id| challenge(socket, &server, id);
    let register = |socket: &UdpSocket, record, challenge: String, signer: &Identity| {
        register(socket, &server, record, challenge, signer)
    };
    let refused = |answer: Message, want: &str| match answer {
        Message::Error { reason } => assert!(reason.contains(want), "{reason}"),
        other => panic!("not refused ({want}): {other:?}"),
    };

    let victim_record = candidate(&victim, &victim_socket)
        .to_record(&victim)
        .unwrap();
    let challenge = challenge_for(&victim_socket, victim.id());
    let answer = register(&victim_socket, victim_record.clone(), challenge, &victim);
    assert!(matches!(answer, Message::Registered { .. }), "{answer:?}");

    // The victim's captured record, proved with the attacker's key.
    let challenge = challenge_for(&attacker_socket, victim.id());
    refused(
        register(
            &attacker_socket,
            victim_record.clone(),
            challenge,
            &attacker,
        ),
        "not a signature by the registering key",
    );
    // The victim's challenge and proof replayed from another address.
    let challenge = challenge_for(&victim_socket, victim.id());
    refused(
        register(&attacker_socket, victim_record, challenge, &victim),
        "stale or foreign challenge",
    );
    // A candidate naming the victim but signed by the attacker.
    let mut forged = candidate(&attacker, &attacker_socket)
        .to_record(&attacker)
        .unwrap();
    forged.insert("id".into(), json!(victim.id().to_string()));
    signing::sign_as_signer(&mut forged, &attacker).unwrap();
    let challenge = challenge_for(&attacker_socket, victim.id());
    refused(
        register(&attacker_socket, forged, challenge, &attacker),
        "candidate",
    );
    // Asking for an introduction in the victim's name.
    refused(
        ask(
            &attacker_socket,
            &server,
            &Message::Connect {
                from: victim.id(),
                to: attacker.id(),
            },
        ),
        "registered from another address",
    );
    // The attacker registers as itself and the victim is still the one introduced.
    let record = candidate(&attacker, &attacker_socket)
        .to_record(&attacker)
        .unwrap();
    let challenge = challenge_for(&attacker_socket, attacker.id());
    let answer = register(&attacker_socket, record, challenge, &attacker);
    assert!(matches!(answer, Message::Registered { .. }), "{answer:?}");
    let answer = ask(
        &attacker_socket,
        &server,
        &Message::Connect {
            from: attacker.id(),
            to: victim.id(),
        },
    );
    let Message::Introduce { peer, observed, .. } = answer else {
        panic!("no introduction: {answer:?}");
    };
    assert_eq!(Candidate::from_record(&peer).unwrap().id, victim.id());
    assert_eq!(
        observed.socket_addr(),
        Some(victim_socket.local_addr().unwrap())
    );
}

/// Both peers reach the rendezvous only through lossy links (30% loss each way,
/// duplicates, reordering): resending registration and connect requests still gets
/// them introduced, and the punch succeeds.
#[test]
fn a_punch_succeeds_when_the_rendezvous_is_behind_lossy_links() {
    use crate::common::lossy::{Faults, LossyLink};
    use std::sync::atomic::Ordering::Relaxed;
    let home = common::tempdir();
    let (mut server, listening) = serve(home.path(), &["--bind", "127.0.0.1:0"]);
    let rendezvous = addr(&listening, "addr").parse().unwrap();
    let faults = |seed| Faults {
        loss: 3_000,
        duplicate: 500,
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(30),
        drop_first: 2,
        seed,
    };
    let to_listener = LossyLink::start(rendezvous, faults(1));
    let to_connector = LossyLink::start(rendezvous, faults(2));
    let (key, id) = make_key(home.path());
    let mut cmd = common::command(&bin!("p2p-punch"), home.path());
    cmd.args([
        "listen",
        "-i",
        &key,
        "--rendezvous",
        &to_listener.addr().to_string(),
        "--bind",
        "127.0.0.1:0",
    ]);
    let mut listener = Running::start(cmd);
    listener.wait_for(Duration::from_secs(20), |r| r["type"] == "listening");
    server.wait_for(Duration::from_secs(20), |r| {
        r["event"] == "registered" && r["id"] == id.as_str()
    });
    let out = punch(
        home.path(),
        &[
            "connect",
            &id,
            "--rendezvous",
            &to_connector.addr().to_string(),
            "--bind",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let mine = &out.records()[0];
    assert_eq!(mine["ok"], true, "{mine}");
    assert_eq!(mine["id"], id.as_str());
    let theirs = listener.wait_for(WAIT, |r| r["type"] == "punch");
    assert_eq!(theirs["ok"], true, "{theirs}");
    let dropped =
        to_listener.counts.dropped.load(Relaxed) + to_connector.counts.dropped.load(Relaxed);
    assert!(
        dropped >= 8,
        "the first two datagrams each way were dropped"
    );
    eprintln!(
        "punch via lossy rendezvous links: {}; {} ({dropped} dropped)",
        to_listener.summary(),
        to_connector.summary()
    );
}

/// The next `stats` record of `server` that satisfies `want`.
fn stats_until(server: &mut Running, want: impl Fn(&Value) -> bool) -> Value {
    server.wait_for(WAIT, |r| r["type"] == "stats" && want(r))
}

#[test]
fn serve_stats_count_stun_answers_registrations_and_refusals() {
    let home = common::tempdir();
    let (mut server, listening) = serve(
        home.path(),
        &["--bind", "127.0.0.1:0", "--stats-every", "100ms"],
    );
    let rendezvous = addr(&listening, "addr");
    let first = stats_until(&mut server, |_| true);
    for counter in ["registrations", "hellos", "registered", "stun_answered"] {
        assert_eq!(first[counter], 0, "{first}");
    }
    assert_eq!(first["refused"], json!({}), "{first}");

    let out = punch(home.path(), &["stun", &rendezvous, "--bind", "127.0.0.1:0"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    stats_until(&mut server, |s| s["stun_answered"].as_u64() >= Some(1));

    // Connecting to a peer nobody registered: this side says hello, registers, and
    // is refused the introduction.
    let (_, id) = make_key(home.path());
    let out = punch(
        home.path(),
        &[
            "connect",
            &id,
            "--rendezvous",
            &rendezvous,
            "--bind",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(out.code(), 1, "{}", out.stderr);
    let moved = stats_until(&mut server, |s| {
        s["refused"]["peer_not_registered"].as_u64() >= Some(1)
    });
    assert!(moved["hellos"].as_u64() >= Some(1), "{moved}");
    assert!(moved["registered"].as_u64() >= Some(1), "{moved}");
    assert!(moved["registrations"].as_u64() >= Some(1), "{moved}");
    assert_eq!(moved["introduced"], 0, "{moved}");
}
