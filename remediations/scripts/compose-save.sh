# Saves a command's output to a file (remediations.docker.compose: the logs of an incident),
# written to FILE.part and renamed, so a file that exists is complete; the folder and the
# file readable by the owner only.
# Arguments: $1 the folder (created), $2 the file, then the command.
# Exit: 0, or the exit code of the first command that failed (set -eu).

set -eu; d=$1 f=$2; shift 2; umask 077; mkdir -p -- "$d"; "$@" > "$f.part"; mv -f -- "$f.part" "$f"
