"""A standard BitTorrent client (libtorrent, through python3-libtorrent) driven by
tests/discover_libtorrent.rs against `p2p-discover tracker`.

Everything stays on 127.0.0.1: DHT, local service discovery, UPnP and NAT-PMP are
off, so peers can only come from the tracker. Progress is printed as NDJSON lines;
any tracker error or a missing alert ends the script with status 1 and an `error`
line.

  announce TRACKER_URL INFOHASH_HEX
      One session adds a magnet for INFOHASH_HEX with TRACKER_URL, waits for the
      tracker's reply, scrapes, then stays until stdin closes (so the test can ask
      the tracker about it meanwhile).
  swarm TRACKER_URL DIR
      Makes a small torrent in DIR; a seeding session and a downloading session
      announce to TRACKER_URL; the downloader fetches the data from the seeder, and
      then both re-announce, each seeing the other in the tracker's peer list.
"""
import faulthandler
import json
import os
import sys
import time
import types

import libtorrent as lt

# A crash inside libtorrent prints the Python stack on stderr instead of nothing.
faulthandler.enable()

TIMEOUT = 15.0


def emit(**record):
    print(json.dumps(record), flush=True)


def fail(why):
    emit(type="error", error=why)
    sys.exit(1)


def session():
    return lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "alert_mask": lt.alert.category_t.all_categories,
        # Two clients on one address must be allowed to talk to each other.
        "allow_multiple_connections_per_ip": True,
        # The tracker is on 127.0.0.1, which libtorrent only announces to on the
        # path /announce unless told otherwise; scrapes go to /scrape.
        "ssrf_mitigation": False,
    })


# Alerts popped from each session but not yet looked at.
PENDING = {}


def snapshot(alert):
    """What the script needs of an alert, copied out of it: libtorrent frees the
    alerts of one pop_alerts() at the session's next call, so an alert kept for a
    later wait_for pointed at freed memory (a segfault, seen under load)."""
    record = types.SimpleNamespace(kind=type(alert).__name__)
    if isinstance(alert, lt.tracker_reply_alert):
        record.num_peers = alert.num_peers
    elif isinstance(alert, lt.peer_connect_alert):
        record.endpoint = (alert.endpoint[0], alert.endpoint[1])
    elif isinstance(alert, lt.scrape_reply_alert):
        record.complete, record.incomplete = alert.complete, alert.incomplete
    elif isinstance(alert, (lt.tracker_error_alert, lt.scrape_failed_alert)):
        record.error = f"{alert.message()} ({alert.error.message()})"
    return record


def wait_for(ses, kind, what, test=lambda record: True):
    """Takes the session's alerts in order until one of type `kind` passes `test`
    (each as its snapshot); tracker errors fail at once."""
    pending = PENDING.setdefault(id(ses), [])
    end = time.monotonic() + TIMEOUT
    while time.monotonic() < end:
        while pending:
            record = pending.pop(0)
            if hasattr(record, "error"):
                fail(f"{what}: {record.error}")
            if record.kind == kind and test(record):
                return record
        ses.wait_for_alert(100)
        pending.extend(snapshot(alert) for alert in ses.pop_alerts())
    fail(f"no {what} within {TIMEOUT}s")


def params(save_path, **extra):
    p = lt.add_torrent_params()
    p.save_path = save_path
    for key, value in extra.items():
        setattr(p, key, value)
    return p


def announce(tracker, infohash):
    ses = session()
    p = lt.parse_magnet_uri(f"magnet:?xt=urn:btih:{infohash}")
    p.save_path = os.getcwd()
    p.trackers = [tracker]
    handle = ses.add_torrent(p)
    reply = wait_for(ses, "tracker_reply_alert", "tracker reply")
    emit(type="announced", port=ses.listen_port(), num_peers=reply.num_peers)
    handle.scrape_tracker(0)
    scrape = wait_for(ses, "scrape_reply_alert", "scrape reply")
    emit(type="scraped", complete=scrape.complete, incomplete=scrape.incomplete)
    sys.stdin.read()


def swarm(tracker, directory):
    data_dir = os.path.join(directory, "seed")
    os.makedirs(data_dir)
    with open(os.path.join(data_dir, "data.bin"), "wb") as f:
        f.write(bytes(range(256)) * 256)
    files = lt.file_storage()
    lt.add_files(files, os.path.join(data_dir, "data.bin"))
    # v1 only: a hybrid torrent would announce two infohashes.
    creator = lt.create_torrent(files, 16384, flags=lt.create_torrent.v1_only)
    creator.add_tracker(tracker)
    lt.set_piece_hashes(creator, data_dir)
    info = lt.torrent_info(lt.bencode(creator.generate()))

    seeder, leecher = session(), session()
    ports = {"seeder": seeder.listen_port(), "leecher": leecher.listen_port()}
    emit(type="ports", **ports)
    seed = seeder.add_torrent(params(data_dir, ti=info))
    first = wait_for(seeder, "tracker_reply_alert", "seeder's tracker reply")
    emit(type="announced", who="seeder", num_peers=first.num_peers)

    leech = leecher.add_torrent(params(os.path.join(directory, "leech"), ti=lt.torrent_info(info)))
    reply = wait_for(leecher, "tracker_reply_alert", "leecher's tracker reply")
    emit(type="announced", who="leecher", num_peers=reply.num_peers)
    # The leecher can only have the seeder's address from the tracker: finishing
    # the download proves the address it got was right.
    seeder_port = ports["seeder"]
    connected = wait_for(
        leecher,
        "peer_connect_alert",
        "leecher's connection to the seeder",
        lambda record: record.endpoint[1] == seeder_port,
    )
    emit(type="connected", who="leecher", addr=f"{connected.endpoint[0]}:{connected.endpoint[1]}")
    wait_for(leecher, "torrent_finished_alert", "download")
    emit(type="downloaded", who="leecher")

    for who, ses, handle in (("seeder", seeder, seed), ("leecher", leecher, leech)):
        handle.force_reannounce(0, -1, lt.reannounce_flags_t.ignore_min_interval)
        again = wait_for(ses, "tracker_reply_alert", f"{who}'s re-announce")
        emit(type="reannounced", who=who, num_peers=again.num_peers)
    seed.scrape_tracker(0)
    scrape = wait_for(seeder, "scrape_reply_alert", "scrape reply")
    emit(type="scraped", complete=scrape.complete, incomplete=scrape.incomplete)


def main():
    mode, tracker, arg = sys.argv[1:4]
    if mode == "announce":
        announce(tracker, arg)
    elif mode == "swarm":
        swarm(tracker, arg)
    else:
        fail(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
