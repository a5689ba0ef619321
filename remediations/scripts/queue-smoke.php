# Boots the Laravel app as artisan does and, on its default queue connection, pushes one
# harmless job (Artisan::queue('list'): the framework's QueuedCommand, which any app can run)
# onto a queue, or only reads its size (remediations.laravel.queue.queue_worker_processes_job).
# Run as `php -r CODE -- APP_PATH push|size QUEUE`.
# Arguments: the app path, the mode, the queue name.
# Exit: 0 with one JSON object on its last line (connection, driver, queue, size, pushed);
# PHP's error code when the app cannot boot or the queue cannot be reached.

$b = $argv[1]; $mode = $argv[2]; $q = $argv[3];
require $b.'/vendor/autoload.php';
$app = require $b.'/bootstrap/app.php';
$app->make(Illuminate\Contracts\Console\Kernel::class)->bootstrap();
$name = $app['config']['queue.default'];
$driver = $app['config']["queue.connections.$name.driver"];
$pushed = false;
if ($mode === 'push' && $driver !== 'sync') {
  Illuminate\Support\Facades\Queue::connection($name)->pushOn($q, new Illuminate\Foundation\Console\QueuedCommand(['list']));
  $pushed = true;
}
$size = $driver === 'sync' ? 0 : (int) $app['queue']->connection($name)->size($q);
echo json_encode(['connection' => $name, 'driver' => $driver, 'queue' => $q, 'size' => $size, 'pushed' => $pushed]), "\n";
