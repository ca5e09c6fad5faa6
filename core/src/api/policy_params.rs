//! `profilePhoto` of `accounts.setPolicies`, from Gigya-style parameters: the one reading
//! of its fields (their values' own rules are the pipeline types').

use serde_json::{Map, Value};

use super::params::Params;
use super::types::PolicyChange;
use crate::error::{Error, Result};
use crate::pipeline::{ThumbnailCrop, ThumbnailScales};

/// `profilePhoto` as an object or a JSON string (REST callers send strings); a field left
/// out (or null) keeps its current value.
pub(super) fn policy_change(p: &Params<'_>) -> Result<PolicyChange> {
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
    Ok(PolicyChange {
        thumbnail_width: side(obj, "thumbnailWidth")?,
        thumbnail_height: side(obj, "thumbnailHeight")?,
        thumbnail_crop: field(obj, "thumbnailCrop")
            .map(|v| match v {
                Value::String(name) => ThumbnailCrop::from_name(name),
                _ => Err(Error::invalid(
                    "profilePhoto.thumbnailCrop",
                    "expected \"center\" or \"attention\"",
                )),
            })
            .transpose()?,
        thumbnail_scales: field(obj, "thumbnailScales").map(scales).transpose()?,
    })
}

fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).filter(|v| !v.is_null())
}

/// A side: a positive integer, or its decimal text.
fn side(obj: &Map<String, Value>, name: &str) -> Result<Option<u32>> {
    field(obj, name)
        .map(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    Error::invalid(
                        &format!("profilePhoto.{name}"),
                        "expected a positive integer",
                    )
                })
        })
        .transpose()
}

/// A JSON list of integers (`[1, 2]`); its values are [`ThumbnailScales::from_list`]'s.
fn scales(v: &Value) -> Result<ThumbnailScales> {
    let bad = || {
        Error::invalid(
            "profilePhoto.thumbnailScales",
            "expected a list of integers such as [1, 2]",
        )
    };
    let values = v
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|x| x.as_i64().ok_or_else(bad))
        .collect::<Result<Vec<i64>>>()?;
    ThumbnailScales::from_list(&values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use serde_json::json;

    fn change(params: Value) -> Result<PolicyChange> {
        let map = params.as_object().cloned().unwrap_or_default();
        policy_change(&Params::new(&map))
    }

    #[test]
    fn policies_as_object_or_text() {
        let want = PolicyChange {
            thumbnail_width: Some(100),
            ..PolicyChange::default()
        };
        let obj = json!({"profilePhoto": {"thumbnailWidth": 100}});
        let text = json!({"profilePhoto": "{\"thumbnailWidth\": \"100\"}"});
        assert_eq!(change(obj).unwrap(), want);
        assert_eq!(change(text).unwrap(), want);
        for bad in [
            json!({"profilePhoto": 5}),
            json!({"profilePhoto": {"thumbnailWidth": -1}}),
        ] {
            assert_eq!(change(bad).unwrap_err().kind(), ErrorKind::InvalidParameter);
        }
        assert_eq!(
            change(json!({})).unwrap_err().kind(),
            ErrorKind::MissingParameter
        );
    }

    #[test]
    fn crop_and_scales() {
        let c = change(
            json!({"profilePhoto": "{\"thumbnailCrop\":\"attention\",\"thumbnailScales\":[3,1]}"}),
        )
        .unwrap();
        assert_eq!(c.thumbnail_crop, Some(ThumbnailCrop::Attention));
        assert_eq!(
            c.thumbnail_scales.map(ThumbnailScales::to_vec),
            Some(vec![1, 3])
        );
        assert_eq!(c.thumbnail_width, None);
        let c = change(json!({"profilePhoto": {"thumbnailCrop": null, "thumbnailScales": null}}))
            .unwrap();
        assert_eq!(c, PolicyChange::default());
        for (bad, names) in [
            (json!({"thumbnailCrop": "centre"}), "thumbnailCrop"),
            (json!({"thumbnailCrop": "Center"}), "thumbnailCrop"),
            (json!({"thumbnailCrop": 1}), "thumbnailCrop"),
            (json!({"thumbnailScales": [1, 1]}), "thumbnailScales"),
            (json!({"thumbnailScales": [1, 5]}), "thumbnailScales"),
            (json!({"thumbnailScales": [0, 1]}), "thumbnailScales"),
            (json!({"thumbnailScales": [-1, 1]}), "thumbnailScales"),
            (json!({"thumbnailScales": [2]}), "thumbnailScales"),
            (json!({"thumbnailScales": []}), "thumbnailScales"),
            (json!({"thumbnailScales": [1, 2.5]}), "thumbnailScales"),
            (json!({"thumbnailScales": [1, "2"]}), "thumbnailScales"),
            (json!({"thumbnailScales": 2}), "thumbnailScales"),
            (json!({"thumbnailScales": "1,2"}), "thumbnailScales"),
        ] {
            let e = change(json!({ "profilePhoto": bad })).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidParameter, "{bad}");
            assert!(
                e.details().contains(&format!("profilePhoto.{names}")),
                "{bad}: {e}"
            );
        }
    }
}
