#!/usr/bin/env python3
"""Reads the HAR files of a Schemathesis run (plus the script's own requests)
and checks what Schemathesis itself cannot: that EVERY error answer, on any
path and method (an undocumented method or a route that does not exist
included), is the API's JSON error shape, and that no answer is a 5xx.
Prints the number of requests and the statuses seen; exits 1 on a breach.

    audit.py HAR [HAR ...] [--extra N]
"""
import collections
import json
import sys


def error_shape_problem(response):
    """None when the response is `{"error": {"code", "message", "field"?, "limit"?, "reset_at"?}}` as JSON
    (the last two only on a 429), else why not."""
    headers = {h["name"].lower(): h["value"] for h in response.get("headers", [])}
    content_type = headers.get("content-type", "")
    if not content_type.startswith("application/json"):
        return f"content-type {content_type!r}"
    text = response.get("content", {}).get("text")
    if text is None:
        return "no body"
    if response.get("content", {}).get("encoding") == "base64":
        import base64
        text = base64.b64decode(text).decode("utf-8", "replace")
    try:
        body = json.loads(text)
    except ValueError:
        return "body is not JSON"
    if not isinstance(body, dict) or set(body) != {"error"} or not isinstance(body["error"], dict):
        return "body is not {\"error\": {...}}"
    detail = body["error"]
    if not isinstance(detail.get("code"), str) or not isinstance(detail.get("message"), str):
        return "error.code or error.message is not a string"
    allowed = {"code", "message", "field"} | ({"limit", "reset_at"} if response.get("status") == 429 else set())
    if set(detail) - allowed:
        return f"unexpected keys {sorted(set(detail) - allowed)}"
    if "field" in detail and not isinstance(detail["field"], str):
        return "error.field is not a string"
    if "limit" in detail and not isinstance(detail["limit"], int):
        return "error.limit is not an integer"
    if "reset_at" in detail and not isinstance(detail["reset_at"], str):
        return "error.reset_at is not a string"
    return None


def main(argv):
    extra = 0
    paths = []
    args = iter(argv)
    for arg in args:
        if arg == "--extra":
            extra = int(next(args))
        else:
            paths.append(arg)
    statuses = collections.Counter()
    problems = []
    total = 0
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            entries = json.load(handle)["log"]["entries"]
        total += len(entries)
        for entry in entries:
            request, response = entry["request"], entry["response"]
            status = response["status"]
            statuses[status] += 1
            where = f"{request['method']} {request['url']}"
            if status >= 500:
                problems.append(f"{status} from {where}")
            elif status >= 400:
                problem = error_shape_problem(response)
                if problem:
                    problems.append(f"{status} from {where}: {problem}")
    print(f"requests: {total + extra} ({total} by Schemathesis, {extra} by the script)")
    print("statuses: " + ", ".join(f"{status}×{count}" for status, count in sorted(statuses.items())))
    server_errors = sum(count for status, count in statuses.items() if status >= 500)
    print(f"server errors: {server_errors}; error answers not in the error shape: {len(problems) - server_errors}")
    for problem in problems[:20]:
        print(f"  {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
