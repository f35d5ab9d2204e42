//! Query strings as Docker reads them: repeated keys, loose booleans, and the `filters` JSON.

use std::collections::BTreeMap;

use axum::extract::{FromRequestParts, RawQuery};
use http::request::Parts;

use super::ApiError;

/// The decoded query string of a request.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Params, ApiError> {
        let RawQuery(query) = RawQuery::from_request_parts(parts, state)
            .await
            .unwrap_or(RawQuery(None));
        let pairs = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
            .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))?;
        Ok(Params(pairs))
    }
}

impl Params {
    /// The first value of `key`, or "".
    pub fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of a repeated key (`names=a&names=b`).
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Docker's `BoolValue`: anything but "", "0", "no", "false" or "none" is true.
    pub fn bool(&self, key: &str) -> bool {
        let value = self.get(key).trim().to_lowercase();
        !matches!(value.as_str(), "" | "0" | "no" | "false" | "none")
    }

    /// Docker's `BoolValueOrDefault`: [`Params::bool`] when the key is given, else `default`.
    pub fn bool_or(&self, key: &str, default: bool) -> bool {
        if self.0.iter().any(|(k, _)| k == key) {
            self.bool(key)
        } else {
            default
        }
    }

    /// `filters={"dangling":["true"],"label":["a=b"]}` (or the older `{"label":{"a=b":true}}`).
    pub fn filters(&self) -> Result<Filters, ApiError> {
        Filters::parse(self.get("filters"))
    }
}

/// Docker's filter arguments: key → values.
#[derive(Debug, Default, Clone)]
pub struct Filters(BTreeMap<String, Vec<String>>);

impl Filters {
    pub fn parse(json: &str) -> Result<Filters, ApiError> {
        if json.trim().is_empty() {
            return Ok(Filters::default());
        }
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| ApiError::bad_request(format!("invalid filter: {e}")))?;
        let object = value
            .as_object()
            .ok_or_else(|| ApiError::bad_request("invalid filter: not an object"))?;
        let mut filters = BTreeMap::new();
        for (key, values) in object {
            let list: Vec<String> = match values {
                serde_json::Value::Array(items) => items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                serde_json::Value::Object(map) => map.keys().cloned().collect(),
                _ => return Err(ApiError::bad_request(format!("invalid filter '{key}'"))),
            };
            filters.insert(key.clone(), list);
        }
        Ok(Filters(filters))
    }

    pub fn values(&self, key: &str) -> &[String] {
        self.0.get(key).map_or(&[], Vec::as_slice)
    }

    /// Refuse keys a command does not know, as Docker does (`Invalid filter 'x'`).
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self.0.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(key) => Err(ApiError::bad_request(format!("Invalid filter '{key}'"))),
            None => Ok(()),
        }
    }

    /// The filters of a prune: refuses keys outside `allowed` (Docker's `Invalid filter 'x'`)
    /// and an `until` Docker can't read (a 500 with its message, as dockerd answers).
    pub fn prune(&self, allowed: &[&str]) -> Result<crate::prune::PruneFilter, ApiError> {
        self.only(allowed)?;
        let until = match self.values("until") {
            [] => None,
            [until] => {
                Some(crate::prune::parse_until(until, chrono::Utc::now()).map_err(ApiError::internal)?)
            }
            _ => return Err(ApiError::internal("more than one until filter specified")),
        };
        Ok(crate::prune::PruneFilter {
            until,
            labels: self.values("label").to_vec(),
            not_labels: self.values("label!").to_vec(),
        })
    }

    /// A boolean filter (`dangling=true`); refuses anything but true/false/1/0.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.values(key) {
            [] => Ok(None),
            values => {
                let mut result = None;
                for value in values {
                    let b = match value.to_lowercase().as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        // Docker prints the filter's values as a Go list.
                        _ => return Err(ApiError::bad_request(format!("Invalid filter '{key}=[{value}]'"))),
                    };
                    result = Some(result.unwrap_or(false) || b);
                }
                Ok(result)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_filter_forms_parse() {
        let f = Filters::parse(r#"{"dangling":["true"],"label":{"a=b":true}}"#).unwrap();
        assert_eq!(f.bool("dangling").unwrap(), Some(true));
        assert_eq!(f.values("label"), ["a=b"]);
        assert!(f.only(&["dangling", "label"]).is_ok());
        assert_eq!(
            f.only(&["label"]).unwrap_err().message,
            "Invalid filter 'dangling'"
        );
        assert_eq!(
            Filters::parse(r#"{"dangling":["maybe"]}"#)
                .unwrap()
                .bool("dangling")
                .unwrap_err()
                .message,
            "Invalid filter 'dangling=[maybe]'"
        );
    }
}

/// Property tests: any `filters` a client sends is answered (parsed or refused), never a panic.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::Filters;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_filters_text_is_answered(text in "\\PC{0,120}") {
            let _ = Filters::parse(&text);
        }

        #[test]
        fn json_shaped_filters_are_answered(
            key in "[a-z!]{0,10}",
            values in prop::collection::vec("\\PC{0,12}", 0..4),
            as_map in any::<bool>(),
        ) {
            let text = if as_map {
                let map: serde_json::Map<String, serde_json::Value> =
                    values.iter().map(|v| (v.clone(), serde_json::Value::Bool(true))).collect();
                serde_json::json!({ key: map }).to_string()
            } else {
                serde_json::json!({ key: values }).to_string()
            };
            let _ = Filters::parse(&text);
        }
    }
}
