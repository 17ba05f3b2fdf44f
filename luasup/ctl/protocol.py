"""JSON-RPC 2.0, one JSON object per line: the error codes both sides use
and the framing of a line. Documented in docs/ctl.md."""

import json
import math

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
NO_SUCH_SERVICE = -32001
FAILED = -32002
PERMISSION_DENIED = -32003
NOT_SUPPORTED = -32004
TOO_MANY = -32005
LUA_ERROR = -32010

MAX_REQUEST = 1 << 20  # bytes in one request line


class Failure(Exception):
    """A request that gets an error answer."""

    def __init__(self, code, message, rid=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.rid = rid


def encode(obj):
    # ensure_ascii: a line of ASCII whatever the bytes of a log line were;
    # no NaN or Infinity, which are not JSON
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode() + b"\n"


def _no_constant(name):
    raise ValueError("%s is not JSON" % name)


def request(rid, method, params):
    return encode({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})


def answer(rid, result):
    return encode({"jsonrpc": "2.0", "id": rid, "result": result})


def error(rid, code, message):
    return encode({"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}})


def notification(method, params):
    return encode({"jsonrpc": "2.0", "method": method, "params": params})


def parse(line):
    """A request line -> (id, method, params), or Failure saying what is
    wrong with it (with the request's id once it is known)."""
    try:
        obj = json.loads(line, parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:
        raise Failure(PARSE_ERROR, "parse error: %s" % e) from None
    if isinstance(obj, list):
        raise Failure(INVALID_REQUEST, "invalid request: batches are not supported")
    if not isinstance(obj, dict):
        raise Failure(INVALID_REQUEST, "invalid request: an object expected")
    rid = obj.get("id")
    if rid is not None and (isinstance(rid, bool) or not isinstance(rid, (str, int, float))
                            or isinstance(rid, float) and not math.isfinite(rid)):
        raise Failure(INVALID_REQUEST, "invalid request: id must be a string or a number")
    if obj.get("jsonrpc") != "2.0":
        raise Failure(INVALID_REQUEST, 'invalid request: "jsonrpc": "2.0" expected', rid)
    method = obj.get("method")
    if not isinstance(method, str):
        raise Failure(INVALID_REQUEST, "invalid request: method must be a string", rid)
    params = obj.get("params", {})
    if not isinstance(params, dict):
        raise Failure(INVALID_PARAMS, "invalid params: an object expected", rid)
    return rid, method, params
