# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_p2p_relay_global_optspecs
    string join \n q/quiet v/verbose h/help V/version
end

function __fish_p2p_relay_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_p2p_relay_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_p2p_relay_using_subcommand
    set -l cmd (__fish_p2p_relay_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c p2p-relay -n "__fish_p2p_relay_needs_command" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-relay -n "__fish_p2p_relay_needs_command" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-relay -n "__fish_p2p_relay_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-relay -n "__fish_p2p_relay_needs_command" -s V -l version -d 'Print version'
complete -c p2p-relay -n "__fish_p2p_relay_needs_command" -f -a "serve" -d 'Run a TURN relay: a `listening` record, then one `event` per allocation, permission, channel, expiry and refusal'
complete -c p2p-relay -n "__fish_p2p_relay_needs_command" -f -a "probe" -d 'Allocate on a relay, report the relayed address, round trip, lifetime and limits, then release (one `relay` record)'
complete -c p2p-relay -n "__fish_p2p_relay_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand serve" -l bind -d 'Where TURN clients reach the relay' -r
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand serve" -l relay-ip -d 'The address relayed sockets bind to and peers send to [default: --bind\'s IP; needed when that is 0.0.0.0]' -r
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand serve" -l ports -d 'Relayed ports come from this range [default: any free port]' -r
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand serve" -l stats-every -d 'Print a `stats` record this often' -r
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand serve" -l auth-secret -d 'coturn-style shared secret: usernames `EXPIRY:NAME`, password base64(HMAC-SHA1(SECRET, username)) (coturn\'s use-auth-secret)' -r
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand serve" -l user -d 'A static long-term credential NAME:PASSWORD; repeatable' -r
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand serve" -l allow -d 'Accept clients that sign with one of the peer ids in FILE (one per line, `#` comments; NDJSON `peer`/`identity` records work too)' -r -F
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand serve" -l realm -d 'The realm in challenges and long-term keys' -r
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand serve" -l max-allocations -d 'Most allocations in total (508 Insufficient Capacity beyond)' -r
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand serve" -l max-per-ip -d 'Most allocations per client IP address (486 Allocation Quota Reached beyond)' -r
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand serve" -l max-per-user -d 'Most allocations per peer id or username (486 beyond)' -r
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand serve" -l max-permissions -d 'Most peer addresses with a permission per allocation (508 beyond)' -r
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand serve" -l max-channels -d 'Most channels per allocation (508 beyond)' -r
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand serve" -l max-lifetime -d 'Longest lifetime granted by one Allocate or Refresh (clients refresh to go on)' -r
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand serve" -l max-bytes -d 'Bytes relayed per allocation, both ways together (0: no limit); the allocation is closed when it is reached' -r
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand serve" -l rate -d 'Bytes per second per allocation, both ways together, as a token bucket with one second of burst (0: no limit); packets beyond it are dropped' -r
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand serve" -l idle-timeout -d 'Close an allocation that relayed nothing and was not refreshed for this long' -r
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand serve" -l allow-loopback-peers -d 'Allow peers on loopback and on the relay\'s own addresses (for tests on one host)'
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand serve" -l allow-any-peer -d 'Accept any client that signs with a peer key (limits still apply per peer id)'
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand serve" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand serve" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand probe" -l auth-secret -d 'coturn-style shared secret (the username is `EXPIRY:NAME`)' -r
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand probe" -l name -d 'The NAME part of shared-secret usernames' -r
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand probe" -l user -d 'Long-term credentials' -r
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand probe" -s i -l identity -d 'Identity file for peer-key access [default: a fresh throwaway identity]' -r -F
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand probe" -l peer -d 'Also install a permission and bind a channel for this peer address' -r
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand probe" -l bind -d 'Local address to send from' -r
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand probe" -l timeout -d 'How long each request may take' -r
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand probe" -l allow-readable-key -d 'Read the identity file even if others can read it'
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand probe" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand probe" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand probe" -s h -l help -d 'Print help'
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand help; and not __fish_seen_subcommand_from serve probe help" -f -a "serve" -d 'Run a TURN relay: a `listening` record, then one `event` per allocation, permission, channel, expiry and refusal'
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand help; and not __fish_seen_subcommand_from serve probe help" -f -a "probe" -d 'Allocate on a relay, report the relayed address, round trip, lifetime and limits, then release (one `relay` record)'
complete -c p2p-relay -n "__fish_p2p_relay_using_subcommand help; and not __fish_seen_subcommand_from serve probe help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
