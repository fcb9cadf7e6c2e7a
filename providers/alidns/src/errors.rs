//! Alidns error codes → plain messages for the person running mailform.
//!
//! Codes from Alidns's error-code list
//! (<https://alibabacloud.com/help/en/dns/api-alidns-2015-01-09-errorcodes>)
//! and Alibaba Cloud's common errors: `InvalidAccessKeyId.NotFound` (unknown
//! AccessKey ID), `SignatureDoesNotMatch` (wrong secret), `Forbidden.RAM` /
//! `NoPermission` (the RAM user lacks a policy), `IncorrectDomainUser` /
//! `DomainRecordNotBelongToUser` (not this account's), `InvalidDomainName.NoExist`,
//! `DomainRecordDuplicate`, `DomainRecordConflict` (CNAME beside other data),
//! and `Throttling.*` ("Request was denied due to user flow control", answered
//! HTTP 400 — <https://developer.aliyun.com/ask/128391>; the request was not
//! processed, see <https://help.aliyun.com/zh/ecs/developer-reference/api-throttling>).

use mailform_contract::ProviderError;

/// Whether `code` says the request was refused by flow control and not
/// processed (safe to send again after a wait).
pub fn is_throttling(code: &str) -> bool {
    code.starts_with("Throttling") || code == "ServiceUnavailable.Throttling"
}

/// The error for an answer with HTTP `status`, `code` and `message`.
pub fn api_error(status: u16, code: &str, message: &str, zone: &str) -> ProviderError {
    // `SignatureDoesNotMatch` carries the server's whole string to sign:
    // useful to a signer's author, noise to the person running mailform.
    let message = message
        .split(" server string to sign")
        .next()
        .unwrap_or(message);
    let detail = format!("{code}: {}", message.trim_end_matches('.'));
    match code {
        "InvalidAccessKeyId.NotFound" | "InvalidAccessKeyId" | "InvalidAccessKeyId.Inactive" => {
            ProviderError::Permission(format!(
                "Alibaba Cloud does not know this AccessKey ID, or it is disabled ({detail}); check \
                 ALIBABA_CLOUD_ACCESS_KEY_ID"
            ))
        }
        "SignatureDoesNotMatch" | "IncompleteSignature" => ProviderError::Permission(format!(
            "Alibaba Cloud refused the request signature ({detail}): the AccessKey secret does not \
             belong to the AccessKey ID; check ALIBABA_CLOUD_ACCESS_KEY_SECRET"
        )),
        "Forbidden.RAM" | "Forbidden" | "NoPermission" | "Forbidden.AccessDenied" => {
            ProviderError::Permission(format!(
                "the RAM user may not manage DNS records of {zone} ({detail}); attach the \
                 AliyunDNSFullAccess policy to it"
            ))
        }
        "IncorrectDomainUser" | "DomainNotBelongToUser" => ProviderError::Permission(format!(
            "domain {zone} is not in the Alibaba Cloud account of this AccessKey ({detail}); add \
             it in the Alidns console of that account, or use that account's key"
        )),
        "InvalidDomainName.NoExist" | "InvalidDomainName.Format" => ProviderError::Rejected(format!(
            "zone {zone} not found in Alidns ({detail}); add the domain in the Alidns console first"
        )),
        "DomainRecordDuplicate" => ProviderError::Conflict(format!(
            "a record with the same host, type and value already exists in {zone} ({detail}): it \
             was probably added since the plan was made (or it is disabled in the console); run \
             `mailform plan` again"
        )),
        "DomainRecordConflict" => ProviderError::Conflict(format!(
            "CNAME conflict in {zone}: a host with a CNAME can hold no other record ({detail})"
        )),
        "DomainRecordNotBelongToUser" | "DomainRecordNotExist" | "InvalidRecordId.NotFound" => {
            ProviderError::Conflict(format!(
                "a record this plan changes no longer exists in {zone} ({detail}); run `mailform \
                 plan` again"
            ))
        }
        "SignatureNonceUsed" | "InvalidTimeStamp.Expired" | "InvalidTimeStamp.Format" => {
            ProviderError::Service(format!(
                "Alibaba Cloud refused the request's timestamp or nonce ({detail}); check the \
                 system clock"
            ))
        }
        c if is_throttling(c) => ProviderError::Service(format!(
            "Alidns is throttling this account ({detail}); nothing was done by the refused \
             request; wait a minute and run again"
        )),
        c if c.contains("TTL") => ProviderError::Rejected(format!(
            "Alidns refused a TTL in {zone} ({detail}); the Free edition accepts 600 to 86400 \
             seconds; set `min_ttl` to your edition's minimum"
        )),
        _ if status >= 500 => ProviderError::Service(format!("Alidns failed: {detail} (HTTP {status})")),
        _ => ProviderError::Rejected(format!("Alidns refused the request for {zone}: {detail}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_become_plain_messages() {
        let e = api_error(
            404,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
            "example.com",
        );
        assert!(
            matches!(&e, ProviderError::Permission(m) if m.contains("ALIBABA_CLOUD_ACCESS_KEY_ID")),
            "{e}"
        );
        let e = api_error(
            400,
            "SignatureDoesNotMatch",
            "Specified signature is not matched with our calculation.",
            "example.com",
        );
        assert!(
            matches!(&e, ProviderError::Permission(m) if m.contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET")),
            "{e}"
        );
        let e = api_error(
            403,
            "Forbidden.RAM",
            "User not authorized to operate on the specified resource.",
            "example.com",
        );
        assert!(e.to_string().contains("AliyunDNSFullAccess"), "{e}");
        let e = api_error(
            400,
            "IncorrectDomainUser",
            "The domain name does not belong to you.",
            "example.com",
        );
        assert!(
            matches!(&e, ProviderError::Permission(m) if m.contains("example.com")),
            "{e}"
        );
        let e = api_error(
            400,
            "InvalidDomainName.NoExist",
            "The specified domain name does not exist.",
            "example.com",
        );
        assert!(
            matches!(&e, ProviderError::Rejected(m) if m.contains("not found")),
            "{e}"
        );
        let e = api_error(
            400,
            "DomainRecordDuplicate",
            "The DNS record already exists.",
            "example.com",
        );
        assert!(
            matches!(&e, ProviderError::Conflict(m) if m.contains("already exists")),
            "{e}"
        );
        let e = api_error(
            400,
            "DomainRecordConflict",
            "The DNS record conflicts with other records.",
            "example.com",
        );
        assert!(e.to_string().contains("CNAME conflict"), "{e}");
        let e = api_error(
            400,
            "Throttling.User",
            "Request was denied due to user flow control.",
            "example.com",
        );
        assert!(matches!(e, ProviderError::Service(_)));
        assert!(
            is_throttling("Throttling.User")
                && is_throttling("Throttling")
                && !is_throttling("InvalidTTL")
        );
        assert!(matches!(
            api_error(503, "ServiceUnavailable", "x", "example.com"),
            ProviderError::Service(_)
        ));
        assert!(matches!(
            api_error(400, "InvalidParameter", "x", "example.com"),
            ProviderError::Rejected(_)
        ));
    }
}
