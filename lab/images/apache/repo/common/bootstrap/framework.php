<?php

// Composer autoloads this file ("files"): Debian's php-laravel-framework ships one autoloader
// for the whole framework and its dependencies on PHP's include path. App\ and the path
// packages come from Composer's own class map.
require_once 'Illuminate/autoload.php';
