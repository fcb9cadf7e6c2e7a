//! Asking one DNS server one question, through hickory-resolver with its
//! cache off, so every answer is what that server says now.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::TokioResolver;
use mailform_contract::{RData, RecordType};

/// A client of one server.
pub struct Server {
    pub addr: SocketAddr,
    resolver: TokioResolver,
}

/// What a server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Records of the asked type, and the TTL they were served with.
    Records(Vec<RData>, u32),
    /// The name does not exist, or holds no record of the type.
    Nothing,
}

impl Server {
    /// `recursion` is off for authoritative servers: they must answer from
    /// their own data.
    pub fn new(addr: SocketAddr, recursion: bool, timeout: Duration) -> Result<Server, String> {
        let mut udp = ConnectionConfig::udp();
        udp.port = addr.port();
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = addr.port();
        let config = ResolverConfig::from_parts(
            None,
            vec![],
            vec![NameServerConfig::new(addr.ip(), true, vec![udp, tcp])],
        );
        let mut opts = ResolverOpts::default();
        opts.cache_size = 0;
        opts.recursion_desired = recursion;
        opts.timeout = timeout;
        opts.attempts = 2;
        opts.ndots = 0;
        let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(opts)
            .build()
            .map_err(|e| format!("cannot set up a resolver for {addr}: {e}"))?;
        Ok(Server { addr, resolver })
    }

    pub async fn ask(&self, name: &str, rtype: &RecordType) -> Result<Answer, String> {
        let qtype = hickory_resolver::proto::rr::RecordType::from(rtype_code(rtype));
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match self.resolver.lookup(fqdn.as_str(), qtype).await {
            Ok(lookup) => {
                let mut ttl = u32::MAX;
                let mut out = Vec::new();
                for r in lookup.answers() {
                    if r.record_type() != qtype {
                        continue; // CNAME chain links
                    }
                    ttl = ttl.min(r.ttl);
                    out.push(convert(rtype, &r.data)?);
                }
                Ok(if out.is_empty() {
                    Answer::Nothing
                } else {
                    Answer::Records(out, ttl)
                })
            }
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Answer::Nothing),
            Err(e) => Err(format!("{} {rtype} from {}: {e}", name, self.addr)),
        }
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
