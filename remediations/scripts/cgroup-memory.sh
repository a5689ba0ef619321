# Inside a container, its own cgroup's memory figures (remediations.docker.facts:
# parse_cgroup_memory): v2 (memory.current) or v1 (memory/...), as key=value lines
# `usage=`, `limit=`, `pids=` and the inactive_file counters.
# Arguments: none (reads /sys/fs/cgroup, the first line).
# Exit: 0; the last command's code (sed) when memory.stat cannot be read.

c=/sys/fs/cgroup
if [ -f $c/memory.current ]; then
  echo "usage=$(cat $c/memory.current)"; echo "limit=$(cat $c/memory.max)"
  echo "pids=$(cat $c/pids.current 2>/dev/null)"; sed -n 's/^\(inactive_file\) /\1=/p' $c/memory.stat
else
  echo "usage=$(cat $c/memory/memory.usage_in_bytes)"; echo "limit=$(cat $c/memory/memory.limit_in_bytes)"
  echo "pids=$(cat $c/pids/pids.current 2>/dev/null)"
  sed -n 's/^\(total_inactive_file\|inactive_file\) /\1=/p' $c/memory/memory.stat
fi
