# Resolves a path on the host (remediations.host.disk.resolve): the real path of every
# root and of the path, and `stat` of the real path, as NUL-terminated key=value records
# (`root=`, `real=`, `stat=TYPE|SIZE|INODE|MTIME`). resolve() may append more shell
# (e.g. log-facts.sh), run once the real path exists, with $real and $x set.
# Arguments: $1 a value for the appended shell ($x), $2 the path, then the roots.
# Exit: 0, also when the path does not exist (no `real=` record then).
# x is there for the shell appended to it (hence the disable).
# shellcheck disable=SC2034

x=$1; f=$2; shift 2; for r; do printf "root=%s\0" "$(realpath -m -- "$r")"; done; real=$(realpath -e -- "$f") || exit 0; printf "real=%s\0" "$real"; stat -c "stat=%F|%s|%i|%Y" -- "$real" | tr "\n" "\0"
