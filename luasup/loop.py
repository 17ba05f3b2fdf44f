"""The event loop (uvloop when importable, unless LUASUP_LOOP=asyncio) and
the thread it runs in.

The loop and the Lua script run in a thread of their own with a large
stack: LuaJIT recursion through C functions (a `string.gsub` callback that
calls gsub) grows the C stack, and with the main thread's 8 MiB it would
overflow and crash luasup before LuaJIT's own limit raises a Lua error.
The main thread meanwhile takes signals (intake.py)."""

import asyncio
import threading

from .intake import INTAKE

# Deep enough that LuaJIT's own stack limit ("stack overflow") comes first;
# only the pages used are ever touched.
RUNTIME_STACK_BYTES = 256 << 20


def new_loop(kind="uvloop"):
    """kind: "uvloop" (the standard loop when uvloop is not installed) or
    "asyncio"."""
    if kind == "uvloop":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def run(main, kind="uvloop"):
    """Run the coroutine `main(loop)` to completion on a fresh loop (of
    `kind`, see new_loop) in the runtime thread while this thread takes
    signals; its result."""
    outcome = {}

    def runtime():
        try:
            loop = new_loop(kind)
            asyncio.set_event_loop(loop)
            outcome["result"] = loop.run_until_complete(main(loop))
        except BaseException as e:  # re-raised on the main thread
            outcome["error"] = e
        finally:
            INTAKE.finish()

    thread = threading.Thread(target=runtime, name="runtime")
    threading.stack_size(RUNTIME_STACK_BYTES)
    try:
        thread.start()
    except RuntimeError:  # no room for that stack: run with the default one
        thread = threading.Thread(target=runtime, name="runtime")
        threading.stack_size(0)
        thread.start()
    finally:
        threading.stack_size(0)
    INTAKE.serve()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]
