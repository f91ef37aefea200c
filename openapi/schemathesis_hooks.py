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
    if (path, method) == ("/v1/history", "GET") and case.query:
        # `cursor` is opaque: only a `next_cursor` the service gave out is one (else 400); an
        # empty one is the first page. And `limit` and `cursor` page format=json; the streamed
        # formats take neither (else 400).
        if case.query.get("cursor") not in (None, ""):
            return False
        if case.query.get("format") in ("ndjson", "csv") and case.query.get("limit") is not None:
            return False
    return True


@schemathesis.hook
def filter_failure(context, failure, case, response):
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
