//! Devices end to end: each login is a device with a name and platform;
//! a user lists theirs and signs any out; exclusive platforms keep one
//! device per user. Both transports, a real server.

mod common;

use common::*;
use magpie_client::Client;
use magpie_proto::{Platform, Push};

on_both_transports!(
    devices_are_listed_with_platform_and_online_state,
    a_device_signed_out_remotely_is_closed_and_its_token_dies,
    a_new_mobile_login_replaces_the_old_one_but_desktops_coexist,
    devices_of_other_users_cannot_be_touched,
);

async fn login_on(url: &str, name: &str, device: &str, platform: Platform) -> (Client, String) {
    let client = connect(url).await;
    let auth = client
        .login_on(name, PASSWORD, Some(device), Some(platform))
        .await
        .expect("login");
    (client, auth.token.expect("token"))
}

async fn devices_are_listed_with_platform_and_online_state(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let alice = unique("alice");
    user(&url, &alice).await.0.close().await;
    let (laptop, _) = login_on(&url, &alice, "laptop", Platform::Desktop).await;
    let (phone, _) = login_on(&url, &alice, "小米手机", Platform::Mobile).await;
    phone.close().await;

    // The server notices the phone's disconnect on its own time.
    let deadline = tokio::time::Instant::now() + WAIT;
    let devices = loop {
        let devices = laptop.devices().await.expect("devices");
        let phone_online = devices.iter().any(|d| d.name == "小米手机" && d.online);
        if !phone_online || tokio::time::Instant::now() > deadline {
            break devices;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    // The registration login, the laptop and the phone, newest first.
    assert_eq!(devices.len(), 3, "{devices:?}");
    let by_name = |n: &str| devices.iter().find(|d| d.name == n).expect(n).clone();
    let (l, p) = (by_name("laptop"), by_name("小米手机"));
    assert_eq!(
        (l.platform, l.online, l.current),
        (Platform::Desktop, true, true)
    );
    assert_eq!(
        (p.platform, p.online, p.current),
        (Platform::Mobile, false, false)
    );
    assert!(p.last_seen >= p.created_at && p.created_at > 0);
    assert_eq!(l.id.len(), 16);
    assert_ne!(l.id, p.id);
}

async fn a_device_signed_out_remotely_is_closed_and_its_token_dies(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let alice = unique("alice");
    user(&url, &alice).await.0.close().await;
    let (laptop, _) = login_on(&url, &alice, "laptop", Platform::Desktop).await;
    let (mut tablet, tablet_token) = login_on(&url, &alice, "tablet", Platform::Desktop).await;
    let tablet_id = laptop
        .devices()
        .await
        .expect("devices")
        .into_iter()
        .find(|d| d.name == "tablet")
        .expect("tablet listed")
        .id;
    laptop.device_revoke(&tablet_id).await.expect("revoke");
    assert_eq!(next_goaway(&mut tablet).await.reason, "revoked");
    let again = connect(&url).await;
    assert_eq!(code_of(again.resume(&tablet_token).await), "invalid_token");
    assert!(
        laptop
            .devices()
            .await
            .expect("devices")
            .iter()
            .all(|d| d.id != tablet_id)
    );
    // Revoking it again: it is gone.
    assert_eq!(
        code_of(laptop.device_revoke(&tablet_id).await),
        "unknown_device"
    );
    // The laptop itself is untouched.
    laptop.ping().await.expect("still connected");
}

async fn a_new_mobile_login_replaces_the_old_one_but_desktops_coexist(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let alice = unique("alice");
    user(&url, &alice).await.0.close().await;
    let (mut old_phone, old_token) = login_on(&url, &alice, "old phone", Platform::Mobile).await;
    let (desk1, _) = login_on(&url, &alice, "desk 1", Platform::Desktop).await;
    let (desk2, _) = login_on(&url, &alice, "desk 2", Platform::Desktop).await;
    let (new_phone, _) = login_on(&url, &alice, "new phone", Platform::Mobile).await;

    assert_eq!(next_goaway(&mut old_phone).await.reason, "replaced");
    assert_eq!(
        code_of(connect(&url).await.resume(&old_token).await),
        "invalid_token"
    );
    for c in [&desk1, &desk2, &new_phone] {
        c.ping().await.expect("still connected");
    }
    let mobiles: Vec<_> = new_phone
        .devices()
        .await
        .expect("devices")
        .into_iter()
        .filter(|d| d.platform == Platform::Mobile)
        .collect();
    assert_eq!(mobiles.len(), 1);
    assert_eq!(mobiles[0].name, "new phone");
}

async fn devices_of_other_users_cannot_be_touched(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (alice, bob) = (unique("alice"), unique("bob"));
    let (a, _) = user(&url, &alice).await;
    let (mut b, _) = user(&url, &bob).await;
    let bobs_id = b.devices().await.expect("devices")[0].id.clone();
    assert_eq!(code_of(a.device_revoke(&bobs_id).await), "unknown_device");
    assert_eq!(
        code_of(a.device_revoke("not hex at all").await),
        "unknown_device"
    );
    // Bob's device is alive and well: a message still reaches it.
    a.send(&bob, "still there?").await.expect("send");
    loop {
        match b.next_push().await {
            Some(Push::Message(m)) => {
                assert_eq!(m.body, "still there?");
                break;
            }
            Some(Push::Goaway(g)) => panic!("bob was signed out: {g:?}"),
            Some(_) => {}
            None => panic!("closed"),
        }
    }
    assert!(
        a.devices()
            .await
            .expect("devices")
            .iter()
            .all(|d| d.id != bobs_id)
    );
    let anon = connect(&url).await;
    assert_eq!(code_of(anon.devices().await), "not_authenticated");
}
