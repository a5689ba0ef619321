<?php

namespace App\Console;

use App\Console\Commands\EnqueuePings;
use Illuminate\Console\Scheduling\Schedule;
use Illuminate\Foundation\Console\Kernel as ConsoleKernel;

class Kernel extends ConsoleKernel
{
    /**
     * @var array<int, class-string>
     */
    protected $commands = [
        EnqueuePings::class,
    ];

    protected function schedule(Schedule $schedule): void
    {
        // laravel-scheduler.timer runs schedule:run every minute. The heartbeat shows that it
        // fires (and stops while the scheduler is paused); it touches neither the queue nor
        // the cache, so the tick never disturbs queue lengths or an emptied cache store.
        $schedule->command('lab:heartbeat')->everyMinute();
        // An overlap lock (a mutex in the cache store) for schedule:clear-cache to act on.
        $schedule->command('queue:prune-failed --hours=168')->daily()->withoutOverlapping();
    }

    protected function commands(): void
    {
        require base_path('routes/console.php');
    }
}
