<?php

use App\Http\Controllers\HealthController;
use Illuminate\Support\Facades\Route;

// Controllers, not closures: route:cache refuses closures on Laravel 8.
Route::get('/up', HealthController::class)->name('up');
Route::get('/health', HealthController::class)->name('health');
Route::view('/', 'welcome')->name('home');
// Throttled as apps throttle: by route (`throttle:5,1`, keys sha1('|'.ip)) and by a named
// limiter (`throttle:burst`), both in the cache store (redis connection `cache`).
Route::get('/throttled', HealthController::class)->middleware('throttle:5,1')->name('throttled');
Route::get('/limited', HealthController::class)->middleware('throttle:burst')->name('limited');
