"""Drive Steward's MCP door with the official MCP Python SDK.

    python3 tests/mcp/client.py URL MODE < plan.json > results.json

MODE is the SDK's connect mode: "auto" (protocol revision 2026-07-28,
stateless) or "legacy" (2025-11-25: initialize and a session). The plan is a
JSON list of steps, each run on its own connection with its own bearer
token:

    {"token": "...", "op": "list_tools"}
    {"token": "...", "op": "call_tool", "name": "query", "arguments": {...}}
    {"token": "...", "op": "list_resources"}        (every page, following cursors)
    {"token": "...", "op": "read_resource", "uri": "steward://catalog/..."}

The results are a JSON list, one entry per step: the protocol version the
connection spoke, and what came back (tool names; or a tool result's
isError, structuredContent and text). The Rust end-to-end tests write the
plans and hold the results against policy.
"""

import asyncio
import json
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


async def run_step(url, mode, step):
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {step['token']}"}, timeout=30)
    async with http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            out = {"protocol_version": str(client.protocol_version)}
            if step["op"] == "list_tools":
                out["tools"] = sorted(t.name for t in (await client.list_tools()).tools)
            elif step["op"] == "call_tool":
                result = await client.call_tool(step["name"], step.get("arguments", {}))
                out["is_error"] = bool(result.is_error)
                out["structured"] = result.structured_content
                out["text"] = "\n".join(getattr(c, "text", "") for c in result.content)
            elif step["op"] == "list_resources":
                uris, pages, cursor = [], 0, None
                while True:
                    page = await client.list_resources(cursor=cursor)
                    pages += 1
                    uris += [str(r.uri) for r in page.resources]
                    cursor = page.next_cursor
                    if not cursor or pages > 1000:
                        break
                out["uris"], out["pages"] = uris, pages
            elif step["op"] == "read_resource":
                try:
                    result = await client.read_resource(step["uri"])
                    out["text"] = "\n".join(getattr(c, "text", "") for c in result.contents)
                except Exception as e:  # an MCP error answer
                    out["error"] = str(e)
            else:
                raise ValueError(f"unknown op {step['op']!r}")
            return out


async def main():
    url, mode = sys.argv[1], sys.argv[2]
    plan = json.load(sys.stdin)
    results = []
    for step in plan:
        try:
            results.append(await run_step(url, mode, step))
        except Exception as e:  # reported, not raised: the test decides
            results.append({"exception": f"{type(e).__name__}: {e}"})
    json.dump(results, sys.stdout)


asyncio.run(main())
