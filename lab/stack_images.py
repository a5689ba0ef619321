"""Build the compose stack's images FROM the lab base image, cached by content hash.

Every image carries the label ``remediations.lab.hash``: a hash of the base image id, of
its whole build context and of its tag. An image whose label matches is never rebuilt; a
changed file (or a tag pointed elsewhere by hand, e.g. by a retag remediation) always is.
The tags themselves stay fixed (``remediations-lab/app:v1.2.3``) because the compose file
names them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ._run import LabError, Log, quiet, run, stream
from .build import APP_SOURCE, WEB_CONTEXT, build_base, image_id

LAB_DIR = Path(__file__).resolve().parent
IMAGES_DIR = LAB_DIR / "compose" / "images"
HASH_LABEL = "remediations.lab.hash"
LABEL = "remediations.lab=stack"
APP_RELEASES = ("v1.2.2", "v1.2.3", "v1.2.4")
_SKIP_NAMES = {"__pycache__", ".DS_Store"}
# The legacy builder honours --network host on Docker 20.10; BuildKit would need buildx.
_BUILD_ENV = {"DOCKER_BUILDKIT": "0"}


@dataclass(frozen=True)
class ImageSpec:
    """One image repository of the stack and where its build context comes from."""

    repo: str
    context: Path
    # (source directory or file, prefix or name inside the build context) copied next to
    # the Dockerfile.
    extra: tuple[tuple[Path, str], ...] = ()
    # Tags built with --build-arg APP_VERSION=<tag>; empty: one image tagged `latest`.
    releases: tuple[str, ...] = field(default=())

    @property
    def tags(self) -> tuple[str, ...]:
        return self.releases or ("latest",)

    def ref(self, tag: str) -> str:
        return f"{self.repo}:{tag}"


APP = ImageSpec(
    "remediations-lab/app",
    IMAGES_DIR / "app",
    # The Laravel app of the web lab, and its per-release files (v1.2.4 breaks /up).
    extra=((APP_SOURCE, "app/"), (WEB_CONTEXT / "releases", "releases/")),
    releases=APP_RELEASES,
)
REDIS = ImageSpec("remediations-lab/redis", IMAGES_DIR / "redis")
MARIADB = ImageSpec("remediations-lab/mariadb", IMAGES_DIR / "mariadb")
# nginx in front of the backend: the stack's published port (block-ip on a compose host).
PROXY = ImageSpec("remediations-lab/proxy", IMAGES_DIR / "proxy")
# Compose v2 is installed in the image as on the controller (lab/compose_v2.py).
DOCKERHOST = ImageSpec("remediations-lab/dockerhost", IMAGES_DIR / "dockerhost",
                       extra=((LAB_DIR / "compose_v2.py", "compose_v2.py"),))
SPECS = (APP, REDIS, MARIADB, PROXY, DOCKERHOST)


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_NAMES)
        for name in sorted(filenames):
            if name not in _SKIP_NAMES and not name.endswith(".pyc"):
                yield Path(dirpath) / name


def context_files(spec: ImageSpec) -> dict[str, Path]:
    """Map each path inside the build context to its source file."""
    files: dict[str, Path] = {}
    for src_root, prefix in ((spec.context, ""), *spec.extra):
        if src_root.is_file():
            files[prefix] = src_root
            continue
        for path in _walk(src_root):
            files[prefix + path.relative_to(src_root).as_posix()] = path
    if "Dockerfile" not in files:
        raise LabError(f"{spec.context}/Dockerfile is missing")
    return files


def content_hash(spec: ImageSpec, base_id: str, tag: str) -> str:
    digest = hashlib.sha256(f"{base_id}\0{tag}".encode())
    for rel, path in sorted(context_files(spec).items()):
        # Mode matters too: an executable bit changes the image.
        digest.update(f"\0{rel}\0{path.stat().st_mode & 0o111:o}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def image_hash(ref: str) -> str | None:
    """The content hash an existing image was built from, or None if missing/unlabelled."""
    proc = run(
        ["docker", "image", "inspect", "--format", f'{{{{index .Config.Labels "{HASH_LABEL}"}}}}',
         ref],
        check=False,
    )
    if proc.returncode != 0:
        return None
    value = proc.stdout.strip()
    return value if value and value != "<no value>" else None


def _keep_build_line(line: str) -> bool:
    return line.startswith(("Step ", "Successfully built"))


def _build(spec: ImageSpec, tag: str, digest: str, log: Log) -> None:
    ref = spec.ref(tag)
    log(f"building {ref}")
    with tempfile.TemporaryDirectory(prefix="lab-stack-ctx-") as tmp:
        for rel, src in context_files(spec).items():
            dest = Path(tmp) / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
        args = ["docker", "build", "--network", "host", "--label", LABEL,
                "--label", f"{HASH_LABEL}={digest}", "-t", ref]
        if spec.releases:
            args += ["--build-arg", f"APP_VERSION={tag}"]
        stream([*args, "."], lambda line: log(f"{ref}: {line}"), keep=_keep_build_line,
               env=_BUILD_ENV, cwd=Path(tmp))


@dataclass(frozen=True)
class Built:
    """An image (re)built by this run, and the id its tag pointed at before, if any."""

    ref: str
    previous: str | None


def ensure_spec(spec: ImageSpec, base_id: str, log: Log = quiet) -> list[Built]:
    """Build each tag of `spec` whose content hash changed; return what was built."""
    built: list[Built] = []
    # In order: the release tags share every layer but the last, so later ones are quick.
    for tag in spec.tags:
        digest = content_hash(spec, base_id, tag)
        if image_hash(spec.ref(tag)) == digest:
            continue
        previous = image_id(spec.ref(tag))
        _build(spec, tag, digest, log)
        built.append(Built(spec.ref(tag), previous))
    return built


def remove_outdated(built: list[Built], log: Log = quiet) -> None:
    """Remove the images rebuilds untagged, by id (never by filter: other people's images
    may carry our labels); one still used by a container stays."""
    for item in built:
        if item.previous is None or item.previous == image_id(item.ref):
            continue
        if run(["docker", "image", "rm", item.previous], check=False).returncode == 0:
            log(f"removed outdated image {item.previous[:19]} (was {item.ref})")


def build_stack_images(log: Log = quiet) -> list[Built]:
    """Ensure every stack image is current (base image first); return what was built.

    Repositories build in parallel (their apt downloads overlap); nothing is rebuilt when
    every label matches, which takes well under a second.
    """
    base_id = build_base(log)
    with ThreadPoolExecutor(max_workers=len(SPECS)) as pool:
        futures = [pool.submit(ensure_spec, spec, base_id, log) for spec in SPECS]
        return [item for future in futures for item in future.result(timeout=3600)]
