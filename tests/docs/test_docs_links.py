"""Every link, file path and code name written in docs/ points at something that exists.

Docs rot silently: a renamed module or scenario leaves a dead reference that no reader
reports until someone follows it. Each Markdown file under docs/ is parsed with markdown-it
(already installed with rich) and checked:

1. every relative link exists, and a ``#fragment`` into a Markdown file names one of its
   headings (GitHub's anchor rules);
2. every repository path written anywhere in the text, code blocks included
   (``scenarios/....toml``, ``pbft/....py``, ``crypto/``, ``adversary/``, ``tests/``,
   ``docs/....md``), exists; only fenced ``text`` blocks (sample output, which may name an
   illustrative file) are skipped;
3. in the failure-models guide and the glossary, which tell the reader where the code for each
   idea lives, every dotted name such as ``pbft.timeouts.LatencyEstimator`` imports;
4. the trace-reading command of the fencing-tokens page runs and prints what the page says,
   and the runs the pages walk through show what the pages say they show.

Each checker is also run on a small synthetic document that must fail it, so the test can
fail when the docs are wrong.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from pbft.scenario.loader import load_scenario
from pbft.scenario.run import run_scenario
from pbft.trace import records as tr

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

# Docs whose dotted code names must import: the ones that send the reader to the code.
CODE_NAME_DOCS = ("failure-models/", "glossary.md")

_PATH = re.compile(
    r"(?<![\w./-])"  # not the tail of a longer path or of a URL
    r"((?:scenarios|pbft|crypto|adversary|tests)/(?:[\w-]+/)*[\w-]+\.(?:toml|py)"
    r"|docs/(?:[\w-]+/)*[\w-]+\.md)"
    r"(?![\w/-])"
)
_CODE_NAME = re.compile(r"(?:pbft|crypto|adversary)(?:\.[A-Za-z_]\w*)+")
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto: ...

_markdown = MarkdownIt("commonmark")


def doc_files() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def _walk(tokens: list[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        if token.children:
            yield from _walk(token.children)


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lowercase, punctuation dropped, spaces to hyphens."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def heading_anchors(text: str) -> set[str]:
    """Every anchor a Markdown document defines, with GitHub's -1, -2 suffixes for repeats."""
    tokens = _markdown.parse(text)
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for index, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        inline = tokens[index + 1]
        words = "".join(
            child.content
            for child in _walk(inline.children or [])
            if child.type in ("text", "code_inline")
        )
        slug = github_slug(words)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def relative_links(text: str) -> list[str]:
    """Targets of links and images that point inside the repository."""
    targets = []
    for token in _walk(_markdown.parse(text)):
        if token.type == "link_open":
            target = str(token.attrs.get("href", ""))
        elif token.type == "image":
            target = str(token.attrs.get("src", ""))
        else:
            continue
        if target and not _EXTERNAL.match(target):
            targets.append(target)
    return targets


def broken_links(doc: Path, text: str) -> list[str]:
    """Each relative link of ``doc`` whose file or heading does not exist, with the reason."""
    problems = []
    for target in relative_links(text):
        path_part, _, fragment = target.partition("#")
        path = (doc.parent / path_part).resolve() if path_part else doc
        if not path.exists():
            problems.append(f"{target}: no such file {path}")
            continue
        if fragment and path.suffix == ".md":
            anchors = heading_anchors(path.read_text(encoding="utf-8"))
            if fragment not in anchors:
                problems.append(f"{target}: {path.name} has no heading #{fragment}")
    return problems


def _without_sample_output(text: str) -> str:
    """``text`` minus fenced ``text`` blocks: sample output may name an illustrative file."""
    lines = text.splitlines()
    for token in _markdown.parse(text):
        if token.type == "fence" and token.info.strip() == "text" and token.map is not None:
            start, end = token.map
            lines[start:end] = [""] * (end - start)
    return "\n".join(lines)


def missing_paths(text: str) -> list[str]:
    """Repository paths named in ``text`` (outside sample output) that do not exist."""
    named = sorted(set(_PATH.findall(_without_sample_output(text))))
    return [path for path in named if not (ROOT / path).exists()]


def _resolves(name: str) -> bool:
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False


def unresolved_code_names(text: str) -> list[str]:
    """Dotted names in inline code that do not import as a module or module attribute."""
    names: set[str] = set()
    for token in _walk(_markdown.parse(text)):
        if token.type == "code_inline":
            names.update(match.group(0) for match in _CODE_NAME.finditer(token.content))
    return [name for name in sorted(names) if not _resolves(name)]


def _relative(doc: Path) -> str:
    return doc.relative_to(DOCS).as_posix()


@pytest.mark.parametrize("doc", doc_files(), ids=_relative)
def test_relative_links_in_docs_reach_existing_files_and_headings(doc: Path) -> None:
    assert broken_links(doc, doc.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("doc", doc_files(), ids=_relative)
def test_paths_named_in_docs_exist(doc: Path) -> None:
    assert missing_paths(doc.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "doc",
    [doc for doc in doc_files() if _relative(doc).startswith(CODE_NAME_DOCS)],
    ids=_relative,
)
def test_code_names_in_failure_models_guide_and_glossary_import(doc: Path) -> None:
    assert unresolved_code_names(doc.read_text(encoding="utf-8")) == []


def test_docs_index_lists_every_docs_file() -> None:
    index = DOCS / "README.md"
    listed = {
        (index.parent / target.partition("#")[0]).resolve()
        for target in relative_links(index.read_text(encoding="utf-8"))
    }
    top_level = [doc for doc in doc_files() if doc.parent == DOCS and doc != index]
    guide_index = DOCS / "failure-models" / "README.md"
    unlisted = [_relative(doc) for doc in [*top_level, guide_index] if doc not in listed]
    assert unlisted == []


def test_link_checker_reports_a_missing_file_and_a_missing_heading(tmp_path: Path) -> None:
    other = tmp_path / "other.md"
    other.write_text("# Real heading\n\n## Real heading\n", encoding="utf-8")
    doc = tmp_path / "doc.md"
    text = (
        "[ok](other.md#real-heading) [repeat](other.md#real-heading-1) [web](https://x.org/y)\n"
        "[gone](missing.md) [bad anchor](other.md#imagined) `[in code](nowhere.md)`\n"
    )
    problems = broken_links(doc, text)
    assert len(problems) == 2
    assert problems[0].startswith("missing.md: no such file")
    assert problems[1] == "other.md#imagined: other.md has no heading #imagined"


def test_path_checker_reports_only_paths_that_do_not_exist() -> None:
    text = (
        "Run `pbft run scenarios/no-such-scenario.toml`; see pbft/config.py and\n"
        "```sh\ncat pbft/imagined/module.py\n```\n"
        "Globs (scenarios/*.toml) and URLs (https://example.org/pbft/x.py) are not paths.\n"
        "```text\ninvalid scenario scenarios/example.toml: sample output\n```\n"
    )
    assert missing_paths(text) == ["pbft/imagined/module.py", "scenarios/no-such-scenario.toml"]


def test_code_name_checker_reports_names_that_do_not_import() -> None:
    text = "`pbft.config.Config.quorum`, `pbft.config.quorum_size` and `pbft.config.no_such_name`"
    assert unresolved_code_names(text) == ["pbft.config.no_such_name"]


def test_github_slug_drops_punctuation_and_keeps_hyphens() -> None:
    assert github_slug("Safety vs. liveness: `is_prepared`") == "safety-vs-liveness-is_prepared"
    assert github_slug("Crash-stop, crash-recovery") == "crash-stop-crash-recovery"


def _fenced_after(text: str, marker: str, info: str) -> str:
    """The content of the first fenced ``info`` block after the line containing ``marker``."""
    after = text[text.index(marker) :]
    for token in _markdown.parse(after):
        if token.type == "fence" and token.info.strip() == info:
            return token.content
    raise AssertionError(f"no {info} block after {marker!r}")


def test_fencing_tokens_page_commands_print_the_output_the_page_shows(tmp_path: Path) -> None:
    """Run the page's two commands as a reader would and compare with the page's output."""
    page = (DOCS / "failure-models" / "fencing-tokens.md").read_text(encoding="utf-8")
    heredoc = re.search(r"<<'EOF'\n(.*?)\nEOF\n", page, re.DOTALL)
    assert heredoc is not None
    shown = _fenced_after(page, "With the file's seed it prints", "text")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    scenario = ROOT / "scenarios" / "fencing-tokens.toml"
    run = subprocess.run(
        [sys.executable, "-m", "pbft.cli", "run", str(scenario), "--trace", "fencing.jsonl"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    read = subprocess.run(
        [sys.executable, "-"],
        input=heredoc.group(1) + "\n",
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert read.returncode == 0, read.stderr
    assert read.stdout == shown
    assert "stale-token" in shown  # the page's point: overtaken tokens are refused


# The failure-models pages tell the reader what a run of each scenario shows. These tests run
# the scenarios and check those statements, so a change in the code that makes a page wrong
# fails here and the page gets updated with it.


def _records(name: str) -> tuple[tr.Record, ...]:
    result = run_scenario(load_scenario(ROOT / "scenarios" / f"{name}.toml"))
    assert result.passed
    return result.records


def _view_change_timers(records: tuple[tr.Record, ...]) -> list[tr.TimerFired]:
    return [r for r in records if isinstance(r, tr.TimerFired) and r.timer == "view-change"]


def test_split_brain_page_describes_the_run() -> None:
    records = _records("split-brain")
    (partition,), (heal,) = _network_times(records, "partition"), _network_times(records, "heal")
    executed = [r for r in records if isinstance(r, tr.Executed)]
    cut_off = [r for r in executed if partition < r.t < heal]
    # Step 1 and 2: r0 executes nothing while cut off; the quorum side does, in view 1.
    assert cut_off
    assert all(r.replica != 0 and r.view == 1 for r in cut_off)
    assert any(
        isinstance(r, tr.Dropped) and r.src == "r0" and r.kind == "PrePrepare" for r in records
    )
    entered = [(r.replica, r.view, r.t) for r in records if isinstance(r, tr.ViewEntered)]
    assert {(replica, view) for replica, view, t in entered if t < heal} >= {(1, 1), (2, 1), (3, 1)}
    assert all(view <= 1 for _, view, _ in entered)
    # Step 3: after the heal r0 enters view 1 and catches up by state transfer.
    assert any(replica == 0 and view == 1 and t >= heal for replica, view, t in entered)
    after = [r for r in records if r.t >= heal]
    assert any(
        isinstance(r, tr.Delivered) and r.dst == "r0" and r.kind == "StateSnapshot" for r in after
    )
    assert any(isinstance(r, tr.CheckpointStabilized) and r.replica == 0 for r in after)
    last = {r.replica: r.seq for r in executed}
    assert len(set(last.values())) == 1


def test_knowledge_page_describes_the_lone_view_change() -> None:
    records = _records("lessons/asymmetric-partition-backup")
    assert any(isinstance(r, tr.Sent) and r.src == "r3" and r.kind == "ViewChange" for r in records)
    assert {r.view for r in records if isinstance(r, tr.ViewEntered)} == {0}
    (heal,) = _network_times(records, "heal")
    after = [r for r in records if r.t > heal]
    assert any(
        isinstance(r, tr.Rejected) and r.node == "r3" and r.reason == "wrong-view" for r in after
    )
    assert any(isinstance(r, tr.Executed) and r.replica == 3 and r.view == 1 for r in after)
    assert any(
        isinstance(r, tr.Delivered) and r.dst == "r3" and r.kind == "StateSnapshot" for r in after
    )


def test_clock_pages_describe_which_timers_fire_first() -> None:
    records = _records("clock-skew-drift")
    fired = [r.node for r in _view_change_timers(records)]
    assert fired[:2] == ["r1", "r3"]  # fast clock first, true clock next
    assert "r2" not in fired  # the slow clock joins on f + 1 view changes instead
    assert any(isinstance(r, tr.Sent) and r.src == "r2" and r.kind == "ViewChange" for r in records)


def test_pause_page_describes_wrong_view_rejections_on_both_sides() -> None:
    records = _records("primary-gc-pause")
    resumed = next(r.t for r in records if isinstance(r, tr.Resumed))
    rejected = [r for r in records if isinstance(r, tr.Rejected) and r.reason == "wrong-view"]
    assert any(r.node == "r0" and r.t == resumed for r in rejected)
    assert {r.node for r in rejected if r.sender == "r0"} == {"r1", "r2", "r3"}
    assert {r.node for r in _view_change_timers(records)} == {"r1", "r2", "r3"}


def test_timeouts_page_describes_the_gap_after_a_primary_crash() -> None:
    records = _records("primary-crash")
    crashed = next(r.t for r in records if isinstance(r, tr.Crashed))
    timers = _view_change_timers(records)
    assert {r.node for r in timers} == {"r1", "r2", "r3"}
    assert all(1.0 < r.t - crashed < 1.5 for r in timers)  # "a little over a second"
    first_view_1 = min(r.t for r in records if isinstance(r, tr.ViewEntered) and r.view == 1)
    executed = [r.t for r in records if isinstance(r, tr.Executed)]
    assert not [t for t in executed if crashed + 0.1 < t < first_view_1]


def _network_times(records: tuple[tr.Record, ...], action: str) -> list[float]:
    return [r.t for r in records if isinstance(r, tr.NetworkChanged) and r.action == action]


def test_partition_pages_describe_who_executes_while_cut_off() -> None:
    minority = _records("minority-partition")
    (start,), (heal,) = _network_times(minority, "partition"), _network_times(minority, "heal")
    during = {r.replica for r in minority if isinstance(r, tr.Executed) and start < r.t < heal}
    assert during == {0, 1, 2}
    # After the heal r3 catches up by state transfer to the others' last sequence number.
    after = [r for r in minority if r.t > heal]
    assert any(
        isinstance(r, tr.Delivered) and r.dst == "r3" and r.kind == "StateSnapshot" for r in after
    )
    assert any(isinstance(r, tr.CheckpointStabilized) and r.replica == 3 for r in after)
    last = {r.replica: r.seq for r in minority if isinstance(r, tr.Executed)}
    assert last[3] == max(last.values())

    no_quorum = _records("no-quorum-partition")
    (start,), (heal,) = _network_times(no_quorum, "partition"), _network_times(no_quorum, "heal")
    executed = [r.t for r in no_quorum if isinstance(r, tr.Executed)]
    assert not [t for t in executed if start < t < heal]
    assert [t for t in executed if t > heal]


def test_system_models_page_describes_the_crash_runs() -> None:
    cascading = _records("cascading-primary-failures")
    entered = {(r.replica, r.view) for r in cascading if isinstance(r, tr.ViewEntered)}
    assert {view for _, view in entered} == {0, 2}
    assert {replica for replica, view in entered if view == 2} == {2, 3, 4, 5, 6}
    assert len(_view_change_timers(cascading)) == 10  # twice on each of r2..r6

    recovery = _records("backup-crash-recovery")
    restarted = next(r.t for r in recovery if isinstance(r, tr.Restarted))
    after = [r for r in recovery if r.t >= restarted]
    assert any(isinstance(r, tr.Sent) and r.src == "r2" and r.kind == "FetchState" for r in after)
    assert any(
        isinstance(r, tr.Delivered) and r.dst == "r2" and r.kind == "StateSnapshot" for r in after
    )
    assert any(isinstance(r, tr.CheckpointStabilized) and r.replica == 2 for r in after)
    last = {r.replica: r.seq for r in recovery if isinstance(r, tr.Executed)}
    assert last[2] == max(last.values())


def test_byzantine_pages_describe_what_the_correct_nodes_reject() -> None:
    lying = _records("lying-replicas-f1")
    wrong = [r for r in lying if isinstance(r, tr.Rejected) and r.reason == "wrong-result"]
    assert wrong
    assert {r.sender for r in wrong} == {"r2"}
    assert {r.node for r in wrong} == {"c0", "c1"}

    mutating = _records("mutating-replica-f1")
    correct_replicas = ("r0", "r1", "r2")
    reasons = {
        r.reason for r in mutating if isinstance(r, tr.Rejected) and r.node in correct_replicas
    }
    assert {"wrong-sender", "bad-signature", "outside-window", "wrong-view"} <= reasons

    equivocation = _records("equivocation-f1")
    correct = [r for r in equivocation if isinstance(r, tr.Executed) and r.replica != 0]
    assert correct
    assert all(r.view == 1 for r in correct)


def test_timing_pages_describe_the_slow_primary_and_the_cascade() -> None:
    slow = _records("lessons/slow-primary")
    assert {r.view for r in slow if isinstance(r, tr.ViewEntered)} == {0}
    completed = [r.t for r in slow if isinstance(r, tr.Completed)]
    assert (sum(t < 0.5 for t in completed), sum(0.5 <= t < 2.5 for t in completed)) == (74, 20)

    cascade = _records("lessons/cascading-view-changes")
    assert max(r.view for r in cascade if isinstance(r, tr.ViewEntered)) == 3
    assert max(r.t for r in cascade if isinstance(r, tr.Completed)) < 60.0  # before GST
    entered = {r.view: r.t for r in cascade if isinstance(r, tr.ViewEntered) and r.replica == 3}
    fired = [r.t for r in _view_change_timers(cascade) if r.node == "r3"]
    waits = [min(t for t in fired if t > entered[view]) - entered[view] for view in (1, 2)]
    assert [round(wait, 3) for wait in waits] == [1.0, 2.0]  # doubled: no progress in view 1
