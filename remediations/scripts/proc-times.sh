# The host's clock and each process's start ticks in one round trip
# (remediations.host.supervisor): /proc/uptime, `date +%s.%N`, CLK_TCK, then one line per
# pid, `PID /proc/PID/stat` (empty when the process is gone).
# Arguments: the pids.
# Exit: 0.

cat /proc/uptime; date +%s.%N; getconf CLK_TCK; for p; do printf "%s %s\n" "$p" "$(cat "/proc/$p/stat" 2>/dev/null)"; done
