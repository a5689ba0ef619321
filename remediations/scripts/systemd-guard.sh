# A unit's restart decided on the host (remediations.host.systemd_guard.script): reads the
# unit, restarts it when this run has not yet (its ActiveEnterTimestamp is older than the
# run's start), and reads it back. Every state but loaded, not masked and active is left
# to Python (`slow`).
# A template: systemd_guard.script() replaces each @NAME@ (the read command, shell-quoted;
# the unit, shell-quoted; the run's start as 1YYYYMMDD and 1HHMMSSffffff, UTC; the
# plan and read-back prefixes; the slow exit code), and sends the part after the
# `# restart:` comment line only with restart=True, else `plan none` in its place.
# Output: the state, `remediations-plan=<restart|none|slow>`; after a restart,
# `remediations-read-back` and the state again.
# Arguments: none (the values are in the text).
# Exit: 0; 99 for `slow`; the read's or the restart's exit code when it fails.
# The timestamp is split into words on purpose (`set -f`: no globbing), hence the disable.
# shellcheck disable=SC2086

s=$(@SHOW@) || exit $?
printf '%s\n' "$s"
plan() { printf '@PLAN@%s\n' "$1"; }
l=; a=; f=; t=
while IFS= read -r x; do case $x in
  LoadState=*) l=${x#*=};; ActiveState=*) a=${x#*=};;
  UnitFileState=*) f=${x#*=};; ActiveEnterTimestamp=*) t=${x#*=};;
esac; done <<EOF
$s
EOF
if [ "$l" != loaded ] || [ "$f" = masked ] || [ "$a" != active ]; then plan slow; exit @SLOW@; fi
# restart: "Mon 2026-11-23 10:40:01.123456 UTC" -> 2026 11 23 10 40 01 123456 UTC
if [ -n "$t" ] && [ "$t" != n/a ]; then
  set -f; IFS='-:. '; set -- ${t#* }; unset IFS
  if [ $# -ne 8 ] || [ ${#7} -ne 6 ] || [ "$8" != UTC ]; then plan slow; exit @SLOW@; fi
  if [ "1$1$2$3" -gt @DAY@ ] || { [ "1$1$2$3" -eq @DAY@ ] && [ "1$4$5$6$7" -ge @TIME@ ]; }; then plan none; exit 0; fi
fi
plan restart
systemctl restart @UNIT@ || exit $?
printf '@AFTER@\n'
exec @SHOW@
