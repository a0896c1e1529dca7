"""The ``manager`` configuration section: defaults, bounds, one-line errors naming the field."""

import pytest

from firmware import FirmwareError
from firmware.config import demo_config, from_dict, to_dict
from firmware.config.model import ManagerSettings
from firmware.manager.server import parse_listen


def with_manager(**manager):
    data = to_dict(demo_config())
    data["manager"] = {**data["manager"], **manager}
    return data


def test_default_is_off_on_loopback():
    assert demo_config().manager == ManagerSettings(enabled=False, listen="127.0.0.1:5038", max_clients=8,
                                                    actions_per_second=20, client_queue_events=1000)
    assert from_dict(to_dict(demo_config())).manager == ManagerSettings()


@pytest.mark.parametrize("listen", ["127.0.0.1:5038", "0.0.0.0:1", "192.168.1.20:65535", "[::1]:5038",
                                    "localhost:5038"])
def test_listen_accepted(listen):
    assert from_dict(with_manager(listen=listen)).manager.listen == listen


@pytest.mark.parametrize("change, error", [
    ({"listen": "127.0.0.1"}, "manager.listen: '127.0.0.1' is not host:port"),
    ({"listen": "127.0.0.1:0"}, "manager.listen: port must be 1-65535, got 0"),
    ({"listen": "127.0.0.1:65536"}, "manager.listen: port must be 1-65535, got 65536"),
    ({"listen": "300.1.1.1:5038"}, "manager.listen: 300.1.1.1 is not an IPv4 address"),
    ({"listen": "evil.example.com:5038"}, "manager.listen: 'evil.example.com:5038' is not host:port"),
    ({"enabled": "yes"}, "manager.enabled: expected true or false"),
    ({"max_clients": 0}, "manager.max_clients: expected an integer 1-64, got 0"),
    ({"max_clients": 65}, "manager.max_clients: expected an integer 1-64, got 65"),
    ({"actions_per_second": 0}, "manager.actions_per_second: expected an integer 1-1000"),
    ({"client_queue_events": 99}, "manager.client_queue_events: expected an integer 100-100000, got 99"),
    ({"secret": "x"}, "manager.secret: unknown key"),
])
def test_bad_values_refused_naming_the_field(change, error):
    with pytest.raises(FirmwareError) as caught:
        from_dict(with_manager(**change))
    assert str(caught.value).startswith(error) and "\n" not in str(caught.value)


def test_edges_accepted():
    manager = from_dict(with_manager(max_clients=64, actions_per_second=1000, client_queue_events=100)).manager
    assert (manager.max_clients, manager.actions_per_second, manager.client_queue_events) == (64, 1000, 100)


def test_parse_listen():
    assert parse_listen("127.0.0.1:5038") == ("127.0.0.1", 5038)
    assert parse_listen("[::1]:5038") == ("::1", 5038)
    with pytest.raises(FirmwareError, match="manager.listen"):
        parse_listen("nope")
