# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_p2p_discover_global_optspecs
    string join \n all mdns dht bootstrap= dht-request-timeout= interface= tracker= ca-file= peers= dns= dns-server= announce= addr= i/identity= allow-readable-key anonymous n/count= timeout= watch q/quiet v/verbose h/help V/version
end

function __fish_p2p_discover_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_p2p_discover_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_p2p_discover_using_subcommand
    set -l cmd (__fish_p2p_discover_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c p2p-discover -n "__fish_p2p_discover_needs_command" -l bootstrap -d 'A DHT node to bootstrap from, e.g. a local `p2p-dht testnet` (repeatable; $P2P_DHT_BOOTSTRAP holds a comma-separated list) [default: the public routers]' -r
complete -c p2p-discover -n "__fish_p2p_discover_needs_command" -l dht-request-timeout -d 'How long to wait for one DHT node\'s answer' -r
complete -c p2p-discover -n "__fish_p2p_discover_needs_command" -l interface -d 'Restrict mDNS to this interface (repeatable)' -r
complete -c p2p-discover -n "__fish_p2p_discover_needs_command" -l tracker -d 'Ask (and announce to) a BitTorrent tracker: http://HOST:PORT/announce, https://HOST:PORT/announce or udp://HOST:PORT' -r
complete -c p2p-discover -n "__fish_p2p_discover_needs_command" -l ca-file -d 'Also trust the CA certificates in this PEM file for HTTPS trackers (beside the system\'s roots, which $SSL_CERT_FILE or $SSL_CERT_DIR can replace)' -r -F
complete -c p2p-discover -n "__fish_p2p_discover_needs_command" -l peers -d 'Read peers from a file: a JSON map {id: addr} (also written in brackets, as the handbook does), a JSON list, NDJSON peer records, or address lines (repeatable)' -r -F
complete -c p2p-discover -n "__fish_p2p_discover_needs_command" -l dns -d 'Turn a DNS name\'s TXT, SRV (_p2p._udp.NAME) and, with :PORT, A/AAAA records into peers (repeatable)' -r
complete -c p2p-discover -n "__fish_p2p_discover_needs_command" -l dns-server -d 'The DNS server to ask [default: the first nameserver in /etc/resolv.conf]' -r
complete -c p2p-discover -n "__fish_p2p_discover_needs_command" -l announce -d 'Announce this peer on PORT on every selected mechanism, and keep re-announcing' -r
complete -c p2p-discover -n "__fish_p2p_discover_needs_command" -l addr -d 'An address to put in this peer\'s signed record (repeatable) [default: this host\'s addresses with the announced port]' -r
complete -c p2p-discover -n "__fish_p2p_discover_needs_command" -s i -l identity -d 'Identity file [default: $XDG_CONFIG_HOME/p2p/identity.json]' -r -F
complete -c p2p-discover -n "__fish_p2p_discover_needs_command" -s n -l count -d 'Exit 0 after N peers' -r
complete -c p2p-discover -n "__fish_p2p_discover_needs_command" -l timeout -d 'Give up after D and exit 1 if no peer was found [default: 5s, none with --watch or --announce]' -r
complete -c p2p-discover -n "__fish_p2p_discover_needs_command" -l all -d 'List every `_p2p._udp` peer on the link, whatever its topic, as avahi-browse does (the same as giving no topic; mDNS, bootstrap files and DNS only)'
complete -c p2p-discover -n "__fish_p2p_discover_needs_command" -l mdns -d 'Use mDNS on the local link'
complete -c p2p-discover -n "__fish_p2p_discover_needs_command" -l dht -d 'Use the mainline DHT (get_peers, and announce_peer with --announce)'
complete -c p2p-discover -n "__fish_p2p_discover_needs_command" -l allow-readable-key -d 'Read the identity file even if others can read it'
complete -c p2p-discover -n "__fish_p2p_discover_needs_command" -l anonymous -d 'Announce without a signed record even when an identity exists'
complete -c p2p-discover -n "__fish_p2p_discover_needs_command" -l watch -d 'Keep running: report new peers, and `peer_gone` when one leaves'
complete -c p2p-discover -n "__fish_p2p_discover_needs_command" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-discover -n "__fish_p2p_discover_needs_command" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-discover -n "__fish_p2p_discover_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-discover -n "__fish_p2p_discover_needs_command" -s V -l version -d 'Print version'
complete -c p2p-discover -n "__fish_p2p_discover_needs_command" -a "tracker" -d 'Run a BitTorrent tracker (HTTP and UDP on one port) for small swarms, CI and LANs'
complete -c p2p-discover -n "__fish_p2p_discover_needs_command" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c p2p-discover -n "__fish_p2p_discover_using_subcommand tracker" -l bind -d 'Address to listen on (TCP for HTTP and UDP, same port)' -r
complete -c p2p-discover -n "__fish_p2p_discover_using_subcommand tracker" -l interval -d 'How often peers should re-announce; they expire after two intervals' -r
complete -c p2p-discover -n "__fish_p2p_discover_using_subcommand tracker" -l max-peers -d 'Most peers in one response' -r
complete -c p2p-discover -n "__fish_p2p_discover_using_subcommand tracker" -l rate -d 'Most announces per source address per minute (a scrape of every swarm counts as 10)' -r
complete -c p2p-discover -n "__fish_p2p_discover_using_subcommand tracker" -l max-swarms -d 'Most infohashes tracked at once; announces for new ones are refused past it' -r
complete -c p2p-discover -n "__fish_p2p_discover_using_subcommand tracker" -l max-connections -d 'Most HTTP connections held at once (always below `ulimit -n`); the oldest is shed when a new one comes' -r
complete -c p2p-discover -n "__fish_p2p_discover_using_subcommand tracker" -l stats-every -d 'Print a `stats` record this often: swarms, peers, announces, scrapes, connections, refusals by reason' -r
complete -c p2p-discover -n "__fish_p2p_discover_using_subcommand tracker" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-discover -n "__fish_p2p_discover_using_subcommand tracker" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-discover -n "__fish_p2p_discover_using_subcommand tracker" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-discover -n "__fish_p2p_discover_using_subcommand help; and not __fish_seen_subcommand_from tracker help" -f -a "tracker" -d 'Run a BitTorrent tracker (HTTP and UDP on one port) for small swarms, CI and LANs'
complete -c p2p-discover -n "__fish_p2p_discover_using_subcommand help; and not __fish_seen_subcommand_from tracker help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
