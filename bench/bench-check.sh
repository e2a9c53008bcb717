#!/bin/sh
# kinko check (full: every chunk authenticated, the SHA-256 of the content compared)
# on a vault holding one 1 GiB object, against `openssl dgst -sha256` of the same
# plaintext, in the same run. Both read cold from the disk (kinko's blob is never in
# the page cache after upload; the plaintext is evicted first). The peer is the floor:
# the check reads as many bytes and hashes them too, and decrypts them besides.
set -eu
: "${KINKO_BIN:?}" "${BENCH_DIR:?}"
size_mb=${BENCH_SIZE_MB:-1024}
runs=${BENCH_RUNS:-3}
B="$BENCH_DIR/check"
rm -rf "$B"
mkdir -p "$B"
chmod 700 "$B"
port=$((22000 + $$ % 20000))

head -c "${size_mb}M" /dev/urandom >"$B/data.bin"
bytes=$(stat -c %s "$B/data.bin")
head -c 32 /dev/urandom >"$B/key"
"$KINKO_BIN" init --dir "$B/v" --key-file "$B/key" >"$B/init.txt"
printf '\n[server]\nlisten = 127.0.0.1:%s\n[scan]\nrequired = false\n' "$port" >>"$B/v/kinko.conf"
pw=$(sed -n 's/^  manager password[^:]*: *//p' "$B/init.txt")
V="$B/v"
tls="--cacert $V/tls/ca.pem --cert $V/clients/admin/client.pem --key $V/clients/admin/client.key"
"$KINKO_BIN" serve --dir "$V" --key-file "$B/key" 2>"$B/kinko.log" &
kpid=$!
trap 'kill $kpid 2>/dev/null || true; wait 2>/dev/null || true' EXIT
i=0
until grep -q "kinko: serving" "$B/kinko.log" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 300 ] || { echo "bench: server did not start"; cat "$B/kinko.log"; exit 1; }
	sleep 0.1
done
json() { /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
url="https://127.0.0.1:$port/api/v1"
token=$(curl -sf $tls -H 'Content-Type: application/json' \
	-d "{\"user\":\"admin\",\"password\":\"$pw\"}" "$url/login" | json "['token']")
auth="Authorization: Bearer $token"
contract=$(curl -sf $tls -H "$auth" -d '{"name":"bench"}' "$url/contracts" | json "['id']")
folder=$(curl -sf $tls -H "$auth" -d '{"name":"bench"}' "$url/contracts/$contract/folders" | json "['id']")
curl -sf $tls -H "$auth" -T "$B/data.bin" -o /dev/null "$url/folders/$folder/objects?name=data"
# The check runs beside the server, as an operator would run it.

best() { sort -g | tail -n 1; }
ks="" ps=""
for r in $(seq "$runs"); do
	out=$("$KINKO_BIN" check --dir "$V" --key-file "$B/key" --json)
	ks="$ks $(echo "$out" | json "['seconds']")"
	[ "$(echo "$out" | json "['intact']")" = True ] || { echo "bench: check failed: $out"; exit 1; }
	dd if="$B/data.bin" iflag=nocache count=0 2>/dev/null
	ps="$ps $(/usr/bin/python3 -c 'import subprocess, sys, time
t = time.monotonic()
subprocess.run(["openssl", "dgst", "-sha256", sys.argv[1]], check=True, stdout=subprocess.DEVNULL)
print(time.monotonic() - t)' "$B/data.bin")"
done
echo "runs (s): kinko check [$ks] openssl dgst [$ps]"
/usr/bin/python3 - "$bytes" "$ks" "$ps" <<'PY'
import sys
size = float(sys.argv[1])
k = min(float(x) for x in sys.argv[2].split())
p = min(float(x) for x in sys.argv[3].split())
print("integrity check of %.0f MiB, read cold (best of runs, MB/s = 10^6 bytes/s)" % (size / 2**20))
print("  kinko check (authenticate + SHA-256): %7.1f MB/s   openssl dgst -sha256: %7.1f MB/s   ratio %.2f"
      % (size / k / 1e6, size / p / 1e6, p / k))
PY
