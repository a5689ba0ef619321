<?php

namespace App\Console\Commands;

use App\Jobs\Ping;
use Illuminate\Console\Command;

class EnqueuePings extends Command
{
    protected $signature = 'lab:enqueue {count=1 : How many Ping jobs to push}';

    protected $description = 'Push N Ping jobs onto the redis "default" queue (to build a backlog)';

    public function handle(): int
    {
        $count = (int) $this->argument('count');
        if ($count < 0) {
            $this->error('count must be >= 0');

            return 1;
        }
        for ($i = 1; $i <= $count; $i++) {
            Ping::dispatch($i)->onConnection('redis')->onQueue('default');
        }
        $this->info("queued {$count} ping job(s) on redis:default");

        return 0;
    }
}
