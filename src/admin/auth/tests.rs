use super::*;

#[test]
fn a_session_csrf_token_depends_on_the_session() {
    assert_ne!(session_csrf("a"), session_csrf("b"));
    assert_eq!(session_csrf("a"), session_csrf("a"));
}
