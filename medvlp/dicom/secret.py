"""The project's de-identification secret: pseudonyms and UID remaps are keyed by it.

Looked up in an environment variable first, then in a file; a missing file is created with a fresh random
secret (mode 600) and announced once, so a first ingest works out of the box and later ones stay consistent.
Losing the secret only means a re-ingest produces new pseudonyms; leaking it lets someone test guesses.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path


def resolve_secret(env: str, file: str) -> bytes:
    """Secret bytes from $env, else from `file` (created when absent)."""
    value = os.environ.get(env, "")
    if value:
        return value.encode()
    path = Path(file).expanduser()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        print(
            f"medvlp: created a de-identification secret in {path} (keep it private; set ${env} to override)",
            file=sys.stderr,
        )
    value = path.read_text().strip()
    if len(value) < 16:
        raise ValueError(f"{path}: the de-identification secret is shorter than 16 characters; write a longer one")
    return value.encode()
