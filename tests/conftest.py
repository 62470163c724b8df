import pytest

from tinyseg.paths import get_paths


@pytest.fixture
def tmp_paths(tmp_path):
    """A Paths object whose every location lies in the test's temporary folder."""
    return get_paths(env={}, root=tmp_path)
