# Takes the host's lock (remediations.run.locks.acquire_argv): mkdir is atomic, so exactly
# one run creates the folder; the owner line is written after it.
# A %-template for remediations.core.commands.sh, which pastes each value shell-quoted
# (%% is a literal %): the lock folder, the owner line, then the lock folder three times.
# Output: ACQUIRED, or HELD and `owner=`, `now=`, `mtime=` lines.
# Arguments: none (the values are quoted into the text).
# Exit: 0 when taken, 3 when held (so a batch that begins with it stops there).

if mkdir %s 2>/dev/null; then printf "%%s\n" %s > %s/owner; echo ACQUIRED; else echo HELD; echo "owner=$(head -n1 %s/owner 2>/dev/null)"; echo "now=$(date +%%s)"; echo "mtime=$(stat -c %%Y %s 2>/dev/null)"; exit 3; fi
