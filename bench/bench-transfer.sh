#!/bin/sh
# Upload and download a 1 GiB file over mutual TLS 1.3: kinko against nginx, in the
# same run, same client (curl), same certificates, same file. Prints MB/s for both,
# their ratio, and kinko's peak RSS during the transfers.
#   BENCH_SIZE_MB (default 1024), BENCH_RUNS (default 3, the best run counts).
set -eu
: "${KINKO_BIN:?}" "${BENCH_DIR:?}"
size_mb=${BENCH_SIZE_MB:-1024}
runs=${BENCH_RUNS:-3}
B="$BENCH_DIR/transfer"
rm -rf "$B"
mkdir -p "$B/www/up" "$B/www/dl" "$B/nginx/logs" "$B/tmp"
chmod 700 "$B"

port_k=$((20000 + $$ % 20000))
port_n=$((port_k + 1))

head -c "${size_mb}M" /dev/urandom >"$B/www/dl/data.bin"
data="$B/www/dl/data.bin"
bytes=$(stat -c %s "$data")

head -c 32 /dev/urandom >"$B/key"
"$KINKO_BIN" init --dir "$B/v" --key-file "$B/key" >"$B/init.txt"
printf '\n[server]\nlisten = 127.0.0.1:%s\n' "$port_k" >>"$B/v/kinko.conf"
# This compares transport and storage with nginx; scanning is measured in bench-scan-upload.sh.
printf "\n[scan]\nrequired = false\n" >>"$B/v/kinko.conf"
pw=$(sed -n 's/^  manager password[^:]*: *//p' "$B/init.txt")
V="$B/v"
tls="--cacert $V/tls/ca.pem --cert $V/clients/admin/client.pem --key $V/clients/admin/client.key"

"$KINKO_BIN" serve --dir "$V" --key-file "$B/key" 2>"$B/kinko.log" &
kpid=$!
cat >"$B/nginx/nginx.conf" <<EOF
worker_processes auto;
user $(id -un);
pid $B/nginx/nginx.pid;
error_log $B/nginx/logs/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $B/tmp;
  proxy_temp_path $B/tmp; fastcgi_temp_path $B/tmp; uwsgi_temp_path $B/tmp; scgi_temp_path $B/tmp;
  server {
    listen 127.0.0.1:$port_n ssl;
    ssl_protocols TLSv1.3;
    ssl_certificate $V/tls/server.pem;
    ssl_certificate_key $V/tls/server.key;
    ssl_client_certificate $V/tls/ca.pem;
    ssl_verify_client on;
    client_max_body_size 0;
    client_body_buffer_size 1m;
    location /up/ { root $B/www; dav_methods PUT; create_full_put_path on; }
    location /dl/ { root $B/www; }
  }
}
EOF
nginx -c "$B/nginx/nginx.conf" -p "$B/nginx" -g 'daemon off;' &
npid=$!
cleanup() { kill "$kpid" "$npid" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

i=0
until curl -sf $tls "https://127.0.0.1:$port_k/api/v1/status" >/dev/null 2>&1 &&
	curl -sf $tls "https://127.0.0.1:$port_n/dl/" -o /dev/null -w '' 2>/dev/null ||
	[ "$(curl -s $tls -o /dev/null -w '%{http_code}' "https://127.0.0.1:$port_n/dl/")" = 403 ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "bench: servers did not start"; cat "$B/kinko.log"; exit 1; }
	sleep 0.1
done

json() { /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
token=$(curl -sf $tls -H 'Content-Type: application/json' \
	-d "{\"user\":\"admin\",\"password\":\"$pw\"}" "https://127.0.0.1:$port_k/api/v1/login" | json "['token']")
auth="Authorization: Bearer $token"
contract=$(curl -sf $tls -H "$auth" -d '{"name":"bench"}' "https://127.0.0.1:$port_k/api/v1/contracts" | json "['id']")
folder=$(curl -sf $tls -H "$auth" -d '{"name":"bench"}' "https://127.0.0.1:$port_k/api/v1/contracts/$contract/folders" | json "['id']")

# Reset kinko's peak RSS now that start-up and the login's Argon2id are behind us.
echo 5 >"/proc/$kpid/clear_refs" 2>/dev/null || true

best() { sort -g | tail -n 1; }
# CPU time (clock ticks) of processes so far, summed; and of the last timed curl.
ticks() { for p in "$@"; do cat "/proc/$p/stat" 2>/dev/null; done | awk '{s += $14 + $15} END {print s + 0}'; }
curl_cpu() { awk '{print $1 + $2}' "$B/curl.time"; }
tcurl() { /usr/bin/time -f '%U %S' -o "$B/curl.time" curl "$@"; }
up_k="" up_n="" dl_k="" dl_n="" dw_k="" dw_n="" oid=""
cpu_k=0 cpu_n=0 cpu_ck=0 cpu_cn=0
for r in $(seq "$runs"); do
	t0=$(ticks "$kpid")
	out=$(tcurl -s $tls -H "$auth" -T "$data" -o "$B/up.json" -w '%{speed_upload} %{http_code}' \
		"https://127.0.0.1:$port_k/api/v1/folders/$folder/objects?name=run$r")
	cpu_k=$((cpu_k + $(ticks "$kpid") - t0))
	cpu_ck=$(echo "$cpu_ck $(curl_cpu)" | awk '{print $1 + $2}')
	[ "${out#* }" = 201 ] || { echo "bench: kinko upload failed: $out"; cat "$B/up.json"; exit 1; }
	up_k="$up_k ${out% *}"
	oid=$(json "['id']" <"$B/up.json")
	ngx="$npid $(pgrep -P "$npid" | tr '\n' ' ')"
	t0=$(ticks $ngx)
	out=$(tcurl -s $tls -T "$data" -o /dev/null -w '%{speed_upload} %{http_code}' \
		"https://127.0.0.1:$port_n/up/run$r")
	cpu_n=$((cpu_n + $(ticks $ngx) - t0))
	cpu_cn=$(echo "$cpu_cn $(curl_cpu)" | awk '{print $1 + $2}')
	case "${out#* }" in 201|204) ;; *) echo "bench: nginx upload failed: $out"; exit 1 ;; esac
	up_n="$up_n ${out% *}"
	rm -f "$B/www/up/run$r"
	# Cold: kinko drops each blob from the page cache as it writes it, so its first
	# download reads the device; nginx's file is evicted from the page cache to match. Warm: the same
	# downloads again, both from the page cache.
	dd if="$data" iflag=nocache count=0 2>/dev/null
	for pass in cold warm; do
		out=$(curl -s $tls -H "$auth" -o /dev/null -w '%{speed_download} %{http_code}' \
			"https://127.0.0.1:$port_k/api/v1/objects/$oid")
		[ "${out#* }" = 200 ] || { echo "bench: kinko download failed: $out"; exit 1; }
		if [ $pass = cold ]; then dl_k="$dl_k ${out% *}"; else dw_k="$dw_k ${out% *}"; fi
		out=$(curl -s $tls -o /dev/null -w '%{speed_download} %{http_code}' \
			"https://127.0.0.1:$port_n/dl/data.bin")
		[ "${out#* }" = 200 ] || { echo "bench: nginx download failed: $out"; exit 1; }
		if [ $pass = cold ]; then dl_n="$dl_n ${out% *}"; else dw_n="$dw_n ${out% *}"; fi
	done
	curl -s $tls -H "$auth" -X DELETE -o /dev/null "https://127.0.0.1:$port_k/api/v1/objects/$oid"
done
# kinko makes every upload durable (fsync before it answers); nginx's DAV PUT does not.
# The disk's own durable write rate, measured here the same way, bounds kinko's upload.
disk=$(dd if=/dev/zero of="$B/dd.bin" bs=1M count="$size_mb" conv=fdatasync 2>&1 |
	sed -n 's/.* copied, \([0-9.]*\) s.*/\1/p')
rm -f "$B/dd.bin"
rss=$(awk "/^VmHWM:/{print \$2}" "/proc/$kpid/status")
echo "runs: up kinko[$up_k] nginx[$up_n] down cold kinko[$dl_k] nginx[$dl_n] warm kinko[$dw_k] nginx[$dw_n]"

uk=$(echo $up_k | tr ' ' '\n' | best); un=$(echo $up_n | tr ' ' '\n' | best)
dk=$(echo $dl_k | tr ' ' '\n' | best); dn=$(echo $dl_n | tr ' ' '\n' | best)
wk=$(echo $dw_k | tr ' ' '\n' | best); wn=$(echo $dw_n | tr ' ' '\n' | best)
/usr/bin/python3 - "$bytes" "$uk" "$un" "$dk" "$dn" "$rss" "$disk" "$wk" "$wn" \
	"$cpu_k" "$cpu_ck" "$cpu_n" "$cpu_cn" "$runs" "$(getconf CLK_TCK)" "$up_k" "$up_n" <<'EOF'
import statistics, sys
size, uk, un, dk, dn, rss, disk, wk, wn = (float(x) for x in sys.argv[1:10])
cpu_k, cpu_ck, cpu_n, cpu_cn, runs, hz = (float(x) for x in sys.argv[10:16])
pairs = zip((float(x) for x in sys.argv[16].split()), (float(x) for x in sys.argv[17].split()))
mb = lambda v: v / 1e6
print("transfer of %.0f MiB over mutual TLS 1.3 (best of runs, MB/s = 10^6 bytes/s)" % (size / 2**20))
print("  upload:   kinko %7.1f MB/s   nginx %7.1f MB/s   ratio %.2f  (target >= 0.50)" % (mb(uk), mb(un), uk / un))
# Each kinko upload is followed at once by nginx's: the median of those pairs'
# ratios is less moved by one fast or slow run of either than best-to-best.
print("            ratio of each run's pair, median: %.2f" % statistics.median(k / n for k, n in pairs))
print("  download, file not in the page cache (kinko's blobs never are after upload):")
print("            kinko %7.1f MB/s   nginx %7.1f MB/s   ratio %.2f  (target >= 0.70)" % (mb(dk), mb(dn), dk / dn))
print("  download again, from the page cache:")
print("            kinko %7.1f MB/s   nginx %7.1f MB/s   ratio %.2f" % (mb(wk), mb(wn), wk / wn))
print("  kinko peak RSS during the transfers: %.1f MiB  (target < 64)" % (rss / 1024))
print("  disk's durable write rate (dd conv=fdatasync): %.1f MB/s; kinko upload = %.2f of it"
      " (nginx does not fsync)" % (size / disk / 1e6, uk / (size / disk)))
# Server and client share the machine's cores: when they are all busy, the upload
# ratio cannot exceed (nginx + its curl) / (kinko + its curl), in CPU time per GiB.
gib = size / 2**30 * runs
k, ck, n, cn = cpu_k / hz / gib, cpu_ck / gib, cpu_n / hz / gib, cpu_cn / gib
print("  CPU per GiB uploaded: kinko %.2f s + curl %.2f s; nginx %.2f s + curl %.2f s;"
      " with every core busy the upload ratio is at most %.2f" % (k, ck, n, cn, (n + cn) / (k + ck)))
EOF
