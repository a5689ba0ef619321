# What runs a Laravel app on this host, read in one round trip (remediations.laravel.runtime):
# `systemd yes|no`; `unit NAME STATE` per php-fpm / web server unit file; `mod_php FILE` per
# enabled Apache PHP module; `proc PID USER CWD ARGS` per Horizon master or Octane server
# process of this mount namespace (read from /proc: app images may have no ps); then, when
# Horizon (vendor/*/horizon, config/horizon.php) / Octane is installed or its process runs,
# `horizon_rc N` + `horizon LINE`, `octane_rc N` + `octane LINE`.
# Arguments: the app directory, then the command prefix that runs a command as the app user
# (empty, `runuser -u USER --` or `sudo -n -u USER --`).
# Exit: 0 (only reads).

app=$1; shift
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  echo "systemd	yes"
  systemctl list-unit-files --no-legend --no-pager --type=service 'php*-fpm.service' nginx.service apache2.service httpd.service 2>/dev/null | while read -r u s _; do printf 'unit\t%s\t%s\n' "$u" "$s"; done
else
  echo "systemd	no"
fi
for f in /etc/apache2/mods-enabled/php*.load /etc/httpd/conf.modules.d/*php*.conf; do
  [ -f "$f" ] && grep -qiE '^[[:space:]]*LoadModule[[:space:]]+php' "$f" && printf 'mod_php\t%s\n' "$f"
done
seen=""
me=$(stat -L -c %i /proc/self/ns/mnt 2>/dev/null)
for d in /proc/[0-9]*; do
  a=$(tr '\000' ' ' < "$d/cmdline" 2>/dev/null) || continue
  a=${a% }
  p=${a%% *}
  case "${p##*/}" in php*) ;; *) continue;; esac
  case "$a" in
    *"artisan horizon"|*"artisan octane:start"*)
      # a process of another mount namespace (a container seen from its host) is not this app's
      ns=$(stat -L -c %i "$d/ns/mnt" 2>/dev/null)
      [ -n "$me" ] && [ -n "$ns" ] && [ "$ns" != "$me" ] && continue
      seen="$seen $a"
      printf 'proc\t%s\t%s\t%s\t%s\n' "${d#/proc/}" "$(stat -c %U "$d" 2>/dev/null)" "$(cd "$d/cwd" 2>/dev/null && pwd -P)" "$a";;
  esac
done
hz=""
for d in "$app"/vendor/*/horizon "$app/config/horizon.php"; do [ -e "$d" ] && hz=1; done
case "$seen" in *"artisan horizon"*) hz=1;; esac
if [ -n "$hz" ]; then
  o=$(timeout 30 "$@" php "$app/artisan" horizon:status 2>&1); printf 'horizon_rc\t%s\n' "$?"
  printf '%s\n' "$o" | while IFS= read -r l; do printf 'horizon\t%s\n' "$l"; done
fi
if [ -d "$app/vendor/laravel/octane" ]; then
  o=$(timeout 30 "$@" php "$app/artisan" octane:status 2>&1); printf 'octane_rc\t%s\n' "$?"
  printf '%s\n' "$o" | while IFS= read -r l; do printf 'octane\t%s\n' "$l"; done
fi
exit 0
