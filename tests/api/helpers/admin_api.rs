//! What the admin API shows about tenants and instances.

use serde_json::{json, Value};

use super::app::{TestApp, ADMIN_TOKEN};
use super::enterprise::Department;

impl TestApp {
    /// The tenant as the admin API shows it (lists sorted); asserts it exists.
    pub async fn tenant(&self, tenant_id: &str) -> Value {
        let (status, body) = self.admin_get(&format!("/admin/api/tenants/{tenant_id}")).await;
        assert_eq!(status, 200, "tenant {tenant_id}: {body}");
        sorted_tenant(body)
    }

    /// The tenant's live departments, sorted by orgCode.
    pub async fn departments(&self, tenant_id: &str) -> Vec<Department> {
        let (status, body) =
            self.admin_get(&format!("/admin/api/tenants/{tenant_id}/departments")).await;
        assert_eq!(status, 200, "departments of {tenant_id}: {body}");
        let mut list: Vec<Department> = body
            .as_array()
            .expect("a list of departments")
            .iter()
            .map(|d| Department {
                code: d["orgCode"].as_str().expect("orgCode").to_string(),
                name: d["orgName"].as_str().expect("orgName").to_string(),
                // Top level is null or "" (either is allowed).
                parent: d["parentCode"].as_str().filter(|p| !p.is_empty()).map(str::to_string),
            })
            .collect();
        list.sort();
        list
    }

    /// The tenant's users, sorted by userName.
    pub async fn users(&self, tenant_id: &str) -> Vec<Value> {
        let (status, body) = self.admin_get(&format!("/admin/api/tenants/{tenant_id}/users")).await;
        assert_eq!(status, 200, "users of {tenant_id}: {body}");
        let list = sorted_by(body, "userName");
        list.as_array().expect("a list of users").clone()
    }

    /// One user of the tenant, if listed.
    pub async fn user(&self, tenant_id: &str, user_name: &str) -> Option<Value> {
        self.users(tenant_id).await.into_iter().find(|u| u["userName"] == user_name)
    }

    /// Everything the admin API says about a tenant (status and body of
    /// each endpoint, lists sorted), to prove a refused call changed nothing.
    pub async fn sync_footprint(&self, tenant_id: &str) -> Value {
        let mut all = serde_json::Map::new();
        for (name, suffix) in [("tenant", ""), ("departments", "/departments"), ("users", "/users")]
        {
            let (status, body) =
                self.admin_get(&format!("/admin/api/tenants/{tenant_id}{suffix}")).await;
            let body = match name {
                "tenant" => sorted_tenant(body),
                "departments" => sorted_by(body, "orgCode"),
                _ => sorted_by(body, "userName"),
            };
            all.insert(name.to_string(), json!({"status": status, "body": body}));
        }
        Value::Object(all)
    }

    /// Asserts none of `needles` shows in the tenant's admin answers, the
    /// admin event list, or any stored event (request and response).
    pub async fn assert_never_shown(&self, tenant_id: &str, needles: &[&str]) {
        let (_, events) = self.admin_get("/admin/api/events?limit=1000").await;
        let answers = format!("{}\n{events}", self.sync_footprint(tenant_id).await);
        let stored: String = self
            .events()
            .await
            .iter()
            .map(|e| format!("{}\n{}\n", e.request, e.response))
            .collect();
        for needle in needles {
            assert!(!answers.contains(needle), "{needle} shows in an admin answer:\n{answers}");
            assert!(!stored.contains(needle), "{needle} is in the event log:\n{stored}");
        }
    }

    /// `GET` an admin API path with the admin token.
    pub async fn admin_get(&self, path: &str) -> (u16, Value) {
        self.admin_call(reqwest::Method::GET, path).await
    }

    /// `POST` (no body) to an admin API path with the admin token.
    pub async fn admin_post(&self, path: &str) -> (u16, Value) {
        self.admin_call(reqwest::Method::POST, path).await
    }

    async fn admin_call(&self, method: reqwest::Method, path: &str) -> (u16, Value) {
        let response = self
            .http
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `PUT /admin/api/tenants/{tenantId}/sign-in` with `body` (any bytes).
    pub async fn put_sign_in(&self, tenant_id: &str, body: &str) -> (u16, Value) {
        let response = self
            .http
            .put(format!("{}/admin/api/tenants/{tenant_id}/sign-in", self.address))
            .bearer_auth(ADMIN_TOKEN)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Sets the tenant's sign-in; asserts it was taken.
    pub async fn set_sign_in(&self, tenant_id: &str, dialect: &str, base_url: Option<&str>) {
        let body = json!({"dialect": dialect, "baseUrl": base_url}).to_string();
        let (status, answer) = self.put_sign_in(tenant_id, &body).await;
        assert_eq!(status, 200, "sign-in of {tenant_id} not set: {answer}");
    }

    /// The sign-in attempts the admin API lists for `query` (asserts 200).
    pub async fn sign_ins(&self, query: &str) -> Vec<Value> {
        let (status, body) = self.admin_get(&format!("/admin/api/sign-ins?{query}")).await;
        assert_eq!(status, 200, "sign-ins ?{query}: {body}");
        body.as_array().cloned().expect("a list")
    }

    /// The open sessions the admin API lists for `query` (asserts 200).
    pub async fn open_sessions(&self, query: &str) -> Vec<Value> {
        let (status, body) = self.admin_get(&format!("/admin/api/sessions?{query}")).await;
        assert_eq!(status, 200, "sessions ?{query}: {body}");
        body.as_array().cloned().expect("a list")
    }

    pub async fn instance(&self, instance_id: &str) -> Value {
        let (status, body) = self.admin_get(&format!("/admin/api/instances/{instance_id}")).await;
        assert_eq!(status, 200, "instance {instance_id}: {body}");
        body
    }
}

/// A JSON list sorted by one field of its items (order is unspecified).
pub fn sorted_by(mut list: Value, field: &str) -> Value {
    if let Some(items) = list.as_array_mut() {
        items.sort_by_key(|item| item[field].to_string());
    }
    list
}

/// A tenant answer with its lists sorted.
fn sorted_tenant(mut tenant: Value) -> Value {
    if let Some(ids) = tenant.get_mut("instanceIds").and_then(Value::as_array_mut) {
        ids.sort_by_key(Value::to_string);
    }
    if let Some(apps) = tenant.get_mut("apps") {
        *apps = sorted_by(apps.take(), "appId");
    }
    tenant
}
