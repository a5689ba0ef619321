import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.kubeapi.fixture"]


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Each test's controller state (run records, hosts left unknown, the audit log) is its own.

    A test that reuses a run id, or leaves a host `unknown`, must not change what the
    next test's run finds; a test that names its own directory still sets it itself.
    """
    state = tmp_path_factory.mktemp("state")
    saved = os.environ.get("REMEDIATIONS_STATE_DIR")
    os.environ["REMEDIATIONS_STATE_DIR"] = str(state)  # the audit log's default is in it
    yield state
    if saved is None:
        os.environ.pop("REMEDIATIONS_STATE_DIR", None)
    else:
        os.environ["REMEDIATIONS_STATE_DIR"] = saved
