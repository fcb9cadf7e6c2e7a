//! A real PowerDNS Authoritative server for tests (Debian packages
//! `pdns-server`, `pdns-backend-sqlite3`, plus `sqlite3` to create the
//! database), started once per test process.
//!
//! [`server`] starts `pdns_server` in the foreground on 127.0.0.1 — DNS and
//! the API webserver each on a free high port — with a fresh SQLite
//! database, a random API key and every file in a temp directory. The
//! server lives in a static for the whole process (a static's destructor
//! never runs), so it is started under a small `sh` watchdog that kills it
//! and removes its directory as soon as the test process is gone — however
//! that process ends, SIGKILL included. Missing packages skip the tests
//! with a message, or fail them under `MAILFORM_REQUIRE_REAL_SERVERS=1`
//! (CI).
//!
//! Also here: a minimal blocking HTTP/1.1 client, to change the zone
//! behind mailform's back the way another admin or tool would.
//!
//! Shared by `providers/powerdns/tests/` and the workspace's end-to-end
//! tests (through `#[path]`), so it depends only on std and tempfile.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const PDNS_SERVER: &str = "/usr/sbin/pdns_server";
pub const SQLITE3: &str = "/usr/bin/sqlite3";
const SCHEMAS: [&str; 2] = [
    "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql",
    "/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql",
];

/// A running PowerDNS server.
pub struct Pdns {
    /// `http://127.0.0.1:<port>`: the `endpoint` setting.
    pub endpoint: String,
    pub api_port: u16,
    pub dns_port: u16,
    pub api_key: String,
    pub dir: PathBuf,
    pub pid: u32,
}

/// `path` if it exists, else `None` after printing why the test is skipped
/// (or a panic under `MAILFORM_REQUIRE_REAL_SERVERS=1`).
pub fn require_file(path: &str, package: &str) -> Option<PathBuf> {
    mailform_testkit::real_server::require_program(&[path], package)
}

/// The shared server, started on first use; `None` when PowerDNS is not
/// installed (the caller returns, the test is skipped).
pub fn server() -> Option<&'static Pdns> {
    static SERVER: OnceLock<Option<Pdns>> = OnceLock::new();
    SERVER.get_or_init(start).as_ref()
}

fn start() -> Option<Pdns> {
    let pdns = require_file(PDNS_SERVER, "pdns-server")?;
    let sqlite = require_file(SQLITE3, "sqlite3")?;
    let schema = SCHEMAS
        .iter()
        .find(|s| Path::new(s).is_file())
        .copied()
        .or_else(|| {
            require_file(SCHEMAS[0], "pdns-backend-sqlite3");
            None
        })?;
    let mut last = String::new();
    for _ in 0..5 {
        match try_start(&pdns, &sqlite, schema) {
            Ok(s) => return Some(s),
            Err(log) => last = log,
        }
    }
    panic!("pdns_server did not start:\n{last}");
}

/// A port free for UDP and TCP on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = udp.local_addr().unwrap().port();
        if port >= 1024 && TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
}

/// A random hex string from the kernel's generator.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

// The watchdog is deliberately left running (not waited for): it ends the
// server when this process exits, and the kernel reaps it then.
#[allow(clippy::zombie_processes)]
fn try_start(pdns: &Path, sqlite: &Path, schema: &str) -> Result<Pdns, String> {
    // Kept (not auto-deleted) so that it outlives this function; removed
    // by the exit hook.
    let dir = tempfile::Builder::new()
        .prefix("mailform-pdns-")
        .tempdir()
        .unwrap()
        .keep();
    let db = dir.join("pdns.sqlite3");
    let status = Command::new(sqlite)
        .arg(&db)
        .stdin(std::fs::File::open(schema).unwrap())
        .status()
        .expect("run sqlite3");
    assert!(
        status.success(),
        "sqlite3 could not create the PowerDNS schema"
    );
    let (dns_port, api_port) = (free_port(), free_port());
    let api_key = random_hex(16);
    let log_path = dir.join("pdns.log");
    let d = dir.display();
    let mut args = vec![
        "--daemon=no".to_string(),
        "--guardian=no".into(),
        "--disable-syslog".into(),
        "--write-pid=no".into(),
        format!("--config-dir={d}"),
        format!("--socket-dir={d}"),
        "--local-address=127.0.0.1".into(),
        format!("--local-port={dns_port}"),
        "--launch=gsqlite3".into(),
        format!("--gsqlite3-database={}", db.display()),
        "--api=yes".into(),
        format!("--api-key={api_key}"),
        "--webserver=yes".into(),
        "--webserver-address=127.0.0.1".into(),
        format!("--webserver-port={api_port}"),
        "--webserver-allow-from=127.0.0.0/8".into(),
        // Caches would make DNS answers lag behind API writes.
        "--cache-ttl=0".into(),
        "--query-cache-ttl=0".into(),
        "--negquery-cache-ttl=0".into(),
        "--loglevel=4".into(),
    ];
    // DNS UPDATE and AXFR for the rfc2136 provider's tests against PowerDNS.
    args.push("--dnsupdate=yes".into());
    args.push("--allow-dnsupdate-from=127.0.0.0/8".into());
    args.push("--allow-axfr-ips=127.0.0.0/8".into());
    let child = supervised(pdns, &args, &dir)
        .stdout(std::fs::File::create(&log_path).unwrap())
        .stderr(std::fs::File::create(dir.join("pdns.err")).unwrap())
        .spawn()
        .expect("start pdns_server");
    let pid = child.id();
    let server = Pdns {
        endpoint: format!("http://127.0.0.1:{api_port}"),
        api_port,
        dns_port,
        api_key,
        dir: dir.clone(),
        pid,
    };
    let log = || {
        let mut s = std::fs::read_to_string(&log_path).unwrap_or_default();
        s.push_str(&std::fs::read_to_string(dir.join("pdns.err")).unwrap_or_default());
        s
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut child = child;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Err(format!("pdns_server exited with {status}:\n{}", log()));
        }
        if let Ok((200, _)) = server.api("GET", "/api/v1/servers/localhost", None) {
            // Dropped without waiting: the watchdog ends the server.
            drop(child);
            return Ok(server);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    Err(format!("pdns_server did not answer within 30s:\n{}", log()))
}

/// `program args...` under a watchdog shell that kills it (SIGKILL) and
/// removes `dir` once this test process no longer exists; SIGTERM to the
/// watchdog (the returned command's pid) does the same at once.
pub fn supervised(program: &Path, args: &[String], dir: &Path) -> Command {
    const WATCHDOG: &str = r#"parent=$1; dir=$2; shift 2
"$@" &
child=$!
trap 'kill -9 $child 2>/dev/null; rm -rf "$dir"; exit 0' TERM INT
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.2; done
kill -9 $child 2>/dev/null
wait $child
status=$?
# Keep the directory (and its logs) while the test process can still read them.
kill -0 "$parent" 2>/dev/null || rm -rf "$dir"
exit $status"#;
    let mut c = Command::new("/bin/sh");
    c.arg("-c")
        .arg(WATCHDOG)
        .arg("watchdog")
        .arg(std::process::id().to_string())
        .arg(dir)
        .arg(program)
        .args(args)
        .stdin(Stdio::null());
    c
}

impl Pdns {
    /// One API request; the status and body. For out-of-band changes and
    /// checks, independent of the code under test.
    pub fn api(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> std::io::Result<(u16, String)> {
        let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, self.api_port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        let body = body.unwrap_or("");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.api_key,
            body.len()
        )?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Ok((status, body))
    }

    /// Replaces one RRset directly through the API (another admin's edit).
    pub fn replace_rrset(&self, zone: &str, name: &str, rtype: &str, ttl: u32, contents: &[&str]) {
        let records: Vec<String> = contents
            .iter()
            .map(|c| format!(r#"{{"content": {}, "disabled": false}}"#, json_string(c)))
            .collect();
        let body = format!(
            r#"{{"rrsets": [{{"name": "{name}.", "type": "{rtype}", "ttl": {ttl}, "changetype": "REPLACE", "records": [{}]}}]}}"#,
            records.join(",")
        );
        let (status, answer) = self
            .api(
                "PATCH",
                &format!("/api/v1/servers/localhost/zones/{zone}."),
                Some(&body),
            )
            .unwrap();
        assert_eq!(status, 204, "out-of-band PATCH failed: {answer}");
    }

    /// Creates `zone` directly through the API with the given NS names.
    pub fn create_zone(&self, zone: &str, nameservers: &[&str]) {
        let ns: Vec<String> = nameservers.iter().map(|n| format!("\"{n}.\"")).collect();
        let body = format!(
            r#"{{"name": "{zone}.", "kind": "Native", "nameservers": [{}]}}"#,
            ns.join(",")
        );
        let (status, answer) = self
            .api("POST", "/api/v1/servers/localhost/zones", Some(&body))
            .unwrap();
        assert_eq!(status, 201, "creating {zone} failed: {answer}");
    }

    /// The zone's JSON as the API returns it.
    pub fn zone_json(&self, zone: &str) -> String {
        let (status, body) = self
            .api(
                "GET",
                &format!("/api/v1/servers/localhost/zones/{zone}."),
                None,
            )
            .unwrap();
        assert_eq!(status, 200, "{body}");
        body
    }
}

/// `s` as a JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
