# The queue worker processes on the host or in the container, read from /proc (app images may
# have neither ps nor supervisorctl) (remediations.laravel.queue): the clock, then one line
# per PHP process `artisan queue:work` / `queue:listen` / `horizon:work` process:
# `PID START_TICKS USER ARGS` (START_TICKS: field 22 of /proc/PID/stat, since boot).
# Arguments: none.
# Exit: 0 (only reads).

for d in /proc/[0-9]*; do
  a=$(tr '\000' ' ' < "$d/cmdline" 2>/dev/null) || continue
  p=${a%% *}
  case "${p##*/}" in php*) ;; *) continue;; esac
  case "$a" in
    *"artisan queue:work"*|*"artisan queue:listen"*|*"artisan horizon:work"*)
      s=$(cat "$d/stat" 2>/dev/null) || continue
      s=${s##*) }
      # shellcheck disable=SC2086
      set -- $s
      printf '%s %s %s %s\n' "${d#/proc/}" "${20}" "$(stat -c %U "$d" 2>/dev/null || echo '?')" "${a% }";;
  esac
done
exit 0
