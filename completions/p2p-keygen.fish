# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_p2p_keygen_global_optspecs
    string join \n q/quiet h/help V/version
end

function __fish_p2p_keygen_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_p2p_keygen_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_p2p_keygen_using_subcommand
    set -l cmd (__fish_p2p_keygen_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c p2p-keygen -n "__fish_p2p_keygen_needs_command" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-keygen -n "__fish_p2p_keygen_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-keygen -n "__fish_p2p_keygen_needs_command" -s V -l version -d 'Print version'
complete -c p2p-keygen -n "__fish_p2p_keygen_needs_command" -f -a "new" -d 'Make a new identity (secret record to stdout, or to a 0600 file with -o)'
complete -c p2p-keygen -n "__fish_p2p_keygen_needs_command" -f -a "id" -d 'Print the public identity record (id, public_key) of an identity'
complete -c p2p-keygen -n "__fish_p2p_keygen_needs_command" -f -a "peer" -d 'Print a signed peer record for this identity'
complete -c p2p-keygen -n "__fish_p2p_keygen_needs_command" -f -a "sign" -d 'Sign each NDJSON object on stdin (adds `signer` and `sig`)'
complete -c p2p-keygen -n "__fish_p2p_keygen_needs_command" -f -a "verify" -d 'Pass through validly signed lines; report the others by line number'
complete -c p2p-keygen -n "__fish_p2p_keygen_needs_command" -f -a "seal" -d 'Encrypt stdin to a peer id, as one `sealed` NDJSON record'
complete -c p2p-keygen -n "__fish_p2p_keygen_needs_command" -f -a "open" -d 'Decrypt `sealed` records from stdin with this identity'
complete -c p2p-keygen -n "__fish_p2p_keygen_needs_command" -f -a "convert" -d 'Convert a key between z-base-32, hex, base64, ssb, OpenSSH and libp2p forms'
complete -c p2p-keygen -n "__fish_p2p_keygen_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand new" -s o -l output -d 'Write the identity to FILE (mode 0600) and print only its public record' -r -F
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand new" -l seed -d 'Derive the identity from this 32-byte secret seed (64 hex digits) instead of the system\'s random source' -r
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand new" -l force -d 'Replace FILE if it exists'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand new" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand new" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand id" -s i -l identity -d 'Identity file' -r -F
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand id" -l allow-readable-key -d 'Read the identity file even if others can read it'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand id" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand id" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand peer" -l addr -d 'An address of this peer (udp://IP:PORT, tcp://…, quic://…, relay://…); repeatable' -r
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand peer" -l topic -d 'The topic this peer is interested in' -r
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand peer" -s i -l identity -d 'Identity file [default: $XDG_CONFIG_HOME/p2p/identity.json]' -r -F
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand peer" -l allow-readable-key -d 'Read the identity file even if others can read it'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand peer" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand peer" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand sign" -s i -l identity -d 'Identity file [default: $XDG_CONFIG_HOME/p2p/identity.json]' -r -F
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand sign" -l max-line -d 'Longest accepted input line, in bytes' -r
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand sign" -s j -l jobs -d 'Worker threads [default: one per core]' -r
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand sign" -l allow-readable-key -d 'Read the identity file even if others can read it'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand sign" -l strict -d 'Stop at the first bad input line (by default: report it, go on, and exit non-zero at the end)'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand sign" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand sign" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand verify" -l signer -d 'Accept only signatures by this peer id' -r
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand verify" -l max-line -d 'Longest accepted input line, in bytes' -r
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand verify" -s j -l jobs -d 'Worker threads [default: one per core]' -r
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand verify" -l strict -d 'Stop at the first bad input line (by default: report it, go on, and exit non-zero at the end)'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand verify" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand verify" -s h -l help -d 'Print help'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand seal" -l to -d 'The recipient\'s peer id (z-base-32 or hex)' -r
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand seal" -l max-bytes -d 'Largest accepted input, in bytes' -r
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand seal" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand seal" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand open" -s i -l identity -d 'Identity file [default: $XDG_CONFIG_HOME/p2p/identity.json]' -r -F
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand open" -l max-line -d 'Longest accepted input line, in bytes' -r
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand open" -l allow-readable-key -d 'Read the identity file even if others can read it'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand open" -l strict -d 'Stop at the first bad input line (by default: report it, go on, and exit non-zero at the end)'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand open" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand open" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand convert" -l to -d 'Print just this form, as plain text' -r -f -a "id\t'z-base-32 peer id'
hex\t'public key, hex'
base64\t'public key, base64'
ssb\t'secure-scuttlebutt id, @BASE64.ed25519'
openssh\t'OpenSSH public key line'
libp2p\t'libp2p peer id, 12D3KooW…'
cid\t'libp2p peer id as a CIDv1 (base36), k51…'
identity\t'toolbox identity record, with the secret (needs a secret input)'
ssb-secret\t'ssb secret file (needs a secret input)'"
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand convert" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand convert" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand help; and not __fish_seen_subcommand_from new id peer sign verify seal open convert help" -f -a "new" -d 'Make a new identity (secret record to stdout, or to a 0600 file with -o)'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand help; and not __fish_seen_subcommand_from new id peer sign verify seal open convert help" -f -a "id" -d 'Print the public identity record (id, public_key) of an identity'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand help; and not __fish_seen_subcommand_from new id peer sign verify seal open convert help" -f -a "peer" -d 'Print a signed peer record for this identity'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand help; and not __fish_seen_subcommand_from new id peer sign verify seal open convert help" -f -a "sign" -d 'Sign each NDJSON object on stdin (adds `signer` and `sig`)'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand help; and not __fish_seen_subcommand_from new id peer sign verify seal open convert help" -f -a "verify" -d 'Pass through validly signed lines; report the others by line number'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand help; and not __fish_seen_subcommand_from new id peer sign verify seal open convert help" -f -a "seal" -d 'Encrypt stdin to a peer id, as one `sealed` NDJSON record'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand help; and not __fish_seen_subcommand_from new id peer sign verify seal open convert help" -f -a "open" -d 'Decrypt `sealed` records from stdin with this identity'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand help; and not __fish_seen_subcommand_from new id peer sign verify seal open convert help" -f -a "convert" -d 'Convert a key between z-base-32, hex, base64, ssb, OpenSSH and libp2p forms'
complete -c p2p-keygen -n "__fish_p2p_keygen_using_subcommand help; and not __fish_seen_subcommand_from new id peer sign verify seal open convert help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
