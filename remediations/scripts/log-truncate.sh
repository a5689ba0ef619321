# Keeps the last $2 lines of the log $1 in place (same inode), so a writer holding it open
# with O_APPEND goes on writing into it (remediations.host.logs.log_truncated). S = the size
# at the start; the last N lines of the first S bytes are kept, and so is everything
# appended after S.
# 1. fallocate --collapse-range drops whole blocks from the head atomically (ext4, xfs,
#    overlayfs on them): nothing a writer appends is lost. The partial line left at the
#    head is overwritten in place with the marker line, padded with at least one space.
# 2. Elsewhere (tmpfs, nfs, btrfs...): the tail is copied left in place with dd, then the
#    copy catches up with what was appended meanwhile until the size stops moving, then
#    the file is truncated. Lines appended between that last size check and truncate()
#    (about a millisecond: the exec of truncate) are lost; nothing else is.
# perl (log-move.pl; Debian's perl-base is essential) shrinks that window to the
# microseconds between fstat() and ftruncate() in one process; the shell loop is for
# hosts without perl.
# Output: `collapse BYTES` or `copy BYTES`; nothing when there was nothing to cut.
# Arguments: $1 the file (its real path), $2 lines to keep, $3 its inode as inspected,
# $4 the marker line, $5 the perl program (log-move.pl).
# Exit: 0; 1 when refused (not a regular file, replaced since inspected, shrank meanwhile)
# or a command failed (set -e).

set -eu
f=$1 n=$2 ino=$3 marker=$4 move=$5
[ -f "$f" ] && [ ! -L "$f" ] || { echo "refused: $f is not a regular file" >&2; exit 1; }
[ "$(stat -c %i -- "$f")" = "$ino" ] || { echo "refused: $f was replaced since it was inspected" >&2; exit 1; }
S=$(stat -c %s -- "$f") X=65536
while :; do
  [ "$X" -lt "$S" ] || X=$S
  K=$(dd if="$f" bs=65536 iflag=skip_bytes,count_bytes skip=$((S - X)) count="$X" status=none | tail -n "$n" | wc -c)
  if [ "$K" -lt "$X" ] || [ "$X" -eq "$S" ]; then break; fi
  X=$((X * 8))
done
cut=$((S - K)) m=$((${#marker} + 1))
[ "$cut" -gt 0 ] || exit 0
B=$(stat -f -c %S -- "$f") L=$((cut / B * B))
[ $((cut - L)) -gt "$m" ] || L=$((L - B))
if [ "$L" -gt 0 ] && fallocate --collapse-range --offset 0 --length "$L" "$f" 2>/dev/null; then
  { printf %s "$marker"; head -c $((cut - L - m)) /dev/zero | tr '\0' ' '; } | dd of="$f" conv=notrunc status=none
  echo "collapse $L"; exit 0
fi
off=0; [ "$cut" -le "$m" ] || { off=$m; printf '%s\n' "$marker" | dd of="$f" conv=notrunc status=none; }
d=$((cut - off))
if command -v perl >/dev/null; then
  perl -e "$move" "$f" "$cut" "$d"; echo "copy $d"; exit 0
fi
R=$cut i=0
while [ "$i" -lt 100 ]; do
  E=$(stat -c %s -- "$f")
  [ "$E" -ge "$R" ] || { echo "$f shrank while it was being truncated" >&2; exit 1; }
  [ "$E" -gt "$R" ] || break
  dd if="$f" of="$f" bs=1M iflag=skip_bytes,count_bytes oflag=seek_bytes conv=notrunc skip="$R" seek=$((R - d)) count=$((E - R)) status=none
  R=$E i=$((i + 1))
done
truncate -s $((R - d)) "$f"
echo "copy $d"
