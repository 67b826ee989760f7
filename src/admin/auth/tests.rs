use super::*;

#[test]
fn sign_in_only_ever_sends_an_operator_to_an_admin_page() {
    assert_eq!(admin_next(Some("/admin/tenants?q=x")), "/admin/tenants?q=x");
    assert_eq!(admin_next(Some("/admin")), "/admin");
    assert_eq!(admin_next(Some("//evil.example/admin")), "/admin");
    assert_eq!(admin_next(Some("https://evil.example/admin")), "/admin");
    assert_eq!(admin_next(Some("/administrator")), "/admin");
    assert_eq!(admin_next(None), "/admin");
}

#[test]
fn a_session_csrf_token_depends_on_the_session() {
    assert_ne!(session_csrf("a"), session_csrf("b"));
    assert_eq!(session_csrf("a"), session_csrf("a"));
}
