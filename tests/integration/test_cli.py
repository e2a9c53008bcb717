"""The kinko CLI end to end against a real server: every command a person types.

Each test drives the built binary (KINKO_BIN) with its session file under tmp_path
(KINKO_SESSION, and HOME pointed there too), never the real home directory.
"""
import hashlib
import json
import os
import re
import subprocess

import pytest

from conftest import KINKO, Vault, free_port


class Cli:
    """Runs `kinko` as one person: their own session file and environment."""

    def __init__(self, base, who):
        self.home = os.path.join(base, "home-" + who)
        os.makedirs(self.home, exist_ok=True)
        self.session = os.path.join(self.home, "session.json")
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("KINKO_") and k != "XDG_CONFIG_HOME"}
        self.env.update(HOME=self.home, KINKO_SESSION=self.session)

    def run(self, *args, rc=0):
        p = subprocess.run([KINKO, *args], capture_output=True, text=True, env=self.env,
                           timeout=60)
        assert p.returncode == rc, (args, p.returncode, p.stdout, p.stderr)
        return p

    def json(self, *args):
        return json.loads(self.run(*args).stdout)


def write(path, text, mode=0o600):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


@pytest.fixture
def admin_cli(vault, tmp_path):
    cli = Cli(str(tmp_path), "admin")
    pwfile = write(os.path.join(str(tmp_path), "admin.pw"), vault.admin_password + "\n")
    p = cli.run("login", "--dir", vault.dir, "--user", "admin", "--password-file", pwfile)
    assert p.stdout.strip() == "logged in as admin (manager)"
    return cli


def test_login_writes_a_private_session_file_and_logout_removes_it(vault, admin_cli):
    st = os.stat(admin_cli.session)
    assert st.st_mode & 0o777 == 0o600
    sess = json.load(open(admin_cli.session))
    assert re.fullmatch(r"[0-9a-f]{64}", sess["token"])
    assert sess["cacert"] == os.path.join(vault.dir, "tls", "ca.pem")
    st = admin_cli.json("status")
    assert st["service"] == "kinko" and st["sealed"] is False
    admin_cli.run("logout")
    assert not os.path.exists(admin_cli.session)
    # The token is gone on the server too: reusing it is refused.
    s = vault.session()
    s.headers["Authorization"] = "Bearer " + sess["token"]
    assert s.get(vault.url + "me").status_code == 401
    # Without a session, commands that need one fail with a message, not a crash.
    p = admin_cli.run("contract", "list", rc=1)
    assert p.stderr.startswith("kinko: ")


def test_wrong_password_exits_1_with_a_message(vault, tmp_path):
    cli = Cli(str(tmp_path), "someone")
    pwfile = write(os.path.join(str(tmp_path), "bad.pw"), "not-the-password-at-all\n")
    p = cli.run("login", "--dir", vault.dir, "--user", "admin", "--password-file", pwfile, rc=1)
    assert "401" in p.stderr and "wrong user name, password or TOTP code" in p.stderr
    assert not os.path.exists(cli.session)
    # An unknown account gets the very same answer.
    p2 = cli.run("login", "--dir", vault.dir, "--as", "admin", "--user", "nobody",
                 "--password-file", pwfile, rc=1)
    assert p2.stderr.split("[request")[0] == p.stderr.split("[request")[0]


@pytest.mark.parametrize("args", [
    [],
    ["no-such-command"],
    ["login"],                                   # --user is required
    ["login", "--user", "admin", "extra"],
    ["user"],
    ["user", "create", "x"],                     # --role is required
    ["user", "show"],
    ["contract", "create"],
    ["contract", "designate", "c", "u"],
    ["folder", "grant", "f", "u"],
    ["cert", "issue", "admin"],                  # --out is required
    ["put", "only-a-folder"],
    ["get", "some-object"],                      # --output is required
    ["ls"],
    ["rm"],
    ["serve"],
    ["init"],
    ["config", "check"],
    ["status", "--no-such-option"],
    ["status", "extra"],
    ["seal", "extra"],
    ["unseal", "extra"],
    ["logout", "extra"],
    ["rows", "accept"],                          # --dir is required
    ["rows", "accept", "--dir", "d", "--key-file", "k", "--passphrase-file", "p"],
])
def test_usage_errors_exit_2(tmp_path, args):
    cli = Cli(str(tmp_path), "u")
    p = cli.run(*args, rc=2)
    assert p.stdout == ""
    assert p.stderr  # says what is wrong


def test_a_missing_certificate_file_is_named(vault, tmp_path):
    cli = Cli(str(tmp_path), "x")
    pwfile = write(os.path.join(str(tmp_path), "x.pw"), "whatever-password\n")
    # With --dir, the bundle is DIR/clients/USER/: there is none for "nobody".
    p = cli.run("login", "--dir", vault.dir, "--user", "nobody", "--password-file", pwfile, rc=1)
    assert "cannot read the client certificate" in p.stderr
    assert os.path.join(vault.dir, "clients", "nobody", "client.pem") in p.stderr


def test_help_lists_every_command(tmp_path):
    out = Cli(str(tmp_path), "u").run("help").stdout
    for cmd in ["init", "serve", "config check", "status", "unseal", "seal", "login", "logout",
                "user", "cert issue", "cert list", "cert revoke", "block list", "block rm",
                "contract", "folder", "put",
                "get", "ls", "rm",
                "log verify", "log show", "scan", "check", "rows accept"]:
        assert re.search(r"^  %s\s" % re.escape(cmd), out, re.M), cmd


def test_people_contracts_folders_files(vault, admin_cli, tmp_path):
    base = str(tmp_path)
    admin = admin_cli
    # A contract and a handler account.
    c = admin.json("contract", "create", "新宿区 戸籍住民課 2026")
    assert c["name"] == "新宿区 戸籍住民課 2026" and c["my_role"] == "manager"
    listed = admin.json("contract", "list")
    assert [x["id"] for x in listed["items"]] == [c["id"]] and listed["next_cursor"] is None

    made = admin.json("user", "create", "hanako", "--role", "handler",
                      "--allowed-cidrs", "127.0.0.0/8")
    assert made["user"]["role"] == "handler" and made["user"]["allowed_cidrs"] == "127.0.0.0/8"
    hanako_pw = made["password"]
    # Generated passwords: six groups of five symbols without look-alikes (150 bits).
    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{5}(-[2-9A-HJ-NP-Z]{5}){5}", hanako_pw), hanako_pw
    admin.run("user", "create", "hanako", "--role", "handler", rc=1)  # exists
    p = admin.run("user", "create", "Bad Name", "--role", "handler", rc=1)
    assert "user name" in p.stderr
    names = [u["name"] for u in admin.json("user", "list")["items"]]
    assert names == ["admin", "hanako"]
    shown = admin.json("user", "show", "hanako")
    assert shown["id"] == made["user"]["id"] and not shown["disabled"]

    # Designate: the handler joins the contract.
    d = admin.json("contract", "designate", c["id"], "hanako", "handler")
    assert d == {"user_id": made["user"]["id"], "role": "handler"}
    members = admin.json("contract", "members", c["id"])["items"]
    assert sorted((m["name"], m["role"]) for m in members) == [("admin", "manager"),
                                                                ("hanako", "handler")]
    p = admin.run("contract", "designate", c["id"], "hanako", "operator", rc=1)
    assert "400" in p.stderr

    # A folder; the handler gets read and write on it.
    f = admin.json("folder", "create", c["id"], "住民票")
    assert f["name"] == "住民票" and f["my_perms"] == ["read", "write", "export", "erase"]
    assert [x["id"] for x in admin.json("folder", "list", c["id"])["items"]] == [f["id"]]
    g = admin.json("folder", "grant", f["id"], "hanako", "read,write")
    assert g["perms"] == ["read", "write"]
    acl = admin.json("folder", "acl", f["id"])["items"]
    assert acl == [{"user_id": made["user"]["id"], "perms": ["read", "write"]}]
    p = admin.run("folder", "grant", f["id"], "hanako", "read,fly", rc=1)
    assert "perms" in p.stderr

    # A certificate bundle for hanako, then hanako logs in with it.
    out = os.path.join(base, "hanako-bundle")
    p = admin.run("cert", "issue", "hanako", "--out", out, "--days", "30")
    assert re.search(r"^fingerprint \(SHA-256\): [0-9a-f]{64}$", p.stdout, re.M)
    assert re.search(r"^PKCS#12 password \(shown once\): [2-9A-HJ-NP-Z]{5}(-[2-9A-HJ-NP-Z]{5}){5}$", p.stdout, re.M)
    assert os.stat(os.path.join(out, "client.key")).st_mode & 0o777 == 0o600
    assert os.stat(os.path.join(out, "client.p12")).st_mode & 0o777 == 0o600
    assert open(os.path.join(out, "client.pem")).read().startswith("-----BEGIN CERTIFICATE")
    admin.run("cert", "issue", "hanako", "--out", out, rc=1)  # never overwrites a bundle
    admin.run("cert", "issue", "hanako", "--out", out + "2", "--days", "0", rc=1)

    hanako = Cli(base, "hanako")
    pwfile = write(os.path.join(base, "hanako.pw"), hanako_pw + "\n")
    hanako.run("login", "--url", "https://127.0.0.1:%d" % vault.port,
               "--cert", os.path.join(out, "client.pem"), "--key", os.path.join(out, "client.key"),
               "--cacert", vault.ca, "--user", "hanako", "--password-file", pwfile)
    # The session is bound to hanako's certificate: the admin's does not carry it.
    p = hanako.run("ls", f["id"], "--cert", vault.admin_cert[0], "--key", vault.admin_cert[1],
                   rc=1)
    assert "401" in p.stderr

    # Upload, list, download byte for byte, delete.
    data = os.urandom(300 * 1024 + 17)  # several chunks and a short last one
    src = os.path.join(base, "台帳.bin")
    with open(src, "wb") as fh:
        fh.write(data)
    up = hanako.json("put", f["id"], src)
    assert up["name"] == "台帳.bin" and up["size"] == len(data)
    assert up["sha256"] == hashlib.sha256(data).hexdigest()
    up2 = hanako.json("put", f["id"], src, "--name", "copy.bin")
    assert up2["name"] == "copy.bin"
    p = hanako.run("put", f["id"], src, rc=1)  # the name is taken
    assert "409" in p.stderr
    p = hanako.run("put", f["id"], os.path.join(base, "missing.bin"), rc=1)
    assert "cannot open" in p.stderr

    lines = hanako.run("ls", f["id"]).stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].split() == [up["id"], str(len(data)), up["sha256"], "台帳.bin"]
    assert lines[1].split()[3] == "copy.bin"

    dst = os.path.join(base, "back.bin")
    hanako.run("get", up["id"], "--output", dst)
    assert open(dst, "rb").read() == data
    leftovers = lambda name: [n for n in os.listdir(base) if n.startswith(name + ".tmp-")]
    assert leftovers("back.bin") == []

    # A missing object: exit 1, and neither the file nor a partial one is left.
    gone = os.path.join(base, "gone.bin")
    p = hanako.run("get", "00000000-0000-4000-8000-000000000000", "--output", gone, rc=1)
    assert "404" in p.stderr
    assert not os.path.exists(gone) and leftovers("gone.bin") == []

    hanako.json("rm", up2["id"])
    assert len(hanako.run("ls", f["id"]).stdout.splitlines()) == 1
    hanako.run("rm", up2["id"], rc=1)
    hanako.run("get", up2["id"], "--output", gone, rc=1)
    assert not os.path.exists(gone)

    # Read-only: hanako may still read but no longer write or delete.
    admin.json("folder", "grant", f["id"], "hanako", "read")
    p = hanako.run("put", f["id"], src, "--name", "new.bin", rc=1)
    assert "403" in p.stderr
    hanako.run("rm", up["id"], rc=1)
    hanako.run("get", up["id"], "--output", os.path.join(base, "again.bin"))
    # A handler administers nothing.
    p = hanako.run("user", "create", "jiro", "--role", "handler", rc=1)
    assert "403" in p.stderr
    hanako.run("contract", "create", "mine", rc=1)

    # Disable ends hanako's session; enable lets her log in again.
    assert admin.json("user", "disable", "hanako")["disabled"] is True
    p = hanako.run("ls", f["id"], rc=1)
    assert "401" in p.stderr
    hanako.run("login", "--user", "hanako", "--password-file", pwfile, rc=1)
    assert admin.json("user", "enable", "hanako")["disabled"] is False
    hanako.run("login", "--user", "hanako", "--password-file", pwfile)
    assert len(hanako.run("ls", f["id"]).stdout.splitlines()) == 1


def test_lockout_and_unlock(tmp_path):
    v = Vault(str(tmp_path), extra_conf="\n[auth]\nlockout_failures = 3\n").start()
    try:
        admin = Cli(str(tmp_path), "admin")
        good = write(os.path.join(str(tmp_path), "a.pw"), v.admin_password + "\n")
        admin.run("login", "--dir", v.dir, "--user", "admin", "--password-file", good)
        made = admin.json("user", "create", "taro", "--role", "handler")
        out = os.path.join(str(tmp_path), "taro")
        admin.run("cert", "issue", "taro", "--out", out)
        taro = Cli(str(tmp_path), "taro")
        conn = ["--url", "https://127.0.0.1:%d" % v.port, "--cacert", v.ca,
                "--cert", os.path.join(out, "client.pem"), "--key", os.path.join(out, "client.key")]
        bad = write(os.path.join(str(tmp_path), "bad.pw"), "wrong-password-123\n")
        for _ in range(2):
            taro.run("login", *conn, "--user", "taro", "--password-file", bad, rc=1)
        p = taro.run("login", *conn, "--user", "taro", "--password-file", bad, rc=1)
        assert "423" in p.stderr and "locked" in p.stderr
        assert admin.json("user", "show", "taro")["locked"] is True
        # Locked: even the right password is refused.
        right = write(os.path.join(str(tmp_path), "t.pw"), made["password"] + "\n")
        p = taro.run("login", *conn, "--user", "taro", "--password-file", right, rc=1)
        assert "locked" in p.stderr
        assert admin.json("user", "unlock", "taro")["locked"] is False
        p = taro.run("login", *conn, "--user", "taro", "--password-file", right)
        assert p.stdout.strip() == "logged in as taro (handler)"
    finally:
        v.stop()


def test_seal_then_status_shows_sealed(vault, admin_cli):
    assert admin_cli.json("seal") == {"sealed": True}
    assert admin_cli.json("status")["sealed"] is True
    p = admin_cli.run("contract", "list", rc=1)
    assert "503" in p.stderr and "sealed" in p.stderr
    # This vault was made with a key file: the API's passphrase unseal cannot open it.
    pp = write(os.path.join(os.path.dirname(vault.dir), "pp"), "not a passphrase at all\n")
    admin_cli.run("unseal", "--passphrase-file", pp, rc=1)
    assert admin_cli.json("status")["sealed"] is True


def test_passphrase_vault_starts_sealed_and_unseals(tmp_path):
    base = str(tmp_path)
    d = os.path.join(base, "pv")
    pp = write(os.path.join(base, "passphrase"), "correct horse battery staple\n")
    cli = Cli(base, "op")
    out = cli.run("init", "--dir", d, "--passphrase-file", pp).stdout
    assert "the passphrase you gave" in out
    admin_pw = re.search(r"manager password[^:]*:\s*(\S+)", out).group(1)
    assert oct(os.stat(d).st_mode & 0o777) == "0o700"
    port = free_port()
    with open(os.path.join(d, "kinko.conf"), "a") as f:
        f.write("\n[server]\nlisten = 127.0.0.1:%d\n" % port)
    # A second init on the same directory is refused.
    p = cli.run("init", "--dir", d, "--passphrase-file", pp, rc=1)
    assert "not empty" in p.stderr
    # config check prints every key and the warnings that weaken a checklist row.
    chk = cli.run("config", "check", "--dir", d).stdout
    assert "listen = 127.0.0.1:%d" % port in chk
    assert "warning: S6: require_totp = false" in chk
    assert re.search(r"^\d+ warning\(s\)$", chk, re.M)

    log = open(os.path.join(base, "pv.log"), "wb")
    proc = subprocess.Popen([KINKO, "serve", "--dir", d], stdout=log, stderr=log)
    try:
        v = Vault.__new__(Vault)
        v.proc, v.port, v.host = proc, port, "127.0.0.1"
        v.log = os.path.join(base, "pv.log")
        v.wait_ready()
        conn = ["--dir", d, "--as", "admin"]
        assert cli.json("status", *conn)["sealed"] is True
        apw = write(os.path.join(base, "admin.pw"), admin_pw + "\n")
        p = cli.run("login", *conn, "--user", "admin", "--password-file", apw, rc=1)
        assert "503" in p.stderr and "sealed" in p.stderr
        wrong = write(os.path.join(base, "wrong"), "a wrong passphrase here\n")
        p = cli.run("unseal", *conn, "--passphrase-file", wrong, rc=1)
        assert cli.json("status", *conn)["sealed"] is True
        assert cli.json("unseal", *conn, "--passphrase-file", pp) == {"sealed": False}
        assert cli.json("status", *conn)["sealed"] is False
        p = cli.run("unseal", *conn, "--passphrase-file", pp, rc=1)
        assert "409" in p.stderr  # already unsealed
        cli.run("login", *conn, "--user", "admin", "--password-file", apw)
        cli.json("contract", "create", "after unseal")
        assert cli.json("seal") == {"sealed": True}
        assert cli.json("status")["sealed"] is True
        assert cli.json("unseal", "--passphrase-file", pp) == {"sealed": False}
        # Sealing does not end sessions: the same login works after the unseal.
        assert [c["name"] for c in cli.json("contract", "list")["items"]] == ["after unseal"]
        cli.run("logout")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def on_terminal(args, answers, env=None, timeout=60, at_prompt=None, core_limit=None):
    """Runs kinko on a new pseudo-terminal (its controlling terminal, where it asks
    for secrets), typing each answer after the prompt before it appears (at_prompt,
    if given, is called with the process ID first). Returns the exit status and
    everything the terminal showed."""
    import pty
    import select
    import time
    pid, fd = pty.fork()
    if pid == 0:
        try:
            if core_limit is not None:
                import resource
                resource.setrlimit(resource.RLIMIT_CORE, (core_limit, core_limit))
            os.execve(KINKO, [KINKO, *args], env or os.environ)
        finally:
            os._exit(127)
    shown, pending, deadline = b"", list(answers), time.time() + timeout
    try:
        while time.time() < deadline:
            if pending and shown.endswith(pending[0][0].encode()):
                if at_prompt:
                    at_prompt(pid)
                os.write(fd, pending.pop(0)[1].encode() + b"\n")
            r, _, _ = select.select([fd], [], [], 0.5)
            if r:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
        else:
            raise AssertionError("no prompt or exit in time; shown: %r" % shown)
    finally:
        os.close(fd)
    _, st = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(st), shown.decode(errors="replace")


def test_secrets_typed_on_the_terminal_are_not_echoed(tmp_path):
    base = str(tmp_path)
    d = os.path.join(base, "tv")
    pp = "typed passphrase, 28 chars!"
    rc, shown = on_terminal(["init", "--dir", d],
                            [("New unseal passphrase: ", pp), ("Repeat it: ", pp)])
    assert rc == 0, shown
    assert pp not in shown  # echo was off
    assert "manager password" in shown
    # The passphrase typed is the one the vault took: it unseals to renew the
    # server certificate, and a wrong one does not.
    rc, shown = on_terminal(["cert", "server", "--dir", d],
                            [("Unseal passphrase: ", "not the passphrase at all")])
    assert rc == 1, shown
    rc, shown = on_terminal(["cert", "server", "--dir", d], [("Unseal passphrase: ", pp)])
    assert rc == 0, shown
    assert pp not in shown


def test_a_client_holding_a_secret_leaves_no_core_dump(tmp_path):
    """While the CLI holds a typed password, it can write no core file: the limit
    is 0 for client commands too, not only for the server, whatever it inherited."""
    limits = []

    def look(pid):
        with open("/proc/%d/limits" % pid) as f:
            limits.extend(l.split()[4:6] for l in f if l.startswith("Max core file size"))

    cli = Cli(str(tmp_path), "x")
    rc, shown = on_terminal(["login", "--url", "https://127.0.0.1:1/api/v1/", "--user", "u"],
                            [("Password: ", "a password typed here")], env=cli.env,
                            at_prompt=look, core_limit=1 << 30)
    assert rc == 1, shown
    assert limits == [["0", "0"]]


def test_secret_input_refusals(tmp_path):
    base = str(tmp_path)
    rc, shown = on_terminal(["init", "--dir", os.path.join(base, "a")],
                            [("New unseal passphrase: ", "one passphrase here"),
                             ("Repeat it: ", "another passphrase")])
    assert rc == 1 and "the two passphrases differ" in shown
    assert not os.path.exists(os.path.join(base, "a", "kinko.db"))
    rc, shown = on_terminal(["init", "--dir", os.path.join(base, "b")],
                            [("New unseal passphrase: ", "x" * 3000)])
    assert rc == 1 and "the secret is too long" in shown
    # A file too large to be a passphrase is refused with its name and the limit.
    big = write(os.path.join(base, "big"), "y" * 5000)
    p = subprocess.run([KINKO, "init", "--dir", os.path.join(base, "c"),
                        "--passphrase-file", big], capture_output=True, text=True)
    assert p.returncode == 1
    assert "too large to hold a secret (at most 4095 bytes)" in p.stderr
    assert not os.path.exists(os.path.join(base, "c", "kinko.db"))
    # An empty password file for login is refused before anything is sent.
    empty = write(os.path.join(base, "empty"), "\n")
    cli = Cli(base, "x")
    p = cli.run("login", "--url", "https://127.0.0.1:1/api/v1/", "--user", "u",
                "--password-file", empty, rc=1)
    assert "the secret is empty" in p.stderr
    # A secret is never cut short without a word: a second line or a NUL byte is
    # refused, by login and by init alike (trailing line ends are not the secret).
    for name, text in (("two", "first line\nsecond line\n"), ("nul", "pass\0word-xyz\n")):
        f = write(os.path.join(base, name), text)
        p = cli.run("login", "--url", "https://127.0.0.1:1/api/v1/", "--user", "u",
                    "--password-file", f, rc=1)
        assert "holds more than one line or a NUL byte" in p.stderr
        p = subprocess.run([KINKO, "init", "--dir", os.path.join(base, "d" + name),
                            "--passphrase-file", f], capture_output=True, text=True)
        assert p.returncode == 1 and "holds more than one line or a NUL byte" in p.stderr
        assert not os.path.exists(os.path.join(base, "d" + name, "kinko.db"))


def test_a_totp_code_is_asked_for_on_the_terminal_not_the_command_line(vault, admin, tmp_path):
    import time
    from test_auth import totp
    base = str(tmp_path)
    p = vault.new_user(admin, "handler")
    r = admin.post(vault.url + "users/%s/totp" % p.id)
    assert r.status_code == 200, r.text
    secret = r.json()["otpauth_uri"].split("secret=")[1].split("&")[0]
    pwfile = write(os.path.join(base, "p.pw"), p.password + "\n")
    who = Cli(base, "totp")
    args = ["login", "--url", "https://127.0.0.1:%d" % vault.port, "--cert", p.cert[0],
            "--key", p.cert[1], "--cacert", vault.ca, "--user", p.name,
            "--password-file", pwfile, "--totp", "-"]
    code = totp(secret, int(time.time() // 30))
    rc, shown = on_terminal(args, [("TOTP code: ", code)], env=who.env)
    assert rc == 0 and "logged in as %s" % p.name in shown, shown
    assert code not in shown  # not echoed
    assert who.json("status")["sealed"] is False
    # Without a terminal to ask on, it says where else the code may come from.
    r = subprocess.run([KINKO, *args], capture_output=True, text=True, env=who.env,
                       stdin=subprocess.DEVNULL, start_new_session=True, timeout=60)
    assert r.returncode == 1 and "no terminal to ask for the TOTP code" in r.stderr, r.stderr
    r = subprocess.run([KINKO, *args[:-1], "1234567890123456"], capture_output=True,
                       text=True, env=who.env, stdin=subprocess.DEVNULL, timeout=60)
    assert r.returncode == 1 and "6 digits" in r.stderr, r.stderr
