"""Seed a running Magpie server and write the schema schemathesis runs on.

    prepare.py BASE_URL TOKEN SPEC_IN SPEC_OUT

Uploads a few small files over tus (standard library only) so that the
operations on `{id}` have real ids to start from, then writes a copy of
SPEC_IN (docs/openapi.yaml, which stays free of per-run values) with those
ids, matching ETags and Range headers, a PATCH at the right offset, and a
valid instant-upload offer and proof, added as `examples`. The examples
phase of schemathesis sends them, so the success answers (200, 206, 304,
416, 201, 204) and their headers get checked too; the other phases generate
their own values (random ids, which get 404).

Each operation that destroys what it names (DELETE of a file, DELETE of an
upload) gets ids of its own, so the order schemathesis runs operations in
does not turn a GET into a 404.
"""

import base64
import copy
import hashlib
import http.client
import json
import struct
import sys
import urllib.parse
import zlib

import yaml

BASE, TOKEN, SPEC_IN, SPEC_OUT = sys.argv[1:5]
URL = urllib.parse.urlsplit(BASE)


def request(method, path, headers=None, body=None):
    conn = http.client.HTTPConnection(URL.hostname, URL.port, timeout=30)
    all_headers = {"Authorization": f"Bearer {TOKEN}"}
    all_headers.update(headers or {})
    conn.request(method, path, body=body, headers=all_headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, response.headers, data


def fail(message):
    print(f"interop/openapi: seeding failed: {message}", file=sys.stderr)
    sys.exit(1)


def tus_create(name, length, first=b""):
    """Create an upload of `length` bytes named `name`, sending `first`."""
    headers = {
        "Tus-Resumable": "1.0.0",
        "Upload-Length": str(length),
        "Upload-Metadata": "filename " + base64.b64encode(name.encode()).decode(),
    }
    if first:
        headers["Content-Type"] = "application/offset+octet-stream"
    status, out, _ = request("POST", "/api/uploads", headers, first or None)
    if status != 201:
        fail(f"POST /api/uploads for {name}: {status}")
    upload = out["Location"].rsplit("/", 1)[-1]
    return upload, out.get("Magpie-File-Id")


def upload_file(name, content):
    upload, file_id = tus_create(name, len(content), content)
    if not file_id:
        fail(f"{name}: no Magpie-File-Id after the last byte")
    return upload, file_id


def png(width, height):
    """A small RGBA PNG with some transparency (so its thumbnail is a PNG)."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 16 % 256, y * 16 % 256, 128, 255 if x < width // 2 else 64)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


text = "Magpie interop: schemathesis seed file.\n".encode() * 4
done_upload, text_file = upload_file("seed notes.txt", text)
_, image_file = upload_file("seed-image.png", png(24, 16))
_, doomed_file = upload_file("delete me.bin", b"\x00\x01\x02 to be deleted by DELETE /api/files/{id}")
partial_upload, _ = tus_create("partial.bin", 100, b"0123456789")
doomed_upload, _ = tus_create("terminate me.bin", 50, b"abc")

status, _, body = request("GET", f"/api/files/{image_file}/info")
if status != 200 or not json.loads(body).get("thumbnail"):
    fail(f"the seeded PNG has no thumbnail ({status} {body[:200]!r})")

# A valid instant upload: offer the text file's content, answer the challenge.
sha = hashlib.sha256(text).hexdigest()
offer = {"sha256": sha, "size": len(text), "name": "instant copy.txt"}
status, _, body = request("POST", "/api/files/instant", {"Content-Type": "application/json"}, json.dumps(offer))
answer = json.loads(body) if status == 200 else {}
if not answer.get("stored"):
    fail(f"instant offer of stored content: {status} {body[:200]!r}")
challenge = answer["challenge"]
nonce = bytes.fromhex(challenge["nonce"])
proofs = [
    hashlib.sha256(nonce + text[r["offset"] : r["offset"] + r["length"]]).hexdigest() for r in challenge["ranges"]
]
proof = {"challenge": challenge["challenge"], "proofs": proofs}

with open(SPEC_IN, encoding="utf-8") as f:
    spec = yaml.safe_load(f)
components = spec["components"]["parameters"]
unknown = "0" * 32
etag = f'"{sha}"'


def operation(path, method):
    return spec["paths"][path][method]


def examples(op, name, scenarios):
    """Give parameter `name` of `op` one example per scenario.

    schemathesis pairs the examples of an operation's parameters by name
    (then by position), so each scenario becomes one request.
    """
    params = op.setdefault("parameters", [])
    for i, p in enumerate(params):
        ref = p.get("$ref", "").rsplit("/", 1)[-1]
        if p.get("name") == name or components.get(ref, {}).get("name") == name:
            p = params[i] = copy.deepcopy(components[ref]) if ref else p
            break
    else:
        fail(f"no parameter {name}")
    p.pop("example", None)
    p["examples"] = {scenario: {"value": value} for scenario, value in scenarios.items()}


def body_examples(op, media_type, values):
    op["requestBody"]["content"][media_type]["examples"] = {f"b{i}": {"value": v} for i, v in enumerate(values)}


# The path-level `id` parameters move into each operation, which gets ids of
# its own (a DELETE must not take the file a GET is about to read).
for path in ("/api/files/{id}", "/api/files/{id}/info", "/api/files/{id}/thumbnail", "/api/uploads/{id}"):
    ref = spec["paths"][path].pop("parameters")[0]
    for method in ("get", "head", "patch", "delete", "options"):
        if method in spec["paths"][path]:
            op = operation(path, method)
            op["parameters"] = [copy.deepcopy(ref), *op.get("parameters", [])]

# Downloads: the whole file, one range, a suffix, a range past the end, a
# matching ETag, several ranges (the whole file), an image, an unknown id.
for method in ("get", "head"):
    op = operation("/api/files/{id}", method)
    scenarios = {
        "whole": (text_file, "items=0-1", '"nope"'),
        "part": (text_file, "bytes=0-3", '"nope"'),
        "suffix": (text_file, "bytes=-2", '"nope"'),
        "past": (text_file, "bytes=1000000-", '"nope"'),
        "cached": (text_file, "bytes=0-3", etag),
        "several": (text_file, "bytes=0-1,4-5", '"nope"'),
        "image": (image_file, "bytes=0-7", '"nope"'),
        "unknown": (unknown, "bytes=0-3", '"nope"'),
    }
    examples(op, "id", {k: v[0] for k, v in scenarios.items()})
    examples(op, "Range", {k: v[1] for k, v in scenarios.items()})
    examples(op, "If-Range", {k: etag for k in scenarios})
    examples(op, "If-None-Match", {k: v[2] for k, v in scenarios.items()})
readable = {"text": text_file, "image": image_file, "unknown": unknown}
examples(operation("/api/files/{id}/info", "get"), "id", readable)
examples(operation("/api/files/{id}/thumbnail", "get"), "id", readable)
examples(operation("/api/files/{id}", "delete"), "id", {"doomed": doomed_file, "unknown": unknown})

# Uploads: the partial one (10 of 100 bytes), a finished one, none.
uploads = {"partial": partial_upload, "finished": done_upload, "unknown": unknown}
for method in ("head", "get", "options"):
    examples(operation("/api/uploads/{id}", method), "id", uploads)
examples(operation("/api/uploads/{id}", "delete"), "id", {"doomed": doomed_upload, "unknown": unknown})
op = operation("/api/uploads/{id}", "patch")
chunk = b"more bytes"
sha1 = "sha1 " + base64.b64encode(hashlib.sha1(chunk).digest()).decode()
examples(op, "id", uploads)
examples(op, "Upload-Offset", {"partial": 10, "finished": 0, "unknown": 0})
examples(op, "Upload-Checksum", {"partial": sha1, "finished": sha1, "unknown": sha1})
body_examples(op, "application/offset+octet-stream", [chunk.decode()])

# Instant upload: stored content and unknown content; a valid proof and a wrong one.
op = operation("/api/files/instant", "post")
op["requestBody"]["content"]["application/json"]["examples"] = {
    "stored": {"value": offer},
    "unknown": {"value": {**offer, "sha256": "ab" * 32}},
}
op = operation("/api/files/instant/proof", "post")
op["requestBody"]["content"]["application/json"]["examples"] = {
    "valid": {"value": proof},
    "wrong": {"value": {**proof, "proofs": ["00" * 32]}},
}

with open(SPEC_OUT, "w", encoding="utf-8") as f:
    yaml.safe_dump(spec, f, sort_keys=False, allow_unicode=True)
print(f"interop/openapi: seeded files {text_file} {image_file} {doomed_file}, uploads {partial_upload} {doomed_upload}")
