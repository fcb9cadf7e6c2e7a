//! The `alimail` mail provider for mailform: Alibaba Mail (阿里邮箱 /
//! 阿里企业邮箱) through its Open API v2, with OAuth2 client credentials,
//! paged department walks and per-user applies.
//!
//! What the provider relies on, with the confidence the research notes
//! (`docs/research/alimail-open-api.md`) give it:
//! - CONFIRMED: the token call `POST /oauth2/v2.0/token` (form fields
//!   `grant_type=client_credentials`, `client_id`, `client_secret`), the
//!   `Authorization: bearer <token>` header, the hosts, `POST /v2/users`,
//!   offset/limit paging for users;
//! - LIKELY: `GET /v2/departments/{id}/departments` and
//!   `GET /v2/departments/{id}/users` (`offset`, `limit` ≤ 100, answers
//!   `{"departments": [...], "total"}` / `{"users": [...]}`), the root
//!   department `$root`, `PATCH /v2/users/{id}` with only the changed
//!   fields, `DELETE /v2/users/{id}`, the user fields (`id`, `email`,
//!   `name`, `status` `NORMAL`/`FREEZE`, `emailAliases`, `departmentIds`),
//!   the error body's `detailErrorCode` and `message`;
//! - **UNCERTAIN — implemented, to be verified against the official
//!   reference before production use**:
//!   - `POST /v2/users/{id}/emailAliases` with body
//!     `{"alias": "x@domain", "asDefault": false}` (add a user alias);
//!   - `DELETE /v2/users/{id}/emailAliases` with JSON body
//!     `{"alias": "x@domain"}` (remove a user alias; the real API may take
//!     the alias in the path instead);
//!   - that `POST /v2/users` answers with the user object (its `id` is
//!     used; without one, the address names the user in later calls);
//!   - the HTTP statuses of errors (401, 403, 404, 409, 429, 5xx) and the
//!     40 requests/second domain-wide limit.
//! - NOT FOUND, so not implemented: mail-group (邮件组) create, update,
//!   delete and membership calls. The provider declares `groups: false`, and
//!   any group change fails as unsupported.
//!
//! Modules:
//! - [`config`]: the provider's YAML settings ([`Config`]) and the app
//!   credentials.
//! - [`api`]: the wire types.
//! - `auth`: the token call and its cache.
//! - `client`: authenticated calls over `mailform-http` (rate limit,
//!   retries of reads only, redaction) and errors in plain words.
//! - `convert`: users ↔ [`mailform_contract::Mailbox`].
//! - `provider`: [`AlimailProvider`], the [`mailform_contract::MailProvider`].
//! - [`fake`] (feature `fake`): an in-process Alibaba Mail API for tests,
//!   also run as the `alimail-fake` binary.

pub mod api;
mod auth;
mod client;
pub mod config;
mod convert;
mod provider;

#[cfg(feature = "fake")]
pub mod fake;

pub use config::Config;
pub use provider::AlimailProvider;
