//! The provider instances named in the file, built from their settings.
//!
//! This is the one place that knows every provider crate; the rest of the
//! engine sees only the contract's traits.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use mailform_contract::{DnsProvider, MailProvider};

use crate::config::model::{Config, ProviderConfig};

#[derive(Clone, Default)]
pub struct Registry {
    pub dns: BTreeMap<String, Arc<dyn DnsProvider>>,
    pub mail: BTreeMap<String, Arc<dyn MailProvider>>,
}

impl Registry {
    /// Builds every provider in `config`. Construction does no I/O.
    pub fn from_config(config: &Config, base_dir: &Path) -> Registry {
        let mut reg = Registry::default();
        for (name, _, provider) in config.providers.iter() {
            match provider {
                ProviderConfig::Zonefile(c) => {
                    reg.dns.insert(
                        name.to_string(),
                        Arc::new(mailform_zonefile::ZonefileProvider::new(
                            c.clone(),
                            base_dir,
                        )),
                    );
                }
                ProviderConfig::Cloudflare(c) => {
                    let config = mailform_cloudflare::Config {
                        base_dir: base_dir.to_path_buf(),
                        ..c.clone()
                    };
                    reg.dns.insert(
                        name.to_string(),
                        Arc::new(mailform_cloudflare::CloudflareProvider::new(config)),
                    );
                }
                ProviderConfig::Powerdns(c) => {
                    let config = mailform_powerdns::Config {
                        base_dir: base_dir.to_path_buf(),
                        ..c.clone()
                    };
                    reg.dns.insert(
                        name.to_string(),
                        Arc::new(mailform_powerdns::PowerdnsProvider::new(config)),
                    );
                }
                ProviderConfig::Rfc2136(c) => {
                    let config = mailform_rfc2136::Config {
                        base_dir: base_dir.to_path_buf(),
                        ..c.clone()
                    };
                    reg.dns.insert(
                        name.to_string(),
                        Arc::new(mailform_rfc2136::Rfc2136Provider::new(config)),
                    );
                }
                ProviderConfig::Alidns(c) => {
                    let config = mailform_alidns::Config {
                        base_dir: base_dir.to_path_buf(),
                        ..c.clone()
                    };
                    reg.dns.insert(
                        name.to_string(),
                        Arc::new(mailform_alidns::AlidnsProvider::new(config)),
                    );
                }
                ProviderConfig::GoogleWorkspace(c) => {
                    let config = mailform_google::Config {
                        base_dir: base_dir.to_path_buf(),
                        ..c.clone()
                    };
                    reg.mail.insert(
                        name.to_string(),
                        Arc::new(mailform_google::GoogleProvider::new(config)),
                    );
                }
                ProviderConfig::Microsoft365(c) => {
                    let config = mailform_m365::Config {
                        base_dir: base_dir.to_path_buf(),
                        ..c.clone()
                    };
                    reg.mail.insert(
                        name.to_string(),
                        Arc::new(mailform_m365::M365Provider::new(config)),
                    );
                }
                ProviderConfig::Alimail(c) => {
                    let config = mailform_alimail::Config {
                        base_dir: base_dir.to_path_buf(),
                        ..c.clone()
                    };
                    reg.mail.insert(
                        name.to_string(),
                        Arc::new(mailform_alimail::AlimailProvider::new(config)),
                    );
                }
                ProviderConfig::Postfix(c) => {
                    reg.mail.insert(
                        name.to_string(),
                        Arc::new(mailform_postfix::PostfixProvider::new(c.clone(), base_dir)),
                    );
                }
            }
        }
        reg
    }

    pub fn dns(&self, name: &str) -> &Arc<dyn DnsProvider> {
        // The config checks guarantee every referenced provider exists.
        self.dns
            .get(name)
            .unwrap_or_else(|| panic!("DNS provider `{name}` missing from registry"))
    }

    pub fn mail(&self, name: &str) -> &Arc<dyn MailProvider> {
        self.mail
            .get(name)
            .unwrap_or_else(|| panic!("mail provider `{name}` missing from registry"))
    }
}
