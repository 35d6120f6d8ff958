"""The order handed to pytest-xdist puts each slow test at the head of a process's first block."""

from __future__ import annotations

from dataclasses import dataclass

from tests.scheduling import blocks, order


@dataclass(frozen=True)
class Item:
    name: str
    marker: str | None = None

    def get_closest_marker(self, name: str) -> object | None:
        return self if name == self.marker else None


def test_the_blocks_are_those_worksteal_sends():
    assert blocks(10, 4) == [2, 2, 3, 3]
    assert sum(blocks(1521, 4)) == 1521


def test_image_tests_lead_the_first_block_and_the_drills_lead_the_others():
    items = [Item(f"t{n}") for n in range(40)]
    items[5] = Item("image-a", "image")
    items[30] = Item("image-b", "image")
    items[10] = Item("drill-a", "drill")
    items[20] = Item("failover-a", "failover")
    items[35] = Item("wheel-a", "wheel")
    items[36] = Item("drill-b", "drill")
    items[2] = Item("browser-a", "browser")
    items[25] = Item("browser-b", "browser")
    ordered = order(items, 4)
    assert sorted(ordered, key=lambda i: i.name) == sorted(items, key=lambda i: i.name)
    starts, at = [], 0
    for size in blocks(len(items), 4):
        starts.append(ordered[at : at + size])
        at += size
    assert [i.name for i in starts[0][:2]] == ["image-a", "image-b"]
    assert [i.name for i in starts[1][:4]] == ["drill-a", "drill-b", "browser-a", "browser-b"]
    assert starts[2][0].name == "failover-a" and starts[3][0].name == "wheel-a"
    assert not any(i.marker for block in starts for i in block[4:])
