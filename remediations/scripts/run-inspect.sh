# Reads back what a run the controller stopped waiting for left on the host
# (remediations.run.unknown.read_back_argv): the lock, and the run's once-per-run markers.
# A %-template for remediations.core.commands.sh, which pastes each value shell-quoted
# (%% is a literal %): the lock folder three times, then the run's marker folder twice.
# Output: `lock=HELD` with `owner=`, `now=`, `mtime=` lines, or `lock=FREE`; then one
# `marker=NAME` line per marker the run wrote.
# Arguments: none (the values are quoted into the text).
# Exit: 0.

if [ -d %s ]; then echo lock=HELD; echo "owner=$(head -n1 %s/owner 2>/dev/null)"; echo "now=$(date +%%s)"; echo "mtime=$(stat -c %%Y %s 2>/dev/null)"; else echo lock=FREE; fi; if [ -d %s ]; then for m in %s/*; do if [ -e "$m" ]; then echo "marker=${m##*/}"; fi; done; fi; true
