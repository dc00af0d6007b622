//! `p2p-relay probe`: allocate on a TURN relay, report what it granted and how fast
//! it answered, optionally install a permission and a channel, then release.

use crate::args::ProbeArgs;
use p2p_shared::addr::{Addr, Scheme};
use p2p_shared::cli::entry::Ctx;
use p2p_shared::connect::turn_client::{Client, Credentials};
use p2p_shared::identity::Identity;
use p2p_shared::{Context, Result, Status};
use serde_json::json;
use std::net::UdpSocket;
use std::time::Duration;

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// `p2p-relay probe`.
pub fn run(args: &ProbeArgs, ctx: &Ctx) -> Result<Status> {
    let credentials = if let Some(secret) = &args.auth_secret {
        Credentials::Secret {
            secret: secret.clone(),
            name: args.name.clone(),
        }
    } else if let Some((username, password)) = &args.user {
        Credentials::User {
            username: username.clone(),
            password: password.clone(),
        }
    } else {
        let identity = match &args.identity {
            Some(path) => Identity::load(path, args.allow_readable_key)?,
            None => Identity::generate()?,
        };
        Credentials::PeerKey(Box::new(identity))
    };
    let auth = match &credentials {
        Credentials::Secret { .. } => "shared-secret",
        Credentials::User { .. } => "user",
        _ => "peer-key",
    };
    let socket = UdpSocket::bind(args.bind).with_context(|| format!("binding {}", args.bind))?;
    let mut client = Client::allocate(socket, args.relay, credentials, None, args.timeout)?;
    let mut record = json!({
        "type": "relay",
        "relay": format!("turn://{}", Addr::from_socket(Scheme::Udp, args.relay).to_string().trim_start_matches("udp://")),
        "relayed": Addr::from_socket(Scheme::Udp, client.relayed()),
        "auth": auth,
        "rtt_ms": ms(client.rtt()),
        "lifetime_s": client.lifetime().as_secs(),
        "realm": client.realm(),
    });
    if let Some(mapped) = client.mapped() {
        record["mapped"] = json!(Addr::from_socket(Scheme::Udp, mapped));
    }
    if let Some(software) = client.software() {
        record["software"] = json!(software);
    }
    if let Some(peer) = args.peer {
        client.create_permission(&[peer])?;
        record["permission_rtt_ms"] = json!(ms(client.rtt()));
        let channel = client.bind_channel(peer)?;
        record["channel"] = json!(channel);
        record["channel_rtt_ms"] = json!(ms(client.rtt()));
    }
    client.release()?;
    record["released"] = json!(true);
    ctx.out.record(&record)?;
    Ok(Status::Success)
}
