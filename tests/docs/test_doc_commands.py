"""Every ``pbft run`` and ``pbft keys`` command shown in the docs runs and exits as documented.

A reader copies commands out of README.md and docs/ before reading anything else, so a
command that fails, or exits otherwise than the docs say, is the first thing they meet. This
test takes each fenced ``sh`` block of README.md, docs/*.md and docs/failure-models/*.md,
keeps the lines (or ``&&`` steps) that run ``pbft run`` or ``pbft keys`` (with or without
``.venv/bin/``), and runs them through :func:`pbft.cli.main` in-process, a block at a time
in one scratch directory, so that a block's ``--trace`` file is there for its ``--judge``.

Rules, so that the test reads the docs as a reader would and stays fast:

- Repository paths (``scenarios/...``, globs included) resolve against the repository root;
  any other path (trace files, key directories) is relative to the scratch directory.
- The expected exit status is 0, the documented "every expectation met"; a line whose
  comment says ``exits N`` expects N instead.
- ``--repeat K`` runs with ``--repeat 1``: the line is still parsed as written and each file
  still runs on its own seed, while twenty seeds of every scenario would take half a minute
  of the suite (tests/pbft/scenario/test_command.py checks the seeds ``--repeat`` picks, and
  tests/test_scenarios.py runs the scenario files).
- ``pbft bench`` is never run: benchmarks print figures and are never part of the tests.

The Python examples of the pages listed in ``SNIPPET_DOCS`` run too, each page's blocks in
order in one namespace, in a scratch directory where ``scenarios/`` is the repository's.
(docs/embedding.md has its own test; the remaining python blocks, in docs/crypto.md and
docs/architecture.md, are signature listings, not programs.)
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import attrs
import pytest
from markdown_it import MarkdownIt

from pbft.cli import main

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
REPEAT_LIMIT = 1
SNIPPET_DOCS = ("README.md", "docs/services.md", "docs/trace-format.md", "docs/wire-format.md")

_markdown = MarkdownIt("commonmark")
_PREFIX = re.compile(r"^(?:\.venv/bin/)?pbft\s+(run|keys)\b")
_EXITS = re.compile(r"\bexits (\d+)\b")
_REPO_PATH = re.compile(r"^(?:scenarios|pbft|crypto|adversary|docs|tests)/")


@attrs.frozen
class DocCommand:
    """One documented command: where it is, its arguments and the exit status it promises."""

    doc: str  # path relative to the repository root
    line: int  # 1-based line of the command in the doc
    text: str  # the command as written, without its comment
    expected_exit: int


def commands_in(text: str, doc: str) -> list[list[DocCommand]]:
    """The ``pbft run``/``pbft keys`` commands of each fenced ``sh`` block of ``text``."""
    blocks = []
    for token in _markdown.parse(text):
        if token.type != "fence" or token.info.strip() not in ("sh", "bash", "console"):
            continue
        assert token.map is not None
        found = []
        for offset, raw in enumerate(token.content.splitlines()):
            code, _, comment = raw.partition(" #")
            exits = _EXITS.search(comment)
            for step in code.split("&&"):
                step = step.strip()
                if _PREFIX.match(step):
                    found.append(
                        DocCommand(
                            doc=doc,
                            line=token.map[0] + 2 + offset,
                            text=step,
                            expected_exit=int(exits.group(1)) if exits else 0,
                        )
                    )
        if found:
            blocks.append(found)
    return blocks


def doc_blocks() -> list[list[DocCommand]]:
    docs = [ROOT / "README.md", *sorted(DOCS.glob("*.md")), *sorted(DOCS.glob("*/*.md"))]
    blocks = []
    for path in docs:
        doc = path.relative_to(ROOT).as_posix()
        blocks += commands_in(path.read_text(encoding="utf-8"), doc)
    return blocks


def argv_for(command: DocCommand) -> list[str]:
    """The command's arguments after ``pbft``, with the rules of the module docstring."""
    words = shlex.split(command.text)[1:]
    argv: list[str] = []
    for word in words:
        if _REPO_PATH.match(word):
            matches = sorted(ROOT.glob(word)) if "*" in word else [ROOT / word]
            assert matches, f"{command.doc}:{command.line}: {word} matches no file"
            argv += [str(path) for path in matches]
        else:
            argv.append(word)
    if "--repeat" in argv:
        at = argv.index("--repeat") + 1
        if at < len(argv) and argv[at].isdigit() and int(argv[at]) > REPEAT_LIMIT:
            argv[at] = str(REPEAT_LIMIT)
    return argv


def _block_id(block: list[DocCommand]) -> str:
    return f"{block[0].doc}:{block[0].line}"


@pytest.mark.slow
@pytest.mark.parametrize("block", doc_blocks(), ids=_block_id)
def test_documented_commands_exit_as_the_docs_say(
    block: list[DocCommand],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    for command in block:
        try:
            code = main(argv_for(command))
        except SystemExit as error:  # argparse rejected the arguments
            code = error.code if isinstance(error.code, int) else 2
        captured = capsys.readouterr()
        assert code == command.expected_exit, (
            f"{command.doc}:{command.line}: `{command.text}` exited {code}, "
            f"the docs promise {command.expected_exit}\n{captured.out[-2000:]}{captured.err}"
        )
        assert "Traceback" not in captured.err


def python_blocks(text: str) -> list[str]:
    return [
        token.content
        for token in _markdown.parse(text)
        if token.type == "fence" and token.info.strip() == "python"
    ]


@pytest.mark.parametrize("doc", SNIPPET_DOCS)
def test_python_examples_run(
    doc: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = python_blocks((ROOT / doc).read_text(encoding="utf-8"))
    assert blocks, f"{doc} has no python example any more: update SNIPPET_DOCS"
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__doc_example__"}
    for number, block in enumerate(blocks, start=1):
        exec(compile(block, f"{doc} python block {number}", "exec"), namespace)
    capsys.readouterr()


def test_readme_and_scenario_reference_commands_are_all_found() -> None:
    """The extraction itself: losing commands would make the test above pass vacuously."""
    found = {(c.doc, c.text) for block in doc_blocks() for c in block}
    assert ("README.md", ".venv/bin/pbft run") in found  # the main command's last step
    assert ("README.md", ".venv/bin/pbft run --judge lossy.jsonl") in found
    assert ("docs/scenarios.md", "pbft run scenarios/primary-crash.toml") in found
    assert ("docs/crypto.md", "pbft keys show keys/keyring.json") in found
    assert not [text for _, text in found if "bench" in text]


def test_extraction_keeps_pbft_steps_comments_and_line_numbers() -> None:
    text = (
        "Intro.\n"
        "\n"
        "```sh\n"
        "python3 -m venv .venv && .venv/bin/pbft run   # the quickstart\n"
        "pbft run scenarios/x.toml --repeat 20   # exits 1 when a seed fails\n"
        "pbft bench crypto\n"
        "```\n"
        "```text\n"
        "pbft run not-a-command.toml\n"
        "```\n"
    )
    (block,) = commands_in(text, "doc.md")
    assert block == [
        DocCommand(doc="doc.md", line=4, text=".venv/bin/pbft run", expected_exit=0),
        DocCommand(
            doc="doc.md", line=5, text="pbft run scenarios/x.toml --repeat 20", expected_exit=1
        ),
    ]


def test_repository_paths_resolve_globs_and_repeat_is_capped() -> None:
    command = DocCommand(
        doc="d.md",
        line=1,
        text="pbft run scenarios/violations/*.toml --repeat 20 --trace out.jsonl",
        expected_exit=0,
    )
    argv = argv_for(command)
    violations = sorted((ROOT / "scenarios" / "violations").glob("*.toml"))
    assert len(violations) >= 2
    assert argv == ["run", *map(str, violations), "--repeat", "1", "--trace", "out.jsonl"]


def test_a_path_that_matches_nothing_is_reported_with_its_doc_line() -> None:
    command = DocCommand(doc="d.md", line=7, text="pbft run scenarios/gone-*.toml", expected_exit=0)
    with pytest.raises(AssertionError, match=r"d\.md:7: scenarios/gone-\*\.toml matches no file"):
        argv_for(command)
