"""chaostoolkit-toxiproxy 0.3.1, a client nobody here wrote, driving switchboard's Toxiproxy
API through every action and probe it offers, each toxic's effect measured through the proxy.

    python chaostoolkit_client.py TOXIPROXY_PORT API_PORT
"""

import logging
import sys
import time

import logzero
import requests
from chaostoxi.proxy import actions as proxy_actions
from chaostoxi.proxy import probes as proxy_probes
from chaostoxi.toxic import actions as toxic_actions

import peers

# The client logs every request at debug; its refusals are what the checks look at.
logzero.loglevel(logging.WARNING)
toxi_port, api_port = int(sys.argv[1]), int(sys.argv[2])
API = "http://127.0.0.1:%d" % api_port
configuration = {"toxiproxy_host": "127.0.0.1", "toxiproxy_port": toxi_port}
checks = peers.Checks()
echo = peers.Upstream(peers.echo)
bulk = peers.Upstream(peers.bulk)
other = peers.Upstream(peers.echo)


def port(name):
    """create_proxy and modify_proxy leave the proxy's port in the configuration."""
    return int(configuration[name + "_PORT"])


def create_with_port_0():
    assert proxy_actions.create_proxy("echo", "127.0.0.1", echo.port, listen_host="127.0.0.1", configuration=configuration)
    assert port("echo") != 0
    assert peers.round_trip(port("echo")) < 1.0
    assert proxy_actions.create_proxy("bulk", "127.0.0.1", bulk.port, listen_host="127.0.0.1", listen_port=0, configuration=configuration)
    assert peers.fetch(port("bulk"), 1000)[0] == peers.pattern(1000)


def duplicate_is_refused():
    # The client turns the 409 into its own AssertionError.
    try:
        proxy_actions.create_proxy("echo", "127.0.0.1", echo.port, listen_host="127.0.0.1", configuration=configuration)
    except AssertionError:
        pass
    else:
        raise AssertionError("a second proxy named echo was accepted")
    answer = requests.post("http://127.0.0.1:%d/proxies" % toxi_port, json={"name": "echo", "upstream": echo.address})
    assert answer.status_code == 409 and answer.json() == {"error": "proxy already exists", "status": 409}, answer.text


def probes():
    assert proxy_probes.proxy_exist("echo", configuration=configuration) is True
    assert proxy_probes.proxy_exist("nope", configuration=configuration) is False
    assert proxy_probes.get_proxy_attribute("echo", "upstream", configuration=configuration) == echo.address
    assert proxy_probes.get_proxy_attribute("echo", "enabled", configuration=configuration) is True
    assert proxy_probes.get_proxy_attribute("nope", "upstream", configuration=configuration) is None


def modify_upstream_and_listen():
    live = peers.connect(port("echo"))
    live.sendall(b"x")
    assert live.recv(1) == b"x"
    assert proxy_actions.modify_proxy("echo", upstream_address=other.address, configuration=configuration)
    peers.eventually("the proxy's connections to be dropped", lambda: peers.closed_by_peer(live))
    live.close()
    accepted = other.accepted
    assert peers.round_trip(port("echo")) < 1.0
    assert other.accepted == accepted + 1, "the new upstream takes the connections"
    before = port("echo")
    assert proxy_actions.modify_proxy("echo", listen_address="127.0.0.1:0", upstream_address=echo.address, configuration=configuration)
    assert port("echo") != before and peers.refused(before)
    assert peers.round_trip(port("echo")) < 1.0


def disable_and_enable():
    assert proxy_actions.disable_proxy("echo", configuration=configuration)
    assert proxy_probes.get_proxy_attribute("echo", "enabled", configuration=configuration) is False
    assert peers.refused(port("echo")), "connections refused while disabled"
    assert proxy_actions.enable_proxy("echo", configuration=configuration)
    assert peers.round_trip(port("echo")) < 1.0, "accepted again"


def latency():
    assert toxic_actions.create_latency_toxic("echo", "slow", 200, jitter=0, configuration=configuration)
    timed = peers.round_trip(port("echo"))
    assert 0.2 <= timed < 0.5, "round trip %.3f s with 200 ms latency" % timed
    assert toxic_actions.delete_toxic("echo", "slow", configuration=configuration)
    assert peers.round_trip(port("echo")) < 0.2


def bandwidth():
    assert toxic_actions.create_bandwith_degradation_toxic("bulk", "narrow", 100, configuration=configuration)
    data, seconds, _ = peers.fetch(port("bulk"), 100000)
    assert data == peers.pattern(100000)
    assert 0.9 <= seconds < 2.0, "100,000 bytes at 100 KB/s took %.3f s" % seconds
    assert toxic_actions.delete_toxic("bulk", "narrow", configuration=configuration)


def slow_close():
    assert toxic_actions.create_slow_connection_close_toxic("bulk", "lingering", 300, configuration=configuration)
    data, seconds, _ = peers.fetch(port("bulk"), 10)
    assert data == peers.pattern(10) and 0.3 <= seconds < 0.8, "%d bytes, closed after %.3f s" % (len(data), seconds)
    assert toxic_actions.delete_toxic("bulk", "lingering", configuration=configuration)


def timeout():
    assert toxic_actions.create_timeout_toxic("echo", "stuck", 300, configuration=configuration)
    started = time.monotonic()
    with peers.connect(port("echo")) as s:
        s.sendall(b"lost")
        try:
            data, _ = peers.read_to_end(s)
        except ConnectionResetError:
            data = b""
    seconds = time.monotonic() - started
    assert data == b"" and 0.3 <= seconds < 0.8, "%d bytes, closed after %.3f s" % (len(data), seconds)
    assert toxic_actions.delete_toxic("echo", "stuck", configuration=configuration)


def reset_peer():
    # No action of its own in this client: its generic create_toxic.
    assert toxic_actions.create_toxic("echo", "rst", "reset_peer", stream="upstream", attributes={"timeout": 100}, configuration=configuration)
    with peers.connect(port("echo")) as s:
        s.sendall(b"reset me")
        try:
            peers.read_to_end(s)
        except OSError as error:
            assert peers.is_reset(error), "ECONNRESET, not %r" % error
        else:
            raise AssertionError("the connection was not reset")
    assert toxic_actions.delete_toxic("echo", "rst", configuration=configuration)


def slicer():
    assert toxic_actions.create_slicer_toxic("bulk", "slices", 100, 20, 5000, configuration=configuration)
    data, _, reads = peers.fetch(port("bulk"), 2000)
    assert data == peers.pattern(2000) and reads >= 8, "%d bytes in %d reads" % (len(data), reads)
    assert toxic_actions.delete_toxic("bulk", "slices", configuration=configuration)


def limit_data():
    assert toxic_actions.create_limiter_toxic("bulk", "cap", 1000, configuration=configuration)
    data, _, _ = peers.fetch(port("bulk"), 5000)
    assert data == peers.pattern(1000), "closed at exactly 1,000 bytes, got %d" % len(data)
    assert toxic_actions.delete_toxic("bulk", "cap", configuration=configuration)


def the_main_api_sees_it():
    listeners = {l["name"]: l for l in requests.get(API + "/v1/listeners").json()["listeners"]}
    assert listeners["echo"]["mode"] == "forward" and listeners["echo"]["forward_to"] == echo.address
    assert toxic_actions.create_latency_toxic("echo", "seen", 10, configuration=configuration)
    faults = requests.get(API + "/v1/listeners/echo/faults").json()["faults"]
    assert [f["name"] for f in faults] == ["seen"] and faults[0]["attributes"]["latency"] == 10, faults
    assert requests.delete(API + "/v1/listeners/echo/faults/seen").status_code == 200
    assert not toxic_actions.delete_toxic("echo", "seen", configuration=configuration), "gone from both"


def reset():
    assert toxic_actions.create_latency_toxic("echo", "slow", 500, configuration=configuration)
    assert proxy_actions.disable_proxy("bulk", configuration=configuration)
    assert proxy_actions.reset(configuration=configuration)
    assert proxy_probes.get_proxy_attribute("bulk", "enabled", configuration=configuration) is True
    assert proxy_probes.get_proxy_attribute("echo", "toxics", configuration=configuration) == []
    assert peers.round_trip(port("echo")) < 0.5


def delete():
    proxy_actions.delete_proxy("echo", configuration=configuration)
    proxy_actions.delete_proxy("bulk", configuration=configuration)
    assert not proxy_probes.proxy_exist("echo", configuration=configuration)
    assert peers.refused(port("echo"))
    assert requests.get(API + "/v1/listeners").json()["listeners"] == []


for name, check in [
    ("create with port 0", create_with_port_0), ("duplicate is refused", duplicate_is_refused), ("probes", probes),
    ("modify upstream and listen", modify_upstream_and_listen), ("disable and enable", disable_and_enable),
    ("latency", latency), ("bandwidth", bandwidth), ("slow_close", slow_close), ("timeout", timeout),
    ("reset_peer", reset_peer), ("slicer", slicer), ("limit_data", limit_data),
    ("the main API sees it", the_main_api_sees_it), ("reset", reset), ("delete", delete),
]:
    checks.run(name, check)
    # A check that failed half way leaves no toxic behind to fail the next ones.
    if name != "delete":
        proxy_actions.reset(configuration=configuration)
checks.finish()
