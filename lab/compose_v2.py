"""Compose v2 beside Debian's docker-compose 1.29: the CLI plugin out of trixie's package.

Bookworm ships docker-compose 1.29 (Python); Debian's next release, trixie, ships
docker-compose 2.26, one static binary installed as the Docker CLI plugin
``/usr/libexec/docker/cli-plugins/docker-compose`` (it needs only libc6 >= 2.34; bookworm
has 2.36). Both packages are called docker-compose, so the trixie one is never ``apt
install``ed (it would replace v1): apt fetches the .deb with private settings and only the
plugin file is copied out of it.

- The sources: this machine's own (``/etc/apt/sources.list``, ``sources.list.d/*.list``
  and ``*.sources``), the entries of its release's main suite (bookworm, not -updates or
  -security) with the suite replaced by ``trixie`` and the components by ``main``, so the
  mirror it already uses serves the package. Nothing names a host here.
- A private folder for the sources, the package lists and apt's cache, so the system's own
  lists and caches are untouched and no other package can change.
- ``apt-get download docker-compose/trixie``, ``dpkg-deb -x``, the plugin installed by a
  rename (a reader never sees half a file), ``docker compose version`` checked.

Stdlib only: lab/engine.py imports it on the controller, and the ssh Docker host's image
runs it as a script (``python3 compose_v2.py``) in its build.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

PLUGIN = Path("/usr/libexec/docker/cli-plugins/docker-compose")
SUITE = "trixie"
PACKAGE = "docker-compose"
_MEMBER = "usr/libexec/docker/cli-plugins/docker-compose"
_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


class InstallError(RuntimeError):
    """Compose v2 could not be installed; the message says which step failed and why."""


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def plugin_version(plugin: Path = PLUGIN) -> str | None:
    """The version the installed plugin reports when it is Compose v2 (`2.26.1`), else None."""
    try:
        proc = subprocess.run([str(plugin), "version", "--short"], capture_output=True,
                              text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = _VERSION.search(proc.stdout) if proc.returncode == 0 else None
    if found is None or int(found.group(1)) < 2:
        return None
    return ".".join(g for g in found.groups() if g is not None)


def codename(os_release: Path = Path("/etc/os-release")) -> str:
    """This machine's release codename (`bookworm`)."""
    try:
        text = os_release.read_text()
    except OSError as exc:
        raise InstallError(f"cannot read {os_release}: {exc}") from exc
    found = re.search(r"^VERSION_CODENAME=\"?([a-z]+)\"?$", text, re.M)
    if not found:
        raise InstallError(f"{os_release} names no VERSION_CODENAME")
    return found.group(1)


def _one_line_entries(text: str) -> Iterable[dict[str, list[str]]]:
    """`deb [opt=v ...] URI SUITE COMPONENT...` lines as deb822 fields."""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        options: dict[str, str] = {}
        if match := re.match(r"^(deb|deb-src)\s+\[([^\]]*)\]\s+(.*)$", line):
            kind, opts, rest = match.groups()
            options = dict(o.split("=", 1) for o in opts.split() if "=" in o)
        elif match := re.match(r"^(deb|deb-src)\s+(.*)$", line):
            kind, rest = match.groups()
        else:
            continue
        words = rest.split()
        if len(words) < 2:
            continue
        entry = {"Types": [kind], "URIs": [words[0]], "Suites": [words[1]]}
        if "signed-by" in options:
            entry["Signed-By"] = options["signed-by"].split(",")
        if "arch" in options:
            entry["Architectures"] = options["arch"].split(",")
        yield entry


def _deb822_entries(text: str) -> Iterable[dict[str, list[str]]]:
    """The paragraphs of a `.sources` file (an inline key in Signed-By is dropped)."""
    for paragraph in re.split(r"\n\s*\n", text):
        fields: dict[str, list[str]] = {}
        key = ""
        for line in paragraph.splitlines():
            if line.startswith("#"):
                continue
            if line[:1].isspace():  # a continuation line (an inline key block)
                if key == "Signed-By":
                    fields.pop(key, None)
                continue
            if ":" in line:
                key, value = (part.strip() for part in line.split(":", 1))
                fields[key] = value.split()
        if fields.get("Enabled", ["yes"])[0].lower() != "no" and fields.get("URIs"):
            yield fields


def derived_sources(apt_dir: Path, release: str, suite: str = SUITE) -> str:
    """A deb822 `.sources` text: this machine's `release` entries moved to `suite`, `main`."""
    texts: list[tuple[Path, str]] = []
    for path in [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*"))]:
        if path.suffix in (".list", ".sources") and path.is_file():
            texts.append((path, path.read_text(errors="replace")))
    paragraphs: list[str] = []
    for path, text in texts:
        entries = _deb822_entries(text) if path.suffix == ".sources" else _one_line_entries(text)
        for entry in entries:
            if "deb" not in entry.get("Types", []) or release not in entry.get("Suites", []):
                continue
            fields = [("Types", "deb"), ("URIs", " ".join(entry["URIs"])), ("Suites", suite),
                      ("Components", "main")]
            fields += [(k, " ".join(entry[k])) for k in ("Architectures", "Signed-By")
                       if entry.get(k)]
            paragraph = "\n".join(f"{k}: {v}" for k, v in fields)
            if paragraph not in paragraphs:
                paragraphs.append(paragraph)
    if not paragraphs:
        raise InstallError(f"no `deb ... {release}` entry in {apt_dir}/sources.list(.d) "
                           f"to derive the {suite} one from")
    return "\n\n".join(paragraphs) + "\n"


def _apt(args: list[str], *, cwd: Path | None = None, timeout: float = 900) -> None:
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                              check=False,
                              env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InstallError(f"{' '.join(args)}: {exc}") from exc
    if proc.returncode != 0:
        raise InstallError(f"{' '.join(args)} exited {proc.returncode}:\n"
                           f"{_tail(proc.stderr or proc.stdout)}")


def _fetch_deb(work: Path, sources: str) -> Path:
    """`apt-get download docker-compose/trixie` with private sources, lists and cache."""
    parts, lists = work / "sources.list.d", work / "lists"
    for folder in (parts, lists / "partial", work / "cache" / "archives" / "partial",
                   work / "debs"):
        folder.mkdir(parents=True, exist_ok=True)
    (parts / f"{SUITE}.sources").write_text(sources)
    private = ["-o", "Dir::Etc::SourceList=/dev/null", "-o", f"Dir::Etc::SourceParts={parts}",
               "-o", f"Dir::State::Lists={lists}", "-o", f"Dir::Cache={work / 'cache'}",
               # The private folders belong to root; apt's _apt user need not read them.
               "-o", "APT::Sandbox::User=root"]
    _apt(["apt-get", *private, "update"])
    _apt(["apt-get", *private, "download", f"{PACKAGE}/{SUITE}"], cwd=work / "debs")
    debs = sorted((work / "debs").glob(f"{PACKAGE}_*.deb"))
    if not debs:
        raise InstallError(f"apt-get download {PACKAGE}/{SUITE} left no .deb in {work / 'debs'}")
    return debs[-1]


def install(work: Path | None = None, log: Callable[[str], None] = print,
            *, apt_dir: Path = Path("/etc/apt"), plugin: Path = PLUGIN) -> str:
    """Leave Compose v2 installed as the CLI plugin; return its version. Idempotent.

    `work` is the scratch folder (removed afterwards; a temporary one by default).
    """
    if (version := plugin_version(plugin)) is not None:
        return version
    sources = derived_sources(apt_dir, codename())
    with tempfile.TemporaryDirectory(prefix="compose-v2-", dir=work) as tmp:
        deb = _fetch_deb(Path(tmp), sources)
        log(f"extracting {_MEMBER} from {deb.name}")
        root = Path(tmp) / "root"
        _apt(["dpkg-deb", "-x", str(deb), str(root)])
        plugin.parent.mkdir(parents=True, exist_ok=True)
        staged = plugin.with_name(f".{plugin.name}.new")
        shutil.copyfile(root / _MEMBER, staged)
        staged.chmod(0o755)
        os.replace(staged, plugin)
    version = plugin_version(plugin)
    if version is None:
        raise InstallError(f"{plugin} was installed from {deb.name} but `{plugin} version` "
                           "does not answer with a 2.x version")
    _check_docker_finds_it(version)
    return version


def _check_docker_finds_it(version: str) -> None:
    """`docker compose version` answers with the plugin (when a docker CLI is installed)."""
    if shutil.which("docker") is None:
        return
    proc = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True,
                          text=True, timeout=30, check=False)
    if proc.returncode != 0 or version not in proc.stdout:
        raise InstallError(f"{PLUGIN} is Compose {version}, but `docker compose version` "
                           f"says: {_tail(proc.stderr or proc.stdout)}")


def main(argv: list[str]) -> int:
    """`python3 compose_v2.py [WORKDIR]`: install it (the ssh Docker host's image build)."""
    try:
        version = install(Path(argv[0]) if argv else None,
                          lambda line: print(line, file=sys.stderr))
    except InstallError as exc:
        print(f"compose_v2: {exc}", file=sys.stderr)
        return 1
    print(f"docker compose {version} at {PLUGIN}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
