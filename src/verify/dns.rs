//! Asking one DNS server one question, directly (hickory-net's client: no
//! cache, no resolver logic in between), so every answer is what that
//! server says now, with its header.
//!
//! The point of asking directly is telling a real answer from a failure to
//! get one. Records, NXDOMAIN and NODATA are answers ("served" or "not
//! served"). A timeout, an unreachable server, REFUSED, SERVFAIL, or — from
//! a server asked as authoritative — a reply without the AA bit or a
//! referral (a lame server) are not: the name could not be checked. Every
//! such failure is kept by the [`Server`], so no check built on it can
//! pass silently.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use futures::StreamExt;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::tcp::TcpClientStream;
use hickory_resolver::net::udp::UdpClientStream;
use hickory_resolver::net::xfer::{DnsExchange, DnsHandle};
use hickory_resolver::net::NetError;
use hickory_resolver::proto::op::{DnsRequestOptions, Message, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RecordType as WireType};
use mailform_contract::{RData, RecordType};
use serde::Serialize;

/// What a server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Records of the asked type, and the TTL they were served with.
    Records(Vec<RData>, u32),
    /// The name does not exist, or holds no record of the type.
    Nothing,
}

/// An answer with the alias the name is, when the server gave only that
/// (an authoritative server does not chase a CNAME out of its zones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub answer: Answer,
    pub alias: Option<String>,
}

/// Why a name could not be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// No answer within the timeout.
    Timeout,
    /// The server could not be reached (connection refused, no route).
    Unreachable,
    /// RCODE 5: the server will not answer (not configured for the zone,
    /// or an ACL).
    Refused,
    /// RCODE 2: the server failed (a zone that did not load, broken
    /// DNSSEC, an upstream that did not answer).
    Servfail,
    /// Asked as authoritative, the server answered without the AA bit or
    /// with a referral: it does not serve the zone (a lame delegation).
    Lame,
    /// Any other RCODE, or an answer that cannot be read.
    BadAnswer,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Timeout => "timeout",
            Cause::Unreachable => "unreachable",
            Cause::Refused => "refused",
            Cause::Servfail => "servfail",
            Cause::Lame => "lame",
            Cause::BadAnswer => "bad-answer",
        }
    }
}

/// A question that got no usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskError {
    pub cause: Cause,
    /// What happened, for people (without the question).
    pub detail: String,
}

/// A question this server could not answer, kept for the report.
#[derive(Debug, Clone)]
pub struct Failed {
    pub name: String,
    pub rtype: String,
    pub error: AskError,
}

/// A client of one server.
pub struct Server {
    pub addr: SocketAddr,
    /// Asked as an authoritative server: no recursion desired, and only
    /// answers with the AA bit count.
    authoritative: bool,
    timeout: Duration,
    udp: DnsExchange<TokioRuntimeProvider>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Set when the server timed out or could not be reached: later
    /// questions fail at once instead of each waiting out the timeout.
    down: Option<AskError>,
    failed: Vec<Failed>,
}

impl Server {
    /// `recursion` is off for authoritative servers: they must answer from
    /// their own data, with the AA bit. Call from inside a Tokio runtime.
    pub fn new(addr: SocketAddr, recursion: bool, timeout: Duration) -> Result<Server, String> {
        // hickory's own timeout is set past ours, so ours (a clear
        // "timeout") is the one that fires.
        let udp = UdpClientStream::builder(addr, TokioRuntimeProvider::default())
            .with_timeout(Some(timeout + Duration::from_secs(1)))
            .with_max_retries(2)
            .exchange();
        Ok(Server {
            addr,
            authoritative: !recursion,
            timeout,
            udp,
            state: Mutex::new(State::default()),
        })
    }

    /// The questions this server could not answer so far.
    pub fn failures(&self) -> Vec<Failed> {
        self.state.lock().expect("state lock").failed.clone()
    }

    pub async fn ask(&self, name: &str, rtype: &RecordType) -> Result<Answer, AskError> {
        self.query(name, rtype).await.map(|r| r.answer)
    }

    /// Asks, and records a failure under the question.
    pub async fn query(&self, name: &str, rtype: &RecordType) -> Result<Reply, AskError> {
        let down = self.state.lock().expect("state lock").down.clone();
        let result = match down {
            Some(down) => Err(down),
            None => self.exchange(name, rtype).await,
        };
        if let Err(e) = &result {
            let mut state = self.state.lock().expect("state lock");
            if matches!(e.cause, Cause::Timeout | Cause::Unreachable) && state.down.is_none() {
                state.down = Some(AskError {
                    cause: e.cause,
                    detail: format!("{} (not asked again in this run)", e.detail),
                });
            }
            state.failed.push(Failed {
                name: name.trim_end_matches('.').to_string(),
                rtype: rtype.to_string(),
                error: e.clone(),
            });
        }
        result
    }

    async fn exchange(&self, name: &str, rtype: &RecordType) -> Result<Reply, AskError> {
        let qtype = WireType::from(rtype_code(rtype));
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        let qname = Name::from_ascii(&fqdn).map_err(|e| AskError {
            cause: Cause::BadAnswer,
            detail: format!("`{name}` is not a name that can be asked: {e}"),
        })?;
        let mut options = DnsRequestOptions::default();
        options.recursion_desired = !self.authoritative;
        let query = Query::query(qname.clone(), qtype);
        let mut message = send(&self.udp, query.clone(), options, self.timeout).await?;
        if message.metadata.truncation {
            let tcp = match tokio::time::timeout(
                self.timeout,
                TcpClientStream::exchange(
                    self.addr,
                    None,
                    self.timeout + Duration::from_secs(1),
                    None,
                    TokioRuntimeProvider::default(),
                ),
            )
            .await
            {
                Ok(Ok(tcp)) => tcp,
                Ok(Err(e)) => return Err(net_error(e, self.timeout)),
                Err(_) => return Err(timed_out(self.timeout)),
            };
            message = send(&tcp, query, options, self.timeout).await?;
        }
        interpret(self.authoritative, &qname, qtype, rtype, message)
    }
}

/// What a reply says: an answer, or why it is none.
fn interpret(
    authoritative: bool,
    qname: &Name,
    qtype: WireType,
    rtype: &RecordType,
    message: Message,
) -> Result<Reply, AskError> {
    let code = message.metadata.response_code;
    match code {
        ResponseCode::NoError | ResponseCode::NXDomain => {}
        ResponseCode::Refused => {
            return Err(AskError {
                cause: Cause::Refused,
                detail: "answered REFUSED".into(),
            })
        }
        ResponseCode::ServFail => {
            return Err(AskError {
                cause: Cause::Servfail,
                detail: "answered SERVFAIL".into(),
            })
        }
        other => {
            return Err(AskError {
                cause: Cause::BadAnswer,
                detail: format!("answered {other}"),
            })
        }
    }
    if authoritative && !message.metadata.authoritative {
        let referral: Vec<String> = message
            .authorities
            .iter()
            .filter(|r| r.record_type() == WireType::NS)
            .map(|r| r.data.to_string().trim_end_matches('.').to_string())
            .collect();
        let detail = if referral.is_empty() {
            "answered without the AA bit: it is not authoritative for the name".to_string()
        } else {
            format!(
                "answered with a referral to {}: it does not serve the zone (lame)",
                referral.join(", ")
            )
        };
        return Err(AskError {
            cause: Cause::Lame,
            detail,
        });
    }
    // Follow the CNAME chain inside the answer to the name whose
    // records were asked for.
    let mut owner = qname.clone();
    let mut alias = None;
    for _ in 0..16 {
        let next = message.answers.iter().find_map(|r| match &r.data {
            hickory_resolver::proto::rr::RData::CNAME(c)
                if r.name == owner && qtype != WireType::CNAME =>
            {
                Some(c.0.clone())
            }
            _ => None,
        });
        match next {
            Some(target) => {
                alias = Some(target.to_ascii().trim_end_matches('.').to_string());
                owner = target;
            }
            None => break,
        }
    }
    let mut ttl = u32::MAX;
    let mut out = Vec::new();
    for r in &message.answers {
        if r.record_type() != qtype || r.name != owner {
            continue;
        }
        ttl = ttl.min(r.ttl);
        out.push(convert(rtype, &r.data).map_err(|e| AskError {
            cause: Cause::BadAnswer,
            detail: format!("served a record that cannot be read: {e}"),
        })?);
    }
    Ok(if out.is_empty() {
        Reply {
            answer: Answer::Nothing,
            alias,
        }
    } else {
        Reply {
            answer: Answer::Records(out, ttl),
            alias: None,
        }
    })
}

async fn send(
    exchange: &DnsExchange<TokioRuntimeProvider>,
    query: Query,
    options: DnsRequestOptions,
    timeout: Duration,
) -> Result<Message, AskError> {
    let mut stream = exchange.lookup(query, options);
    match tokio::time::timeout(timeout, stream.next()).await {
        Err(_) => Err(timed_out(timeout)),
        Ok(None) => Err(AskError {
            cause: Cause::BadAnswer,
            detail: "closed the exchange without an answer".into(),
        }),
        Ok(Some(Err(e))) => Err(net_error(e, timeout)),
        Ok(Some(Ok(response))) => Ok(response.into_message()),
    }
}

fn timed_out(timeout: Duration) -> AskError {
    AskError {
        cause: Cause::Timeout,
        detail: format!("did not answer within {}", seconds(timeout)),
    }
}

fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}s")
    } else {
        format!("{s}s")
    }
}

fn net_error(e: NetError, timeout: Duration) -> AskError {
    match &e {
        NetError::Timeout => timed_out(timeout),
        NetError::Io(io) => AskError {
            cause: Cause::Unreachable,
            detail: format!("could not be reached: {io}"),
        },
        NetError::NoConnections => AskError {
            cause: Cause::Unreachable,
            detail: "could not be reached".into(),
        },
        _ => AskError {
            cause: Cause::BadAnswer,
            detail: format!("gave no usable answer: {e}"),
        },
    }
}

fn rtype_code(rtype: &RecordType) -> u16 {
    match rtype {
        RecordType::A => 1,
        RecordType::Ns => 2,
        RecordType::Cname => 5,
        RecordType::Soa => 6,
        RecordType::Mx => 15,
        RecordType::Txt => 16,
        RecordType::Aaaa => 28,
        RecordType::Srv => 33,
        RecordType::Caa => 257,
        RecordType::Other(_) => 0,
    }
}

/// hickory's record data to the contract's: TXT from its raw strings (no
/// quoting to undo), everything else through presentation format.
fn convert(rtype: &RecordType, data: &hickory_resolver::proto::rr::RData) -> Result<RData, String> {
    if let hickory_resolver::proto::rr::RData::TXT(txt) = data {
        return Ok(RData::Txt {
            chunks: txt
                .txt_data
                .iter()
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect(),
        });
    }
    RData::parse(rtype, &data.to_string()).map_err(|e| e.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::op::{Message, MessageType, OpCode};
    use hickory_resolver::proto::rr::rdata::{A, CNAME, NS};
    use hickory_resolver::proto::rr::{RData as Wire, Record};

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn reply(code: ResponseCode, aa: bool) -> Message {
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        m.metadata.response_code = code;
        m.metadata.authoritative = aa;
        m
    }

    fn ask(authoritative: bool, m: Message) -> Result<Reply, AskError> {
        interpret(
            authoritative,
            &name("mx.example.com."),
            WireType::A,
            &RecordType::A,
            m,
        )
    }

    #[test]
    fn nxdomain_and_nodata_with_the_aa_bit_are_answers() {
        for code in [ResponseCode::NXDomain, ResponseCode::NoError] {
            let r = ask(true, reply(code, true)).unwrap();
            assert_eq!(r.answer, Answer::Nothing);
        }
    }

    #[test]
    fn refused_servfail_and_other_codes_are_not_answers() {
        for (code, cause) in [
            (ResponseCode::Refused, Cause::Refused),
            (ResponseCode::ServFail, Cause::Servfail),
            (ResponseCode::NotImp, Cause::BadAnswer),
            (ResponseCode::FormErr, Cause::BadAnswer),
        ] {
            for authoritative in [true, false] {
                let e = ask(authoritative, reply(code, true)).unwrap_err();
                assert_eq!(e.cause, cause, "{code}");
            }
        }
    }

    #[test]
    fn an_authoritative_server_without_the_aa_bit_is_lame() {
        let mut m = reply(ResponseCode::NoError, false);
        m.answers.push(Record::from_rdata(
            name("mx.example.com."),
            300,
            Wire::A(A::new(192, 0, 2, 1)),
        ));
        let e = ask(true, m.clone()).unwrap_err();
        assert_eq!(e.cause, Cause::Lame);
        assert!(e.detail.contains("without the AA bit"), "{}", e.detail);
        // From a resolver the same reply is an answer.
        let r = ask(false, m).unwrap();
        assert!(matches!(r.answer, Answer::Records(ref v, 300) if v.len() == 1));

        let mut referral = reply(ResponseCode::NoError, false);
        referral.authorities.push(Record::from_rdata(
            name("example.com."),
            300,
            Wire::NS(NS(name("ns1.example.net."))),
        ));
        let e = ask(true, referral).unwrap_err();
        assert_eq!(e.cause, Cause::Lame);
        assert!(
            e.detail.contains("referral to ns1.example.net"),
            "{}",
            e.detail
        );
        // NXDOMAIN without AA from an authoritative server is not "not served".
        let e = ask(true, reply(ResponseCode::NXDomain, false)).unwrap_err();
        assert_eq!(e.cause, Cause::Lame);
    }

    #[test]
    fn an_alias_out_of_the_zone_is_returned_to_follow() {
        let mut m = reply(ResponseCode::NoError, true);
        m.answers.push(Record::from_rdata(
            name("mx.example.com."),
            300,
            Wire::CNAME(CNAME(name("mail.provider.test."))),
        ));
        let r = ask(true, m).unwrap();
        assert_eq!(r.answer, Answer::Nothing);
        assert_eq!(r.alias.as_deref(), Some("mail.provider.test"));
    }
}
