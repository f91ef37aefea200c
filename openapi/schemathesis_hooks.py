"""schemathesis hooks for switchboard: only what the OpenAPI document cannot say.

Each hook names the rule it stands for. None of them hides a wrong status, body or header:
they keep schemathesis from sending "valid" requests that a rule between two fields makes
invalid, and accept the documented gateway answers of an outbound connect.
"""
import schemathesis
from schemathesis.core.failures import ServerError
from schemathesis.openapi.checks import UseAfterFree


def _positive(case):
    meta = case.meta
    return meta is None or meta.generation.mode.is_positive


@schemathesis.hook
def filter_case(context, case):
    if not _positive(case):
        return True
    path, method = case.operation.path, case.operation.method.upper()
    if (path, method) == ("/v1/sessions", "POST") and isinstance(case.body, dict):
        # reconnect.max_ms must not be less than reconnect.initial_ms (default 100), else 400:
        # a rule between two fields.
        reconnect = case.body.get("reconnect")
        if isinstance(reconnect, dict):
            initial, maximum = reconnect.get("initial_ms"), reconnect.get("max_ms")
            if initial is None:
                initial = 100
            if isinstance(maximum, (int, float)) and maximum < initial:
                return False
    if (path, method) == ("/v1/listeners", "POST") and isinstance(case.body, dict):
        # A forward listener must not forward to its own address (every connection would
        # connect to itself again), else 400: a rule between two fields.
        if case.body.get("mode") == "forward" and case.body.get("forward_to") == case.body.get("address"):
            return False
    faults = _faults_in(path, method, case.body)
    for fault in faults:
        attributes = fault.get("attributes") if isinstance(fault, dict) else None
        if not isinstance(attributes, dict):
            continue
        number = lambda key: attributes.get(key) if isinstance(attributes.get(key), (int, float)) else 0
        # slicer: size_variation must be less than average_size; corrupt: probability or
        # count, not both (else 400): rules between two attributes.
        if fault.get("type") == "slicer" and number("size_variation") > 0 and number("size_variation") >= number("average_size"):
            return False
        if fault.get("type") == "corrupt" and number("probability") > 0 and number("count") > 0:
            return False
        # A fault that holds bytes for long (latency, a slow rate, slices far apart) makes a
        # later send wait until the socket took them, as documented; past the fuzzer's 10 s
        # read timeout that is a network error in its report, not the service failing.
        kind = fault.get("type")
        if kind == "latency" and number("latency") + number("jitter") > 1000:
            return False
        if kind == "bandwidth" and 0 < number("rate") < 10000:
            return False
        if kind == "slicer" and number("delay") > 0:
            return False
    if (path, method) == ("/v1/listeners/{name}/faults", "POST") and isinstance(case.body, dict):
        # connect_delay delays a forward listener's upstream connect: on a listener of another
        # mode it is refused (400), a rule between the body and the listener it names.
        if case.body.get("type") == "connect_delay":
            return False
    if path.endswith("/faults/{fault}") and method == "PATCH" and isinstance(case.body, dict):
        # A change may repeat the fault's name, type and direction but not change them, and may
        # give only attributes of the fault's own type (else 400): rules between the body and
        # the fault it changes, which the document cannot know.
        if any(case.body.get(key) is not None for key in ("name", "type", "direction", "attributes")):
            return False
    if (path, method) == ("/v1/history", "GET") and case.query:
        # `cursor` is opaque: only a `next_cursor` the service gave out is one (else 400); an
        # empty one is the first page. And `limit` and `cursor` page format=json; the streamed
        # formats take neither (else 400).
        if case.query.get("cursor") not in (None, ""):
            return False
        if case.query.get("format") in ("ndjson", "csv") and case.query.get("limit") is not None:
            return False
    return True


def _faults_in(path, method, body):
    """The faults a request body defines: its own (POST .../faults) or its `faults` array."""
    if not isinstance(body, dict):
        return []
    if path.endswith("/faults") and method == "POST":
        return [body]
    if (path, method) in (("/v1/listeners", "POST"), ("/v1/sessions", "POST")) and isinstance(body.get("faults"), list):
        return body["faults"]
    return []


@schemathesis.hook
def filter_failure(context, failure, case, response):
    # A closed session's faults stay readable too, as the session does: the faults it had (its
    # own and its listener's) are part of what happened to it. Whether the DELETE closed it is
    # the check on /v1/sessions/{id} below; here only the answer's shape is asked for.
    if (
        isinstance(failure, UseAfterFree)
        and (case.operation.path, case.operation.method.upper()) == ("/v1/sessions/{id}/faults", "GET")
        and response.status_code == 200
    ):
        try:
            return not isinstance(response.json().get("faults"), list)
        except Exception:
            return True
    # DELETE /v1/sessions/{id} closes a session; a closed session stays readable (state
    # "closed") for look-back, as the API reference says. Only that is accepted: a closed
    # session still answering "open", or any other resource after its DELETE, still fails.
    if isinstance(failure, UseAfterFree) and case.operation.path.startswith("/v1/sessions/{id}") and response.status_code == 200:
        try:
            body = response.json()
            state = (body.get("session") or body).get("state") if "session_state" not in body else body["session_state"]
        except Exception:
            return True
        return state != "closed"
    # POST /v1/sessions connects where it is told: 502 connect_failed and 504 connect_timeout are
    # the target's answer, relayed as the API reference documents, not the service failing.
    if (
        isinstance(failure, ServerError)
        and (case.operation.path, case.operation.method.upper()) == ("/v1/sessions", "POST")
        and response.status_code in (502, 504)
    ):
        try:
            code = response.json()["error"]["code"]
        except Exception:
            return True
        return code not in ("connect_failed", "connect_timeout")
    return True
