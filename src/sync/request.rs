//! Kit requests, validated once at the edge (field tables in
//! research/joint-saas-kit-and-login.md §4). Lenient where the marketplace
//! is inconsistent: lists as arrays or as strings holding arrays, optional
//! user fields top-level or under `extension`, department names spelled
//! `orgName`, `OrgName` or `name`, integers written as strings.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::Flag;
use crate::error::Error;
use crate::marketplace::exact_json;
use crate::marketplace::fields::{objects, Fields, ID_LEN};
use crate::marketplace::timestamp::to_millis_time;

/// V1 authSync carries at most 500 users; koogate holds V2 to the same.
pub const MAX_USERS: usize = 500;

/// What every sync call carries.
#[derive(Debug, Clone)]
pub struct Common {
    pub instance_id: Option<String>,
    pub order_id: Option<String>,
    pub tenant_id: String,
    pub test_flag: bool,
}

#[derive(Debug, Clone)]
pub enum SyncCommand {
    Tenant(TenantSync),
    App(AppSync),
    Auth(AuthSync),
    SingleOrg(SingleOrgSync),
    AllOrg(AllOrgSync),
}

#[derive(Debug, Clone)]
pub struct TenantSync {
    pub common: Common,
    pub flag: Flag,
    pub tenant_code: Option<String>,
    pub name: Option<String>,
    pub domain_name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AppSync {
    pub common: Common,
    pub flag: Flag,
    pub app_id: String,
    pub client_id: Option<String>,
    /// base64 RSA-OAEP ciphertext; decrypted only in the domain.
    pub client_secret: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AuthSync {
    pub common: Common,
    pub flag: Flag,
    pub app_id: String,
    /// `currentSyncTime` as 17 digits `yyyyMMddHHmmssSSS`: compares as text.
    pub sync_time: String,
    pub users: Vec<SyncUser>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncUser {
    pub user_name: String,
    pub name: Option<String>,
    pub org_code: Option<String>,
    pub role: Option<String>,
    pub enabled: Option<bool>,
    pub position: Option<String>,
    pub employee_code: Option<String>,
    pub employee_type: Option<String>,
    /// mobile, email, workPlace, entryDate: sealed before storage.
    pub personal: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub struct SingleOrgSync {
    pub common: Common,
    pub flag: Flag,
    pub org: Org,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub org_code: String,
    /// Absent only on a delete.
    pub org_name: Option<String>,
    /// `None` for a top-level department.
    pub parent_code: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AllOrgSync {
    pub common: Common,
    pub orgs: Vec<Org>,
}

impl SyncCommand {
    pub fn common(&self) -> &Common {
        match self {
            SyncCommand::Tenant(c) => &c.common,
            SyncCommand::App(c) => &c.common,
            SyncCommand::Auth(c) => &c.common,
            SyncCommand::SingleOrg(c) => &c.common,
            SyncCommand::AllOrg(c) => &c.common,
        }
    }
}

/// The five call names, as they appear in the path.
pub const CALLS: &[&str] =
    &["tenantSync", "applicationSync", "authSync", "singleOrgSync", "allOrgSync"];

/// Parses the body of the sync call `call`.
pub fn parse(call: &str, fields: &Fields) -> Result<SyncCommand, Error> {
    let common = Common {
        instance_id: fields.optional_id("instanceId")?,
        order_id: fields.optional_id("orderId")?,
        tenant_id: fields.id("tenantId")?,
        test_flag: fields.test_flag()?,
    };
    match call {
        "tenantSync" => {
            let flag = flag(fields, false)?;
            let needs_details = flag != Flag::Delete;
            Ok(SyncCommand::Tenant(TenantSync {
                common,
                flag,
                tenant_code: present(fields, "tenantCode", ID_LEN, flag == Flag::Add)?,
                name: present(fields, "name", 255, needs_details)?,
                domain_name: present(fields, "domainName", 255, needs_details)?,
            }))
        }
        "applicationSync" => {
            let flag = flag(fields, false)?;
            let needs_details = flag != Flag::Delete;
            Ok(SyncCommand::App(AppSync {
                common,
                flag,
                app_id: fields.id("appId")?,
                client_id: present(fields, "clientId", ID_LEN, needs_details)?,
                client_secret: present(fields, "clientSecret", 4096, needs_details)?,
            }))
        }
        "authSync" => {
            let flag = flag(fields, true)?;
            // Compared as text with the stored one, so both widths are
            // stored as 17 digits.
            let sync_time =
                to_millis_time(&fields.required("currentSyncTime", 17)?).ok_or_else(|| {
                    Error::invalid("currentSyncTime is not yyyyMMddHHmmssSSS or yyyyMMddHHmmss")
                })?;
            let items = list(fields, &["userList"])?;
            if items.len() > MAX_USERS {
                return Err(Error::invalid(format!(
                    "userList holds {} users, at most {MAX_USERS} are allowed",
                    items.len()
                )));
            }
            let needs_details = matches!(flag, Flag::Add | Flag::Modify);
            let users = items
                .into_iter()
                .map(|item| user(item, needs_details))
                .collect::<Result<Vec<_>, _>>()?;
            let mut seen = HashSet::new();
            if let Some(twice) = users.iter().find(|u| !seen.insert(u.user_name.clone())) {
                return Err(Error::invalid(format!(
                    "userName {} is listed twice",
                    twice.user_name
                )));
            }
            Ok(SyncCommand::Auth(AuthSync {
                common,
                flag,
                app_id: fields.id("appId")?,
                sync_time,
                users,
            }))
        }
        "singleOrgSync" => {
            let flag = flag(fields, false)?;
            Ok(SyncCommand::SingleOrg(SingleOrgSync {
                common,
                flag,
                org: org(fields, flag != Flag::Delete)?,
            }))
        }
        "allOrgSync" => {
            let orgs = list(fields, &["orgInfoList", "orgInfo"])?
                .into_iter()
                .map(|item| org(&Fields::from(item), true))
                .collect::<Result<Vec<_>, _>>()?;
            let mut seen = HashSet::new();
            if let Some(twice) = orgs.iter().find(|o| !seen.insert(o.org_code.clone())) {
                return Err(Error::invalid(format!("orgCode {} is listed twice", twice.org_code)));
            }
            check_no_cycle(&orgs)?;
            Ok(SyncCommand::AllOrg(AllOrgSync { common, orgs }))
        }
        _ => Err(Error::invalid("unknown sync call")),
    }
}

fn flag(fields: &Fields, allow_cancel: bool) -> Result<Flag, Error> {
    let value = fields.required("flag", 2)?;
    Flag::parse(&value, allow_cancel).ok_or_else(|| {
        Error::invalid(if allow_cancel {
            "flag must be 0, 1, 2 or 3"
        } else {
            "flag must be 0, 1 or 2"
        })
    })
}

/// A field that must be there when `required`, and is read when present.
fn present(
    fields: &Fields,
    name: &str,
    max_len: usize,
    required: bool,
) -> Result<Option<String>, Error> {
    if required {
        fields.required(name, max_len).map(Some)
    } else {
        fields.optional(name, max_len)
    }
}

/// A list of objects, sent as a JSON array or as a string holding one,
/// under the first of `names` that is present.
fn list(fields: &Fields, names: &[&str]) -> Result<Vec<Map<String, Value>>, Error> {
    let Some((name, value)) = names.iter().find_map(|n| fields.get(n).map(|v| (*n, v))) else {
        return Err(Error::invalid(format!("{} is missing", names[0])));
    };
    objects(value, false)
        .ok_or_else(|| Error::invalid(format!("{name} is not a JSON array of objects")))
}

fn user(item: Map<String, Value>, needs_details: bool) -> Result<SyncUser, Error> {
    // V1 puts optional fields under `extension`; top-level wins.
    let mut merged = match item.get("extension") {
        Some(Value::Object(extension)) => extension.clone(),
        Some(Value::String(text)) => match exact_json::parse(text) {
            Ok(Value::Object(extension)) => extension,
            _ => Map::new(),
        },
        _ => Map::new(),
    };
    for (key, value) in item {
        if key != "extension" {
            merged.insert(key, value);
        }
    }
    let fields = Fields::from(merged);
    let role = fields.optional("role", 32)?;
    if let Some(role) = &role {
        if role != "admin" && role != "user" {
            return Err(Error::invalid("role must be admin or user"));
        }
    }
    let enabled = match fields.optional("enable", 8)?.as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(Error::invalid("enable must be true or false")),
    };
    let mut personal = Map::new();
    for (name, max_len) in [("mobile", 32), ("email", 128), ("workPlace", 256), ("entryDate", 20)] {
        if let Some(value) = fields.optional(name, max_len)? {
            personal.insert(name.to_string(), Value::String(value));
        }
    }
    Ok(SyncUser {
        user_name: fields.id("userName")?,
        name: present(&fields, "name", 64, needs_details)?,
        org_code: fields.optional_id("orgCode")?,
        role,
        enabled,
        position: fields.optional("position", 64)?,
        employee_code: fields.optional("employeeCode", 64)?,
        employee_type: fields.optional("employeeType", 11)?,
        personal,
    })
}

fn org(fields: &Fields, needs_name: bool) -> Result<Org, Error> {
    let org_code = fields.id("orgCode")?;
    let mut org_name = None;
    for spelling in ["orgName", "OrgName", "name"] {
        if let Some(name) = fields.optional(spelling, 128)? {
            org_name = Some(name);
            break;
        }
    }
    if needs_name && org_name.is_none() {
        return Err(Error::invalid(format!("orgName of {org_code} is missing")));
    }
    let parent_code = fields.optional_id("parentCode")?;
    if parent_code.as_deref() == Some(org_code.as_str()) {
        return Err(Error::invalid(format!("{org_code} cannot be its own parent")));
    }
    Ok(Org { org_code, org_name, parent_code })
}

/// A full list whose parent links loop (A under B under A) is refused.
fn check_no_cycle(orgs: &[Org]) -> Result<(), Error> {
    let parents: HashMap<&str, &str> = orgs
        .iter()
        .filter_map(|o| o.parent_code.as_deref().map(|p| (o.org_code.as_str(), p)))
        .collect();
    // 0 = unvisited, 1 = on the current path, 2 = known to reach a root.
    let mut state: HashMap<&str, u8> = HashMap::new();
    for start in orgs.iter().map(|o| o.org_code.as_str()) {
        let mut path = Vec::new();
        let mut node = Some(start);
        while let Some(code) = node {
            match state.get(code).copied().unwrap_or(0) {
                2 => break,
                1 => {
                    return Err(Error::invalid(format!(
                        "the departments under {code} form a cycle"
                    )))
                }
                _ => {}
            }
            state.insert(code, 1);
            path.push(code);
            node = parents.get(code).copied();
        }
        for code in path {
            state.insert(code, 2);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_json(call: &str, body: Value) -> Result<SyncCommand, Error> {
        let Value::Object(map) = body else { panic!("object") };
        parse(call, &Fields::from(map))
    }

    #[test]
    fn user_lists_arrive_as_arrays_or_strings_with_extensions() {
        let user = json!({"userName": "zs", "name": "Zhang", "orgCode": "10", "role": "admin", "enable": "true",
                          "extension": {"workPlace": "Shenzhen", "entryDate": "2020-1-2"}});
        for list in [json!([user.clone()]), Value::String(json!([user.clone()]).to_string())] {
            let body = json!({"tenantId": "t", "appId": "a", "flag": 1, "currentSyncTime": "20240101000000000", "userList": list});
            let Ok(SyncCommand::Auth(auth)) = parse_json("authSync", body) else {
                panic!("parsed")
            };
            assert_eq!(auth.users[0].personal["workPlace"], "Shenzhen");
            assert_eq!(auth.users[0].enabled, Some(true));
        }
    }

    #[test]
    fn department_names_have_three_spellings() {
        for spelling in ["orgName", "OrgName", "name"] {
            let item = json!({"orgCode": "10", spelling: "HQ"});
            let body = json!({"tenantId": "t", "orgInfoList": [item]});
            let Ok(SyncCommand::AllOrg(all)) = parse_json("allOrgSync", body) else {
                panic!("parsed")
            };
            assert_eq!(all.orgs[0].org_name.as_deref(), Some("HQ"));
        }
    }

    #[test]
    fn cycles_in_a_full_list_are_refused_but_dangling_parents_are_not() {
        let ok = json!({"tenantId": "t", "orgInfo": [
            {"orgCode": "20", "orgName": "R&D", "parentCode": "10"},
            {"orgCode": "10", "orgName": "HQ", "parentCode": ""},
            {"orgCode": "30", "orgName": "Lost", "parentCode": "99"}]});
        assert!(parse_json("allOrgSync", ok).is_ok());
        let cycle = json!({"tenantId": "t", "orgInfoList": [
            {"orgCode": "A", "orgName": "a", "parentCode": "C"},
            {"orgCode": "B", "orgName": "b", "parentCode": "A"},
            {"orgCode": "C", "orgName": "c", "parentCode": "B"}]});
        assert!(parse_json("allOrgSync", cycle).expect_err("cycle").to_string().contains("cycle"));
    }

    #[test]
    fn flags_are_checked_per_call() {
        let body = |flag: Value| json!({"tenantId": "t", "appId": "a", "flag": flag, "currentSyncTime": "20240101000000000", "userList": []});
        assert!(parse_json("authSync", body(json!(3))).is_ok());
        assert!(parse_json("authSync", body(json!("2"))).is_ok());
        assert!(parse_json("authSync", body(json!(7))).is_err());
        let tenant = json!({"tenantId": "t", "flag": 3});
        assert!(parse_json("tenantSync", tenant).is_err());
    }

    #[test]
    fn more_than_500_users_are_refused() {
        let users: Vec<Value> =
            (0..501).map(|i| json!({"userName": format!("u{i}"), "name": "n"})).collect();
        let body = json!({"tenantId": "t", "appId": "a", "flag": 1, "currentSyncTime": "20240101000000000", "userList": users});
        assert!(parse_json("authSync", body).is_err());
    }
}
