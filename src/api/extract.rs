//! How the API reads a request so that every refusal names what is wrong: the `{id}` of a
//! route, and a JSON body read field by field, answering 415 for a wrong content type, 400 for
//! malformed JSON and 400 naming the field for a missing, invalid or unknown one.
//!
//! Refusals are [`AppError`]s like the rest of the site's; the error-page layer writes them as
//! `{"error": ..., "message": ...}` under `/api/`.

use std::fmt;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::{AppError, body_error};
use crate::models::forms::FieldErrors;

/// The `{id}` of a route, as a number. Anything else is a 400 that names it.
pub struct Id(pub i32);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let invalid =
            || AppError::BadRequest("Invalid `id` in the URL: it must be a whole number.".into());
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| invalid())?;
        raw.parse::<i32>().map(Id).map_err(|_| invalid())
    }
}

/// A request body to be read as a JSON object, once the handler has checked who may send it:
/// a request that is refused anyway (401, 403, 404) is refused for that reason, not for its
/// body.
pub struct JsonBody {
    headers: HeaderMap,
    body: Body,
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        Ok(JsonBody {
            headers: parts.headers,
            body,
        })
    }
}

/// `application/json`, or any `application/*+json`, with or without parameters.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let media = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

impl JsonBody {
    /// The body's fields: 415 unless it is declared JSON, 413 if it is over the size limit,
    /// 400 unless it is a well-formed JSON object.
    pub async fn fields(self) -> Result<Fields, AppError> {
        if !is_json(&self.headers) {
            return Err(AppError::UnsupportedMediaType(
                "Send the body as JSON, with `Content-Type: application/json`.".into(),
            ));
        }
        let bytes = axum::body::to_bytes(self.body, usize::MAX)
            .await
            .map_err(|e| body_error(&e))?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| AppError::BadRequest(format!("The body is not valid JSON: {e}.")))?;
        if !value.is_object() {
            return Err(AppError::BadRequest(
                "The body must be a JSON object.".into(),
            ));
        }
        // Read again, key by key: serde_json would silently keep the last of two equal keys.
        let UniqueKeys(map) = serde_json::from_slice(&bytes)
            .map_err(|e| AppError::BadRequest(format!("Invalid body: {e}.")))?;
        Ok(Fields {
            map,
            errors: FieldErrors::new(),
        })
    }
}

/// A JSON object whose keys are all different; a repeated one is an error naming it.
struct UniqueKeys(Map<String, Value>);

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Keys;

        impl<'de> Visitor<'de> for Keys {
            type Value = UniqueKeys;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<UniqueKeys, A::Error> {
                let mut map = Map::new();
                while let Some(key) = access.next_key::<String>()? {
                    if map.contains_key(&key) {
                        let key: String = key.chars().take(64).collect();
                        return Err(de::Error::custom(format_args!(
                            "the field `{key}` is given twice"
                        )));
                    }
                    let value = access.next_value()?;
                    map.insert(key, value);
                }
                Ok(UniqueKeys(map))
            }
        }

        deserializer.deserialize_map(Keys)
    }
}

/// The fields of a JSON object being read, and what was wrong with them so far. A field the
/// operation does not take is refused (SPEC §5).
pub struct Fields {
    map: Map<String, Value>,
    pub errors: FieldErrors,
}

impl Fields {
    fn take(&mut self, name: &'static str, required: bool) -> Option<Value> {
        match self.map.remove(name) {
            Some(value) => Some(value),
            None => {
                if required {
                    self.errors.insert(name, "This field is required.".into());
                }
                None
            }
        }
    }

    /// A string field; `None` if it is absent (an error if `required`) or not a string.
    pub fn string(&mut self, name: &'static str, required: bool) -> Option<String> {
        match self.take(name, required)? {
            Value::String(s) => Some(s),
            other => {
                self.errors
                    .insert(name, format!("It must be a string, not {}.", kind(&other)));
                None
            }
        }
    }

    /// An array of strings; `None` if it is absent (an error if `required`) or anything else.
    pub fn strings(&mut self, name: &'static str, required: bool) -> Option<Vec<String>> {
        let value = self.take(name, required)?;
        let strings = match &value {
            Value::Array(items) => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>(),
            _ => None,
        };
        if strings.is_none() {
            let problem = match value {
                Value::Array(_) => "It must be an array of strings.".to_owned(),
                other => format!("It must be an array of strings, not {}.", kind(&other)),
            };
            self.errors.insert(name, problem);
        }
        strings
    }

    /// A whole-number field (`2` or `2.0`); `None` if it is absent or anything else.
    pub fn integer(&mut self, name: &'static str, required: bool) -> Option<i64> {
        let value = self.take(name, required)?;
        let number = whole_number(&value);
        if number.is_none() {
            let problem = match value {
                Value::Number(_) => "It must be a whole number.".to_owned(),
                other => format!("It must be a whole number, not {}.", kind(&other)),
            };
            self.errors.insert(name, problem);
        }
        number
    }

    /// An array of whole numbers (ids); `None` if it is absent (an error if `required`) or
    /// anything else.
    pub fn integers(&mut self, name: &'static str, required: bool) -> Option<Vec<i64>> {
        let value = self.take(name, required)?;
        let numbers = match &value {
            Value::Array(items) => items.iter().map(whole_number).collect::<Option<Vec<_>>>(),
            _ => None,
        };
        if numbers.is_none() {
            let problem = match value {
                Value::Array(_) => "It must be an array of whole numbers.".to_owned(),
                other => format!(
                    "It must be an array of whole numbers, not {}.",
                    kind(&other)
                ),
            };
            self.errors.insert(name, problem);
        }
        numbers
    }

    /// A boolean field; `None` if it is absent (an error if `required`) or anything else.
    pub fn boolean(&mut self, name: &'static str, required: bool) -> Option<bool> {
        match self.take(name, required)? {
            Value::Bool(b) => Some(b),
            other => {
                self.errors.insert(
                    name,
                    format!("It must be true or false, not {}.", kind(&other)),
                );
                None
            }
        }
    }

    /// 400 naming a field the operation does not take (call it once every known field has
    /// been read): a misspelt field must not be silently ignored.
    pub fn reject_unknown(&self) -> Result<(), AppError> {
        match self.map.keys().next() {
            Some(name) => Err(AppError::BadRequest(format!(
                "Unknown field `{}`: this operation does not take it.",
                name.chars().take(64).collect::<String>()
            ))),
            None => Ok(()),
        }
    }

    /// 400 naming the fields at fault, if any, or an unknown field.
    pub fn check(&self) -> Result<(), AppError> {
        self.reject_unknown()?;
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::Invalid(self.errors.clone()))
        }
    }
}

/// `2`, or `2.0` as JSON Schema counts it an integer too.
fn whole_number(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                .map(|f| f as i64)
        }),
        _ => None,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
