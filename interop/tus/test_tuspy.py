"""tuspy (the tus project's Python client) against Magpie's tus 1.0 server.

Run by run.sh, which exports MAGPIE_TUS_URL, ALICE_TOKEN, BOB_TOKEN,
MAGPIE_TUS_PIDFILE (the server's pid) and MAGPIE_TUS_RESTART (a command
that starts the server again on the same data dir and ports).

tuspy does the tus side (POST, PATCH, HEAD); plain `requests` only looks at
the result (upload status, download), so a disagreement between tuspy and
the server shows up as a tuspy exception or a wrong result.
"""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

import requests
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError, TusUploadFailed
from tusclient.uploader import Uploader

BASE = os.environ["MAGPIE_TUS_URL"]
ENDPOINT = BASE + "/api/uploads"
ALICE = {"Authorization": "Bearer " + os.environ["ALICE_TOKEN"]}
BOB = {"Authorization": "Bearer " + os.environ["BOB_TOKEN"]}
TUS = {"Tus-Resumable": "1.0.0"}
MiB = 1024 * 1024
TMP = tempfile.mkdtemp(prefix="magpie-tuspy-")


def random_file(name, size):
    """A file of random bytes (nothing the server could deduplicate)."""
    data = os.urandom(size)
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(data)
    return path, data


def head_offset(url, headers=ALICE):
    """The server's Upload-Offset for `url` (tus HEAD)."""
    r = requests.head(url, headers={**TUS, **headers}, timeout=10)
    assert r.status_code == 200, f"HEAD {url}: {r.status_code}"
    assert r.headers.get("Cache-Control") == "no-store", r.headers
    return int(r.headers["Upload-Offset"])


def check_stored(url, data, name):
    """The completed upload at `url` made a file holding exactly `data`:
    its record (name, size, sha256) and its downloaded bytes. Returns the
    file id."""
    r = requests.get(url, headers=ALICE, timeout=10)
    assert r.status_code == 200, f"GET {url}: {r.status_code} {r.text}"
    status = r.json()
    assert status["length"] == len(data), status
    assert status["offset"] == len(data), status
    file = status["file"]
    assert file is not None, f"upload complete but no file: {status}"
    assert file["name"] == name, file
    assert file["size"] == len(data), file
    assert file["sha256"] == hashlib.sha256(data).hexdigest(), file
    r = requests.get(f"{BASE}/api/files/{file['id']}", headers=ALICE, timeout=30)
    assert r.status_code == 200, f"download: {r.status_code}"
    assert r.content == data, "downloaded bytes differ from the uploaded ones"
    return file["id"]


def alice():
    return TusClient(ENDPOINT, headers=dict(ALICE))


def test_upload_5mib_in_1mib_chunks():
    path, data = random_file("five.bin", 5 * MiB)
    up = alice().uploader(path, chunk_size=MiB, metadata={"filename": "five.bin"})
    up.upload()
    assert up.offset == len(data), up.offset
    # The last PATCH names the file it made; it must be the upload's file.
    file_id = check_stored(up.url, data, "five.bin")
    assert up.request.response_headers.get("magpie-file-id") == file_id


def test_upload_with_sha1_checksums():
    path, data = random_file("summed.bin", 5 * MiB)

    # A client whose checksums are wrong: the server must refuse the chunk
    # with tus's 460 and keep nothing of it.
    class WrongSums(Uploader):
        CHECKSUM_ALGORITHM_PAIR = ("sha1", lambda b: hashlib.sha1(b + b"!"))

    bad = WrongSums(path, client=alice(), chunk_size=MiB, upload_checksum=True,
                    metadata={"filename": "summed.bin"})
    try:
        bad.upload_chunk()
        raise AssertionError("a chunk with a wrong sha1 was accepted")
    except TusUploadFailed as e:
        assert e.status_code == 460, e.status_code
    assert head_offset(bad.url) == 0

    # The honest client, with a sha1 on every chunk, finishes the same upload.
    up = alice().uploader(path, url=bad.url, chunk_size=MiB, upload_checksum=True)
    assert up.offset == 0
    up.upload()
    # tuspy really sent one (its request keeps the headers it sent).
    assert up.request._request_headers["upload-checksum"].startswith("sha1 ")
    check_stored(up.url, data, "summed.bin")


def test_resume_after_interruption():
    path, data = random_file("resumed.bin", 5 * MiB)
    first = alice().uploader(path, chunk_size=MiB, metadata={"filename": "resumed.bin"})
    first.upload_chunk()
    first.upload_chunk()
    # The client stops here (as if it crashed); the server kept 2 chunks.
    assert head_offset(first.url) == 2 * MiB

    second = alice().uploader(path, url=first.url, chunk_size=MiB)
    assert second.offset == 2 * MiB, second.offset  # tuspy asked with HEAD
    second.upload()
    assert second.url == first.url
    check_stored(first.url, data, "resumed.bin")


def restart_server_after_sigkill():
    """SIGKILL the server (no shutdown code runs), then start it again."""
    with open(os.environ["MAGPIE_TUS_PIDFILE"]) as f:
        pid = int(f.read())
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break  # dead, not yet reaped
        except FileNotFoundError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"server {pid} still alive after SIGKILL")
    try:
        requests.get(BASE + "/healthz", timeout=2)
        raise AssertionError("something still answers on the server's port")
    except requests.ConnectionError:
        pass
    subprocess.run(os.environ["MAGPIE_TUS_RESTART"], shell=True, check=True)
    with open(os.environ["MAGPIE_TUS_PIDFILE"]) as f:
        assert int(f.read()) != pid, "the server was not restarted"


def test_resume_after_server_sigkill():
    path, data = random_file("survivor.bin", 5 * MiB)
    first = alice().uploader(path, chunk_size=MiB, metadata={"filename": "survivor.bin"})
    first.upload_chunk()
    first.upload_chunk()
    assert first.offset == 2 * MiB  # acknowledged by the server

    restart_server_after_sigkill()

    # Every acknowledged byte survived, and nothing more is claimed.
    assert head_offset(first.url) == 2 * MiB
    second = alice().uploader(path, url=first.url, chunk_size=MiB)
    assert second.offset == 2 * MiB, second.offset
    second.upload()
    check_stored(first.url, data, "survivor.bin")


def test_other_users_and_anonymous_are_refused():
    path, data = random_file("private.bin", 2 * MiB)
    up = alice().uploader(path, chunk_size=MiB, metadata={"filename": "private.bin"})
    up.upload_chunk()  # an unfinished upload of alice's

    # bob, through tuspy: resuming alice's upload fails on HEAD with 404.
    try:
        TusClient(ENDPOINT, headers=dict(BOB)).uploader(path, url=up.url, chunk_size=MiB)
        raise AssertionError("bob could resume alice's upload")
    except TusCommunicationError as e:
        assert e.status_code == 404, e.status_code
    # bob, by hand: HEAD and PATCH are 404, and nothing was written.
    r = requests.head(up.url, headers={**TUS, **BOB}, timeout=10)
    assert r.status_code == 404, r.status_code
    r = requests.patch(up.url, data=data[MiB:], timeout=10, headers={
        **TUS, **BOB, "Upload-Offset": str(MiB),
        "Content-Type": "application/offset+octet-stream"})
    assert r.status_code == 404, r.status_code
    assert head_offset(up.url) == MiB

    # No token at all: 401, for tuspy's POST and for HEAD.
    try:
        TusClient(ENDPOINT).uploader(path, chunk_size=MiB).upload()
        raise AssertionError("an upload without a token was accepted")
    except TusCommunicationError as e:
        assert e.status_code == 401, e.status_code
    r = requests.head(up.url, headers=TUS, timeout=10)
    assert r.status_code == 401, r.status_code

    # alice finishes; bob cannot download the file, nor can anyone anonymous.
    up.upload()
    file_id = check_stored(up.url, data, "private.bin")
    r = requests.get(f"{BASE}/api/files/{file_id}", headers=BOB, timeout=10)
    assert r.status_code == 404, r.status_code
    r = requests.get(f"{BASE}/api/uploads/{up.url.rsplit('/', 1)[1]}", headers=BOB, timeout=10)
    assert r.status_code == 404, r.status_code
    r = requests.get(f"{BASE}/api/files/{file_id}", timeout=10)
    assert r.status_code == 401, r.status_code


def main():
    tests = [(n, f) for n, f in globals().items() if n.startswith("test_") and callable(f)]
    failed = 0
    for name, test in tests:
        started = time.monotonic()
        try:
            test()
            print(f"  ok   {name} ({time.monotonic() - started:.1f} s)", flush=True)
        except Exception:
            failed += 1
            print(f"  FAIL {name}", flush=True)
            traceback.print_exc()
    shutil.rmtree(TMP, ignore_errors=True)
    print(f"tuspy: {len(tests) - failed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
