"""Rules for ``scipy.stats`` distributions: their log-densities and distribution functions
written with the table's entries, so that both modes differentiate them in x and in the
parameters (where SciPy has the derivative as a routine; elsewhere the entry raises).

SciPy's own methods convert their arguments with ``np.asarray``, which a traced value refuses;
:mod:`dualad.ops.scipy_support` routes a call with a traced argument to the formula here instead.
:data:`METHODS` maps ``(distribution name, method)`` to it. Every formula gets the parsed
parameters ``(x, *shapes, loc, scale)`` (``loc`` only for the discrete ones) and returns what
SciPy returns, to rounding, including ``-inf``/``0`` outside the support.

This module imports ``scipy.special`` only; ``scipy.stats`` is never imported by dualad.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.special as sp

from .core import Tracer, plain_array as _plain
from .elementwise import beta_log_density, gamma_log_density, t_log_density

__all__ = ["METHODS", "MULTIVARIATE"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _masked(inside, value, outside):
    """``value`` where ``inside`` (a plain mask), else the constant ``outside``."""
    return value if np.all(inside) else np.where(inside, value, outside)


# ---------------------------------------------------------------------------------------------
# continuous: z = (x - loc) / scale, and the density carries -log(scale)
# ---------------------------------------------------------------------------------------------

def _norm_logpdf(x, loc=0.0, scale=1.0):
    z = (x - loc) / scale
    return -0.5 * z * z - _LOG_SQRT_2PI - np.log(scale)


def _norm_cdf(x, loc=0.0, scale=1.0):
    return sp.ndtr((x - loc) / scale)


def _norm_logcdf(x, loc=0.0, scale=1.0):
    return sp.log_ndtr((x - loc) / scale)


def _norm_sf(x, loc=0.0, scale=1.0):
    return sp.ndtr((loc - x) / scale)


def _norm_logsf(x, loc=0.0, scale=1.0):
    return sp.log_ndtr((loc - x) / scale)


def _t_logpdf(x, df, loc=0.0, scale=1.0):
    return t_log_density(df, (x - loc) / scale) - np.log(scale)


def _t_cdf(x, df, loc=0.0, scale=1.0):
    return sp.stdtr(df, (x - loc) / scale)


def _gamma_logpdf(x, a, loc=0.0, scale=1.0):
    z = (x - loc) / scale
    inside = _plain(z) > 0
    safe = np.where(inside, z, 1.0)
    return _masked(inside, gamma_log_density(a, safe) - np.log(scale), -np.inf)


def _gamma_cdf(x, a, loc=0.0, scale=1.0):
    z = (x - loc) / scale
    inside = _plain(z) > 0
    return _masked(inside, sp.gammainc(a, np.where(inside, z, 1.0)), 0.0)


def _beta_logpdf(x, a, b, loc=0.0, scale=1.0):
    z = (x - loc) / scale
    zv = _plain(z)
    inside = (zv > 0) & (zv < 1)
    safe = np.where(inside, z, 0.5)
    return _masked(inside, beta_log_density(a, b, safe) - np.log(scale), -np.inf)


def _beta_cdf(x, a, b, loc=0.0, scale=1.0):
    z = (x - loc) / scale
    zv = _plain(z)
    inside = (zv > 0) & (zv < 1)
    value = _masked(inside, sp.betainc(a, b, np.where(inside, z, 0.5)), 0.0)
    return np.where(zv >= 1, 1.0, value)


# ---------------------------------------------------------------------------------------------
# discrete: k is an integer count (a constant); the parameters are differentiated
# ---------------------------------------------------------------------------------------------

def _poisson_logpmf(k, mu, loc=0):
    k = np.asarray(_plain(k) - _plain(loc), dtype=float)
    integer = (k >= 0) & (k == np.floor(k))
    ks = np.where(integer, k, 0.0)
    return _masked(integer, sp.xlogy(ks, mu) - sp.gammaln(ks + 1.0) - mu, -np.inf)


def _poisson_cdf(k, mu, loc=0):
    k = np.floor(np.asarray(_plain(k) - _plain(loc), dtype=float))
    inside = k >= 0
    return _masked(inside, sp.gammaincc(np.where(inside, k, 0.0) + 1.0, mu), 0.0)


def _binom_logpmf(k, n, p, loc=0):
    k = np.asarray(_plain(k) - _plain(loc), dtype=float)
    nv = _plain(n)
    if isinstance(n, Tracer):
        raise NotImplementedError("scipy.stats.binom: n is a count; it cannot be traced")
    integer = (k >= 0) & (k <= nv) & (k == np.floor(k))
    ks = np.where(integer, k, 0.0)
    comb = sp.gammaln(nv + 1.0) - sp.gammaln(ks + 1.0) - sp.gammaln(nv - ks + 1.0)
    return _masked(integer, comb + sp.xlogy(ks, p) + sp.xlog1py(nv - ks, -p), -np.inf)


def _binom_cdf(k, n, p, loc=0):
    if isinstance(n, Tracer):
        raise NotImplementedError("scipy.stats.binom: n is a count; it cannot be traced")
    k = np.floor(np.asarray(_plain(k) - _plain(loc), dtype=float))
    nv = np.asarray(_plain(n), dtype=float)
    inside = (k >= 0) & (k < nv)
    ks = np.where(inside, k, 0.0)
    value = _masked(inside, sp.betainc(nv - ks, ks + 1.0, 1.0 - p), 0.0)
    return np.where(k >= nv, 1.0, value)


def _exp_of(logf):
    def f(*args):
        return np.exp(logf(*args))
    return f


def _log_of(f):
    def logf(*args):
        return np.log(f(*args))
    return logf


def _one_minus(f):
    def sf(*args):
        return 1.0 - f(*args)
    return sf


#: (distribution, method) -> formula of the parsed arguments
METHODS = {
    ("norm", "logpdf"): _norm_logpdf, ("norm", "pdf"): _exp_of(_norm_logpdf),
    ("norm", "cdf"): _norm_cdf, ("norm", "logcdf"): _norm_logcdf,
    ("norm", "sf"): _norm_sf, ("norm", "logsf"): _norm_logsf,
    ("t", "logpdf"): _t_logpdf, ("t", "pdf"): _exp_of(_t_logpdf), ("t", "cdf"): _t_cdf,
    ("t", "logcdf"): _log_of(_t_cdf), ("t", "sf"): _one_minus(_t_cdf),
    ("gamma", "logpdf"): _gamma_logpdf, ("gamma", "pdf"): _exp_of(_gamma_logpdf),
    ("gamma", "cdf"): _gamma_cdf, ("gamma", "logcdf"): _log_of(_gamma_cdf),
    ("gamma", "sf"): _one_minus(_gamma_cdf),
    ("beta", "logpdf"): _beta_logpdf, ("beta", "pdf"): _exp_of(_beta_logpdf),
    ("beta", "cdf"): _beta_cdf, ("beta", "logcdf"): _log_of(_beta_cdf),
    ("beta", "sf"): _one_minus(_beta_cdf),
    ("poisson", "logpmf"): _poisson_logpmf, ("poisson", "pmf"): _exp_of(_poisson_logpmf),
    ("poisson", "cdf"): _poisson_cdf, ("poisson", "logcdf"): _log_of(_poisson_cdf),
    ("poisson", "sf"): _one_minus(_poisson_cdf),
    ("binom", "logpmf"): _binom_logpmf, ("binom", "pmf"): _exp_of(_binom_logpmf),
    ("binom", "cdf"): _binom_cdf, ("binom", "logcdf"): _log_of(_binom_cdf),
    ("binom", "sf"): _one_minus(_binom_cdf),
}


# ---------------------------------------------------------------------------------------------
# the multivariate normal
# ---------------------------------------------------------------------------------------------

def mvn_logpdf(x, mean=None, cov=1.0):
    """log N(x; mean, cov) for x of shape (k,) or (N, k) (SciPy's squeezed output shape)."""
    xs = _plain(x)
    k = xs.shape[-1] if xs.ndim else 1
    mean = np.zeros(k) if mean is None else mean
    cov_v = _plain(cov)
    if cov_v.ndim == 0:
        cov = cov * np.eye(k)
    elif cov_v.ndim == 1:
        cov = np.diag(cov) if isinstance(cov, Tracer) else np.diag(cov_v)
    chol = np.linalg.cholesky(cov)
    d = x - mean
    flat = np.reshape(d, (-1, k))
    z = np.linalg.solve(chol, flat.T)  # (k, N): L⁻¹ (x - mean)
    maha = np.sum(z * z, axis=0)
    log_det = 2.0 * np.sum(np.log(np.diagonal(chol)))
    out = -0.5 * (maha + log_det + k * math.log(2.0 * math.pi))
    return out[0] if xs.ndim <= 1 else np.reshape(out, xs.shape[:-1])


#: method -> formula of (x, mean, cov)
MULTIVARIATE = {"logpdf": mvn_logpdf, "pdf": _exp_of(mvn_logpdf)}
