//! The TSIG key: name, algorithm and the decoded secret, as hickory's
//! [`TSigner`].

use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_proto::rr::{Name, TSigner};
use mailform_contract::ProviderError;

use crate::config::{Config, TsigAlgorithmName, SECRET_ENV};

/// Seconds of clock difference the server may accept (RFC 8945 §10
/// recommends 300).
const FUDGE: u16 = 300;

/// The signer for `config`; errors say which setting to fix and never
/// contain the secret.
pub fn signer(config: &Config) -> Result<TSigner, ProviderError> {
    let secret = config
        .resolve_secret()
        .map_err(|e| ProviderError::Permission(format!("the rfc2136 `secret` setting: {e}")))?
        .ok_or_else(|| {
            ProviderError::Permission(format!(
                "no TSIG secret: set the {SECRET_ENV} environment variable (or `secret` in the \
             provider's settings) to the base64 secret of key `{}`",
                config.key_name
            ))
        })?;
    let bytes = data_encoding::BASE64
        .decode(secret.trim().as_bytes())
        .map_err(|_| {
            ProviderError::Rejected(format!(
                "the TSIG secret of key `{}` is not valid base64 (write it as tsig-keygen prints it)",
                config.key_name
            ))
        })?;
    let name = Name::from_ascii(config.key_name.trim()).map_err(|e| {
        ProviderError::Rejected(format!(
            "TSIG `key_name` {:?} is not a DNS name: {e}",
            config.key_name
        ))
    })?;
    let algorithm = match config.algorithm {
        TsigAlgorithmName::HmacSha256 => TsigAlgorithm::HmacSha256,
        TsigAlgorithmName::HmacSha384 => TsigAlgorithm::HmacSha384,
        TsigAlgorithmName::HmacSha512 => TsigAlgorithm::HmacSha512,
    };
    TSigner::new(bytes, algorithm, name, FUDGE)
        .map_err(|e| ProviderError::Rejected(format!("TSIG key `{}`: {e}", config.key_name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_secrets_are_named_but_not_shown() {
        let mut c = Config::new("127.0.0.1:53", "mailform-key");
        c.secret = Some("not*base64!".into());
        let err = signer(&c).err().unwrap().to_string();
        assert!(
            err.contains("base64") && err.contains("mailform-key") && !err.contains("not*base64"),
            "{err}"
        );
        c.secret = Some("c2VjcmV0LXNlY3JldA==".into());
        let s = signer(&c).unwrap();
        assert_eq!(s.key(), b"secret-secret");
        assert_eq!(s.signer_name().to_ascii(), "mailform-key.");
    }
}
