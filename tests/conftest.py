import pytest

from tinyseg.paths import get_paths


@pytest.fixture
def tmp_paths(tmp_path):
    """A Paths object whose every location lies in the test's temporary folder."""
    return get_paths(env={}, root=tmp_path)


@pytest.fixture(scope="session")
def lunar_stand_in(tmp_path_factory):
    """The smoke profile's generated stand-in, rendered once per test run by the real generator
    (``lunar_synth.generate``: ``moon.PAIRS['smoke']`` pairs of seed ``moon.STAND_IN_SEED``, the current
    generator version, full size), in the folder ``moon.stand_in_dir`` names it. Read-only: copy it
    before changing it. For the tests where the rendering itself matters; a test that only needs a
    folder in the MOON layout writes one in milliseconds with ``tinyseg.data.fixtures.write_moon_layout``."""
    from tinyseg.data import lunar_synth, moon

    paths = get_paths(env={}, root=tmp_path_factory.mktemp("stand_in"))
    root = moon.stand_in_dir(paths, moon.PAIRS["smoke"], moon.STAND_IN_SEED, lunar_synth.VERSION)
    return lunar_synth.generate(root, n=moon.PAIRS["smoke"], seed=moon.STAND_IN_SEED, version=lunar_synth.VERSION)
