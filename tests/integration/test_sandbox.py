"""kinko serve's own system-call filter ([server] syscall_filter, docs/security.md §8).

Every other integration test runs the server under the filter too: the vault
fixture fails a test whose server log shows a refused call."""
import os

import pytest

from conftest import Vault, config_check, kinko


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)


def log_text(vault):
    with open(vault.log, errors="replace") as f:
        return f.read()


def test_the_running_server_is_confined(vault, admin):
    st = proc_status(vault.proc.pid)
    assert st["Seccomp"] == "2"  # a filter is installed
    assert st["NoNewPrivs"] == "1"
    assert int(st["Seccomp_filters"]) >= 1
    # on every thread, those started before the filter (libmicrohttpd's) included
    tasks = os.listdir("/proc/%d/task" % vault.proc.pid)
    assert len(tasks) > 1
    for t in tasks:
        assert proc_status(int(t))["Seccomp"] == "2", t
    assert "kinko: system-call filter on:" in log_text(vault)
    # and it still does its work: a folder, an upload, a download
    c = admin.post(vault.url + "contracts", json={"name": "c"}).json()["id"]
    f = admin.post(vault.url + "contracts/%s/folders" % c, json={"name": "f"}).json()["id"]
    data = os.urandom(3 << 20)
    r = admin.put(vault.url + "folders/%s/objects?name=a.bin" % f, data=data)
    assert r.status_code == 201, r.text
    got = admin.get(vault.url + "objects/%s" % r.json()["id"])
    assert got.status_code == 200 and got.content == data
    assert vault.proc.poll() is None


def test_turned_off_it_says_so_and_config_check_warns(tmp_path):
    v = Vault(str(tmp_path), extra_conf="syscall_filter = false\n").start()
    try:
        st = proc_status(v.proc.pid)
        assert st["Seccomp"] == "0"
        assert "WARNING: system-call filter off" in log_text(v)
        out = config_check(v)
        assert "syscall_filter = false" in out
        assert "warning: S4: syscall_filter = false" in out
    finally:
        v.stop()


def test_default_config_check_warns_only_of_roots_directory(vault, owned_by_nobody):
    out = config_check(vault)
    assert "syscall_filter = true" in out
    s4 = [l for l in out.splitlines() if "S4:" in l]
    assert len(s4) == 1 and "is owned by root, so kinko serve keeps root" in s4[0]
    # A directory of its own account: no S4 warning at all.
    v = Vault(owned_by_nobody)
    chown_tree(v.dir, 65534, 65534)
    assert "S4:" not in config_check(v)


def test_a_bad_value_stops_the_start_with_file_and_line(tmp_path):
    v = Vault(str(tmp_path), extra_conf="syscall_filter = maybe\n")
    with pytest.raises(RuntimeError) as ex:
        v.start()
    msg = str(ex.value)
    assert "kinko.conf" in msg and "syscall_filter" in msg
    v.stop()


@pytest.fixture
def owned_by_nobody():
    """A base directory every account may pass through (not pytest's tmp_path,
    whose parents only root may enter), removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root: the drop is from root")
    import shutil
    import tempfile
    base = tempfile.mkdtemp(prefix="kinko-privdrop-", dir="/var/tmp")
    os.chmod(base, 0o711)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def chown_tree(path, uid, gid):
    for root, dirs, files in os.walk(path):
        for n in [root] + [os.path.join(root, x) for x in dirs + files]:
            os.lchown(n, uid, gid)


def test_started_as_root_it_runs_as_the_owner_of_its_directory(owned_by_nobody):
    v = Vault(owned_by_nobody, extra_conf="[scan]\nrequired = false\n")
    os.chmod(v.keyfile, 0o600)  # root's alone: read before the drop
    chown_tree(v.dir, 65534, 65534)
    v.start()
    try:
        st = proc_status(v.proc.pid)
        assert st["Uid"].split() == ["65534"] * 4
        assert st["Gid"].split() == ["65534"] * 4
        import pwd
        want = sorted(os.getgrouplist(pwd.getpwuid(65534).pw_name, 65534))
        assert sorted(int(g) for g in st["Groups"].split()) == want  # nobody's own
        assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0
        assert st["Seccomp"] == "2"
        assert "running as uid 65534" in log_text(v)
        admin = v.login()
        c = admin.post(v.url + "contracts", json={"name": "c"}).json()["id"]
        f = admin.post(v.url + "contracts/%s/folders" % c, json={"name": "f"}).json()["id"]
        data = os.urandom(1 << 20)
        r = admin.put(v.url + "folders/%s/objects?name=a.bin" % f, data=data)
        assert r.status_code == 201, r.text
        assert admin.get(v.url + "objects/" + r.json()["id"]).content == data
        for root, dirs, files in os.walk(v.dir):
            for n in files:
                assert os.stat(os.path.join(root, n)).st_uid == 65534, n
    finally:
        v.stop()


def test_a_file_of_another_owner_is_refused_before_anything_is_done(owned_by_nobody):
    v = Vault(owned_by_nobody)
    chown_tree(v.dir, 65534, 65534)
    stray = os.path.join(v.dir, "tls", "stray")
    open(stray, "w").close()  # root's
    events_before = kinko("log", "show", "--dir", v.dir).stdout
    with pytest.raises(RuntimeError) as ex:
        v.start()
    assert "tls/stray belongs to uid 0" in str(ex.value)
    assert "chown -R 65534:65534" in str(ex.value)
    assert kinko("log", "show", "--dir", v.dir).stdout == events_before
    v.stop()


def test_a_link_in_the_directory_is_refused_before_anything_is_done(owned_by_nobody):
    """The owner of the data directory (say, a compromised server) plants a link in
    blobs/ to a directory of root's. Started as root, kinko must neither collect
    garbage through it nor start at all."""
    v = Vault(owned_by_nobody)
    chown_tree(v.dir, 65534, 65534)
    victim = os.path.join(owned_by_nobody, "roots")
    os.mkdir(victim, 0o700)
    for n in ("important.conf", "other"):
        open(os.path.join(victim, n), "w").close()
    link = os.path.join(v.dir, "blobs", "zz")
    os.symlink(victim, link)
    os.lchown(link, 65534, 65534)
    events_before = kinko("log", "show", "--dir", v.dir).stdout
    with pytest.raises(RuntimeError) as ex:
        v.start()
    assert "blobs/zz is a symbolic link" in str(ex.value)
    assert sorted(os.listdir(victim)) == ["important.conf", "other"]
    assert kinko("log", "show", "--dir", v.dir).stdout == events_before
    v.stop()


def test_started_as_root_on_roots_directory_it_warns(vault):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    assert proc_status(vault.proc.pid)["Uid"].split()[1] == "0"
    assert "WARNING: running as root" in log_text(vault)


def listen_on(v, listen, allow=None):
    """Rewrites the vault's listen line (and allow), before it starts."""
    conf = os.path.join(v.dir, "kinko.conf")
    with open(conf) as f:
        text = f.read().replace("listen = 127.0.0.1:%d" % v.port,
                                "listen = %s%s" % (listen, "\nallow = " + allow if allow else ""))
    with open(conf, "w") as f:
        f.write(text)


def test_a_port_in_use_is_named_and_nothing_starts(vault, tmp_path):
    other = Vault(str(tmp_path), name="w")
    listen_on(other, "127.0.0.1:%d" % vault.port)
    other.port = vault.port
    with pytest.raises(RuntimeError) as ex:
        other.start()
    assert "cannot listen on 127.0.0.1:%d: Address already in use" % vault.port in str(ex.value)
    other.stop()
    assert vault.login().get(vault.url + "me").status_code == 200


def test_ipv6_listen_is_served_and_confined(tmp_path):
    import socket
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    v = Vault(str(tmp_path))
    listen_on(v, "[::1]:%d" % v.port, "::1/128")
    v.host, v.url = "::1", "https://[::1]:%d/api/v1/" % v.port
    v.start()
    try:
        assert proc_status(v.proc.pid)["Seccomp"] == "2"
        r = v.session().get(v.url + "status")
        assert r.status_code == 200 and r.json()["sealed"] is False
        assert v.login().get(v.url + "me").status_code == 200
    finally:
        v.stop()
