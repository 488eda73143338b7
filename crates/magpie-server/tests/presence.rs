//! Presence end to end: contacts see a user come online, change status
//! and go offline, on every device and both transports; strangers and
//! blocked users see nothing; friend lists carry presence.

mod common;

use common::*;
use magpie_client::Client;
use magpie_proto::{PresenceState, Push, Status};

on_both_transports!(
    friends_see_online_status_changes_and_offline,
    online_while_any_device_is_and_invisible_shows_offline,
    strangers_and_blocked_users_get_no_presence,
    bad_presence_input_is_refused,
);

/// The next `presence` push, skipping others; fails after WAIT.
async fn next_presence(client: &mut Client) -> PresenceState {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, client.next_push()).await {
            Ok(Some(Push::Presence(p))) => return p,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("connection closed while waiting for presence"),
            Err(_) => panic!("no presence push within {WAIT:?}"),
        }
    }
}

/// Skip presence pushes until one for `user` with `status`.
async fn presence_until(client: &mut Client, user: &str, status: Status) -> PresenceState {
    loop {
        let p = next_presence(client).await;
        if p.user == user && p.status == status {
            return p;
        }
    }
}

async fn befriend(a: &Client, b: &Client, b_name: &str, a_name: &str) {
    a.friend_request(b_name, "").await.expect("request");
    b.friend_accept(a_name).await.expect("accept");
}

async fn friend_presence(client: &Client, name: &str) -> PresenceState {
    let (friends, _) = client.friends().await.expect("friends");
    friends
        .into_iter()
        .find(|f| f.user.user == name)
        .and_then(|f| f.presence)
        .unwrap_or_else(|| panic!("{name} is not a friend with presence"))
}

async fn friends_see_online_status_changes_and_offline(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (alice, bob) = (unique("alice"), unique("bob"));
    let (a, _) = user(&url, &alice).await;
    let (mut b, _) = user(&url, &bob).await;
    befriend(&a, &b, &bob, &alice).await;
    // New friends learn each other's presence.
    assert_eq!(
        presence_until(&mut b, &alice, Status::Online).await.text,
        ""
    );
    assert_eq!(friend_presence(&b, &alice).await.status, Status::Online);

    let own = a
        .set_presence(Status::Busy, Some("开会中"))
        .await
        .expect("set");
    assert_eq!((own.status, own.text.as_str()), (Status::Busy, "开会中"));
    let seen = presence_until(&mut b, &alice, Status::Busy).await;
    assert_eq!(seen.text, "开会中");
    assert_eq!(friend_presence(&b, &alice).await, seen);

    a.close().await;
    let gone = presence_until(&mut b, &alice, Status::Offline).await;
    assert_eq!(gone.text, "", "offline carries no text");
    assert_eq!(friend_presence(&b, &alice).await.status, Status::Offline);

    // The chosen status survives the disconnect.
    let (_a, _) = user(&url, &alice).await;
    let back = presence_until(&mut b, &alice, Status::Busy).await;
    assert_eq!(back.text, "开会中");
}

async fn online_while_any_device_is_and_invisible_shows_offline(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (alice, bob, marker) = (unique("alice"), unique("bob"), unique("marker"));
    let (a1, _) = user(&url, &alice).await;
    let (mut a2, _) = user(&url, &alice).await;
    let (mut b, _) = user(&url, &bob).await;
    let (m, _) = user(&url, &marker).await;
    befriend(&a1, &b, &bob, &alice).await;
    presence_until(&mut b, &alice, Status::Online).await;

    // One device closing leaves alice online: no presence change at all.
    a1.close().await;
    tokio::time::sleep(
        magpie_server::presence::OFFLINE_GRACE + std::time::Duration::from_millis(500),
    )
    .await;
    assert_no_push_before_marker(&mut b, &m, &bob).await;
    assert_eq!(friend_presence(&b, &alice).await.status, Status::Online);

    // Invisible: bob sees offline, alice's other devices see invisible.
    let (a3, _) = user(&url, &alice).await;
    a3.set_presence(Status::Invisible, None).await.expect("set");
    let own = presence_until(&mut a2, &alice, Status::Invisible).await;
    assert_eq!(own.user, alice);
    presence_until(&mut b, &alice, Status::Offline).await;
    assert_eq!(friend_presence(&b, &alice).await.status, Status::Offline);
    a3.set_presence(Status::Away, Some("lunch"))
        .await
        .expect("set");
    assert_eq!(
        presence_until(&mut b, &alice, Status::Away).await.text,
        "lunch"
    );
}

async fn strangers_and_blocked_users_get_no_presence(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (alice, bob, carol, marker) = (
        unique("alice"),
        unique("bob"),
        unique("carol"),
        unique("marker"),
    );
    let (a, _) = user(&url, &alice).await;
    let (mut b, _) = user(&url, &bob).await;
    let (mut c, _) = user(&url, &carol).await;
    let (m, _) = user(&url, &marker).await;
    befriend(&a, &b, &bob, &alice).await;
    presence_until(&mut b, &alice, Status::Online).await;
    a.block(&bob).await.expect("block");
    // Bob sees an unfriend (and nothing more).
    assert!(matches!(
        next_change(&mut b).await.event,
        magpie_proto::ChangeEvent::FriendRemoved(_)
    ));

    a.set_presence(Status::Away, Some("secret"))
        .await
        .expect("set");
    let (a2, _) = user(&url, &alice).await;
    a2.close().await;
    // Neither the stranger nor the blocked ex-friend hears anything.
    assert_no_push_before_marker(&mut c, &m, &carol).await;
    assert_no_push_before_marker(&mut b, &m, &bob).await;
    assert!(b.friends().await.expect("friends").0.is_empty());
}

async fn bad_presence_input_is_refused(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (a, _) = user(&url, &unique("alice")).await;
    assert_eq!(
        code_of(a.set_presence(Status::Offline, None).await),
        "invalid_args"
    );
    assert_eq!(
        code_of(a.set_presence(Status::Away, Some(&"x".repeat(65))).await),
        "invalid_args"
    );
    assert_eq!(
        code_of(a.set_presence(Status::Away, Some("a\u{7}b")).await),
        "invalid_args"
    );
    let anon = connect(&url).await;
    assert_eq!(
        code_of(anon.set_presence(Status::Away, None).await),
        "not_authenticated"
    );
}
