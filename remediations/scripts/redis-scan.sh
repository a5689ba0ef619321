# Walks `SCAN cursor MATCH $PATTERN COUNT $COUNT` to the end in one round trip
# (remediations.host.redis.scan_argv), printing a key a line; `-e` makes redis-cli exit 1
# on an error reply.
# Arguments: redis-cli's connection flags (-h, -p, -n ...); PATTERN and COUNT in the
# environment (hence the disable: they are set by `env`, not here).
# Exit: 0 at the end of the walk; 1 when redis-cli failed (its answer on stderr).
# shellcheck disable=SC2154

c=0; while :; do out=$(redis-cli -e "$@" SCAN "$c" MATCH "$PATTERN" COUNT "$COUNT") || { printf "%s\n" "$out" >&2; exit 1; }; c=$(printf "%s\n" "$out" | head -n 1); printf "%s\n" "$out" | tail -n +2; [ "$c" = 0 ] && break; done
