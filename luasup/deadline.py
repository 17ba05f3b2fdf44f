"""Waiting with a timeout that never loses a cancellation.

On Python 3.11, asyncio.wait_for swallows the cancellation of the task
awaiting it when the awaited thing completes in the same loop iteration: a
Lua task cancelled at shutdown would then run on forever. This does the same
job with asyncio.wait, which lets the cancellation through."""

import asyncio


async def within(awaitable, timeout):
    """The result of awaitable, or raise asyncio.TimeoutError after timeout
    seconds (None: no limit), cancelling it."""
    inner = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({inner}, timeout=timeout)
    except BaseException:
        inner.cancel()
        raise
    if not done:
        inner.cancel()
        try:
            await inner
        except asyncio.CancelledError:
            pass
        raise asyncio.TimeoutError()
    return inner.result()
