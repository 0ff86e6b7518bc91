#!/usr/bin/env python3
"""Uploads through the API, for scripts/bench (stdlib only; run through bench.py).

  fairness API BUSY_TOKEN BUSY_CONV LONE_TOKEN LONE_CONV IMAGE BACKLOG TRIES PSQL...
      the wait of a lone user's upload (upload → done) while the busy user has BACKLOG
      files queued, topped up before each of TRIES tries; prints "p50_s p99_s max_s"
  files API TOKEN CONV IMAGE N
      uploads N single-page files (10 per request) and waits until every one is
      answered; prints "seconds done failed"
"""
import json
import os
import random
import sys


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


def wait_finished(api, token, message_id, timeout, what):
    """Polls the message until it is done or failed; exits naming `what` when it failed or took over `timeout` s."""
    import time

    start = time.monotonic()
    while True:
        message = get_json(api, token, "/v1/messages/" + message_id)
        if message["status"] in ("done", "failed"):
            break
        if time.monotonic() - start > timeout:
            sys.exit(f"{what} was not done after {timeout} s")
        time.sleep(0.02)
    if message["status"] != "done":
        sys.exit(f"{what} failed: {message.get('error')}")
    return message


def p99(ordered):
    """The 99th percentile of an ascending list (nearest rank)."""
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def fairness(api, busy_token, busy_conv, lone_token, lone_conv, image_path, backlog, tries, psql):
    import statistics
    import subprocess
    import time
    import urllib.request

    with open(image_path, "rb") as f:
        image = f.read()

    def upload(token, conversation, files):
        return upload_files(api, token, conversation, [(f"page{index}.png", "image/png", image) for index in range(files)])

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
        wait_finished(api, lone_token, message_id, 900, "fairness: the lone user's upload")
        waits.append(time.monotonic() - start)
    waits.sort()
    print(f"{statistics.median(waits):.3f} {p99(waits):.3f} {waits[-1]:.3f}")


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
