//! Spaces as a client sees them: CRUD, partial updates, the layout set, tags, list filters,
//! RBAC, tenant isolation and input validation.

// Link the identity feature (development sign-in, the authenticator) and spaces.
extern crate qubital_auth;
extern crate qubital_spaces;

mod support;

use qubital_testkit::spawn_app;
use serde_json::{json, Value};
use support::{create_space, create_tag, problem_type, sign_in};

fn names(list: &Value) -> Vec<&str> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn spaces_are_created_read_listed_updated_and_deleted() {
    let app = spawn_app().await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let team = create_tag(&admin, "Team").await;

    let created = admin
        .ok(
            "/spaces/create",
            json!({"name": "  Main hall ", "description": "Where we meet", "layout": "lecture-hall",
                   "dimension": "large", "style": "classic", "tagIds": [team]}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    assert_eq!(created["name"], "Main hall");
    assert_eq!(created["description"], "Where we meet");
    assert_eq!(
        (&created["layout"], &created["dimension"], &created["style"]),
        (&json!("lecture-hall"), &json!("large"), &json!("classic"))
    );
    assert_eq!(created["tags"][0]["name"], "Team");
    let created_at = chrono::DateTime::parse_from_rfc3339(created["createdAt"].as_str().unwrap()).unwrap();
    assert_eq!(created_at.offset().local_minus_utc(), 0, "timestamps are UTC");

    let fetched = admin.ok(&format!("/spaces/{id}/get"), json!({})).await;
    assert_eq!(fetched, created);

    let list = admin.ok("/spaces/list", json!({})).await;
    assert_eq!(list["page"], json!({"limit": 20, "offset": 0, "total": 1}));
    assert_eq!(list["data"][0], created);

    let updated = admin
        .ok(
            &format!("/spaces/{id}/update"),
            json!({"name": "Hall", "tagIds": []}),
        )
        .await;
    assert_eq!(updated["name"], "Hall");
    assert_eq!(updated["tags"], json!([]));

    let (status, _) = admin.post(&format!("/spaces/{id}/delete"), json!({})).await;
    assert_eq!(status, 204);
    let (status, body) = admin.post(&format!("/spaces/{id}/get"), json!({})).await;
    assert_eq!((status, problem_type(&body)), (404, "not-found"));
    let (status, _) = admin.post(&format!("/spaces/{id}/delete"), json!({})).await;
    assert_eq!(status, 404);
    // The tag outlives the space.
    let tags = admin.ok("/space-tags/list", json!({})).await;
    assert_eq!(names(&tags), ["Team"]);
}

#[tokio::test]
async fn partial_updates_change_only_the_fields_sent() {
    let app = spawn_app().await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let tag = create_tag(&admin, "Quiet").await;
    let space = admin
        .ok(
            "/spaces/create",
            json!({"name": "Lounge", "description": "Coffee", "layout": "lounge", "dimension": "medium",
                   "style": "cozy", "tagIds": [tag]}),
        )
        .await;
    let path = format!("/spaces/{}/update", space["id"].as_str().unwrap());

    // Nothing sent: nothing changes, not even updatedAt.
    let same = admin.ok(&path, json!({})).await;
    assert_eq!(same, space);

    // Only the style: the name, description and tags stay.
    let restyled = admin.ok(&path, json!({"style": "modern"})).await;
    assert_eq!(restyled["style"], "modern");
    for field in ["name", "description", "layout", "dimension", "tags", "createdAt"] {
        assert_eq!(restyled[field], space[field], "{field}");
    }
    assert!(restyled["updatedAt"].as_str() >= space["updatedAt"].as_str());

    // null clears the optional fields...
    let cleared = admin
        .ok(&path, json!({"description": null, "tagIds": null}))
        .await;
    assert_eq!(cleared["description"], Value::Null);
    assert_eq!(cleared["tags"], json!([]));
    assert_eq!(cleared["name"], "Lounge");
    // ... and leaves the ones that always have a value as they are, like leaving them out.
    for field in ["name", "layout", "dimension", "style"] {
        let same = admin.ok(&path, json!({field: null, "description": "x"})).await;
        assert_eq!(same[field], cleared[field], "{field}");
        assert_eq!(same["description"], "x");
    }

    // A layout change is checked against the current values of the fields not sent: lounge/
    // medium/modern is valid, lounge/large/modern is not.
    let (status, body) = admin.post(&path, json!({"dimension": "large"})).await;
    assert_eq!((status, problem_type(&body)), (422, "validation"), "{body}");
    let moved = admin
        .ok(&path, json!({"layout": "office", "dimension": "large"}))
        .await;
    assert_eq!(
        (&moved["layout"], &moved["dimension"], &moved["style"]),
        (&json!("office"), &json!("large"), &json!("modern"))
    );

    // Unknown fields are refused rather than silently ignored.
    let (status, _) = admin.post(&path, json!({"nmae": "typo"})).await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn layouts_must_be_a_seeded_combination_and_tags_must_exist() {
    let app = spawn_app().await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;

    let layouts = admin.ok("/space-layouts/list", json!({"limit": 100})).await;
    let total = layouts["page"]["total"].as_u64().unwrap();
    assert!(total >= 5, "{layouts}");
    assert_eq!(layouts["data"].as_array().unwrap().len() as u64, total);
    let first = &layouts["data"][0];
    // Every listed combination is accepted.
    for (i, combination) in layouts["data"].as_array().unwrap().iter().enumerate() {
        let mut body = combination.clone();
        body["name"] = json!(format!("space {i}"));
        admin.ok("/spaces/create", body).await;
    }
    let paged = admin
        .ok("/space-layouts/list", json!({"limit": 2, "offset": 1}))
        .await;
    assert_eq!(paged["data"][0], layouts["data"][1]);
    assert_eq!(paged["page"], json!({"limit": 2, "offset": 1, "total": total}));

    for bad in [
        json!({"layout": "office", "dimension": "huge", "style": "modern"}),
        json!({"layout": "event-floor", "dimension": "small", "style": "modern"}),
        json!({"layout": "OFFICE", "dimension": "small", "style": "modern"}),
        json!({"layout": "", "dimension": "", "style": ""}),
    ] {
        let mut body = bad.clone();
        body["name"] = json!("x");
        let (status, problem) = admin.post("/spaces/create", body).await;
        assert_eq!((status, problem_type(&problem)), (422, "validation"), "{bad}");
        // Blank parts are refused by the schema, each at its own field.
        assert!(
            problem["errors"].to_string().contains("\"body.layout\""),
            "{problem}"
        );
    }

    let mut body = first.clone();
    body["name"] = json!("tagged");
    body["tagIds"] = json!([uuid::Uuid::new_v4()]);
    let (status, problem) = admin.post("/spaces/create", body).await;
    assert_eq!((status, problem_type(&problem)), (404, "not-found"), "{problem}");
    assert_eq!(problem["errors"][0]["location"], "body.tagIds[0]");
}

#[tokio::test]
async fn lists_filter_by_name_and_tags_sort_and_page() {
    let app = spawn_app().await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let blue = create_tag(&admin, "Blue").await;
    let red = create_tag(&admin, "Red").await;
    for (name, tags) in [
        ("delta", vec![&blue]),
        ("Alpha", vec![&blue, &red]),
        ("charlie", vec![&red]),
        ("bravo", vec![]),
        ("100% ready_", vec![]),
    ] {
        admin
            .ok(
                "/spaces/create",
                json!({"name": name, "layout": "office", "dimension": "small", "style": "modern", "tagIds": tags}),
            )
            .await;
    }

    let by_name = admin.ok("/spaces/list", json!({})).await;
    assert_eq!(
        names(&by_name),
        ["100% ready_", "Alpha", "bravo", "charlie", "delta"]
    );
    // A space's tags are ordered by name.
    let alpha_tags: Vec<&str> = by_name["data"][1]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tag| tag["name"].as_str().unwrap())
        .collect();
    assert_eq!(alpha_tags, ["Blue", "Red"]);
    let desc = admin.ok("/spaces/list", json!({"order": "desc"})).await;
    assert_eq!(
        names(&desc),
        ["delta", "charlie", "bravo", "Alpha", "100% ready_"]
    );
    let newest = admin
        .ok(
            "/spaces/list",
            json!({"sort": "created-at", "order": "desc", "limit": 2}),
        )
        .await;
    assert_eq!(names(&newest), ["100% ready_", "bravo"]);
    assert_eq!(newest["page"], json!({"limit": 2, "offset": 0, "total": 5}));
    let oldest = admin
        .ok(
            "/spaces/list",
            json!({"sort": "created-at", "limit": 2, "offset": 1}),
        )
        .await;
    assert_eq!(names(&oldest), ["Alpha", "charlie"]);
    let beyond = admin.ok("/spaces/list", json!({"offset": 50})).await;
    assert_eq!(names(&beyond), Vec::<&str>::new());
    assert_eq!(beyond["page"]["total"], 5);

    // Name filter: a case-insensitive substring; wildcard characters are literal.
    let filtered = admin.ok("/spaces/list", json!({"name": " HA "})).await;
    assert_eq!(names(&filtered), ["Alpha", "charlie"]);
    let literal = admin.ok("/spaces/list", json!({"name": "% r"})).await;
    assert_eq!(names(&literal), ["100% ready_"]);
    let none = admin.ok("/spaces/list", json!({"name": "_x"})).await;
    assert_eq!(none["page"]["total"], 0);

    // Tag filter: spaces carrying every listed tag.
    let blues = admin.ok("/spaces/list", json!({"tagIds": [blue]})).await;
    assert_eq!(names(&blues), ["Alpha", "delta"]);
    let both = admin
        .ok("/spaces/list", json!({"tagIds": [blue, red, blue]}))
        .await;
    assert_eq!(names(&both), ["Alpha"]);
    let combined = admin
        .ok("/spaces/list", json!({"tagIds": [red], "name": "char"}))
        .await;
    assert_eq!(names(&combined), ["charlie"]);
    assert_eq!(combined["data"][0]["tags"][0]["name"], "Red");
}

#[tokio::test]
async fn each_operation_requires_its_permission() {
    let app = spawn_app().await;
    let admin = sign_in(&app.address, "admin@acme.test", "Acme", "admin").await;
    let moderator = sign_in(&app.address, "mod@acme.test", "Acme", "moderator").await;
    let member = sign_in(&app.address, "member@acme.test", "Acme", "member").await;
    let guest = sign_in(&app.address, "guest@acme.test", "Acme", "guest").await;
    let space = create_space(&admin, "Main").await;
    let id = space["id"].as_str().unwrap();
    let tag = create_tag(&admin, "Shared").await;

    // ListRooms: everyone.
    for client in [&guest, &member, &moderator] {
        client.ok("/spaces/list", json!({})).await;
        client.ok(&format!("/spaces/{id}/get"), json!({})).await;
        client.ok("/space-layouts/list", json!({})).await;
        client.ok("/space-tags/list", json!({})).await;
    }
    let denied = |(status, body): (u16, Value), permission: &str| {
        assert_eq!((status, problem_type(&body)), (403, "forbidden"), "{body}");
        assert!(body["detail"].as_str().unwrap().contains(permission), "{body}");
    };
    // CreateRoom: member and up.
    denied(
        guest
            .post(
                "/spaces/create",
                json!({"name": "g", "layout": "office", "dimension": "small", "style": "modern"}),
            )
            .await,
        "CreateRoom",
    );
    denied(
        guest.post("/space-tags/create", json!({"name": "g"})).await,
        "CreateRoom",
    );
    create_space(&member, "By a member").await;
    create_tag(&member, "Member tag").await;
    // UpdateRoom: moderator and up.
    denied(
        member
            .post(&format!("/spaces/{id}/update"), json!({"name": "m"}))
            .await,
        "UpdateRoom",
    );
    denied(
        member.post(&format!("/space-tags/{tag}/delete"), json!({})).await,
        "UpdateRoom",
    );
    moderator
        .ok(&format!("/spaces/{id}/update"), json!({"name": "Renamed"}))
        .await;
    // DeleteRoom: admin only.
    denied(
        moderator.post(&format!("/spaces/{id}/delete"), json!({})).await,
        "DeleteRoom",
    );
    assert_eq!(
        admin.post(&format!("/spaces/{id}/delete"), json!({})).await.0,
        204
    );
    assert_eq!(
        moderator
            .post(&format!("/space-tags/{tag}/delete"), json!({}))
            .await
            .0,
        204
    );

    // Signed out: 401 everywhere.
    for path in [
        "/spaces/list",
        "/spaces/create",
        "/space-layouts/list",
        "/space-tags/list",
    ] {
        let response = app.post(path, &json!({})).await;
        assert_eq!(response.status(), 401, "{path}");
        assert_eq!(
            qubital_testkit::problem(response).await["type"],
            "https://qubital.app/errors/unauthorized"
        );
    }
}

#[tokio::test]
async fn another_organizations_spaces_and_tags_do_not_exist_for_the_caller() {
    let app = spawn_app().await;
    let acme = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let globex = sign_in(&app.address, "hank@globex.test", "Globex", "admin").await;
    let theirs = create_space(&globex, "Globex HQ").await;
    let their_id = theirs["id"].as_str().unwrap();
    let their_tag = create_tag(&globex, "Secret").await;
    let ours = create_space(&acme, "Acme HQ").await;

    for (path, body) in [
        (format!("/spaces/{their_id}/get"), json!({})),
        (format!("/spaces/{their_id}/update"), json!({"name": "pwned"})),
        (format!("/spaces/{their_id}/delete"), json!({})),
        (format!("/space-tags/{their_tag}/delete"), json!({})),
    ] {
        let (status, body) = acme.post(&path, body).await;
        assert_eq!(
            (status, problem_type(&body)),
            (404, "not-found"),
            "{path}: {body}"
        );
    }
    // Their tag cannot be attached to our spaces, nor filter ours.
    let (status, body) = acme
        .post(
            &format!("/spaces/{}/update", ours["id"].as_str().unwrap()),
            json!({"tagIds": [their_tag]}),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = acme
        .post(
            "/spaces/create",
            json!({"name": "x", "layout": "office", "dimension": "small", "style": "modern", "tagIds": [their_tag]}),
        )
        .await;
    assert_eq!(status, 404);
    let filtered = acme.ok("/spaces/list", json!({"tagIds": [their_tag]})).await;
    assert_eq!(filtered["page"]["total"], 0);
    // Lists show only our own; tag names are per organization.
    assert_eq!(names(&acme.ok("/spaces/list", json!({})).await), ["Acme HQ"]);
    assert_eq!(
        names(&acme.ok("/space-tags/list", json!({})).await),
        Vec::<&str>::new()
    );
    create_tag(&acme, "Secret").await;

    // Untouched on their side.
    assert_eq!(
        globex.ok(&format!("/spaces/{their_id}/get"), json!({})).await,
        theirs
    );
    assert_eq!(names(&globex.ok("/space-tags/list", json!({})).await), ["Secret"]);
}

#[tokio::test]
async fn tag_names_are_unique_per_organization_ignoring_case() {
    let app = spawn_app().await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let tag = create_tag(&admin, "Design").await;
    let (status, body) = admin
        .post("/space-tags/create", json!({"name": " design "}))
        .await;
    assert_eq!((status, problem_type(&body)), (409, "space-tag-exists"), "{body}");
    assert_eq!(
        admin
            .post(&format!("/space-tags/{tag}/delete"), json!({}))
            .await
            .0,
        204
    );
    create_tag(&admin, "design").await;
}

#[tokio::test]
async fn malformed_missing_and_oversized_input_is_a_4xx_problem() {
    let app = spawn_app().await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let space = create_space(&admin, "Main").await;
    let update = format!("/spaces/{}/update", space["id"].as_str().unwrap());
    let long = "x".repeat(101);
    let cases = [
        ("/spaces/create", json!({})),
        ("/spaces/create", json!({"name": "x"})),
        (
            "/spaces/create",
            json!({"name": "   ", "layout": "office", "dimension": "small", "style": "modern"}),
        ),
        (
            "/spaces/create",
            json!({"name": long, "layout": "office", "dimension": "small", "style": "modern"}),
        ),
        (
            "/spaces/create",
            json!({"name": "a\u{0}b", "layout": "office", "dimension": "small", "style": "modern"}),
        ),
        (
            "/spaces/create",
            json!({"name": "x", "description": "d".repeat(1001), "layout": "office", "dimension": "small", "style": "modern"}),
        ),
        (
            "/spaces/create",
            json!({"name": ["x"], "layout": "office", "dimension": "small", "style": "modern"}),
        ),
        (
            "/spaces/create",
            json!({"name": "x", "layout": "o".repeat(41), "dimension": "small", "style": "modern"}),
        ),
        (
            "/spaces/create",
            json!({"name": "x", "layout": "office", "dimension": "small", "style": "modern", "tagIds": ["nope"]}),
        ),
        (
            "/spaces/create",
            json!({"name": "x", "layout": "office", "dimension": "small", "style": "modern",
                                  "tagIds": (0..21).map(|_| uuid::Uuid::new_v4()).collect::<Vec<_>>()}),
        ),
        (update.as_str(), json!({"name": long})),
        (update.as_str(), json!({"name": ""})),
        (update.as_str(), json!({"tagIds": "x"})),
        ("/spaces/list", json!({"limit": 0})),
        ("/spaces/list", json!({"limit": 101})),
        ("/spaces/list", json!({"offset": -1})),
        ("/spaces/list", json!({"sort": "size"})),
        ("/spaces/list", json!({"order": "up"})),
        ("/spaces/list", json!({"name": "n".repeat(101)})),
        ("/spaces/list", json!({"tagIds": [1]})),
        ("/space-layouts/list", json!({"limit": 1000})),
        ("/space-tags/list", json!({"offset": "a"})),
        ("/space-tags/create", json!({"name": ""})),
        ("/space-tags/create", json!({"name": "t".repeat(51)})),
        ("/space-tags/create", json!({})),
        ("/spaces/not-a-uuid/get", json!({})),
        ("/spaces/not-a-uuid/update", json!({})),
        ("/space-tags/123/delete", json!({})),
    ];
    for (path, body) in cases {
        let (status, problem) = admin.post(path, body.clone()).await;
        assert_eq!(
            (status, problem_type(&problem)),
            (422, "validation"),
            "{path} {body}: {problem}"
        );
        assert!(problem["errors"][0]["location"].is_string(), "{problem}");
    }
    // Not JSON at all, and too large.
    let raw = admin
        .http
        .post(app.url("/spaces/create"))
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let huge = admin
        .http
        .post(app.url("/spaces/create"))
        .json(&json!({"name": "x".repeat(2 * 1024 * 1024)}))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
    // Nothing was created by any of it.
    assert_eq!(admin.ok("/spaces/list", json!({})).await["page"]["total"], 1);
}

#[tokio::test]
async fn concurrent_updates_of_one_space_are_serialized() {
    let app = spawn_app().await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let a = create_tag(&admin, "A").await;
    let b = create_tag(&admin, "B").await;
    let space = create_space(&admin, "Main").await;
    let path = format!("/spaces/{}/update", space["id"].as_str().unwrap());
    let admin = std::sync::Arc::new(admin);
    let updates = (0..8).map(|i| {
        let (admin, path, tags) = (
            admin.clone(),
            path.clone(),
            if i % 2 == 0 {
                vec![a.clone()]
            } else {
                vec![b.clone()]
            },
        );
        async move {
            admin
                .post(&path, json!({"name": format!("n{i}"), "tagIds": tags}))
                .await
        }
    });
    for (status, body) in futures::future::join_all(updates).await {
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["tags"].as_array().unwrap().len(), 1, "{body}");
    }
}
