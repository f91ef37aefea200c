"""toxiproxy-python 0.1.1, a client nobody here wrote, driving switchboard's Toxiproxy API
through everything it offers, with each toxic's effect measured through the proxy.

    python toxiproxy_python_client.py run TOXIPROXY_PORT API_PORT
    python toxiproxy_python_client.py make-for-restart TOXIPROXY_PORT API_PORT UPSTREAM_PORT
    python toxiproxy_python_client.py check-after-restart TOXIPROXY_PORT API_PORT UPSTREAM_PORT
"""

import sys
import time

import requests
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

import peers

command, toxi_port, api_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
API = "http://127.0.0.1:%d" % api_port
server = Toxiproxy()
server.update_api_consumer("127.0.0.1", toxi_port)
checks = peers.Checks()


def raises(kind, call):
    try:
        call()
    except kind as error:
        return error
    raise AssertionError("%s was not raised" % kind.__name__)


def run():
    echo = peers.Upstream(peers.echo)
    bulk = peers.Upstream(peers.bulk)
    state = {}

    def version():
        assert server.running()
        answer = server.version()
        assert b'"version": "2.12.0+switchboard.' in answer, answer

    def create_with_port_0():
        proxy = server.create(upstream=echo.address, name="echo")
        assert proxy.name == "echo" and proxy.upstream == echo.address and proxy.enabled is True
        state["echo"] = peers.port_of(proxy.listen)
        assert state["echo"] != 0, proxy.listen
        assert peers.round_trip(state["echo"]) < 1.0
        bulk_proxy = server.create(upstream=bulk.address, name="bulk", listen="127.0.0.1:0")
        state["bulk"] = peers.port_of(bulk_proxy.listen)
        data, _, _ = peers.fetch(state["bulk"], 10000)
        assert data == peers.pattern(10000)

    def duplicates_are_409():
        raises(ProxyExists, lambda: server.create(upstream=echo.address, name="echo"))
        # The server's own 409, through the client's transport and its exception for it.
        raises(ProxyExists, lambda: APIConsumer.post("/proxies", json={"name": "echo", "upstream": echo.address}))
        proxy = server.get_proxy("echo")
        proxy.add_toxic(type="latency", name="twice", attributes={"latency": 0})
        raises(ProxyExists, lambda: proxy.add_toxic(type="timeout", name="twice", stream="upstream"))
        proxy.destroy_toxic("twice")

    def refusals_are_the_clients_exceptions():
        raises(NotFound, lambda: APIConsumer.get("/proxies/nope"))
        proxy = server.get_proxy("echo")
        raises(InvalidToxic, lambda: proxy.add_toxic(type="bogus"))
        raises(InvalidToxic, lambda: proxy.add_toxic(type="latency", stream="sideways"))
        raises(NotFound, lambda: APIConsumer.delete("/proxies/echo/toxics/nope"))

    def list_and_get():
        proxies = server.proxies()
        assert sorted(proxies) == ["bulk", "echo"], proxies
        assert proxies["echo"].listen == "127.0.0.1:%d" % state["echo"]
        assert server.get_proxy("bulk").upstream == bulk.address
        assert server.get_proxy("nope") is None

    def disable_and_enable():
        proxy = server.get_proxy("echo")
        live = peers.connect(state["echo"])
        live.sendall(b"x")
        assert live.recv(1) == b"x"
        proxy.disable()
        assert server.get_proxy("echo").enabled is False
        assert peers.refused(state["echo"]), "a disabled proxy refuses connections"
        peers.eventually("the live connection to be closed", lambda: peers.closed_by_peer(live))
        live.close()
        proxy.enable()
        assert server.get_proxy("echo").enabled is True
        assert peers.round_trip(state["echo"]) < 1.0, "accepted again"
        with proxy.down():
            assert peers.refused(state["echo"])
        assert peers.round_trip(state["echo"]) < 1.0

    def latency():
        proxy = server.get_proxy("echo")
        baseline = min(peers.round_trip(state["echo"]) for _ in range(3))
        proxy.add_toxic(type="latency", attributes={"latency": 200})
        timed = peers.round_trip(state["echo"])
        assert 0.2 <= timed < 0.2 + baseline + 0.25, "round trip %.3f s with 200 ms latency" % timed
        toxics = proxy.toxics()
        assert list(toxics) == ["latency_downstream"]
        assert toxics["latency_downstream"].attributes == {"latency": 200, "jitter": 0}
        # The history says which connections the toxic met.
        hit = requests.get(API + "/v1/history", params={"listener": "echo", "fault": "latency_downstream"}).json()["sessions"]
        assert hit, "the connection the latency met is in the history with it"
        proxy.destroy_toxic("latency_downstream")
        assert peers.round_trip(state["echo"]) < 0.2
        return "round trip %.1f ms under latency 200, %.1f ms without" % (timed * 1000, baseline * 1000)

    def bandwidth():
        proxy = server.get_proxy("bulk")
        proxy.add_toxic(type="bandwidth", attributes={"rate": 100})
        data, seconds, _ = peers.fetch(state["bulk"], 100000)
        assert data == peers.pattern(100000)
        assert 0.9 <= seconds < 2.0, "100,000 bytes at 100 KB/s took %.3f s" % seconds
        proxy.destroy_toxic("bandwidth_downstream")
        return "100,000 bytes in %.3f s at rate 100 (%.1f KB/s)" % (seconds, 100 / seconds)

    def slow_close():
        proxy = server.get_proxy("bulk")
        proxy.add_toxic(type="slow_close", attributes={"delay": 300})
        data, seconds, _ = peers.fetch(state["bulk"], 10)
        assert data == peers.pattern(10)
        assert 0.3 <= seconds < 0.8, "the close came %.3f s after the request" % seconds
        proxy.destroy_toxic("slow_close_downstream")
        return "closed %.1f ms after the request under delay 300" % (seconds * 1000)

    def timeout():
        proxy = server.get_proxy("echo")
        proxy.add_toxic(type="timeout", attributes={"timeout": 300})
        # Timed from before the connect: the timeout runs from when the toxic meets the connection.
        started = time.monotonic()
        with peers.connect(state["echo"]) as s:
            s.sendall(b"lost")
            try:
                data, _ = peers.read_to_end(s)
            except ConnectionResetError:
                data = b""
            seconds = time.monotonic() - started
        assert data == b"", "nothing passes a timeout toxic"
        assert 0.3 <= seconds < 0.8, "closed after %.3f s" % seconds
        proxy.destroy_toxic("timeout_downstream")
        return "closed after %.1f ms under timeout 300, nothing passed" % (seconds * 1000)

    def reset_peer():
        proxy = server.get_proxy("echo")
        proxy.add_toxic(type="reset_peer", stream="upstream", attributes={"timeout": 100})
        with peers.connect(state["echo"]) as s:
            s.sendall(b"reset me")
            error = raises(OSError, lambda: peers.read_to_end(s))
            assert peers.is_reset(error), "ECONNRESET, not %r" % error
        proxy.destroy_toxic("reset_peer_upstream")
        return "ECONNRESET"

    def slicer():
        proxy = server.get_proxy("bulk")
        proxy.add_toxic(type="slicer", attributes={"average_size": 100, "size_variation": 20, "delay": 5000})
        data, _, reads = peers.fetch(state["bulk"], 2000)
        assert data == peers.pattern(2000), "sliced, not changed"
        assert reads >= 8, "2,000 bytes in slices of about 100 with 5 ms between came in %d reads" % reads
        proxy.destroy_toxic("slicer_downstream")
        return "2,000 bytes in %d reads" % reads

    def limit_data():
        proxy = server.get_proxy("bulk")
        proxy.add_toxic(type="limit_data", attributes={"bytes": 1000})
        data, _, _ = peers.fetch(state["bulk"], 5000)
        assert data == peers.pattern(1000), "closed at exactly 1,000 bytes, got %d" % len(data)
        proxy.destroy_toxic("limit_data_downstream")
        return "%d bytes, then the close" % len(data)

    def toxicity_and_lookup():
        proxy = server.get_proxy("echo")
        proxy.add_toxic(type="latency", name="never", toxicity=0.0, attributes={"latency": 1000})
        assert peers.round_trip(state["echo"]) < 0.5, "toxicity 0 never applies"
        toxic = proxy.get_toxic("never")
        assert toxic.toxicity == 0 and toxic.type == "latency" and toxic.stream == "downstream"
        assert proxy.get_toxic("nope") is None
        assert proxy.destroy_toxic("never") is True

    def the_main_api_sees_it():
        listener = requests.get(API + "/v1/listeners/echo").json()
        assert listener["mode"] == "forward" and listener["forward_to"] == echo.address, listener
        added = requests.post(API + "/v1/listeners/echo/faults", json={"name": "from-main", "type": "latency", "attributes": {"latency": 150}})
        assert added.status_code == 201, added.text
        assert "from-main" in server.get_proxy("echo").toxics()
        assert peers.round_trip(state["echo"]) >= 0.15, "a fault made on the main API acts on the proxy"
        server.get_proxy("echo").destroy_toxic("from-main")
        assert requests.get(API + "/v1/listeners/echo/faults").json()["faults"] == []

    def reset():
        proxy = server.get_proxy("echo")
        proxy.add_toxic(type="latency", attributes={"latency": 500})
        server.get_proxy("bulk").disable()
        assert server.reset() is True
        proxies = server.proxies()
        assert sorted(proxies) == ["bulk", "echo"], "reset deletes no proxy"
        assert all(p.enabled for p in proxies.values())
        assert proxy.toxics() == {}
        assert peers.round_trip(state["echo"]) < 0.5

    def populate():
        made = server.populate([
            {"name": "echo", "upstream": echo.address, "listen": "127.0.0.1:%d" % state["echo"]},
            {"name": "more", "upstream": echo.address, "listen": "127.0.0.1:0"},
        ])
        assert [p.name for p in made] == ["more"], "an unchanged proxy is left alone"
        assert peers.round_trip(peers.port_of(made[0].listen)) < 1.0
        # The server's own /populate, through the client's transport, with toxics made atomically.
        answer = APIConsumer.post("/populate", json=[{"name": "made", "upstream": echo.address, "listen": "127.0.0.1:0",
                                                       "toxics": [{"type": "latency", "attributes": {"latency": 200}}]}])
        assert answer.status_code == 201, answer.text
        made = answer.json()["proxies"][0]
        assert [t["name"] for t in made["toxics"]] == ["latency_downstream"]
        assert peers.round_trip(peers.port_of(made["listen"])) >= 0.2

    def delete():
        proxy = server.get_proxy("more")
        assert proxy.destroy() is True
        assert server.get_proxy("more") is None
        server.destroy_all()
        assert server.proxies() == {}
        assert peers.refused(state["echo"])

    for name, check in [
        ("version", version), ("create with port 0", create_with_port_0), ("duplicates are 409", duplicates_are_409),
        ("refusals are the client's exceptions", refusals_are_the_clients_exceptions), ("list and get", list_and_get),
        ("disable and enable", disable_and_enable), ("latency", latency), ("bandwidth", bandwidth), ("slow_close", slow_close),
        ("timeout", timeout), ("reset_peer", reset_peer), ("slicer", slicer), ("limit_data", limit_data),
        ("toxicity and lookup", toxicity_and_lookup), ("the main API sees it", the_main_api_sees_it), ("reset", reset),
        ("populate", populate), ("delete", delete),
    ]:
        checks.run(name, check)
        # A check that failed half way leaves no toxic behind to fail the next ones.
        for proxy in server.proxies().values():
            for toxic in proxy.toxics():
                proxy.destroy_toxic(toxic)


def make_for_restart(upstream_port):
    def make():
        proxy = server.create(upstream="127.0.0.1:%d" % upstream_port, name="kept", listen="127.0.0.1:0")
        proxy.add_toxic(type="latency", attributes={"latency": 200})
        proxy.add_toxic(type="limit_data", stream="upstream", name="cap", attributes={"bytes": 100000})
        server.create(upstream="127.0.0.1:%d" % upstream_port, name="off", listen="127.0.0.1:0").disable()
        assert peers.round_trip(peers.port_of(proxy.listen)) >= 0.2
        print("listen " + proxy.listen)
    checks.run("make proxies and toxics", make)


def check_after_restart(upstream_port):
    def check():
        proxies = server.proxies()
        assert sorted(proxies) == ["kept", "off"], proxies
        kept = proxies["kept"]
        assert kept.enabled and kept.upstream == "127.0.0.1:%d" % upstream_port
        assert proxies["off"].enabled is False, "a disabled proxy stays disabled"
        toxics = kept.toxics()
        assert sorted(toxics) == ["cap", "latency_downstream"], toxics
        assert toxics["latency_downstream"].attributes == {"latency": 200, "jitter": 0}
        assert toxics["cap"].stream == "upstream" and toxics["cap"].attributes == {"bytes": 100000}
        assert peers.round_trip(peers.port_of(kept.listen)) >= 0.2, "the latency still acts after the restart"
        print("listen " + kept.listen)
    checks.run("proxies and toxics after a restart", check)


if command == "run":
    run()
elif command == "make-for-restart":
    make_for_restart(int(sys.argv[4]))
elif command == "check-after-restart":
    check_after_restart(int(sys.argv[4]))
else:
    raise SystemExit("unknown command " + command)
checks.finish()
