"""The one box type and the one block/tile iterator of mintpy_dlae.

A :class:`Box` is a ``NamedTuple(y0, y1, x0, x1)`` (numpy slicing order, end excluded), so it can be
passed wherever the engine takes ``box=(y0, y1, x0, x1)`` (:func:`mintpy_dlae.inference.denoise`).
MintPy's readers and its Dask cluster use ``(x0, y0, x1, y1)``: convert only at that boundary, with
:attr:`Box.mintpy` and :meth:`Box.from_mintpy`.

:func:`split` cuts a box into evened-out parts (row blocks of a file, tiles of an array) and pairs
each part with the box to read around it: the part grown by a halo and clipped to the frame.
"""
from typing import NamedTuple

import numpy as np


class Box(NamedTuple):
    """Rows y0:y1 and columns x0:x1 of a frame (end excluded)."""

    y0: int
    y1: int
    x0: int
    x1: int

    @classmethod
    def frame(cls, length, width):
        return cls(0, int(length), 0, int(width))

    @classmethod
    def from_mintpy(cls, box):
        """From MintPy's (x0, y0, x1, y1) (readfile, DaskCluster)."""
        x0, y0, x1, y1 = (int(v) for v in box)
        return cls(y0, y1, x0, x1)

    @property
    def mintpy(self):
        """(x0, y0, x1, y1) for mintpy.utils.readfile and mintpy.objects.cluster."""
        return (self.x0, self.y0, self.x1, self.y1)

    @property
    def shape(self):
        return (self.y1 - self.y0, self.x1 - self.x0)

    @property
    def slices(self):
        """(rows, cols) slices of this box in the frame's array."""
        return (slice(self.y0, self.y1), slice(self.x0, self.x1))

    def pad(self, halo, length, width):
        """This box grown by ``halo`` px on each side, clipped to a frame of ``length`` x ``width``."""
        return Box(max(self.y0 - halo, 0), min(self.y1 + halo, length),
                   max(self.x0 - halo, 0), min(self.x1 + halo, width))

    def within(self, outer):
        """This box in the coordinates of an array read with ``outer`` (what a halo read holds)."""
        return Box(self.y0 - outer.y0, self.y1 - outer.y0, self.x0 - outer.x0, self.x1 - outer.x0)

    def contains(self, y, x):
        return self.y0 <= y < self.y1 and self.x0 <= x < self.x1


def split(box, shape, rows=None, cols=None, halo=0):
    """Cut ``box`` into parts of at most ``rows`` x ``cols`` px (None: the whole extent), evened out
    (600 rows in parts of <= 512 give two of 300, not 512 + 88), in row-major order.

    Yields ``(core, read)`` Box pairs: ``read`` = ``core`` grown by ``halo`` and clipped to ``shape``
    (length, width) of the frame. The cores tile ``box`` exactly.
    """
    box = Box(*box)
    length, width = shape
    h, w = box.shape
    ny = max(1, -(-h // int(rows))) if rows else 1
    nx = max(1, -(-w // int(cols))) if cols else 1
    ys = np.linspace(box.y0, box.y1, ny + 1).round().astype(int)
    xs = np.linspace(box.x0, box.x1, nx + 1).round().astype(int)
    for y0, y1 in zip(ys[:-1], ys[1:]):
        for x0, x1 in zip(xs[:-1], xs[1:]):
            core = Box(int(y0), int(y1), int(x0), int(x1))
            yield core, core.pad(halo, length, width)
