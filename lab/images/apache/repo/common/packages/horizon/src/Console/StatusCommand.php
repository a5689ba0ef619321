<?php

namespace Lab\Horizon\Console;

use Illuminate\Console\Command;
use Lab\Horizon\MasterSupervisors;

class StatusCommand extends Command
{
    protected $signature = 'horizon:status';

    protected $description = 'Get the current status of Horizon';

    public function handle(): int
    {
        $masters = MasterSupervisors::all();
        if (! $masters) {
            $this->error('Horizon is inactive.');

            return 1;
        }
        foreach ($masters as $master) {
            if (($master['status'] ?? '') === 'paused') {
                $this->warn('Horizon is paused.');

                return 1;
            }
        }
        $this->info('Horizon is running.');

        return 0;
    }
}
