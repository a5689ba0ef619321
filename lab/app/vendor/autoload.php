<?php

// No Composer here: Debian's php-laravel-framework ships an autoloader for the whole
// framework (and its dependencies) on PHP's include path; the app only adds App\.
require_once 'Illuminate/autoload.php';

spl_autoload_register(function (string $class): void {
    if (strncmp($class, 'App\\', 4) !== 0) {
        return;
    }
    $file = __DIR__.'/../app/'.str_replace('\\', '/', substr($class, 4)).'.php';
    if (is_file($file)) {
        require $file;
    }
});
