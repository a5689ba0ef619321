<?php

namespace Lab\Extras;

use Illuminate\Console\Command;

class ExtrasCommand extends Command
{
    protected $signature = 'lab:extras';

    protected $description = 'Print the version of lab/extras installed in vendor/ (what the last composer install left)';

    public function handle(): int
    {
        $this->line(Extras::VERSION);

        return 0;
    }
}
