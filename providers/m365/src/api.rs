//! Graph's wire types, reduced to the fields mailform reads or writes
//! (names as in `shared/specs/microsoft/graph-mail.lite.openapi.yaml`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The properties a user list asks for (`$select`).
pub const USER_SELECT: &str = "id,userPrincipalName,mail,displayName,accountEnabled,proxyAddresses";
/// The properties a group list asks for.
pub const GROUP_SELECT: &str =
    "id,displayName,mail,mailEnabled,securityEnabled,groupTypes,proxyAddresses";
/// The properties a member list asks for.
pub const MEMBER_SELECT: &str = "id,mail,userPrincipalName";
/// Graph's largest page for users, groups and members.
pub const PAGE: &str = "999";

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    /// The primary SMTP address; unset until the user has a mailbox.
    #[serde(default)]
    pub mail: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub account_enabled: Option<bool>,
    #[serde(default)]
    pub proxy_addresses: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordProfile {
    pub password: String,
    pub force_change_password_next_sign_in: bool,
}

/// `POST /users`: the five properties Graph requires, and a usage
/// location when configured.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewUser {
    pub account_enabled: bool,
    pub display_name: String,
    pub mail_nickname: String,
    pub user_principal_name: String,
    pub password_profile: PasswordProfile,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_location: Option<String>,
}

/// `PATCH /users/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub mail: Option<String>,
    #[serde(default)]
    pub mail_enabled: Option<bool>,
    #[serde(default)]
    pub security_enabled: Option<bool>,
    #[serde(default)]
    pub group_types: Vec<String>,
    #[serde(default)]
    pub proxy_addresses: Vec<String>,
}

impl Group {
    /// A Microsoft 365 group, the only kind Graph writes.
    pub fn is_unified(&self) -> bool {
        self.group_types.iter().any(|t| t == "Unified")
    }
}

/// `POST /groups` for a Microsoft 365 group.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewGroup {
    pub display_name: String,
    pub mail_enabled: bool,
    pub mail_nickname: String,
    pub security_enabled: bool,
    pub group_types: Vec<String>,
}

/// `PATCH /groups/{id}`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupPatch {
    pub display_name: String,
}

/// A member as `/groups/{id}/members?$select=id,mail,userPrincipalName`
/// gives it (a directory object: a user, group, device, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    #[serde(default)]
    pub id: String,
    #[serde(rename = "@odata.type", default)]
    pub odata_type: Option<String>,
    #[serde(default)]
    pub mail: Option<String>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
}

/// `POST /groups/{id}/members/$ref`.
#[derive(Debug, Clone, Serialize)]
pub struct MemberRef {
    #[serde(rename = "@odata.id")]
    pub odata_id: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Domain {
    pub id: String,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default)]
    pub is_initial: bool,
    #[serde(default)]
    pub is_verified: bool,
    /// `Email`, `OfficeCommunicationsOnline`, `Intune`, ...: what the
    /// domain is used for; Microsoft names records only for these.
    #[serde(default)]
    pub supported_services: Vec<String>,
}

/// The properties a domain listing asks for: every use of it (the
/// domain's stage, the default and the initial domain) from one read.
pub const DOMAIN_SELECT: &str = "id,isDefault,isInitial,isVerified,supportedServices";

/// `POST /domains`: the id is the only property Graph takes.
#[derive(Debug, Clone, Serialize)]
pub struct NewDomain {
    pub id: String,
}

/// `PATCH /domains/{id}`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainPatch {
    pub supported_services: Vec<String>,
}

/// A `domainDnsRecord` of `verificationDnsRecords` or
/// `serviceConfigurationRecords`: the base type's properties and those of
/// the derived types mailform reads (`domainDnsTxtRecord.text`,
/// `domainDnsMxRecord.mailExchange`/`preference`,
/// `domainDnsCnameRecord.canonicalName`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsRecord {
    #[serde(rename = "@odata.type", default)]
    pub odata_type: Option<String>,
    #[serde(default)]
    pub is_optional: bool,
    /// The record's name, absolute (`contoso.com`,
    /// `autodiscover.contoso.com`).
    #[serde(default)]
    pub label: String,
    /// `Txt`, `Mx`, `CName`, `Srv`.
    #[serde(default)]
    pub record_type: Option<String>,
    #[serde(default)]
    pub supported_service: Option<String>,
    #[serde(default)]
    pub ttl: Option<u32>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub mail_exchange: Option<String>,
    #[serde(default)]
    pub preference: Option<u16>,
    #[serde(default)]
    pub canonical_name: Option<String>,
}

impl DnsRecord {
    /// The record type in lower case (`txt`, `mx`, `cname`), from
    /// `recordType` or else the derived `@odata.type`.
    pub fn kind(&self) -> String {
        if let Some(t) = self.record_type.as_deref().filter(|t| !t.is_empty()) {
            return t.to_ascii_lowercase();
        }
        self.odata_type
            .as_deref()
            .and_then(|t| t.strip_prefix("#microsoft.graph.domainDns"))
            .and_then(|t| t.strip_suffix("Record"))
            .unwrap_or("")
            .to_ascii_lowercase()
    }
}

/// A subscription of the tenant (`GET /subscribedSkus`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscribedSku {
    #[serde(default)]
    pub sku_id: String,
    #[serde(default)]
    pub sku_part_number: String,
    #[serde(default)]
    pub consumed_units: i64,
    #[serde(default)]
    pub prepaid_units: PrepaidUnits,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PrepaidUnits {
    #[serde(default)]
    pub enabled: i64,
}

/// `POST /users/{id}/assignLicense`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignLicense {
    pub add_licenses: Vec<AssignedLicense>,
    pub remove_licenses: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignedLicense {
    pub sku_id: String,
    pub disabled_plans: Vec<String>,
}

/// One page of a collection.
#[derive(Debug, Clone, Deserialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
}

/// Graph's error envelope (`{"error": {"code", "message"}}`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorDetail {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// One request of a `$batch`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchRequest {
    pub id: String,
    pub method: String,
    /// Relative to the version: `/groups/{id}/members/$ref`.
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<std::collections::BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Batch {
    pub requests: Vec<BatchRequest>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BatchResponse {
    pub id: String,
    pub status: u16,
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub body: Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BatchResponses {
    #[serde(default)]
    pub responses: Vec<BatchResponse>,
}

/// The token endpoint's answer.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

/// The identity platform's error (`error`, `error_description` starting
/// with the `AADSTS` code, `error_codes`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenError {
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub error_description: String,
    #[serde(default)]
    pub error_codes: Vec<u64>,
}

/// `GET /users/{id}?$select=assignedLicenses`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserLicences {
    #[serde(default)]
    pub assigned_licenses: Vec<HeldLicence>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldLicence {
    #[serde(default)]
    pub sku_id: String,
}
