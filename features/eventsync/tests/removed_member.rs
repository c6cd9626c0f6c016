//! A membership deleted in WorkOS, applied from the event stream, is a removal like one made
//! through the API: the organization's invite link is retired (the removed member cannot walk
//! back in through the link they joined with), and the organization stops being their last one.
//! A deleted user retires the links of every organization they were in.

mod support;

use sqlx::PgPool;
use support::{database_following_the_stream, follow, workos};

async fn invite_id(pool: &PgPool, workos_org_id: &str) -> Option<String> {
    sqlx::query_scalar("SELECT invite_id FROM organizations WHERE workos_org_id = $1")
        .bind(workos_org_id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Sets each organization's invite link (by WorkOS id).
async fn give_invite_links(pool: &PgPool, links: &[(&str, &str)]) {
    for (workos_org_id, link) in links {
        sqlx::query("UPDATE organizations SET invite_id = $2 WHERE workos_org_id = $1")
            .bind(workos_org_id)
            .bind(link)
            .execute(pool)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_membership_deleted_in_workos_retires_the_invite_link() {
    let fake = workos().await;
    let acme = fake.create_organization("Acme");
    let other = fake.create_organization("Other");
    let bob = fake.create_user("bob@acme.test").id;
    let membership = fake.add_membership(&bob, &acme, "member");
    fake.add_membership(&bob, &other, "member");
    let (_db, pool) = database_following_the_stream().await;
    follow(&pool, &fake, 10).await;

    // Both organizations have an invite link; Acme is Bob's last organization.
    give_invite_links(&pool, &[(&acme, "acme-link"), (&other, "other-link")]).await;
    sqlx::query(
        "UPDATE users SET last_organization_id = (SELECT id FROM organizations WHERE workos_org_id = $2)
         WHERE workos_id = $1",
    )
    .bind(&bob)
    .bind(&acme)
    .execute(&pool)
    .await
    .unwrap();

    fake.delete_membership(&membership);
    follow(&pool, &fake, 10).await;

    assert_eq!(invite_id(&pool, &acme).await, None, "the old link is retired");
    assert_eq!(
        invite_id(&pool, &other).await.as_deref(),
        Some("other-link"),
        "another organization's link is left alone"
    );
    let last: Option<i64> = sqlx::query_scalar("SELECT last_organization_id FROM users WHERE workos_id = $1")
        .bind(&bob)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(last, None);
    let memberships: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM user_organizations m JOIN users u ON u.id = m.user_id WHERE u.workos_id = $1",
    )
    .bind(&bob)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(memberships, 1, "only the deleted membership is gone");
}

#[tokio::test]
async fn a_user_deleted_in_workos_retires_the_links_of_their_organizations() {
    let fake = workos().await;
    let acme = fake.create_organization("Acme");
    let other = fake.create_organization("Other");
    let bob = fake.create_user("bob@acme.test").id;
    fake.add_membership(&bob, &acme, "member");
    let (_db, pool) = database_following_the_stream().await;
    follow(&pool, &fake, 10).await;
    give_invite_links(&pool, &[(&acme, "acme-link"), (&other, "other-link")]).await;

    fake.delete_user(&bob);
    follow(&pool, &fake, 10).await;

    assert_eq!(
        invite_id(&pool, &acme).await,
        None,
        "Bob's organization's link is retired"
    );
    assert_eq!(
        invite_id(&pool, &other).await.as_deref(),
        Some("other-link"),
        "an organization Bob was not in keeps its link"
    );
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE workos_id = $1")
        .bind(&bob)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(users, 0);
}
