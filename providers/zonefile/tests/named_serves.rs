//! A real BIND 9 `named` (Debian package bind9) serves the zone file the
//! provider wrote, and answers A, MX and a long multi-chunk TXT query over
//! UDP and TCP as the provider meant; after a second apply and a reload it
//! serves the new data under a higher serial.
//!
//! `named` runs in the foreground as a child process, listening only on
//! 127.0.0.1 at a free high port, with all its files in a temp directory;
//! it is killed when the test ends, pass or fail.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use common::named::*;
use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use mailform_contract::{DnsChange, DnsProvider};

const ZONE: &str = "example.com";

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

    let server = tokio::task::spawn_blocking(move || start_named(&named, ZONE, &zone_file))
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
        start_named_on(&named, ZONE, &zone_file, move || {
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
