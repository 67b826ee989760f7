//! The top-level fields of a marketplace call, validated one by one:
//! lenient about how a scalar is written (the marketplace's Java side reads
//! numbers and booleans as strings), strict about presence and length.

use serde_json::{Map, Value};

use crate::error::Error;
use crate::marketplace::timestamp::is_valid_expire_time;

/// Identifier fields are at most 64 characters (spec §2).
pub const ID_LEN: usize = 64;

/// The top-level fields of a call, whatever their transport.
pub struct Fields {
    map: Map<String, Value>,
}

impl From<Map<String, Value>> for Fields {
    fn from(map: Map<String, Value>) -> Self {
        Fields { map }
    }
}

impl Fields {
    /// A V2 body: a JSON object.
    pub fn from_json(body: &[u8]) -> Result<Fields, Error> {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Fields { map }),
            Ok(_) => Err(Error::invalid("the body is not a JSON object")),
            Err(_) => Err(Error::invalid("the body is not valid JSON")),
        }
    }

    /// V1 query parameters (first value of a name wins).
    pub fn from_params(params: &[(String, String)]) -> Fields {
        let mut map = Map::new();
        for (name, value) in params {
            map.entry(name.clone()).or_insert_with(|| Value::String(value.clone()));
        }
        Fields { map }
    }

    /// A scalar field as a string; numbers and booleans keep their JSON
    /// text (the marketplace's Java side reads every field as a string).
    pub fn optional(&self, name: &str, max_len: usize) -> Result<Option<String>, Error> {
        let text = match self.map.get(name) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(_) => return Err(Error::invalid(format!("{name} must be a string"))),
        };
        if text.is_empty() {
            return Ok(None);
        }
        if text.chars().count() > max_len {
            return Err(Error::invalid(format!("{name} is longer than {max_len} characters")));
        }
        Ok(Some(text))
    }

    pub fn required(&self, name: &str, max_len: usize) -> Result<String, Error> {
        self.optional(name, max_len)?.ok_or_else(|| Error::invalid(format!("{name} is missing")))
    }

    pub fn id(&self, name: &str) -> Result<String, Error> {
        self.required(name, ID_LEN)
    }

    pub fn optional_id(&self, name: &str) -> Result<Option<String>, Error> {
        self.optional(name, ID_LEN)
    }

    pub fn activity(&self) -> Result<String, Error> {
        self.required("activity", 32)
    }

    /// `testFlag`: "1" debug call, "0" or absent real.
    pub fn test_flag(&self) -> Result<bool, Error> {
        flag(self.optional("testFlag", 2)?.as_deref(), "testFlag")
    }

    pub fn expire_time(&self, name: &str, required: bool) -> Result<Option<String>, Error> {
        let value = self.optional(name, 20)?;
        match value {
            None if required => Err(Error::invalid(format!("{name} is missing"))),
            None => Ok(None),
            Some(v) if is_valid_expire_time(&v) => Ok(Some(v)),
            Some(_) => Err(Error::invalid(format!("{name} is not yyyyMMddHHmmss"))),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name)
    }
}

/// A 0/1 flag (`testFlag`, `trialFlag`).
pub fn flag(value: Option<&str>, name: &str) -> Result<bool, Error> {
    match value {
        None | Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(_) => Err(Error::invalid(format!("{name} must be 0 or 1"))),
    }
}
