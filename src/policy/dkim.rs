//! DKIM keys (RFC 6376 §3.6.1): the TXT value from what the user has (a
//! base64 key, a PEM file, or a whole record), and the key size of an RSA
//! key for the lint.

use crate::config::policy::DkimKeyType;

/// The record text for `key`.
pub fn txt_value(key: &str, key_type: Option<DkimKeyType>) -> String {
    let trimmed = key.trim();
    if trimmed.contains("p=") {
        return trimmed.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    let base64: String = trimmed
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.split_whitespace())
        .collect();
    let k = match key_type.unwrap_or(DkimKeyType::Rsa) {
        DkimKeyType::Rsa => "rsa",
        DkimKeyType::Ed25519 => "ed25519",
    };
    format!("v=DKIM1; k={k}; p={base64}")
}

/// Tag-value pairs of a DKIM key record.
pub fn tags(text: &str) -> Vec<(String, String)> {
    text.split(';')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_ascii_lowercase(),
                v.split_whitespace().collect(),
            )
        })
        .collect()
}

/// The modulus size in bits of an RSA public key given as base64 DER
/// (SubjectPublicKeyInfo, or a bare PKCS#1 RSAPublicKey).
pub fn rsa_bits(base64_der: &str) -> Result<usize, String> {
    use base64::Engine;
    use pkcs1::der::Decode;
    let der = base64::engine::general_purpose::STANDARD
        .decode(base64_der)
        .map_err(|e| format!("the key is not valid base64: {e}"))?;
    let rsa_key = match spki::SubjectPublicKeyInfoRef::from_der(&der) {
        Ok(info) => pkcs1::RsaPublicKey::from_der(info.subject_public_key.raw_bytes())
            .map_err(|e| e.to_string()),
        Err(_) => pkcs1::RsaPublicKey::from_der(&der).map_err(|e| e.to_string()),
    }
    .map_err(|e| format!("the key is not an RSA public key: {e}"))?;
    let n = rsa_key.modulus.as_bytes();
    let first = n.iter().position(|b| *b != 0).unwrap_or(n.len());
    let n = &n[first..];
    Ok(n.first()
        .map(|b| (n.len() - 1) * 8 + (8 - b.leading_zeros() as usize))
        .unwrap_or(0))
}
