"""kinko firewall: the allowlist as nftables rules, loaded into a real kernel.

The end-to-end test runs a server in a network namespace of its own (two
addresses on its loopback, one on the allowlist), loads the printed rules there,
and shows the difference they make: without them a connection from outside the
allowlist is accepted by TCP and then refused by kinko; with them its SYN is
dropped by the kernel and the connection never opens."""
import os
import shutil
import subprocess
import time
import uuid

import pytest

from conftest import KINKO, free_port, kinko

NFT = shutil.which("nft") or "/usr/sbin/nft"
IP = shutil.which("ip") or "/usr/sbin/ip"


def needs_nft():
    if os.geteuid() != 0 or not os.path.exists(NFT) or not os.path.exists(IP):
        pytest.skip("needs root, nft and ip (scripts/install-deps installs nftables, iproute2)")


def init(base, name, conf):
    d = os.path.join(base, name)
    key = d + ".key"
    with open(key, "wb") as f:
        f.write(os.urandom(32))
    kinko("init", "--dir", d, "--key-file", key)
    with open(os.path.join(d, "kinko.conf"), "a") as f:
        f.write("\n[scan]\nrequired = false\n[server]\n" + conf)
    return d, key


def test_the_rules_pass_nft_and_follow_the_configuration(tmp_path):
    needs_nft()
    d, _ = init(str(tmp_path), "v", "listen = 127.0.0.1:18443\n"
                "allow = 10.0.0.0/8, 10.1.0.0/16, 192.0.2.7, ::1, 2001:db8::/48\n")
    out = kinko("firewall", "--dir", d).stdout
    assert "tcp dport 18443 ip saddr @allow4 accept" in out
    assert "tcp dport 18443 ip6 saddr @allow6 accept" in out
    assert "elements = { 10.0.0.0/8, 10.1.0.0/16, 192.0.2.7/32 }" in out
    assert "elements = { ::1/128, 2001:db8::/48 }" in out
    rules = os.path.join(str(tmp_path), "kinko.nft")
    with open(rules, "w") as f:
        f.write(out)
    r = subprocess.run([NFT, "-c", "-f", rules], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # A bad configuration is named, and no rules are printed.
    conf = os.path.join(d, "kinko.conf")
    with open(conf) as f:
        text = f.read().replace("allow = 10.0.0.0/8,", "allow = 10.1.2.3/16,")
    with open(conf, "w") as f:
        f.write(text)
    r = subprocess.run([KINKO, "firewall", "--dir", d], capture_output=True, text=True)
    assert r.returncode == 1 and r.stdout == ""
    assert "host bits" in r.stderr
    assert subprocess.run([KINKO, "firewall"], capture_output=True).returncode == 2


def in_ns(ns, *args, **kw):
    return subprocess.run([IP, "netns", "exec", ns, *args], capture_output=True, text=True,
                          **kw)


CONNECT = """
import socket, sys
s = socket.socket()
s.bind((sys.argv[1], 0))
s.settimeout(float(sys.argv[3]))
try:
    s.connect(("10.9.9.1", int(sys.argv[2])))
except socket.timeout:
    print("timeout")
except OSError as e:
    print("error", e.errno)
else:
    print("connected")
"""


def connect_from(ns, src, port, timeout=1.5):
    r = in_ns(ns, "/usr/bin/python3", "-c", CONNECT, src, str(port), str(timeout))
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_outside_the_allowlist_is_dropped_by_the_kernel(tmp_path):
    needs_nft()
    ns = "kinko-fw-" + uuid.uuid4().hex[:8]
    assert subprocess.run([IP, "netns", "add", ns]).returncode == 0
    proc = None
    try:
        assert in_ns(ns, IP, "link", "set", "lo", "up").returncode == 0
        for a in ("10.9.9.1/32", "10.9.9.2/32", "10.8.8.2/32"):
            assert in_ns(ns, IP, "addr", "add", a, "dev", "lo").returncode == 0
        port = free_port()
        d, key = init(str(tmp_path), "v", "listen = 0.0.0.0:%d\nallow = 10.9.9.0/24\n" % port)
        log = os.path.join(str(tmp_path), "serve.log")
        with open(log, "wb") as lf:
            proc = subprocess.Popen([IP, "netns", "exec", ns, KINKO, "serve", "--dir", d,
                                     "--key-file", key], stdout=lf, stderr=lf)
        deadline = time.time() + 30
        while "kinko: serving" not in open(log, errors="replace").read():
            assert proc.poll() is None and time.time() < deadline, open(log).read()
            time.sleep(0.05)

        # kinko alone: TCP accepts, then kinko refuses the address (logged).
        assert connect_from(ns, "10.9.9.2", port) == "connected"
        assert connect_from(ns, "10.8.8.2", port) == "connected"
        deadline = time.time() + 10
        while "refused connection from 10.8.8.2" not in open(log, errors="replace").read():
            assert time.time() < deadline, open(log).read()
            time.sleep(0.05)

        rules = os.path.join(str(tmp_path), "kinko.nft")
        with open(rules, "w") as f:
            f.write(kinko("firewall", "--dir", d).stdout)
        r = in_ns(ns, NFT, "-f", rules)
        assert r.returncode == 0, r.stderr
        # With the rules: the allowed address still connects; the other's SYN is
        # dropped (no answer at all, not a reset), and the rule counted it.
        assert connect_from(ns, "10.9.9.2", port) == "connected"
        assert connect_from(ns, "10.8.8.2", port) == "timeout"
        listed = in_ns(ns, NFT, "list", "chain", "inet", "kinko", "input").stdout
        drop = [l for l in listed.splitlines() if "counter" in l and "drop" in l]
        assert len(drop) == 1 and "packets 0 " not in drop[0], listed
        # Loading it again replaces the table rather than adding a second one.
        assert in_ns(ns, NFT, "-f", rules).returncode == 0
        tables = in_ns(ns, NFT, "list", "tables").stdout
        assert tables.count("table inet kinko") == 1
    finally:
        if proc:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        subprocess.run([IP, "netns", "del", ns])
