//! How the fake sees a domain's TXT records when it checks a Site
//! Verification token: asked of one DNS server (non-recursive, over TCP so
//! that no answer is truncated, nothing cached, as a check right after
//! publishing needs), or, without a server, the values a test published
//! with [`super::FakeGoogle::publish_txt`].

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TIMEOUT: Duration = Duration::from_secs(5);

/// The TXT values at `name` on `server` (each value's strings joined).
pub async fn txt(server: SocketAddr, name: &str) -> Result<Vec<String>, String> {
    tokio::time::timeout(TIMEOUT, ask(server, name))
        .await
        .map_err(|_| format!("no answer from {server} within {TIMEOUT:?}"))?
}

async fn ask(server: SocketAddr, name: &str) -> Result<Vec<String>, String> {
    let qname = Name::from_ascii(format!("{}.", name.trim_end_matches('.')))
        .map_err(|e| format!("{name:?} is not a DNS name: {e}"))?;
    let mut query = Message::query();
    let mut q = Query::query(qname.clone(), RecordType::TXT);
    q.set_query_class(DNSClass::IN);
    query.add_query(q);
    query.metadata.recursion_desired = false;
    let bytes = query.to_vec().map_err(|e| e.to_string())?;
    let mut conn = TcpStream::connect(server)
        .await
        .map_err(|e| format!("cannot reach {server}: {e}"))?;
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    conn.write_all(&framed).await.map_err(|e| e.to_string())?;
    let mut len = [0u8; 2];
    conn.read_exact(&mut len).await.map_err(|e| e.to_string())?;
    let mut raw = vec![0u8; u16::from_be_bytes(len) as usize];
    conn.read_exact(&mut raw).await.map_err(|e| e.to_string())?;
    let answer = Message::from_vec(&raw).map_err(|e| e.to_string())?;
    if answer.metadata.id != query.metadata.id {
        return Err("the answer is for another query".into());
    }
    match answer.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => return Ok(Vec::new()),
        other => return Err(format!("{server} answered {other}")),
    }
    Ok(answer
        .answers
        .iter()
        .filter(|r| r.name == qname)
        .filter_map(|r| match &r.data {
            RData::TXT(t) => Some(
                t.txt_data
                    .iter()
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect())
}
