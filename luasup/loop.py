"""The event loop: uvloop when importable, unless LUASUP_LOOP=asyncio."""

import asyncio
import os


def new_loop():
    if os.environ.get("LUASUP_LOOP", "uvloop") != "asyncio":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def run(main):
    """Run the coroutine `main` to completion on a fresh loop; its result."""
    loop = new_loop()
    asyncio.set_event_loop(loop)
    return loop.run_until_complete(main(loop))
