# Boots the Laravel app as artisan does and prints its failed jobs as one JSON object, as
# `queue:failed` lists them plus the first line of each exception
# (remediations.laravel.queue.failed_jobs_listed); never writes anything.
# Run as `php -r CODE -- APP_PATH LIMIT`.
# Arguments: the app path, how many jobs to list at most (newest first).
# Exit: 0 with the JSON on its last line; PHP's error code when the app cannot boot.

$b = $argv[1]; $limit = (int) $argv[2];
require $b.'/vendor/autoload.php';
$app = require $b.'/bootstrap/app.php';
$app->make(Illuminate\Contracts\Console\Kernel::class)->bootstrap();
$rows = $app['queue.failer']->all();
$o = [];
foreach (array_slice($rows, 0, $limit) as $r) {
  $r = (array) $r; $p = json_decode($r['payload'] ?? '{}', true) ?: [];
  $e = trim(strtok((string) ($r['exception'] ?? ''), "\n") ?: '');
  $o[] = ['id' => (string) ($r['uuid'] ?? $r['id']), 'connection' => (string) $r['connection'],
          'queue' => (string) $r['queue'], 'job' => (string) ($p['displayName'] ?? $p['job'] ?? '?'),
          'failed_at' => (string) $r['failed_at'], 'exception' => mb_substr($e, 0, 300)];
}
echo json_encode(['total' => count($rows), 'jobs' => $o]), "\n";
