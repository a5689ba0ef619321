"""Where a lab slot's compose stack lives: names, ports, its project folder, its inventories.

Slot 0 is the compose project `remlab` in lab/compose, the backend behind its nginx proxy on
127.0.0.1:8091, `rem-dockerhost` on ssh port 2290, described by inventories/lab-docker.yml.
``REMEDIATIONS_LAB_SLOT=k`` (as for the web hosts, lab/manage.py) gives an independent copy:
project ``remlab<k>``, backend on 127.0.0.1:8091+10k, ``rem<k>-dockerhost`` on ssh port
2290+10k, the project folder .lab/stack-slot<k> and the inventory .lab/lab-docker-slot<k>.yml.

Both compose CLIs are installed (lab/engine.py). The slot's inventory names no compose
version, so the library picks v2 (``docker compose``), as it does wherever both exist; the
v1 inventory beside it (.lab/lab-docker[-slot<k>]-compose-v1.yml) says
``compose_version: v1``.
"""

from __future__ import annotations

from pathlib import Path

from ._run import REPO_ROOT, STATE_DIR, LabError
from .manage import SLOT, ssh_key_path

SOURCE_DIR = REPO_ROOT / "lab" / "compose"
LAB_DOCKER_YML = REPO_ROOT / "inventories" / "lab-docker.yml"
# The compose file publishes the proxy in front of the backend on ${REMLAB_BACKEND_PORT:-8091}.
# A slot's project folder links the compose file and app.env and sets the port in its .env, which compose
# reads from the project folder: every compose command, the lab's or a remediation's, run
# here or on the ssh host, then publishes the slot's port without being told.
PORT_VARIABLE = "REMLAB_BACKEND_PORT"
PROJECT = "remlab" if SLOT == 0 else f"remlab{SLOT}"
PROJECT_DIR = SOURCE_DIR if SLOT == 0 else STATE_DIR / f"stack-slot{SLOT}"
COMPOSE_FILE = PROJECT_DIR / "docker-compose.yml"
INVENTORY = LAB_DOCKER_YML if SLOT == 0 else STATE_DIR / f"lab-docker-slot{SLOT}.yml"
BACKEND_PORT = 8091 + 10 * SLOT
BACKEND_URL = f"http://127.0.0.1:{BACKEND_PORT}/up"
DOCKERHOST_CONTAINER = "rem-dockerhost" if SLOT == 0 else f"rem{SLOT}-dockerhost"
DOCKERHOST_SSH_PORT = 2290 + 10 * SLOT

# The compose CLIs the lab proves the library on, and how each is typed.
COMPOSE_VERSIONS = ("v1", "v2")
COMPOSE_COMMANDS = {"v1": ("docker-compose",), "v2": ("docker", "compose")}
# What `invoke stack.up` creates the project with: what the inventory's library picks.
DEFAULT_COMPOSE = "v2"
_V1_INVENTORY = STATE_DIR / ("lab-docker-compose-v1.yml" if SLOT == 0
                             else f"lab-docker-slot{SLOT}-compose-v1.yml")


def checked_version(value: str) -> str:
    """`v1` or `v2`, else LabError."""
    if value not in COMPOSE_VERSIONS:
        raise LabError(f"unknown compose version {value!r}; "
                       f"the lab has {', '.join(COMPOSE_VERSIONS)}")
    return value


def compose_command(version: str = DEFAULT_COMPOSE) -> list[str]:
    """`["docker-compose"]` (v1, Debian's 1.29) or `["docker", "compose"]` (the v2 plugin)."""
    return list(COMPOSE_COMMANDS[checked_version(version)])


def inventory_for(version: str) -> Path:
    """The inventory whose Docker hosts run compose `version` (written by `write_inventories`)."""
    return INVENTORY if checked_version(version) == "v2" else _V1_INVENTORY


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def write_slot_project() -> None:
    """The slot's project folder: compose file and app.env linked, the backend port in .env."""
    PROJECT_DIR.mkdir(parents=True, exist_ok=True)
    for name in ("docker-compose.yml", "app.env"):
        link, target = PROJECT_DIR / name, SOURCE_DIR / name
        if not (link.is_symlink() and link.readlink() == target):
            link.unlink(missing_ok=True)
            link.symlink_to(target)
    _write_if_changed(PROJECT_DIR / ".env", f"# lab slot {SLOT} (lab/stack.py)\n"
                                            f"{PORT_VARIABLE}={BACKEND_PORT}\n")


def _swapped(text: str, swaps: tuple[tuple[str, str], ...], *, required: bool = True) -> str:
    for old, new in swaps:
        if old not in text:
            if not required:
                continue
            raise LabError(f"{LAB_DOCKER_YML} no longer says {old!r}; "
                           "update lab/stack_layout.py")
        text = text.replace(old, new)
    return text


def _slot_inventory_text() -> str:
    """inventories/lab-docker.yml with this slot's project, ports, container and key path."""
    text = LAB_DOCKER_YML.read_text()
    if SLOT == 0:
        return text
    return _swapped(text, (
        ("compose_project_dir: ../lab/compose", f"compose_project_dir: {PROJECT_DIR}"),
        ("compose_project: remlab", f"compose_project: {PROJECT}"),
        ("127.0.0.1:8091/", f"127.0.0.1:{BACKEND_PORT}/"),
        ("ansible_port: 2290", f"ansible_port: {DOCKERHOST_SSH_PORT}"),
        ("127.0.0.1:2290", f"127.0.0.1:{DOCKERHOST_SSH_PORT}"),
        ("rem-dockerhost", DOCKERHOST_CONTAINER),
        ("`remlab`", f"`{PROJECT}`"),
        ("../.lab/ssh/", f"{ssh_key_path().parent}/"),
    ))


def write_inventories() -> None:
    """The slot's inventory (slot 0: the checked-in one) and its compose v1 twin."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    text = _slot_inventory_text()
    if SLOT:
        _write_if_changed(INVENTORY, f"# Generated by lab/stack.py for lab slot {SLOT} from "
                                     f"{LAB_DOCKER_YML}.\n" + text)
    # Absolute paths: the file does not sit where the relative ones were written for.
    v1 = _swapped(text, (("compose_project_dir: ../lab/compose",
                          f"compose_project_dir: {PROJECT_DIR}"),
                         ("../.lab/ssh/", f"{ssh_key_path().parent}/")), required=False)
    v1 = _swapped(v1, (("        compose_file: docker-compose.yml\n",
                        "        compose_file: docker-compose.yml\n"
                        "        compose_version: v1   # docker-compose 1.29 (lab/stack.py)\n"),))
    _write_if_changed(_V1_INVENTORY, f"# Generated by lab/stack.py from {INVENTORY}: the same "
                                     "Docker hosts, compose v1.\n" + v1)
