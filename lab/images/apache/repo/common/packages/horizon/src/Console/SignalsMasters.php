<?php

namespace Lab\Horizon\Console;

use Lab\Horizon\MasterSupervisors;

/** What horizon:pause, horizon:continue and horizon:terminate share: signal this machine's masters. */
trait SignalsMasters
{
    /** @return list<int> the pids signalled */
    protected function signalMasters(int $signal, string $signalName, string $verb): array
    {
        $pids = array_map(fn (array $master) => (int) $master['pid'], MasterSupervisors::local());
        if (! $pids) {
            $this->info("No processes to {$verb}.");

            return [];
        }
        $this->info("Sending {$signalName} signal to processes.");
        foreach ($pids as $pid) {
            if (posix_kill($pid, $signal)) {
                $this->line("  Process: {$pid} DONE");
            } else {
                $this->line("  Process: {$pid} FAIL");
                $this->error("Failed to kill process: {$pid} (".posix_strerror(posix_get_last_error()).')');
            }
        }

        return $pids;
    }
}
