# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_p2p_pipe_global_optspecs
    string join \n q/quiet v/verbose h/help V/version
end

function __fish_p2p_pipe_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_p2p_pipe_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_p2p_pipe_using_subcommand
    set -l cmd (__fish_p2p_pipe_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c p2p-pipe -n "__fish_p2p_pipe_needs_command" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-pipe -n "__fish_p2p_pipe_needs_command" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-pipe -n "__fish_p2p_pipe_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-pipe -n "__fish_p2p_pipe_needs_command" -s V -l version -d 'Print version'
complete -c p2p-pipe -n "__fish_p2p_pipe_needs_command" -f -a "listen" -d 'Wait for a peer and pipe stdin/stdout with it (prints a ticket on stderr)'
complete -c p2p-pipe -n "__fish_p2p_pipe_needs_command" -f -a "connect" -d 'Connect to a listener by ticket, peer id or peer file and pipe stdin/stdout'
complete -c p2p-pipe -n "__fish_p2p_pipe_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand listen" -s i -l identity -d 'Identity file [default: $XDG_CONFIG_HOME/p2p/identity.json]' -r -F
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand listen" -l rendezvous -d 'The rendezvous (`p2p-punch serve`) for a punched path: HOST:PORT or udp://HOST:PORT' -r
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand listen" -l signal -d 'How candidates for a punched path are exchanged' -r -f -a "rendezvous\t'Through the rendezvous of `p2p-punch serve` (--rendezvous)'
stdio\t'Through stdin/stdout: this side\'s candidate record is the first line of stdout, the peer\'s is the first line of stdin; the stream follows'"
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand listen" -l stun -d 'STUN server that tells this side its public address with --signal stdio (`p2p-punch serve` is one)' -r
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand listen" -l events -d 'Write NDJSON `event` records (path, rtt, bytes, reasons) to FILE' -r -F
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand listen" -l relay -d 'TURN relay for the relayed path (`p2p-relay serve`, coturn, any RFC 8656 relay): turn://HOST:PORT; the listener allocates there and puts the relayed address in its ticket, the connector allocates there too' -r
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand listen" -l auth-secret -d 'coturn-style shared secret for --relay (username `EXPIRY:NAME`) [default: p2p-relay\'s peer-key access with this identity]' -r
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand listen" -l user -d 'Long-term credentials for --relay' -r
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand listen" -l idle-timeout -d 'A connection that hears nothing from the peer for this long is lost' -r
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand listen" -l bind -d 'Local UDP address to listen on; repeatable [default: 0.0.0.0:0]' -r
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand listen" -l allow -d 'Only this peer may connect (a peer id, or a FILE of ids or records with `id`); repeatable [default: anyone who proves a key]' -r
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand listen" -l ticket-file -d 'Also write the ticket as an NDJSON `ticket` record into FILE' -r -F
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand listen" -l forward -d 'Forward each incoming stream to this TCP address instead of stdin/stdout' -r
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand listen" -l allow-readable-key -d 'Read the identity file even if others can read it'
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand listen" -l progress -d 'Show bytes and rate on stderr (only on a terminal)'
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand listen" -l keep -d 'Serve one peer after another instead of exiting after the first'
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand listen" -l dumbpipe -d 'Speak dumbpipe\'s protocol: print a dumbpipe ticket (endpoint…) that `dumbpipe connect` reaches this listener\'s direct addresses with'
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand listen" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand listen" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand listen" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -l peer-file -d 'Read the target from FILE: a `ticket` record or a signed `peer` record' -r -F
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -s i -l identity -d 'Identity file [default: $XDG_CONFIG_HOME/p2p/identity.json]' -r -F
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -l rendezvous -d 'The rendezvous (`p2p-punch serve`) for a punched path: HOST:PORT or udp://HOST:PORT' -r
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -l signal -d 'How candidates for a punched path are exchanged' -r -f -a "rendezvous\t'Through the rendezvous of `p2p-punch serve` (--rendezvous)'
stdio\t'Through stdin/stdout: this side\'s candidate record is the first line of stdout, the peer\'s is the first line of stdin; the stream follows'"
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -l stun -d 'STUN server that tells this side its public address with --signal stdio (`p2p-punch serve` is one)' -r
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -l events -d 'Write NDJSON `event` records (path, rtt, bytes, reasons) to FILE' -r -F
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -l relay -d 'TURN relay for the relayed path (`p2p-relay serve`, coturn, any RFC 8656 relay): turn://HOST:PORT; the listener allocates there and puts the relayed address in its ticket, the connector allocates there too' -r
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -l auth-secret -d 'coturn-style shared secret for --relay (username `EXPIRY:NAME`) [default: p2p-relay\'s peer-key access with this identity]' -r
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -l user -d 'Long-term credentials for --relay' -r
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -l idle-timeout -d 'A connection that hears nothing from the peer for this long is lost' -r
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -l bind -d 'Local UDP address to connect from [default: 0.0.0.0:0]' -r
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -l local -d 'Accept TCP connections on this address and forward each over its own stream' -r
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -l migrate-after -d 'Wait this long on a relayed path before looking for a direct one' -r
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -l timeout -d 'How long finding a path may take' -r
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -l bootstrap -d 'A DHT node to bootstrap from (udp://IP:PORT or HOST:PORT); repeatable. $P2P_DHT_BOOTSTRAP holds a comma-separated list [default: the public mainline routers]' -r
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -l request-timeout -d 'How long to wait for one node\'s answer; a lookup is finished when every node it asked has answered or run out of this time' -r
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -l allow-readable-key -d 'Read the identity file even if others can read it'
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -l progress -d 'Show bytes and rate on stderr (only on a terminal)'
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -l require-direct -d 'Fail (status 1) rather than use a relayed path'
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -l relay-first -d 'Try the relayed path first, before direct and punched ones: through this side\'s allocation with --relay, else straight to the listener\'s relayed address when a rendezvous introduces the two'
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -l no-relay -d 'Never use a relayed path, even when the ticket names one and --relay (or $P2P_RELAY) is set'
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -l stay-relayed -d 'Keep a relayed stream on the relay. By default the pipe keeps looking for a direct path while relayed (checks from both sides, as ICE does) and moves the stream there when one opens (QUIC connection migration), and back to the relay when the direct path goes silent, with a `path` event each time'
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -l dumbpipe -d 'TARGET is a dumbpipe ticket (endpoint…, from `dumbpipe listen`): speak dumbpipe\'s protocol to its direct addresses'
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand connect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand help; and not __fish_seen_subcommand_from listen connect help" -f -a "listen" -d 'Wait for a peer and pipe stdin/stdout with it (prints a ticket on stderr)'
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand help; and not __fish_seen_subcommand_from listen connect help" -f -a "connect" -d 'Connect to a listener by ticket, peer id or peer file and pipe stdin/stdout'
complete -c p2p-pipe -n "__fish_p2p_pipe_using_subcommand help; and not __fish_seen_subcommand_from listen connect help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
