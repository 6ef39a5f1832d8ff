import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def data_dir():
    d = os.environ.get("SOZAI_DATA_DIR")
    if not d or not pathlib.Path(d).is_dir():
        pytest.skip("SOZAI_DATA_DIR not set to the shared data folder")
    return pathlib.Path(d)


@pytest.fixture(scope="session")
def sozai_cli():
    build = pathlib.Path(os.environ.get("SOZAI_BUILD_DIR", ROOT / "build"))
    exe = build / "bin" / "sozai"
    if not exe.exists():
        pytest.skip(f"CLI not built at {exe}")
    return exe


@pytest.fixture(scope="session")
def fixtures():
    return ROOT / "tests" / "fixtures"
