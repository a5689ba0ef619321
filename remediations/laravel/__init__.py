"""The Laravel application: caches, PHP and artisan, the queue, the scheduler, maintenance mode."""
