# Defines `h NAME COMMAND...`, which runs one named action of a release switch: `== NAME`
# and its output on stdout; when it fails, its output on stderr and in the run's failure
# file $F (first line NAME), then the script stops with the command's exit code.
# A fragment: remediations.release.symlink joins it into the switch script after
# `set -e; F=...` (hence the disable: F is set there).
# Arguments: none (h takes NAME, then the command as separate words).
# Exit: none of its own (defines a function); h exits the script with the failed command's code.
# shellcheck disable=SC2154

h() { n=$1; shift; echo "== $n"; o=$("$@" 2>&1) || { s=$?; printf "%s\n%s\n" "$n" "$o" > "$F"; printf "%s\n" "$o" >&2; exit $s; }; [ -z "$o" ] || printf "%s\n" "$o"; }
