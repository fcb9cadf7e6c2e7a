#!/usr/bin/env bash
# mailform vs octoDNS on the same 10,000-record zone on the same BIND 9
# server through RFC 2136 (AXFR to read, TSIG-signed DNS UPDATE to write),
# one run each:
#   (a) plan against the populated zone when nothing changes;
#   (b) plan and apply 1,000 changed records.
# For each: wall time and peak memory (GNU time -v). (Counting DNS messages
# from named's logs proved unreliable; mailform's own count is one AXFR per
# plan and one UPDATE message per zone per apply, see benches/README.md.)
#
# From a fresh clone:  benches/rfc2136_vs_octodns.sh
# Needs: cargo, python3 (venv + pip reach PyPI), /usr/bin/time, dig, and the
# Debian packages bind9 bind9-dnsutils. Installs octodns and octodns-bind into
# a throwaway venv. named listens on 127.0.0.1 only; all is removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${RECORDS:-10000}
CHANGES=${CHANGES:-1000}
ZONE=bench.example
KEY=mailform-bench

work=$(mktemp -d /tmp/mailform-bench-XXXXXX)
named_pid=""
stop_named() { [ -n "$named_pid" ] && kill "$named_pid" 2>/dev/null && wait "$named_pid" 2>/dev/null || true; named_pid=""; }
cleanup() { stop_named; rm -rf "$work"; }
trap cleanup EXIT

echo "== building mailform (release)" >&2
cargo build --release --quiet --bin mailform
MAILFORM="${CARGO_TARGET_DIR:-target}/release/mailform"

echo "== installing octodns + octodns-bind into a throwaway venv" >&2
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet octodns octodns-bind
OCTO_VERSION=$("$work/venv/bin/pip" show octodns | awk '/^Version/{print $2}')
OCTOBIND_VERSION=$("$work/venv/bin/pip" show octodns-bind | awk '/^Version/{print $2}')

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export MAILFORM_TSIG_SECRET=$(head -c 32 /dev/urandom | base64)
export OCTO_KEY_NAME=$KEY OCTO_KEY_SECRET=$MAILFORM_TSIG_SECRET

# The zone and both tools' desired state, from one generator.
python3 - "$work" "$ZONE" "$RECORDS" "$CHANGES" "$PORT" "$KEY" <<'PY'
import os, sys
work, zone, n, changes, port, key = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
def ip(i, bump=0):
    i += bump * 7919
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
def records(changed):
    return [(f"host{i}", ip(i, 1 if i < changed else 0)) for i in range(n)]
with open(f"{work}/zone.db", "w") as f:
    f.write(f"$ORIGIN {zone}.\n$TTL 3600\n@ SOA ns1.example.net. hostmaster.{zone}. 1 7200 3600 1209600 300\n@ NS ns1.example.net.\n")
    for h, a in records(0):
        f.write(f"{h} 3600 A {a}\n")
for label, changed in (("same", 0), ("changed", changes)):
    d = f"{work}/{label}"
    os.makedirs(f"{d}/octo", exist_ok=True)
    with open(f"{d}/mailform.yaml", "w") as f:
        f.write(f"version: 1\nproviders:\n  bind:\n    rfc2136: {{server: '127.0.0.1:{port}', key_name: {key}}}\n")
        f.write(f"domains:\n  {zone}:\n    dns: {{provider: bind}}\n    records:\n")
        for h, a in records(changed):
            f.write(f"      {h}: {{A: {{ttl: 3600, values: [{a}]}}}}\n")
    with open(f"{d}/octo/{zone}.yaml", "w") as f:
        f.write("---\n")
        f.write("'':\n  ttl: 3600\n  type: NS\n  value: ns1.example.net.\n")
        for h, a in records(changed):
            f.write(f"{h}:\n  ttl: 3600\n  type: A\n  value: {a}\n")
    with open(f"{d}/octodns.yaml", "w") as f:
        f.write(f"""---
providers:
  config:
    class: octodns.provider.yaml.YamlProvider
    directory: {d}/octo
  bind:
    class: octodns_bind.Rfc2136Provider
    host: 127.0.0.1
    port: {port}
    key_name: env/OCTO_KEY_NAME
    key_secret: env/OCTO_KEY_SECRET
    key_algorithm: hmac-sha256
zones:
  {zone}.:
    sources: [config]
    targets: [bind]
""")
PY

# A fresh named serving the populated zone, for each run.
start_named() {
  stop_named
  rm -rf "$work/named"; mkdir -p "$work/named"
  cp "$work/zone.db" "$work/named/zone.db"
  cat >"$work/named/named.conf" <<CONF
options {
  directory "$work/named";
  pid-file "$work/named/named.pid";
  session-keyfile "$work/named/session.key";
  managed-keys-directory "$work/named";
  listen-on port $PORT { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  notify no;
  dnssec-validation no;
};
controls { };
key "$KEY" { algorithm hmac-sha256; secret "$MAILFORM_TSIG_SECRET"; };
zone "$ZONE" {
  type primary;
  file "$work/named/zone.db";
  allow-transfer { key "$KEY"; };
  allow-update { key "$KEY"; };
};
CONF
  /usr/sbin/named -g -4 -n 1 -c "$work/named/named.conf" >"$work/named/stderr.log" 2>&1 &
  named_pid=$!
  for _ in $(seq 300); do
    dig +short +time=1 +tries=1 -p "$PORT" @127.0.0.1 "$ZONE" SOA 2>/dev/null | grep -q ns1 && return
    sleep 0.1
  done
  echo "named did not start:" >&2; tail "$work/named/stderr.log" >&2; exit 1
}
# measure NAME EXPECTED_EXIT CMD...: prints "wall_s peak_kib".
measure() {
  local name=$1 expect=$2; shift 2
  local status=0
  /usr/bin/time -v -o "$work/$name.time" "$@" >"$work/$name.out" 2>"$work/$name.err" || status=$?
  if [ "$status" != "$expect" ]; then
    echo "$name exited $status (expected $expect):" >&2; tail -20 "$work/$name.out" "$work/$name.err" >&2; exit 1
  fi
  local wall peak
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$work/$name.time")
  peak=$(awk -F': ' '/Maximum resident set size/{print $2}' "$work/$name.time")
  echo "$wall $peak"
}

echo "== (a) plan, nothing to change ($RECORDS records)" >&2
start_named
read -r mf_a_t mf_a_m < <(measure mf_plan 0 "$MAILFORM" -f "$work/same/mailform.yaml" plan --detailed-exitcode)
read -r oc_a_t oc_a_m < <(measure oc_plan 0 "$work/venv/bin/octodns-sync" --config-file "$work/same/octodns.yaml")
grep -q "No changes were planned" "$work/oc_plan.out" "$work/oc_plan.err" || { echo "octoDNS planned changes on an unchanged zone" >&2; tail "$work/oc_plan.err" >&2; exit 1; }

echo "== (b) plan + apply $CHANGES changes" >&2
start_named
read -r mf_b_t mf_b_m < <(measure mf_apply 0 "$MAILFORM" -f "$work/changed/mailform.yaml" apply --auto-approve)
"$MAILFORM" -f "$work/changed/mailform.yaml" plan --detailed-exitcode >/dev/null || { echo "mailform did not converge" >&2; exit 1; }
start_named
read -r oc_b_t oc_b_m < <(measure oc_apply 0 "$work/venv/bin/octodns-sync" --config-file "$work/changed/octodns.yaml" --doit)
"$MAILFORM" -f "$work/changed/mailform.yaml" plan --detailed-exitcode >/dev/null || { echo "octoDNS's apply did not reach the same state" >&2; exit 1; }

ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{b/a:.1f}x' if a>0 else 'n/a')" "$1" "$2"; }
echo
echo "$(/usr/sbin/named -v | head -1), $RECORDS A records, $CHANGES changed; $(nproc) CPUs"
echo "mailform $("$MAILFORM" --version | awk '{print $2}') vs octodns $OCTO_VERSION + octodns-bind $OCTOBIND_VERSION"
printf '%-30s %14s %14s %10s\n' "" "mailform" "octoDNS" "octoDNS/mailform"
printf '%-30s %13.2fs %13.2fs %10s\n' "(a) plan: wall time" "$mf_a_t" "$oc_a_t" "$(ratio "$mf_a_t" "$oc_a_t")"
printf '%-30s %11d MiB %11d MiB %10s\n' "(a) plan: peak memory" $((mf_a_m / 1024)) $((oc_a_m / 1024)) "$(ratio "$mf_a_m" "$oc_a_m")"
printf '%-30s %13.2fs %13.2fs %10s\n' "(b) apply: wall time" "$mf_b_t" "$oc_b_t" "$(ratio "$mf_b_t" "$oc_b_t")"
printf '%-30s %11d MiB %11d MiB %10s\n' "(b) apply: peak memory" $((mf_b_m / 1024)) $((oc_b_m / 1024)) "$(ratio "$mf_b_m" "$oc_b_m")"
