"""Signing secrets survive restarts and rotate without breaking old links."""

from __future__ import annotations

import multiprocessing
import random
import stat
import string
from pathlib import Path

import pytest
from itsdangerous.encoding import base64_encode

from calserver.config import Config, ConfigError
from calserver.signing import TokenSigner, load_secrets


def test_secret_is_created_once_in_the_data_dir(tmp_path: Path) -> None:
    config = Config({"data_dir": str(tmp_path)})
    first = load_secrets(config)
    assert (tmp_path / "secret").exists()
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o600
    assert load_secrets(config) == first  # a restart reads the same secret
    token = TokenSigner(first).sign("feed", {"s": 1})
    assert TokenSigner(load_secrets(config)).verify("feed", token) == {"s": 1}


def _race_for_the_secret(data_dir: str, barrier: object, answers: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    try:
        answers.put(load_secrets(Config({"data_dir": data_dir})))  # type: ignore[attr-defined]
    except ConfigError as error:
        answers.put(str(error))  # type: ignore[attr-defined]


def test_processes_starting_together_all_read_one_whole_secret(tmp_path: Path) -> None:
    """serve --workers N: children starting at once never see a half-written secret file."""
    context = multiprocessing.get_context("fork")
    racers = 6
    for attempt in range(15):
        data_dir = str(tmp_path / str(attempt))
        barrier, answers = context.Barrier(racers), context.Queue()
        processes = [
            context.Process(target=_race_for_the_secret, args=(data_dir, barrier, answers))
            for _ in range(racers)
        ]
        for process in processes:
            process.start()
        seen = [answers.get(timeout=30) for _ in processes]
        for process in processes:
            process.join(30)
        assert all(isinstance(answer, list) for answer in seen), seen
        assert len({tuple(answer) for answer in seen}) == 1, seen
        assert sorted(p.name for p in Path(data_dir).iterdir()) == ["secret"]


def test_rotation_first_signs_all_verify() -> None:
    old, new = "old-secret-0123456789", "new-secret-0123456789"
    old_token = TokenSigner([old]).sign("feed", 42)
    rotated = TokenSigner([new, old])
    assert rotated.verify("feed", old_token) == 42
    new_token = rotated.sign("feed", 42)
    assert TokenSigner([new]).verify("feed", new_token) == 42
    assert TokenSigner([old]).verify("feed", new_token) is None


def test_tampered_foreign_or_other_purpose_tokens_fail() -> None:
    signer = TokenSigner(["a-secret-0123456789abc"])
    token = signer.sign("feed", 7)
    assert (
        signer.verify("feed", token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]) is None
    )
    assert signer.verify("link", token) is None
    assert TokenSigner(["another-secret-012345678"]).verify("feed", token) is None
    assert signer.verify("feed", "garbage") is None
    assert signer.verify("feed", "") is None


def test_secret_file_and_short_secrets(tmp_path: Path) -> None:
    path = tmp_path / "secrets.txt"
    path.write_text("# newest first\nnew-secret-0123456789\nold-secret-0123456789\n")
    config = Config({"secret_file": str(path)})
    assert load_secrets(config) == ["new-secret-0123456789", "old-secret-0123456789"]
    with pytest.raises(ConfigError, match="does not exist"):
        load_secrets(Config({"secret_file": str(tmp_path / "missing")}))
    with pytest.raises(ConfigError, match="at least 16"):
        load_secrets(Config({"secrets": ["short"]}))


def test_the_quick_check_accepts_exactly_what_itsdangerous_accepts() -> None:
    """verify() checks tokens of the newest secret itself (a million subscribers miss the
    cache); every answer must equal itsdangerous's own, for good tokens and mutated ones."""
    old, new = "old-secret-0123456789", "new-secret-0123456789"
    signer, reference = TokenSigner([new, old]), TokenSigner([new, old])
    payloads: list[object] = [0, 7, 42, 10**12, -3, "text", {"s": 1, "t": "x"}, [1, 2], None]
    tokens = [signer.sign("feed", p) for p in payloads] + [TokenSigner([old]).sign("feed", 5)]
    tokens.append(signer.sign("feed", "x" * 400))  # long enough for itsdangerous to compress
    assert tokens[-1].startswith(".")
    # Correctly signed, but not what sign() makes: itsdangerous refuses or reads each its way.
    serializer = reference._serializer("feed")
    raw_signer = serializer.make_signer(serializer.salt)
    for raw in (b"007", b"12 ", b" 12", b"1e3", b"\xff", b"", b"[1,"):
        tokens.append(raw_signer.sign(base64_encode(raw)).decode())
    rng = random.Random(16)
    alphabet = string.ascii_letters + string.digits + "-_.=+/ é"
    mutated = []
    for token in tokens * 40:
        chars = list(token)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(chars) + 1)
            kind = rng.random()
            if kind < 0.4 and chars:
                chars[min(at, len(chars) - 1)] = rng.choice(alphabet)
            elif kind < 0.7:
                chars.insert(at, rng.choice(alphabet))
            elif chars:
                del chars[min(at, len(chars) - 1)]
        mutated.append("".join(chars))
    for token in tokens + mutated:
        try:
            expected = reference._serializer("feed").loads(token)
        except Exception:
            expected = None
        assert signer.verify("feed", token) == expected, token
    # The canonical tokens of the newest secret are decided without itsdangerous.
    assert signer._quick("feed", signer.sign("feed", 42)) == 42
    assert signer._quick("feed", signer.sign("feed", {"a": [1]})) == {"a": [1]}
