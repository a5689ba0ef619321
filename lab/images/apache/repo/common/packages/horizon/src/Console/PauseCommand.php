<?php

namespace Lab\Horizon\Console;

use Illuminate\Console\Command;

class PauseCommand extends Command
{
    use SignalsMasters;

    protected $signature = 'horizon:pause';

    protected $description = 'Pause the master supervisor';

    public function handle(): int
    {
        $this->signalMasters(SIGUSR2, 'USR2', 'pause');

        return 0;
    }
}
