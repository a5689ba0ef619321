# Drops the host's lock when this run holds it (remediations.run.locks.release_argv);
# someone else's lock is left alone. `read` is a builtin: only `rm` starts a process.
# A %-template for remediations.core.commands.sh, which pastes each value shell-quoted
# (%% is a literal %): the lock folder, the run id, the lock folder.
# Arguments: none (the values are quoted into the text).
# Exit: 0, also when the lock is someone else's or gone; rm's code when it fails.

o=; { IFS= read -r o; } 2>/dev/null < %s/owner; if [ "${o%%%%	*}" = %s ]; then rm -rf %s; fi
