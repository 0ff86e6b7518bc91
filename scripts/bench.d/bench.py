#!/usr/bin/env python3
"""Small helpers for scripts/bench (stdlib only); the larger ones live in
uploads.py (fairness, files) and streams.py (subscribers, bots), run through here.

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
        import streams
        streams.subscribers(*args[:6], psql=args[6:])
    elif command == "files":
        import uploads
        uploads.files(*args)
    elif command == "bots":
        import streams
        streams.bots(*args)
    elif command == "fairness":
        import uploads
        uploads.fairness(*args[:8], psql=args[8:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
