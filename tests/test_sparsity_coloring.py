"""Coloring: validity on random patterns, the vectorized greedy against a sequential reference
and networkx, DSATUR's counts on stencils, star colorings, lower bounds and bad input."""
import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, strategies as st

from dualad.sparsity import coloring as col


@st.composite
def patterns(draw, max_side=30):
    m = draw(st.integers(1, max_side))
    n = draw(st.integers(1, max_side))
    density = draw(st.floats(0.0, 0.5))
    seed = draw(st.integers(0, 2 ** 31 - 1))
    a = np.random.default_rng(seed).uniform(size=(m, n)) < density
    return sp.csr_array(a)


def valid_columns(p, colors):
    d = p.toarray()
    for r in d:
        cs = colors[np.flatnonzero(r)]
        if len(np.unique(cs)) != len(cs):
            return False
    return True


@given(patterns(), st.sampled_from(col.ORDERS))
def test_column_coloring_is_valid(p, order):
    c = col.column_coloring(p, order)
    assert valid_columns(p, c.colors)
    assert c.num_colors == (c.colors.max() + 1 if p.shape[1] else 0)
    assert c.lower_bound == max(int(p.sum(axis=1).max()), 1)
    assert c.num_colors >= c.lower_bound or p.nnz == 0


@given(patterns(), st.sampled_from(col.ORDERS))
def test_row_coloring_is_valid(p, order):
    c = col.row_coloring(p, order)
    assert valid_columns(sp.csr_array(p.T), c.colors)


def sequential_greedy(p, order):
    """The textbook loop: each vertex takes the smallest color no earlier neighbor has."""
    d = p.toarray().astype(int)
    adj = (d.T @ d) > 0
    colors = -np.ones(p.shape[1], dtype=int)
    for v in order:
        used = set(colors[np.flatnonzero(adj[v])]) - {-1}
        k = 0
        while k in used:
            k += 1
        colors[v] = k
    return colors


@given(patterns(), st.integers(0, 2 ** 31 - 1))
def test_wavefront_greedy_equals_the_sequential_loop(p, seed):
    order = np.random.default_rng(seed).permutation(p.shape[1])
    got = col.greedy(col.conflict_graph(p), order)
    np.testing.assert_array_equal(got, sequential_greedy(p, order))


def nx_graph(p):
    c = col.conflict_graph(sp.csr_array(p, dtype=bool)).tocoo()
    g = nx.Graph()
    g.add_nodes_from(range(p.shape[1]))
    g.add_edges_from((a, b) for a, b in zip(c.row.tolist(), c.col.tolist()) if a != b)
    return g


@given(patterns())
def test_largest_first_matches_networkx(p):
    ours = col.column_coloring(p, "largest_first").colors
    theirs = nx.greedy_color(nx_graph(p), strategy="largest_first")
    np.testing.assert_array_equal(ours, [theirs[v] for v in range(p.shape[1])])


def test_dsatur_and_smallest_last_counts_against_networkx():
    rng = np.random.default_rng(3)
    for _ in range(10):
        p = sp.random_array((60, 80), density=0.06, rng=rng, format="csr") != 0
        g = nx_graph(p)
        for ours, theirs in (("dsatur", "DSATUR"), ("smallest_last", "smallest_last")):
            mine = col.column_coloring(p, ours).num_colors
            ref = max(nx.greedy_color(g, strategy=theirs).values()) + 1
            assert mine <= ref + 1, (ours, mine, ref)


def five_point(n):
    lap1 = sp.diags_array([1.0, 1.0, 1.0], offsets=[-1, 0, 1], shape=(n, n))
    return sp.csr_array(sp.kron(lap1, sp.eye_array(n)) + sp.kron(sp.eye_array(n), lap1)) != 0


def test_dsatur_colors_a_5_point_stencil_with_5_colors():
    p = five_point(256)  # n = 65,536, the Bratu grid
    c = col.column_coloring(p, "dsatur")
    assert c.num_colors == 5 == c.lower_bound
    assert col.is_valid_column_coloring(p, c.colors)


def test_star_coloring_of_a_tridiagonal_hessian_takes_3_colors():
    n = 1000
    h = sp.csr_array(sp.diags_array([1.0, 1.0, 1.0], offsets=[-1, 0, 1], shape=(n, n))) != 0
    c = col.star_coloring(h)
    assert c.num_colors == 3
    # a star coloring: every path on four vertices uses at least three colors
    cc = c.colors
    assert all(len({cc[i], cc[i + 1], cc[i + 2], cc[i + 3]}) >= 3 for i in range(n - 3))


@given(patterns(max_side=20))
def test_star_coloring_is_a_distance_2_coloring(p):
    n = p.shape[1]
    h = sp.csr_array(p.T @ p) != 0
    c = col.star_coloring(h)
    hd = (h.toarray() | np.eye(n, dtype=bool))
    assert valid_columns(sp.csr_array(hd), c.colors)


def test_bad_input():
    with pytest.raises(ValueError, match="scipy.sparse"):
        col.column_coloring(np.ones((3, 3), dtype=bool))
    with pytest.raises(ValueError, match="order"):
        col.column_coloring(sp.csr_array(np.eye(3)), "biggest")
    with pytest.raises(ValueError, match="square"):
        col.star_coloring(sp.csr_array(np.ones((2, 3))))
