#!/usr/bin/env bash
# mailform vs octoDNS on the same 10,000-record zone on the same PowerDNS
# server, one run each:
#   (a) plan against the populated zone when nothing changes;
#   (b) plan and apply 1,000 changed records.
# For each: wall time and peak memory (GNU time -v), and HTTP requests to
# the PowerDNS API (counted from PowerDNS's own webserver log,
# --webserver-loglevel=normal --loglevel=6, one line per request).
#
# From a fresh clone:  benches/powerdns_vs_octodns.sh
# Needs: cargo, python3 (venv + pip reach PyPI), /usr/bin/time, and the
# Debian packages pdns-server pdns-backend-sqlite3 sqlite3. Installs octodns
# and octodns-powerdns into a throwaway venv. Everything listens on
# 127.0.0.1 only and is removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${RECORDS:-10000}
CHANGES=${CHANGES:-1000}
ZONE=bench.example

work=$(mktemp -d /tmp/mailform-bench-XXXXXX)
pdns_pid=""
cleanup() {
  [ -n "$pdns_pid" ] && kill "$pdns_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== building mailform (release)" >&2
cargo build --release --quiet --bin mailform
MAILFORM="${CARGO_TARGET_DIR:-target}/release/mailform"

echo "== installing octodns + octodns-powerdns into a throwaway venv" >&2
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet octodns octodns-powerdns
OCTO_VERSION=$("$work/venv/bin/pip" show octodns | awk '/^Version/{print $2}')
OCTOPDNS_VERSION=$("$work/venv/bin/pip" show octodns-powerdns | awk '/^Version/{print $2}')

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DNS_PORT=$(free_port); API_PORT=$(free_port)
export PDNS_API_KEY=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
sqlite3 "$work/pdns.db" < /usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql
/usr/sbin/pdns_server --daemon=no --guardian=no --disable-syslog --write-pid=no \
  --config-dir="$work" --socket-dir="$work" \
  --local-address=127.0.0.1 --local-port="$DNS_PORT" \
  --launch=gsqlite3 --gsqlite3-database="$work/pdns.db" \
  --api=yes --api-key="$PDNS_API_KEY" --webserver=yes --webserver-address=127.0.0.1 \
  --webserver-port="$API_PORT" --webserver-allow-from=127.0.0.0/8 \
  --webserver-loglevel=normal --loglevel=6 >"$work/pdns.log" 2>&1 &
pdns_pid=$!
API="http://127.0.0.1:$API_PORT/api/v1/servers/localhost"
for _ in $(seq 100); do
  curl -sf -H "X-API-Key: $PDNS_API_KEY" "$API" >/dev/null && break
  sleep 0.1
done

# The zone and both tools' desired state, from one generator.
python3 - "$work" "$ZONE" "$RECORDS" "$CHANGES" "$API_PORT" <<'EOF'
import json, sys, os
work, zone, n, changes, port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def ip(i, bump=0):
    i += bump * 7919
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
def records(changed):
    return [(f"host{i}", ip(i, 1 if i < changed else 0)) for i in range(n)]
# PowerDNS: the populated zone (one POST).
rrsets = [{"name": f"{h}.{zone}.", "type": "A", "ttl": 3600,
           "records": [{"content": a, "disabled": False}]} for h, a in records(0)]
json.dump({"name": f"{zone}.", "kind": "Native", "nameservers": ["ns1.example.net."],
           "rrsets": rrsets}, open(f"{work}/zone.json", "w"))
for label, changed in (("same", 0), ("changed", changes)):
    d = f"{work}/{label}"
    os.makedirs(f"{d}/octo", exist_ok=True)
    with open(f"{d}/mailform.yaml", "w") as f:
        f.write(f"version: 1\nproviders:\n  pdns:\n    powerdns: {{endpoint: 'http://127.0.0.1:{port}'}}\n")
        f.write(f"domains:\n  {zone}:\n    dns: {{provider: pdns}}\n    records:\n")
        for h, a in records(changed):
            f.write(f"      {h}: {{A: {{ttl: 3600, values: [{a}]}}}}\n")
    with open(f"{d}/octo/{zone}.yaml", "w") as f:
        f.write("---\n")
        for h, a in records(changed):
            f.write(f"{h}:\n  ttl: 3600\n  type: A\n  value: {a}\n")
    with open(f"{d}/octodns.yaml", "w") as f:
        f.write(f"""---
providers:
  config:
    class: octodns.provider.yaml.YamlProvider
    directory: {d}/octo
  powerdns:
    class: octodns_powerdns.PowerDnsProvider
    host: 127.0.0.1
    port: {port}
    scheme: http
    api_key: env/PDNS_API_KEY
zones:
  {zone}.:
    sources: [config]
    targets: [powerdns]
""")
EOF

populate() {
  curl -s -o /dev/null -X DELETE -H "X-API-Key: $PDNS_API_KEY" "$API/zones/$ZONE." || true
  curl -sf -o /dev/null -X POST -H "X-API-Key: $PDNS_API_KEY" -H 'Content-Type: application/json' \
    --data-binary @"$work/zone.json" "$API/zones"
}
api_requests() { grep -cE '"(GET|POST|PATCH|PUT|DELETE) /api/' "$work/pdns.log" || true; }

# measure NAME EXPECTED_EXIT CMD...: prints "wall_s peak_kib requests".
measure() {
  local name=$1 expect=$2; shift 2
  local before after status=0
  before=$(api_requests)
  /usr/bin/time -v -o "$work/$name.time" "$@" >"$work/$name.out" 2>"$work/$name.err" || status=$?
  after=$(api_requests)
  if [ "$status" != "$expect" ]; then
    echo "$name exited $status (expected $expect):" >&2; tail -20 "$work/$name.out" "$work/$name.err" >&2; exit 1
  fi
  local wall peak
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$work/$name.time")
  peak=$(awk -F': ' '/Maximum resident set size/{print $2}' "$work/$name.time")
  echo "$wall $peak $((after - before))"
}

echo "== (a) plan, nothing to change ($RECORDS records)" >&2
populate
read -r mf_a_t mf_a_m mf_a_r < <(measure mf_plan 0 "$MAILFORM" -f "$work/same/mailform.yaml" plan --detailed-exitcode)
read -r oc_a_t oc_a_m oc_a_r < <(measure oc_plan 0 "$work/venv/bin/octodns-sync" --config-file "$work/same/octodns.yaml")
grep -q "No changes were planned" "$work/oc_plan.out" "$work/oc_plan.err" || { echo "octoDNS planned changes on an unchanged zone" >&2; tail "$work/oc_plan.err" >&2; exit 1; }

echo "== (b) plan + apply $CHANGES changes" >&2
populate
read -r mf_b_t mf_b_m mf_b_r < <(measure mf_apply 0 "$MAILFORM" -f "$work/changed/mailform.yaml" apply --auto-approve)
"$MAILFORM" -f "$work/changed/mailform.yaml" plan --detailed-exitcode >/dev/null || { echo "mailform did not converge" >&2; exit 1; }
populate
read -r oc_b_t oc_b_m oc_b_r < <(measure oc_apply 0 "$work/venv/bin/octodns-sync" --config-file "$work/changed/octodns.yaml" --doit)
"$MAILFORM" -f "$work/changed/mailform.yaml" plan --detailed-exitcode >/dev/null || { echo "octoDNS's apply did not reach the same state" >&2; exit 1; }

ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{b/a:.1f}x' if a>0 else 'n/a')" "$1" "$2"; }
echo
echo "PowerDNS $(/usr/sbin/pdns_server --version 2>&1 | grep -oE 'PowerDNS Authoritative Server [0-9.]+' | head -1), $RECORDS A records, $CHANGES changed; $(nproc) CPUs"
echo "mailform $("$MAILFORM" --version | awk '{print $2}') vs octodns $OCTO_VERSION + octodns-powerdns $OCTOPDNS_VERSION"
printf '%-28s %14s %14s %10s\n' "" "mailform" "octoDNS" "octoDNS/mailform"
printf '%-28s %13.2fs %13.2fs %10s\n' "(a) plan: wall time" "$mf_a_t" "$oc_a_t" "$(ratio "$mf_a_t" "$oc_a_t")"
printf '%-28s %11d MiB %11d MiB %10s\n' "(a) plan: peak memory" $((mf_a_m / 1024)) $((oc_a_m / 1024)) "$(ratio "$mf_a_m" "$oc_a_m")"
printf '%-28s %14d %14d\n' "(a) plan: HTTP requests" "$mf_a_r" "$oc_a_r"
printf '%-28s %13.2fs %13.2fs %10s\n' "(b) apply: wall time" "$mf_b_t" "$oc_b_t" "$(ratio "$mf_b_t" "$oc_b_t")"
printf '%-28s %11d MiB %11d MiB %10s\n' "(b) apply: peak memory" $((mf_b_m / 1024)) $((oc_b_m / 1024)) "$(ratio "$mf_b_m" "$oc_b_m")"
printf '%-28s %14d %14d\n' "(b) apply: HTTP requests" "$mf_b_r" "$oc_b_r"
