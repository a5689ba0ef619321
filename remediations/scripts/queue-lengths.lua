-- The lengths of a Laravel redis queue in one round trip (remediations.laravel.queue:
-- `EVAL SCRIPT 3 QUEUE QUEUE:delayed QUEUE:reserved`); read-only.
-- Arguments: KEYS[1] the queue (a list), KEYS[2] its delayed and KEYS[3] its reserved jobs
-- (sorted sets).
-- Exit: returns {pending, delayed, reserved}; redis answers an error for a key of the
-- wrong type.

return {redis.call('LLEN', KEYS[1]), redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3])}
