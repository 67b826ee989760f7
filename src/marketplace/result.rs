//! Result codes and the answer every marketplace call gets (spec §1–2):
//! JSON serialised once; `inbound::http::signed_response` sends those bytes
//! with their `Body-Sign` (§3.4).

use serde::Serialize;

/// The marketplace's result codes (spec §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultCode {
    Success,
    AuthFailed,
    InvalidParameter,
    InstanceNotFound,
    InProgress,
    InternalError,
    NoResource,
    AppSecretProblem,
}

impl ResultCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ResultCode::Success => "000000",
            ResultCode::AuthFailed => "000001",
            ResultCode::InvalidParameter => "000002",
            ResultCode::InstanceNotFound => "000003",
            ResultCode::InProgress => "000004",
            ResultCode::InternalError => "000005",
            ResultCode::NoResource => "000100",
            ResultCode::AppSecretProblem => "000101",
        }
    }
}

/// The body of an answer: `resultCode`, `resultMsg`, then per-call fields.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    pub result_code: &'static str,
    pub result_msg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypt_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_info: Option<AppInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<Vec<InstanceInfo>>,
}

/// `appInfo` of newInstance and queryInstance answers.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub front_end_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memo: Option<String>,
}

/// One entry of a queryInstance answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceInfo {
    pub instance_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypt_type: Option<String>,
    pub app_info: AppInfo,
}

impl Answer {
    pub fn success() -> Answer {
        Answer::with_code(ResultCode::Success, "success.")
    }

    pub fn with_code(code: ResultCode, message: impl Into<String>) -> Answer {
        Answer {
            result_code: code.as_str(),
            result_msg: message.into(),
            instance_id: None,
            encrypt_type: None,
            app_info: None,
            info: None,
        }
    }

    /// The bytes that go on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain strings and options cannot fail.
        serde_json::to_vec(self).unwrap_or_else(|_| {
            br#"{"resultCode":"000005","resultMsg":"internal error, please retry"}"#.to_vec()
        })
    }

    /// The answer as the event log keeps it: credentials masked.
    pub fn redacted(&self) -> String {
        let mut copy = self.clone();
        if let Some(app) = copy.app_info.as_mut() {
            app.mask();
        }
        if let Some(info) = copy.info.as_mut() {
            info.iter_mut().for_each(|i| i.app_info.mask());
        }
        String::from_utf8_lossy(&copy.to_bytes()).into_owned()
    }
}

impl AppInfo {
    fn mask(&mut self) {
        if self.user_name.is_some() {
            self.user_name = Some("***".to_string());
        }
        if self.password.is_some() {
            self.password = Some("***".to_string());
        }
    }
}
