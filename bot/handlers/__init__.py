"""Slack surfaces: parse the request, call a service, render. Nothing else lives here.

`register` wires every listener through a `Surface`, which records what was registered so a test
can compare the app's listeners with what manifest.yml declares, in both directions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from slack_bolt.async_app import AsyncApp

from bot.runtime import Runtime

MESSAGE_CHANNEL_TYPES = {
    "message.im": "im",
    "message.channels": "channel",
    "message.groups": "group",
    "message.mpim": "mpim",
}


@dataclass
class Surface:
    app: AsyncApp
    events: set[str] = field(default_factory=set)  # manifest names, e.g. "message.im", "app_mention"
    commands: set[str] = field(default_factory=set)
    shortcuts: set[str] = field(default_factory=set)  # callback ids
    actions: set[str] = field(default_factory=set)
    views: set[str] = field(default_factory=set)
    agent_view: bool = False  # Slack's agent messaging (manifest `features.agent_view`)
    assistant: bool = False  # the Assistant panel, for apps still on `assistant_view`
    # Events only apps created before agent messaging receive (not in manifest.yml; see README).
    legacy_events: set[str] = field(default_factory=set)

    def event(self, manifest_name: str, matchers: list | None = None):
        """Listen to a manifest event. `message.<channel type>` becomes Bolt's `message` event
        narrowed to that channel type (Bolt's dict constraints ignore `channel_type`)."""
        self.events.add(manifest_name)
        if manifest_name.startswith("message."):
            channel_type = MESSAGE_CHANNEL_TYPES[manifest_name]

            async def in_channel_type(event) -> bool:
                return event.get("channel_type") == channel_type

            return self.app.event("message", matchers=[in_channel_type, *(matchers or [])])
        return self.app.event(manifest_name, matchers=matchers)

    def command(self, name: str):
        self.commands.add(name)
        return self.app.command(name)

    def message_shortcut(self, callback_id: str):
        self.shortcuts.add(callback_id)
        return self.app.message_shortcut(callback_id)

    def action(self, action_id: str):
        self.actions.add(action_id)
        return self.app.action(action_id)

    def view(self, callback_id: str):
        self.views.add(callback_id)
        return self.app.view(callback_id)


def register(app: AsyncApp, runtime: Runtime) -> Surface:
    from bot.conversations import ConversationService
    from bot.handlers import (
        agent,
        answers,
        assistant,
        commands,
        connections,
        delivery,
        export,
        fallback,
        home,
        keys,
        lifecycle,
        messages,
        workflows,
    )
    from bot.viewing import ViewMemory

    surface = Surface(app)
    views = ViewMemory()  # what each person is looking at (agent_view's app_context_changed)
    routes: dict = {}  # /atom subcommand → handler, filled by the features that own them
    conversations = ConversationService(runtime, runtime.memory, runtime.usage, runtime.cooldowns)
    # Bolt tries listeners in registration order, building each matcher's arguments: the most
    # frequent requests (messages) go first.
    messages.register(surface, runtime, conversations, views, scheduled=workflows.dm_planning(runtime))
    commands.register(surface, runtime, routes)
    agent.register(surface, runtime, views)  # before home: the Messages tab's app_home_opened
    home_tab = home.register(surface, runtime)
    keys.register(surface, runtime, routes, home_tab)
    answers.register(surface, runtime, routes, conversations, runtime.usage, home_tab)
    assistant.register(surface, runtime, conversations, views)
    connections.register(surface, runtime, routes, home_tab)
    delivery.register(surface, runtime, conversations)
    workflows.register(surface, runtime, routes, home_tab)
    export.register(surface, runtime, routes)
    lifecycle.register(surface, runtime)
    fallback.register(surface)  # last: catches what no listener above claimed
    return surface
