"""A running Parlour process: its services and the background work that lives beside them.

Built in one place (`start_runtime`), by the app's lifespan and by the CLI alike, and reached
from requests through `parlour.api.deps.get_runtime`: nothing is attached to the app later.
"""

from __future__ import annotations

from dataclasses import dataclass

from parlour.actions.housekeeping import Housekeeper
from parlour.away.runner import AwayNotifier
from parlour.clock import Clock
from parlour.config import Settings
from parlour.events.hub import Hub
from parlour.events.realtime import Realtime
from parlour.integrations.delivery import WebhookDeliverer
from parlour.services import Services, close_services, open_services


@dataclass(frozen=True)
class Runtime:
    services: Services
    realtime: Realtime
    housekeeper: Housekeeper
    notifier: AwayNotifier
    webhooks: WebhookDeliverer


async def start_runtime(
    settings: Settings, clock: Clock | None = None, *, migrate: bool = True
) -> Runtime:
    services = await open_services(settings, clock, migrate=migrate)
    try:
        # One pass before serving, so what start-up leaves is within every rule; then periodically.
        housekeeper = Housekeeper(services, settings.housekeeping_seconds)
        await housekeeper.run_once()
        housekeeper.start()
        hub = Hub(
            services.db,
            services.epoch,
            poll_seconds=settings.stream_poll_seconds,
            auth_cache=services.auth_cache,
        )
        realtime = Realtime(services, hub)
        await realtime.start()
        notifier = AwayNotifier(services)
        notifier.start()
        webhooks = WebhookDeliverer(services)
        webhooks.start()
    except BaseException:
        await close_services(services)
        raise
    return Runtime(services, realtime, housekeeper, notifier, webhooks)


async def stop_runtime(runtime: Runtime) -> None:
    await runtime.webhooks.stop()
    await runtime.notifier.stop()
    await runtime.realtime.stop()
    await runtime.housekeeper.stop()
    await close_services(runtime.services)
