# Sets a .env value for a bounded time, and puts it back (remediations.laravel.temporary_settings).
# Installed on the host as <state dir>/env-setting.php (root only, with an opening tag), so
# the transient systemd timer of a setting runs it at expiry even when the controller is gone.
# `set DIR JSON`: JSON is {id, name, value (as written in .env), seconds, run_id, env, app,
#   user, unit}; records what to put back (the value before, or absent) in DIR/ID.json, then
#   replaces the .env file atomically (same owner and mode). Prints its id, name and expiry
#   (never a value: the output may land in the journal).
# `revert DIR expired|all|ID... BY`: for each record not reverted yet (expired: whose expiry
#   has passed), puts the value back when the .env still holds the one set (else records it
#   as superseded), records the revert (reverted_at, reverted_by, outcome), stops its timer,
#   then rebuilds the config cache of each app that has one. Prints the id, name and
#   outcome of each record touched.
# Arguments: as above; BY says who reverts (a run id, or `expiry`).
# Exit: 0; 1 on a bad argument or a file it cannot write; 2 when config:cache fails.

function envline($text, $name) {
  foreach (explode("\n", $text) as $i => $line) {
    if (preg_match('/^\s*(?:export\s+)?' . preg_quote($name, '/') . '\s*=(.*)$/', $line, $m)) {
      return [$i, $m[1]];
    }
  }
  return [null, null];
}
function replaced($text, $name, $raw) {
  [$i] = envline($text, $name);
  $lines = explode("\n", $text);
  if ($raw === null) {
    if ($i !== null) { array_splice($lines, $i, 1); }
    return implode("\n", $lines);
  }
  if ($i !== null) { $lines[$i] = "$name=$raw"; return implode("\n", $lines); }
  $body = rtrim($text, "\n");
  return ($body === '' ? '' : "$body\n") . "$name=$raw\n";
}
function atomic($path, $text) {
  $tmp = "$path.remediations.tmp";
  $st = @stat($path);
  if (file_put_contents($tmp, $text) === false) { fwrite(STDERR, "cannot write $tmp\n"); exit(1); }
  if ($st !== false) { chmod($tmp, $st['mode'] & 07777); chown($tmp, $st['uid']); chgrp($tmp, $st['gid']); }
  if (!rename($tmp, $path)) { fwrite(STDERR, "cannot replace $path\n"); exit(1); }
}
function save($dir, $rec) {
  atomic("$dir/{$rec['id']}.json", json_encode($rec, JSON_UNESCAPED_SLASHES) . "\n");
  chmod("$dir/{$rec['id']}.json", 0600);
}
[$mode, $dir] = [$argv[1] ?? '', $argv[2] ?? ''];
if ($dir === '' || !is_dir($dir)) { fwrite(STDERR, "no state directory $dir\n"); exit(1); }
if ($mode === 'set') {
  $rec = json_decode($argv[3] ?? '', true);
  if (!is_array($rec) || !isset($rec['id'], $rec['name'], $rec['value'], $rec['env'], $rec['seconds'])) {
    fwrite(STDERR, "set: a JSON record with id, name, value, env and seconds\n"); exit(1);
  }
  $text = (string) @file_get_contents($rec['env']);
  [, $old] = envline($text, $rec['name']);
  $now = time();
  $rec += ['old' => $old, 'set_at' => $now, 'expires' => $now + (int) $rec['seconds'],
           'reverted_at' => null, 'reverted_by' => null, 'outcome' => null];
  save($dir, $rec);                 // what to put back is on disk before .env changes
  atomic($rec['env'], replaced($text, $rec['name'], $rec['value']));
  echo json_encode(['id' => $rec['id'], 'name' => $rec['name'], 'expires' => $rec['expires']]), "\n";
  exit(0);
}
if ($mode !== 'revert' || count($argv) < 5) { fwrite(STDERR, "usage: set DIR JSON | revert DIR WHICH... BY\n"); exit(1); }
$by = $argv[count($argv) - 1];
$which = array_slice($argv, 3, -1);
$now = time();
$apps = [];
$done = [];
foreach (glob("$dir/*.json") ?: [] as $file) {
  $rec = json_decode((string) file_get_contents($file), true);
  if (!is_array($rec) || $rec['reverted_at'] !== null) { continue; }
  $due = in_array('all', $which, true) || in_array($rec['id'], $which, true)
    || (in_array('expired', $which, true) && $rec['expires'] <= $now);
  if (!$due) { continue; }
  $text = (string) @file_get_contents($rec['env']);
  [, $cur] = envline($text, $rec['name']);
  if ($cur === $rec['value']) {
    atomic($rec['env'], replaced($text, $rec['name'], $rec['old']));
    $rec['outcome'] = 'reverted';
    $apps[$rec['app']] = $rec['user'];
  } else {
    $rec['outcome'] = 'superseded';   // changed by someone since: left as it is
  }
  $rec['reverted_at'] = $now;
  $rec['reverted_by'] = $by;
  save($dir, $rec);
  if (!empty($rec['unit']) && $by !== 'expiry') {
    exec('systemctl stop ' . escapeshellarg($rec['unit'] . '.timer') . ' 2>/dev/null');
  }
  $done[] = ['id' => $rec['id'], 'name' => $rec['name'], 'outcome' => $rec['outcome']];
}
$code = 0;
foreach ($apps as $app => $user) {
  if (is_file("$app/bootstrap/cache/config.php")) {
    exec('runuser -u ' . escapeshellarg($user) . ' -- php ' . escapeshellarg("$app/artisan")
         . ' config:cache 2>&1', $out, $rc);
    if ($rc !== 0) { fwrite(STDERR, implode("\n", $out) . "\n"); $code = 2; }
  }
}
echo json_encode($done, JSON_UNESCAPED_SLASHES), "\n";
exit($code);
