//! How the fake's `POST /domains/{id}/verify` learns which TXT values a
//! domain serves, and its `Set-DkimSigningConfig` which CNAMEs: from a
//! real DNS server when [`FakeConfig::dns_server`] is set (asked without
//! recursion, as an authoritative server must answer from its own data;
//! an end-to-end test points it at the server the DNS provider publishes
//! to), else from the values a test published with
//! [`FakeGraph::publish_txt`] and [`FakeGraph::publish_cname`].
//!
//! [`FakeConfig::dns_server`]: super::FakeConfig::dns_server
//! [`FakeGraph::publish_txt`]: super::FakeGraph::publish_txt
//! [`FakeGraph::publish_cname`]: super::FakeGraph::publish_cname

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::TokioResolver;

use super::Shared;

/// The TXT values (character-strings joined) at `domain`'s apex. A DNS
/// failure reads as none served: Microsoft then does not verify either.
pub(crate) async fn served_txt(s: &Shared, domain: &str) -> Vec<String> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    match s.config.dns_server {
        None => s
            .store
            .lock()
            .expect("store")
            .published_txt
            .get(&domain)
            .cloned()
            .unwrap_or_default(),
        Some(addr) => match ask(addr, &domain).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(%domain, %addr, error = %e, "the fake could not ask DNS for the verification record");
                vec![]
            }
        },
    }
}

/// The CNAME target (lower-case, no trailing dot) `name` serves, if any.
pub(crate) async fn served_cname(s: &Shared, name: &str) -> Option<String> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    match s.config.dns_server {
        None => s
            .store
            .lock()
            .expect("store")
            .published_cnames
            .get(&name)
            .cloned(),
        Some(addr) => match lookup(addr, &name, RecordType::CNAME).await {
            Ok(lookup) => lookup.answers().iter().find_map(|r| match &r.data {
                RData::CNAME(c) => Some(c.to_string().trim_end_matches('.').to_ascii_lowercase()),
                _ => None,
            }),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => None,
            Err(e) => {
                tracing::warn!(%name, %addr, error = %e, "the fake could not ask DNS for a CNAME");
                None
            }
        },
    }
}

async fn lookup(
    addr: SocketAddr,
    name: &str,
    rtype: RecordType,
) -> Result<hickory_resolver::lookup::Lookup, hickory_resolver::net::NetError> {
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
    // Every question sees what the server holds now.
    opts.cache_size = 0;
    opts.recursion_desired = false;
    opts.timeout = Duration::from_secs(1);
    opts.attempts = 2;
    opts.ndots = 0;
    let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(opts)
        .build()?;
    resolver.lookup(format!("{name}.").as_str(), rtype).await
}

async fn ask(addr: SocketAddr, domain: &str) -> Result<Vec<String>, String> {
    match lookup(addr, domain, RecordType::TXT).await {
        Ok(lookup) => Ok(lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .map(|c| String::from_utf8_lossy(c).into_owned())
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect()),
        Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(vec![]),
        Err(e) => Err(e.to_string()),
    }
}
