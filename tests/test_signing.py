"""Signing secrets survive restarts and rotate without breaking old links."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

import pytest

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
