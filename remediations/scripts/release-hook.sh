# Defines `h NAME COMMAND...`, which runs one named action of a release switch: `== NAME`
# and its output on stdout; when it fails, its output on stderr and in the run's failure
# file $F (first line NAME), then the script stops with the command's exit code.
# Also `a NAME=MARKER... -- COMMAND...`, which runs several named actions in one command
# (release-artisan.php: lines `== NAME`, output, `@@done NAME` / `@@fresh NAME` /
# `@@fail NAME`): each action's marker is written once the command ends (empty when done,
# `fresh` when it had nothing to rebuild, its `@@fresh NAME` line kept); on failure, as `h`, the failing action's name
# and output go to $F and stderr and the script stops. What the command printed before its
# first action (its own boot) is shown only when it failed.
# A fragment: remediations.release.symlink joins it into the switch script after
# `set -e; F=...` (hence the disable: F is set there).
# Arguments: none (h and a take their words as described).
# Exit: none of its own (defines functions); h and a exit the script with the failed
# command's code.
# shellcheck disable=SC2154

h() { n=$1; shift; echo "== $n"; o=$("$@" 2>&1) || { s=$?; printf "%s\n%s\n" "$n" "$o" > "$F"; printf "%s\n" "$o" >&2; exit $s; }; [ -z "$o" ] || printf "%s\n" "$o"; }
a() {
  k=""; while [ "$1" != -- ]; do k="$k $1"; shift; done; shift
  n=${k# }; n=${n%%=*}; t=""; g=""
  if o=$("$@" 2>&1); then s=0; else s=$?; fi
  while IFS= read -r l; do
    case $l in
      "== "*) n=${l#== }; t=""; g=1; echo "$l";;
      "@@done "*) for x in $k; do [ "${x%%=*}" != "${l#@@done }" ] || : > "${x#*=}"; done;;
      "@@fresh "*) for x in $k; do [ "${x%%=*}" != "${l#@@fresh }" ] || echo fresh > "${x#*=}"; done
        echo "$l";;
      "@@fail "*) n=${l#@@fail };;
      *) t="$t$l
"; [ -z "$g" ] || printf "%s\n" "$l";;
    esac
  done <<EOT
$o
EOT
  if [ "$s" -ne 0 ]; then printf "%s\n%s" "$n" "$t" > "$F"; printf "%s" "$t" >&2; exit "$s"; fi
}
