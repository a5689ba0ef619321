# Runs the artisan hooks of a release switch in ONE PHP process (remediations.release.hooks).
# Appended to laravel-probe.php, whose boot ($app, its console kernel bootstrapped) and whose
# `views` section (Laravel's own isExpired for every Blade view) it reuses. Each hook is the
# framework's own command called in-process, in order, as `artisan optimize` does; after
# config:cache, the later hooks see the configuration just cached, as a new artisan would.
# Output: after the probe's JSON, per hook a line `== NAME`, its output, then `@@done NAME`;
# a hook marked `views` whose views the probe found all compiled and fresh is not run:
# `== NAME`, `@@fresh NAME`; else only the stale views are compiled (Blade's compiler, as
# view:cache compiles each, without its view:clear of every release's compiled views); a failing hook ends with `@@fail NAME` and stops the process.
# Arguments: $argv[1] the release path, then the probe's sections (`views` when a hook needs
# it), then the hooks as one JSON list (the last argument) of {"name", "command", "views"}.
# Exit: 0, or the exit code of the hook that failed (1 when it threw).

echo "\n";
$kernel = $app->make(Illuminate\Contracts\Console\Kernel::class);
foreach (json_decode($argv[count($argv) - 1], true) as $k) {
  echo '== '.$k['name']."\n";
  if (! empty($k['views']) && isset($o['views'])) {
    if (! $o['views']['stale']) { echo '@@fresh '.$k['name']."\n"; continue; }
    // Only the stale views, by Blade's compiler as view:cache compiles each; not its
    // view:clear, which would delete every release's compiled views in shared storage.
    try { foreach ($o['views']['stale'] as $v) { $app['blade.compiler']->compile($v); } }
    catch (Throwable $e) { echo get_class($e).': '.$e->getMessage()."\n@@fail ".$k['name']."\n"; exit(1); }
    echo 'compiled '.count($o['views']['stale'])." stale view(s)\n@@done ".$k['name']."\n"; continue;
  }
  $buf = new Symfony\Component\Console\Output\BufferedOutput;
  try { $s = $kernel->call($k['command'], [], $buf); $t = $buf->fetch(); }
  catch (Throwable $e) { $s = 1; $t = $buf->fetch().get_class($e).': '.$e->getMessage()."\n"; }
  if ($t !== '') { echo rtrim($t, "\n")."\n"; }
  if ($s !== 0) { echo '@@fail '.$k['name']."\n"; exit($s); }
  if ($k['command'] === 'config:cache') { $app['config']->set(require $app->getCachedConfigPath()); }
  echo '@@done '.$k['name']."\n";
}
