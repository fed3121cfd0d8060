"""The de-identification secret: environment first, else a private file created once."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from medvlp.dicom.secret import resolve_secret


def test_env_wins(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("X_SECRET", "from-the-environment-123")
    assert resolve_secret("X_SECRET", str(tmp_path / "f")) == b"from-the-environment-123"
    assert not (tmp_path / "f").exists()


def test_file_created_private_and_stable(monkeypatch, tmp_path: Path, capsys):
    monkeypatch.delenv("X_SECRET", raising=False)
    path = tmp_path / "cfg/deid.secret"
    first = resolve_secret("X_SECRET", str(path))
    assert "created a de-identification secret" in capsys.readouterr().err
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(first) >= 32
    assert resolve_secret("X_SECRET", str(path)) == first


def test_short_secret_refused(monkeypatch, tmp_path: Path):
    monkeypatch.delenv("X_SECRET", raising=False)
    (tmp_path / "s").write_text("short")
    with pytest.raises(ValueError, match="shorter than 16"):
        resolve_secret("X_SECRET", str(tmp_path / "s"))
