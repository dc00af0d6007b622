# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_p2p_dns_rr_global_optspecs
    string join \n q/quiet v/verbose h/help V/version
end

function __fish_p2p_dns_rr_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_p2p_dns_rr_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_p2p_dns_rr_using_subcommand
    set -l cmd (__fish_p2p_dns_rr_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_needs_command" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_needs_command" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_needs_command" -s V -l version -d 'Print version'
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_needs_command" -f -a "serve" -d 'Serve live peers as an authoritative DNS zone (UDP and TCP on one port)'
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_needs_command" -f -a "query" -d 'Ask a DNS server for peers and print them as `peer` records'
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_needs_command" -f -a "publish" -d 'Keep a DNS server\'s records current with RFC 2136 updates (TSIG signed)'
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand serve" -l zone -d 'The zone to serve, e.g. peers.example.org' -r
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand serve" -l bind -d 'Address to listen on, UDP and TCP (port 0: any free port)' -r
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand serve" -l ttl -d 'TTL of every record, and of negative answers, in seconds' -r
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand serve" -l answers -d 'Addresses (or SRV/TXT records) per answer, rotating over all of them; 0: all' -r
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand serve" -l expire -d 'Forget a peer this long after it was last announced' -r
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand serve" -l peers -d 'Also serve the peers in this NDJSON file (kept while they are in it; the file is read again when it changes)' -r -F
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand serve" -l stats-every -d 'Print a `stats` record this often' -r
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand serve" -l threads -d 'UDP worker threads [default: one per core]' -r
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand serve" -l ns -d 'The zone\'s name server, as named in its NS and SOA records [default: ns.ZONE]' -r
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand serve" -l rate-limit -d 'UDP answers a second per source /24 (IPv4) or /56 (IPv6), with a second\'s worth of burst; answers beyond it are dropped or slipped (0: no limit). Loopback sources are exempt unless --rate-limit-loopback' -r
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand serve" -l slip -d 'Every Nth answer over the rate goes out as an empty truncated reply (TC), so a real client asks again over TCP; the others are dropped (0: drop all)' -r
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand serve" -l max-line -d 'Longest accepted input line, in bytes' -r
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand serve" -l rate-limit-loopback -d 'Limit loopback sources too (rate, and the size of UDP replies to sources not verified over TCP)'
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand serve" -l strict -d 'Stop at the first bad input line (by default: report it, go on, and exit non-zero at the end)'
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand serve" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand serve" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand query" -l server -d 'The DNS server, IP or IP:PORT (port 53 when omitted)' -r
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand query" -l type -d 'The record type to ask for' -r -f -a "auto\t'TXT when NAME starts with a peer id, SRV (at _p2p._udp.NAME) otherwise'
a\t'IPv4 addresses (needs --port)'
aaaa\t'IPv6 addresses (needs --port)'
srv\t'Service records; NAME gets _p2p._udp. prepended unless it starts with _'
txt\t'Peer records and id= records'"
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand query" -l port -d 'The port for addresses from A/AAAA records' -r
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand query" -l timeout -d 'Give up after this long' -r
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand query" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand query" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand query" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand publish" -l server -d 'The authoritative server to update, IP or IP:PORT (port 53 when omitted)' -r
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand publish" -l zone -d 'The zone that holds the records' -r
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand publish" -l name -d 'The name to publish at [default: the zone\'s apex]' -r
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand publish" -l tsig-key -d 'TSIG key (HMAC-SHA256) to sign updates with' -r -F
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand publish" -l every -d 'How often to bring the server up to date' -r
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand publish" -l ttl -d 'TTL of the published records, in seconds' -r
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand publish" -l max -d 'Most peers to publish' -r
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand publish" -l expire -d 'Forget a peer this long after it was last announced' -r
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand publish" -l timeout -d 'Give up on one update after this long' -r
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand publish" -l max-line -d 'Longest accepted input line, in bytes' -r
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand publish" -l strict -d 'Stop at the first bad input line (by default: report it, go on, and exit non-zero at the end)'
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand publish" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand publish" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand publish" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand help; and not __fish_seen_subcommand_from serve query publish help" -f -a "serve" -d 'Serve live peers as an authoritative DNS zone (UDP and TCP on one port)'
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand help; and not __fish_seen_subcommand_from serve query publish help" -f -a "query" -d 'Ask a DNS server for peers and print them as `peer` records'
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand help; and not __fish_seen_subcommand_from serve query publish help" -f -a "publish" -d 'Keep a DNS server\'s records current with RFC 2136 updates (TSIG signed)'
complete -c p2p-dns-rr -n "__fish_p2p_dns_rr_using_subcommand help; and not __fish_seen_subcommand_from serve query publish help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
