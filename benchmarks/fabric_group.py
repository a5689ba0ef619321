"""Raw Fabric, the practical floor: one shell command on every host at once, nothing else.

    python benchmarks/fabric_group.py [--show] HOSTS_FILE KEY COMMAND

HOSTS_FILE holds one `address:port` a line; every host is reached as root with KEY
(Fabric accepts any host key and reads no known_hosts by default). Exit 0 when the
command succeeded everywhere, else 1 with one line per failed host on stderr. With
--show, what each host printed, each line prefixed with `address:port: `.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fabric import ThreadingGroup


def main(argv: list[str]) -> int:
    show = argv[:1] == ["--show"]
    argv = argv[1:] if show else argv
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    hosts_file, key, command = argv
    hosts = Path(hosts_file).read_text().split()
    group = ThreadingGroup(*hosts, user="root", connect_kwargs={"key_filename": key})
    results = group.run(command, hide=True, warn=True)
    failed = 0
    for conn, result in results.items():
        if isinstance(result, Exception) or result.failed:
            failed += 1
            print(f"failed {conn.host}:{conn.port}: {result}", file=sys.stderr)
        elif show:
            print("".join(f"{conn.host}:{conn.port}: {line}\n"
                          for line in result.stdout.splitlines()), end="")
    group.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
