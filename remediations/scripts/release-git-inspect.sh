# Reads an app deployed as a git work tree (remediations.release.git_facts), read-only, in one
# round trip: the owner of .git, HEAD and its tags, the tracked files with local changes, the
# release asked for (its commit, whether it is a tag, its tags, whether composer.lock differs
# from HEAD's), the newest 100 tags, the bad marks kept in .git and this run's release
# markers. Git runs with --no-optional-locks (a status run as root must not rewrite the
# index) and safe.directory set for this one tree (it belongs to the deploy user).
# Output: tab-separated lines `owner USER:GROUP`, `head SHA`, `tag TAG`, `dirty XY PATH`,
# `release SHA|-`, `is-tag yes`, `release-tag TAG`, `lock same|changed`, `tags TAG`,
# `bad RELEASE FIRST-LINE`, `marker NAME FIRST-LINE`; `error WHY` (and nothing after it)
# when $1 is no work tree git can read.
# Arguments: $1 the app path, $2 the release (a tag or a commit), $3 this run's marker folder.
# Exit: 0 (what git says is reported in lines, never as the exit code).

a=$1 r=$2 d=$3
g() { git -c safe.directory="$a" -C "$a" --no-optional-locks "$@"; }
each() { while IFS= read -r l; do printf '%s\t%s\n' "$1" "$l"; done; }
if [ ! -d "$a/.git" ]; then printf 'error\t%s is not a git work tree (no %s/.git folder)\n' "$a" "$a"; exit 0; fi
if ! command -v git >/dev/null 2>&1; then printf 'error\tgit is not installed\n'; exit 0; fi
printf 'owner\t%s\n' "$(stat -c %U:%G -- "$a/.git")"
printf 'head\t%s\n' "$(g rev-parse -q --verify HEAD 2>/dev/null)"
g tag --points-at HEAD 2>/dev/null | each tag
if ! s=$(g status --porcelain --untracked-files=no 2>&1); then
  printf 'error\tgit status failed in %s: %s\n' "$a" "$(printf '%s' "$s" | tr '\n' ' ')"; exit 0
fi
[ -z "$s" ] || printf '%s\n' "$s" | each dirty
c=$(g rev-parse -q --verify "$r^{commit}" 2>/dev/null)
printf 'release\t%s\n' "${c:--}"
if [ -n "$c" ]; then
  if g show-ref -q --verify "refs/tags/$r"; then printf 'is-tag\tyes\n'; fi
  g tag --points-at "$c" | each release-tag
  if g diff --quiet HEAD "$c" -- composer.lock 2>/dev/null; then printf 'lock\tsame\n'; else printf 'lock\tchanged\n'; fi
fi
g tag -l --sort=-version:refname 2>/dev/null | head -n 100 | each tags
for f in "$a"/.git/.remediations-bad-*; do
  if [ -f "$f" ]; then printf 'bad\t%s\t%s\n' "${f##*/.remediations-bad-}" "$(head -n 1 -- "$f")"; fi
done
for f in "$d"/release-*; do
  if [ -f "$f" ]; then printf 'marker\t%s\t%s\n' "${f##*/}" "$(head -n 1 -- "$f")"; fi
done
exit 0
