"""The body of a request as a browser sends it, for the load benchmarks (bench/load.py, bench/locustfile.py): a
multipart upload with the form's fields and the camera's files, a form, or JSON; with the CSRF token and the API
token where they apply. Standard library only, so locust's processes import it cheaply."""

from __future__ import annotations

import json
import time
import urllib.parse


def body(csrf: str, form: dict | None = None, json_body: dict | None = None,
         files: dict[str, tuple[str, bytes, str]] | None = None, token: str | None = None) -> tuple[str | bytes | None, dict[str, str]]:
    """(payload, headers): ``files`` (name → (filename, data, media type)) as multipart with ``form``'s fields, else
    ``form`` URL-encoded, else ``json_body`` as JSON; a form carries ``csrf``; ``token`` as a bearer token."""
    headers: dict[str, str] = {}
    payload: str | bytes | None = None
    if files is not None:
        boundary = f"bench{time.monotonic_ns()}"
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
                 for key, value in {**(form or {}), "csrf_token": csrf}.items()]
        for key, (filename, data, media_type) in files.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"; filename="{filename}"\r\n'
                         f"Content-Type: {media_type}\r\n\r\n".encode() + data + b"\r\n")
        payload = b"".join(parts) + f"--{boundary}--\r\n".encode()
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    elif form is not None:
        payload = urllib.parse.urlencode({**form, "csrf_token": csrf})
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif json_body is not None:
        payload = json.dumps(json_body)
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return payload, headers
