"""Issue 8, finding 5: an endpoint a person types must be https and public. Internal addresses,
metadata names, numeric tricks and control characters are field errors; loopback and the ranges
an operator allows pass; the address is checked again before every connection; a connection
failure is reported as one."""

from __future__ import annotations

import socket

import pytest

from bot.identity import Person
from bot.llm.endpoints import address_problem, parse_networks
from bot.storage.encryption import Secret
from tests.fakes import payloads
from tests.keyhelpers import AZURE_KEY, azure_fields, credentials, eventually, settle, submit_key

REFUSED = [
    "https://169.254.169.254/",
    "https://metadata.google.internal",
    "https://metadata.google.internal.",
    "https://10.0.0.1",
    "https://192.168.0.10",
    "https://172.16.5.4",
    "https://100.64.0.1",  # CGNAT
    "https://[fd00::1]",
    "https://[fe80::1]",
    "https://[::ffff:10.0.0.1]",
    "https://[::ffff:169.254.169.254]",
    "https://0.0.0.0",
    "https://0x7f.1",
    "https://2130706433",
    "https://017700000001",
    "https://127.1",
    "https://my-resource.openai.azure.com\r\nX-Injected: 1",
    "https://my-resource.openai.azure.com/\nopenai",
    "https://my resource.openai.azure.com",
    "https://user:pass@my-resource.openai.azure.com",
    "http://my-resource.openai.azure.com",
    "ftp://my-resource.openai.azure.com",
]


@pytest.mark.parametrize("endpoint", REFUSED)
async def test_an_internal_endpoint_is_a_field_error_and_nothing_is_sent(atom_sqlite, endpoint):
    resp = await submit_key(atom_sqlite, "azure", AZURE_KEY, **azure_fields(endpoint))
    assert resp.status == 200
    answer = resp.json
    assert answer["response_action"] == "errors" and answer["errors"]["endpoint"], answer
    await settle(atom_sqlite)
    assert atom_sqlite.providers.requests == []  # no key check, no key sent anywhere
    assert await credentials(atom_sqlite) == []


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:{port}/azure", "http://localhost:{port}/azure"])
async def test_loopback_endpoints_stay_allowed(atom_sqlite, endpoint):
    port = atom_sqlite.providers.port
    await submit_key(atom_sqlite, "azure", AZURE_KEY, **azure_fields(endpoint.format(port=port)))
    await settle(atom_sqlite)
    assert [c.provider for c in await credentials(atom_sqlite)] == ["azure"]


async def test_an_operator_allowed_private_range_is_accepted(atom_sqlite):
    await atom_sqlite.stop()
    await atom_sqlite.start(ATOM_ALLOWED_PRIVATE_NETWORKS="10.77.0.0/16", ATOM_VALIDATE_KEYS="false")
    resp = await submit_key(atom_sqlite, "azure", AZURE_KEY, **azure_fields("https://10.77.3.4"))
    assert "errors" not in resp.text
    await settle(atom_sqlite)
    assert [c.provider for c in await credentials(atom_sqlite)] == ["azure"]
    refused = await submit_key(atom_sqlite, "azure", AZURE_KEY, **azure_fields("https://10.78.3.4"))
    assert refused.json["errors"]["endpoint"]


async def test_dns_is_resolved_and_every_address_must_be_public():
    # "localhost" resolves to loopback (allowed); a literal inside an allowed range passes.
    assert await address_problem("https://localhost:8443") is None
    assert await address_problem("https://10.1.2.3", parse_networks(["10.0.0.0/8"])) is None
    assert "does not resolve" in await address_problem("https://no-such-host.invalid")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_a_key_check_that_cannot_connect_says_so(atom_sqlite):
    endpoint = f"http://127.0.0.1:{_closed_port()}/azure"
    await submit_key(atom_sqlite, "azure", AZURE_KEY, **azure_fields(endpoint))
    await settle(atom_sqlite)
    [result] = [c for c in atom_sqlite.slack.calls_to("views.update") if "Azure" in str(c.params)]
    shown = str(result.params["view"])
    assert "could not connect to your Azure endpoint" in shown
    assert "server error" not in shown and "500" not in shown


async def _store_azure(atom, endpoint: str) -> None:
    """A stored Azure key, as if its endpoint was acceptable when saved."""
    await atom.runtime.vault.save(
        Person("", "T1", "U1"),
        "azure",
        Secret(AZURE_KEY),
        {"endpoint": endpoint, "deployments": {"chat-mini": "gpt-4o-mini"}, "api_version": "2024-10-21"},
        scope="personal",
        check=None,
    )


async def test_an_answer_that_cannot_connect_blames_the_connection_not_the_server(atom_sqlite):
    await _store_azure(atom_sqlite, f"http://127.0.0.1:{_closed_port()}/azure")
    await atom_sqlite.client.event(payloads.message_im_event("hello there"))
    await eventually(lambda: "Azure endpoint" in atom_sqlite.slack.all_text())
    await settle(atom_sqlite)
    said = atom_sqlite.slack.all_text()
    assert "could not connect to your Azure endpoint" in said
    assert "server error" not in said and "(500)" not in said


async def test_the_address_is_checked_again_before_connecting(atom_sqlite):
    """A stored endpoint that now points into a private network (DNS rebinding, or stored before
    the rule) gets no request: the key never leaves."""
    await _store_azure(atom_sqlite, "https://10.9.8.7")
    await atom_sqlite.client.event(payloads.message_im_event("hello there"))
    await eventually(lambda: "Azure endpoint" in atom_sqlite.slack.all_text())
    await settle(atom_sqlite)
    assert "did not connect to your Azure endpoint" in atom_sqlite.slack.all_text()
    assert atom_sqlite.providers.requests == []
    await atom_sqlite.client.block_action("key_check", value="azure", view={"type": "home", "id": "VH"})
    await settle(atom_sqlite)
    [row] = await credentials(atom_sqlite)
    assert "did not connect to your Azure endpoint" in row.status_detail
