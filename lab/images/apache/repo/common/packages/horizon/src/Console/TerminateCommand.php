<?php

namespace Lab\Horizon\Console;

use Illuminate\Console\Command;
use Illuminate\Support\InteractsWithTime;

class TerminateCommand extends Command
{
    use InteractsWithTime, SignalsMasters;

    protected $signature = 'horizon:terminate {--wait : Wait for all workers to terminate}';

    protected $description = 'Terminate the master supervisor so it can be restarted';

    public function handle(): int
    {
        $pids = $this->signalMasters(SIGTERM, 'TERM', 'terminate');

        // As Horizon does: any other queue:work of this app restarts too.
        $this->laravel['cache']->forever('illuminate:queue:restart', $this->currentTime());

        if ($this->option('wait')) {
            while ($pids = array_values(array_filter($pids, fn (int $pid) => $this->alive($pid)))) {
                usleep(200_000);
            }
        }

        return 0;
    }

    private function alive(int $pid): bool
    {
        // EPERM: it exists but belongs to another user.
        return posix_kill($pid, 0) || posix_get_last_error() === 1;
    }
}
