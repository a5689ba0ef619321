"""A snapshot script's output, as a healthy lab web host prints it, with faults to splice in."""

from __future__ import annotations

MARK = "@@triage-snapshot-0123456789abcdef"


def unit(name: str, active: str = "active", sub: str = "running", enabled: str = "enabled",
         restarts: int = 0) -> str:
    return (f"MainPID=39\nNRestarts={restarts}\nId={name}\nLoadState=loaded\n"
            f"ActiveState={active}\nSubState={sub}\nUnitFileState={enabled}\n")


def output(*, units: str | None = None, disk_pct: int = 25, scratch_pct: int = 0,
           inode_pct: int = 3, load: str = "1.00 1.10 1.26 2/373 116", cpus: int = 2,
           available_kb: int = 23553820, ping: str = "PONG", llen: str = "0",
           hits: int = 0, misses: int = 127, maintenance: str = "off",
           failed: str = "No failed jobs!\nexit=0", app_log: str = "",
           timer: str = "active", mark: str = MARK) -> str:
    units = units if units is not None else (
        unit("nginx.service") + "\n" + unit("php8.2-fpm.service") + "\n"
        + unit("redis-server.service") + "\n" + unit("redis-server.service") + "\n"
        + unit("supervisor.service"))
    return f"""
{mark}:units
{units}
{mark}:scheduler
Id=laravel-scheduler.timer
LoadState=loaded
ActiveState={timer}
UnitFileState=enabled
cron=

{mark}:load
{load}
{cpus}

{mark}:memory
MemTotal:       24683792 kB
MemAvailable:   {available_kb} kB
SwapTotal:             0 kB
SwapFree:              0 kB

{mark}:top_memory
     69 www-data  0.1  0.4 38896 php
     51 root      0.1  0.7 31156 supervisord

{mark}:top_cpu
     96 root      0.0 12.5  1664 sh
      1 root      0.0  0.4 11724 systemd

{mark}:disk
Filesystem     Type    1024-blocks     Used Available Capacity Mounted on
overlay        overlay   264212084 25999760  80391152      {disk_pct}% /
tmpfs          tmpfs         65536        0     65536       0% /dev
shm            tmpfs         65536        0     65536       0% /dev/shm
tmpfs          tmpfs      12341896       64  12341832       1% /run
/dev/vda       ext4      264212084 25999760  80391152      25% /etc/hosts
tmpfs          tmpfs         16384        0     16384       {scratch_pct}% /mnt/scratch
tmpfs          tmpfs      12341896        0  12341896       0% /run/lock
tmpfs          tmpfs          4096        0      4096       0% /sys/fs/cgroup
proc           proc              0        0         0        - /proc
tmpfs          tmpfs      12341896        0  12341896       0% /proc/acpi

{mark}:inodes
Filesystem     Type      Inodes  IUsed    IFree IUse% Mounted on
overlay        overlay 16777216 491051 16286165    {inode_pct}% /
tmpfs          tmpfs    3085474      1  3085473    1% /mnt/scratch
tmpfs          tmpfs       1024     17     1007    2% /sys/fs/cgroup

{mark}:listening
State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
LISTEN 0      511          0.0.0.0:80         0.0.0.0:*    users:(("nginx",pid=39,fd=5))
LISTEN 0      511        127.0.0.1:6379       0.0.0.0:*

{mark}:redis
ping={ping}
llen={llen}
used_memory:1204920
maxmemory:0
evicted_keys:0
keyspace_hits:{hits}
keyspace_misses:{misses}

{mark}:app
maintenance={maintenance}
link=releases/v1.2.3
resolved=/srv/app/releases/v1.2.3

{mark}:failed_jobs
{failed}

{mark}:log:app:/srv/app/current/storage/logs/laravel.log
{app_log}

{mark}:log:web:/var/log/nginx/error.log

{mark}:end
"""
