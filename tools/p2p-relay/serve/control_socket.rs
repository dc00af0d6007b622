//! The control socket: every client's requests, Send indications and ChannelData
//! arrive here.

use super::{MAX_PACKET, Server};
use p2p_shared::Result;
use p2p_shared::codec::stun;
use p2p_shared::codec::turn;
use std::rc::Rc;

impl Server {
    pub(super) async fn control_loop(self: Rc<Self>) -> Result<()> {
        let mut buf = vec![0u8; MAX_PACKET];
        loop {
            let (len, from) = match self.control.recv_from(&mut buf).await {
                Ok(got) => got,
                Err(e) if p2p_shared::connect::punch::binding::transient(&e) => continue,
                Err(e) => return Err(e.into()),
            };
            let packet = &buf[..len];
            if let Some((channel, data)) = turn::decode_channel_data(packet) {
                self.relay_channel_data(from, channel, data);
                continue;
            }
            match stun::decode(packet) {
                Ok(message) => self.stun(&message, packet, from),
                Err(_) => self.state.borrow_mut().stats.malformed += 1,
            }
        }
    }
}
