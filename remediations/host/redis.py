"""Redis through `redis-cli` on the host: PING, and deleting keys found with SCAN (never KEYS).

The password (inventory `redis_password`) reaches redis-cli through the environment
(`env REDISCLI_AUTH=... redis-cli`), never `-a`, and is masked in every result this
module returns. Optional inventory vars: `redis_host`, `redis_port`, `redis_db`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from remediations.connections.base import CommandResult
from remediations.core import validate
from remediations.core.errors import InvalidInput
from remediations.core.redact import MASK, Redactor
from remediations.core.result import Result, Status, Step
from remediations.core.scripts import script
from remediations.run.contract import Verification, apply
from remediations.run.target import Target

_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:_-]{0,252}$")
_WILDCARDS = frozenset("*?")
_BATCH = 500           # keys per UNLINK / EXISTS command
_DATA_KEYS = 1000      # keys listed in Result.data; the count is always exact
MAX_DB = 1024          # redis's `databases` is 16 by default; more than this is a typo
MAX_SCAN_COUNT = 100_000  # SCAN's COUNT hint
MAX_KEYS = 10**7       # keys redis_keys_deleted may delete in one call (held in memory)
# SCAN walked on the host in one round trip; `-e` makes redis-cli exit 1 on an error reply.
_SCAN = script("redis-scan.sh")


def redis_text(value: str, what: str) -> str:
    """A key or pattern: printable, no white space, at most 1024 characters."""
    if (not isinstance(value, str) or not value or len(value) > 1024 or not value.isprintable()
            or any(c.isspace() for c in value)):
        raise InvalidInput(f"not a valid redis {what}: {value!r} "
                           "(printable, no white space, 1-1024 characters)")
    return value


def redis_pattern(value: str, *, allow_all: bool = False) -> str:
    """A SCAN MATCH glob; one made of wildcards only (`*`) needs `allow_all`."""
    value = redis_text(value, "key pattern")
    if not allow_all and set(value) <= _WILDCARDS:
        raise InvalidInput(f"pattern {value!r} matches every key; pass allow_all=True to mean it")
    return value


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Redis's glob (`*`, `?`, `[a-z]`, `[^x]`, `\\x`) as a regex, to re-check SCAN's answers."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "\\" and i < n:
            out.append(re.escape(pattern[i]))
            i += 1
        elif c == "[":
            i, item = _glob_class(pattern, i)
            out.append(item)
        else:
            out.append(re.escape(c))
    return re.compile("".join(out), re.DOTALL)


def _glob_class(pattern: str, i: int) -> tuple[int, str]:
    """The `[...]` starting at `i` (just past `[`), as stringmatchlen reads it."""
    negate = i < len(pattern) and pattern[i] == "^"
    i += negate
    items: list[str] = []
    while i < len(pattern) and pattern[i] != "]":
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            items.append(re.escape(pattern[i + 1]))
            i += 2
        elif i + 2 < len(pattern) and pattern[i + 1] == "-":
            lo, hi = sorted((c, pattern[i + 2]))
            items.append(f"{re.escape(lo)}-{re.escape(hi)}")
            i += 3
        else:
            items.append(re.escape(c))
            i += 1
    i += 1  # past "]" (an unclosed class ends with the pattern, as in redis)
    if not items:
        return i, "." if negate else "(?!)"
    return i, "[" + ("^" if negate else "") + "".join(items) + "]"


def _password(t: Target) -> str:
    value = t.var("redis_password")
    return "" if value is None else str(value)


def db_number(db: int | None) -> int | None:
    """A redis database number argument (0-1024), or None: the inventory's."""
    return None if db is None else validate.count(db, "db", high=MAX_DB)


def redis_db(t: Target, db: int | None = None) -> int:
    """The database number: `db`, else inventory `redis_db`, else 0."""
    if db is not None:
        return validate.count(db, "db", high=MAX_DB)
    value = t.var("redis_db", 0)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{t.name}: not a valid redis database number: {value!r}") from None
    if not 0 <= number <= MAX_DB:
        raise InvalidInput(f"{t.name}: not a valid redis database number: {value!r}")
    return number


def cli_flags(t: Target, db: int | None = None) -> list[str]:
    """redis-cli's connection flags from the inventory (none for the local default)."""
    flags: list[str] = []
    host = t.var("redis_host")
    if host:
        if not _HOST.fullmatch(str(host)):
            raise InvalidInput(f"{t.name}: not a valid redis_host: {host!r}")
        flags += ["-h", str(host)]
    port = t.var("redis_port")
    if port:
        if not str(port).isdigit() or not 0 < int(port) < 65536:
            raise InvalidInput(f"{t.name}: not a valid redis_port: {port!r}")
        flags += ["-p", str(int(port))]
    number = redis_db(t, db)
    if number:
        flags += ["-n", str(number)]
    return flags


def _env(t: Target) -> list[str]:
    password = _password(t)
    if any(c in password for c in "\0\n"):
        raise InvalidInput(f"{t.name}: redis_password may not contain NUL or newline")
    return ["env", f"REDISCLI_AUTH={password}"] if password else []


def cli_argv(t: Target, *args: str, db: int | None = None) -> list[str]:
    """`env REDISCLI_AUTH=... redis-cli -e [flags] ARGS`: errors exit 1 (`-e`)."""
    return [*_env(t), "redis-cli", "-e", *cli_flags(t, db), *args]


def mask(t: Target, text: str) -> str:
    """`text` with the redis password replaced by the mask."""
    password = _password(t)
    if password:
        text = text.replace(password, MASK).replace(shlex.quote(password), MASK)
    return re.sub(r"(REDISCLI_AUTH=)\S+", r"\1" + MASK, text)


def masked_command(argv: Sequence[str]) -> str:
    """The command line of `argv` as recorded: `REDISCLI_AUTH=********` (as the runner shows it)."""
    joined = shlex.join("REDISCLI_AUTH=MASKED" if a.startswith("REDISCLI_AUTH=") else a
                        for a in argv)
    return joined.replace("REDISCLI_AUTH=MASKED", f"REDISCLI_AUTH={MASK}")


def masked(t: Target, result: Result, steps: Sequence[Step] = ()) -> Result:
    """`result` with the redis password masked everywhere (commands, message, evidence, data)."""
    exact = {s.command: masked_command(s.argv) for s in steps}

    def text(value: str) -> str:
        for command, shown in exact.items():
            value = value.replace(command, shown)
        return mask(t, value)

    password = _password(t)
    redacted = Redactor([password] if password else []).result(result.replace(
        message=text(result.message), evidence=text(result.evidence),
        commands=tuple(text(c) for c in result.commands)))
    return redacted.replace(
        message=mask(t, redacted.message), evidence=mask(t, redacted.evidence),
        commands=tuple(mask(t, c) for c in redacted.commands))


def call(t: Target, *args: str, db: int | None = None, timeout: float | None = 30.0) -> CommandResult:
    """Run one redis command; a failed CommandResult carries redis's error (never raises)."""
    return t.conn.run(cli_argv(t, *args, db=db), check=False, timeout=timeout)


def error_of(res: CommandResult, t: Target) -> str:
    """Redis's (or redis-cli's) complaint, password masked; empty when the call succeeded."""
    if res.succeeded:
        return ""
    text = " ".join(p.strip() for p in (res.stdout, res.stderr) if p.strip())
    return mask(t, text or f"redis-cli exited {res.exit_code}")


def scan_argv(t: Target, pattern: str, *, count: int, db: int | None = None) -> list[str]:
    """One round trip that walks `SCAN cursor MATCH pattern COUNT n` to the end, a key a line."""
    env = ["env", *(_env(t)[1:]), f"PATTERN={pattern}", f"COUNT={count}"]
    return [*env, "sh", "-c", _SCAN, "redis-scan", *cli_flags(t, db)]


def scan(t: Target, pattern: str, *, count: int = 500, db: int | None = None) -> list[str]:
    """Keys matching `pattern`, walked with SCAN; raises `RuntimeError` with redis's error."""
    res = t.conn.run(scan_argv(t, pattern, count=count, db=db), check=False, timeout=300)
    if res.failed:
        raise RuntimeError(error_of(res, t))
    rx = glob_regex(pattern)
    # A key holding a newline comes back as two lines: re-checking each line against the
    # pattern keeps such fragments from naming some other key.
    return list(dict.fromkeys(k for k in res.stdout.split("\n") if k and rx.fullmatch(k)))


def existing(t: Target, keys: Sequence[str], *, db: int | None = None) -> int:
    """How many of `keys` exist (EXISTS counts them); -1 when redis could not be asked."""
    total = 0
    for i in range(0, len(keys), _BATCH):
        res = call(t, "EXISTS", *keys[i:i + _BATCH], db=db)
        if res.failed or not res.stdout.strip().isdigit():
            return -1
        total += int(res.stdout.strip())
    return total


def redis_pong(t: Target, *, db: int | None = None) -> Result:
    """Check that redis answers PING with PONG (authenticating with `redis_password`).

    Never changes anything. Example: `redis_pong(t)`.
    """
    db = db_number(db)
    res = call(t, "PING", db=db, timeout=10)
    reply = res.stdout.strip()
    data = {"reply": mask(t, reply), "seconds": round(res.duration, 3)}
    if res.succeeded and reply == "PONG":
        return masked(t, t.result("redis_pong", Status.OK, "redis answers PONG", data=data))
    return masked(t, t.result("redis_pong", Status.FAILED,
                              f"redis did not answer PONG: {error_of(res, t) or reply!r}",
                              evidence=error_of(res, t), data=data))


def plan_keys_deleted(t: Target, keys: Sequence[str], *, db: int | None = None) -> list[Step]:
    """UNLINK `keys`, at most 500 per command."""
    return [Step(cli_argv(t, "UNLINK", *keys[i:i + _BATCH], db=db), f"delete {len(keys[i:i + _BATCH])} key(s)")
            for i in range(0, len(keys), _BATCH)]


def redis_keys_deleted(t: Target, *, key: str | None = None, pattern: str | None = None,
                       count: int = 500, db: int | None = None, allow_all: bool = False,
                       max_keys: int = 10_000) -> Result:
    """Leave no redis key named `key`, or none matching the glob `pattern` (walked with SCAN).

    Check mode lists the keys that would go (`data["keys"]`, `data["count"]`). More than
    `max_keys` matches is refused: nothing is deleted. Example:
    `redis_keys_deleted(t, pattern="laravel_cache:rate-limit:*", db=1)`.
    """
    if (key is None) == (pattern is None):
        raise InvalidInput("give exactly one of key= or pattern=")
    count = validate.count(count, "count", low=1, high=MAX_SCAN_COUNT)
    max_keys = validate.count(max_keys, "max_keys", low=1, high=MAX_KEYS)
    name = "redis_keys_deleted"
    number = redis_db(t, db)
    what = f"key {key!r}" if key is not None else f"keys matching {pattern!r}"
    data: dict[str, object] = {"db": number}
    if key is not None:
        key = redis_text(key, "key")
        data["key"] = key
        found = existing(t, [key], db=number)
        keys = [key] if found > 0 else []
        if found < 0:
            err = error_of(call(t, "EXISTS", key, db=number), t)
            return masked(t, t.result(name, Status.FAILED, f"could not ask redis: {err}",
                                      evidence=err, data=data))
    else:
        pattern = redis_pattern(pattern or "", allow_all=allow_all)
        data["pattern"] = pattern
        try:
            keys = scan(t, pattern, count=count, db=number)
        except RuntimeError as exc:
            return masked(t, t.result(name, Status.FAILED, f"could not SCAN redis: {exc}",
                                      evidence=str(exc), data=data))
        if len(keys) > max_keys:
            return masked(t, t.result(name, Status.FAILED,
                                      f"{len(keys)} keys match {pattern!r}, more than max_keys={max_keys}; nothing deleted",
                                      data={**data, "count": len(keys), "keys": keys[:_DATA_KEYS]}))
    data.update(count=len(keys), keys=keys[:_DATA_KEYS])

    def verify() -> Verification:
        left = existing(t, keys, db=number)
        if left != 0:
            why = "redis could not be asked" if left < 0 else f"{left} of them still exist"
            return Verification(False, why, data={"left": left})
        return Verification(True, "none of them exists any more", data={"left": 0})

    plural = "key" if len(keys) == 1 else "keys"
    steps = plan_keys_deleted(t, keys, db=number)
    return masked(t, apply(
        t, name, steps, verify=verify,
        ok_message=f"no {what} in db {number}", data=data,
        action=f"delete {len(keys)} {plural} ({what}) in db {number}",
        done=f"deleted {len(keys)} {plural} ({what}) in db {number}"), steps)
