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
        // Something for schedule:list to show and for a "pause the scheduler" runbook to pause.
        $schedule->command('lab:enqueue 1')->everyFiveMinutes()->withoutOverlapping();
        $schedule->command('queue:prune-failed --hours=168')->daily();
    }

    protected function commands(): void
    {
        require base_path('routes/console.php');
    }
}
