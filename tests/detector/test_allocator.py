"""The allocator setting of detector/__init__.py reaches Polars' allocator, the OpenMP wait policy
reaches numba's OpenMP threads, and both yield to the user's."""

import os
import subprocess
import sys

import pytest

from detector import JEMALLOC_CONF, OMP_WAIT_POLICY


def _conf_polars_loads_with(env: dict[str, str]) -> str:
    code = "import detector, os, polars; print(os.environ['_RJEM_MALLOC_CONF'])"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_set_before_polars_loads():
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    # Polars puts its own settings first; the last setting of an option wins.
    assert _conf_polars_loads_with(env).endswith("," + JEMALLOC_CONF)


def test_set_when_only_polars_own_setting_was_inherited():
    """A parent that imported Polars passes Polars' own setting on to its children: the harness
    of bench/bench_scale.py does, and so would a scheduler written in Python."""
    inherited = subprocess.run([sys.executable, "-c", "import os, polars; print(os.environ['_RJEM_MALLOC_CONF'])"],
                               env={k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"},
                               capture_output=True, text=True, check=True).stdout.strip()
    assert inherited and JEMALLOC_CONF not in inherited
    assert _conf_polars_loads_with({**os.environ, "_RJEM_MALLOC_CONF": inherited}).endswith("," + JEMALLOC_CONF)


def test_the_users_setting_is_left_alone():
    conf = _conf_polars_loads_with({**os.environ, "_RJEM_MALLOC_CONF": "narenas:2"})
    assert conf.endswith(",narenas:2") and JEMALLOC_CONF not in conf


def _omp_settings(env: dict[str, str]) -> str:
    """What GNU OpenMP prints of its settings when numba first launches a parallel kernel."""
    code = ("import detector, numba; from features import kernels; kernels.threadsafe(); "
            "print(numba.threading_layer())")
    done = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_DISPLAY_ENV": "TRUE"}, capture_output=True,
                          text=True, check=True)
    if done.stdout.strip() != "omp":
        pytest.skip(f"numba's threading layer here is {done.stdout.strip()}, not OpenMP")
    return done.stderr


def test_openmp_threads_sleep_when_idle():
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert f"OMP_WAIT_POLICY = '{OMP_WAIT_POLICY}'" in _omp_settings(env)


def test_the_users_openmp_wait_policy_is_left_alone():
    assert "OMP_WAIT_POLICY = 'ACTIVE'" in _omp_settings({**os.environ, "OMP_WAIT_POLICY": "ACTIVE"})
