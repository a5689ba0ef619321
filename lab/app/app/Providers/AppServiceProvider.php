<?php

namespace App\Providers;

use Illuminate\Cache\RateLimiting\Limit;
use Illuminate\Http\Request;
use Illuminate\Support\Facades\RateLimiter;
use Illuminate\Support\ServiceProvider;

class AppServiceProvider extends ServiceProvider
{
    public function register(): void
    {
    }

    public function boot(): void
    {
        // A named limiter keyed by the client address, as apps declare theirs
        // (`throttle:burst` on /limited): its keys are md5('burst'.<address>).
        RateLimiter::for('burst', function (Request $request) {
            return Limit::perMinute(5)->by($request->ip());
        });
    }
}
