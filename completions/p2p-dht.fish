# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_p2p_dht_global_optspecs
    string join \n q/quiet v/verbose h/help V/version
end

function __fish_p2p_dht_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_p2p_dht_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_p2p_dht_using_subcommand
    set -l cmd (__fish_p2p_dht_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c p2p-dht -n "__fish_p2p_dht_needs_command" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-dht -n "__fish_p2p_dht_needs_command" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-dht -n "__fish_p2p_dht_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-dht -n "__fish_p2p_dht_needs_command" -s V -l version -d 'Print version'
complete -c p2p-dht -n "__fish_p2p_dht_needs_command" -f -a "get-peers" -d 'Find peers for an infohash or topic, streamed as they arrive'
complete -c p2p-dht -n "__fish_p2p_dht_needs_command" -f -a "announce" -d 'Announce this machine as a peer for an infohash or topic'
complete -c p2p-dht -n "__fish_p2p_dht_needs_command" -f -a "put" -d 'Store a BEP 44 item: immutable, or mutable and signed with -i KEY'
complete -c p2p-dht -n "__fish_p2p_dht_needs_command" -f -a "get" -d 'Fetch a BEP 44 item by its hash (immutable) or public key (mutable)'
complete -c p2p-dht -n "__fish_p2p_dht_needs_command" -f -a "publish" -d 'Store this identity\'s signed peer record on the DHT under its own key'
complete -c p2p-dht -n "__fish_p2p_dht_needs_command" -f -a "resolve" -d 'Find a peer\'s signed peer record by its id, and verify it'
complete -c p2p-dht -n "__fish_p2p_dht_needs_command" -f -a "ping" -d 'Ask one DHT node whether it is alive (KRPC ping)'
complete -c p2p-dht -n "__fish_p2p_dht_needs_command" -f -a "sample" -d 'Ask one DHT node for a sample of the infohashes it stores (BEP 51)'
complete -c p2p-dht -n "__fish_p2p_dht_needs_command" -f -a "find-node" -d 'Find the DHT nodes closest to an id'
complete -c p2p-dht -n "__fish_p2p_dht_needs_command" -f -a "info" -d 'Show this node\'s id, addresses and view of the DHT after bootstrapping'
complete -c p2p-dht -n "__fish_p2p_dht_needs_command" -f -a "serve" -d 'Run a long-lived DHT node (server mode)'
complete -c p2p-dht -n "__fish_p2p_dht_needs_command" -f -a "testnet" -d 'Run a local DHT of N nodes on loopback, for demos and tests'
complete -c p2p-dht -n "__fish_p2p_dht_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand get-peers" -l topic -d 'A topic, looked up under SHA-1 of its UTF-8 bytes' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand get-peers" -l max-line -d 'Longest accepted input line, in bytes' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand get-peers" -s n -l count -d 'Stop after this many distinct peers' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand get-peers" -s j -l jobs -d 'With targets on stdin: how many to work on at once' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand get-peers" -l bootstrap -d 'A DHT node to bootstrap from (udp://IP:PORT or HOST:PORT); repeatable. $P2P_DHT_BOOTSTRAP holds a comma-separated list [default: the public mainline routers]' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand get-peers" -l request-timeout -d 'How long to wait for one node\'s answer; a lookup is finished when every node it asked has answered or run out of this time' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand get-peers" -l bind -d 'Local address for this node\'s UDP socket [default: 127.0.0.1:0 when every bootstrap node is on loopback, else 0.0.0.0:0]' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand get-peers" -l timeout -d 'Give up (exit status 3) when the whole command takes longer than this' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand get-peers" -l topic-lines -d 'Read plain stdin lines as topics, not infohashes'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand get-peers" -l strict -d 'Stop at the first bad input line (by default: report it, go on, and exit non-zero at the end)'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand get-peers" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand get-peers" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand get-peers" -s h -l help -d 'Print help'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand announce" -l topic -d 'A topic, looked up under SHA-1 of its UTF-8 bytes' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand announce" -l max-line -d 'Longest accepted input line, in bytes' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand announce" -s p -l port -d 'The port peers should connect to [default: the port the announcement comes from]' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand announce" -l every -d 'Re-announce at this interval until stopped' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand announce" -s j -l jobs -d 'With targets on stdin: how many to work on at once' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand announce" -l bootstrap -d 'A DHT node to bootstrap from (udp://IP:PORT or HOST:PORT); repeatable. $P2P_DHT_BOOTSTRAP holds a comma-separated list [default: the public mainline routers]' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand announce" -l request-timeout -d 'How long to wait for one node\'s answer; a lookup is finished when every node it asked has answered or run out of this time' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand announce" -l bind -d 'Local address for this node\'s UDP socket [default: 127.0.0.1:0 when every bootstrap node is on loopback, else 0.0.0.0:0]' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand announce" -l timeout -d 'Give up (exit status 3) when the whole command takes longer than this' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand announce" -l topic-lines -d 'Read plain stdin lines as topics, not infohashes'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand announce" -l strict -d 'Stop at the first bad input line (by default: report it, go on, and exit non-zero at the end)'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand announce" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand announce" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand announce" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand put" -s i -l identity -d 'Sign a mutable item with this identity file' -r -F
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand put" -l salt -d 'Salt: stores several items under one key (mutable items only)' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand put" -l seq -d 'Sequence number [default: now in unix milliseconds] (mutable items only)' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand put" -l cas -d 'Compare-and-swap: store only if the current item\'s seq is N (mutable items only)' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand put" -l bootstrap -d 'A DHT node to bootstrap from (udp://IP:PORT or HOST:PORT); repeatable. $P2P_DHT_BOOTSTRAP holds a comma-separated list [default: the public mainline routers]' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand put" -l request-timeout -d 'How long to wait for one node\'s answer; a lookup is finished when every node it asked has answered or run out of this time' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand put" -l bind -d 'Local address for this node\'s UDP socket [default: 127.0.0.1:0 when every bootstrap node is on loopback, else 0.0.0.0:0]' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand put" -l timeout -d 'Give up (exit status 3) when the whole command takes longer than this' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand put" -l mutable -d 'Store a mutable item, signed with the identity from -i, $P2P_IDENTITY or the default path'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand put" -l allow-readable-key -d 'Read the identity file even if others can read it'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand put" -l raw -d 'Treat the value as raw bytes instead of JSON (`get` writes them to stdout as is)'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand put" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand put" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand put" -s h -l help -d 'Print help'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand get" -l salt -d 'The salt the mutable item was stored with' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand get" -l max-line -d 'Longest accepted input line, in bytes' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand get" -s j -l jobs -d 'With targets on stdin: how many to work on at once' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand get" -l bootstrap -d 'A DHT node to bootstrap from (udp://IP:PORT or HOST:PORT); repeatable. $P2P_DHT_BOOTSTRAP holds a comma-separated list [default: the public mainline routers]' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand get" -l request-timeout -d 'How long to wait for one node\'s answer; a lookup is finished when every node it asked has answered or run out of this time' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand get" -l bind -d 'Local address for this node\'s UDP socket [default: 127.0.0.1:0 when every bootstrap node is on loopback, else 0.0.0.0:0]' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand get" -l timeout -d 'Give up (exit status 3) when the whole command takes longer than this' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand get" -l raw -d 'Treat the value as raw bytes instead of JSON (`get` writes them to stdout as is)'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand get" -l strict -d 'Stop at the first bad input line (by default: report it, go on, and exit non-zero at the end)'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand get" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand get" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand get" -s h -l help -d 'Print help'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand publish" -l addr -d 'An address of this peer; repeatable' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand publish" -l topic -d 'The topic this peer is interested in' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand publish" -l every -d 'Re-publish at this interval until stopped' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand publish" -s i -l identity -d 'Identity file [default: $XDG_CONFIG_HOME/p2p/identity.json]' -r -F
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand publish" -l bootstrap -d 'A DHT node to bootstrap from (udp://IP:PORT or HOST:PORT); repeatable. $P2P_DHT_BOOTSTRAP holds a comma-separated list [default: the public mainline routers]' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand publish" -l request-timeout -d 'How long to wait for one node\'s answer; a lookup is finished when every node it asked has answered or run out of this time' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand publish" -l bind -d 'Local address for this node\'s UDP socket [default: 127.0.0.1:0 when every bootstrap node is on loopback, else 0.0.0.0:0]' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand publish" -l timeout -d 'Give up (exit status 3) when the whole command takes longer than this' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand publish" -l allow-readable-key -d 'Read the identity file even if others can read it'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand publish" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand publish" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand publish" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand resolve" -l max-line -d 'Longest accepted input line, in bytes' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand resolve" -s j -l jobs -d 'With targets on stdin: how many to work on at once' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand resolve" -l bootstrap -d 'A DHT node to bootstrap from (udp://IP:PORT or HOST:PORT); repeatable. $P2P_DHT_BOOTSTRAP holds a comma-separated list [default: the public mainline routers]' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand resolve" -l request-timeout -d 'How long to wait for one node\'s answer; a lookup is finished when every node it asked has answered or run out of this time' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand resolve" -l bind -d 'Local address for this node\'s UDP socket [default: 127.0.0.1:0 when every bootstrap node is on loopback, else 0.0.0.0:0]' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand resolve" -l timeout -d 'Give up (exit status 3) when the whole command takes longer than this' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand resolve" -l strict -d 'Stop at the first bad input line (by default: report it, go on, and exit non-zero at the end)'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand resolve" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand resolve" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand resolve" -s h -l help -d 'Print help'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand ping" -l bind -d 'Local address to send from [default: 127.0.0.1:0 for a loopback node, else 0.0.0.0:0]' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand ping" -l timeout -d 'How long to wait for the answer' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand ping" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand ping" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand ping" -s h -l help -d 'Print help'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand sample" -l target -d 'Where the listed nodes should be near (40 hex digits) [default: random]' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand sample" -l bind -d 'Local address to send from [default: 127.0.0.1:0 for a loopback node, else 0.0.0.0:0]' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand sample" -l timeout -d 'How long to wait for the answer' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand sample" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand sample" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand sample" -s h -l help -d 'Print help'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand find-node" -l max-line -d 'Longest accepted input line, in bytes' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand find-node" -s j -l jobs -d 'With targets on stdin: how many to work on at once' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand find-node" -l bootstrap -d 'A DHT node to bootstrap from (udp://IP:PORT or HOST:PORT); repeatable. $P2P_DHT_BOOTSTRAP holds a comma-separated list [default: the public mainline routers]' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand find-node" -l request-timeout -d 'How long to wait for one node\'s answer; a lookup is finished when every node it asked has answered or run out of this time' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand find-node" -l bind -d 'Local address for this node\'s UDP socket [default: 127.0.0.1:0 when every bootstrap node is on loopback, else 0.0.0.0:0]' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand find-node" -l timeout -d 'Give up (exit status 3) when the whole command takes longer than this' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand find-node" -l strict -d 'Stop at the first bad input line (by default: report it, go on, and exit non-zero at the end)'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand find-node" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand find-node" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand find-node" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand info" -l bootstrap -d 'A DHT node to bootstrap from (udp://IP:PORT or HOST:PORT); repeatable. $P2P_DHT_BOOTSTRAP holds a comma-separated list [default: the public mainline routers]' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand info" -l request-timeout -d 'How long to wait for one node\'s answer; a lookup is finished when every node it asked has answered or run out of this time' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand info" -l bind -d 'Local address for this node\'s UDP socket [default: 127.0.0.1:0 when every bootstrap node is on loopback, else 0.0.0.0:0]' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand info" -l timeout -d 'Give up (exit status 3) when the whole command takes longer than this' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand info" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand info" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand info" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand serve" -l bootstrap -d 'A DHT node to bootstrap from (udp://IP:PORT or HOST:PORT); repeatable. $P2P_DHT_BOOTSTRAP holds a comma-separated list [default: the public mainline routers]' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand serve" -l request-timeout -d 'How long to wait for one node\'s answer; a lookup is finished when every node it asked has answered or run out of this time' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand serve" -l bind -d 'Local address to listen on' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand serve" -l stats-every -d 'Print a `stats` record at this interval' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand serve" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand serve" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand testnet" -l bind -d 'The loopback IP the nodes bind (`127.0.0.1`, `udp://127.0.0.1:0`); each picks a free port' -r
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand testnet" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand testnet" -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand testnet" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand help; and not __fish_seen_subcommand_from get-peers announce put get publish resolve ping sample find-node info serve testnet help" -f -a "get-peers" -d 'Find peers for an infohash or topic, streamed as they arrive'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand help; and not __fish_seen_subcommand_from get-peers announce put get publish resolve ping sample find-node info serve testnet help" -f -a "announce" -d 'Announce this machine as a peer for an infohash or topic'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand help; and not __fish_seen_subcommand_from get-peers announce put get publish resolve ping sample find-node info serve testnet help" -f -a "put" -d 'Store a BEP 44 item: immutable, or mutable and signed with -i KEY'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand help; and not __fish_seen_subcommand_from get-peers announce put get publish resolve ping sample find-node info serve testnet help" -f -a "get" -d 'Fetch a BEP 44 item by its hash (immutable) or public key (mutable)'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand help; and not __fish_seen_subcommand_from get-peers announce put get publish resolve ping sample find-node info serve testnet help" -f -a "publish" -d 'Store this identity\'s signed peer record on the DHT under its own key'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand help; and not __fish_seen_subcommand_from get-peers announce put get publish resolve ping sample find-node info serve testnet help" -f -a "resolve" -d 'Find a peer\'s signed peer record by its id, and verify it'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand help; and not __fish_seen_subcommand_from get-peers announce put get publish resolve ping sample find-node info serve testnet help" -f -a "ping" -d 'Ask one DHT node whether it is alive (KRPC ping)'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand help; and not __fish_seen_subcommand_from get-peers announce put get publish resolve ping sample find-node info serve testnet help" -f -a "sample" -d 'Ask one DHT node for a sample of the infohashes it stores (BEP 51)'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand help; and not __fish_seen_subcommand_from get-peers announce put get publish resolve ping sample find-node info serve testnet help" -f -a "find-node" -d 'Find the DHT nodes closest to an id'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand help; and not __fish_seen_subcommand_from get-peers announce put get publish resolve ping sample find-node info serve testnet help" -f -a "info" -d 'Show this node\'s id, addresses and view of the DHT after bootstrapping'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand help; and not __fish_seen_subcommand_from get-peers announce put get publish resolve ping sample find-node info serve testnet help" -f -a "serve" -d 'Run a long-lived DHT node (server mode)'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand help; and not __fish_seen_subcommand_from get-peers announce put get publish resolve ping sample find-node info serve testnet help" -f -a "testnet" -d 'Run a local DHT of N nodes on loopback, for demos and tests'
complete -c p2p-dht -n "__fish_p2p_dht_using_subcommand help; and not __fish_seen_subcommand_from get-peers announce put get publish resolve ping sample find-node info serve testnet help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
