use super::*;

fn load(overrides: &[(&str, &str)]) -> Settings {
    let sources = Sources {
        overrides: overrides.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..Sources::default()
    };
    Settings::load(&sources).expect("settings load").0
}

#[test]
fn defaults_match_the_published_contract() {
    let s = load(&[]);
    assert_eq!(s.server.bind, "127.0.0.1:8080");
    assert_eq!(s.database.url.expose_secret(), "sqlite://koogate.db?mode=rwc");
    assert_eq!(s.marketplace.path, "/koogallery");
    assert_eq!(s.marketplace.timestamp_tolerance_secs, 60);
    assert_eq!(s.marketplace.v1_timestamp_tolerance_secs, 300);
    assert_eq!(s.marketplace.max_kit_body_bytes, 8_388_608);
    assert_eq!(
        s.provisioning.front_end_url,
        "http://127.0.0.1:8080/sso/login?instance={instanceId}"
    );
    assert_eq!(s.sso.cookie_secure, Some(false));
    assert!(s.access_keys().is_empty());
}

#[test]
fn key_lists_split_on_commas_and_kit_keys_default_to_lifecycle_keys() {
    let s = load(&[("marketplace.access_key", "new-key, old-key")]);
    assert_eq!(s.access_keys(), vec!["new-key", "old-key"]);
    assert_eq!(s.kit_access_keys(), vec!["new-key", "old-key"]);
}

#[test]
fn secrets_are_redacted_in_debug_output() {
    let s = load(&[("marketplace.access_key", "very-secret-key-123")]);
    let shown = format!("{s:?}");
    assert!(!shown.contains("very-secret-key-123"));
}

#[test]
fn a_secret_can_come_from_a_file_named_in_the_config_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key_path = dir.path().join("ak.txt");
    std::fs::write(&key_path, "from-file-key\n").expect("write key");
    let toml_path = dir.path().join("koogate.toml");
    std::fs::write(
        &toml_path,
        format!("[marketplace]\naccess_key_file = \"{}\"\n", key_path.display()),
    )
    .expect("write toml");
    let sources = Sources { file: Some(toml_path), ..Sources::default() };
    let (s, _) = Settings::load(&sources).expect("load");
    assert_eq!(s.access_keys(), vec!["from-file-key"]);
}

#[test]
fn bad_enum_values_are_refused_at_start() {
    let sources = Sources {
        overrides: vec![("marketplace.encrypt_type".into(), "3".into())],
        ..Sources::default()
    };
    assert!(Settings::load(&sources).is_err());
}

#[test]
fn the_open_api_is_off_by_default_and_on_the_china_site_with_its_fallback() {
    let s = load(&[]);
    assert!(!s.open_api.enabled());
    assert_eq!(s.open_api.site, Site::Cn);
    assert_eq!(s.open_api.max_requests_per_sec, 10);
    assert_eq!(s.open_api.reconcile_interval_secs, 86_400);
    assert_eq!(
        s.open_api.base_urls(),
        vec!["https://mkt.myhuaweicloud.com", "https://mkt.myhuaweicloud.cn"]
    );
    let eu = load(&[("open_api.site", "eu")]);
    assert_eq!(eu.open_api.base_urls(), vec!["https://mkt.myhuaweicloud.eu"]);
    let intl = load(&[("open_api.site", "intl"), ("open_api.base_url", "http://127.0.0.1:9100/")]);
    assert_eq!(intl.open_api.base_urls(), vec!["http://127.0.0.1:9100"]);
}

#[test]
fn open_api_keys_are_secret_and_go_together() {
    let s = load(&[
        ("open_api.access_key_id", "AKEXAMPLE123"),
        ("open_api.secret_access_key", "sk-very-secret-456"),
    ]);
    assert!(s.open_api.enabled());
    let shown = format!("{s:?}");
    assert!(!shown.contains("AKEXAMPLE123") && !shown.contains("sk-very-secret-456"));
    let half = Sources {
        overrides: vec![("open_api.access_key_id".into(), "AK".into())],
        ..Sources::default()
    };
    assert!(Settings::load(&half).is_err());
    let bad_site =
        Sources { overrides: vec![("open_api.site".into(), "us".into())], ..Sources::default() };
    assert!(Settings::load(&bad_site).is_err());
}

#[test]
fn environment_names_map_to_setting_keys() {
    assert_eq!(
        env_key("KOOGATE__MARKETPLACE__ACCESS_KEY").as_deref(),
        Some("marketplace.access_key")
    );
    assert_eq!(env_key("OTHER"), None);
}
