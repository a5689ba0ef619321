# What a temporary .env setting needs to know (remediations.laravel.temporary_settings), in one
# round trip: the real .env file (the release's .env may be a symlink into shared/), whether
# systemd is PID 1 (to schedule the revert on the host), whether a config cache is in use,
# the host's clock, the revert timers running, the installed helper's checksum, the records
# of the state directory (one `record=<json>` line each), then `---` and the .env itself.
# Arguments: $1 the app path, $2 the state directory.
# Exit: 0.

env=$(readlink -f -- "$1/.env" || printf '%s' "$1/.env")
printf 'env=%s\n' "$env"
printf 'now=%s\n' "$(date +%s)"
if [ -d /run/systemd/system ]; then echo systemd=1; fi
if [ -e "$1/bootstrap/cache/config.php" ]; then echo cached=1; fi
if [ -f "$2/env-setting.php" ]; then printf 'helper=%s\n' "$(sha256sum < "$2/env-setting.php" | cut -c1-64)"; fi
if [ -d /run/systemd/system ]; then
  systemctl list-units --plain --no-legend --state=active 'remediations-env-revert-*.timer' 2>/dev/null \
    | while read -r unit _; do printf 'timer=%s\n' "${unit%.timer}"; done
fi
for f in "$2"/*.json; do
  if [ -f "$f" ]; then printf 'record='; tr -d '\n' < "$f"; echo; fi
done
echo ---
cat -- "$env" 2>/dev/null
exit 0
