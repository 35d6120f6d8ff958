"""REDIS_URL: one server, or Redis Sentinel's primary (redis+sentinel://)."""

from __future__ import annotations

import pytest

from signup_core import redis_client
from signup_core.settings import ConfigError, load_settings
from tests.support import app_env


def test_parse_sentinel_url_names_every_part():
    t = redis_client.parse_sentinel(
        "redis+sentinel://:s%40cret@10.0.0.1:26379,sentinel-b:26380/signet/2"
        "?sentinel_password=guard"
    )
    assert t.sentinels == (("10.0.0.1", 26379), ("sentinel-b", 26380))
    assert (t.service, t.db, t.password, t.sentinel_password) == ("signet", 2, "s@cret", "guard")
    for bad in (
        "redis+sentinel://host/signet",  # no port
        "redis+sentinel://host:26379",  # no service
        "redis+sentinel://host:26379/signet/x",  # db not a number
        "redis+sentinel://host:26379/signet?timeout=1",  # unknown option
    ):
        with pytest.raises(ValueError):
            redis_client.parse_sentinel(bad)


def test_settings_take_a_sentinel_url_and_refuse_a_broken_one():
    url = "redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/signet"
    settings = load_settings(app_env("postgresql://db/x", url, 25))
    assert settings.redis_url.value == url
    with pytest.raises(ConfigError, match="REDIS_URL is invalid"):
        load_settings(app_env("postgresql://db/x", "redis+sentinel://127.0.0.1/signet", 25))


def test_clients_for_one_server_and_for_sentinel():
    plain = redis_client.sync_client("redis://127.0.0.1:6379/3")
    assert plain.connection_pool.connection_kwargs["db"] == 3
    managed = redis_client.async_client("redis+sentinel://127.0.0.1:26379/signet/1")
    assert managed.connection_pool.service_name == "signet"
    assert managed.connection_pool.connection_kwargs["db"] == 1
