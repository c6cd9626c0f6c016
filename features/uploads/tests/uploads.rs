//! Avatar and logo uploads end to end against a local S3: the ticket, the `PUT` a plain HTTP
//! client makes with the presigned URL, finalize, the URL in the DTOs, remove; every refusal;
//! the `tmp/` cleanup.

extern crate qubital_organizations;
extern crate qubital_uploads;
extern crate qubital_users;

mod support;

use chrono::{Duration, Utc};
use serde_json::{json, Value};
use support::*;

fn url(value: &Value) -> &str {
    value.as_str().unwrap_or_else(|| panic!("a URL: {value}"))
}

/// `member`'s entry in the organization's member list.
async fn listed(client: &Client, user_id: &str) -> Value {
    let list = client.ok("/members/list", json!({})).await;
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == user_id)
        .cloned()
        .unwrap_or_else(|| panic!("{user_id} is not listed: {list}"))
}

#[tokio::test]
async fn an_avatar_is_put_with_the_presigned_url_finalized_shown_and_removed() {
    let world = world().await;
    let ada = sign_in(&world.app.address, "ada@acme.test", "Acme", "member").await;
    let image = png(64, 48);

    // The ticket: a tmp/ key, a URL signed for the declared type and size.
    let ticket = ticket(&ada, "/user/avatar/upload-ticket", "image/png", &image).await;
    let key = ticket["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("tmp/avatars/"), "{ticket}");
    assert_eq!(ticket["maxBytes"], 5 * 1024 * 1024);
    let headers = ticket["headers"].to_string();
    assert!(
        headers.contains("image/png") && headers.contains(&image.len().to_string()),
        "{ticket}"
    );
    let expires: chrono::DateTime<Utc> = ticket["expiresAt"].as_str().unwrap().parse().unwrap();
    assert!(expires <= Utc::now() + Duration::seconds(121) && expires > Utc::now() + Duration::seconds(100));

    // The client uploads straight to the store, with a plain HTTP client.
    assert_eq!(put(&ticket, image.clone()).await, 200);
    assert!(world.has(&key));

    // Finalize: published under a server-derived key, the temporary object gone.
    let me = ada.ok("/user/avatar/finalize", json!({ "key": key })).await;
    let avatar = url(&me["avatarUrl"]).to_owned();
    let final_key = world.key_of(&avatar).to_owned();
    assert!(
        final_key.starts_with(&format!("avatars/{}/", ada.user_id())) && final_key.ends_with(".png"),
        "{final_key}"
    );
    assert!(!world.has(&key), "the temporary object is deleted");
    let (status, content_type, body) = fetch(&avatar).await;
    assert_eq!((status, content_type.as_deref()), (200, Some("image/png")));
    assert_eq!(body, image);

    // It shows in the User and in the member list, and only in this organization.
    assert_eq!(ada.ok("/user/get", json!({})).await["avatarUrl"], avatar.as_str());
    assert_eq!(listed(&ada, ada.user_id()).await["avatarUrl"], avatar.as_str());
    let elsewhere = sign_in(&world.app.address, "ada@acme.test", "Elsewhere", "admin").await;
    assert!(elsewhere.user["avatarUrl"].is_null(), "{}", elsewhere.user);
    assert_eq!(ada.ok("/user/get", json!({})).await["avatarUrl"], avatar.as_str());

    // A ticket is used once.
    let problem = ada
        .fails("/user/avatar/finalize", json!({ "key": key }), 404)
        .await;
    assert_eq!(problem_type(&problem), "upload-ticket-unknown");

    // A new avatar replaces the old one, whose object goes; the stored type is the one the
    // bytes have (a JPEG declared as WebP is served as a JPEG).
    let jpeg = jpeg_header(200, 100);
    let me = upload(&ada, "/user/avatar", "image/webp", jpeg.clone()).await;
    let second = url(&me["avatarUrl"]).to_owned();
    assert!(second.ends_with(".jpg"), "{second}");
    assert!(!world.has(&final_key), "the replaced avatar is deleted");
    let (_, content_type, body) = fetch(&second).await;
    assert_eq!((content_type.as_deref(), body), (Some("image/jpeg"), jpeg));

    // Remove clears it everywhere and deletes the object; removing again is fine.
    let me = ada.ok("/user/avatar/remove", json!({})).await;
    assert!(me["avatarUrl"].is_null(), "{me}");
    assert!(ada.ok("/user/get", json!({})).await["avatarUrl"].is_null());
    assert!(listed(&ada, ada.user_id()).await["avatarUrl"].is_null());
    assert!(!world.has(world.key_of(&second)));
    ada.ok("/user/avatar/remove", json!({})).await;
}

#[tokio::test]
async fn forged_foreign_and_expired_tickets_are_refused() {
    let world = world().await;
    let ada = sign_in(&world.app.address, "ada@acme.test", "Acme", "admin").await;
    let bob = sign_in(&world.app.address, "bob@acme.test", "Acme", "member").await;
    let image = png(32, 32);

    // A key we never issued, of the right shape.
    let forged = "tmp/avatars/5f0c3c9e-8a4b-4c1e-9d2f-0123456789ab";
    let problem = ada
        .fails("/user/avatar/finalize", json!({ "key": forged }), 404)
        .await;
    assert_eq!(problem_type(&problem), "upload-ticket-unknown");
    // Keys of another shape (a final key, a path trick) break the schema.
    for key in [
        "avatars/1/x.png",
        "tmp/avatars/../logos/x",
        "tmp/avatars/5F0C3C9E-8A4B-4C1E-9D2F-0123456789AB",
    ] {
        ada.fails("/user/avatar/finalize", json!({ "key": key }), 422)
            .await;
    }

    // Bob's ticket, uploaded by Bob, cannot be finalized by Ada.
    let bobs = ticket(&bob, "/user/avatar/upload-ticket", "image/png", &image).await;
    assert_eq!(put(&bobs, image.clone()).await, 200);
    let problem = ada
        .fails("/user/avatar/finalize", json!({ "key": bobs["key"] }), 404)
        .await;
    assert_eq!(problem_type(&problem), "upload-ticket-unknown");
    // An avatar ticket is not a logo ticket.
    let org = ada.organization_id().to_owned();
    let adas = ticket(&ada, "/user/avatar/upload-ticket", "image/png", &image).await;
    assert_eq!(put(&adas, image.clone()).await, 200);
    let problem = ada
        .fails(
            &format!("/organizations/{org}/logo/finalize"),
            json!({ "key": adas["key"] }),
            404,
        )
        .await;
    assert_eq!(problem_type(&problem), "upload-ticket-unknown");

    // Expired: the ticket's finalize window has passed.
    sqlx::query(
        "UPDATE upload_tickets SET created_at = now() - interval '20 minutes',
                                   expires_at = now() - interval '1 second'
         WHERE id = $1::uuid",
    )
    .bind(adas["key"].as_str().unwrap().trim_start_matches("tmp/avatars/"))
    .execute(world.app.db())
    .await
    .unwrap();
    let problem = ada
        .fails("/user/avatar/finalize", json!({ "key": adas["key"] }), 410)
        .await;
    assert_eq!(problem_type(&problem), "upload-ticket-expired");

    // Bob's own finalize still works: nothing above used his ticket.
    let me = bob
        .ok("/user/avatar/finalize", json!({ "key": bobs["key"] }))
        .await;
    assert!(me["avatarUrl"].is_string());
    assert!(ada.ok("/user/get", json!({})).await["avatarUrl"].is_null());
}

#[tokio::test]
async fn what_is_not_a_bounded_image_of_the_declared_size_is_refused() {
    let world = world().await;
    let ada = sign_in(&world.app.address, "ada@acme.test", "Acme", "member").await;
    let finalize = |key: &Value| json!({ "key": key });

    // Nothing uploaded yet.
    let image = png(32, 32);
    let early = ticket(&ada, "/user/avatar/upload-ticket", "image/png", &image).await;
    let problem = ada
        .fails("/user/avatar/finalize", finalize(&early["key"]), 409)
        .await;
    assert_eq!(problem_type(&problem), "upload-missing");

    // A text file called a PNG.
    let text = b"I am avatar.png, honestly".to_vec();
    let fake = ticket(&ada, "/user/avatar/upload-ticket", "image/png", &text).await;
    assert_eq!(put(&fake, text).await, 200);
    let problem = ada
        .fails("/user/avatar/finalize", finalize(&fake["key"]), 422)
        .await;
    assert_eq!(problem_type(&problem), "upload-not-an-image");
    // A GIF is an image, not one of the accepted types.
    let gif = b"GIF89a\x40\x00\x40\x00\x80\x00\x00".to_vec();
    let gif_ticket = ticket(&ada, "/user/avatar/upload-ticket", "image/png", &gif).await;
    assert_eq!(put(&gif_ticket, gif).await, 200);
    let problem = ada
        .fails("/user/avatar/finalize", finalize(&gif_ticket["key"]), 422)
        .await;
    assert_eq!(problem_type(&problem), "upload-not-an-image");

    // Dimensions out of bounds, either way.
    for (width, height) in [(8, 64), (64, 5000)] {
        let header = jpeg_header(width, height);
        let t = ticket(&ada, "/user/avatar/upload-ticket", "image/jpeg", &header).await;
        assert_eq!(put(&t, header).await, 200);
        let problem = ada.fails("/user/avatar/finalize", finalize(&t["key"]), 422).await;
        assert_eq!(
            problem_type(&problem),
            "upload-image-dimensions",
            "{width}×{height}"
        );
    }

    // Oversize: a ticket over 5 MiB is refused by the schema; a body larger than the ticket's
    // size is refused by the store (the signature covers Content-Length); and an object that
    // got larger anyway is refused at finalize.
    let problem = ada
        .fails(
            "/user/avatar/upload-ticket",
            json!({ "contentType": "image/png", "size": 5 * 1024 * 1024 + 1 }),
            422,
        )
        .await;
    assert_eq!(problem_type(&problem), "validation");
    for bad in [
        json!({ "contentType": "image/gif", "size": 10 }),
        json!({ "contentType": "image/png", "size": 0 }),
        json!({ "contentType": "image/png" }),
        json!({ "contentType": "image/png", "size": 10, "key": "mine" }),
    ] {
        ada.fails("/user/avatar/upload-ticket", bad, 422).await;
    }
    let small = ticket(&ada, "/user/avatar/upload-ticket", "image/png", &image).await;
    let mut larger = image.clone();
    larger.extend([0; 100]);
    let status = reqwest::Client::new()
        .put(small["uploadUrl"].as_str().unwrap())
        .header("content-type", "image/png")
        .body(larger.clone())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 403, "the store refuses a body of another size");
    let key = small["key"].as_str().unwrap();
    world.s3.put_object(BUCKET, key, &larger);
    let problem = ada
        .fails("/user/avatar/finalize", finalize(&small["key"]), 422)
        .await;
    assert_eq!(problem_type(&problem), "upload-too-large");

    // None of it changed the avatar.
    assert!(ada.ok("/user/get", json!({})).await["avatarUrl"].is_null());
}

#[tokio::test]
async fn admins_change_the_organization_logo_and_only_their_own() {
    let world = world().await;
    let ada = sign_in(&world.app.address, "ada@acme.test", "Acme", "admin").await;
    let bob = sign_in(&world.app.address, "bob@acme.test", "Acme", "member").await;
    let eve = sign_in(&world.app.address, "eve@evil.test", "Evil", "admin").await;
    let acme = ada.organization_id().to_owned();
    let evil = eve.organization_id().to_owned();
    let image = png(128, 128);
    let body = json!({ "contentType": "image/png", "size": image.len() });

    // A member may not; another organization's id is not found, for an admin too.
    let problem = bob
        .fails(
            &format!("/organizations/{acme}/logo/upload-ticket"),
            body.clone(),
            403,
        )
        .await;
    assert_eq!(problem_type(&problem), "forbidden");
    for verb in ["upload-ticket", "finalize", "remove"] {
        let request = match verb {
            "upload-ticket" => body.clone(),
            "finalize" => json!({ "key": "tmp/logos/5f0c3c9e-8a4b-4c1e-9d2f-0123456789ab" }),
            _ => json!({}),
        };
        let problem = ada
            .fails(
                &format!("/organizations/{evil}/logo/{verb}"),
                request.clone(),
                404,
            )
            .await;
        assert_eq!(problem_type(&problem), "not-found", "{verb}");
        bob.fails(&format!("/organizations/{evil}/logo/{verb}"), request, 404)
            .await;
    }
    bob.fails(&format!("/organizations/{acme}/logo/remove"), json!({}), 403)
        .await;

    // The admin's upload: in the organization, the User's memberships, not elsewhere.
    let org = upload(
        &ada,
        &format!("/organizations/{acme}/logo"),
        "image/png",
        image.clone(),
    )
    .await;
    let logo = url(&org["logoUrl"]).to_owned();
    assert!(
        world.key_of(&logo).starts_with(&format!("logos/{acme}/")),
        "{logo}"
    );
    assert_eq!(fetch(&logo).await.2, image);
    let got = bob.ok(&format!("/organizations/{acme}/get"), json!({})).await;
    assert_eq!(got["logoUrl"], logo.as_str());
    let me = bob.ok("/user/get", json!({})).await;
    assert_eq!(
        me["organizationMemberships"][0]["organization"]["logoUrl"],
        logo.as_str(),
        "{me}"
    );
    let theirs = eve.ok(&format!("/organizations/{evil}/get"), json!({})).await;
    assert!(theirs["logoUrl"].is_null());

    // A member's finalize of the admin's ticket is refused before anything is read.
    let t = ticket(
        &ada,
        &format!("/organizations/{acme}/logo/upload-ticket"),
        "image/png",
        &image,
    )
    .await;
    bob.fails(
        &format!("/organizations/{acme}/logo/finalize"),
        json!({ "key": t["key"] }),
        403,
    )
    .await;

    // Remove: cleared, the object deleted.
    let org = ada
        .ok(&format!("/organizations/{acme}/logo/remove"), json!({}))
        .await;
    assert!(org["logoUrl"].is_null(), "{org}");
    assert!(!world.has(world.key_of(&logo)));
    let got = bob.ok(&format!("/organizations/{acme}/get"), json!({})).await;
    assert!(got["logoUrl"].is_null());
}

#[tokio::test]
async fn abandoned_uploads_are_cleaned_from_tmp_and_old_tickets_pruned() {
    let world = world().await;
    let ada = sign_in(&world.app.address, "ada@acme.test", "Acme", "member").await;
    let image = png(32, 32);
    let abandoned = ticket(&ada, "/user/avatar/upload-ticket", "image/png", &image).await;
    assert_eq!(put(&abandoned, image.clone()).await, 200);
    let recent = ticket(&ada, "/user/avatar/upload-ticket", "image/png", &image).await;
    assert_eq!(put(&recent, image.clone()).await, 200);
    let abandoned_key = abandoned["key"].as_str().unwrap();
    let recent_key = recent["key"].as_str().unwrap();
    world
        .s3
        .set_last_modified(BUCKET, abandoned_key, Utc::now() - Duration::hours(25));
    // An old published object is not under tmp/ and stays.
    world.s3.put_object(BUCKET, "avatars/1/old.png", &image);
    world
        .s3
        .set_last_modified(BUCKET, "avatars/1/old.png", Utc::now() - Duration::days(30));

    let deleted = qubital_uploads::jobs::tmp_cleanup_once(&world.app.ctx)
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    assert!(!world.has(abandoned_key));
    assert!(world.has(recent_key) && world.has("avatars/1/old.png"));
    // Idempotent.
    assert_eq!(
        qubital_uploads::jobs::tmp_cleanup_once(&world.app.ctx)
            .await
            .unwrap(),
        0
    );

    // The ticket rows: kept a day past their expiry (finalize says "expired"), then pruned.
    sqlx::query("UPDATE upload_tickets SET expires_at = now() - interval '25 hours', created_at = now() - interval '26 hours' WHERE id = $1::uuid")
        .bind(abandoned_key.trim_start_matches("tmp/avatars/"))
        .execute(world.app.db())
        .await
        .unwrap();
    assert_eq!(world.app.prune("uploads").await, 1);
    let problem = ada
        .fails("/user/avatar/finalize", json!({ "key": abandoned_key }), 404)
        .await;
    assert_eq!(problem_type(&problem), "upload-ticket-unknown");
    ada.ok("/user/avatar/finalize", json!({ "key": recent_key }))
        .await;
}

#[tokio::test]
async fn without_a_bucket_uploads_answer_integration_disabled() {
    let app = qubital_testkit::spawn_app().await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let org = ada.organization_id().to_owned();
    let body = json!({ "contentType": "image/png", "size": 100 });
    let key = json!({ "key": "tmp/avatars/5f0c3c9e-8a4b-4c1e-9d2f-0123456789ab" });
    for (path, request) in [
        ("/user/avatar/upload-ticket".to_owned(), body.clone()),
        ("/user/avatar/finalize".to_owned(), key.clone()),
        (format!("/organizations/{org}/logo/upload-ticket"), body),
        (format!("/organizations/{org}/logo/finalize"), key),
    ] {
        let problem = ada.fails(&path, request, 503).await;
        assert_eq!(problem_type(&problem), "integration-disabled", "{path}");
    }
    // Removing needs no bucket.
    ada.ok("/user/avatar/remove", json!({})).await;
    ada.ok(&format!("/organizations/{org}/logo/remove"), json!({}))
        .await;
    assert_eq!(
        qubital_uploads::jobs::tmp_cleanup_once(&app.ctx).await.unwrap(),
        0
    );
}
