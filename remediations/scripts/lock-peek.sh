# Looks at the host's lock without taking it (remediations.run.locks.peek_argv); no process
# is started when it is free (`[` is a shell builtin).
# A %-template for remediations.core.commands.sh, which pastes each value shell-quoted
# (%% is a literal %): the lock folder, three times.
# Output: FREE, or HELD and `owner=`, `now=`, `mtime=` lines.
# Arguments: none (the values are quoted into the text).
# Exit: 0 when free, 3 when held.

if [ -d %s ]; then echo HELD; echo "owner=$(head -n1 %s/owner 2>/dev/null)"; echo "now=$(date +%%s)"; echo "mtime=$(stat -c %%Y %s 2>/dev/null)"; exit 3; fi; echo FREE
