//! `call(method, params)`: Gigya-style parameters in, the envelope out. All parameter
//! parsing and validation of the generic form lives here, once, for every binding.

use base64::engine::{general_purpose::GeneralPurpose, DecodePaddingMode, GeneralPurposeConfig};
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::{too_many_bytes, Client, Identity, Policies};
use crate::envelope::{format_time, new_call_id, Params, Response};
use crate::error::{Error, ErrorKind, Result};

/// Standard alphabet; padding optional (callers differ).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The methods, by their lower-cased Gigya names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    ImportProfilePhoto,
    SetProfilePhoto,
    PublishProfilePhoto,
    RemoveProfilePhoto,
    GetAccountInfo,
    InitRegistration,
    FinalizeRegistration,
    GetPolicies,
    SetPolicies,
}

fn method(name: &str) -> Option<Method> {
    let lower = name.to_ascii_lowercase();
    let short = lower.strip_prefix("accounts.").unwrap_or(&lower);
    Some(match short {
        "importprofilephoto" => Method::ImportProfilePhoto,
        "setprofilephoto" | "uploadprofilephoto" => Method::SetProfilePhoto,
        "publishprofilephoto" => Method::PublishProfilePhoto,
        "removeprofilephoto" => Method::RemoveProfilePhoto,
        "getaccountinfo" => Method::GetAccountInfo,
        "initregistration" => Method::InitRegistration,
        "finalizeregistration" => Method::FinalizeRegistration,
        "getpolicies" => Method::GetPolicies,
        "setpolicies" => Method::SetPolicies,
        _ => return None,
    })
}

pub(super) async fn call(client: &Client, method_name: &str, params: &Value) -> Response {
    let empty = Map::new();
    let (map, params_ok) = match params {
        Value::Object(m) => (m, true),
        Value::Null => (&empty, true),
        _ => (&empty, false),
    };
    let context = map.get("context").filter(|v| !v.is_null()).cloned();
    let result = if params_ok {
        run(client, method_name, &Params::new(map)).await
    } else {
        Err(Error::invalid("params", "expected a JSON object"))
    };
    envelope(client, method_name, context, result)
}

/// The operator's purge, in an envelope of the same shape as the API methods.
pub(super) async fn purge(client: &Client) -> Response {
    let result = client.purge().await.map(|r| to_map(json!(r)));
    envelope(client, "purge", None, result)
}

fn envelope(
    client: &Client,
    method_name: &str,
    context: Option<Value>,
    result: Result<Map<String, Value>>,
) -> Response {
    let mut response = Response::new(new_call_id(), format_time(client.now_ms()), context);
    match result {
        Ok(fields) => response.extend(fields),
        Err(err) => {
            if err.kind() == ErrorKind::Internal {
                tracing::error!(method = method_name, call_id = response.call_id(), error = ?err, "internal error");
            } else {
                tracing::debug!(
                    method = method_name,
                    code = err.error_code(),
                    details = err.details(),
                    "call refused"
                );
            }
            response.set_error(&err);
        }
    }
    response
}

async fn run(client: &Client, method_name: &str, p: &Params<'_>) -> Result<Map<String, Value>> {
    let m = method(method_name)
        .ok_or_else(|| Error::invalid("method", format!("unknown method {method_name:?}")))?;
    let fields = match m {
        Method::ImportProfilePhoto => {
            let who = identity(p)?;
            let url = p.required_string(&["url", "URL"])?;
            let publish = p.bool("publish", false)?;
            import_fields(client.import_profile_photo(&who, &url, publish).await?)
        }
        Method::SetProfilePhoto => {
            let who = identity(p)?;
            let encoded = p.required_string(&["photoBytes"])?;
            let publish = p.bool("publish", false)?;
            let bytes = decode_photo_bytes(&encoded, client.inner.limits.max_bytes)?;
            import_fields(client.set_profile_photo(&who, bytes, publish).await?)
        }
        Method::PublishProfilePhoto => {
            let who = identity(p)?;
            let urls = client.publish_profile_photo(&who).await?;
            let mut m =
                to_map(json!({ "photoURL": urls.photo_url, "thumbnailURL": urls.thumbnail_url }));
            if let Identity::Uid(uid) = &who {
                m.insert("UID".into(), Value::from(uid.as_str()));
            }
            m
        }
        Method::RemoveProfilePhoto => {
            let who = identity(p)?;
            let uid = client.remove_profile_photo(&who).await?;
            to_map(json!({ "UID": uid }))
        }
        Method::GetAccountInfo => {
            let who = identity(p)?;
            account_fields(client.get_account_info(&who).await?)
        }
        Method::InitRegistration => {
            let reg = client.init_registration().await?;
            to_map(json!({ "regToken": reg.reg_token }))
        }
        Method::FinalizeRegistration => {
            let token = p.required_string(&["regToken"])?;
            account_fields(client.finalize_registration(&token).await?)
        }
        Method::GetPolicies => policy_fields(client.policies().await?),
        Method::SetPolicies => {
            let policies = policies_param(p, client.policies().await?)?;
            policy_fields(client.set_policies(policies).await?)
        }
    };
    Ok(fields)
}

/// Exactly one of `UID` and `regToken`.
fn identity(p: &Params<'_>) -> Result<Identity> {
    let uid = p.string(&["UID"])?;
    let token = p.string(&["regToken"])?;
    match (uid, token) {
        (Some(_), Some(_)) => Err(Error::invalid(
            "UID",
            "pass either UID or regToken, not both",
        )),
        (Some(uid), None) => Ok(Identity::Uid(uid)),
        (None, Some(token)) => Ok(Identity::RegToken(token)),
        (None, None) => Err(Error::new(
            ErrorKind::MissingParameter,
            "Missing parameter: UID or regToken",
        )),
    }
}

/// Base64 of the file; whitespace (line breaks of MIME encoders) ignored. The length is
/// checked before decoding so an oversized upload costs no allocation.
fn decode_photo_bytes(encoded: &str, max_bytes: u64) -> Result<Bytes> {
    let compact: String;
    let text = if encoded.bytes().any(|b| b.is_ascii_whitespace()) {
        compact = encoded
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        &compact
    } else {
        encoded
    };
    let decoded_len = (text.len() as u64).saturating_mul(3) / 4;
    if decoded_len > max_bytes.saturating_add(2) {
        return Err(too_many_bytes(decoded_len, max_bytes));
    }
    let bytes = BASE64
        .decode(text)
        .map_err(|e| Error::invalid("photoBytes", format!("not valid base64 ({e})")))?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_many_bytes(bytes.len() as u64, max_bytes));
    }
    Ok(Bytes::from(bytes))
}

/// `profilePhoto` as an object or a JSON string (REST callers send strings); missing
/// fields keep their current values.
fn policies_param(p: &Params<'_>, current: Policies) -> Result<Policies> {
    let raw = p
        .value("profilePhoto")
        .ok_or_else(|| Error::missing("profilePhoto"))?;
    let parsed;
    let obj = match raw {
        Value::Object(o) => o,
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s)
                .map_err(|_| Error::invalid("profilePhoto", "not a JSON object"))?;
            parsed
                .as_object()
                .ok_or_else(|| Error::invalid("profilePhoto", "not a JSON object"))?
        }
        _ => return Err(Error::invalid("profilePhoto", "not a JSON object")),
    };
    let dim = |name: &str, current: u32| -> Result<u32> {
        match obj.get(name) {
            None | Some(Value::Null) => Ok(current),
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    Error::invalid(
                        &format!("profilePhoto.{name}"),
                        "expected a positive integer",
                    )
                }),
        }
    };
    Ok(Policies {
        thumbnail_width: dim("thumbnailWidth", current.thumbnail_width)?,
        thumbnail_height: dim("thumbnailHeight", current.thumbnail_height)?,
    })
}

fn import_fields(result: super::ImportResult) -> Map<String, Value> {
    let mut m = to_map(json!({ "UID": result.uid }));
    if let Some(urls) = result.published {
        m.insert("photoURL".into(), Value::from(urls.photo_url));
        m.insert("thumbnailURL".into(), Value::from(urls.thumbnail_url));
    }
    m
}

fn account_fields(info: super::AccountInfo) -> Map<String, Value> {
    let profile = match info.photo {
        Some(urls) => json!({ "photoURL": urls.photo_url, "thumbnailURL": urls.thumbnail_url }),
        None => json!({}),
    };
    to_map(json!({ "UID": info.uid, "isRegistered": info.is_registered, "profile": profile }))
}

fn policy_fields(p: Policies) -> Map<String, Value> {
    to_map(json!({ "profilePhoto": {
        "thumbnailWidth": p.thumbnail_width,
        "thumbnailHeight": p.thumbnail_height,
    }}))
}

fn to_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names() {
        assert_eq!(
            method("accounts.importProfilePhoto"),
            Some(Method::ImportProfilePhoto)
        );
        assert_eq!(
            method("accounts.uploadProfilePhoto"),
            Some(Method::SetProfilePhoto)
        );
        assert_eq!(method("ACCOUNTS.GETPOLICIES"), Some(Method::GetPolicies));
        assert_eq!(method("accounts.deleteAccount"), None);
    }

    #[test]
    fn base64_rules() {
        assert_eq!(&decode_photo_bytes("aGk=", 10).unwrap()[..], b"hi");
        assert_eq!(&decode_photo_bytes("aG\nk", 10).unwrap()[..], b"hi");
        assert_eq!(
            decode_photo_bytes("a$b=", 10).unwrap_err().kind(),
            ErrorKind::InvalidParameter
        );
        assert_eq!(
            decode_photo_bytes(&"A".repeat(400), 10).unwrap_err().kind(),
            ErrorKind::PhotoTooLarge
        );
    }
}
