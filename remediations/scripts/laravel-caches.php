# Reads, and when told clears, the Laravel app's caches in ONE PHP process, by the
# framework's own commands run in-process as `artisan optimize:clear` runs them
# (remediations.laravel.app.caches_cleared; the sh wrapper laravel-caches.sh adds the markers).
# Run as `php -r CODE -- APP_PATH MODE KINDS SKIP`.
# Arguments: the app path; MODE `read` only reads, `clear` also clears; KINDS the kinds
# asked for, SKIP those this run already cleared (read, never cleared again), both
# comma-separated among config, route, event, view, cache.
# Facts: config, route, event: the cache file (relative to the app) or null; view: compiled
# views in view.compiled; cache (only when asked for): the store's items, null when unknown.
# With config asked for and cached, the app boots with a fresh configuration (APP_CONFIG_CACHE
# pointed at no file, as it will run once that cache is gone); the override is dropped after
# the boot, so commands and reads see the real cache paths. Present kinds are cleared in the
# order config, route, event, view, cache, stopping at the first that fails.
# Prints `remediations-cleared:KIND` for each kind cleared, then one JSON line: before,
# cleared, failed ({kind, exit, output} or null), after (null in read mode), skipped, fresh.
# Exit: 0; 1 when a clear failed (the JSON says which); PHP's error code when the app cannot boot.

$b = $argv[1]; $act = $argv[2] === 'clear';
$kinds = array_values(array_filter(explode(',', $argv[3])));
$skip = array_values(array_intersect(array_filter(explode(',', isset($argv[4]) ? $argv[4] : '')), $kinds));
require $b.'/vendor/autoload.php';
$app = require $b.'/bootstrap/app.php';
$k = 'APP_CONFIG_CACHE';
$fresh = in_array('config', $kinds, true) && is_file($app->getCachedConfigPath());
$was = [getenv($k), array_key_exists($k, $_ENV) ? $_ENV[$k] : null, array_key_exists($k, $_SERVER) ? $_SERVER[$k] : null];
if ($fresh) { $none = $app->bootstrapPath('cache/remediations-no-config.php'); putenv("$k=$none"); $_ENV[$k] = $none; $_SERVER[$k] = $none; }
$kernel = $app->make(Illuminate\Contracts\Console\Kernel::class);
$kernel->bootstrap();
if ($fresh) {
  if ($was[0] === false) { putenv($k); } else { putenv("$k=".$was[0]); }
  if ($was[1] === null) { unset($_ENV[$k]); } else { $_ENV[$k] = $was[1]; }
  if ($was[2] === null) { unset($_SERVER[$k]); } else { $_SERVER[$k] = $was[2]; }
}
$facts = function () use ($app, $kinds) {
  clearstatcache();
  $base = rtrim($app->basePath(), '/').'/'; $o = [];
  foreach (['config' => $app->getCachedConfigPath(), 'route' => $app->getCachedRoutesPath(), 'event' => $app->getCachedEventsPath()] as $n => $p) {
    $o[$n] = is_file($p) ? (strpos($p, $base) === 0 ? substr($p, strlen($base)) : $p) : null;
  }
  $v = $app['config']['view.compiled'];
  $o['view'] = $v ? count(glob(rtrim($v, '/').'/*.php') ?: []) : 0;
  if (in_array('cache', $kinds, true)) {
    $i = null;
    try {
      $st = $app['cache']->store()->getStore();
      if ($st instanceof Illuminate\Cache\RedisStore) { $i = (int) $st->connection()->dbSize(); }
      elseif ($st instanceof Illuminate\Cache\FileStore) { $i = count(glob($st->getDirectory().'/*', GLOB_ONLYDIR) ?: []); }
      elseif ($st instanceof Illuminate\Cache\ArrayStore || $st instanceof Illuminate\Cache\NullStore) { $i = 0; }
    } catch (Throwable $e) { $i = null; } // unknown: cache:clear then runs and says why it fails
    $o['cache'] = $i;
  }
  return $o;
};
$present = function ($f, $n) { return $n === 'view' ? $f[$n] > 0 : ($n === 'cache' ? $f[$n] !== 0 : $f[$n] !== null); };
$before = $facts(); $cleared = []; $failed = null;
foreach ($act ? ['config', 'route', 'event', 'view', 'cache'] : [] as $n) {
  if (! in_array($n, $kinds, true) || in_array($n, $skip, true) || ! $present($before, $n)) { continue; }
  try { $rc = $kernel->call("$n:clear"); $out = $kernel->output(); }
  catch (Throwable $e) { $rc = 1; $out = get_class($e).': '.$e->getMessage(); }
  if ($rc !== 0) { $failed = ['kind' => $n, 'exit' => $rc, 'output' => $out]; break; }
  $cleared[] = $n;
  if ($n === 'view' || $n === 'cache') { echo "remediations-cleared:$n\n"; }
}
echo json_encode(['before' => $before, 'cleared' => $cleared, 'failed' => $failed,
  'after' => $act ? $facts() : null, 'skipped' => $skip, 'fresh' => $fresh],
  JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE), "\n";
exit($failed === null ? 0 : 1);
