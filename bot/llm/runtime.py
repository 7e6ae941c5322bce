"""Loads litellm offline, once, off the event loop.

litellm fetches remote configuration (its price map at import, Anthropic beta headers at the
first call) unless told not to. Remote configuration fetched at run time is a supply-chain risk
and makes prices drift under the same code, so Atom sets litellm's offline switches before the
first import, in the product and in tests alike. Importing takes seconds, so `atom run` starts
it in a background thread and the Slack listener acknowledges requests meanwhile.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
from types import ModuleType

OFFLINE_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_OFFLINE_MODE": "true",
    "LITELLM_TELEMETRY": "False",
}

_lock = threading.Lock()
_module: ModuleType | None = None


def set_offline_switches() -> None:
    """Force litellm's offline switches; an operator cannot turn them back on by accident."""
    os.environ.update(OFFLINE_ENV)


def load_litellm() -> ModuleType:
    """Import and configure litellm (blocking). Safe to call from any thread, any number of times."""
    global _module
    if _module is not None:
        return _module
    with _lock:
        if _module is None:
            set_offline_switches()
            import litellm

            litellm.suppress_debug_info = True
            litellm.set_verbose = False  # its request dumps carry questions and parts of keys
            litellm.telemetry = False
            litellm.drop_params = True
            _module = litellm
            # litellm brings ~150 MB of long-lived objects: move them out of the collector's way, or
            # every full collection scans them and stalls the event loop for hundreds of ms.
            gc.collect()
            gc.freeze()
            from bot.logs import attach_redaction, quiet_libraries

            quiet_libraries()  # litellm adds its own log handlers and levels at import
            attach_redaction()
    return _module


async def litellm_async() -> ModuleType:
    """litellm for async code: imports in a worker thread the first time, instantly after."""
    if _module is not None:
        return _module
    return await asyncio.to_thread(load_litellm)


def start_background_load() -> threading.Thread:
    thread = threading.Thread(target=load_litellm, name="litellm-import", daemon=True)
    thread.start()
    return thread
