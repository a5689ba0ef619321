"""Build the lab images without any registry: debootstrap -> docker import -> docker build.

base -> web -> db, and base -> apache: each built image is tagged with a hash of its whole build context and of
the image it is built FROM, so an unchanged lab never rebuilds and a changed file always
does (a changed web image rebuilds the db image too).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from ._run import LabError, Log, quiet, run, stream, tail
from .apt_sources import debootstrap_mirror, image_sources

LAB_DIR = Path(__file__).resolve().parent
WEB_CONTEXT = LAB_DIR / "images" / "web"
DB_CONTEXT = LAB_DIR / "images" / "db"
APACHE_CONTEXT = LAB_DIR / "images" / "apache"
APP_SOURCE = LAB_DIR / "app"

BASE_IMAGE = "remediations-lab/base:bookworm"
WEB_REPO = "remediations-lab/web"
DB_REPO = "remediations-lab/db"
APACHE_REPO = "remediations-lab/apache"
# (source folder, prefix inside the build context) of each image.
WEB_SOURCES = ((WEB_CONTEXT, ""), (APP_SOURCE, "app/"))
DB_SOURCES = ((DB_CONTEXT, ""),)
# The Apache host shares the app, the release overlays and the ssh/redis/sudo setup of the
# web image (a source may be a single file).
_WEB_ROOTFS = WEB_CONTEXT / "rootfs"
APACHE_SOURCES = (
    (APACHE_CONTEXT, ""),
    (APP_SOURCE, "app/"),
    (WEB_CONTEXT / "releases", "releases/"),
    *((_WEB_ROOTFS / rel, f"rootfs/{rel}") for rel in (
        "etc/ssh/sshd_config.d/lab.conf",
        "etc/sudoers.d/deploy",
        "etc/systemd/system/lab-ssh-hostkeys.service",
        "etc/systemd/system/redis-server.service.d/lab.conf",
    )),
)
_SKIP_NAMES = {"__pycache__", ".DS_Store"}
# The legacy builder honours --network host on Docker 20.10; BuildKit would need buildx.
_BUILD_ENV = {"DOCKER_BUILDKIT": "0"}


def image_id(ref: str) -> str | None:
    proc = run(["docker", "image", "inspect", "--format", "{{.Id}}", ref], check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def _first_of_each_phase() -> Callable[[str], bool]:
    """A line filter passing the first "I: <Verb>" line of each debootstrap phase."""
    seen: set[str] = set()

    def keep(line: str) -> bool:
        if not line.startswith("I: "):
            return False
        verb = line[3:].split(" ", 1)[0]
        if verb in seen and not line.startswith("I: Base system"):
            return False
        seen.add(verb)
        return True

    return keep


def build_base(log: Log = quiet) -> str:
    """Create the base image from debootstrap unless it exists; return its id."""
    existing = image_id(BASE_IMAGE)
    if existing:
        return existing
    # Derived before the long debootstrap, so missing apt sources fail at once.
    mirror, sources = debootstrap_mirror(), image_sources()
    log(f"building {BASE_IMAGE} with debootstrap from {mirror} (a few minutes)")
    with tempfile.TemporaryDirectory(prefix="lab-rootfs-", dir="/var/tmp") as tmp:
        root = Path(tmp) / "rootfs"
        stream(
            ["debootstrap", "--variant=minbase", "bookworm", str(root), mirror],
            log,
            keep=_first_of_each_phase(),
        )
        (root / "etc/apt/sources.list").write_text(sources)
        # Lists and .debs are re-fetched by every image build; keep the base small.
        shutil.rmtree(root / "var/lib/apt/lists", ignore_errors=True)
        (root / "var/lib/apt/lists/partial").mkdir(parents=True)
        for deb in (root / "var/cache/apt/archives").glob("*.deb"):
            deb.unlink()
        log(f"importing rootfs as {BASE_IMAGE}")
        _import_rootfs(root)
    new_id = image_id(BASE_IMAGE)
    if not new_id:
        raise LabError(f"docker import finished but {BASE_IMAGE} is missing")
    return new_id


def _import_rootfs(root: Path) -> None:
    with subprocess.Popen(
        ["tar", "--numeric-owner", "-C", str(root), "-c", "."], stdout=subprocess.PIPE
    ) as tar:
        imp = subprocess.run(
            [
                "docker",
                "import",
                "--change",
                'CMD ["/bin/bash"]',
                "--change",
                "LABEL remediations.lab=1",
                "-",
                BASE_IMAGE,
            ],
            stdin=tar.stdout,
            capture_output=True,
            text=True,
            check=False,
        )
        if tar.stdout is not None:
            tar.stdout.close()
        tar_code = tar.wait()
    if tar_code != 0 or imp.returncode != 0:
        raise LabError(f"importing the rootfs failed (tar exit {tar_code}):\n{tail(imp.stderr)}")


Sources = tuple[tuple[Path, str], ...]


def _context_files(sources: Sources) -> dict[str, Path]:
    """Map each path inside the build context to its source file (image files + extras)."""
    files: dict[str, Path] = {}
    for src_root, prefix in sources:
        if src_root.is_file():
            files[prefix] = src_root
            continue
        for dirpath, dirnames, filenames in os.walk(src_root):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_NAMES)
            for name in filenames:
                if name in _SKIP_NAMES or name.endswith(".pyc"):
                    continue
                path = Path(dirpath) / name
                files[prefix + path.relative_to(src_root).as_posix()] = path
    if "Dockerfile" not in files:
        raise LabError(f"{sources[0][0]}/Dockerfile is missing")
    return files


def context_hash(parent: str, sources: Sources = WEB_SOURCES) -> str:
    """A hash of the parent image (id or content-hashed tag) and of every context file."""
    digest = hashlib.sha256(parent.encode())
    for rel, path in sorted(_context_files(sources).items()):
        # Mode matters too: an executable bit changes the image.
        digest.update(f"\0{rel}\0{path.stat().st_mode & 0o111:o}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _build_step(line: str) -> bool:
    return line.startswith(("Step ", "Successfully"))


def _build(repo: str, parent: str, sources: Sources, log: Log, build_args: list[str]) -> str:
    """Build `repo` unless an image with the same content hash exists; return its tag."""
    tag = f"{repo}:{context_hash(parent, sources)}"
    if image_id(tag) is None:
        log(f"building {tag}")
        with tempfile.TemporaryDirectory(prefix="lab-ctx-") as tmp:
            for rel, src in _context_files(sources).items():
                dest = Path(tmp) / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest)
            stream(
                ["docker", "build", "--network", "host", "--label", "remediations.lab=1",
                 *build_args, "-t", tag, "-t", f"{repo}:latest", "."],
                log,
                keep=_build_step,
                env=_BUILD_ENV,
                cwd=Path(tmp),
            )
    else:
        log(f"{tag} is up to date")
    run(["docker", "tag", tag, f"{repo}:latest"])
    return tag


def build_web(base_id: str, log: Log = quiet) -> str:
    """Build the web-host image unless one with the same content hash exists; return its tag."""
    return _build(WEB_REPO, base_id, WEB_SOURCES, log, [])


def build_db(web_tag: str, log: Log = quiet) -> str:
    """Build the db-host image FROM `web_tag` (its hash covers the web image's); return its tag."""
    return _build(DB_REPO, web_tag, DB_SOURCES, log, ["--build-arg", f"WEB_IMAGE={web_tag}"])


def build_apache(base_id: str, log: Log = quiet) -> str:
    """Build the Apache-host image FROM the base unless it is up to date; return its tag."""
    return _build(APACHE_REPO, base_id, APACHE_SOURCES, log, [])


def prune_web_images(keep: str, log: Log = quiet, repo: str = WEB_REPO) -> None:
    """Remove `repo` images of older content hashes that no container uses any more."""
    listed = run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", repo])
    for ref in listed.stdout.split():
        if ref in (keep, f"{repo}:latest"):
            continue
        # Fails (and is left for a later up) while a container still runs from it.
        if run(["docker", "image", "rm", ref], check=False).returncode == 0:
            log(f"removed outdated image {ref}")


def build_images(log: Log = quiet) -> str:
    """Ensure the base and web images exist; return the web image tag to run."""
    return build_web(build_base(log), log)


def build_all(log: Log = quiet) -> tuple[str, str, str]:
    """Ensure the base, web, db and apache images exist; return the (web, db, apache) tags."""
    base = build_base(log)
    web = build_web(base, log)
    return web, build_db(web, log), build_apache(base, log)
