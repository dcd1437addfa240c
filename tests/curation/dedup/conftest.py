import pytest

from curation.lake import Lake


@pytest.fixture
def lake(tmp_path) -> Lake:
    return Lake(tmp_path / "home")
