//! The fake identity platform's check of a certificate client assertion,
//! as Microsoft's "certificate credentials" page describes it: a JWT signed
//! PS256 (RS256 is still accepted) with a certificate registered on the
//! app, named by its `x5t#S256` thumbprint; `aud` the token endpoint,
//! `iss` = `sub` = the client id, a `jti`, and a valid time range.

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sha2::Digest;

/// A certificate uploaded to the fake app registration.
#[derive(Debug, Clone)]
pub struct FakeCertificate {
    /// The certificate's DER encoding (its thumbprint names it).
    pub der: Vec<u8>,
    /// Its public key, PEM (`-----BEGIN PUBLIC KEY-----`).
    pub public_key_pem: String,
}

/// Why an assertion is refused: (HTTP status, error, AADSTS code, text).
pub type Refusal = (u16, &'static str, u64, String);

/// Checks `assertion` for `client_id` at the token endpoint `audience`.
pub fn check(
    assertion: &str,
    registered: Option<&FakeCertificate>,
    client_id: &str,
    audience: &str,
) -> Result<(), Refusal> {
    let malformed = |why: &str| {
        (
            400,
            "invalid_request",
            50027,
            format!("JWT token is invalid or malformed ({why})."),
        )
    };
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| malformed("header"))?;
    if !matches!(header.alg, Algorithm::PS256 | Algorithm::RS256) {
        return Err(malformed("alg"));
    }
    let unknown_key = (
        401,
        "invalid_client",
        700027,
        format!("The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{}']", header.x5t_s256.clone().or(header.x5t.clone()).unwrap_or_default()),
    );
    let Some(cert) = registered else {
        return Err(unknown_key);
    };
    let thumbprint =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&cert.der));
    if header.x5t_s256.as_deref() != Some(thumbprint.as_str()) {
        return Err(unknown_key);
    }
    let key = DecodingKey::from_rsa_pem(cert.public_key_pem.as_bytes())
        .map_err(|_| malformed("registered key"))?;
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[client_id]);
    validation.sub = Some(client_id.to_string());
    validation.validate_nbf = true;
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
    let data = jsonwebtoken::decode::<serde_json::Value>(assertion, &key, &validation).map_err(
        |e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => (
                401,
                "invalid_client",
                700027,
                "Client assertion failed signature validation.".to_string(),
            ),
            jsonwebtoken::errors::ErrorKind::ExpiredSignature
            | jsonwebtoken::errors::ErrorKind::ImmatureSignature => (
                400,
                "invalid_client",
                700024,
                "Client assertion is not within its valid time range.".to_string(),
            ),
            jsonwebtoken::errors::ErrorKind::InvalidAudience => (
                400,
                "invalid_client",
                700212,
                format!("The audience claim of the client assertion does not match the token endpoint '{audience}'."),
            ),
            _ => malformed("claims"),
        },
    )?;
    if data
        .claims
        .get("jti")
        .and_then(|j| j.as_str())
        .is_none_or(str::is_empty)
    {
        return Err(malformed("jti"));
    }
    Ok(())
}
