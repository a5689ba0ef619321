"""The loader of remediations/scripts/: the header is stripped, the rest is sent as it stands."""

from __future__ import annotations

import pytest

from remediations.core.scripts import ScriptMissing, comment_prefix, script, split_header


def test_the_header_and_one_empty_line_are_stripped_and_the_final_newline() -> None:
    head, body = split_header("x.sh", "# does x\n# Exit: 0\n\necho a\n\necho b\n")
    assert (head, body) == ("# does x\n# Exit: 0", "echo a\n\necho b")


def test_lua_headers_use_lua_comments() -> None:
    assert comment_prefix("q.lua") == "--" and comment_prefix("m.pl") == "#"
    assert split_header("q.lua", "-- counts\n\nreturn 1\n") == ("-- counts", "return 1")


@pytest.mark.parametrize("text", ["echo a\n", "# no empty line\necho a\n", "# head\n\n",
                                  "# head\n\necho a", "\n\necho a\n"])
def test_a_file_without_a_header_or_a_script_is_refused(text: str) -> None:
    with pytest.raises(ScriptMissing):
        split_header("x.sh", text)


def test_scripts_are_read_once() -> None:
    assert script("lock-peek.sh") is script("lock-peek.sh")
    assert script("lock-peek.sh").startswith("if [ -d %s ]")


def test_a_missing_script_is_a_clear_error() -> None:
    with pytest.raises(ScriptMissing, match=r"no-such\.sh"):
        script("no-such.sh")
