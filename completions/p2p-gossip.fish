complete -c p2p-gossip -s i -l identity -d 'Identity file [default: $XDG_CONFIG_HOME/p2p/identity.json]' -r -F
complete -c p2p-gossip -l bind -d 'Address to listen on (QUIC over UDP; port 0 picks a free one)' -r
complete -c p2p-gossip -l peer -d 'A neighbour to join through: ID@HOST:PORT, ID@udp://HOST:PORT, or a `peer` record (repeatable)' -r
complete -c p2p-gossip -l topic -d 'The topic; only messages signed for it are accepted' -r
complete -c p2p-gossip -l allow-author -d 'Accept only messages by this author (repeatable) [default: any author]' -r
complete -c p2p-gossip -l mode -d 'How messages spread' -r -f -a "plumtree\t'Eager push along a spanning tree, lazy IHAVE on other links'
flood\t'Every message over every link'"
complete -c p2p-gossip -l history -d 'Messages kept to catch up neighbours that missed them' -r
complete -c p2p-gossip -l store -d 'Keep the history in this append-only NDJSON file, loaded again at start' -r -F
complete -c p2p-gossip -l stats-every -d 'Print a `stats` record this often' -r
complete -c p2p-gossip -l max-size -d 'The largest message, in bytes of its signed JSON form' -r
complete -c p2p-gossip -l rate -d 'Messages per second one neighbour may send us (bursts of twice that)' -r
complete -c p2p-gossip -l allow-readable-key -d 'Read the identity file even if others can read it'
complete -c p2p-gossip -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-gossip -s v -l verbose -d 'Say what happens on the wire, on stderr: -v each step (servers and nodes asked, answers, retries, candidates), -vv each packet too'
complete -c p2p-gossip -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-gossip -s V -l version -d 'Print version'
