<?php

namespace Lab\Horizon;

use Illuminate\Support\Str;

/**
 * Horizon's master records in redis, as Horizon 5's RedisMasterSupervisorRepository keeps them:
 * sorted set `<prefix>masters` (member = master name, score = last refresh time) and hash
 * `<prefix>master:<name>` (name, environment, pid, status, supervisors) expiring after 15 s.
 */
class MasterSupervisors
{
    /** This machine's part of every master name: Horizon's MasterSupervisor::basename(). */
    public static function basename(): string
    {
        return Str::slug((string) gethostname());
    }

    public static function newName(): string
    {
        return static::basename().'-'.Str::random(4);
    }

    /**
     * A raw phpredis call through Laravel's connection, which reconnects after "went away"
     * (a restarted redis), as Horizon's own connection does.
     */
    protected static function call(string $method, mixed ...$args): mixed
    {
        return app('redis')->connection(config('horizon.use', 'default'))->command($method, $args);
    }

    protected static function key(string $key): string
    {
        return config('horizon.prefix', 'horizon:').$key;
    }

    /** @param  list<string>  $supervisors */
    public static function update(string $name, int $pid, string $status, array $supervisors): void
    {
        static::call('hMSet', static::key('master:'.$name), [
            'name' => $name,
            'environment' => (string) config('app.env'),
            'pid' => (string) $pid,
            'status' => $status,
            'supervisors' => json_encode($supervisors),
        ]);
        static::call('zAdd', static::key('masters'), microtime(true), $name);
        static::call('expire', static::key('master:'.$name), 15);
    }

    public static function forget(string $name): void
    {
        static::call('del', static::key('master:'.$name));
        static::call('zRem', static::key('masters'), $name);
    }

    /**
     * The masters that refreshed within the last 14 seconds and whose record has not expired.
     *
     * @return list<array<string, string>>
     */
    public static function all(): array
    {
        $names = static::call('zRevRangeByScore', static::key('masters'), '+inf', (string) (time() - 14));
        $masters = [];
        foreach ($names ?: [] as $name) {
            $record = static::call('hGetAll', static::key('master:'.$name));
            if ($record) {
                $masters[] = $record;
            }
        }

        return $masters;
    }

    /**
     * The masters of this machine (name starts with its basename), as the signal commands pick them.
     *
     * @return list<array<string, string>>
     */
    public static function local(): array
    {
        return array_values(array_filter(static::all(), function (array $master) {
            return Str::startsWith($master['name'] ?? '', static::basename());
        }));
    }
}
