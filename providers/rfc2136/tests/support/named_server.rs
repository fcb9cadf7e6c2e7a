//! A real BIND 9 `named` for tests (Debian packages `bind9`, `bind9-utils`),
//! started once per test process.
//!
//! [`server`] makes a fresh TSIG key with `tsig-keygen`, writes a
//! `named.conf` whose zones allow updates and transfers with that key
//! only, and starts `named -g` on 127.0.0.1 at a free high port with every
//! file in a temp directory. The server lives in a static for the whole
//! process, so it runs under a small `sh` watchdog that kills it and
//! removes its directory as soon as the test process is gone. Missing
//! packages skip the tests with a message, or fail them under
//! `MAILFORM_REQUIRE_REAL_SERVERS=1` (CI).
//!
//! [`Named::nsupdate`] changes a zone with BIND's own `nsupdate`: the
//! "other admin" whose concurrent edit mailform must not overwrite.
//!
//! Shared with the workspace's end-to-end tests through `#[path]`, so it
//! depends only on std and tempfile.

#![allow(dead_code)]

use std::io::Write;
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const NAMED: &str = "/usr/sbin/named";
pub const TSIG_KEYGEN: &str = "/usr/sbin/tsig-keygen";
pub const NSUPDATE: &str = "/usr/bin/nsupdate";
pub const KEY_NAME: &str = "mailform-key";

/// The zones the server serves, one per test so tests can share it.
pub const ZONES: [&str; 9] = [
    "read.example",
    "update.example",
    "conflict.example",
    "split.example",
    "e2e.example",
    "bench.example",
    "gw-onboard.example",
    "m365-onboard.example",
    "gw-alias.example",
];

pub struct Named {
    /// `127.0.0.1:<port>`: the `server` setting.
    pub address: String,
    pub port: u16,
    /// Base64, as `tsig-keygen` printed it.
    pub secret: String,
    pub dir: PathBuf,
}

/// `path` if it exists, else `None` after printing why the test is skipped
/// (or a panic under `MAILFORM_REQUIRE_REAL_SERVERS=1`).
pub fn require_file(path: &str, package: &str) -> Option<PathBuf> {
    mailform_testkit::real_server::require_program(&[path], package)
}

/// The shared server; `None` when BIND is not installed.
pub fn server() -> Option<&'static Named> {
    static SERVER: OnceLock<Option<Named>> = OnceLock::new();
    SERVER.get_or_init(start).as_ref()
}

fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = udp.local_addr().unwrap().port();
        if port >= 1024 && TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
}

fn start() -> Option<Named> {
    let named = require_file(NAMED, "bind9")?;
    let keygen = require_file(TSIG_KEYGEN, "bind9-utils")?;
    require_file(NSUPDATE, "bind9-utils")?;
    let mut last = String::new();
    for _ in 0..5 {
        match try_start(&named, &keygen) {
            Ok(s) => return Some(s),
            Err(log) => last = log,
        }
    }
    panic!("named did not start:\n{last}");
}

// The watchdog is deliberately left running (not waited for): it ends the
// server when this process exits, and the kernel reaps it then.
#[allow(clippy::zombie_processes)]
fn try_start(named: &Path, keygen: &Path) -> Result<Named, String> {
    let dir = tempfile::Builder::new()
        .prefix("mailform-named-")
        .tempdir()
        .unwrap()
        .keep();
    let key = Command::new(keygen)
        .args(["-a", "hmac-sha256", KEY_NAME])
        .output()
        .expect("run tsig-keygen");
    assert!(key.status.success());
    let key_clause = String::from_utf8(key.stdout).unwrap();
    let secret = key_clause
        .split('"')
        .nth(3)
        .expect("tsig-keygen output has a secret")
        .to_string();
    std::fs::write(dir.join("key.conf"), &key_clause).unwrap();
    let port = free_port();
    let d = dir.display();
    let mut conf = format!(
        r#"include "{d}/key.conf";
options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    notify no;
    dnssec-validation no;
    allow-query {{ any; }};
}};
controls {{ }};
"#
    );
    for zone in ZONES {
        std::fs::write(
            dir.join(format!("{zone}.zone")),
            "$TTL 3600\n@ SOA ns1.example.net. hostmaster.example.net. 1 7200 3600 1209600 300\n\
             @ NS ns1.example.net.\n@ NS ns2.example.net.\nlegacy A 198.51.100.7\n",
        )
        .unwrap();
        conf.push_str(&format!(
            "zone \"{zone}\" {{ type primary; file \"{d}/{zone}.zone\"; \
             allow-update {{ key {KEY_NAME}; }}; allow-transfer {{ key {KEY_NAME}; }}; }};\n"
        ));
    }
    let conf_path = dir.join("named.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let log_path = dir.join("named.log");
    let args = vec![
        "-g".to_string(),
        "-4".into(),
        "-n".into(),
        "1".into(),
        "-c".into(),
        conf_path.display().to_string(),
    ];
    let mut child = supervised(named, &args, &dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .expect("start named");
    let server = Named {
        address: format!("127.0.0.1:{port}"),
        port,
        secret,
        dir: dir.clone(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Some(status) = child.try_wait().unwrap() {
            return Err(format!("named exited with {status}:\n{log}"));
        }
        if log.contains("address in use") || log.contains("unable to listen") {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            return Err(log);
        }
        if log.contains("running") && TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(server);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    Err("named did not start within 30s".into())
}

/// `program args...` under a watchdog shell that kills it (SIGKILL) and
/// removes `dir` once this test process no longer exists; SIGTERM to the
/// watchdog does the same at once.
fn supervised(program: &Path, args: &[String], dir: &Path) -> Command {
    const WATCHDOG: &str = r#"parent=$1; dir=$2; shift 2
"$@" &
child=$!
trap 'kill -9 $child 2>/dev/null; rm -rf "$dir"; exit 0' TERM INT
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.2; done
kill -9 $child 2>/dev/null
wait $child
status=$?
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

impl Named {
    /// Runs `nsupdate` with the test key on `commands` (one per line,
    /// e.g. `update add www.x.example. 300 A 192.0.2.1`) for `zone`.
    pub fn nsupdate(&self, zone: &str, commands: &[&str]) {
        let mut script = format!("server 127.0.0.1 {}\nzone {zone}\n", self.port);
        for c in commands {
            script.push_str(c);
            script.push('\n');
        }
        script.push_str("send\n");
        let mut child = Command::new(NSUPDATE)
            .args(["-v", "-k"])
            .arg(self.dir.join("key.conf"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run nsupdate");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "nsupdate failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
