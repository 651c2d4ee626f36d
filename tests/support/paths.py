"""Where the repository and the shared corpora are.

The corpora live beside the repository (``../shared/corpora/<name>``), are read
in place and never copied in; a checkout without them (a clean CI clone) simply
has no such directory, and what needs them skips.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORPORA = REPO.parent / "shared" / "corpora"


def corpus(name: str) -> Path:
    """The directory of one shared corpus (it may not exist)."""
    return CORPORA / name
