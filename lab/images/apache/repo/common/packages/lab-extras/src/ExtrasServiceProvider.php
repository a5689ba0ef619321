<?php

namespace Lab\Extras;

use Illuminate\Support\ServiceProvider;

class ExtrasServiceProvider extends ServiceProvider
{
    public function boot(): void
    {
        if ($this->app->runningInConsole()) {
            $this->commands([ExtrasCommand::class]);
        }
    }
}
