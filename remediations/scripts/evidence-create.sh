# Archives evidence files and the journal of some units into one .tar.gz with a manifest
# (remediations.host.evidence.create_step); written in a stage folder and renamed, so an
# archive that exists is complete. Files that changed while read are archived anyway.
# Arguments: $1 the archive folder, $2 the archive's name, $3 the journal's units
# (comma-separated), $4 journalctl's --since, then the paths.
# Exit: 0; tar's code above 1, or the code of the first other command that failed (set -eu).

set -eu
dir=$1 name=$2 units=$3 since=$4; shift 4
umask 077; mkdir -p -- "$dir"
stage=$(mktemp -d "$dir/.stage.XXXXXX"); trap 'rm -rf -- "$stage"' EXIT
: > "$stage/files"
{ echo "host: $(hostname)"; echo "archive: $name"; echo "created: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  for p; do
    if [ -f "$p" ]; then printf '%s\0' "${p#/}" >> "$stage/files"; echo "file: $p ($(stat -L -c %s -- "$p") bytes)"
    else echo "missing: $p"; fi
  done; } > "$stage/MANIFEST.txt"
set --; IFS=,; for u in $units; do set -- "$@" -u "$u"; done; unset IFS
journalctl "$@" --since "$since" --no-pager -o short-iso-precise > "$stage/journal.txt" 2>&1 || true
rc=0; tar -czhf "$stage/archive.tar.gz" --warning=no-file-changed -C "$stage" MANIFEST.txt journal.txt \
  -C / --null -T "$stage/files" || rc=$?
[ "$rc" -le 1 ] || exit "$rc"
mv -f -- "$stage/archive.tar.gz" "$dir/$name"
