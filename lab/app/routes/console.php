<?php

use Illuminate\Support\Facades\Artisan;

Artisan::command('lab:version', function () {
    $this->line((string) config('app.version'));
})->purpose('Print the version of this release');

Artisan::command('lab:heartbeat', function () {
    file_put_contents(storage_path('app/schedule-heartbeat'), date(DATE_ATOM).PHP_EOL);
})->purpose('Record that the scheduler ran (storage/app/schedule-heartbeat)');
