"""docs/embedding.md must work as written: its Python blocks run in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[3] / "docs" / "embedding.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_the_embedding_guide_has_examples() -> None:
    assert len(python_blocks(DOC.read_text())) >= 3


@pytest.mark.slow
def test_the_embedding_guide_examples_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "embedding_doc"}
    for index, block in enumerate(python_blocks(DOC.read_text())):
        exec(compile(block, f"{DOC.name}[python block {index}]", "exec"), namespace)
    out = capsys.readouterr().out
    assert "passed=True" in out
    assert "first stalled request: c0 #1" in out
    assert (tmp_path / "embedded.jsonl").exists()
