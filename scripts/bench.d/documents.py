#!/usr/bin/env python3
"""Long scanned documents for scripts/bench (stdlib and poppler only; run through bench.py).

  scan OUT.pdf PAGES LINES [gray|color]
      a scanned-looking PDF of PAGES US-letter pages, each LINES lines of English
      text rendered at 150 ppi (pdftoppm) and kept only as a JPEG: no text layer,
      so every page is read by OCR. 20 distinct pages repeat, numbered in their
      first line ("Page 7 of 100"), so a big file costs 20 renders, not PAGES.
  wait-read API TOKEN MESSAGE_ID PAGES TIMEOUT_S
      polls a file's message until it is read and answered; prints
      "pages_read warnings status"; exits non-zero when it failed or timed out
  page-fairness API BIG_TOKEN BIG_MESSAGE LONE_TOKEN LONE_CONV IMAGE TRIES PSQL...
      while the big document's pages are being read, uploads IMAGE for the lone
      user TRIES times, one after the other, and times each upload → done;
      prints "p50_s p99_s max_s page_time_s tries" where page_time_s is the
      median time one `ocr_page` job of the big document took
  proxy LISTEN_PORT TARGET_PORT DELAY_MS
      a TCP proxy on 127.0.0.1 that delays every chunk by DELAY_MS in each
      direction, keeping order: a network hop's latency where the kernel has
      no netem (tc qdisc netem) to add it
"""
import asyncio
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from uploads import get_json, p99, upload_files, wait_finished

WORDS = (
    "the agreement party notice period payment invoice clause service customer supplier term termination "
    "delivery schedule warranty liability insurance premium report quarter revenue growth market cost "
    "budget account balance transfer receipt amount total tax rate interest loan contract signature date "
    "address office manager department project milestone review approval policy section article annex "
    "pursuant hereby thereof whereas provided shall may must within days months years written consent"
).split()


def _text_pdf(path, pages, lines, total):
    """A PDF of `pages` letter pages of Helvetica text (the pages to render), written by hand."""
    rng = random.Random(19)
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", None, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for page in range(pages):
        rows = [f"Page {page + 1} of {total}"]
        for _ in range(lines - 1):
            rows.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 12))).capitalize() + ".")
        body = "BT /F1 11 Tf 14 TL 72 730 Td " + " ".join(f"({row}) '" for row in rows) + " ET"
        objects.append(f"<< /Length {len(body)} >>\nstream\n{body}\nendstream")
        content = len(objects)
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {content} 0 R >>")
        kids.append(len(objects))
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>"
    _write_pdf(path, [o.encode() for o in objects])


def _write_pdf(path, objects):
    """Writes a PDF of the given object bodies (bytes; object 1 is the catalog)."""
    with open(path, "wb") as out:
        out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(objects, start=1):
            offsets.append(out.tell())
            out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
        xref = out.tell()
        out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
        for offset in offsets:
            out.write(f"{offset:010d} 00000 n \n".encode())
        out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())


def _jpeg_size(data):
    """(width, height, components) from a JPEG's start-of-frame marker."""
    i = 2
    while i < len(data):
        if data[i] != 0xFF:
            raise ValueError("not a JPEG marker")
        marker, length = data[i + 1], int.from_bytes(data[i + 2:i + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            height, width = int.from_bytes(data[i + 5:i + 7], "big"), int.from_bytes(data[i + 7:i + 9], "big")
            return width, height, data[i + 9]
        i += 2 + length
    raise ValueError("no start-of-frame marker")


def scan(out, pages, lines, colour="color"):
    pages, lines = int(pages), int(lines)
    distinct = min(pages, 20)
    folder = tempfile.mkdtemp(prefix="scribe-bench-scan-")
    try:
        source = os.path.join(folder, "text.pdf")
        _text_pdf(source, distinct, lines, pages)
        args = ["pdftoppm", "-r", "150", "-jpeg", "-jpegopt", "quality=75"]
        if colour == "gray":
            args.append("-gray")
        subprocess.run(args + [source, os.path.join(folder, "p")], check=True, timeout=600)
        images = sorted(f for f in os.listdir(folder) if f.endswith(".jpg"))
        if len(images) != distinct:
            sys.exit(f"scan: pdftoppm wrote {len(images)} pages, not {distinct}")
        jpegs = [open(os.path.join(folder, name), "rb").read() for name in images]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    # Objects: 1 catalog, 2 pages, then per page: image, content, page.
    # Every page gets its own image object, as a scanner writes them, and the
    # number in its first line is the distinct page's; only the file's size
    # and page count matter to what is measured.
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", None]
    kids = []
    for page in range(pages):
        data = jpegs[page % distinct]
        width, height, components = _jpeg_size(data)
        space = "/DeviceGray" if components == 1 else "/DeviceRGB"
        objects.append(f"<< /Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace {space} "
                       f"/BitsPerComponent 8 /Filter /DCTDecode /Length {len(data)} >>\nstream\n".encode() + data + b"\nendstream")
        image = len(objects)
        draw = b"q 612 0 0 792 0 0 cm /Im0 Do Q"
        objects.append(f"<< /Length {len(draw)} >>\nstream\n".encode() + draw + b"\nendstream")
        content = len(objects)
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /Im0 {image} 0 R >> >> "
                       f"/Contents {content} 0 R >>".encode())
        kids.append(len(objects))
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>".encode()
    _write_pdf(out, objects)


def wait_read(api, token, message_id, pages, timeout):
    message = wait_finished(api, token, message_id, float(timeout), f"wait-read: {message_id}")
    details = (message.get("attachments") or [{}])[0].get("page_details") or []
    warnings = sum(1 for page in details if page.get("warning"))
    if len(details) != int(pages):
        sys.exit(f"wait-read: {len(details)} pages read, not {pages}")
    print(len(details), warnings, message["status"])


def page_fairness(api, big_token, big_message, lone_token, lone_conv, image_path, tries, psql):
    data = open(image_path, "rb").read()
    kind = "image/jpeg" if image_path.endswith(".jpg") else "image/png"

    def query(sql):
        return subprocess.run(psql + ["-c", sql], capture_output=True, text=True, check=True, timeout=30).stdout.strip()

    pages_read = f"SELECT count(*) FROM jobs WHERE kind = 'ocr_page' AND state = 'succeeded' AND (args->>'message_id')::uuid = '{big_message}'"
    deadline = time.monotonic() + 300
    while int(query(pages_read) or 0) < 1:
        if time.monotonic() > deadline:
            sys.exit("page-fairness: the big document's first page was not read within 300 s")
        time.sleep(0.1)
    waits = []
    for attempt in range(int(tries)):
        if get_json(api, big_token, "/v1/messages/" + big_message)["status"] in ("done", "failed"):
            sys.exit(f"page-fairness: the big document was read before try {attempt + 1} of {tries}; give it more pages")
        start = time.monotonic()
        message_id = upload_files(api, lone_token, lone_conv, [(f"photo-{attempt}.png", kind, data)])["message_id"]
        wait_finished(api, lone_token, message_id, 600, "page-fairness: the lone user's photo")
        waits.append(time.monotonic() - start)
        time.sleep(random.uniform(0, 1))  # arrive at a random point of a page's reading
    waits.sort()
    page_time = float(query(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at)) "
        f"FROM jobs WHERE kind = 'ocr_page' AND state = 'succeeded' AND (args->>'message_id')::uuid = '{big_message}'") or "nan")
    print(f"{statistics.median(waits):.2f} {p99(waits):.2f} {waits[-1]:.2f} {page_time:.2f} {len(waits)}")


async def _proxy(listen_port, target_port, delay):
    async def pump(reader, writer):
        # Each chunk leaves `delay` after it arrived; a queue keeps the order.
        pending = asyncio.Queue()

        async def send():
            while True:
                due, chunk = await pending.get()
                if chunk is None:
                    break
                wait = due - asyncio.get_running_loop().time()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(chunk)
                await writer.drain()
            writer.close()

        sender = asyncio.create_task(send())
        try:
            while chunk := await reader.read(65536):
                pending.put_nowait((asyncio.get_running_loop().time() + delay, chunk))
        except ConnectionError:
            pass
        pending.put_nowait((0, None))
        try:
            await sender
        except ConnectionError:
            pass

    async def connection(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pump(client_reader, server_writer), pump(server_reader, client_writer))

    server = await asyncio.start_server(connection, "127.0.0.1", listen_port)
    # SIGTERM (scripts/bench stopping it) ends it with status 0.
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()


def proxy(listen_port, target_port, delay_ms):
    asyncio.run(_proxy(int(listen_port), int(target_port), float(delay_ms) / 1000))


def main(command, args):
    if command == "scan":
        scan(*args)
    elif command == "wait-read":
        wait_read(*args)
    elif command == "page-fairness":
        page_fairness(*args[:7], psql=args[7:])
    elif command == "proxy":
        proxy(*args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
