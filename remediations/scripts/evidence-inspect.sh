# What an incident archive needs to know (remediations.host.evidence.inspect): this run's
# archive in the folder (size, sha256, path) and the size of each evidence file, as
# NUL-terminated records `archive=SIZE|SHA256|PATH`, `file=SIZE|PATH`, `missing=PATH`.
# Arguments: $1 the archive folder, $2 the run id, then the paths.
# Exit: 0.

dir=$1 rid=$2; shift 2
for a in "$dir"/????????T??????Z-"$rid".tar.gz; do
  [ -f "$a" ] && printf 'archive=%s|%s|%s\0' "$(stat -c %s -- "$a")" "$(sha256sum < "$a" | cut -d' ' -f1)" "$a"
done
for p; do
  if [ -f "$p" ]; then printf 'file=%s|%s\0' "$(stat -L -c %s -- "$p")" "$p"; else printf 'missing=%s\0' "$p"; fi
done
exit 0
