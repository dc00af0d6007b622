# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_p2p_global_optspecs
    string join \n json q/quiet h/help V/version
end

function __fish_p2p_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_p2p_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_p2p_using_subcommand
    set -l cmd (__fish_p2p_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c p2p -n "__fish_p2p_needs_command" -l json -d 'Print NDJSON records (`tool`, `role`) instead of a table'
complete -c p2p -n "__fish_p2p_needs_command" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p -n "__fish_p2p_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p -n "__fish_p2p_needs_command" -s V -l version -d 'Print version'
complete -c p2p -n "__fish_p2p_needs_command" -f -a "tools" -d 'List the tools, one line each (the default)'
complete -c p2p -n "__fish_p2p_needs_command" -f -a "roles" -d 'Print the handbook\'s role layers: what each answers, the tool that fills it, an example'
complete -c p2p -n "__fish_p2p_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c p2p -n "__fish_p2p_using_subcommand tools" -l json -d 'Print NDJSON records (`tool`, `role`) instead of a table'
complete -c p2p -n "__fish_p2p_using_subcommand tools" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p -n "__fish_p2p_using_subcommand tools" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p -n "__fish_p2p_using_subcommand roles" -l json -d 'Print NDJSON records (`tool`, `role`) instead of a table'
complete -c p2p -n "__fish_p2p_using_subcommand roles" -s q -l quiet -d 'No progress bars or notes on stderr (warnings and errors still show)'
complete -c p2p -n "__fish_p2p_using_subcommand roles" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2p -n "__fish_p2p_using_subcommand help; and not __fish_seen_subcommand_from tools roles help" -f -a "tools" -d 'List the tools, one line each (the default)'
complete -c p2p -n "__fish_p2p_using_subcommand help; and not __fish_seen_subcommand_from tools roles help" -f -a "roles" -d 'Print the handbook\'s role layers: what each answers, the tool that fills it, an example'
complete -c p2p -n "__fish_p2p_using_subcommand help; and not __fish_seen_subcommand_from tools roles help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
