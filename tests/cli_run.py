"""The ``moodscore`` command run in process, and the shape of its bad-input errors.

Shared by the bad-input tests (``test_cli_bad_input.py``, ``test_reliability.py``).
"""

from __future__ import annotations

import pytest

from core.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run ``moodscore argv --quiet`` in this process; return its exit status and stderr."""
    try:
        code = main([*argv, "--quiet"])
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code)
    return code, capsys.readouterr().err


def one_sentence_error(err: str, *words: str) -> str:
    """Assert ``err`` is one ``moodscore: error:`` line naming every one of ``words``.

    Returns
    -------
    That line (case as written), for further checks.
    """
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got: {err!r}"
    assert lines[0].startswith("moodscore: error: "), lines[0]
    for word in words:
        assert word.lower() in lines[0].lower(), (word, lines[0])
    return lines[0]
