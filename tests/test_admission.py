"""How fast answers start (bot/admission.py): a token bucket whose rate follows the loop's lag."""

from __future__ import annotations

import asyncio
import time

from bot.admission import ALWAYS_ALLOWED, GROW_PER_TICK, SHRINK, AdaptiveAdmission
from tests.clock import ManualClock


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_light_load_never_waits():
    admission = AdaptiveAdmission(rate=2.0, clock=ManualClock())  # a slow rate, and no time passes
    for _ in range(ALWAYS_ALLOWED):
        await asyncio.wait_for(admission.acquire(), 0.1)
    assert admission.active == ALWAYS_ALLOWED and admission.waiting == 0
    for _ in range(ALWAYS_ALLOWED):
        admission.release()
    for _ in range(100):  # one after another, as in a quiet workspace
        await asyncio.wait_for(admission.acquire(), 0.1)
        admission.release()


async def test_beyond_the_rate_answers_wait_and_start_in_arrival_order_as_tokens_come():
    clock = ManualClock()
    admission = AdaptiveAdmission(rate=10.0, clock=clock, tick=3600)  # ticks only when the test says
    order: list[int] = []

    async def answer(number: int) -> None:
        await admission.acquire()
        order.append(number)

    tasks = [asyncio.create_task(answer(n)) for n in range(ALWAYS_ALLOWED + 3)]
    await settle()
    # The bucket's 4 tokens went to the first four, and up to ALWAYS_ALLOWED may run anyway.
    assert order == list(range(ALWAYS_ALLOWED)) and admission.waiting == 3
    clock.now += 0.1  # one more token at 10/s
    admission.adjust(0.0)
    await settle()
    assert order == list(range(ALWAYS_ALLOWED + 1)) and admission.waiting == 2
    clock.now += 1.0
    admission.adjust(0.0)
    await asyncio.gather(*tasks)
    assert order == list(range(ALWAYS_ALLOWED + 3))
    admission._watcher.cancel()


async def test_a_late_loop_slows_starts_and_a_keeping_up_loop_speeds_them_up_again():
    admission = AdaptiveAdmission(rate=100.0, min_rate=2.0, target_lag=0.01, clock=ManualClock())
    admission.adjust(0.2)
    assert admission.rate == 100.0 * SHRINK
    for _ in range(100):
        admission.adjust(0.2)
    assert admission.rate == 2.0  # never below the minimum
    admission.adjust(0.001)
    assert admission.rate == 2.0  # nothing waiting: no reason to grow
    admission._waiters.append(asyncio.get_running_loop().create_future())
    admission.active = admission.max_active  # nobody can start, somebody waits
    admission.adjust(0.001)
    assert admission.rate == 2.0 + GROW_PER_TICK


async def test_never_more_than_max_active_at_once_whatever_the_rate():
    admission = AdaptiveAdmission(rate=1000.0, max_active=3, clock=ManualClock())
    for _ in range(3):
        await admission.acquire()
    waiter = asyncio.create_task(admission.acquire())
    await settle()
    assert admission.waiting == 1
    admission.release()
    await asyncio.wait_for(waiter, 1)
    assert admission.active == 3
    for _ in range(3):
        admission.release()
    admission._watcher.cancel()


async def test_the_watcher_measures_real_loop_lag_and_stops_when_nobody_waits():
    rates: list[float] = []
    admission = AdaptiveAdmission(
        rate=4.0, max_rate=4.0, target_lag=0.02, tick=0.01, on_tick=lambda rate, _waiting: rates.append(rate)
    )
    for _ in range(ALWAYS_ALLOWED):
        await admission.acquire()
    waiter = asyncio.create_task(admission.acquire())
    await asyncio.sleep(0.02)  # the watcher is running
    time.sleep(0.1)  # noqa: ASYNC251 - blocking on purpose: the loop runs 100 ms late
    await asyncio.sleep(0.01)
    assert min(rates) <= 4.0 * SHRINK  # the late tick slowed starts
    await asyncio.wait_for(waiter, 2)  # tokens keep coming: the waiter starts
    await asyncio.sleep(0.05)
    assert admission._watcher.done()
    for _ in range(ALWAYS_ALLOWED + 1):
        admission.release()


async def test_a_cancelled_waiter_gives_up_its_place_and_loses_nothing():
    admission = AdaptiveAdmission(max_active=1, clock=ManualClock())
    await admission.acquire()
    first = asyncio.create_task(admission.acquire())
    second = asyncio.create_task(admission.acquire())
    await settle()
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    assert admission.waiting == 1
    admission.release()
    await asyncio.wait_for(second, 1)
    assert admission.active == 1
    admission.release()
    assert admission.active == 0
    admission._watcher.cancel()


async def test_a_waiter_cancelled_just_as_it_was_admitted_passes_its_place_on():
    admission = AdaptiveAdmission(max_active=1, clock=ManualClock())
    await admission.acquire()
    first = asyncio.create_task(admission.acquire())
    second = asyncio.create_task(admission.acquire())
    await settle()
    admission.release()  # admits `first`...
    first.cancel()  # ...which is cancelled before it runs
    await asyncio.gather(first, return_exceptions=True)
    await asyncio.wait_for(second, 1)
    assert admission.active == 1 and admission.waiting == 0
    admission.release()
    admission._watcher.cancel()
