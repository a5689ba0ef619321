<?php

return [
    // The redis connection (config/database.php) and key prefix Horizon's records live under.
    'use' => 'default',
    'prefix' => env('HORIZON_PREFIX', 'horizon:'),

    // The one supervisor of the master: its workers work these queues of this connection.
    'connection' => 'redis',
    'queue' => 'default',
    'processes' => 2,
    'sleep' => 1,
    'tries' => 3,
    'timeout' => 60,
    'memory' => 128,

    // How long a terminating master waits for its workers before killing them.
    'termination_wait' => 50,
];
