"""The queue restart signal: the time `artisan queue:restart` left in the cache for the workers.

`queue:restart` writes the current time under `illuminate:queue:restart` in the app's
default cache store; each `queue:work` compares it with the value it read at start and
exits after its current job when it changed. Reading the key before and after shows the
signal was written where the workers look. A store that is not shared (`file`, `array`)
never reaches workers in other pods or containers: `restart_signal` reports the driver so
a caller can say so instead of waiting for workers that will not exit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from remediations.core.errors import RemediationError
from remediations.laravel.php import app_path, as_app_user
from remediations.run.target import Target

KEY = "illuminate:queue:restart"
# Boots the app as artisan does; prints {"driver": ..., "value": ...} on its last line.
_READ = (
    '$b = $argv[1]; require $b."/vendor/autoload.php"; $app = require $b."/bootstrap/app.php";'
    " $app->make(Illuminate\\Contracts\\Console\\Kernel::class)->bootstrap();"
    ' $c = $app["cache"]; $n = $app["config"]["cache.default"];'
    ' echo json_encode(["driver" => $app["config"]["cache.stores.$n.driver"],'
    f' "value" => $c->get("{KEY}")]), "\\n";'
)
LOCAL_DRIVERS = frozenset({"file", "array", "apc", "null"})


@dataclass(frozen=True, slots=True)
class RestartSignal:
    """The cache driver the signal goes through and its value (a Unix time, or None)."""

    driver: str
    value: int | None

    @property
    def shared(self) -> bool:
        """Whether workers elsewhere (other pods, containers, hosts) can see the signal."""
        return self.driver not in LOCAL_DRIVERS


def restart_signal(t: Target) -> RestartSignal:
    """Read `illuminate:queue:restart` from the app's cache as the workers do; raises on failure."""
    res = t.conn.run(as_app_user(t, ["php", "-r", _READ, "--", app_path(t)]), timeout=60)
    try:
        found = json.loads((res.stdout.strip().splitlines() or ["?"])[-1])
    except ValueError:
        raise RemediationError(f"reading {KEY} printed no JSON:\n{res.tail(10)}") from None
    value = found.get("value")  # redis gives the time back as a string
    stamp = int(value) if isinstance(value, (int, float)) or (
        isinstance(value, str) and value.isdigit()) else None
    return RestartSignal(str(found.get("driver") or ""), stamp)
