#!/usr/bin/python3
"""A libtorrent DHT node on loopback, driven by NDJSON commands on stdin.

Used by tests/dht.rs to check p2p-dht against an independent implementation. It never leaves the machine: no default bootstrap nodes, no LSD,
UPnP or NAT-PMP, listening on 127.0.0.1 only; nodes are added with `add_node`.

Prints {"type":"listening","addr":"udp://127.0.0.1:PORT"} first, then one
record per command:
  {"cmd":"add_node","addr":"127.0.0.1:6881"}     -> {"type":"ok"}
  {"cmd":"announce","infohash":HEX}             -> {"type":"announced","port":N}
  {"cmd":"wait_announced_here","infohash":HEX} -> {"type":"announced_here","found":BOOL}
  {"cmd":"get_peers","infohash":HEX}            -> {"type":"peers","peers":["IP:PORT",…]}
  {"cmd":"put","value":TEXT}                    -> {"type":"stored","target":HEX,"nodes":N}
  {"cmd":"get","target":HEX}                    -> {"type":"item","value":TEXT} or {"type":"missing"}
Each command waits for libtorrent's alert, at most `timeout` seconds (default 5).
Exits at end of input.
"""

import json
import sys
import tempfile
import time

import libtorrent as lt


def session(port):
    return lt.session({
        "listen_interfaces": f"127.0.0.1:{port}",
        "enable_dht": True,
        "dht_bootstrap_nodes": "",
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        # Every node of a loopback DHT shares one IP address.
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        "dht_ignore_dark_internet": False,
        "dht_prefer_verified_node_ids": False,
        # A fresh BEP 51 sample for every request, not one cached for 6 hours.
        "dht_sample_infohashes_interval": 0,
        "alert_mask": lt.alert.category_t.dht_notification
        | lt.alert.category_t.dht_operation_notification
        | lt.alert.category_t.status_notification
        | lt.alert.category_t.error_notification,
    })


# Infohashes other nodes have announced to this one (dht_announce_alert), kept while
# other alerts are awaited.
announced_here = set()


def wait_alert(ses, kind, timeout, accept=lambda a: True):
    """The first alert of `kind` that `accept`s, or None after `timeout` seconds. The
    whole batch it came in is read first (an announce after it in the same batch was
    lost before); the alert is only valid until the session's next call."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ses.wait_for_alert(int(max(1, (end - time.monotonic()) * 1000)))
        found = None
        for alert in ses.pop_alerts():
            if isinstance(alert, lt.dht_announce_alert):
                announced_here.add(str(alert.info_hash))
            if found is None and isinstance(alert, kind) and accept(alert):
                found = alert
        if found is not None:
            return found
    return None


def emit(record):
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    ses = session(port)
    listen = wait_alert(ses, lt.listen_succeeded_alert, 5,
                        lambda a: a.socket_type == lt.socket_type_t.udp)
    if listen is None:
        sys.exit("libtorrent did not start listening")
    bound = listen.port
    emit({"type": "listening", "addr": f"udp://127.0.0.1:{bound}"})
    save_path = tempfile.mkdtemp(prefix="libtorrent-node-")
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        timeout = cmd.get("timeout", 5)
        name = cmd["cmd"]
        if name == "add_node":
            host, port = cmd["addr"].removeprefix("udp://").rsplit(":", 1)
            ses.add_dht_node((host, int(port)))
            emit({"type": "ok"})
        elif name == "announce":
            # The Python binding cannot name dht_announce's flags, so the node joins
            # the swarm as a torrent does, which announces its listening port.
            params = lt.parse_magnet_uri("magnet:?xt=urn:btih:" + cmd["infohash"])
            params.save_path = save_path
            ses.add_torrent(params)
            emit({"type": "announced", "port": bound})
        elif name == "wait_announced_here":
            if cmd["infohash"] not in announced_here:
                wait_alert(ses, lt.dht_announce_alert, timeout,
                           lambda a: cmd["infohash"] in announced_here)
            emit({"type": "announced_here", "found": cmd["infohash"] in announced_here})
        elif name == "get_peers":
            ih = lt.sha1_hash(bytes.fromhex(cmd["infohash"]))
            ses.dht_get_peers(ih)
            alert = wait_alert(ses, lt.dht_get_peers_reply_alert, timeout,
                               lambda a: str(a.info_hash) == cmd["infohash"])
            peers = [] if alert is None else [f"{ip}:{p}" for ip, p in alert.peers()]
            emit({"type": "peers", "peers": peers})
        elif name == "put":
            target = ses.dht_put_immutable_item(cmd["value"].encode())
            alert = wait_alert(ses, lt.dht_put_alert, timeout,
                               lambda a: str(a.target) == str(target))
            emit({"type": "stored", "target": str(target),
                  "nodes": -1 if alert is None else alert.num_success})
        elif name == "get":
            target = lt.sha1_hash(bytes.fromhex(cmd["target"]))
            ses.dht_get_immutable_item(target)
            alert = wait_alert(ses, lt.dht_immutable_item_alert, timeout,
                               lambda a: str(a.target) == cmd["target"])
            try:
                # The binding gives {"key": target, "value": the item}.
                value = None if alert is None else alert.item["value"]
            except RuntimeError:
                # An alert for a lookup that found nothing holds no entry.
                value = None
            if isinstance(value, bytes):
                emit({"type": "item", "value": value.decode("utf-8", "replace")})
            else:
                emit({"type": "missing"})
        else:
            emit({"type": "error", "message": f"unknown command {name}"})


if __name__ == "__main__":
    main()
