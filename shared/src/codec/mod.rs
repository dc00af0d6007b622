//! Wire formats. For now only TURN lives here; the lead is moving the other codecs
//! (bencode, STUN, tracker, KRPC) into this folder.

pub mod turn;
