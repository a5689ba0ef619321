"""`Release`: a release tag validated once, where it enters."""

from __future__ import annotations

import copy
import json
import pickle

import pytest

import remediations
from remediations.core import validate
from remediations.core.errors import InvalidInput
from remediations.core.values import Release


@pytest.mark.parametrize("text", ["v1.2.2", "1.0", "release_2024-01+build", "a" * 128])
def test_a_valid_tag_is_a_release_equal_to_its_text(text: str) -> None:
    release = Release.parse(text)
    assert isinstance(release, Release) and isinstance(release, str)
    assert release == text and hash(release) == hash(text)
    assert f"{release}" == text and json.dumps([release]) == json.dumps([text])
    assert validate.release_tag(text) == release


@pytest.mark.parametrize("bad", ["", "../etc", "a..b", "v 1", "-v1", ".v1", "a" * 129, "v1\n",
                                 None, 1.2])
def test_what_release_tag_refuses_parse_refuses(bad: object) -> None:
    with pytest.raises(InvalidInput, match="not a valid release tag"):
        validate.release_tag(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="not a valid release tag"):
        Release.parse(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        Release(bad)  # type: ignore[arg-type]  # no way round the check


def test_parse_is_idempotent() -> None:
    release = Release.parse("v1.2.2")
    assert Release.parse(release) is release


def test_a_release_survives_copy_and_pickle() -> None:
    release = Release.parse("v1.2.2")
    for other in (copy.copy(release), copy.deepcopy(release),
                  pickle.loads(pickle.dumps(release))):
        assert isinstance(other, Release) and other == release


def test_release_is_exported() -> None:
    assert remediations.Release is Release
    assert "Release" in remediations.__all__
