# Every trigger of `artisan schedule:run` on the host, in one round trip
# (remediations.laravel.scheduler.triggers): systemd timers whose service runs schedule:run,
# and the crontabs holding a line with schedule:run (/etc/crontab, /etc/cron.d/*, each
# user's crontab; reading those needs root). One tab-separated record a line:
#   timer <unit> <ActiveState> <UnitFileState> <service> <marker> <WorkingDirectory> <argv>
#     (marker: `-` when /run/lock/remediations.paused.<unit> is absent, else `=` and its
#     first line: the run id that paused the timer)
#   crontab <user> <base64 of `crontab -u <user> -l`>
#   cronfile <path> <base64 of the file>
# Arguments: none.
# Exit: 0.

if [ -d /run/systemd/system ]; then
  systemctl list-unit-files --type=timer --no-legend --no-pager 2>/dev/null | while read -r unit _; do
    for svc in $(systemctl show -p Triggers --value "$unit" 2>/dev/null); do
      exec_start=$(systemctl show -p ExecStart --value "$svc" 2>/dev/null)
      case $exec_start in *schedule:run*) ;; *) continue ;; esac
      argv=${exec_start#*argv[]=}; argv=${argv%% ;*}
      marker=-
      if [ -e "/run/lock/remediations.paused.$unit" ]; then
        marker="=$(head -n 1 "/run/lock/remediations.paused.$unit")"
      fi
      printf 'timer\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$unit" \
        "$(systemctl show -p ActiveState --value "$unit")" \
        "$(systemctl show -p UnitFileState --value "$unit")" "$svc" "$marker" \
        "$(systemctl show -p WorkingDirectory --value "$svc")" "$argv"
    done
  done
fi
for f in /etc/crontab /etc/cron.d/*; do
  if [ -f "$f" ] && grep -q 'schedule:run' "$f"; then
    printf 'cronfile\t%s\t%s\n' "$f" "$(base64 -w0 < "$f")"
  fi
done
for f in /var/spool/cron/crontabs/* /var/spool/cron/*; do
  if [ -f "$f" ] && grep -q 'schedule:run' "$f"; then
    printf 'crontab\t%s\t%s\n' "${f##*/}" "$(crontab -u "${f##*/}" -l 2>/dev/null | base64 -w0)"
  fi
done
exit 0
