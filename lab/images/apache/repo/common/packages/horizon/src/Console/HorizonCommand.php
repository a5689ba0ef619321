<?php

namespace Lab\Horizon\Console;

use Illuminate\Console\Command;
use Lab\Horizon\MasterSupervisors;

/**
 * The master supervisor (stand-in for Horizon 5's `horizon`): registers itself in redis every
 * second, keeps `horizon.processes` horizon:work children alive, and answers Horizon's signals:
 * TERM/INT terminate (children first, then the record), USR2 pauses, CONT continues, USR1
 * restarts the workers.
 */
class HorizonCommand extends Command
{
    protected $signature = 'horizon {--environment= : The environment name}';

    protected $description = 'Start a master supervisor in the foreground';

    private string $master = '';

    private bool $working = true;

    private bool $terminating = false;

    private bool $restarting = false;

    /** @var array<int, array{process: resource, pid: int}> */
    private array $workers = [];

    public function handle(): int
    {
        $this->master = MasterSupervisors::newName();

        pcntl_async_signals(true);
        pcntl_signal(SIGTERM, fn () => $this->terminating = true);
        pcntl_signal(SIGINT, fn () => $this->terminating = true);
        pcntl_signal(SIGUSR1, fn () => $this->restarting = true);
        pcntl_signal(SIGUSR2, fn () => $this->pause());
        pcntl_signal(SIGCONT, fn () => $this->continue());

        // Like Horizon, a master that cannot reach redis at start fails at once...
        $this->persist();
        $this->info('Horizon started successfully.');

        try {
            while (! $this->terminating) {
                // ...but once running it reports a failed loop (redis down) and goes on.
                try {
                    if ($this->restarting) {
                        $this->restarting = false;
                        $this->stopWorkers();
                    }
                    $this->monitorWorkers();
                    $this->persist();
                } catch (\Throwable $e) {
                    report($e);
                    $this->error('Horizon loop failed: '.$e->getMessage());
                }
                sleep(1);
            }
        } finally {
            $this->stopWorkers();
            try {
                MasterSupervisors::forget($this->master);
            } catch (\Throwable $e) {
                $this->error('Could not remove the master record: '.$e->getMessage());
            }
        }

        $this->info('Horizon terminated.');

        return 0;
    }

    private function persist(): void
    {
        MasterSupervisors::update($this->master, getmypid(), $this->working ? 'running' : 'paused',
            [$this->supervisorName()]);
    }

    private function supervisorName(): string
    {
        return $this->master.':supervisor-1';
    }

    private function pause(): void
    {
        $this->working = false;
        $this->signalWorkers(SIGUSR2);
    }

    private function continue(): void
    {
        $this->working = true;
        $this->signalWorkers(SIGCONT);
    }

    private function signalWorkers(int $signal): void
    {
        foreach ($this->workers as $worker) {
            posix_kill($worker['pid'], $signal);
        }
    }

    /** Reap workers that exited; start missing ones (not while paused: they would not be). */
    private function monitorWorkers(): void
    {
        foreach ($this->workers as $i => $worker) {
            $status = proc_get_status($worker['process']);
            if (! $status['running']) {
                proc_close($worker['process']);
                unset($this->workers[$i]);
                $how = $status['signaled'] ? 'killed by signal '.$status['termsig'] : 'exit '.$status['exitcode'];
                $this->line("Worker {$worker['pid']} exited ({$how}).");
            }
        }
        if (! $this->working || $this->terminating) {
            return;
        }
        while (count($this->workers) < (int) config('horizon.processes', 2)) {
            $this->startWorker();
        }
    }

    private function startWorker(): void
    {
        $command = [
            PHP_BINARY, base_path('artisan'), 'horizon:work', config('horizon.connection', 'redis'),
            '--name=default',
            '--supervisor='.$this->supervisorName(),
            '--backoff=0',
            '--max-time=0',
            '--max-jobs=0',
            '--memory='.config('horizon.memory', 128),
            '--queue='.config('horizon.queue', 'default'),
            '--sleep='.config('horizon.sleep', 1),
            '--timeout='.config('horizon.timeout', 60),
            '--tries='.config('horizon.tries', 3),
            '--rest=0',
        ];
        $process = proc_open($command, [0 => ['file', '/dev/null', 'r'], 1 => STDOUT, 2 => STDERR],
            $pipes, base_path());
        if (! is_resource($process)) {
            throw new \RuntimeException('could not start a horizon:work process');
        }
        $pid = proc_get_status($process)['pid'];
        $this->workers[] = ['process' => $process, 'pid' => $pid];
        $this->line("Started worker {$pid}.");
    }

    /** TERM every worker and wait for them (a job in progress finishes), then KILL what is left. */
    private function stopWorkers(): void
    {
        $this->signalWorkers(SIGTERM);
        $deadline = microtime(true) + (int) config('horizon.termination_wait', 50);
        while ($this->workers && microtime(true) < $deadline) {
            foreach ($this->workers as $i => $worker) {
                if (! proc_get_status($worker['process'])['running']) {
                    proc_close($worker['process']);
                    unset($this->workers[$i]);
                }
            }
            usleep(100_000);
        }
        foreach ($this->workers as $i => $worker) {
            posix_kill($worker['pid'], SIGKILL);
            proc_close($worker['process']);
            unset($this->workers[$i]);
        }
    }
}
