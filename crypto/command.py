"""``pbft keys``: generate Ed25519 key files for a cluster and inspect them.

    pbft keys generate (--seed HEX | --random) --principals r0,r1,r2,r3,c0 --out DIR [--force]
    pbft keys show FILE

``generate`` writes ``DIR/<principal>.key.json`` (mode 0600) per principal and
``DIR/keyring.json`` with every public key. With ``--seed`` the keys are the ones
:func:`crypto.cluster_keys` derives for that seed, so a simulated cluster and a real one can
share keys; ``--random`` draws a fresh 32-byte cluster seed and forgets it. ``show`` prints
what a key file holds, never a secret. Exit codes: 0 done, 2 bad arguments or a key-file
problem, each with a one-line message.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from crypto.derive import derive_seed
from crypto.ed25519 import Ed25519Keyring, Ed25519Signer
from crypto.interface import CryptoError, check_principal
from crypto.keyfile import load_key_file, save_keyring, save_signing_key

KEYRING_FILE = "keyring.json"
RANDOM_SEED_SIZE = 32


def signing_key_file(principal: str) -> str:
    """The file name ``pbft keys generate`` gives ``principal``'s signing key."""
    return f"{principal}.key.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(
        dest="keys_action", metavar="ACTION", required=True, parser_class=type(parser)
    )
    generate = actions.add_parser(
        "generate",
        help="write one signing-key file per principal and a keyring",
        description="Write DIR/<principal>.key.json (mode 0600) for each principal and "
        "DIR/keyring.json with all their public keys.",
    )
    source = generate.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--seed",
        metavar="HEX",
        type=_cluster_seed,
        help="cluster seed in hex: the same seed always gives the same keys",
    )
    source.add_argument(
        "--random", action="store_true", help="draw a fresh random cluster seed (not shown)"
    )
    generate.add_argument(
        "--principals",
        metavar="LIST",
        required=True,
        type=_principal_list,
        help="comma-separated principal names, e.g. r0,r1,r2,r3,c0",
    )
    generate.add_argument("--out", metavar="DIR", required=True, type=Path, help="directory")
    generate.add_argument("--force", action="store_true", help="overwrite existing key files")
    show = actions.add_parser(
        "show", help="print what a key file holds (never the secret)", description=None
    )
    show.add_argument("file", metavar="FILE", type=Path, help="a signing-key or keyring file")


def main(args: argparse.Namespace) -> int:
    try:
        if args.keys_action == "generate":
            _generate(args)
        else:
            _show(args.file)
    except CryptoError as error:
        print(f"pbft keys: error: {error}", file=sys.stderr)
        return 2
    return 0


def _cluster_seed(text: str) -> bytes:
    try:
        seed = bytes.fromhex(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a hex string: {text!r}") from None
    if not seed:
        raise argparse.ArgumentTypeError("the seed must not be empty")
    return seed


def _principal_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    try:
        for name in names:
            check_principal(name)
    except CryptoError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise argparse.ArgumentTypeError(f"principal listed twice: {', '.join(repeated)}")
    return names


def _generate(args: argparse.Namespace) -> None:
    out: Path = args.out
    names: list[str] = args.principals
    cluster_seed: bytes = secrets.token_bytes(RANDOM_SEED_SIZE) if args.random else args.seed
    targets = [out / signing_key_file(name) for name in names] + [out / KEYRING_FILE]
    if out.exists() and not out.is_dir():
        raise CryptoError(f"{out}: not a directory")
    if not args.force:
        # Check all before writing any, so a refusal leaves no half-written cluster behind.
        for target in targets:
            if target.exists():
                raise CryptoError(f"{target}: already exists; pass --force to overwrite")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CryptoError(f"{out}: cannot create directory: {error.strerror}") from None
    signers = [
        Ed25519Signer(principal=name, seed=derive_seed("ed25519", cluster_seed, name))
        for name in names
    ]
    keyring = Ed25519Keyring.of(signers)
    for signer in signers:
        save_signing_key(out / signing_key_file(signer.principal), signer, overwrite=args.force)
    save_keyring(out / KEYRING_FILE, keyring, overwrite=args.force)
    console = Console(highlight=False, soft_wrap=True)
    keys = "signing key" if len(names) == 1 else "signing keys"
    # markup=False: a directory named like "[/x]" is a path, not a rich closing tag.
    console.print(
        f"wrote {len(names)} {keys} (mode 0600) and {KEYRING_FILE} to {out}", markup=False
    )
    _print_keyring(console, keyring)


def _show(path: Path) -> None:
    key = load_key_file(path)
    console = Console(highlight=False, soft_wrap=True)
    if isinstance(key, Ed25519Signer):
        console.print(f"{path}: signing key (secret not shown)", markup=False)
        console.print(f"scheme: {key.scheme}")
        console.print(f"principal: {key.principal}")
        console.print(f"public key: {key.public_key.hex()}")
        return
    console.print(f"{path}: keyring of {len(key.principals())} principals", markup=False)
    console.print(f"scheme: {key.scheme}")
    _print_keyring(console, key)


def _print_keyring(console: Console, keyring: Ed25519Keyring) -> None:
    table = Table("principal", "public key")
    for principal in keyring.principals():
        table.add_row(principal, keyring.public_key(principal).hex())
    console.print(table)
