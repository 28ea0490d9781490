"""Azure OpenAI: ``RealtimeModel.with_azure`` against the ``openai`` package's Azure client.

The reference is the real SDK (``openai.AsyncAzureOpenAI``): the realtime URL it builds
for an endpoint, and the handshake and first event its ``beta.realtime.connect`` sends to
a websocket server on 127.0.0.1. voxpipe's provider connects to the same server with the
model ``with_azure`` made; path, query, auth header and the event dialect must agree.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import openai
import pytest
from openai.types.beta.realtime import SessionUpdateEvent
from websockets.asyncio.server import ServerConnection, serve

from ipc.schema import ModelSpec
from pipeline.plugins.openai.realtime import RealtimeModel
from pipeline.providers.openai import create_provider

API_VERSION = "2024-10-01-preview"


def _sdk(endpoint: str | None = None, *, ws_base: str | None = None,
         **auth: Any) -> openai.AsyncAzureOpenAI:
    return openai.AsyncAzureOpenAI(azure_endpoint=endpoint or "https://res.openai.azure.com",
                                   api_version=API_VERSION, websocket_base_url=ws_base,
                                   **auth)


@pytest.mark.parametrize("auth", [{"api_key": "azure-key"}, {"entra_token": "entra-jwt"}])
def test_url_and_auth_headers_are_the_sdks(auth: dict[str, str]) -> None:
    async def main() -> None:
        sdk_auth = ({"api_key": auth["api_key"]} if "api_key" in auth
                    else {"azure_ad_token": auth["entra_token"]})
        url, headers = await _sdk(**sdk_auth)._configure_realtime("my-deployment", {})
        model = RealtimeModel.with_azure(
            azure_deployment="my-deployment", azure_endpoint="https://res.openai.azure.com/",
            api_version=API_VERSION, **auth)
        assert await model.url() == str(url)
        assert str(url).startswith("wss://res.openai.azure.com/openai/realtime?")
        if "api_key" in auth:
            assert headers == {"api-key": "azure-key"}
            assert (model.settings.api_key_header, model.api_key) == ("api-key", "azure-key")
        else:
            assert headers == {"Authorization": "Bearer entra-jwt"}
            assert (model.settings.api_key_header, model.api_key) == (
                "authorization", "entra-jwt")
        assert model.settings.protocol == "beta"

    asyncio.run(main())


def test_with_azure_reads_azures_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AZURE_OPENAI_API_KEY", "OPENAI_API_VERSION", "AZURE_OPENAI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="Missing credentials"):
        RealtimeModel.with_azure(azure_deployment="d")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "k")
    with pytest.raises(ValueError, match="OPENAI_API_VERSION"):
        RealtimeModel.with_azure(azure_deployment="d")
    monkeypatch.setenv("OPENAI_API_VERSION", API_VERSION)
    with pytest.raises(ValueError, match="AZURE_OPENAI_ENDPOINT"):
        RealtimeModel.with_azure(azure_deployment="d")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://env.openai.azure.com")
    model = RealtimeModel.with_azure(azure_deployment="d")
    assert asyncio.run(model.url()) == (
        f"wss://env.openai.azure.com/openai/realtime?api-version={API_VERSION}&deployment=d")
    with pytest.raises(ValueError, match="mutually exclusive"):
        RealtimeModel.with_azure(azure_deployment="d", base_url="wss://x/openai",
                                 azure_endpoint="https://y")


@asynccontextmanager
async def _recording_server() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A websocket server on 127.0.0.1 keeping each handshake and its first event."""
    seen: list[dict[str, Any]] = []

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        first = json.loads(await ws.recv())
        seen.append({"path": ws.request.path, "headers": dict(ws.request.headers),
                     "first": first})
        await ws.close()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"127.0.0.1:{port}", seen


def test_handshake_and_dialect_match_the_sdks_connection() -> None:
    async def main() -> None:
        async with _recording_server() as (host, seen):
            client = _sdk(ws_base=f"ws://{host}/openai", api_key="azure-key")
            async with client.beta.realtime.connect(model="my-deployment") as conn:
                await conn.session.update(session={"instructions": "Be brief."})
                await asyncio.sleep(0.2)
            model = RealtimeModel.with_azure(
                azure_deployment="my-deployment", base_url=f"http://{host}/openai",
                api_version=API_VERSION, api_key="azure-key", instructions="Be brief.")
            provider = create_provider()
            spec = ModelSpec(url=await model.url(), api_key=model.api_key,
                             api_key_header=model.settings.api_key_header,
                             name=model.settings.model, protocol=model.settings.protocol,
                             settings=model.settings.session)
            await provider.connect(spec, input_rate=24000, output_rate=24000)
            await asyncio.sleep(0.2)
            await provider.close()
        sdk, ours = seen
        assert ours["path"] == sdk["path"]
        assert sdk["path"] == f"/openai/realtime?api-version={API_VERSION}&deployment=my-deployment"
        for header in ("api-key", "openai-beta"):
            assert ours["headers"][header] == sdk["headers"][header], header
        assert "authorization" not in ours["headers"]
        # The dialect: both open with a beta session.update the SDK's own type accepts.
        assert sdk["first"]["type"] == ours["first"]["type"] == "session.update"
        SessionUpdateEvent.model_validate(ours["first"])
        assert ours["first"]["session"]["instructions"] == "Be brief."
        assert ours["first"]["session"]["modalities"] == ["text", "audio"]

    asyncio.run(main())
