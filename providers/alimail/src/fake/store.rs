//! The fake's organisation: departments and users with the rules the real
//! service is expected to apply — unique addresses (an address used as
//! another user's email or alias is a 409), unknown ids 404, status
//! `NORMAL`/`FREEZE` only, departments that exist.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::api::{ApiDepartment, ApiUser, ROOT_DEPARTMENT, STATUS_FREEZE, STATUS_NORMAL};

/// A refusal: HTTP status, error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiErr {
    pub status: u16,
    pub code: String,
    pub message: String,
}

pub fn err(status: u16, code: &str, message: impl Into<String>) -> ApiErr {
    ApiErr {
        status,
        code: code.to_string(),
        message: message.into(),
    }
}

#[derive(Debug, Default)]
pub struct Store {
    /// Department id → department (the root included).
    pub departments: BTreeMap<String, ApiDepartment>,
    /// User id → user; ids grow, so this is creation order.
    pub users: BTreeMap<String, ApiUser>,
    next: u64,
    /// Successful writes.
    pub writes: u64,
}

impl Store {
    pub fn new() -> Store {
        let mut s = Store::default();
        s.departments.insert(
            ROOT_DEPARTMENT.to_string(),
            ApiDepartment {
                id: ROOT_DEPARTMENT.to_string(),
                name: Some("Organisation".into()),
                parent_id: None,
            },
        );
        s
    }

    fn id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{:010}", self.next)
    }

    pub fn add_department(&mut self, name: &str, parent: &str) -> Result<String, ApiErr> {
        if !self.departments.contains_key(parent) {
            return Err(err(
                404,
                "DepartmentNotFound",
                format!("department {parent} not found"),
            ));
        }
        let id = self.id("d");
        self.departments.insert(
            id.clone(),
            ApiDepartment {
                id: id.clone(),
                name: Some(name.to_string()),
                parent_id: Some(parent.to_string()),
            },
        );
        Ok(id)
    }

    /// The id of the user `key` names: an id or an email address.
    pub fn resolve(&self, key: &str) -> Result<String, ApiErr> {
        if self.users.contains_key(key) {
            return Ok(key.to_string());
        }
        let lower = key.to_ascii_lowercase();
        self.users
            .values()
            .find(|u| u.email == lower)
            .map(|u| u.id.clone())
            .ok_or_else(|| err(404, "UserNotFound", format!("user {key} not found")))
    }

    fn address_taken(&self, address: &str) -> bool {
        self.users
            .values()
            .any(|u| u.email == address || u.email_aliases.iter().any(|a| a == address))
    }

    pub fn create_user(
        &mut self,
        email: &str,
        name: &str,
        status: &str,
        department_ids: Vec<String>,
    ) -> Result<ApiUser, ApiErr> {
        let email = email.trim().to_ascii_lowercase();
        if !valid_address(&email) {
            return Err(err(
                400,
                "InvalidParameter",
                format!("email {email:?} is not valid"),
            ));
        }
        if name.trim().is_empty() {
            return Err(err(400, "InvalidParameter", "name is required"));
        }
        if status != STATUS_NORMAL && status != STATUS_FREEZE {
            return Err(err(
                400,
                "InvalidParameter",
                format!("status {status:?} is not valid"),
            ));
        }
        if department_ids.is_empty() {
            return Err(err(400, "InvalidParameter", "departmentIds is required"));
        }
        for d in &department_ids {
            if !self.departments.contains_key(d) {
                return Err(err(
                    404,
                    "DepartmentNotFound",
                    format!("department {d} not found"),
                ));
            }
        }
        if self.address_taken(&email) {
            return Err(err(
                409,
                "EmailAlreadyExists",
                format!("{email} already exists"),
            ));
        }
        let id = self.id("u");
        let user = ApiUser {
            id: id.clone(),
            email,
            name: Some(name.to_string()),
            status: status.to_string(),
            email_aliases: Vec::new(),
            department_ids,
        };
        self.users.insert(id, user.clone());
        self.writes += 1;
        Ok(user)
    }

    pub fn update_user(
        &mut self,
        key: &str,
        name: Option<String>,
        status: Option<String>,
    ) -> Result<ApiUser, ApiErr> {
        let id = self.resolve(key)?;
        if let Some(s) = &status {
            if s != STATUS_NORMAL && s != STATUS_FREEZE {
                return Err(err(
                    400,
                    "InvalidParameter",
                    format!("status {s:?} is not valid"),
                ));
            }
        }
        if name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(err(400, "InvalidParameter", "name may not be empty"));
        }
        let u = self.users.get_mut(&id).expect("resolved");
        if let Some(n) = name {
            u.name = Some(n);
        }
        if let Some(s) = status {
            u.status = s;
        }
        self.writes += 1;
        Ok(u.clone())
    }

    pub fn delete_user(&mut self, key: &str) -> Result<(), ApiErr> {
        let id = self.resolve(key)?;
        self.users.remove(&id);
        self.writes += 1;
        Ok(())
    }

    pub fn add_alias(&mut self, key: &str, alias: &str) -> Result<ApiUser, ApiErr> {
        let id = self.resolve(key)?;
        let alias = alias.trim().to_ascii_lowercase();
        if !valid_address(&alias) {
            return Err(err(
                400,
                "InvalidParameter",
                format!("alias {alias:?} is not valid"),
            ));
        }
        if self.address_taken(&alias) {
            return Err(err(
                409,
                "EmailAlreadyExists",
                format!("{alias} already exists"),
            ));
        }
        let u = self.users.get_mut(&id).expect("resolved");
        u.email_aliases.push(alias);
        self.writes += 1;
        Ok(u.clone())
    }

    pub fn remove_alias(&mut self, key: &str, alias: &str) -> Result<ApiUser, ApiErr> {
        let id = self.resolve(key)?;
        let alias = alias.trim().to_ascii_lowercase();
        let u = self.users.get_mut(&id).expect("resolved");
        let before = u.email_aliases.len();
        u.email_aliases.retain(|a| *a != alias);
        if u.email_aliases.len() == before {
            return Err(err(
                404,
                "AliasNotFound",
                format!("{alias} is not an alias of {}", u.email),
            ));
        }
        self.writes += 1;
        Ok(u.clone())
    }

    /// Direct sub-departments of `id`, a page of them, and their count.
    pub fn sub_departments(
        &self,
        id: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<ApiDepartment>, usize), ApiErr> {
        if !self.departments.contains_key(id) {
            return Err(err(
                404,
                "DepartmentNotFound",
                format!("department {id} not found"),
            ));
        }
        let all: Vec<&ApiDepartment> = self
            .departments
            .values()
            .filter(|d| d.parent_id.as_deref() == Some(id))
            .collect();
        let page = all
            .iter()
            .skip(offset)
            .take(limit)
            .map(|d| (*d).clone())
            .collect();
        Ok((page, all.len()))
    }

    /// Direct members of department `id`, a page of them, and their count.
    pub fn department_users(
        &self,
        id: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<ApiUser>, usize), ApiErr> {
        if !self.departments.contains_key(id) {
            return Err(err(
                404,
                "DepartmentNotFound",
                format!("department {id} not found"),
            ));
        }
        let all: Vec<&ApiUser> = self
            .users
            .values()
            .filter(|u| u.department_ids.iter().any(|d| d == id))
            .collect();
        let page = all
            .iter()
            .skip(offset)
            .take(limit)
            .map(|u| (*u).clone())
            .collect();
        Ok((page, all.len()))
    }
}

fn valid_address(a: &str) -> bool {
    match a.split_once('@') {
        Some((l, d)) => {
            !l.is_empty()
                && d.contains('.')
                && !a.chars().any(|c| c.is_whitespace() || c.is_control())
                && !d.contains('@')
        }
        None => false,
    }
}

/// The user as the service would answer it: the fields mailform reads and
/// a few it does not (the client must ignore them).
pub fn user_json(u: &ApiUser) -> Value {
    json!({
        "id": u.id,
        "email": u.email,
        "name": u.name,
        "nickname": "",
        "status": u.status,
        "emailAliases": u.email_aliases,
        "departmentIds": u.department_ids,
        "employeeType": "EMPLOYEE",
        "isHidden": false,
        "createdTime": "2026-01-01T00:00:00Z",
    })
}

pub fn department_json(d: &ApiDepartment) -> Value {
    json!({
        "id": d.id,
        "name": d.name,
        "parentId": d.parent_id,
        "hasUsers": true,
        "hasSubDepartments": false,
        "isHidden": false,
    })
}
