//! `multipart/form-data` bodies, as a browser's `<form enctype="multipart/form-data">` or
//! `FormData` sends them: the file part `photo` goes to the core raw (no base64), every
//! other part is a parameter under the same caps as a form's (`form.rs`). It runs on a
//! body already read whole under the site's cap, and stops at the first refusal.

use bytes::Bytes;

use super::error::RestError;
use super::form::Pairs;
use avatarium::{Error, ErrorKind};

/// The part that carries the upload's file.
pub(crate) const PHOTO_PART: &str = "photo";

/// The boundary of a `multipart/form-data` content type, or `None` for any other type.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    multer::parse_boundary(content_type).ok()
}

/// Adds the text parts of `body` to `pairs` and returns the `photo` part's bytes, if any.
pub(crate) async fn parse(
    body: Bytes,
    boundary: &str,
    pairs: &mut Pairs,
) -> Result<Option<Bytes>, RestError> {
    let stream = futures::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
    let mut parts = multer::Multipart::new(stream, boundary);
    let mut photo = None;
    while let Some(field) = parts.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or("").to_string();
        let data = field.bytes().await.map_err(malformed)?;
        if name == PHOTO_PART {
            if photo.replace(data).is_some() {
                return Err(Error::invalid(PHOTO_PART, "given more than once").into());
            }
            continue;
        }
        let value = String::from_utf8(data.to_vec())
            .map_err(|_| Error::invalid(&name, "a text part is not UTF-8"))?;
        pairs.push(name, value)?;
    }
    Ok(photo)
}

fn malformed(e: multer::Error) -> RestError {
    RestError::kind(
        ErrorKind::InvalidParameter,
        format!("The multipart body is malformed: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[(&str, Option<&str>, &[u8])]) -> Bytes {
        let mut b = Vec::new();
        for (name, file, data) in parts {
            b.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"");
            b.extend_from_slice(name.as_bytes());
            b.extend_from_slice(b"\"");
            if let Some(f) = file {
                b.extend_from_slice(
                    format!("; filename=\"{f}\"\r\nContent-Type: image/png").as_bytes(),
                );
            }
            b.extend_from_slice(b"\r\n\r\n");
            b.extend_from_slice(data);
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(b"--XyZ--\r\n");
        Bytes::from(b)
    }

    #[tokio::test]
    async fn photo_raw_and_text_parts_as_pairs() {
        assert_eq!(
            boundary("multipart/form-data; boundary=XyZ").as_deref(),
            Some("XyZ")
        );
        assert_eq!(boundary("application/x-www-form-urlencoded"), None);
        let mut pairs = Pairs::default();
        let b = body(&[
            ("regToken", None, b"t0k"),
            ("photo", Some("me.png"), b"\x89PNG\r\n\x1a\n\0\xff"),
            ("publish", None, b"true"),
        ]);
        let photo = parse(b, "XyZ", &mut pairs).await.unwrap();
        assert_eq!(photo.as_deref(), Some(&b"\x89PNG\r\n\x1a\n\0\xff"[..]));
        assert_eq!(pairs.get("regToken"), Some("t0k"));
        assert_eq!(pairs.get("publish"), Some("true"));
    }

    #[tokio::test]
    async fn refusals_are_invalid_parameter() {
        let refused = |parts: &[(&str, Option<&str>, &[u8])]| {
            let b = body(parts);
            async move {
                let mut pairs = Pairs::default();
                parse(b, "XyZ", &mut pairs).await.unwrap_err().code
            }
        };
        let two = [
            ("photo", Some("a"), &b"1"[..]),
            ("photo", Some("b"), &b"2"[..]),
        ];
        assert_eq!(refused(&two).await, 400006);
        let same = [("UID", None, &b"1"[..]), ("UID", None, &b"2"[..])];
        assert_eq!(refused(&same).await, 400006);
        let bad_text = [("context", None, &b"\xff\xfe"[..])];
        assert_eq!(refused(&bad_text).await, 400006);
        let many: Vec<(String, Option<&str>, &[u8])> = (0..300)
            .map(|i| (format!("n{i}"), None, &b"v"[..]))
            .collect();
        let many: Vec<(&str, Option<&str>, &[u8])> =
            many.iter().map(|(n, f, d)| (n.as_str(), *f, *d)).collect();
        assert_eq!(refused(&many).await, 400006);
        let mut pairs = Pairs::default();
        let cut = Bytes::from_static(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end",
        );
        assert_eq!(
            parse(cut, "XyZ", &mut pairs).await.unwrap_err().code,
            400006
        );
    }
}
