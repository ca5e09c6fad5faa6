//! One typed request per method, parsed from Gigya parameters in one place. Faces that
//! have typed arguments build a [`Request`] directly (photos as raw [`Bytes`]); the generic
//! `call` and REST parse Gigya's parameters with [`Request::parse`].

use base64::engine::{general_purpose::GeneralPurpose, DecodePaddingMode, GeneralPurposeConfig};
use base64::Engine;
use bytes::Bytes;
use serde_json::Value;

use super::method::{Method, PhotoInput};
use super::params::Params;
use super::policy_params::policy_change;
use super::types::{Identity, PolicyChange};
use crate::error::{Error, ErrorKind, Result};

/// Standard alphabet; padding optional (callers differ).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A call of one method with its typed parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    ImportProfilePhoto {
        who: Identity,
        url: String,
        publish: bool,
    },
    SetProfilePhoto {
        who: Identity,
        /// The file, as uploaded (base64 exists only on Gigya's wire).
        photo: Bytes,
        publish: bool,
    },
    PublishProfilePhoto {
        who: Identity,
    },
    RemoveProfilePhoto {
        who: Identity,
    },
    GetAccountInfo {
        who: Identity,
    },
    InitRegistration,
    FinalizeRegistration {
        reg_token: String,
    },
    GetPolicies,
    SetPolicies(PolicyChange),
    NotifyLogin {
        /// The site's own id of the user who logged in (`siteUID`).
        site_uid: String,
    },
    Logout {
        /// A session (ends it), or a UID (ends all of that user's sessions).
        who: Identity,
    },
}

impl Request {
    pub fn method(&self) -> Method {
        match self {
            Request::ImportProfilePhoto { .. } => Method::ImportProfilePhoto,
            Request::SetProfilePhoto { .. } => Method::SetProfilePhoto,
            Request::PublishProfilePhoto { .. } => Method::PublishProfilePhoto,
            Request::RemoveProfilePhoto { .. } => Method::RemoveProfilePhoto,
            Request::GetAccountInfo { .. } => Method::GetAccountInfo,
            Request::InitRegistration => Method::InitRegistration,
            Request::FinalizeRegistration { .. } => Method::FinalizeRegistration,
            Request::GetPolicies => Method::GetPolicies,
            Request::SetPolicies(_) => Method::SetPolicies,
            Request::NotifyLogin { .. } => Method::NotifyLogin,
            Request::Logout { .. } => Method::Logout,
        }
    }

    /// The account the request names, for methods that name one.
    pub fn identity(&self) -> Option<&Identity> {
        match self {
            Request::ImportProfilePhoto { who, .. }
            | Request::SetProfilePhoto { who, .. }
            | Request::PublishProfilePhoto { who }
            | Request::RemoveProfilePhoto { who }
            | Request::GetAccountInfo { who }
            | Request::Logout { who } => Some(who),
            _ => None,
        }
    }

    /// Parse Gigya-style parameters (a JSON object; `null` counts as `{}`) for `method`.
    /// `max_photo_bytes` bounds `photoBytes` before it is decoded, so an oversized upload
    /// costs no allocation.
    pub fn parse(method: Method, params: &Value, max_photo_bytes: u64) -> Result<Request> {
        Self::parse_with_photo(method, params, max_photo_bytes, None)
    }

    /// [`Request::parse`] for faces that carry the file beside the parameters (a Node
    /// `Buffer`, a multipart part): `photo`, when given, is the upload, and a `photoBytes`
    /// parameter beside it is refused.
    pub fn parse_with_photo(
        method: Method,
        params: &Value,
        max_photo_bytes: u64,
        photo: Option<Bytes>,
    ) -> Result<Request> {
        let empty = serde_json::Map::new();
        let map = match params {
            Value::Object(m) => m,
            Value::Null => &empty,
            _ => return Err(Error::invalid("params", "expected a JSON object")),
        };
        let p = Params::new(map);
        if photo.is_some() && method.photo() != Some(PhotoInput::Bytes) {
            return Err(Error::invalid("photo", format!("{method} takes no file")));
        }
        Ok(match method {
            Method::ImportProfilePhoto => Request::ImportProfilePhoto {
                who: identity(&p)?,
                url: p.required_string(&["url", "URL"])?,
                publish: p.bool("publish", false)?,
            },
            Method::SetProfilePhoto => {
                let who = identity(&p)?;
                let encoded = p.string(&["photoBytes"])?;
                let publish = p.bool("publish", false)?;
                let photo = match (photo, encoded) {
                    (Some(_), Some(_)) => {
                        return Err(Error::invalid(
                            "photoBytes",
                            "pass either the photo or photoBytes, not both",
                        ))
                    }
                    (Some(photo), None) => check_photo_len(photo, max_photo_bytes)?,
                    (None, Some(encoded)) => decode_photo_bytes(&encoded, max_photo_bytes)?,
                    (None, None) => return Err(Error::missing("photoBytes")),
                };
                Request::SetProfilePhoto {
                    who,
                    photo,
                    publish,
                }
            }
            Method::PublishProfilePhoto => Request::PublishProfilePhoto { who: identity(&p)? },
            Method::RemoveProfilePhoto => Request::RemoveProfilePhoto { who: identity(&p)? },
            Method::GetAccountInfo => Request::GetAccountInfo { who: identity(&p)? },
            Method::InitRegistration => Request::InitRegistration,
            Method::FinalizeRegistration => Request::FinalizeRegistration {
                reg_token: p.required_string(&["regToken"])?,
            },
            Method::GetPolicies => Request::GetPolicies,
            Method::SetPolicies => Request::SetPolicies(policy_change(&p)?),
            Method::NotifyLogin => Request::NotifyLogin {
                site_uid: p.required_string(&["siteUID"])?,
            },
            Method::Logout => Request::Logout { who: identity(&p)? },
        })
    }
}

/// The parameter a login session's token arrives in (the SDK sends the cookie's value).
pub const SESSION_PARAM: &str = "login_token";

/// Exactly one of `UID`, `regToken` and `login_token`.
fn identity(p: &Params<'_>) -> Result<Identity> {
    let uid = p.string(&["UID"])?;
    let reg_token = p.string(&["regToken"])?;
    match p.string(&[SESSION_PARAM])?.filter(|s| !s.is_empty()) {
        None => Identity::from_parts(uid, reg_token),
        Some(token) => {
            if uid.is_some_and(|s| !s.is_empty()) || reg_token.is_some_and(|s| !s.is_empty()) {
                return Err(Error::invalid(
                    SESSION_PARAM,
                    "pass one of UID, regToken and login_token",
                ));
            }
            Ok(Identity::Session(token))
        }
    }
}

impl Identity {
    /// The identity of a call given `UID` and/or `regToken` (absent or empty = not given):
    /// exactly one must be there. The one rule every face uses.
    pub fn from_parts(uid: Option<String>, reg_token: Option<String>) -> Result<Identity> {
        let uid = uid.filter(|s| !s.is_empty());
        let reg_token = reg_token.filter(|s| !s.is_empty());
        match (uid, reg_token) {
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
        return Err(Error::photo_too_large(decoded_len, max_bytes));
    }
    let bytes = BASE64
        .decode(text)
        .map_err(|e| Error::invalid("photoBytes", format!("not valid base64 ({e})")))?;
    check_photo_len(Bytes::from(bytes), max_bytes)
}

fn check_photo_len(photo: Bytes, max_bytes: u64) -> Result<Bytes> {
    if photo.len() as u64 > max_bytes {
        return Err(Error::photo_too_large(photo.len() as u64, max_bytes));
    }
    Ok(photo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(method: Method, params: Value) -> Result<Request> {
        Request::parse(method, &params, 1000)
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

    #[test]
    fn identity_rules() {
        let both = parse(Method::GetAccountInfo, json!({"UID": "u", "regToken": "t"}));
        assert_eq!(both.unwrap_err().kind(), ErrorKind::InvalidParameter);
        let none = parse(Method::GetAccountInfo, json!({"UID": ""}));
        assert_eq!(none.unwrap_err().kind(), ErrorKind::MissingParameter);
        assert_eq!(
            parse(Method::RemoveProfilePhoto, json!({"regToken": "t"})).unwrap(),
            Request::RemoveProfilePhoto {
                who: Identity::reg_token("t")
            }
        );
        assert_eq!(
            Identity::from_parts(Some("u".into()), Some(String::new())).unwrap(),
            Identity::uid("u")
        );
    }

    #[test]
    fn sessions_and_logins() {
        assert_eq!(
            parse(Method::GetAccountInfo, json!({"login_token": "s"})).unwrap(),
            Request::GetAccountInfo {
                who: Identity::session("s")
            }
        );
        for both in [
            json!({"login_token": "s", "UID": "u"}),
            json!({"login_token": "s", "regToken": "t"}),
        ] {
            let e = parse(Method::Logout, both).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidParameter);
        }
        assert_eq!(
            parse(Method::NotifyLogin, json!({"siteUID": "u1"})).unwrap(),
            Request::NotifyLogin {
                site_uid: "u1".into()
            }
        );
        assert_eq!(
            parse(Method::NotifyLogin, json!({})).unwrap_err().kind(),
            ErrorKind::MissingParameter
        );
    }

    #[test]
    fn photos_and_flags() {
        let r = parse(
            Method::SetProfilePhoto,
            json!({"UID": "u", "photoBytes": "aGk=", "publish": "true"}),
        )
        .unwrap();
        assert_eq!(
            r,
            Request::SetProfilePhoto {
                who: Identity::uid("u"),
                photo: Bytes::from_static(b"hi"),
                publish: true
            }
        );
        assert_eq!(r.method(), Method::SetProfilePhoto);
        let r = parse(
            Method::ImportProfilePhoto,
            json!({"UID": 7, "URL": "http://x/"}),
        )
        .unwrap();
        assert_eq!(
            r,
            Request::ImportProfilePhoto {
                who: Identity::uid("7"),
                url: "http://x/".into(),
                publish: false
            }
        );
        assert_eq!(
            parse(Method::ImportProfilePhoto, json!({"UID": "u"}))
                .unwrap_err()
                .kind(),
            ErrorKind::MissingParameter
        );
        assert_eq!(
            parse(Method::GetPolicies, json!([1])).unwrap_err().kind(),
            ErrorKind::InvalidParameter
        );
        assert_eq!(
            parse(Method::InitRegistration, Value::Null).unwrap(),
            Request::InitRegistration
        );
    }

    #[test]
    fn photo_beside_the_params() {
        let with = |params: Value, photo: &'static [u8]| {
            Request::parse_with_photo(
                Method::SetProfilePhoto,
                &params,
                3,
                Some(Bytes::from_static(photo)),
            )
        };
        assert!(matches!(
            with(json!({"UID": "u"}), b"abc").unwrap(),
            Request::SetProfilePhoto { photo, .. } if &photo[..] == b"abc"
        ));
        assert_eq!(
            with(json!({"UID": "u"}), b"abcd").unwrap_err().kind(),
            ErrorKind::PhotoTooLarge
        );
        assert_eq!(
            with(json!({"UID": "u", "photoBytes": "aGk="}), b"a")
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidParameter
        );
        // A file for a method that takes none is refused, not dropped.
        let e = Request::parse_with_photo(
            Method::GetAccountInfo,
            &json!({"UID": "u"}),
            3,
            Some(Bytes::from_static(b"a")),
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidParameter);
    }
}
