# Boots the Laravel app as artisan does and prints, as one JSON object, facts only the
# framework knows (remediations.laravel.php.probe); never writes anything.
# Run as `php -r CODE -- APP_PATH SECTION...`.
# Arguments: $argv[1] the app path, then sections: store (cache store, driver, items),
# mutexes (scheduler mutexes held), views (compiled Blade views, the stale ones).
# Exit: 0 with the JSON on its last line; PHP's error code when the app cannot boot.


$b = $argv[1];
require $b.'/vendor/autoload.php';
$app = require $b.'/bootstrap/app.php';
$app->make(Illuminate\Contracts\Console\Kernel::class)->bootstrap();
$o = [];
foreach (array_slice($argv, 2) as $s) {
  if ($s === 'store') {
    $n = $app['config']['cache.default']; $st = $app['cache']->store()->getStore(); $i = null;
    if ($st instanceof Illuminate\Cache\RedisStore) { $i = (int) $st->connection()->dbSize(); }
    elseif ($st instanceof Illuminate\Cache\FileStore) { $i = count(glob($st->getDirectory().'/*', GLOB_ONLYDIR) ?: []); }
    elseif ($st instanceof Illuminate\Cache\ArrayStore || $st instanceof Illuminate\Cache\NullStore) { $i = 0; }
    $o['store'] = ['name' => $n, 'driver' => $app['config']["cache.stores.$n.driver"], 'items' => $i];
  } elseif ($s === 'mutexes') {
    $o['mutexes'] = [];
    foreach ($app->make(Illuminate\Console\Scheduling\Schedule::class)->events() as $e) {
      if ($e->mutex->exists($e)) { $o['mutexes'][] = ['command' => $e->command ?? $e->description, 'expression' => $e->expression, 'mutex' => $e->mutexName()]; }
    }
  } elseif ($s === 'views') {
    $f = $app['view']->getFinder(); $c = $app['blade.compiler']; $n = 0; $stale = [];
    foreach (array_merge($f->getPaths(), ...array_values($f->getHints())) as $p) {
      if (! is_dir($p)) { continue; }
      foreach (new RecursiveIteratorIterator(new RecursiveDirectoryIterator($p, FilesystemIterator::SKIP_DOTS)) as $v) {
        $r = $v->getRealPath();
        if (! str_ends_with($r, '.blade.php') || str_contains(substr($r, strlen($p)), '/vendor/')) { continue; }
        $n++; if ($c->isExpired($r)) { $stale[] = $r; }
      }
    }
    $o['views'] = ['count' => $n, 'stale' => $stale];
  }
}
echo json_encode($o);

