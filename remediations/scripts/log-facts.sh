# What a log's truncation needs (remediations.host.logs.log_facts): the bytes its last $x
# and $x+1 lines take, and its first line, as NUL-terminated records `keep=`, `keep1=`,
# `first=`. A fragment: appended to disk-resolve.sh, which sets $real and $x
# (hence the disable).
# Arguments: none of its own ($x: lines to keep; $real: the real path).
# Exit: 0.
# shellcheck disable=SC2154

[ -f "$real" ] || exit 0; printf "keep=%s\0" "$(tail -n "$x" -- "$real" | wc -c)"; printf "keep1=%s\0" "$(tail -n $((x + 1)) -- "$real" | wc -c)"; printf "first=%s\0" "$(head -c 200 -- "$real" | head -n 1)"
