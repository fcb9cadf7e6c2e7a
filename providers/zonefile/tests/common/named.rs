//! A real BIND 9 `named` on loopback for tests: started in the foreground
//! as a child process on 127.0.0.1 at a free high port, all its files in a
//! temp directory, killed on drop. Shared by the zonefile provider's tests
//! and the engine's `verify` tests (which include this file by path).

#![allow(dead_code)]

use std::fs::File;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

/// Where Debian installs named.
pub const NAMED: &str = "/usr/sbin/named";

/// A running `named`, killed on drop.
pub struct Named {
    pub child: Child,
    pub port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Named {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Named {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Asks named to reload changed zone files (SIGHUP; no rndc key needed).
    pub fn reload(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }
}

/// A port that is free for both UDP and TCP on 127.0.0.1 right now. Another
/// process may take it before named binds it; [`start_named`] then retries.
pub fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = udp.local_addr().unwrap().port();
        if port >= 1024 && TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
}

/// Whether named's log says it could not bind the port (BIND 9.18 logs
/// "creating IPv4 interface lo failed; interface ignored" and, with no
/// other interface, "unable to listen on any configured interfaces").
pub fn port_taken(log: &str) -> bool {
    [
        "address in use",
        "interface ignored",
        "unable to listen on any",
    ]
    .iter()
    .any(|m| log.contains(m))
}

/// Starts named serving `zone` from `zone_file` on a free port.
pub fn start_named(named: &Path, zone: &str, zone_file: &Path) -> Named {
    start_named_on(named, zone, zone_file, free_port)
}

/// Starts named on the first port from `next_port` it can bind, trying up
/// to five.
pub fn start_named_on(
    named: &Path,
    zone: &str,
    zone_file: &Path,
    mut next_port: impl FnMut() -> u16,
) -> Named {
    let mut last_log = String::new();
    for _attempt in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let port = next_port();
        let d = dir.path().display();
        let conf = dir.path().join("named.conf");
        std::fs::write(
            &conf,
            format!(
                r#"options {{
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
zone "{zone}" {{
    type primary;
    file "{}";
}};
"#,
                zone_file.display()
            ),
        )
        .unwrap();
        let log = dir.path().join("named.log");
        let child = Command::new(named)
            // -g: foreground, log to stderr; -4: IPv4 only; -n 1: one
            // worker thread is plenty for a test.
            .args(["-g", "-4", "-n", "1", "-c"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .expect("start named");
        let mut server = Named {
            child,
            port,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let exited = server.child.try_wait().ok().flatten();
            last_log = server.log();
            if port_taken(&last_log) {
                // Lost the port race (named may keep running without that
                // listener): drop it, which kills it, and try another port.
                break;
            }
            if let Some(status) = exited {
                panic!("named exited with {status}:\n{last_log}");
            }
            if let Ok(reply) = udp_query(port, zone, RecordType::SOA) {
                if reply.metadata.response_code == ResponseCode::NoError
                    && !reply.answers.is_empty()
                {
                    return server;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if !port_taken(&last_log) {
            panic!("named did not serve {zone} within 30 s:\n{last_log}");
        }
    }
    panic!("could not start named on a free port:\n{last_log}");
}

pub fn request(name: &str, rtype: RecordType) -> Vec<u8> {
    let mut msg = Message::query();
    msg.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    msg.to_vec().unwrap()
}

pub fn udp_query(port: u16, name: &str, rtype: RecordType) -> std::io::Result<Message> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    socket.set_read_timeout(Some(Duration::from_millis(500)))?;
    socket.send_to(&request(name, rtype), (Ipv4Addr::LOCALHOST, port))?;
    let mut buf = [0u8; 4096];
    let (len, _) = socket.recv_from(&mut buf)?;
    Message::from_vec(&buf[..len]).map_err(std::io::Error::other)
}
