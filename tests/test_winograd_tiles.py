"""Winograd's overlapping tiles are a ``sliding_window_view`` of the input band, not raw
strides: the same windows, read-only, and never a read past the band's memory."""
from __future__ import annotations

import numpy as np
import pytest

from dualad.ops.winograd import _tile_rows


@pytest.mark.parametrize("shape, axis, m, alpha", [((14, 30), 0, 4, 6), ((3, 6, 22, 5), 2, 4, 6),
                                                    ((10, 7), 0, 2, 4), ((3, 6, 12, 5), 2, 2, 4)])
def test_tiles_are_the_windows_every_m(shape, axis, m, alpha):
    a = np.random.default_rng(0).standard_normal(shape)
    count = (shape[axis] - alpha) // m + 1
    v = _tile_rows(a, axis, m, alpha, count)
    assert v.shape == shape[:axis] + (count, alpha) + shape[axis + 1:]
    assert not v.flags.writeable and np.shares_memory(v, a)  # a view, no copy
    for t in range(count):
        np.testing.assert_array_equal(np.take(v, t, axis=axis),
                                      np.take(a, range(t * m, t * m + alpha), axis=axis))


def test_too_few_rows_for_the_tiles_raise():
    # as_strided would have read (count - 1) * m + alpha - 14 rows past the array's end
    with pytest.raises(ValueError, match="need 18 rows"):
        _tile_rows(np.ones((14, 3)), 0, 4, 6, 4)
