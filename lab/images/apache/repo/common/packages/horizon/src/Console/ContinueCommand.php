<?php

namespace Lab\Horizon\Console;

use Illuminate\Console\Command;

class ContinueCommand extends Command
{
    use SignalsMasters;

    protected $signature = 'horizon:continue';

    protected $description = 'Instruct the master supervisor to continue processing jobs';

    public function handle(): int
    {
        $this->signalMasters(SIGCONT, 'CONT', 'continue');

        return 0;
    }
}
