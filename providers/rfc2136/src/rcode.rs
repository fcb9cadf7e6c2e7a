//! DNS response codes of UPDATE and AXFR answers → [`ProviderError`]s.
//!
//! RFC 2136 §2.2 / §3: YXDOMAIN, YXRRSET, NXDOMAIN and NXRRSET mean a
//! prerequisite failed — the zone is not as the plan saw it, and the server
//! changed nothing. RFC 8945 §5.3.2: a key the server does not know or a
//! bad MAC comes back as NOTAUTH with the TSIG error BADKEY/BADSIG/BADTIME.

use hickory_proto::op::{Message, ResponseCode};
use mailform_contract::ProviderError;

/// The error for an answer whose response code is not NOERROR.
pub fn error_for(what: &str, key_name: &str, answer: &Message) -> ProviderError {
    let code = answer.metadata.response_code;
    let tsig_error = answer
        .signature
        .as_ref()
        .and_then(|s| s.data.error.as_ref())
        .map(|e| format!("{e:?}"));
    if let Some(e) = tsig_error {
        return ProviderError::Permission(format!(
            "{what}: the server rejected the TSIG signature ({e}): check `key_name` ({key_name}), \
             `algorithm` and the secret, and that both clocks are right"
        ));
    }
    match code {
        ResponseCode::YXRRSet
        | ResponseCode::NXRRSet
        | ResponseCode::YXDomain
        | ResponseCode::NXDomain => ProviderError::Conflict(format!(
            "{what}: the server refused the update because the zone is no longer as the plan saw \
             it (prerequisite failed: {code}); nothing was changed — run `mailform plan` again"
        )),
        ResponseCode::NotAuth => ProviderError::Permission(format!(
            "{what}: the server answered NOTAUTH: it is not the primary for this zone, or key \
             `{key_name}` is not accepted for it"
        )),
        // BIND also answers REFUSED when its integrity checks reject the
        // resulting zone (an in-zone MX or NS target without an address).
        ResponseCode::Refused => ProviderError::Permission(format!(
            "{what}: the server REFUSED it: either key `{key_name}` may not do this (BIND: \
             `allow-update {{ key {key_name}; }};` and `allow-transfer {{ key {key_name}; }};` in \
             the zone), or the server's integrity checks rejected the result (BIND: an MX or NS \
             target inside the zone without an A/AAAA record) — the server's log says which"
        )),
        ResponseCode::NotZone | ResponseCode::FormErr => {
            ProviderError::Rejected(format!("{what}: the server rejected the message ({code})"))
        }
        other => ProviderError::Service(format!("{what}: the server answered {other}")),
    }
}
