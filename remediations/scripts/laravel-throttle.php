# Boots the Laravel app as artisan does and finds, through the framework's own
# RateLimiter, the rate-limit entries one client address holds; with `clear`, clears them
# (RateLimiter::clear: the attempts and the `:timer` key). Used by
# remediations.laravel.throttle. Run as `php -r CODE -- APP_PATH MODE IP`.
# Arguments: $argv[1] the app path, $argv[2] `list` or `clear`, $argv[3] the address. The keys are the ones ThrottleRequests writes: sha1(<route domain>|<ip>) for
# `throttle:N,M`, and md5(<limiter name><limit key>) (or <name>:<key> when hashing is off)
# for each named limiter whose limit, asked for a request from IP, is keyed.
# Exit: 0 with one JSON object on its last line ({"store", "keys": [{key, attempts,
# available_in, via}]}); PHP's error code when the app cannot boot.

$b = $argv[1]; $mode = $argv[2]; $ip = $argv[3];
require $b.'/vendor/autoload.php';
$app = require $b.'/bootstrap/app.php';
$app->make(Illuminate\Contracts\Console\Kernel::class)->bootstrap();
$rl = $app->make(Illuminate\Cache\RateLimiter::class);
$cands = [];
$domains = [''];
foreach ($app['router']->getRoutes() as $r) { $domains[] = (string) $r->getDomain(); }
foreach (array_unique($domains) as $d) { $cands[sha1($d.'|'.$ip)] = 'throttle '.($d === '' ? '(any domain)' : $d); }
$p = new ReflectionProperty($rl, 'limiters'); $p->setAccessible(true);
$req = Illuminate\Http\Request::create('/', 'GET', [], [], [], ['REMOTE_ADDR' => $ip]);
$hash = ! property_exists(Illuminate\Routing\Middleware\ThrottleRequests::class, 'shouldHashKeys')
  || Illuminate\Routing\Middleware\ThrottleRequests::$shouldHashKeys;
foreach ($p->getValue($rl) as $name => $limiter) {
  try { $limits = Illuminate\Support\Arr::wrap($limiter($req)); } catch (Throwable $e) { continue; }
  foreach ($limits as $l) {
    if (! is_object($l) || ! isset($l->key) || $l->key === '') { continue; }
    $cands[$hash ? md5($name.$l->key) : $name.':'.$l->key] = 'limiter '.$name;
  }
}
$keys = [];
foreach ($cands as $k => $via) {
  $n = (int) $rl->attempts($k); $left = $rl->availableIn($k);
  if ($n > 0 || $app['cache']->has($k.':timer')) {
    if ($mode === 'clear') { $rl->clear($k); }
    $keys[] = ['key' => $k, 'attempts' => $n, 'available_in' => max(0, $left), 'via' => $via];
  }
}
echo json_encode(['store' => $app['config']['cache.default'], 'checked' => count($cands), 'keys' => $keys]);
