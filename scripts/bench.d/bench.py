#!/usr/bin/env python3
"""Small helpers for scripts/bench (stdlib only).

  bench.py png OUT [SIZE]                       a valid ~100 KB noisy grayscale PNG
  bench.py multipart OUT BOUNDARY CONV_ID PNG   a multipart/form-data body for /v1/chat/file
  bench.py json-get KEY                         prints KEY of the JSON object on stdin
  bench.py wrk FILE                             parses wrk --latency output into shell words:
                                                requests rps p99_ms bad (non-2xx + socket errors)
  bench.py rss FILE                             peak RSS in MB from a `/usr/bin/time -v` report
  bench.py compare DIR_A DIR_B FILE...          "k n" with k = files whose texts match
                                                (whitespace-normalised), then a line per mismatch
  bench.py table ROWS.tsv                       the markdown table of the rows (id, measure, figure, target)
  bench.py fairness API BUSY_TOKEN BUSY_CONV LONE_TOKEN LONE_CONV IMAGE BACKLOG TRIES PSQL...
                                                the wait of a lone user's upload (upload → done) while the
                                                busy user has BACKLOG files queued, topped up before each of
                                                TRIES tries; prints "p50_s p99_s max_s" (PSQL: a psql command)
  bench.py fake-llm PORT LATENCY_S              an OpenAI-compatible chat server on 127.0.0.1:PORT that answers
                                                every completion after LATENCY_S (word by word over LATENCY_S
                                                when asked to stream); GET /stats tells the most requests it
                                                held at once
  bench.py subscribers HOST PORT TOKEN COUNT PROBES API_PID PSQL...
                                                opens COUNT idle event streams (one conversation each, made
                                                with PSQL), then commits PROBES messages one at a time and
                                                times each commit → event; prints "connected rss_before_mb
                                                rss_after_mb p50_ms p99_ms"
  bench.py files API TOKEN CONV IMAGE N         uploads N single-page files (10 per request) and waits until
                                                every one is answered; prints "seconds done failed"
"""
import json
import os
import random
import re
import struct
import sys
import zlib


def png(out, size=320):
    rng = random.Random(20240601)
    rows = b"".join(b"\x00" + rng.randbytes(size) for _ in range(size))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    data = b"\x89PNG\r\n\x1a\n"
    data += chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0))  # 8-bit grayscale
    data += chunk(b"IDAT", zlib.compress(rows, 9))
    data += chunk(b"IEND", b"")
    with open(out, "wb") as f:
        f.write(data)


def multipart(out, boundary, conversation_id, png_path):
    with open(png_path, "rb") as f:
        image = f.read()
    crlf = b"\r\n"
    body = b"".join([
        b"--" + boundary.encode() + crlf,
        b'Content-Disposition: form-data; name="conversation_id"' + crlf + crlf,
        conversation_id.encode() + crlf,
        b"--" + boundary.encode() + crlf,
        b'Content-Disposition: form-data; name="file"; filename="bench.png"' + crlf,
        b"Content-Type: image/png" + crlf + crlf,
        image + crlf,
        b"--" + boundary.encode() + b"--" + crlf,
    ])
    with open(out, "wb") as f:
        f.write(body)


def to_ms(value):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", value)
    if not m:
        raise ValueError(f"cannot read the latency {value!r}")
    number, unit = float(m.group(1)), m.group(2)
    return number * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}[unit]


def wrk(path):
    text = open(path).read()
    requests = re.search(r"^\s*(\d+) requests in", text, re.M)
    rps = re.search(r"^Requests/sec:\s*([\d.]+)", text, re.M)
    p99 = re.search(r"^\s*99(?:\.000)?%\s+(\S+)", text, re.M)
    if not (requests and rps and p99):
        sys.exit(f"cannot read wrk's output in {path}")
    bad = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    if non2xx:
        bad += int(non2xx.group(1))
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if sockets:
        bad += sum(int(g) for g in sockets.groups())
    print(requests.group(1), rps.group(1), f"{to_ms(p99.group(1)):.2f}", bad)


def rss(path):
    text = open(path).read()
    m = re.search(r"Maximum resident set size \(kbytes\):\s*(\d+)", text)
    if not m:
        sys.exit(f"no 'Maximum resident set size' in {path}")
    print(f"{int(m.group(1)) / 1024:.0f}")


def compare(dir_a, dir_b, files):
    def read(folder, name):
        stem = os.path.splitext(name)[0]
        for candidate in (name + ".txt", stem + ".txt"):
            p = os.path.join(folder, candidate)
            if os.path.exists(p):
                return " ".join(open(p, encoding="utf-8", errors="replace").read().split())
        return None

    same, lines = 0, []
    for name in files:
        a, b = read(dir_a, name), read(dir_b, name)
        if a is None or b is None:
            lines.append(f"{name}: missing output ({'scribe' if a is None else 'cli'})")
        elif a == b:
            same += 1
        else:
            prefix = os.path.commonprefix([a, b])
            lines.append(f"{name}: differs after {len(prefix)} chars: scribe {a[len(prefix):len(prefix)+40]!r} vs cli {b[len(prefix):len(prefix)+40]!r}")
    print(same, len(files))
    for line in lines:
        print(line)


def table(path):
    print("| # | measure | figure | target |")
    print("|---|---|---|---|")
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                print("| " + " | ".join(line.split("\t")) + " |")


def upload_files(api, token, conversation, files):
    """POSTs files [(name, content type, bytes)] to /v1/chat/file in one request; returns the JSON answer."""
    import urllib.request

    boundary = "ScribeBench" + str(random.randrange(1 << 60))
    crlf = b"\r\n"
    parts = [b"--" + boundary.encode() + crlf, b'Content-Disposition: form-data; name="conversation_id"' + crlf + crlf,
             conversation.encode() + crlf]
    for name, content_type, data in files:
        parts += [b"--" + boundary.encode() + crlf,
                  f'Content-Disposition: form-data; name="file"; filename="{name}"'.encode() + crlf,
                  f"Content-Type: {content_type}".encode() + crlf + crlf, data + crlf]
    parts.append(b"--" + boundary.encode() + b"--" + crlf)
    request = urllib.request.Request(api + "/v1/chat/file", data=b"".join(parts), method="POST", headers={
        "Authorization": "Bearer " + token, "Content-Type": "multipart/form-data; boundary=" + boundary})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def get_json(api, token, path):
    """GETs an API path with the token; returns the JSON answer."""
    import urllib.request

    request = urllib.request.Request(api + path, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def fairness(api, busy_token, busy_conv, lone_token, lone_conv, image_path, backlog, tries, psql):
    import statistics
    import subprocess
    import time
    import urllib.request

    with open(image_path, "rb") as f:
        image = f.read()

    def upload(token, conversation, files):
        return upload_files(api, token, conversation, [(f"page{index}.png", "image/png", image) for index in range(files)])

    def message(token, message_id):
        return get_json(api, token, "/v1/messages/" + message_id)

    def queued():
        query = ("SELECT count(*) FROM jobs j JOIN uploads u ON u.id = (j.args->>'upload_id')::uuid "
                 f"WHERE j.state = 'available' AND j.kind = 'ocr' AND u.conversation_id = '{busy_conv}'")
        return int(subprocess.run(psql + ["-c", query], capture_output=True, text=True, check=True).stdout.strip())

    waits = []
    for _ in range(int(tries)):
        missing = int(backlog) - queued()
        while missing > 0:
            upload(busy_token, busy_conv, min(10, missing))
            missing -= 10
        start = time.monotonic()
        message_id = upload(lone_token, lone_conv, 1)["message_id"]
        while True:
            answer = message(lone_token, message_id)
            if answer["status"] in ("done", "failed"):
                break
            if time.monotonic() - start > 900:
                sys.exit("fairness: the lone user's upload was not done after 900 s")
            time.sleep(0.02)
        if answer["status"] != "done":
            sys.exit(f"fairness: the lone user's upload failed: {answer['error']}")
        waits.append(time.monotonic() - start)
    waits.sort()
    p99 = waits[min(len(waits) - 1, int(round(0.99 * (len(waits) - 1))))]
    print(f"{statistics.median(waits):.3f} {p99:.3f} {waits[-1]:.3f}")


def fake_llm(port, latency):
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    lock = threading.Lock()
    stats = {"in_flight": 0, "max_in_flight": 0, "requests": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, body):
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            with lock:
                self.reply(dict(stats))

        def stream(self):
            # Asked to stream: the answer word by word, LATENCY spread over the words.
            words = "The page is an invoice for 1,240.00 EUR, due on 30 November; nothing is overdue.".split(" ")
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            for index, word in enumerate(words):
                time.sleep(float(latency) / len(words))
                chunk = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "model": "bench",
                         "choices": [{"index": 0, "delta": {"content": word if index == 0 else " " + word}}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True

        def do_POST(self):
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            with lock:
                stats["in_flight"] += 1
                stats["requests"] += 1
                stats["max_in_flight"] = max(stats["max_in_flight"], stats["in_flight"])
            try:
                if request.get("stream"):
                    self.stream()
                    return
                time.sleep(float(latency))
            finally:
                with lock:
                    stats["in_flight"] -= 1
            self.reply({
                "id": "chatcmpl-bench", "object": "chat.completion", "created": int(time.time()), "model": "bench",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": "The page is an invoice; nothing is overdue."}}],
                "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}})

    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ThreadingHTTPServer.request_queue_size = 1024
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()


def files(api, token, conversation, image_path, count):
    import time
    import urllib.request

    with open(image_path, "rb") as f:
        image = f.read()
    name = os.path.basename(image_path)
    count = int(count)
    start = time.monotonic()
    pending = []
    for first in range(0, count, 10):
        batch = [(f"{index}-{name}", "application/octet-stream", image) for index in range(first, min(first + 10, count))]
        answer = upload_files(api, token, conversation, batch)
        pending += [item["message_id"] for item in answer["items"]]
    done = failed = 0
    while pending:
        if time.monotonic() - start > 1800:
            sys.exit(f"files: {len(pending)} uploads were not answered after 1800 s")
        time.sleep(0.05)
        # Answers come roughly in order: look at the oldest unanswered until one is not done.
        while pending:
            status = get_json(api, token, "/v1/messages/" + pending[0])["status"]
            if status not in ("done", "failed"):
                break
            done += status == "done"
            failed += status == "failed"
            pending.pop(0)
    print(f"{time.monotonic() - start:.2f} {done} {failed}")


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


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    command, args = argv[1], argv[2:]
    if command == "png":
        png(args[0], int(args[1]) if len(args) > 1 else 320)
    elif command == "multipart":
        multipart(*args)
    elif command == "json-get":
        value = json.load(sys.stdin)
        for key in args[0].split("."):
            value = value[key]
        print(value)
    elif command == "wrk":
        wrk(args[0])
    elif command == "rss":
        rss(args[0])
    elif command == "compare":
        compare(args[0], args[1], args[2:])
    elif command == "table":
        table(args[0])
    elif command == "subscribers":
        subscribers(*args[:6], psql=args[6:])
    elif command == "fake-llm":
        fake_llm(*args)
    elif command == "files":
        files(*args)
    elif command == "bots":
        bots(*args)
    elif command == "fairness":
        fairness(*args[:8], psql=args[8:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
