//! A real BIND 9 `named` (Debian package bind9) serves the zone file the
//! provider wrote, and answers A, MX and a long multi-chunk TXT query over
//! UDP and TCP as the provider meant; after a second apply and a reload it
//! serves the new data under a higher serial.
//!
//! `named` runs in the foreground as a child process, listening only on
//! 127.0.0.1 at a free high port, with all its files in a temp directory;
//! it is killed when the test ends, pass or fail.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use mailform_contract::{DnsChange, DnsProvider};

const NAMED: &str = "/usr/sbin/named";
const ZONE: &str = "example.com";

/// A running `named`, killed on drop.
struct Named {
    child: Child,
    port: u16,
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
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Asks named to reload changed zone files (SIGHUP; no rndc key needed).
    fn reload(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }
}

/// A port that is free for both UDP and TCP on 127.0.0.1 right now. Another
/// process may take it before named binds it; [`start_named`] then retries.
fn free_port() -> u16 {
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
fn port_taken(log: &str) -> bool {
    [
        "address in use",
        "interface ignored",
        "unable to listen on any",
    ]
    .iter()
    .any(|m| log.contains(m))
}

fn start_named(named: &Path, zone_file: &Path) -> Named {
    start_named_on(named, zone_file, free_port)
}

/// Starts named on the first port from `next_port` it can bind, trying up
/// to five.
fn start_named_on(named: &Path, zone_file: &Path, mut next_port: impl FnMut() -> u16) -> Named {
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
zone "{ZONE}" {{
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
            if let Ok(reply) = udp_query(port, ZONE, RecordType::SOA) {
                if reply.metadata.response_code == ResponseCode::NoError
                    && !reply.answers.is_empty()
                {
                    return server;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if !port_taken(&last_log) {
            panic!("named did not serve {ZONE} within 30 s:\n{last_log}");
        }
    }
    panic!("could not start named on a free port:\n{last_log}");
}

fn request(name: &str, rtype: RecordType) -> Vec<u8> {
    let mut msg = Message::query();
    msg.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    msg.to_vec().unwrap()
}

fn udp_query(port: u16, name: &str, rtype: RecordType) -> std::io::Result<Message> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    socket.set_read_timeout(Some(Duration::from_millis(500)))?;
    socket.send_to(&request(name, rtype), (Ipv4Addr::LOCALHOST, port))?;
    let mut buf = [0u8; 4096];
    let (len, _) = socket.recv_from(&mut buf)?;
    Message::from_vec(&buf[..len]).map_err(std::io::Error::other)
}

fn tcp_query(port: u16, name: &str, rtype: RecordType) -> Message {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let body = request(name, rtype);
    let mut framed = (body.len() as u16).to_be_bytes().to_vec();
    framed.extend(body);
    stream.write_all(&framed).unwrap();
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).unwrap();
    let mut reply = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut reply).unwrap();
    Message::from_vec(&reply).unwrap()
}

/// The answer's record data, checked to be an authoritative answer.
fn answers(reply: &Message) -> Vec<RData> {
    assert_eq!(
        reply.metadata.response_code,
        ResponseCode::NoError,
        "{reply:?}"
    );
    assert!(reply.metadata.authoritative, "{reply:?}");
    reply.answers.iter().map(|r| r.data.clone()).collect()
}

fn a_records(reply: &Message) -> Vec<Ipv4Addr> {
    let mut v: Vec<Ipv4Addr> = answers(reply)
        .into_iter()
        .map(|d| match d {
            RData::A(a) => a.0,
            other => panic!("not an A record: {other:?}"),
        })
        .collect();
    v.sort();
    v
}

fn mx_records(reply: &Message) -> Vec<(u16, String)> {
    let mut v: Vec<(u16, String)> = answers(reply)
        .into_iter()
        .map(|d| match d {
            RData::MX(mx) => (mx.preference, mx.exchange.to_ascii()),
            other => panic!("not an MX record: {other:?}"),
        })
        .collect();
    v.sort();
    v
}

fn soa_serial(reply: &Message) -> u32 {
    match &answers(reply)[..] {
        [RData::SOA(soa)] => soa.serial,
        other => panic!("not one SOA: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_serves_what_the_provider_wrote() {
    let Some(named) = require_binary(NAMED, "bind9") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = provider(dir.path());
    apply_ok(&p, ZONE, &mail_zone_changes(ZONE)).await;
    let zone_file = p.zone_path(ZONE).unwrap();

    let server = tokio::task::spawn_blocking(move || start_named(&named, &zone_file))
        .await
        .unwrap();
    let port = server.port;
    let mail = format!("mail.{ZONE}.");

    let over_udp = udp_query(port, &mail, RecordType::A).unwrap();
    assert_eq!(
        a_records(&over_udp),
        [Ipv4Addr::new(192, 0, 2, 25), Ipv4Addr::new(192, 0, 2, 26)]
    );
    assert_eq!(
        a_records(&tcp_query(port, &mail, RecordType::A)),
        a_records(&over_udp)
    );

    let expected_mx = vec![
        (10, "aspmx.l.google.com.".to_string()),
        (20, "mx2.example.net.".to_string()),
    ];
    assert_eq!(
        mx_records(&udp_query(port, &format!("{ZONE}."), RecordType::MX).unwrap()),
        expected_mx
    );

    // Longer than a 512-byte UDP answer allows without EDNS: TCP.
    let dkim = tcp_query(port, &format!("google._domainkey.{ZONE}."), RecordType::TXT);
    let [RData::TXT(txt)] = &answers(&dkim)[..] else {
        panic!("{dkim:?}")
    };
    assert!(txt.txt_data.len() >= 2, "{txt:?}");
    assert!(txt.txt_data.iter().all(|c| c.len() <= 255));
    let joined: Vec<u8> = txt
        .txt_data
        .iter()
        .flat_map(|c| c.iter().copied())
        .collect();
    assert_eq!(String::from_utf8(joined).unwrap(), long_dkim());

    let quoted = tcp_query(port, &format!("quoted.{ZONE}."), RecordType::TXT);
    let [RData::TXT(txt)] = &answers(&quoted)[..] else {
        panic!("{quoted:?}")
    };
    assert_eq!(&*txt.txt_data[0], "say \"hi\" \\ 邮件 é".as_bytes());

    // A second apply, picked up by a reload because the serial went up.
    let first_serial = soa_serial(&udp_query(port, &format!("{ZONE}."), RecordType::SOA).unwrap());
    let live = p.read_zone(ZONE).await.unwrap();
    let old_mx = live
        .records
        .iter()
        .find(|s| s.name == ZONE && s.rtype.as_str() == "MX")
        .unwrap()
        .clone();
    apply_ok(
        &p,
        ZONE,
        &[DnsChange::Update {
            old: old_mx,
            new: set(ZONE, "MX", 300, &["1 smtp.google.com"]),
        }],
    )
    .await;
    // named notices a changed file by its modification time, which may have
    // a one-second resolution: reload until the new serial is served.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut serial = first_serial;
    while serial == first_serial && Instant::now() < deadline {
        server.reload();
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Ok(reply) = udp_query(port, &format!("{ZONE}."), RecordType::SOA) {
            if reply.metadata.response_code == ResponseCode::NoError && !reply.answers.is_empty() {
                serial = soa_serial(&reply);
            }
        }
    }
    assert!(
        serial > first_serial,
        "named kept serial {first_serial}:\n{}",
        server.log()
    );
    assert_eq!(
        mx_records(&udp_query(port, &format!("{ZONE}."), RecordType::MX).unwrap()),
        [(1, "smtp.google.com.".to_string())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_makes_named_move_to_another() {
    let Some(named) = require_binary(NAMED, "bind9") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = provider(dir.path());
    apply_ok(&p, ZONE, &mail_zone_changes(ZONE)).await;
    let zone_file = p.zone_path(ZONE).unwrap();

    let squatter = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let taken = squatter.local_addr().unwrap().port();
    let server = tokio::task::spawn_blocking(move || {
        let mut first = true;
        start_named_on(&named, &zone_file, move || {
            if std::mem::take(&mut first) {
                taken
            } else {
                free_port()
            }
        })
    })
    .await
    .unwrap();
    assert_ne!(server.port, taken);
    let reply = udp_query(server.port, &format!("{ZONE}."), RecordType::SOA).unwrap();
    assert!(soa_serial(&reply) > 0);
    drop(squatter);
}
