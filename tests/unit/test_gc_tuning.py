"""Process-level memory management: the state freezer."""

import gc
import weakref

from signalfire.gc_tuning import StateFreezer


class Node:
    def __init__(self) -> None:
        self.me = self


def test_freezer_collects_then_freezes_survivors_only_when_due():
    gc.unfreeze()
    gc.disable()  # only the freezer collects here
    try:
        freezer = StateFreezer(5.0, now=100.0)
        state = [{"group": n} for n in range(1000)]
        node = Node()
        gone = weakref.ref(node)
        del node  # garbage in a cycle: collected before the freeze, never frozen
        assert gone() is not None
        assert not freezer.maybe_freeze(104.9) and gc.get_freeze_count() == 0
        assert freezer.maybe_freeze(105.0)
        frozen = gc.get_freeze_count()
        assert frozen >= len(state)
        assert gone() is None
        assert not freezer.maybe_freeze(109.0) and freezer.due == 110.0
        assert gc.get_freeze_count() == frozen
    finally:
        gc.enable()
        gc.unfreeze()


def test_frozen_objects_that_die_in_a_cycle_are_collected_at_the_full_interval():
    gc.unfreeze()
    gc.disable()
    try:
        freezer = StateFreezer(1.0, now=0.0, full_interval_s=10.0)
        node = Node()  # alive at the freeze: frozen with the state
        gone = weakref.ref(node)
        assert freezer.maybe_freeze(1.0)
        del node  # dies in a cycle while frozen
        assert freezer.maybe_freeze(2.0) and gone() is not None  # a quick freeze cannot see it
        assert freezer.maybe_freeze(10.0) and gone() is None  # the full one thaws and collects
        assert freezer.full_due == 20.0
    finally:
        gc.enable()
        gc.unfreeze()
