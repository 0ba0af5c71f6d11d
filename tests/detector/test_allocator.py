"""The allocator setting of detector/__init__.py reaches Polars' allocator, and yields to the user's."""

import os
import subprocess
import sys

from detector import JEMALLOC_CONF


def _conf_polars_loads_with(env: dict[str, str]) -> str:
    code = "import detector, os, polars; print(os.environ['_RJEM_MALLOC_CONF'])"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_set_before_polars_loads():
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    # Polars puts its own settings first; the last setting of an option wins.
    assert _conf_polars_loads_with(env).endswith("," + JEMALLOC_CONF)


def test_the_users_setting_is_left_alone():
    conf = _conf_polars_loads_with({**os.environ, "_RJEM_MALLOC_CONF": "narenas:2"})
    assert conf.endswith(",narenas:2") and JEMALLOC_CONF not in conf
