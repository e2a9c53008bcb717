"""Addresses that keep failing are blocked ([server] block_*, checklist S4).

The attackers here come from other loopback addresses (127.0.0.3 and up: all of
127.0.0.0/8 is on the default allowlist), so the manager at 127.0.0.1 keeps
working and can lift the blocks."""
import json
import os
import socket
import ssl

import pytest
import requests
from requests.adapters import HTTPAdapter

from conftest import Vault, config_check, kinko
from test_api_doc import SPEC
from test_cli import Cli, write


class FromAddress(HTTPAdapter):
    def __init__(self, src):
        self.src = src
        super().__init__()

    def init_poolmanager(self, *a, **kw):
        kw["source_address"] = (self.src, 0)
        super().init_poolmanager(*a, **kw)


def session_from(vault, src, cert="admin"):
    s = requests.Session()
    s.trust_env = False
    s.verify = vault.ca
    s.cert = vault.admin_cert if cert == "admin" else cert
    s.mount("https://", FromAddress(src))
    return s


def bad_login(s, vault, user="admin"):
    return s.post(vault.url + "login", json={"user": user, "password": "not the password"})


def tls_connect(vault, src):
    """A TLS connection from src with the manager's certificate; raises if refused."""
    ctx = ssl.create_default_context(cafile=vault.ca)
    ctx.load_cert_chain(*vault.admin_cert)
    raw = socket.create_connection(("127.0.0.1", vault.port), timeout=10,
                                   source_address=(src, 0))
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        return s.recv(100)


def events(vault, action):
    out = kinko("log", "show", "--dir", vault.dir).stdout
    return [e for e in map(json.loads, out.splitlines()) if e["action"] == action]


@pytest.fixture
def strict(tmp_path):
    v = Vault(str(tmp_path), extra_conf="block_failures = 3\nblock_seconds = 600\n").start()
    yield v
    v.stop()


def test_failed_logins_block_the_address_until_lifted(strict):
    v = strict
    admin = v.login()
    attacker = session_from(v, "127.0.0.3")
    for i in range(2):
        r = bad_login(attacker, v)
        assert r.status_code == 401 and r.headers.get("Connection") != "close"
    r = bad_login(attacker, v)  # the third within the window
    assert r.status_code == 401
    assert r.headers.get("Connection") == "close"
    third = r.headers["X-Request-Id"]
    # New connections from there are refused before TLS; others are not.
    with pytest.raises((ConnectionError, ssl.SSLError, OSError)):
        tls_connect(v, "127.0.0.3")
    assert tls_connect(v, "127.0.0.4").startswith(b"HTTP/1.1 200")
    assert admin.get(v.url + "me").status_code == 200

    l = admin.get(v.url + "blocks").json()["items"]
    assert [b["source"] for b in l] == ["127.0.0.3"]
    block = SPEC["components"]["schemas"]["Block"]
    assert set(l[0]) == set(block["properties"]) == set(block["required"])
    assert l[0]["failures"] == 3 and l[0]["blocked_until"] >= l[0]["last_failure"] + 599
    ev = events(v, "net.block")
    assert len(ev) == 1 and ev[0]["addr"] == "127.0.0.3" and ev[0]["request"] == third
    with open(v.log) as f:
        log = f.read()
    assert "ALERT: blocked 127.0.0.3 until" in log
    assert "refused connection from 127.0.0.3 (blocked after repeated failures" in log

    r = admin.delete(v.url + "blocks/127.0.0.3")
    assert r.status_code == 200 and r.json()["source"] == "127.0.0.3"
    assert admin.get(v.url + "blocks").json()["items"] == []
    assert tls_connect(v, "127.0.0.3").startswith(b"HTTP/1.1 200")
    un, ud = events(v, "net.unblock"), events(v, "net.unblocked")
    assert len(un) == 1 and un[0]["role"] == "manager" and un[0]["addr"] == "127.0.0.1"
    assert len(ud) == 1 and ud[0]["addr"] == "127.0.0.3"
    assert ud[0]["request"] == un[0]["request"]
    assert kinko("log", "verify", "--dir", v.dir).returncode == 0


def test_refused_certificates_count_and_open_connections_are_cut(strict, tmp_path):
    v = strict
    admin = v.login()
    # A keep-alive connection from 127.0.0.5, opened before the block.
    early = session_from(v, "127.0.0.5")
    assert early.get(v.url + "status").status_code == 200
    nocert = session_from(v, "127.0.0.5", cert=None)
    for i in range(3):
        r = nocert.get(v.url + "status")
        assert r.status_code == 403 and "client certificate" in r.json()["detail"]
    assert len(events(v, "tls.refused")) == 3
    assert len(events(v, "net.block")) == 1
    # The connection it already had is answered 403 and closed.
    r = early.get(v.url + "status")
    assert r.status_code == 403
    assert "127.0.0.5 are refused until" in r.json()["detail"]
    assert r.headers.get("Connection") == "close"
    assert len(events(v, "net.blocked")) == 1
    # An IPv4 address is its own source: 127.0.0.6 is untouched.
    assert session_from(v, "127.0.0.6").get(v.url + "status").status_code == 200


def test_handshakes_never_completed_count_and_silent_probes_do_not(strict):
    """A TLS 1.2 client (kinko speaks 1.3 only) fails its handshake: each such
    connection counts against its address, like a refused certificate. A probe
    that connects and sends nothing does not count."""
    import time
    v = strict
    admin = v.login()
    for i in range(5):  # more than block_failures = 3, all silent
        socket.create_connection(("127.0.0.1", v.port), timeout=10,
                                 source_address=("127.0.0.8", 0)).close()
    ctx = ssl.create_default_context(cafile=v.ca)
    ctx.load_cert_chain(*v.admin_cert)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    for i in range(3):
        raw = socket.create_connection(("127.0.0.1", v.port), timeout=10,
                                       source_address=("127.0.0.7", 0))
        with pytest.raises((ssl.SSLError, OSError)):
            ctx.wrap_socket(raw, server_hostname="localhost")
        raw.close()
    # The server counts a connection when it closes it: wait for the third.
    deadline = time.time() + 20
    while time.time() < deadline and not admin.get(v.url + "blocks").json()["items"]:
        time.sleep(0.1)
    assert [b["source"] for b in admin.get(v.url + "blocks").json()["items"]] == ["127.0.0.7"]
    ev = events(v, "net.block")
    assert len(ev) == 1 and ev[0]["addr"] == "127.0.0.7"
    with pytest.raises((ConnectionError, ssl.SSLError, OSError)):
        tls_connect(v, "127.0.0.7")
    # The silent probes' address still gets in.
    assert tls_connect(v, "127.0.0.8").startswith(b"HTTP/1.1 200")


def test_who_may_see_and_lift_blocks(strict):
    v = strict
    admin = v.login()
    attacker = session_from(v, "127.0.0.7")
    for i in range(3):
        bad_login(attacker, v)
    handler = v.new_user(admin, "handler").login()
    auditor = v.new_user(admin, "auditor").login()
    operator = v.new_user(admin, "operator").login()
    assert handler.get(v.url + "blocks").status_code == 403
    assert auditor.get(v.url + "blocks").json()["items"][0]["source"] == "127.0.0.7"
    assert handler.delete(v.url + "blocks/127.0.0.7").status_code == 403
    assert auditor.delete(v.url + "blocks/127.0.0.7").status_code == 403
    r = admin.delete(v.url + "blocks/not-an-address")
    assert r.status_code == 400 and "not an IP address" in r.json()["detail"]
    assert admin.delete(v.url + "blocks/192.0.2.1").status_code == 404
    assert admin.get(v.url + "blocks").json()["items"][0]["blocked_until"] is not None
    assert operator.delete(v.url + "blocks/127.0.0.7").status_code == 200
    assert admin.get(v.url + "blocks").json()["items"] == []
    # Refusals changed nothing and left no unblock event of their own.
    assert len(events(v, "net.unblocked")) == 1


def test_the_cli_lists_and_lifts(strict, tmp_path):
    v = strict
    attacker = session_from(v, "127.0.0.8")
    for i in range(3):
        bad_login(attacker, v)
    cli = Cli(str(tmp_path), "admin")
    pw = write(os.path.join(str(tmp_path), "admin.pw"), v.admin_password + "\n")
    cli.run("login", "--dir", v.dir, "--user", "admin", "--password-file", pw)
    assert cli.json("block", "list")["items"][0]["source"] == "127.0.0.8"
    assert cli.json("block", "rm", "127.0.0.8")["source"] == "127.0.0.8"
    assert cli.json("block", "list")["items"] == []
    p = cli.run("block", "rm", "127.0.0.8", rc=1)
    assert "neither blocked nor counted" in p.stderr
    cli.run("block", "rm", "../x", rc=2)


def test_block_failures_0_never_blocks_and_config_check_warns(tmp_path):
    v = Vault(str(tmp_path), extra_conf="block_failures = 0\n").start()
    try:
        admin = v.login()
        attacker = session_from(v, "127.0.0.9")
        for i in range(25):
            assert bad_login(attacker, v, "nobody").status_code == 401
        assert admin.get(v.url + "blocks").json()["items"] == []
        assert admin.delete(v.url + "blocks/127.0.0.9").status_code == 404
        assert events(v, "net.block") == []
        out = config_check(v)
        assert "warning: S4: block_failures = 0 never blocks" in out
    finally:
        v.stop()


def test_default_is_twenty_in_ten_minutes(vault):
    out = config_check(vault)
    assert "block_failures = 20\n" in out
    assert "block_window_seconds = 600\n" in out
    assert "block_seconds = 900\n" in out
    admin = vault.login()
    attacker = session_from(vault, "127.0.0.10")
    for i in range(19):
        assert bad_login(attacker, vault, "nobody").status_code == 401
    l = admin.get(vault.url + "blocks").json()["items"]
    assert [(b["source"], b["failures"], b["blocked_until"]) for b in l] == \
        [("127.0.0.10", 19, None)]
    assert bad_login(attacker, vault, "nobody").status_code == 401
    assert admin.get(vault.url + "blocks").json()["items"][0]["blocked_until"] is not None


def test_a_restart_lifts_no_block(strict):
    v = strict
    attacker = session_from(v, "127.0.0.11")
    for i in range(3):
        bad_login(attacker, v)
    before = v.login().get(v.url + "blocks").json()["items"]
    assert [b["source"] for b in before] == ["127.0.0.11"]
    v.stop()
    v.start()
    with open(v.log) as f:
        assert "1 address(es) blocked before the restart stay blocked" in f.read()
    with pytest.raises((ConnectionError, ssl.SSLError, OSError)):
        tls_connect(v, "127.0.0.11")
    admin = v.login()
    after = admin.get(v.url + "blocks").json()["items"]
    assert after == before  # same source, count, times and end
    # Lifted, it stays lifted across the next restart.
    assert admin.delete(v.url + "blocks/127.0.0.11").status_code == 200
    v.stop()
    v.start()
    assert tls_connect(v, "127.0.0.11").startswith(b"HTTP/1.1 200")
    assert v.login().get(v.url + "blocks").json()["items"] == []


def test_a_session_that_ends_during_an_upload_is_not_a_failed_attempt(strict):
    """Three uploads from one address whose session ends while the content streams
    are refused (401, nothing stored) and do not block the address: the session
    was genuine when the request began."""
    v = strict
    admin = v.login()
    h = v.new_user(admin, "handler")
    c = admin.post(v.url + "contracts", json={"name": "C"}).json()["id"]
    f = admin.post(v.url + "contracts/%s/folders" % c, json={"name": "F"}).json()["id"]
    assert admin.put(v.url + "contracts/%s/members/%s" % (c, h.id),
                     json={"role": "handler"}).status_code == 200
    assert admin.put(v.url + "folders/%s/acl/%s" % (f, h.id),
                     json={"perms": ["read", "write"]}).status_code == 200
    for i in range(3):
        s = session_from(v, "127.0.0.5", cert=h.cert)
        r = s.post(v.url + "login", json={"user": h.name, "password": h.password})
        assert r.status_code == 200, r.text
        s.headers["Authorization"] = "Bearer " + r.json()["token"]
        other = session_from(v, "127.0.0.5", cert=h.cert)
        other.headers["Authorization"] = s.headers["Authorization"]

        def body():
            yield b"x" * 65536
            assert other.post(v.url + "logout").status_code == 200  # meanwhile
            yield b"y" * 65536

        r = s.put(v.url + "folders/%s/objects" % f, params={"name": "n%d" % i}, data=body())
        assert r.status_code == 401 and "nothing was stored" in r.json()["detail"], r.text
    assert admin.get(v.url + "folders/%s/objects" % f).json()["items"] == []
    assert [b for b in admin.get(v.url + "blocks").json()["items"]
            if b["source"] == "127.0.0.5"] == []
    assert tls_connect(v, "127.0.0.5").startswith(b"HTTP/1.1 200")
