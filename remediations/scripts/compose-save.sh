# Saves a command's output to a file (remediations.docker.compose: the logs of an incident),
# written to FILE.part and renamed, so a file that exists is complete; the folder and the
# file readable by the owner only. Compose 2.24 to 2.26 begins every `logs` line with the
# terminal's erase-line sequence (ESC [2K) even into a file (docker/compose#11727, fixed in
# 2.27): that sequence is taken off the start of each line, so the file holds the text.
# Arguments: $1 the folder (created), $2 the file, then the command.
# Exit: 0, or the exit code of the first command that failed (set -eu).

set -eu; d=$1 f=$2; shift 2; umask 077; mkdir -p -- "$d"; "$@" > "$f.raw"
e=$(printf '\033'); sed "s/^$e\\[2K//" "$f.raw" > "$f.part"; rm -f -- "$f.raw"; mv -f -- "$f.part" "$f"
