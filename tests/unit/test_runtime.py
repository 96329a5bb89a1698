"""Process-level memory management: the state freezer."""

import gc
import weakref

from signalfire.runtime import StateFreezer


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
