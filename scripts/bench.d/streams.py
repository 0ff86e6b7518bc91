#!/usr/bin/env python3
"""Many clients at once over raw connections, for scripts/bench (stdlib only; run through bench.py).

  subscribers HOST PORT TOKEN COUNT PROBES API_PID PSQL...
      opens COUNT idle event streams (one conversation each, made with PSQL), then commits
      PROBES messages one at a time and times each commit → event; prints "connected
      rss_before_mb rss_after_mb p50_ms p99_ms"
  bots HOST PORT KEY COUNT SECONDS
      COUNT bots on POST /v1/chat/send for SECONDS; prints "answered refused p50_ms p99_ms"
"""
import json
import sys


def subscribers(host, port, token, count, probes, api_pid, psql):
    import asyncio
    import resource
    import statistics
    import subprocess
    import time

    count, probes, port = int(count), int(probes), int(port)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    def rss_mb():
        with open(f"/proc/{api_pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
        return -1

    def sql(query):
        return subprocess.run(psql + ["-c", query], capture_output=True, text=True, check=True).stdout.strip()

    # The token's own user (its `sub`), who owns the conversations it may stream.
    import base64
    claims = token.split(".")[1]
    owner = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["sub"]
    conversations = sql(
        f"INSERT INTO conversations (id, user_id, title) SELECT gen_random_uuid(), '{owner}', 'bench stream ' || n "
        f"FROM generate_series(1, {count}) n RETURNING id").split()
    rss_before = rss_mb()

    async def main():
        arrivals = {}
        ready = 0
        done_opening = asyncio.Event()

        async def stream(conversation):
            nonlocal ready
            for attempt in range(20):
                try:
                    reader, writer_ = await asyncio.open_connection(host, port)
                    break
                except OSError:
                    await asyncio.sleep(0.05 * (attempt + 1))
            else:
                raise SystemExit("subscribers: could not connect")
            writer_.write((f"GET /v1/conversations/{conversation}/events HTTP/1.1\r\nHost: {host}\r\n"
                           f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n").encode())
            await writer_.drain()
            buffer = b""
            counted = False
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                buffer += data
                if not counted and b"event: ready" in buffer:
                    counted = True
                    ready += 1
                    if ready == count:
                        done_opening.set()
                if b"event: message.created" in buffer:
                    arrivals.setdefault(conversation, time.time())
                    buffer = b""
                elif len(buffer) > 1 << 16:
                    buffer = buffer[-4096:]

        tasks = []
        for index, conversation in enumerate(conversations):
            tasks.append(asyncio.create_task(stream(conversation)))
            if index % 200 == 199:
                await asyncio.sleep(0.05)
        await asyncio.wait_for(done_opening.wait(), timeout=300)
        await asyncio.sleep(2)
        rss_after = rss_mb()

        latencies = []
        loop = asyncio.get_running_loop()
        for index in range(probes):
            conversation = conversations[(index * 7919) % len(conversations)]
            if conversation in arrivals:
                continue
            # The server's wall clock just before the commit (same host, same clock as
            # time.time()): the latency includes the commit itself.
            query = (f"INSERT INTO messages (id, conversation_id, role, content, status) VALUES "
                     f"(gen_random_uuid(), '{conversation}', 'user', 'probe {index}', 'done') "
                     f"RETURNING extract(epoch from clock_timestamp())")
            commit_time = float(await loop.run_in_executor(None, sql, query))
            deadline = time.monotonic() + 10
            while conversation not in arrivals and time.monotonic() < deadline:
                await asyncio.sleep(0.0005)
            if conversation not in arrivals:
                raise SystemExit(f"subscribers: probe {index} never arrived")
            latencies.append((arrivals[conversation] - commit_time) * 1000)
            await asyncio.sleep(0.02)
        for task in tasks:
            task.cancel()
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(round(0.99 * (len(latencies) - 1))))]
        return ready, rss_after, statistics.median(latencies), p99

    ready, rss_after, p50, p99 = asyncio.run(main())
    print(f"{ready} {rss_before} {rss_after} {p50:.2f} {p99:.2f}")


def bots(host, port, key, count, seconds):
    """COUNT bots, each one person sending its next message as soon as the
    last is answered, for SECONDS, each over its own keep-alive connection:
    prints answered, refused (non-200), p50 and p99 latency in ms."""
    import asyncio
    import random
    import time

    count, seconds, port = int(count), float(seconds), int(port)
    run = random.randrange(1, 1 << 40)

    async def bot(index, latencies, statuses, deadline):
        reader, writer = await asyncio.open_connection(host, port)
        turn = 0
        while time.monotonic() < deadline:
            turn += 1
            body = json.dumps({"telegram_id": run * 1000 + index, "message": f"Bot message {turn}: what is on the page?"}).encode()
            started = time.monotonic()
            writer.write((f"POST /v1/chat/send HTTP/1.1\r\nHost: {host}\r\nX-API-KEY: {key}\r\n"
                          f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append((time.monotonic() - started) * 1000)
            statuses.append(status)
        writer.close()

    async def main():
        latencies, statuses = [], []
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(bot(index, latencies, statuses, deadline) for index in range(count)))
        return latencies, statuses

    latencies, statuses = asyncio.run(main())
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(round(q * (len(latencies) - 1))))]
    answered = sum(1 for status in statuses if status == 200)
    print(f"{answered} {len(statuses) - answered} {pick(0.5):.2f} {pick(0.99):.2f}")
