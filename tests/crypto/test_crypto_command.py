"""``pbft keys``: generate a cluster's key files and show them; bad input exits 2 cleanly."""

from __future__ import annotations

import argparse
import json
import stat
from pathlib import Path

import pytest

from crypto import cluster_keys, load_keyring, load_signing_key
from crypto.command import KEYRING_FILE, add_arguments, main, signing_key_file
from pbft.cli import main as pbft_main

PRINCIPALS = ["r0", "r1", "r2", "r3", "c0"]


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="pbft keys")
    add_arguments(parser)
    return main(parser.parse_args(argv))


def _generate(out: Path, *extra: str) -> int:
    return _run(
        "generate",
        "--seed",
        "00ff",
        "--principals",
        ",".join(PRINCIPALS),
        "--out",
        str(out),
        *extra,
    )


def test_generate_writes_private_keys_and_a_keyring(tmp_path: Path) -> None:
    out = tmp_path / "keys"
    assert _generate(out) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([signing_key_file(p) for p in PRINCIPALS] + [KEYRING_FILE])
    for principal in PRINCIPALS:
        path = out / signing_key_file(principal)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert load_signing_key(path).principal == principal
    assert load_keyring(out / KEYRING_FILE).principals() == tuple(sorted(PRINCIPALS))


def test_generated_keys_are_the_derived_cluster_keys(tmp_path: Path) -> None:
    assert _generate(tmp_path) == 0
    signers, keyring = cluster_keys("ed25519", bytes.fromhex("00ff"), PRINCIPALS)
    loaded_keyring = load_keyring(tmp_path / KEYRING_FILE)
    for principal in PRINCIPALS:
        loaded = load_signing_key(tmp_path / signing_key_file(principal))
        assert loaded.sign(b"m") == signers[principal].sign(b"m")
        assert keyring.verify(principal, b"m", loaded.sign(b"m"))
        assert loaded_keyring.verify(principal, b"m", signers[principal].sign(b"m"))


def test_random_generation_gives_fresh_keys(tmp_path: Path) -> None:
    assert _run("generate", "--random", "--principals", "r0", "--out", str(tmp_path / "a")) == 0
    assert _run("generate", "--random", "--principals", "r0", "--out", str(tmp_path / "b")) == 0
    a = load_signing_key(tmp_path / "a" / "r0.key.json")
    b = load_signing_key(tmp_path / "b" / "r0.key.json")
    assert a.public_key != b.public_key


def test_generate_refuses_to_overwrite_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / KEYRING_FILE).write_text("precious")
    assert _generate(tmp_path) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == [KEYRING_FILE]
    assert (tmp_path / KEYRING_FILE).read_text() == "precious"


def test_generate_with_force_overwrites(tmp_path: Path) -> None:
    assert _generate(tmp_path) == 0
    assert (
        _run("generate", "--seed", "01", "--principals", "r0", "--out", str(tmp_path), "--force")
        == 0
    )
    assert load_keyring(tmp_path / KEYRING_FILE).principals() == ("r0",)


def test_generate_into_a_file_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "file"
    target.write_text("")
    assert _run("generate", "--seed", "01", "--principals", "r0", "--out", str(target)) == 2
    assert "not a directory" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["generate", "--seed", "zz", "--principals", "r0", "--out", "x"], "not a hex string"),
        (["generate", "--seed", "", "--principals", "r0", "--out", "x"], "must not be empty"),
        (["generate", "--seed", "01", "--principals", "r0,,r1", "--out", "x"], "invalid principal"),
        (["generate", "--seed", "01", "--principals", "r0,r0", "--out", "x"], "listed twice: r0"),
        (
            ["generate", "--seed", "01", "--random", "--principals", "r0", "--out", "x"],
            "not allowed with",
        ),
        (["generate", "--principals", "r0", "--out", "x"], "one of the arguments"),
        (["generate", "--seed", "01", "--out", "x"], "required: --principals"),
        ([], "required: ACTION"),
        (["show"], "required: FILE"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        _run(*argv)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


def test_show_prints_a_signing_key_without_its_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _generate(tmp_path) == 0
    capsys.readouterr()
    path = tmp_path / signing_key_file("r2")
    assert _run("show", str(path)) == 0
    out = capsys.readouterr().out
    seed = json.loads(path.read_text())["seed"]
    assert "principal: r2" in out
    assert load_signing_key(path).public_key.hex() in out
    assert seed not in out


def test_show_prints_every_keyring_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _generate(tmp_path) == 0
    capsys.readouterr()
    assert _run("show", str(tmp_path / KEYRING_FILE)) == 0
    out = capsys.readouterr().out
    keyring = load_keyring(tmp_path / KEYRING_FILE)
    assert "keyring of 5 principals" in out
    for principal in PRINCIPALS:
        assert keyring.public_key(principal).hex() in out


@pytest.mark.parametrize("content", ["", "{}", '{"kind": "pbft-keyring"}', "\x00"])
def test_show_of_a_bad_file_exits_2_with_the_reason(
    tmp_path: Path, content: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert _run("show", str(path)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"pbft keys: error: {path}: ")
    assert "Traceback" not in err


def test_show_of_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("show", str(tmp_path / "absent.json")) == 2
    assert "no such key file" in capsys.readouterr().err


def test_pbft_cli_wires_the_keys_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["keys", "generate", "--seed", "00ff", "--principals", "r0,c0", "--out", str(tmp_path)]
    assert pbft_main(argv) == 0
    assert pbft_main(["keys", "show", str(tmp_path / KEYRING_FILE)]) == 0
    assert "keyring of 2 principals" in capsys.readouterr().out
    with pytest.raises(SystemExit) as caught:
        pbft_main(["keys", "generate", "--seed", "xyz"])
    assert caught.value.code == 2


def test_paths_that_look_like_rich_markup_are_printed_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "[/x]" / "[bold]keys"
    assert _run("generate", "--seed", "00ff", "--principals", "r0", "--out", str(out)) == 0
    assert f"wrote 1 signing key (mode 0600) and {KEYRING_FILE} to {out}" in (
        capsys.readouterr().out
    )
    for name in (signing_key_file("r0"), KEYRING_FILE):
        assert _run("show", str(out / name)) == 0
        assert capsys.readouterr().out.startswith(f"{out / name}: ")
