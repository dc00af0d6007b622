//! Holds many TURN allocations at once, for `scripts/bench-relay` to measure what
//! 1,000 allocations cost a relay (ours or coturn).
//!
//! Usage: `turn_hold RELAY N (--secret S | --user NAME:PASSWORD)`: allocates N times
//! from N sockets (each with a permission for 127.0.0.1), prints one JSON object
//! with how many succeeded and how long it took, then holds them until stdin closes
//! and releases them.

use p2p_shared::connect::turn_client::{Client, Credentials, parse_relay, parse_user};
use std::io::Read;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: turn_hold RELAY N (--secret S | --user NAME:PASSWORD)";
    let (Some(relay), Some(count), Some(kind), Some(value)) =
        (args.first(), args.get(1), args.get(2), args.get(3))
    else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let relay = parse_relay(relay).expect("RELAY");
    let count: usize = count.parse().expect("N");
    let credentials = match kind.as_str() {
        "--secret" => Credentials::Secret {
            secret: value.clone(),
            name: "bench".to_owned(),
        },
        "--user" => {
            let (username, password) = parse_user(value).expect("NAME:PASSWORD");
            Credentials::User { username, password }
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let start = Instant::now();
    let mut held = Vec::new();
    let mut failed = 0;
    for _ in 0..count {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("binding");
        match Client::allocate(
            socket,
            relay,
            credentials.clone(),
            None,
            Duration::from_secs(3),
        ) {
            Ok(mut client) => {
                let peer = SocketAddr::from(([127, 0, 0, 1], 9));
                if client.create_permission(&[peer]).is_err() {
                    failed += 1;
                }
                held.push(client);
            }
            Err(e) => {
                failed += 1;
                eprintln!("turn_hold: {e}");
            }
        }
    }
    let report = serde_json::json!({
        "allocations": held.len(),
        "failed": failed,
        "seconds": start.elapsed().as_secs_f64(),
    });
    std::io::Write::write_all(&mut std::io::stdout(), format!("{report}\n").as_bytes())
        .expect("writing the report");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    for client in &mut held {
        let _ = client.release();
    }
}
