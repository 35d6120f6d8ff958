"""A started process freezes its start-up heap: full garbage collections then skip the
modules, classes and settings it loaded, which took ~45 ms a collection in the API under load
(the p99) and ~5 % of its CPU. And it collects the youngest generation less often."""

from __future__ import annotations

import gc

import pytest

from signup_core import heap


@pytest.fixture
def unfrozen():
    threshold = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()  # the test process goes on collecting what it made
    gc.set_threshold(*threshold)


class Kept:
    pass


def test_settling_leaves_what_exists_out_of_every_collection(unfrozen):
    before = Kept()
    assert any(o is before for o in gc.get_objects())
    assert heap.settle() > 0
    after = Kept()
    tracked = gc.get_objects()
    assert not any(o is before for o in tracked)
    assert any(o is after for o in tracked)
    assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD


async def test_the_api_settles_once_started(unfrozen, settings, db):
    from signup_api.app import create_app

    app = create_app(settings)
    assert gc.get_freeze_count() == 0
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 0
