"""Shared fixtures: one database built from the real seeds, and Datasette over it."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import build_db  # noqa: E402


@pytest.fixture(scope="session")
def db_path(tmp_path_factory) -> Path:
    """imu.db built from seeds/ into a temporary folder, once per run."""
    out = tmp_path_factory.mktemp("build") / "imu.db"
    build_db.build(ROOT / "seeds", out)
    return out


@pytest.fixture(scope="session")
def metadata() -> dict:
    return yaml.safe_load((ROOT / "metadata.yml").read_text())


@pytest.fixture(scope="session")
def settings() -> dict:
    return json.loads((ROOT / "settings.json").read_text())


@pytest.fixture
def ds(db_path, metadata, settings):
    """Datasette serving the built database read-only, as `make serve` does."""
    from datasette.app import Datasette

    return Datasette(immutables=[str(db_path)], metadata=metadata, settings=settings)
