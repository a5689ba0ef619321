<?php

use Illuminate\Support\Facades\Artisan;

Artisan::command('lab:version', function () {
    $this->line((string) config('app.version'));
})->purpose('Print the version of this release');
