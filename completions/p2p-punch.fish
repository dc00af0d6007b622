# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_p2p_punch_global_optspecs
    string join \n q/quiet v/verbose h/help V/version
end

function __fish_p2p_punch_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_p2p_punch_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_p2p_punch_using_subcommand
    set -l cmd (__fish_p2p_punch_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c p2p-punch -n "__fish_p2p_punch_needs_command" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-punch -n "__fish_p2p_punch_needs_command" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-punch -n "__fish_p2p_punch_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-punch -n "__fish_p2p_punch_needs_command" -s V -l version -d 'Print version'
complete -c p2p-punch -n "__fish_p2p_punch_needs_command" -f -a "stun" -d 'Ask STUN servers for this host\'s public address (one `mapping` record each)'
complete -c p2p-punch -n "__fish_p2p_punch_needs_command" -f -a "nat" -d 'Report the NAT\'s mapping and filtering behaviour (one `nat` record)'
complete -c p2p-punch -n "__fish_p2p_punch_needs_command" -f -a "serve" -d 'Run a STUN server (RFC 5389, RFC 5780 with --alt) and punching rendezvous'
complete -c p2p-punch -n "__fish_p2p_punch_needs_command" -f -a "listen" -d 'Register at a rendezvous and wait for a peer to punch through to this one'
complete -c p2p-punch -n "__fish_p2p_punch_needs_command" -f -a "connect" -d 'Punch a UDP path to a peer (one `punch` record)'
complete -c p2p-punch -n "__fish_p2p_punch_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand stun" -l bind -d 'Local address to send from' -r
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand stun" -l timeout -d 'How long to wait for answers' -r
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand stun" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand stun" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand stun" -s h -l help -d 'Print help'
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand nat" -l server -d 'STUN server to test against; repeatable' -r
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand nat" -l bind -d 'Local address to test from' -r
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand nat" -l timeout -d 'Time budget for the tests (not counting --lifetime)' -r
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand nat" -l lifetime-max -d 'The longest idle time --lifetime waits' -r
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand nat" -l lifetime -d 'Also measure how long an idle mapping lives (needs RESPONSE-PORT support)'
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand nat" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand nat" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand nat" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand serve" -l bind -d 'Primary address (port 0 picks a free one)' -r
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand serve" -l alt -d 'Second address, with another IP and port, for RFC 5780 behaviour tests' -r
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand serve" -l max-registrations -d 'Most peers registered at once (also at most 4 per socket address and 256 per IP address); past it, registrations are refused until some expire' -r
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand serve" -l stats-every -d 'Print a `stats` record this often: registrations held, hellos, registrations, introductions, STUN requests answered, malformed packets, refusals by reason' -r
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand serve" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand serve" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand listen" -s i -l identity -d 'Identity file [default: $XDG_CONFIG_HOME/p2p/identity.json]' -r -F
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand listen" -l rendezvous -d 'The rendezvous server (`p2p-punch serve`)' -r
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand listen" -s n -l count -d 'Stop after this many punches (0: never)' -r
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand listen" -l timeout -d 'Give up when no peer connects within this time' -r
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand listen" -l allow -d 'Punch only for this peer (repeat for several); others are ignored [default: anyone]' -r
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand listen" -l bind -d 'Local address to punch from' -r
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand listen" -l punch-timeout -d 'How long one punch may take' -r
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand listen" -l rate -d 'Most packets per second while punching' -r
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand listen" -l birthday-sockets -d 'Sockets to open for the birthday technique when this side\'s NAT is symmetric' -r
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand listen" -l allow-readable-key -d 'Read the identity file even if others can read it'
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand listen" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand listen" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand listen" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand connect" -l signal -d 'How candidates travel' -r -f -a "rendezvous\t'Through a `p2p-punch serve` rendezvous (--rendezvous)'
stdio\t'Print this side\'s candidate record on stdout, read the peer\'s from stdin'"
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand connect" -l rendezvous -d 'The rendezvous server (with --signal rendezvous)' -r
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand connect" -l stun -d 'STUN server that tells this side its public address (with --signal stdio); repeatable; the first one offering OTHER-ADDRESS also reveals the mapping' -r
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand connect" -s i -l identity -d 'Identity file [default: a fresh throwaway identity]' -r -F
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand connect" -l timeout -d 'How long to wait for the rendezvous or the peer\'s candidate' -r
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand connect" -l bind -d 'Local address to punch from' -r
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand connect" -l punch-timeout -d 'How long one punch may take' -r
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand connect" -l rate -d 'Most packets per second while punching' -r
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand connect" -l birthday-sockets -d 'Sockets to open for the birthday technique when this side\'s NAT is symmetric' -r
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand connect" -l allow-readable-key -d 'Read the identity file even if others can read it'
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand connect" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand connect" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand connect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand help; and not __fish_seen_subcommand_from stun nat serve listen connect help" -f -a "stun" -d 'Ask STUN servers for this host\'s public address (one `mapping` record each)'
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand help; and not __fish_seen_subcommand_from stun nat serve listen connect help" -f -a "nat" -d 'Report the NAT\'s mapping and filtering behaviour (one `nat` record)'
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand help; and not __fish_seen_subcommand_from stun nat serve listen connect help" -f -a "serve" -d 'Run a STUN server (RFC 5389, RFC 5780 with --alt) and punching rendezvous'
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand help; and not __fish_seen_subcommand_from stun nat serve listen connect help" -f -a "listen" -d 'Register at a rendezvous and wait for a peer to punch through to this one'
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand help; and not __fish_seen_subcommand_from stun nat serve listen connect help" -f -a "connect" -d 'Punch a UDP path to a peer (one `punch` record)'
complete -c p2p-punch -n "__fish_p2p_punch_using_subcommand help; and not __fish_seen_subcommand_from stun nat serve listen connect help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
