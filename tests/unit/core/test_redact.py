from __future__ import annotations

from remediations.core.redact import MASK, Redactor
from remediations.core.result import Diff, Result, Status


def test_known_secrets_and_inline_pairs_are_masked_everywhere() -> None:
    r = Redactor(["hunter2-secret", "ab"])  # too-short values are not masked (would hit words)
    result = Result("web1", "x", Status.FAILED, "auth hunter2-secret failed",
                    commands=("redis-cli -a hunter2-secret ping", "mysql --password=topsecret"),
                    evidence="DB_PASSWORD=xyzzy\nfine line", diff=Diff("token: abcd", "b"),
                    data={"nested": ["hunter2-secret"]})
    red = r.result(result)
    text = repr(red.to_dict())
    assert "hunter2-secret" not in text and "topsecret" not in text and "xyzzy" not in text
    assert "abcd" not in text
    assert MASK in red.message and "fine line" in red.evidence
