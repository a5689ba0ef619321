# Records a release switch (remediations.release.symlink): marks the release switched away
# from bad (written to a temp name, then renamed), drops the bad mark of the release
# switched to, appends one JSON line to the history, and writes this run's marker.
# Arguments: $1 the bad mark to write ("" = none), $2 its JSON, $3 the bad mark to remove,
# $4 the history line (JSON), $5 the history file, $6 the marker file.
# Exit: 0, or the exit code of the first command that failed (set -e).

set -e; b=$1 j=$2 l=$3 e=$4 f=$5 m=$6; if [ -n "$b" ]; then printf "%s\n" "$j" > "$b.tmp"; mv -f -- "$b.tmp" "$b"; fi; rm -f -- "$l"; printf "%s\n" "$e" >> "$f"; mkdir -p -- "${m%/*}"; : > "$m"
