<?php

namespace Lab\Horizon\Console;

use Illuminate\Contracts\Cache\Repository as Cache;
use Illuminate\Queue\Console\WorkCommand as BaseWorkCommand;
use Illuminate\Queue\Worker;

/** A worker of a master's supervisor: queue:work under another name (Horizon's horizon:work). */
class WorkCommand extends BaseWorkCommand
{
    protected $description = 'Start processing jobs on the queue as a daemon';

    protected $hidden = true;

    public function __construct(Worker $worker, Cache $cache)
    {
        $this->signature = preg_replace('/^queue:work/', 'horizon:work', $this->signature)
            .' {--supervisor= : The name of the supervisor the worker belongs to}';

        parent::__construct($worker, $cache);
    }
}
