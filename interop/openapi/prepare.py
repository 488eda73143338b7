"""Seed a running Magpie server and write the schema schemathesis runs on.

    prepare.py BASE_URL TOKEN SPEC_IN SPEC_OUT TCP_URL

Uploads a few small files over tus (standard library only) so that the
operations on `{id}` have real ids to start from, then writes a copy of
SPEC_IN (docs/openapi.yaml, which stays free of per-run values) with those
ids, matching ETags and Range headers, a PATCH at the right offset, and a
valid instant-upload offer and proof, added as `examples`. The examples
phase of schemathesis sends them, so the success answers (200, 206, 304,
416, 201, 204) and their headers get checked too; the other phases generate
their own values (random ids, which get 404).

For the share links it also builds a drive over the protocol on TCP_URL
(`tcp://host:port`, the session resumed with TOKEN): a folder with a file
and a sub-folder holding another file, a file on its own, and share links
with known codes over them, unlocked here for their keys. The share
operations get those ids, codes and keys as examples, so the key (200),
the view (200), downloads (200, 206, 304, 416) and the page (200, 303)
are reached. Each right-code example has a link of its own, and the
examples phase runs before the others: those send many wrong codes, after
10 of which a link answers 429 to every code (a documented answer), while
the keys handed out before stay good. run.sh turns the per-address code
rate off.

Each operation that destroys what it names (DELETE of a file, DELETE of an
upload) gets ids of its own, so the order schemathesis runs operations in
does not turn a GET into a 404.
"""

import base64
import copy
import hashlib
import http.client
import json
import socket
import struct
import sys
import time
import urllib.parse
import zlib

import yaml

sys.dont_write_bytecode = True  # no __pycache__ here for importing hooks.py
from hooks import OMIT  # noqa: E402

BASE, TOKEN, SPEC_IN, SPEC_OUT, TCP_URL = sys.argv[1:6]
URL = urllib.parse.urlsplit(BASE)
TCP = urllib.parse.urlsplit(TCP_URL)


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


class Session:
    """A protocol session over TCP (docs/PROTOCOL.md 2.1): length-prefixed JSON."""

    def __init__(self):
        self.sock = socket.create_connection((TCP.hostname, TCP.port), timeout=30)
        self.next_id = 0
        self.call("hello", {"version": 1, "client": "interop-openapi"})
        self.call("resume", {"token": TOKEN})

    def _read(self, n):
        data = b""
        while len(data) < n:
            part = self.sock.recv(n - len(data))
            if not part:
                fail("the server closed the protocol connection")
            data += part
        return data

    def call(self, op, args):
        self.next_id += 1
        payload = json.dumps({"id": self.next_id, "op": op, "args": args}).encode()
        self.sock.sendall(struct.pack(">I", len(payload)) + payload)
        while True:
            frame = json.loads(self._read(struct.unpack(">I", self._read(4))[0]))
            if frame.get("id") == self.next_id:
                break
        if "error" in frame:
            fail(f"{op} {args}: {frame['error']}")
        return frame["result"]


def unlock(share, code):
    status, _, body = request(
        "POST", f"/api/shares/{share}/unlock", {"Content-Type": "application/json"}, json.dumps({"code": code})
    )
    if status != 200:
        fail(f"unlock {share} with its code: {status} {body[:200]!r}")
    return json.loads(body)["key"]


# The drive: a folder with a file and a sub-folder (with a file of its
# own), and a file outside it. Names with markup and CJK test the escaping.
shared_text = "Magpie interop: a file in a shared folder.\n".encode() * 3
inner_bytes = b"\x00\x01\x02 inner file of the sub-folder \xff"
lone_text = b"A file shared on its own.\n"
drive = Session()
folder = drive.call("drive_mkdir", {"name": "shared <b>资料 & co"})["id"]
sub = drive.call("drive_mkdir", {"parent": folder, "name": "sub folder"})["id"]
_, shared_upload = upload_file("notes 会议.txt", shared_text)
shared_file = drive.call("drive_put", {"file": shared_upload, "parent": folder})["id"]
_, inner_upload = upload_file("inner.bin", inner_bytes)
inner_file = drive.call("drive_put", {"file": inner_upload, "parent": sub})["id"]
_, lone_upload = upload_file("lone.txt", lone_text)
lone_file = drive.call("drive_put", {"file": lone_upload})["id"]

# Links, with no max_downloads (downloads must keep working): one unlocked
# here, whose key the view, download and page examples carry, and one for
# each operation that has a right code among its examples; a file's link
# (with an expiry); a revoked one.
in_a_month = int(time.time() * 1000) + 30 * 24 * 3600 * 1000
codes = {"view": "Magpie42", "unlock": "unlock77", "form": "form7788", "pwd": "pwd12345"}
shares = {name: drive.call("drive_share", {"entry": folder, "code": code})["id"] for name, code in codes.items()}
codes["file"] = "lone1234"
shares["file"] = drive.call("drive_share", {"entry": lone_file, "code": codes["file"], "expires_at": in_a_month})["id"]
revoked = drive.call("drive_share", {"entry": folder, "code": "gone1234"})["id"]
drive.call("drive_unshare", {"share": revoked})
view_key = unlock(shares["view"], " MAGPIE42 ")
file_key = unlock(shares["file"], codes["file"])

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

# Share links. A header or query parameter whose example is OMIT is left out
# of the request (by hooks.py): an example of None would be dropped as
# invalid, and the scenarios would no longer line up.
for path in ("/api/shares/{share}/unlock", "/api/shares/{share}", "/api/shares/{share}/files/{entry}", "/s/{share}"):
    refs = spec["paths"][path].pop("parameters")
    for method in ("get", "head", "post"):
        if method in spec["paths"][path]:
            op = operation(path, method)
            op["parameters"] = [copy.deepcopy(r) for r in refs] + op.get("parameters", [])


def scenario_examples(op, names, scenarios):
    """One request per scenario: `names` are the parameters, each scenario a tuple."""
    for i, name in enumerate(names):
        examples(op, name, {k: v[i] for k, v in scenarios.items()})


# unlock: the right code (any case, blanks around it), a file's link, a
# wrong code, a revoked link, none. Bodies pair with the ids by position.
op = operation("/api/shares/{share}/unlock", "post")
scenarios = {
    "right": (shares["unlock"], " UNLOCK77 "),
    "file": (shares["file"], codes["file"]),
    "wrong": (shares["unlock"], "nope"),
    "revoked": (revoked, "gone1234"),
    "unknown": (unknown, "abcd"),
}
examples(op, "share", {k: v[0] for k, v in scenarios.items()})
body_examples(op, "application/json", [{"code": v[1]} for v in scenarios.values()])

# The view: the shared folder, its sub-folder, a page of one, a file in
# it, the shared file; a folder outside, another link's key, a bad key, a
# revoked link, none; the key in the query instead of the header.
op = operation("/api/shares/{share}", "get")
V, F = shares["view"], shares["file"]
scenarios = {
    "root": (V, view_key, OMIT, OMIT, 100),
    "sub": (V, view_key, OMIT, sub, 100),
    "page": (V, view_key, OMIT, folder, 1),
    "file in it": (V, view_key, OMIT, shared_file, 100),
    "shared file": (F, file_key, OMIT, OMIT, 100),
    "query key": (V, OMIT, view_key, sub, 500),
    "outside": (V, view_key, OMIT, lone_file, 100),
    "other key": (V, file_key, OMIT, OMIT, 100),
    "bad key": (V, "1.00", OMIT, OMIT, 100),
    "revoked": (revoked, view_key, OMIT, OMIT, 100),
    "unknown": (unknown, view_key, OMIT, OMIT, 100),
}
scenario_examples(op, ("share", "X-Share-Key", "key", "folder", "limit"), scenarios)

# Downloads, as for /api/files/{id}, plus a file deeper down, the shared
# file, the key in the query, and the entries and keys that do not open.
shared_etag = '"' + hashlib.sha256(shared_text).hexdigest() + '"'
inner_etag = '"' + hashlib.sha256(inner_bytes).hexdigest() + '"'
lone_etag = '"' + hashlib.sha256(lone_text).hexdigest() + '"'
for method in ("get", "head"):
    op = operation("/api/shares/{share}/files/{entry}", method)
    scenarios = {
        "whole": (V, shared_file, view_key, OMIT, "items=0-1", shared_etag, '"nope"'),
        "part": (V, shared_file, view_key, OMIT, "bytes=2-5", shared_etag, '"nope"'),
        "deep": (V, inner_file, view_key, OMIT, "bytes=0-3", inner_etag, '"nope"'),
        "stale": (V, inner_file, view_key, OMIT, "bytes=0-3", shared_etag, '"nope"'),
        "past": (V, shared_file, view_key, OMIT, "bytes=1000000-", shared_etag, '"nope"'),
        "cached": (V, shared_file, view_key, OMIT, "bytes=0-3", shared_etag, shared_etag),
        "shared file": (F, lone_file, file_key, OMIT, "bytes=-3", lone_etag, '"nope"'),
        "query key": (V, inner_file, OMIT, view_key, "bytes=4-", inner_etag, '"nope"'),
        "a folder": (V, sub, view_key, OMIT, "bytes=0-3", shared_etag, '"nope"'),
        "outside": (V, lone_file, view_key, OMIT, "bytes=0-3", lone_etag, '"nope"'),
        "other key": (V, shared_file, file_key, OMIT, "bytes=0-3", shared_etag, '"nope"'),
        "revoked": (revoked, shared_file, view_key, OMIT, "bytes=0-3", shared_etag, '"nope"'),
        "unknown": (unknown, shared_file, view_key, OMIT, "bytes=0-3", shared_etag, '"nope"'),
    }
    names = ("share", "entry", "X-Share-Key", "key", "Range", "If-Range", "If-None-Match")
    scenario_examples(op, names, scenarios)

# The page: the code form, the folder and its sub-folder, the file; a
# code in the link (right: 303; wrong: 403); a limit out of range (400);
# a revoked link, none.
op = operation("/s/{share}", "get")
scenarios = {
    "form": (V, OMIT, OMIT, OMIT, 100),
    "folder": (V, OMIT, view_key, OMIT, 100),
    "sub": (V, OMIT, view_key, sub, 1),
    "file": (F, OMIT, file_key, OMIT, 100),
    "pwd": (shares["pwd"], "PWD12345", OMIT, OMIT, 100),
    "wrong pwd": (shares["pwd"], "nope", OMIT, OMIT, 100),
    "bad limit": (V, OMIT, view_key, OMIT, 0),
    "revoked": (revoked, OMIT, OMIT, OMIT, 100),
    "unknown": (unknown, OMIT, OMIT, OMIT, 100),
}
scenario_examples(op, ("share", "pwd", "key", "f", "limit"), scenarios)

# The page's form: the right code, a wrong one, a link that does not work.
op = operation("/s/{share}", "post")
scenarios = {"right": (shares["form"], "Form7788"), "wrong": (shares["form"], "nope"), "unknown": (unknown, "abcd")}
examples(op, "share", {k: v[0] for k, v in scenarios.items()})
body_examples(op, "application/x-www-form-urlencoded", [{"code": v[1]} for v in scenarios.values()])

with open(SPEC_OUT, "w", encoding="utf-8") as f:
    yaml.safe_dump(spec, f, sort_keys=False, allow_unicode=True)
print(f"interop/openapi: seeded files {text_file} {image_file} {doomed_file}, uploads {partial_upload} {doomed_upload}")
print(f"interop/openapi: seeded drive folder {folder}, share links {' '.join(shares.values())} (revoked {revoked})")
