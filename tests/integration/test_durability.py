"""Large streams in flat memory, and kill -9 in the middle of concurrent uploads."""
import hashlib
import os
import signal
import threading
import time

import requests


def folder(vault, admin):
    c = admin.post(vault.url + "contracts", json={"name": "durability"}).json()["id"]
    return admin.post(vault.url + "contracts/%s/folders" % c, json={"name": "big"}).json()["id"]


def pattern(total, block=1 << 20):
    """total bytes of varying data, produced without holding them in memory."""
    seed = os.urandom(block)
    sent = 0
    i = 0
    while sent < total:
        n = min(block, total - sent)
        chunk = i.to_bytes(8, "big") + seed[8:n] if n >= 8 else seed[:n]
        yield chunk[:n]
        sent += n
        i += 1


def test_large_streamed_roundtrip_with_flat_memory(vault, admin):
    size = 512 * 1024 * 1024 + 777
    f = folder(vault, admin)
    h = hashlib.sha256()

    def body():
        for c in pattern(size):
            h.update(c)
            yield c

    # Sample the server's resident memory all through the transfer. (Its lifetime
    # peak also counts Argon2id's 64 MiB for each login, which is freed at once.)
    samples = []
    done = threading.Event()

    def sampler():
        while not done.is_set():
            samples.append(vault.rss_kib())
            time.sleep(0.02)

    st = threading.Thread(target=sampler)
    st.start()
    r = admin.put(vault.url + "folders/%s/objects" % f, params={"name": "big.bin"}, data=body())
    assert r.status_code == 201, r.text
    assert r.json()["sha256"] == h.hexdigest()
    assert r.json()["size"] == size
    g = admin.get(vault.url + "objects/" + r.json()["id"], stream=True)
    assert g.status_code == 200
    d = hashlib.sha256()
    n = 0
    for c in g.iter_content(1 << 20):
        d.update(c)
        n += len(c)
    assert n == size and d.hexdigest() == h.hexdigest()
    done.set()
    st.join()
    # The server's memory stays flat and far below the object's size (target 64 MiB).
    assert len(samples) > 20
    assert max(samples) < 64 * 1024, max(samples)


def test_kill_9_during_concurrent_uploads_keeps_every_acknowledged_upload(vault, admin):
    f = folder(vault, admin)
    acked = {}
    lock = threading.Lock()
    stop = threading.Event()

    def uploader(k):
        s = vault.login()
        i = 0
        while not stop.is_set():
            data = os.urandom(50000 + 37 * i) * 3
            name = "u%d-%d" % (k, i)
            try:
                r = s.put(vault.url + "folders/%s/objects" % f, params={"name": name},
                          data=data, timeout=30)
            except requests.exceptions.RequestException:
                return
            if r.status_code == 201:
                with lock:
                    acked[r.json()["id"]] = hashlib.sha256(data).hexdigest()
            i += 1

    ts = [threading.Thread(target=uploader, args=(k,)) for k in range(4)]
    [t.start() for t in ts]
    time.sleep(3)
    vault.proc.send_signal(signal.SIGKILL)
    vault.proc.wait()
    stop.set()
    [t.join() for t in ts]
    assert len(acked) > 4
    vault.start()
    s = vault.login()
    listed = s.get(vault.url + "folders/%s/objects?limit=1000" % f).json()["items"]
    ids = {o["id"] for o in listed}
    assert set(acked) <= ids, "an acknowledged upload was lost"
    for o in listed:
        # Every visible object is whole: it opens and matches its digest.
        g = s.get(vault.url + "objects/" + o["id"])
        assert g.status_code == 200
        assert hashlib.sha256(g.content).hexdigest() == o["sha256"]
        if o["id"] in acked:
            assert o["sha256"] == acked[o["id"]]
    assert os.listdir(os.path.join(vault.dir, "blobs", "tmp")) == []
