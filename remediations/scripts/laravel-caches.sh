# Runs laravel-caches.php with this run's once-per-run markers of the runtime caches
# (cache, view), which the app user the PHP runs as cannot write: tests the markers (the
# builtin `test`, no process), passes the kinds already cleared by this run to the PHP as its
# last argument (comma-separated), prints its output, then records each runtime kind it
# reports cleared (`remediations-cleared:KIND`).
# Run as `sh -c SCRIPT _ CACHE_MARKER VIEW_MARKER PHP_ARGV...`.
# Arguments: the marker files of cache and view for this run, then the PHP's command line.
# Exit: the PHP's exit code; 1 when a marker cannot be written (stderr names it).

c=$1 v=$2
shift 2
s=
if test -e "$c"; then s=cache; fi
if test -e "$v"; then s=$s,view; fi
o=$("$@" "$s")
r=$?
printf '%s\n' "$o"
test "$r" -eq 0 || exit "$r"
for k in cache view; do
  case $o in *"remediations-cleared:$k"*) ;; *) continue ;; esac
  if test "$k" = cache; then m=$c; else m=$v; fi
  if ! { { test -d "${m%/*}" || mkdir -p "${m%/*}"; } && : > "$m"; }; then
    echo "remediations-mark-failed:$k $m" >&2
    exit 1
  fi
done
