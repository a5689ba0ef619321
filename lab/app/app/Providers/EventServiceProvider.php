<?php

namespace App\Providers;

use Illuminate\Foundation\Support\Providers\EventServiceProvider as ServiceProvider;
use Illuminate\Queue\Events\JobFailed;
use Illuminate\Support\Facades\Log;

class EventServiceProvider extends ServiceProvider
{
    /**
     * @var array<class-string, array<int, class-string>>
     */
    protected $listen = [];

    public function boot(): void
    {
        $this->app['events']->listen(JobFailed::class, function (JobFailed $event) {
            Log::warning('job failed', ['job' => $event->job->resolveName()]);
        });
    }

    public function shouldDiscoverEvents(): bool
    {
        return false;
    }
}
