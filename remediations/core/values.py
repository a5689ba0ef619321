"""Values validated once, where they enter, and taken as valid by every layer below.

    release = Release.parse("v1.2.2")   # InvalidInput for "../etc" or "v 1"
    release_current(t, release)         # a plain "v1.2.2" works too: parsed at the entry
"""

from __future__ import annotations

from remediations.core import validate


class Release(str):
    """A release tag such as v1.2.2 (`validate.release_tag`'s rules): a str known to be valid.

    Made by `Release.parse(text)`, which raises `InvalidInput` for anything else; a
    function that takes a `Release` does not check it again. It is the tag's text in
    every other way (equality, hashing, JSON, f-strings).
    """

    __slots__ = ()

    def __new__(cls, text: str) -> Release:
        # Every Release is valid, whichever way it was made (`parse`, copy, pickle).
        return super().__new__(cls, validate.release_tag(text))

    @classmethod
    def parse(cls, text: str) -> Release:
        """`text` as a Release; raises `InvalidInput` unless it is a release tag.

        A Release is returned as it is: public functions parse what they are given, and
        one calling another passes the Release on without checking it twice.
        """
        return text if isinstance(text, Release) else cls(text)
