//! The UDP fast path: answers the common query from a cache of encoded answers
//! instead of decoding the request and encoding a [`hickory_proto::op::Message`].
//!
//! A request takes the fast path only when it is plain: a QUERY with no flag but RD,
//! AD and CD, one question of class IN whose name is uncompressed, a type other than
//! ANY, AXFR and IXFR, and at most an EDNS version 0 OPT record without options
//! (nothing may follow). Anything else goes to the slow path, [`respond::answer`],
//! which stays the reference: every cached answer is the slow path's own answer to the
//! same question, made once per rotation turn, and a reply from the cache differs from
//! the slow path's only in the id and the RD and CD bits copied from the request, and
//! the case of the echoed question.
//!
//! A question with capitals (a resolver's 0x20 case randomisation) is looked up in
//! lowercase and its case copied into the echoed question, as the slow path does
//! (see [`respond`]): so mixed-case questions share the cache of lowercase ones.
//!
//! Rotation keeps moving: a question answered from a rotating record set of `n`
//! records takes a turn of the zone's rotation as the slow path does, and is answered
//! with the window of turn `t % n`, encoded the first time that window is asked for.
//! The cache belongs to one zone snapshot; a new snapshot starts an empty cache.

use super::respond::{self, MAX_UDP, Transport};
use super::zone::{Lookup, Zone};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use std::collections::HashMap;
use std::sync::Arc;

/// The size of a DNS message header.
const HEADER: usize = 12;
/// The longest name on the wire.
const NAME_MAX: usize = 255;
/// The longest cache key: a name, its type and class, and the EDNS size.
const KEY_MAX: usize = NAME_MAX + 6;
/// Bytes a cache holds at most (answers, keys, rotation slots); past this it starts
/// again empty, so random names cannot grow it without bound.
const CACHE_BYTES: usize = 4 << 20;
/// The OPT record's type.
const OPT: u16 = 41;

/// What the statistics count of a reply from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answered {
    /// The question's type.
    pub qtype: Option<RecordType>,
    /// The response code.
    pub rcode: ResponseCode,
    /// True when the answer did not fit and TC was set.
    pub truncated: bool,
}

/// One encoded answer.
struct Encoded {
    bytes: Box<[u8]>,
    answered: Answered,
}

/// The answers to one question: one per rotation turn (one in all when the question's
/// record set does not rotate), each encoded when first asked for.
struct Entry {
    rotates: bool,
    turns: Vec<Option<Encoded>>,
}

/// A zone snapshot with its cache of encoded answers, owned by one server thread.
pub struct FastPath {
    zone: Arc<Zone>,
    entries: HashMap<Box<[u8]>, Entry>,
    bytes: usize,
}

/// A plain request, as the fast path takes it.
struct Plain {
    /// Where the question's name ends.
    name_end: usize,
    /// True when the name has capitals.
    mixed_case: bool,
    /// Where the question (name, type, class) ends.
    question_end: usize,
    /// The EDNS size the reply is bounded by, or 0 without EDNS.
    limit: u16,
    /// Where the OPT record starts, when there is one.
    opt: Option<usize>,
}

impl FastPath {
    /// An empty cache for `zone`.
    pub fn new(zone: Arc<Zone>) -> Self {
        FastPath {
            zone,
            entries: HashMap::new(),
            bytes: 0,
        }
    }

    /// The zone answered from.
    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    /// Answers `packet`, received over UDP, into `out` when it is a plain request
    /// (see the module documentation); `None`, with `out` untouched, when it is not
    /// and must go to [`respond::answer`].
    pub fn answer(&mut self, packet: &[u8], out: &mut Vec<u8>) -> Option<Answered> {
        let plain = plain(packet)?;
        let mut key = [0u8; KEY_MAX];
        let question = &packet[HEADER..plain.question_end];
        let key_len = question.len() + 2;
        key[..question.len()].copy_from_slice(question);
        key[..plain.name_end - HEADER].make_ascii_lowercase();
        key[question.len()..key_len].copy_from_slice(&plain.limit.to_be_bytes());
        let key = &key[..key_len];
        if !self.entries.contains_key(key) {
            let entry = self.entry(packet, &plain)?;
            let size = key.len() + entry.turns.len() * size_of::<Option<Encoded>>();
            self.make_room(size);
            self.entries.insert(key.into(), entry);
        }
        let entry = self.entries.get_mut(key)?;
        let turn = if entry.rotates {
            self.zone.next_turn() % entry.turns.len()
        } else {
            0
        };
        if entry.turns[turn].is_none() {
            let reply = respond::answer_at(
                &self.zone,
                &canonical(packet, &plain),
                Transport::Udp,
                Some(turn),
            )?;
            let encoded = Encoded {
                answered: Answered {
                    qtype: reply.qtype,
                    rcode: reply.rcode,
                    truncated: reply.truncated,
                },
                bytes: reply.bytes.into_boxed_slice(),
            };
            let size = encoded.bytes.len();
            if self.bytes + size > CACHE_BYTES {
                // Too full: this answer is served once, uncached, and the cache
                // starts again.
                self.entries.clear();
                self.bytes = 0;
                return Some(Self::write(&encoded, packet, &plain, out));
            }
            self.bytes += size;
            let entry = self.entries.get_mut(key)?;
            entry.turns[turn] = Some(encoded);
        }
        let encoded = self.entries.get(key)?.turns[turn].as_ref()?;
        Some(Self::write(encoded, packet, &plain, out))
    }

    /// Empties the cache when `size` more bytes would not fit.
    fn make_room(&mut self, size: usize) {
        if self.bytes + size > CACHE_BYTES {
            self.entries.clear();
            self.bytes = 0;
        }
        self.bytes += size;
    }

    /// A new entry for the question of `packet`: whether the record set it is
    /// answered from rotates, and over how many turns. `None` when the slow path
    /// would not decode the request.
    fn entry(&self, packet: &[u8], plain: &Plain) -> Option<Entry> {
        let request = Message::from_vec(&canonical(packet, plain)).ok()?;
        let query = request.queries.first()?;
        let period = match self.zone.lookup(query.name()) {
            Lookup::Found(node) => node
                .sets
                .iter()
                .find(|(rtype, _)| *rtype == query.query_type())
                .map_or(1, |(_, set)| Zone::period(set)),
            Lookup::Outside | Lookup::NxDomain => 1,
        };
        Some(Entry {
            rotates: period > 1,
            turns: (0..period).map(|_| None).collect(),
        })
    }

    /// Copies `encoded` into `out` with the request's id, RD and CD bits, and the
    /// case of its question.
    fn write(encoded: &Encoded, packet: &[u8], plain: &Plain, out: &mut Vec<u8>) -> Answered {
        out.clear();
        out.extend_from_slice(&encoded.bytes);
        if out.len() >= HEADER {
            out[..2].copy_from_slice(&packet[..2]);
            out[2] |= packet[2] & 0x01;
            out[3] |= packet[3] & 0x10;
        }
        if plain.mixed_case {
            respond::restore_case(out, packet, plain.name_end);
        }
        encoded.answered
    }
}

/// The request the cached answers are made from: `packet` with id 0, no RD, AD or CD,
/// the question in lowercase, an EDNS size of exactly the limit and no EDNS flags, so
/// that every request with the same key gets the same answer.
fn canonical(packet: &[u8], plain: &Plain) -> Vec<u8> {
    let mut request = packet.to_vec();
    request[..4].fill(0);
    request[HEADER..plain.name_end].make_ascii_lowercase();
    if let Some(opt) = plain.opt {
        request[opt + 3..opt + 5].copy_from_slice(&plain.limit.to_be_bytes());
        request[opt + 7..opt + 9].fill(0);
    }
    request
}

fn u16_at(packet: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*packet.get(at)?, *packet.get(at + 1)?]))
}

/// Reads `packet` as a plain request, or `None` when it is anything else.
fn plain(packet: &[u8]) -> Option<Plain> {
    // QR, opcode QUERY, no AA or TC (RD may be set); no RA, Z or rcode (AD and CD
    // may be set); one question, no answer or authority, at most the OPT record.
    if packet.len() < HEADER || packet[2] & 0xfe != 0 || packet[3] & 0xcf != 0 {
        return None;
    }
    let counts = [4, 6, 8, 10].map(|at| u16_at(packet, at));
    let [Some(1), Some(0), Some(0), Some(additionals @ (0 | 1))] = counts else {
        return None;
    };
    let name_end = respond::first_name_end(packet)?;
    let mixed_case = packet[HEADER..name_end].iter().any(u8::is_ascii_uppercase);
    let at = name_end;
    let qtype = u16_at(packet, at)?;
    let qclass = u16_at(packet, at + 2)?;
    let question_end = at + 4;
    // ANY answers several record sets, zone transfers are refused: the slow path's.
    if qclass != 1
        || matches!(
            RecordType::from(qtype),
            RecordType::ANY | RecordType::AXFR | RecordType::IXFR
        )
    {
        return None;
    }
    let (limit, opt, end) = if additionals == 1 {
        // The root name, type OPT, the size, extended rcode 0, version 0, any flags,
        // no options.
        let opt = question_end;
        if *packet.get(opt)? != 0
            || u16_at(packet, opt + 1)? != OPT
            || u16_at(packet, opt + 5)? != 0
            || u16_at(packet, opt + 9)? != 0
        {
            return None;
        }
        let size = u16_at(packet, opt + 3)?.clamp(512, MAX_UDP);
        (size, Some(opt), opt + 11)
    } else {
        (0, None, question_end)
    };
    (end == packet.len()).then_some(Plain {
        name_end,
        mixed_case,
        question_end,
        limit,
        opt,
    })
}

#[cfg(test)]
mod tests {
    use super::super::zone::Config;
    use super::*;
    use crate::identity::Identity;
    use crate::ndjson::peer::PeerRecord;
    use hickory_proto::op::{Edns, Query};
    use hickory_proto::rr::Name;

    /// Signed peers with ids (TXT, SRV targets, IPv6), peers without ids on two
    /// topics, tcp and relay addresses; rotating windows of `answers`.
    fn zone(answers: usize) -> Zone {
        let records: Vec<(PeerRecord, String)> = (0..10u8)
            .map(|i| {
                let addrs = [
                    format!("udp://10.2.0.{i}:4000"),
                    format!("tcp://[2001:db8::{i}]:4001"),
                    format!("relay://relay.test:3478/p{i}"),
                ];
                let addrs = addrs.iter().map(|a| a.parse().unwrap()).collect();
                let topic = Some(["chat", "files"][usize::from(i % 2)].to_owned());
                let mut record = if i % 3 == 0 {
                    PeerRecord::new(None, addrs)
                } else {
                    PeerRecord::new(Some(Identity::from_seed([i; 32]).id()), addrs)
                };
                record.topic = topic;
                if i % 3 != 0 {
                    record.seq = Some(u64::from(i));
                    record.sign(&Identity::from_seed([i; 32])).unwrap();
                }
                let json = serde_json::to_string(&record).unwrap();
                (record, json)
            })
            .collect();
        let config = Config {
            origin: Name::from_ascii("z.test.").unwrap(),
            ttl: 5,
            answers,
            ns: Name::from_ascii("ns.z.test.").unwrap(),
        };
        Zone::build(config, records.iter().map(|(r, j)| (r, j.as_str())), 7)
    }

    /// Every kind of name of the zone, and names that are not.
    fn names() -> Vec<String> {
        let mut names: Vec<String> = [
            "",
            "chat.",
            "files.",
            "_p2p._udp.",
            "_p2p._tcp.",
            "_udp.",
            "_tcp.",
            "nope.",
            "a.b.chat.",
            "ns.",
            "ip4-10-2-0-0.",
            "ip4-10-2-0-3.",
        ]
        .iter()
        .map(|n| format!("{n}z.test."))
        .collect();
        names.push("ip6-20010db8000000000000000000000000.z.test.".into());
        names.extend(["other.test.", "test.", "."].map(String::from));
        for i in [1u8, 2, 4] {
            names.push(format!("{}.z.test.", Identity::from_seed([i; 32]).id()));
        }
        names
    }

    /// A name in mixed case, as a resolver's 0x20 randomisation writes it: every
    /// other letter a capital, starting at the first or the second.
    fn mixed_case(name: &str, odd: bool) -> String {
        name.chars()
            .enumerate()
            .map(|(i, c)| {
                if (i % 2 == 1) == odd {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect()
    }

    /// Requests over every name (in lowercase and in two mixed cases) and type, with
    /// and without EDNS (several sizes, the DO bit), with RD, AD and CD in turn.
    fn requests() -> Vec<Vec<u8>> {
        let types = [1u16, 28, 16, 33, 6, 2, 15, 12, 41, 0, 257, 65280];
        let mut requests = Vec::new();
        let mut id = 0u16;
        let names = names()
            .into_iter()
            .flat_map(|n| [mixed_case(&n, true), mixed_case(&n, false), n]);
        for name in names {
            for &rtype in &types {
                for (variant, edns) in [None, Some(512), Some(1232), Some(4096), Some(100)]
                    .into_iter()
                    .enumerate()
                {
                    id = id.wrapping_add(4099);
                    let mut request = Message::query();
                    request.metadata.id = id;
                    request.metadata.recursion_desired = variant % 2 == 0;
                    request.metadata.checking_disabled = variant % 3 == 0;
                    request.metadata.authentic_data = variant % 2 == 1;
                    let name = Name::from_ascii(&name).unwrap();
                    request.add_query(Query::query(name, RecordType::from(rtype)));
                    if let Some(size) = edns {
                        let mut e = Edns::new();
                        e.set_max_payload(size);
                        e.set_dnssec_ok(variant == 2);
                        request.set_edns(e);
                    }
                    requests.push(request.to_vec().unwrap());
                }
            }
        }
        requests
    }

    /// The fast path, on a zone, and the slow path, on an identical zone, asked the
    /// same requests in the same order: the fast path's replies are byte for byte the
    /// slow path's (so the rotation moves in step too). Returns how many requests
    /// the fast path took.
    fn in_step(requests: &[Vec<u8>], rounds: usize, answers: usize) -> usize {
        let slow = zone(answers);
        let mut fast = FastPath::new(Arc::new(zone(answers)));
        let mut out = Vec::new();
        let mut taken = 0;
        for _ in 0..rounds {
            for request in requests {
                let reference = respond::answer(&slow, request, Transport::Udp);
                match fast.answer(request, &mut out) {
                    Some(answered) => {
                        taken += 1;
                        let reference = reference.expect("the slow path answers too");
                        assert_eq!(out, reference.bytes, "request {request:?}");
                        assert_eq!(answered.qtype, reference.qtype);
                        assert_eq!(answered.rcode, reference.rcode);
                        assert_eq!(answered.truncated, reference.truncated);
                    }
                    None => {
                        // Declined: the slow path answers, on the fast path's zone.
                        let own = respond::answer(fast.zone(), request, Transport::Udp);
                        assert_eq!(own.map(|r| r.bytes), reference.map(|r| r.bytes));
                    }
                }
            }
        }
        taken
    }

    #[test]
    fn answers_every_plain_question_as_the_slow_path_does() {
        let requests = requests();
        // More rounds than any rotating set has records: every turn of every window;
        // windows of 3, and of all records.
        for answers in [3, 0] {
            let taken = in_step(&requests, 24, answers);
            // Every one of these requests is plain.
            assert_eq!(taken, requests.len() * 24);
        }
    }

    #[test]
    fn the_window_moves_with_every_cached_answer() {
        let mut fast = FastPath::new(Arc::new(zone(3)));
        let mut request = Message::query();
        request.add_query(Query::query(
            Name::from_ascii("z.test.").unwrap(),
            RecordType::A,
        ));
        let request = request.to_vec().unwrap();
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut last = Vec::new();
        for _ in 0..20 {
            fast.answer(&request, &mut out).expect("a plain request");
            let reply = Message::from_vec(&out).unwrap();
            assert_eq!(reply.answers.len(), 3);
            assert_ne!(out, last, "two answers alike in a row");
            seen.extend(reply.answers.iter().map(|r| r.data.clone()));
            last.clone_from(&out);
        }
        assert_eq!(seen.len(), 10, "every peer's address comes round");
    }

    /// A 0x20 question is answered from the cache of its lowercase form, with its own
    /// case echoed, and names the same records.
    #[test]
    fn mixed_case_questions_share_the_cache_and_keep_their_case() {
        let mut fast = FastPath::new(Arc::new(zone(0)));
        let ask = |name: &str| {
            let mut request = Message::query();
            request.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
            request.to_vec().unwrap()
        };
        let mut out = Vec::new();
        fast.answer(&ask("chat.z.test."), &mut out).unwrap();
        let lower = out.clone();
        let cached = fast.entries.len();
        let mixed = ask("cHaT.Z.tEsT.");
        fast.answer(&mixed, &mut out).unwrap();
        assert_eq!(
            fast.entries.len(),
            cached,
            "a second entry for the same name"
        );
        let name_end = respond::first_name_end(&mixed).unwrap();
        assert_eq!(out[HEADER..name_end], mixed[HEADER..name_end]);
        // The same layout (the whole set, rotated one turn on).
        assert_eq!(out.len(), lower.len());
        let reply = Message::from_vec(&out).unwrap();
        assert_eq!(reply.queries[0].name().to_ascii(), "cHaT.Z.tEsT.");
        let data = |m: &Message| {
            let mut d: Vec<String> = m.answers.iter().map(|r| r.data.to_string()).collect();
            d.sort();
            d
        };
        assert_eq!(data(&reply), data(&Message::from_vec(&lower).unwrap()));
        assert!(!reply.answers.is_empty());
    }

    #[test]
    fn unusual_requests_go_to_the_slow_path() {
        let mut fast = FastPath::new(Arc::new(zone(3)));
        let base = |name: &str, rtype: RecordType| {
            let mut request = Message::query();
            request.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
            request.to_vec().unwrap()
        };
        let plain = base("chat.z.test.", RecordType::A);
        let mut out = Vec::new();
        assert!(fast.answer(&plain, &mut out).is_some());
        let mut declined = vec![
            base("chat.z.test.", RecordType::ANY),
            base("z.test.", RecordType::AXFR),
            plain[..plain.len() - 1].to_vec(),
            [plain.as_slice(), &[0]].concat(),
        ];
        for (at, bit) in [
            (2, 0x80),
            (2, 0x08),
            (2, 0x02),
            (3, 0x40),
            (3, 0x01),
            (5, 0x02),
        ] {
            let mut p = plain.clone();
            p[at] |= bit;
            declined.push(p);
        }
        // EDNS version 1, and an option.
        let mut request = Message::query();
        request.add_query(Query::query(
            Name::from_ascii("chat.z.test.").unwrap(),
            RecordType::A,
        ));
        let mut edns = Edns::new();
        edns.set_version(1);
        request.set_edns(edns);
        declined.push(request.to_vec().unwrap());
        let mut with_option = base("chat.z.test.", RecordType::A);
        with_option[11] = 1;
        with_option.extend([0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 4, 0, 10, 0, 0]);
        declined.push(with_option);
        for request in &declined {
            out.clear();
            assert!(fast.answer(request, &mut out).is_none(), "{request:?}");
            assert!(out.is_empty());
        }
    }

    /// Random bytes and mutations of plain requests: whatever the fast path takes, it
    /// answers as the slow path does.
    #[test]
    fn mutated_requests_answered_fast_match_the_slow_path() {
        let valid = requests();
        let mut next = super::super::xorshift(0x2545_f491_4f6c_dd1d_u64);
        let mutated: Vec<Vec<u8>> = (0..20_000)
            .map(|_| {
                let mut packet = valid[usize::try_from(next()).unwrap() % valid.len()].clone();
                for _ in 0..=(next() % 3) {
                    let at = usize::try_from(next()).unwrap() % packet.len();
                    packet[at] = next().to_le_bytes()[0];
                }
                packet
            })
            .collect();
        assert!(in_step(&mutated, 2, 3) > 1000, "some mutations stay plain");
    }
}
