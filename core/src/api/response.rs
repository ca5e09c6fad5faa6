//! A call's typed result, and its one rendering into Gigya's envelope.

use serde_json::{json, Map, Value};

use super::types::{
    AccountInfo, ImportResult, LoginSession, PhotoUrls, Policies, PurgeReport, Registration,
    Rendition,
};
use crate::envelope::Envelope;
use crate::error::{Error, ErrorKind};

/// What a successful call returns, by method.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// `importProfilePhoto`, `setProfilePhoto`.
    Imported(ImportResult),
    /// `publishProfilePhoto`. `uid` is echoed when the call named the account by UID.
    Published {
        uid: Option<String>,
        urls: PhotoUrls,
    },
    /// `removeProfilePhoto`.
    Removed { uid: String },
    /// `getAccountInfo`, `finalizeRegistration`.
    Account(AccountInfo),
    /// `initRegistration`.
    Registration(Registration),
    /// `getPolicies`, `setPolicies`.
    Policies(Policies),
    /// The operator's purge.
    Purged(PurgeReport),
    /// `notifyLogin`.
    Session(LoginSession),
    /// `logout`: whose session(s) ended.
    LoggedOut { uid: String },
}

impl Output {
    /// The method's own fields of the envelope (SPEC.md), the only place they are named.
    pub fn fields(&self) -> Map<String, Value> {
        let urls =
            |u: &PhotoUrls| json!({ "photoURL": u.photo_url, "thumbnailURL": u.thumbnail_url });
        // `profile.renditions` (ours): beside Gigya's fields, never instead of them; absent
        // for a photo published before renditions existed.
        let with_renditions = |mut profile: Map<String, Value>, u: &PhotoUrls| {
            if !u.renditions.is_empty() {
                let list = u.renditions.iter().map(Rendition::to_json).collect();
                profile.insert("renditions".into(), Value::Array(list));
            }
            profile
        };
        let v = match self {
            Output::Imported(r) => {
                let mut m = to_map(json!({ "UID": r.uid }));
                if let Some(u) = &r.published {
                    m.extend(to_map(urls(u)));
                    let profile = with_renditions(Map::new(), u);
                    if !profile.is_empty() {
                        m.insert("profile".into(), Value::Object(profile));
                    }
                }
                Value::Object(m)
            }
            Output::Published { uid, urls: u } => {
                let mut m = to_map(urls(u));
                if let Some(uid) = uid {
                    m.insert("UID".into(), Value::from(uid.as_str()));
                }
                let profile = with_renditions(Map::new(), u);
                if !profile.is_empty() {
                    m.insert("profile".into(), Value::Object(profile));
                }
                Value::Object(m)
            }
            Output::Removed { uid } => json!({ "UID": uid }),
            Output::Account(info) => {
                let profile = match &info.photo {
                    Some(u) => with_renditions(to_map(urls(u)), u),
                    None => Map::new(),
                };
                json!({ "UID": info.uid, "isRegistered": info.is_registered, "profile": profile })
            }
            Output::Registration(r) => json!({ "regToken": r.reg_token }),
            Output::Policies(p) => json!({ "profilePhoto": {
                "thumbnailWidth": p.thumbnail_width,
                "thumbnailHeight": p.thumbnail_height,
                "thumbnailCrop": p.thumbnail_crop.name(),
                "thumbnailScales": p.thumbnail_scales.to_vec(),
            }}),
            Output::Purged(r) => json!(r),
            Output::Session(s) => json!({
                "UID": s.uid,
                "sessionInfo": { "cookieName": s.cookie_name, "cookieValue": s.cookie_value },
            }),
            Output::LoggedOut { uid } => json!({ "UID": uid }),
        };
        to_map(v)
    }
}

fn to_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// One call's response: its id and time, the caller's `context`, and the typed result.
/// Faces with types render [`Response::result`]; faces that speak Gigya's wire format
/// render [`Response::envelope`].
#[derive(Debug)]
pub struct Response {
    call_id: String,
    time: String,
    context: Option<Value>,
    result: Result<Output, Error>,
}

impl Response {
    pub(crate) fn new(
        call_id: String,
        time: String,
        context: Option<Value>,
        result: Result<Output, Error>,
    ) -> Response {
        Response {
            call_id,
            time,
            context,
            result,
        }
    }

    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// Gigya's `time`: `2026-11-27T10:42:25.943Z`.
    pub fn time(&self) -> &str {
        &self.time
    }

    pub fn context(&self) -> Option<&Value> {
        self.context.as_ref()
    }

    pub fn result(&self) -> Result<&Output, &Error> {
        self.result.as_ref()
    }

    pub fn into_result(self) -> Result<Output, Error> {
        self.result
    }

    pub fn error(&self) -> Option<&Error> {
        self.result.as_ref().err()
    }

    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }

    /// Gigya's `errorCode`: 0 on success.
    pub fn error_code(&self) -> u32 {
        self.error().map_or(0, Error::error_code)
    }

    pub fn status_code(&self) -> u16 {
        self.error().map_or(200, Error::status_code)
    }

    pub fn error_kind(&self) -> Option<ErrorKind> {
        self.error().map(Error::kind)
    }

    /// The envelope of SPEC.md.
    pub fn envelope(&self) -> Envelope {
        let mut envelope = Envelope::new(
            self.call_id.clone(),
            self.time.clone(),
            self.context.clone(),
        );
        match &self.result {
            Ok(output) => envelope.extend(output.fields()),
            Err(err) => envelope.set_error(err),
        }
        envelope
    }

    /// The envelope as a JSON object.
    pub fn into_value(self) -> Value {
        self.envelope().into_value()
    }

    /// The envelope as one JSON line.
    pub fn to_json(&self) -> String {
        self.envelope().to_json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(result: Result<Output, Error>) -> Response {
        Response::new("c".into(), "t".into(), Some(Value::from("ctx")), result)
    }

    #[test]
    fn renders_gigya_fields() {
        let urls = PhotoUrls {
            photo_url: "p".into(),
            thumbnail_url: "t".into(),
            renditions: Vec::new(),
        };
        let published = response(Ok(Output::Published {
            uid: None,
            urls: urls.clone(),
        }));
        let e = published.envelope();
        assert_eq!(e.get("photoURL"), Some(&Value::from("p")));
        assert_eq!(e.get("UID"), None);
        assert_eq!(e.get("context"), Some(&Value::from("ctx")));
        assert_eq!(e.error_code(), 0);
        let imported = response(Ok(Output::Imported(ImportResult {
            uid: "u".into(),
            published: Some(urls),
        })));
        let e = imported.envelope();
        assert_eq!(e.get("UID"), Some(&Value::from("u")));
        assert_eq!(e.get("thumbnailURL"), Some(&Value::from("t")));
        // No renditions (a photo from before them): no `profile` either.
        assert_eq!(e.get("profile"), None);
    }

    #[test]
    fn renditions_go_in_profile_beside_gigyas_fields() {
        let rendition = |scale: u32| Rendition {
            kind: crate::store::RenditionKind::Thumbnail,
            format: crate::pipeline::OutputFormat::Jpeg,
            width: 64 * scale,
            height: 64 * scale,
            scale,
            url: format!("t{scale}"),
        };
        let urls = PhotoUrls {
            photo_url: "p".into(),
            thumbnail_url: "t1".into(),
            renditions: vec![rendition(1), rendition(2)],
        };
        let want = serde_json::json!([
            {"kind": "thumbnail", "format": "jpeg", "width": 64, "height": 64, "scale": 1, "url": "t1"},
            {"kind": "thumbnail", "format": "jpeg", "width": 128, "height": 128, "scale": 2, "url": "t2"},
        ]);
        let published = response(Ok(Output::Published {
            uid: None,
            urls: urls.clone(),
        }))
        .into_value();
        assert_eq!(published["profile"]["renditions"], want);
        assert_eq!(published["thumbnailURL"], "t1");
        assert_eq!(published["profile"].get("photoURL"), None);
        let account = response(Ok(Output::Account(AccountInfo {
            uid: "u".into(),
            is_registered: true,
            photo: Some(urls),
        })))
        .into_value();
        assert_eq!(account["profile"]["renditions"], want);
        assert_eq!(account["profile"]["photoURL"], "p");
        assert_eq!(serde_json::to_value(rendition(2)).unwrap(), want[1]);
    }

    #[test]
    fn errors_render_their_kind() {
        let r = response(Err(Error::missing("UID")));
        assert_eq!(r.error_code(), 400002);
        assert_eq!(r.status_code(), 400);
        let e = r.envelope();
        assert_eq!(e.error_code(), 400002);
        assert_eq!(
            e.get("errorDetails"),
            Some(&Value::from("Missing parameter: UID"))
        );
        assert_eq!(e.call_id(), "c");
    }
}
