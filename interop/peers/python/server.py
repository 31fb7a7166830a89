#!/usr/bin/python3
"""Scenario WebSocket server for the wsreconnect interop suite.

Built on the `websockets` library as Debian ships it (python3-websockets 10.4,
legacy asyncio API). Run it with the system interpreter::

    /usr/bin/python3 server.py [--port N] [--ping-interval S] [--ping-timeout S]

Port 0 (the default) picks a free port; the first line printed on stdout is
the port the server listens on (127.0.0.1 only).

Paths (the `id` query parameter names the counter key, else the path):
    /echo                      echo every message with its type
    /close?code=C&reason=R&after=N|ms=N
                               echo, then close with code C after N messages
                               or N ms
    /maxsize?max=N             echo with websockets' max_size=N: a larger
                               message gets the library's own 1009 close
    /refuse?status=S&retry=T   refuse the upgrade with HTTP status S
    /sink                      append every text message, one line each, to
                               the file named by the SINK_FILE environment
                               variable, fsync it, and only then answer a
                               "seq:N ..." message with the cumulative ack
                               "ack:N" (N the highest sequence number this
                               process has logged); successive processes
                               append to the same file
    GET /stats[?id=K]          JSON counters
    GET /healthz               200 "ok"

--ping-interval/--ping-timeout turn on the library's own keepalive: the
server pings every interval and closes with 1011 when a pong does not come
back within the timeout. SIGTERM closes every connection with 1001 and exits.
"""

import argparse
import asyncio
import http
import json
import os
import signal
import sys
import time
from urllib.parse import parse_qs, urlsplit

import websockets
import websockets.exceptions

RECORD_LIMIT = 100000
STARTED = time.time()
STATS = {}
SINK_FILE = os.environ.get("SINK_FILE")
SINK = {"fd": None, "highest": -1}


def sink_log(text):
    """Append text as one line to the sink file and fsync it; return the
    highest sequence number logged so far (-1 before any)."""
    if SINK["fd"] is None:
        SINK["fd"] = os.open(SINK_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    data = (text + "\n").encode("utf-8", "surrogatepass")
    os.write(SINK["fd"], data)
    os.fsync(SINK["fd"])
    if text.startswith("seq:"):
        digits = text[4:].split(" ", 1)[0]
        if digits.isdigit():
            SINK["highest"] = max(SINK["highest"], int(digits))
            return SINK["highest"]
    return None


def since_start():
    """Milliseconds since the process started."""
    return int((time.time() - STARTED) * 1000)


def stats_for(key):
    """Return the counter dict for key, creating it on first use."""
    s = STATS.get(key)
    if s is None:
        s = {
            "upgrades": 0,
            "connections": 0,
            "open": 0,
            "refused": 0,
            "messages": 0,
            "textMessages": 0,
            "binaryMessages": 0,
            "bytes": 0,
            "serverCloses": 0,
            "closeCodes": {},
            "connectTimes": [],
            "upgradeTimes": [],
            "record": [],
        }
        STATS[key] = s
    return s


def parse(path):
    """Split a request path into (scenario, query dict, counter key)."""
    parts = urlsplit(path)
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    scenario = parts.path.strip("/") or "echo"
    key = query.get("id") or parts.path
    return scenario, query, key


def int_param(query, name, default):
    try:
        return int(query.get(name, default))
    except (TypeError, ValueError):
        return default


async def process_request(path, headers):
    """Serve /stats and /healthz over plain HTTP and refuse upgrades on /refuse."""
    parts = urlsplit(path)
    if parts.path == "/stats":
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if "id" in query:
            body = {
                "pid": os.getpid(),
                "started": int(STARTED * 1000),
                "key": query["id"],
                "stats": stats_for(query["id"]),
            }
        else:
            body = {"pid": os.getpid(), "started": int(STARTED * 1000), "keys": STATS}
        data = json.dumps(body).encode()
        return http.HTTPStatus.OK, [("Content-Type", "application/json")], data
    if parts.path == "/healthz":
        return http.HTTPStatus.OK, [("Content-Type", "text/plain")], b"ok"
    scenario, query, key = parse(path)
    s = stats_for(key)
    s["upgrades"] += 1
    s["upgradeTimes"].append(since_start())
    if scenario == "refuse":
        s["refused"] += 1
        status = http.HTTPStatus(int_param(query, "status", 503))
        extra = [("Content-Type", "text/plain")]
        if "retry" in query:
            extra.append(("Retry-After", query["retry"]))
        return status, extra, f"{status.value} {status.phrase}\n".encode()
    if scenario == "sink" and not SINK_FILE:
        s["refused"] += 1
        return http.HTTPStatus.INTERNAL_SERVER_ERROR, [], b"SINK_FILE is not set\n"
    if scenario not in ("echo", "close", "maxsize", "sink"):
        s["refused"] += 1
        return http.HTTPStatus.NOT_FOUND, [], b"unknown scenario\n"
    return None


async def handler(ws, path):
    """Run one accepted connection according to its scenario."""
    scenario, query, key = parse(path)
    s = stats_for(key)
    s["connections"] += 1
    s["open"] += 1
    s["connectTimes"].append(since_start())
    record = query.get("record") == "1"
    after = int_param(query, "after", -1)
    ms = int_param(query, "ms", -1)
    if scenario == "maxsize":
        ws.max_size = int_param(query, "max", 1024)

    async def act():
        s["serverCloses"] += 1
        await ws.close(int_param(query, "code", 1000), query.get("reason", ""))

    timer = None
    if scenario == "close":
        if after == 0:
            await act()
        elif ms >= 0:

            async def later():
                await asyncio.sleep(ms / 1000)
                await act()

            timer = asyncio.ensure_future(later())

    received = 0
    try:
        async for message in ws:
            s["messages"] += 1
            if isinstance(message, bytes):
                s["binaryMessages"] += 1
                s["bytes"] += len(message)
            else:
                s["textMessages"] += 1
                s["bytes"] += len(message.encode("utf-8", "surrogatepass"))
                if record and len(s["record"]) < RECORD_LIMIT:
                    s["record"].append(message)
            received += 1
            if scenario == "sink":
                if isinstance(message, str):
                    acked = sink_log(message)
                    if acked is not None:
                        await ws.send(f"ack:{acked}")
                continue
            await ws.send(message)
            if scenario == "close" and after > 0 and received >= after:
                await act()
                break
    except websockets.exceptions.ConnectionClosed:
        pass
    finally:
        if timer is not None:
            timer.cancel()
        await ws.wait_closed()
        code = str(ws.close_code)
        s["closeCodes"][code] = s["closeCodes"].get(code, 0) + 1
        s["open"] -= 1


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "0")))
    parser.add_argument("--ping-interval", type=float, default=None)
    parser.add_argument("--ping-timeout", type=float, default=None)
    args = parser.parse_args()

    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))

    server = await websockets.serve(
        handler,
        "127.0.0.1",
        args.port,
        process_request=process_request,
        ping_interval=args.ping_interval,
        ping_timeout=args.ping_timeout,
        max_size=2**24,
        close_timeout=1,
    )
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    await stop
    server.close()  # closes every connection with 1001
    try:
        await asyncio.wait_for(server.wait_closed(), 2)
    except asyncio.TimeoutError:
        pass


if __name__ == "__main__":
    asyncio.run(main())
