<?php

use App\Http\Controllers\HealthController;
use Illuminate\Support\Facades\Route;

// Controllers, not closures: route:cache refuses closures on Laravel 8.
Route::get('/up', HealthController::class)->name('up');
Route::get('/health', HealthController::class)->name('health');
Route::view('/', 'welcome')->name('home');
