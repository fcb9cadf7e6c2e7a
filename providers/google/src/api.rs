//! The wire types of the Directory, Groups Settings and Site Verification
//! APIs, reduced to the fields mailform reads or writes (names as in the
//! discovery documents in `shared/specs/google/`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserName {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<UserName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended: Option<bool>,
    /// Editable aliases. Read-only on the user: changed through
    /// `users.aliases`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aliases: Option<Vec<String>>,
    /// Aliases derived from domain aliases; never managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_editable_aliases: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_unit_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_function: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_password_at_next_login: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Users {
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Read-only on the group: changed through `groups.aliases`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aliases: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_editable_aliases: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Groups {
    #[serde(default)]
    pub groups: Vec<Group>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "type")]
    pub member_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Members {
    #[serde(default)]
    pub members: Vec<Member>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    pub alias: String,
}

/// A domain of the tenant (`customer/{id}/domains/{name}`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Domain {
    #[serde(default)]
    pub domain_name: String,
    #[serde(default)]
    pub verified: bool,
}

/// The site of a Site Verification request: a domain (`INET_DOMAIN`).
#[derive(Debug, Clone, Serialize)]
pub struct Site<'a> {
    #[serde(rename = "type")]
    pub site_type: &'a str,
    pub identifier: &'a str,
}

/// `webResource.getToken`'s request.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetTokenRequest<'a> {
    pub site: Site<'a>,
    pub verification_method: &'a str,
}

/// `webResource.getToken`'s answer; for `DNS_TXT` the token is the whole
/// TXT value (`google-site-verification=…`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct VerificationToken {
    #[serde(default)]
    pub method: String,
    #[serde(default)]
    pub token: String,
}

/// `webResource.insert`'s request body (the method is a query parameter).
#[derive(Debug, Clone, Serialize)]
pub struct WebResource<'a> {
    pub site: Site<'a>,
}

/// `domains.insert`'s request body.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewDomain<'a> {
    pub domain_name: &'a str,
}

/// A domain alias of the tenant (`customer/{id}/domainaliases/{name}`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainAlias {
    #[serde(default)]
    pub parent_domain_name: String,
    #[serde(default)]
    pub verified: bool,
}

/// The body of `domainAliases.insert`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewDomainAlias<'a> {
    pub parent_domain_name: &'a str,
    pub domain_alias_name: &'a str,
}

/// Groups Settings: only who may post is managed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub who_can_post_message: Option<String>,
}

/// Google's error envelope (`{"error": {"code", "message", "errors": [{"reason"}]}}`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorDetail {
    #[serde(default)]
    pub code: u16,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub errors: Vec<ErrorItem>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorItem {
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub message: String,
}

/// The token endpoint's answer.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

/// The token endpoint's error (`{"error": "...", "error_description": "..."}`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenError {
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub error_description: String,
}
