//! What a hostile marketplace caller tried (issue 13): inputs that can
//! never succeed, replayed V1 state changes, personal fields in the event
//! log, floods of forged calls, guessed passwords.

use serde_json::json;

use crate::helpers::*;

fn v1_time(offset_ms: i64, zone_hours: i32) -> String {
    koogate::marketplace::timestamp::format_v1(
        chrono::Utc::now() + chrono::Duration::milliseconds(offset_ms),
        zone_hours,
    )
}

/// A NUL can never be stored (PostgreSQL refuses it in text): the caller
/// must hear "bad request", not "retry" nor "done", on both databases.
async fn a_nul_character_is_a_bad_request_everywhere(app: TestApp) {
    let order_id = random_id("CS");
    let body = json!({
        "activity": "newInstance",
        "orderId": order_id,
        "orderLineId": format!("{order_id}-1"),
        "businessId": "biz-\u{0}-nul",
        "customerName": "Buyer\u{0}Co",
        "testFlag": "0",
    })
    .to_string();
    refused(&app, "V2 newInstance with a NUL", "000002", app.v2(&body)).await;

    let (_, bought) = app.buy().await;
    let id = bought.json["instanceId"].as_str().expect("id").to_string();
    let freeze = [
        ("activity", "instanceStatus"),
        ("instanceId", id.as_str()),
        ("instanceStatus", "FREEZE\u{0}"),
    ];
    refused(&app, "V1 instanceStatus with a NUL", "000002", app.v1(&freeze)).await;
    let upgrade = json!({"activity": "upgrade", "instanceId": id, "orderId": "O\u{0}1",
        "orderLineId": "L1", "productId": "p", "skuCode": "s"})
    .to_string();
    refused(&app, "V2 upgrade with a NUL", "000002", app.v2(&upgrade)).await;
}
on_both_backends!(a_nul_character_is_a_bad_request_everywhere);

/// A captured V1 NORMAL sent again after a later FREEZE must not unfreeze.
async fn a_replayed_older_v1_state_change_is_stale(app: TestApp) {
    let (_, bought) = app.buy().await;
    let id = bought.json["instanceId"].as_str().expect("id").to_string();
    let earlier = v1_time(-2000, 0);
    let normal = [
        ("activity", "instanceStatus"),
        ("instanceId", id.as_str()),
        ("instanceStatus", "NORMAL"),
        ("timeStamp", earlier.as_str()),
    ];
    assert_eq!(app.v1(&normal).await.code(), "000000");
    let later = v1_time(0, 0);
    let freeze = [
        ("activity", "instanceStatus"),
        ("instanceId", id.as_str()),
        ("instanceStatus", "FREEZE"),
        ("timeStamp", later.as_str()),
    ];
    assert_eq!(app.v1(&freeze).await.code(), "000000");
    assert_eq!(app.instance(&id).await["status"], "frozen");

    let replayed = app.v1(&normal).await;
    assert_eq!(replayed.code(), "000000", "{:?}", replayed.json);
    replayed.assert_signed_with(ACCESS_KEY);
    assert_eq!(app.instance(&id).await["status"], "frozen", "the replay unfroze the instance");
    let event = app.last_event().await;
    assert_eq!(event.result_code, "000000");
    assert!(
        event.detail.as_deref().is_some_and(|d| d.contains("\"stale\":true")),
        "the replay is recorded as stale: {:?}",
        event.detail
    );
    // The same FREEZE again (same timeStamp) is not older: still harmless.
    assert_eq!(app.v1(&freeze).await.code(), "000000");
    assert_eq!(app.instance(&id).await["status"], "frozen");
}
on_both_backends!(a_replayed_older_v1_state_change_is_stale);

/// A captured Kit V1 tenant add sent after the tenant was deleted.
async fn a_replayed_kit_v1_tenant_add_does_not_revive_a_deleted_tenant(app: TestApp) {
    let (order_id, bought) = app.buy().await;
    let enterprise = Enterprise {
        tenant_id: random_id("tenant-"),
        instance_id: bought.json["instanceId"].as_str().expect("id").into(),
        order_id,
    };
    let mut add = enterprise.tenant_sync(1);
    add["timeStamp"] = json!(v1_time(-2000, 8));
    app.kit_v1("tenantSync", &add).await.assert_kit_ok();
    let mut delete = enterprise.tenant_sync(0);
    delete["timeStamp"] = json!(v1_time(0, 8));
    app.kit_v1("tenantSync", &delete).await.assert_kit_ok();
    assert_eq!(app.tenant(&enterprise.tenant_id).await["deleted"], true);

    app.kit_v1("tenantSync", &add).await.assert_kit_ok();
    assert_eq!(
        app.tenant(&enterprise.tenant_id).await["deleted"],
        true,
        "the replayed add brought the tenant back"
    );
    let event = app.last_event().await;
    assert!(
        event.detail.as_deref().is_some_and(|d| d.contains("\"stale\":true")),
        "{:?}",
        event.detail
    );
}
kit_on_both_backends!(a_replayed_kit_v1_tenant_add_does_not_revive_a_deleted_tenant);

/// The event log keeps in clear only fields known to be safe: a personal
/// field nobody listed (`phone`, `idCard`) is masked too, at any depth and
/// inside lists sent as strings, with or without leading spaces.
async fn the_event_log_keeps_only_known_safe_fields_in_clear(app: TestApp) {
    let order_id = random_id("CS");
    let mut body: serde_json::Value =
        serde_json::from_str(&new_instance_body(&order_id, &random_id("biz-"))).expect("json");
    body["phone"] = json!("13911112222");
    body["buyerInfo"] = json!({"customerId": "c-1", "idCard": "110101199003077777",
        "contacts": [{"homeAddress": "1 Secret Road"}]});
    let bought = app.v2(&body.to_string()).await;
    assert_eq!(bought.code(), "000000", "{:?}", bought.json);
    let kept = app.last_event().await.request;
    for secret in ["13911112222", "110101199003077777", "1 Secret Road"] {
        assert!(!kept.contains(secret), "{secret} kept in clear: {kept}");
    }
    assert!(kept.contains(&order_id), "a safe field (orderId) stays readable: {kept}");

    let enterprise = app.bound_enterprise().await;
    let mut frank = person("frank", "Frank", "D1", "admin", "true");
    frank["extension"] = json!({"phone": "13700000007", "idCard": "440101199001011234"});
    let users = format!("   {}", json!([frank]));
    let grant = enterprise.auth_sync(1, "20240101000000000", json!(users));
    app.kit_v2("authSync", &grant).await;
    let kept = app.last_event().await.request;
    for secret in ["13700000007", "440101199001011234", "Frank"] {
        assert!(!kept.contains(secret), "{secret} kept in clear: {kept}");
    }
    assert!(kept.contains(&enterprise.tenant_id), "tenantId stays readable: {kept}");
}
kit_on_both_backends!(the_event_log_keeps_only_known_safe_fields_in_clear);

/// 200 wrong admin passwords sent at once, the right one among them: the
/// limit of 5 failed attempts holds, so at most 5 passwords are checked
/// in all (the right one counting as a check if it got through).
async fn a_burst_of_guesses_gets_at_most_five_password_checks(app: TestApp) {
    let operator = Operator::new(&app);
    let form = operator.open("/admin/login").await;
    let csrf = csrf_token(&form);
    let url = format!("{}/admin/login", app.address);
    let mut guesses = Vec::new();
    for i in 0..201 {
        let client = operator.browser.client().clone();
        let (url, csrf) = (url.clone(), csrf.clone());
        let password = if i == 100 { ADMIN_PASSWORD.to_string() } else { format!("guess {i}") };
        guesses.push(tokio::spawn(async move {
            let form = [("username", ADMIN_USER), ("password", &password), ("csrf_token", &csrf)];
            let status = client.post(url).form(&form).send().await.expect("sent").status();
            (i, status.as_u16())
        }));
    }
    let (mut checked, mut limited, mut busy) = (0, 0, 0);
    for guess in guesses {
        let (i, status) = guess.await.expect("joined");
        match status {
            401 => checked += 1,
            303 if i == 100 => checked += 1,
            429 => limited += 1,
            // Retry later: a sign-in under load may wait for the writer.
            409 | 503 => busy += 1,
            other => panic!("guess {i}: unexpected HTTP {other}"),
        }
    }
    assert!(
        checked <= 5,
        "{checked} passwords were checked, {limited} refused by the limit, {busy} answered 409/503"
    );
}
on_both_backends!(
    a_burst_of_guesses_gets_at_most_five_password_checks,
    &crate::helpers::admin_settings()
);

/// A forged call (wrong key) costs almost nothing: its event keeps its
/// size and a hash, not its body, however large the body was.
async fn a_forged_call_leaves_only_a_bounded_record(app: TestApp) {
    let padding = "7".repeat(1 << 20);
    // Under a field the log keeps in clear, so only the refusal bounds it.
    let body = json!({"tenantId": "t-forged", "phone": "13911112222", "orderId": padding});
    let forged = KitOptions { key: "not-the-key".into(), ..KitOptions::default() };
    let reply = app.kit_v2_with("tenantSync", body.to_string().into_bytes(), forged).await;
    assert_eq!(reply.code(), "000001", "{:?}", reply.json);
    let event = app.last_event().await;
    assert_eq!((event.channel.as_str(), event.result_code.as_str()), ("kit_v2", "000001"));
    assert!(event.request.len() <= 1024, "a forged 1 MiB call kept {} bytes", event.request.len());
    assert!(
        event.request.contains(&format!("\"bytes\":{}", body.to_string().len())),
        "{}",
        event.request
    );
    assert!(!event.request.contains("13911112222"), "{}", event.request);

    let lifecycle = json!({"activity": "newInstance", "orderId": "7".repeat(60_000)});
    let forged = V2Options { key: "not-the-key".into(), ..V2Options::default() };
    let reply = app.v2_with(lifecycle.to_string().into_bytes(), forged).await;
    assert_eq!(reply.code(), "000001");
    let event = app.last_event().await;
    assert!(
        event.request.len() <= 1024,
        "a forged lifecycle call kept {} bytes",
        event.request.len()
    );
}
kit_on_both_backends!(a_forged_call_leaves_only_a_bounded_record);

/// A Kit post whose headers alone cannot authenticate (a signature that
/// is not one) is answered before any of its 8 MiB body is sent, and
/// recorded by the size it announced.
async fn a_forged_kit_post_is_refused_before_its_body_is_read(app: TestApp) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream =
        tokio::net::TcpStream::connect(("127.0.0.1", app.port)).await.expect("connect");
    let head = format!(
        "POST {}/produceAPI/v2/tenantSync HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Content-Type: application/json\r\nContent-Length: 8388608\r\n\
         x-sign: 00\r\nx-timestamp: {}\r\nx-nonce: n-forged\r\n\r\n",
        app.marketplace_path,
        chrono::Utc::now().timestamp_millis()
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(std::time::Duration::from_secs(3), stream.read(&mut answer))
        .await
        .expect("answered without the body")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let event = app.last_event().await;
    assert_eq!((event.channel.as_str(), event.result_code.as_str()), ("kit_v2", "000001"));
    assert!(event.request.contains("\"announced_bytes\":8388608"), "{}", event.request);
}
kit_on_both_backends!(a_forged_kit_post_is_refused_before_its_body_is_read);

/// A flood of forged Kit posts (well-formed signatures under the wrong
/// key, so every body is read and checked) while the marketplace makes
/// genuine calls: each genuine call is answered `000000`, every forged one
/// `000001`, and the event log grows by at most one small row per call.
/// (How long the genuine calls take under the flood is measured by
/// `bench/forged_flood.sh`, not asserted here.)
async fn a_flood_of_forged_posts_leaves_genuine_calls_answered(app: TestApp) {
    const FORGED: usize = 300;
    let before = app.events().await.len();
    let body = json!({"tenantId": "t-forged", "orderId": "7".repeat(256 * 1024)}).to_string();
    let mut flood = tokio::task::JoinSet::new();
    for n in 0..FORGED {
        let (app, body) = (app.at(&app.address), body.clone().into_bytes());
        flood.spawn(async move {
            let forged = KitOptions {
                key: "not-the-key".into(),
                nonce: format!("forged-{n}"),
                ..KitOptions::default()
            };
            app.kit_v2_with("tenantSync", body, forged).await.code().to_string()
        });
    }
    let mut genuine = 0;
    while flood.len() > FORGED / 2 {
        let (_, bought) = app.buy().await;
        assert_eq!(bought.code(), "000000");
        genuine += 1;
        flood.join_next().await;
    }
    while let Some(code) = flood.join_next().await {
        assert_eq!(code.expect("joined"), "000001");
    }
    let (_, bought) = app.buy().await;
    assert_eq!(bought.code(), "000000", "a genuine call after the flood");
    let events = app.events().await;
    let grown = events.len() - before;
    assert!(grown <= FORGED + genuine + 1, "{grown} events for {FORGED} forged calls");
    let refused: Vec<_> = events.iter().filter(|e| e.refused).collect();
    assert!(refused.iter().all(|e| e.request.len() <= 1024), "a refused call kept its body");
}
kit_on_both_backends!(a_flood_of_forged_posts_leaves_genuine_calls_answered);

/// An old event, as a replica of long ago would have written it.
fn old_event(days_ago: i64, refused: bool, marker: &str) -> entity::event::ActiveModel {
    use sea_orm::Set;
    entity::event::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        received_at: Set(chrono::Utc::now() - chrono::Duration::days(days_ago)),
        channel: Set("kit_v2".into()),
        activity: Set("tenantSync".into()),
        result_code: Set(if refused { "000001" } else { "000000" }.into()),
        result_msg: Set("x".into()),
        instance_id: Set(None),
        tenant_id: Set(Some(marker.into())),
        order_id: Set(None),
        test_flag: Set(false),
        duration_ms: Set(1),
        request: Set("{}".into()),
        response: Set("{}".into()),
        replay_of: Set(None),
        detail: Set(None),
        replay_sealed: Set(None),
        refused: Set(refused),
    }
}

/// Housekeeping applies the retention: refused calls go after
/// `events.refused_retention_days`, authenticated ones stay longer.
#[tokio::test]
async fn the_event_log_forgets_refused_calls_sooner_than_authenticated_ones() {
    use sea_orm::EntityTrait;
    let Some(app) = spawn_postgres_app(KIT_SETTINGS).await else { return };
    let rows = vec![
        old_event(10, true, "old-refused"),
        old_event(10, false, "old-authenticated"),
        old_event(1, true, "recent-refused"),
    ];
    entity::event::Entity::insert_many(rows).exec_without_returning(&app.db).await.expect("insert");
    // A replica's housekeeping runs its first round as it starts.
    let _replica = app.replica(KIT_SETTINGS).await;
    let mut kept = Vec::new();
    for _ in 0..50 {
        kept = app.events().await.into_iter().filter_map(|e| e.tenant_id).collect::<Vec<_>>();
        if !kept.iter().any(|t| t == "old-refused") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!kept.iter().any(|t| t == "old-refused"), "an old refused call stayed: {kept:?}");
    assert!(kept.iter().any(|t| t == "old-authenticated"), "{kept:?}");
    assert!(kept.iter().any(|t| t == "recent-refused"), "{kept:?}");
}

/// A caller forging calls waits half a second for each refusal, so a
/// hundred connections of forgeries get at most a few hundred answers a
/// second instead of thousands (what that leaves genuine calls is
/// measured by `bench/forged_flood.sh`); the refusal itself is unchanged.
async fn a_forged_call_waits_for_its_refusal(app: TestApp) {
    let forged = KitOptions { key: "not-the-key".into(), ..KitOptions::default() };
    let asked = std::time::Instant::now();
    let reply = app
        .kit_v2_with("tenantSync", json!({"tenantId": "t"}).to_string().into_bytes(), forged)
        .await;
    let waited = asked.elapsed();
    assert_eq!(reply.code(), "000001", "{:?}", reply.json);
    assert!(waited >= std::time::Duration::from_millis(500), "answered after {waited:?}");

    let forged = V2Options { key: "not-the-key".into(), ..V2Options::default() };
    let asked = std::time::Instant::now();
    let reply =
        app.v2_with(json!({"activity": "newInstance"}).to_string().into_bytes(), forged).await;
    assert_eq!(reply.code(), "000001");
    assert!(
        asked.elapsed() >= std::time::Duration::from_millis(500),
        "answered after {:?}",
        asked.elapsed()
    );
}
kit_on_both_backends!(a_forged_call_waits_for_its_refusal);
