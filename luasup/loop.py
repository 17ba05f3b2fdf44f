"""The event loop: uvloop when importable, unless LUASUP_LOOP=asyncio."""

import asyncio


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
    """Run the coroutine `main` to completion on a fresh loop; its result."""
    loop = new_loop(kind)
    asyncio.set_event_loop(loop)
    return loop.run_until_complete(main(loop))
