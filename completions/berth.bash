# bash completion for berth(1). The commands and each command's options are
# read from `berth --help` and `berth COMMAND --help`, so they are always
# those of the installed berth.

_berth_options() { # the options a --help text on stdin shows
    grep -oE '(^|[][ ,|(])(--[a-z][a-z0-9-]*|-[a-zA-Z])\b' |
        sed 's/^[][ ,|(]//' | sort -u
}

_berth() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    local prev=${COMP_WORDS[COMP_CWORD - 1]}
    local berth=${COMP_WORDS[0]}
    COMPREPLY=()
    if [ "$COMP_CWORD" -eq 1 ]; then
        local cmds
        cmds=$("$berth" --help 2>/dev/null | sed -n '/^Commands:/,/^$/p' |
            awk '/^  [a-z]/ { print $1 }')
        mapfile -t COMPREPLY < <(compgen -W "$cmds --help --version" -- "$cur")
        return
    fi
    local cmd=${COMP_WORDS[1]}
    case $prev in
    --pcap | --ctl | --svg | --other | --events)
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return
        ;;
    --tun)
        mapfile -t COMPREPLY < <(compgen -W \
            "$(ls /sys/class/net 2>/dev/null)" -- "$cur")
        return
        ;;
    esac
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W \
            "$("$berth" "$cmd" --help 2>/dev/null | _berth_options)" -- "$cur")
    elif [ "$cmd" = ladder ]; then # the capture
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    elif [ "$cmd" = ctl ]; then
        mapfile -t COMPREPLY < <(compgen -W "ss stat impair route neigh stop" -- "$cur")
    fi
}
complete -F _berth berth
