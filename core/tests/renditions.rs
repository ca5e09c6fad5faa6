//! Output policies end to end on the embedded default (real SQLite, real folder, a real
//! HTTP server on 127.0.0.1): `thumbnailCrop`, `thumbnailScales`, and the
//! `profile.renditions` that publishing answers.

mod support;

use std::sync::Arc;

use avatarium::clock::ManualClock;
use avatarium::{
    Client, ErrorKind, Identity, PhotoUrls, Policies, PolicyChange, RenditionKind, ThumbnailCrop,
    ThumbnailScales,
};
use serde_json::{json, Value};
use support::*;

async fn setup() -> (tempfile::TempDir, TestServer, Client) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::with_files(&repo_root().join("conformance/files")).await;
    let client = test_client(dir.path(), &server).await;
    (dir, server, client)
}

fn scales(list: &[i64]) -> ThumbnailScales {
    ThumbnailScales::from_list(list).unwrap()
}

fn change(crop: Option<ThumbnailCrop>, list: Option<&[i64]>) -> PolicyChange {
    PolicyChange {
        thumbnail_crop: crop,
        thumbnail_scales: list.map(scales),
        ..PolicyChange::default()
    }
}

/// `(kind, width, height, scale)` of each rendition, and that each URL holds a file of
/// exactly that size, in its format.
fn checked(urls: &PhotoUrls) -> Vec<(RenditionKind, u32, u32, u32)> {
    urls.renditions
        .iter()
        .map(|r| {
            assert!(
                r.url.ends_with(&format!(".{}", r.format.extension())),
                "{r:?}"
            );
            assert_eq!(dimensions(&blob_at(&r.url)), (r.width, r.height), "{r:?}");
            (r.kind, r.width, r.height, r.scale)
        })
        .collect()
}

#[tokio::test]
async fn policies_take_a_crop_and_scales_and_refuse_bad_ones() {
    let (_dir, _server, client) = setup().await;
    let default = client.policies().await.unwrap();
    assert_eq!(default.thumbnail_crop, ThumbnailCrop::Center);
    assert_eq!(default.thumbnail_scales.to_vec(), [1]);

    let set = client
        .set_policies(change(Some(ThumbnailCrop::Attention), Some(&[3, 1, 2])))
        .await
        .unwrap();
    let want = Policies {
        thumbnail_crop: ThumbnailCrop::Attention,
        thumbnail_scales: scales(&[1, 2, 3]),
        ..Policies::default()
    };
    assert_eq!(set, want);
    assert_eq!(client.policies().await.unwrap(), want);
    // A change of the size alone keeps the crop and the scales.
    let sized = client
        .set_policies(PolicyChange {
            thumbnail_width: Some(100),
            ..PolicyChange::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (sized.thumbnail_crop, sized.thumbnail_scales),
        (want.thumbnail_crop, want.thumbnail_scales)
    );

    // Through Gigya's parameters: each bad value is 400006 naming its field, and changes
    // nothing.
    for (bad, field) in [
        (json!({"thumbnailCrop": "centre"}), "thumbnailCrop"),
        (json!({"thumbnailScales": [1, 1]}), "thumbnailScales"),
        (json!({"thumbnailScales": [1, 5]}), "thumbnailScales"),
        (json!({"thumbnailScales": [2]}), "thumbnailScales"),
        (json!({"thumbnailScales": ["1"]}), "thumbnailScales"),
        // 400 px at 3x is 1200 px: past the thumbnail side limit (1024).
        (
            json!({"thumbnailWidth": 400, "thumbnailScales": [1, 3]}),
            "thumbnailScales",
        ),
        // The scales [1, 2, 3] in force are fine: the change that breaks them is blamed.
        (json!({"thumbnailWidth": 400}), "thumbnailWidth"),
        (json!({"thumbnailHeight": 400}), "thumbnailHeight"),
        (
            json!({"thumbnailWidth": 100, "thumbnailHeight": 400}),
            "thumbnailHeight",
        ),
    ] {
        let r = client
            .call("accounts.setPolicies", &json!({ "profilePhoto": bad }))
            .await
            .into_value();
        assert_eq!(r["errorCode"], 400006, "{bad}: {r}");
        let details = r["errorDetails"].as_str().unwrap();
        assert!(
            details.contains(&format!("profilePhoto.{field}")),
            "{bad}: {r}"
        );
    }
    let r = client
        .call("accounts.getPolicies", &json!({}))
        .await
        .into_value();
    assert_eq!(
        r["profilePhoto"],
        json!({"thumbnailWidth": 100, "thumbnailHeight": 64, "thumbnailCrop": "attention", "thumbnailScales": [1, 2, 3]})
    );
}

#[tokio::test]
async fn publishing_stores_every_scale_and_answers_the_renditions() {
    let (_dir, server, client) = setup().await;
    client
        .set_policies(change(None, Some(&[1, 2, 3])))
        .await
        .unwrap();
    let who = Identity::uid("ada");
    let urls = client
        .import_profile_photo(&who, &server.url("/photo.jpg"), true)
        .await
        .unwrap()
        .published
        .unwrap();
    use RenditionKind::{Photo, Thumbnail};
    assert_eq!(
        checked(&urls),
        [
            (Photo, 320, 240, 1),
            (Thumbnail, 64, 64, 1),
            (Thumbnail, 128, 128, 2),
            (Thumbnail, 192, 192, 3)
        ]
    );
    // Gigya's fields are the 1x files, as before.
    assert_eq!(urls.photo_url, urls.renditions[0].url);
    assert_eq!(urls.thumbnail_url, urls.renditions[1].url);
    assert_eq!(
        client.get_account_info(&who).await.unwrap().photo,
        Some(urls.clone())
    );
    // Every file is served while published.
    for r in &urls.renditions {
        let key = r.url.rsplit('/').next().unwrap();
        assert!(client.is_served_key(key).await.unwrap(), "{r:?}");
    }

    // The envelope: `profile.renditions` beside Gigya's own fields, which are unchanged.
    let r = client
        .call("accounts.getAccountInfo", &json!({"UID": "ada"}))
        .await
        .into_value();
    let profile = r["profile"].as_object().unwrap();
    assert_eq!(profile["photoURL"], Value::from(urls.photo_url.as_str()));
    assert_eq!(
        profile["thumbnailURL"],
        Value::from(urls.thumbnail_url.as_str())
    );
    let list = profile["renditions"].as_array().unwrap();
    assert_eq!(list.len(), 4);
    assert_eq!(
        list[2],
        json!({"kind": "thumbnail", "format": "jpeg", "width": 128, "height": 128, "scale": 2,
               "url": urls.renditions[2].url})
    );
    let r = client
        .call(
            "accounts.setProfilePhoto",
            &json!({"UID": "ada", "photoBytes": base64_file("alpha.webp"), "publish": true}),
        )
        .await
        .into_value();
    assert_eq!(r["errorCode"], 0, "{r}");
    let list = r["profile"]["renditions"].as_array().unwrap();
    let formats: Vec<&str> = list.iter().map(|x| x["format"].as_str().unwrap()).collect();
    // Alpha: PNG for the photo and every thumbnail.
    assert_eq!(formats, ["png"; 4], "{r}");
    assert_eq!(list[1]["url"], r["thumbnailURL"]);
    assert!(r["photoURL"].as_str().unwrap().ends_with(".png"));
}

#[tokio::test]
async fn a_policy_changed_after_the_import_is_applied_at_publish() {
    let (_dir, server, client) = setup().await;
    let who = Identity::uid("bea");
    client
        .import_profile_photo(&who, &server.url("/photo.png"), false)
        .await
        .unwrap();
    client
        .set_policies(change(Some(ThumbnailCrop::Attention), Some(&[1, 2])))
        .await
        .unwrap();
    let urls = client.publish_profile_photo(&who).await.unwrap();
    let shapes = checked(&urls);
    assert_eq!(shapes.len(), 3, "{urls:?}");
    assert_eq!(shapes[2], (RenditionKind::Thumbnail, 128, 128, 2));
    assert_eq!(urls.thumbnail_url, urls.renditions[1].url);
    assert_eq!(
        client.get_account_info(&who).await.unwrap().photo,
        Some(urls)
    );
}

#[tokio::test]
async fn removing_a_photo_removes_every_rendition_and_purge_deletes_them() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::with_files(&repo_root().join("conformance/files")).await;
    let clock = ManualClock::starting_now();
    let mut config = test_config(dir.path(), &server);
    config.purge_grace_secs = 60;
    let client = Client::builder(config)
        .clock(Arc::new(clock.clone()))
        .build()
        .await
        .unwrap();
    client
        .set_policies(change(None, Some(&[1, 2, 4])))
        .await
        .unwrap();
    let who = Identity::uid("cy");
    let urls = client
        .import_profile_photo(&who, &server.url("/photo.jpg"), true)
        .await
        .unwrap()
        .published
        .unwrap();
    assert_eq!(urls.renditions.len(), 4);
    // A pending photo too: it goes with the published one.
    client
        .import_profile_photo(&who, &server.url("/photo.png"), false)
        .await
        .unwrap();
    client.remove_profile_photo(&who).await.unwrap();
    assert_eq!(client.get_account_info(&who).await.unwrap().photo, None);
    for r in &urls.renditions {
        let key = r.url.rsplit('/').next().unwrap();
        assert!(!client.is_served_key(key).await.unwrap(), "{r:?}");
    }
    let e = client.publish_profile_photo(&who).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingPhoto);

    clock.advance_secs(3600);
    let report = client.purge().await.unwrap();
    // Each photo, its 1x, 2x and 4x thumbnails.
    assert_eq!(report.blobs_deleted, 8, "{report:?}");
    for r in &urls.renditions {
        let path = url::Url::parse(&r.url).unwrap().to_file_path().unwrap();
        assert!(!path.exists(), "{r:?}");
    }
}

fn base64_file(name: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(fixture(name))
}

/// During a rolling upgrade an older build (no renditions) may publish on the migrated
/// schema: it changes the account's keys and leaves the rendition rows. Those rows no longer
/// describe the photo, so they are not answered.
#[tokio::test]
async fn renditions_that_no_longer_describe_the_photo_are_not_answered() {
    use sqlx::Connection;
    let (dir, server, client) = setup().await;
    client
        .set_policies(change(None, Some(&[1, 2])))
        .await
        .unwrap();
    let who = Identity::uid("rolling");
    let urls = client
        .import_profile_photo(&who, &server.url("/photo.jpg"), true)
        .await
        .unwrap()
        .published
        .unwrap();
    assert_eq!(urls.renditions.len(), 3);
    let db = format!("sqlite://{}", dir.path().join("avatarium.db").display());
    let mut c = sqlx::SqliteConnection::connect(&db).await.unwrap();
    sqlx::query(
        "UPDATE avatarium_accounts SET photo_key = 'older-build.jpg' WHERE uid = 'rolling'",
    )
    .execute(&mut c)
    .await
    .unwrap();
    c.close().await.unwrap();
    let photo = client.get_account_info(&who).await.unwrap().photo.unwrap();
    assert!(photo.photo_url.ends_with("older-build.jpg"), "{photo:?}");
    assert!(photo.renditions.is_empty(), "{photo:?}");
}
