//! The wire types of the Alibaba Mail Open API v2 that this provider uses.
//!
//! Field names follow the research notes (`docs/research/alimail-open-api.md`):
//! the token answer (§1, LIKELY), the user object and its create/update
//! bodies (§3, LIKELY — from third-party SDKs, the official schema was not
//! readable), department pages (§6, LIKELY), the alias bodies (§4,
//! UNCERTAIN) and the error body (§8, LIKELY/UNCERTAIN). Unknown fields are
//! ignored on reads, so extra fields the real service sends do not break
//! parsing; the fields mailform depends on are required.

use serde::{Deserialize, Serialize};

/// The root department's id (§6, LIKELY).
pub const ROOT_DEPARTMENT: &str = "$root";
/// Page size of department and user listings: the documented maximum (§3, §6).
pub const PAGE_LIMIT: usize = 100;

/// `POST /oauth2/v2.0/token` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenAnswer {
    pub access_token: String,
    #[serde(default)]
    pub token_type: Option<String>,
    /// Seconds the token is valid for.
    #[serde(default)]
    pub expires_in: Option<u64>,
}

/// A user (子账号) as the API returns it; only what mailform uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiUser {
    pub id: String,
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    /// `NORMAL` or `FREEZE`.
    pub status: String,
    #[serde(default)]
    pub email_aliases: Vec<String>,
    #[serde(default)]
    pub department_ids: Vec<String>,
}

/// A department, as sub-department listings return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiDepartment {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub parent_id: Option<String>,
}

/// `GET /v2/departments/{id}/users` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserPage {
    #[serde(default)]
    pub users: Vec<ApiUser>,
    #[serde(default)]
    pub total: Option<u64>,
}

/// `GET /v2/departments/{id}/departments` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DepartmentPage {
    #[serde(default)]
    pub departments: Vec<ApiDepartment>,
    #[serde(default)]
    pub total: Option<u64>,
}

/// `POST /v2/users` body. Its `Debug` hides the password.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateUser {
    pub email: String,
    pub name: String,
    pub password: String,
    pub department_ids: Vec<String>,
}

impl std::fmt::Debug for CreateUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateUser")
            .field("email", &self.email)
            .field("name", &self.name)
            .field("password", &"***")
            .field("department_ids", &self.department_ids)
            .finish()
    }
}

/// `PATCH /v2/users/{id}` body: only the fields that change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateUser {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// `POST /v2/users/{id}/emailAliases` body (UNCERTAIN, §4).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddAlias {
    pub alias: String,
    #[serde(default)]
    pub as_default: bool,
}

/// `DELETE /v2/users/{id}/emailAliases` body (UNCERTAIN, §4).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteAlias {
    pub alias: String,
}

/// The error body. Which fields the real service sends is not confirmed
/// (§8): `detailErrorCode` and `message` are LIKELY, `code` and `requestId`
/// UNCERTAIN; all are optional here.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail_error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// OAuth2-style fields of the token endpoint (UNCERTAIN, §1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// User status values (§3, LIKELY).
pub const STATUS_NORMAL: &str = "NORMAL";
pub const STATUS_FREEZE: &str = "FREEZE";
