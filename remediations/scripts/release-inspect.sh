# Reads the releases of a host in the Envoyer/Deployer layout, read-only, in one round trip
# (remediations.release.facts.inspect): the owner of the root, where `current` points,
# each release (a folder of releases/ with an `artisan` file) and its .remediations-bad
# mark, and this run's release markers; then, when given, runs a command (the php-fpm
# unit's `systemctl show`) after a line `unit`.
# Output: tab-separated lines `root OWNER`, `link OWNER TARGET`, `release TAG`,
# `bad TAG FIRST-LINE`, `marker NAME FIRST-LINE`.
# Arguments: $1 the releases root, $2 this run's marker folder, then the command (optional).
# Exit: 0 (the command's own exit code is not passed on: its output is parsed).

r=$1 d=$2; shift 2
printf 'root\t%s\n' "$(stat -c %U:%G -- "$r" 2>/dev/null)"
if [ -L "$r/current" ]; then
  printf 'link\t%s\t%s\n' "$(stat -c %U:%G -- "$r/current")" "$(readlink -- "$r/current")"
fi
for p in "$r"/releases/*/; do
  [ -f "${p}artisan" ] || continue
  n=${p%/}; n=${n##*/}; printf 'release\t%s\n' "$n"
  if [ -f "$p.remediations-bad" ]; then printf 'bad\t%s\t%s\n' "$n" "$(head -n 1 -- "$p.remediations-bad")"; fi
done
for f in "$d"/release-*; do
  if [ -f "$f" ]; then printf 'marker\t%s\t%s\n' "${f##*/}" "$(head -n 1 -- "$f")"; fi
done
if [ $# -gt 0 ]; then echo unit; "$@"; fi
exit 0
