//! Reading a zone by TSIG-signed AXFR (RFC 5936) over TCP.
//!
//! The transfer is a stream of messages that starts and ends with the
//! zone's SOA; every message's TSIG is verified in sequence (RFC 8945
//! §5.3.1: each MAC covers the previous one), so a forged or truncated
//! transfer cannot pass for the zone.

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Record, RecordType as HType, TSigner};

use mailform_contract::ProviderError;

use crate::convert::to_name;
use crate::rcode::error_for;
use crate::transport::Connection;
use crate::{provider::unix_now, transport::TransportError};

/// The zone's records (the closing SOA dropped), or `None` when the server
/// answers NOTAUTH without a TSIG error: it does not serve the zone.
pub async fn transfer(
    conn: &mut Connection,
    signer: &TSigner,
    zone: &str,
) -> Result<Option<Vec<Record>>, ProviderError> {
    let what = format!("zone transfer of {zone}");
    let transport = |e: TransportError| ProviderError::Service(format!("{what}: {}", e.message));
    let mut query = Message::query();
    let mut q = Query::query(to_name(zone)?, HType::AXFR);
    q.set_query_class(DNSClass::IN);
    query.add_query(q);
    query.metadata.recursion_desired = false;
    let mut verifier = query
        .finalize(signer, unix_now())
        .map_err(|e| ProviderError::Service(format!("{what}: cannot sign: {e}")))?
        .ok_or_else(|| ProviderError::Service(format!("{what}: the query was not signed")))?;
    let bytes = query
        .to_vec()
        .map_err(|e| ProviderError::Service(format!("{what}: cannot encode: {e}")))?;
    conn.send(&bytes).await.map_err(transport)?;

    let mut records: Vec<Record> = Vec::new();
    let mut soas = 0;
    loop {
        let raw = conn.receive().await.map_err(transport)?;
        let answer = Message::from_vec(&raw)
            .map_err(|e| ProviderError::Parse(format!("{what}: undecodable answer: {e}")))?;
        if answer.metadata.response_code != ResponseCode::NoError {
            let tsig_error = answer
                .signature
                .as_ref()
                .is_some_and(|s| s.data.error.is_some());
            if answer.metadata.response_code == ResponseCode::NotAuth
                && !tsig_error
                && records.is_empty()
            {
                return Ok(None);
            }
            return Err(error_for(&what, &signer.signer_name().to_ascii(), &answer));
        }
        let verified = verifier.verify(&raw).map_err(|e| {
            ProviderError::Permission(format!(
                "{what}: the answer's TSIG signature does not verify: {e}"
            ))
        })?;
        for r in verified.answers.iter() {
            if r.record_type() == HType::SOA {
                soas += 1;
                if soas == 2 {
                    return Ok(Some(records));
                }
            } else if soas == 0 {
                return Err(ProviderError::Parse(format!(
                    "{what}: the transfer does not start with the SOA"
                )));
            }
            records.push(r.clone());
        }
        if verified.answers.is_empty() {
            return Err(ProviderError::Parse(format!(
                "{what}: the server ended the transfer early"
            )));
        }
    }
}
