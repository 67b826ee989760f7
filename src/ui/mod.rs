//! What every page a person sees shares: the language it speaks (from
//! the `koogate_lang` cookie, then `Accept-Language`, then
//! `ui.default_language`), the messages of `locales/*.toml`, and the
//! vendor's branding. Templates say `{{ t("key") }}`; see README
//! "Adding a page or a message".

pub mod catalogue;
pub mod handlers;
pub mod pages;
pub mod time;

pub use pages::{Branding, Pages};

use actix_web::http::header;
use actix_web::HttpRequest;

/// The cookie that remembers a language chosen by its link.
pub const LANG_COOKIE: &str = "koogate_lang";

/// The languages koogate speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    ZhCn,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::ZhCn, Lang::En];

    /// Its BCP 47 tag, as `<html lang>` and the settings spell it.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::ZhCn => "zh-CN",
            Lang::En => "en",
        }
    }

    /// A tag as settings, the cookie and the switch link give it.
    pub fn parse(tag: &str) -> Option<Lang> {
        match tag {
            "zh-CN" => Some(Lang::ZhCn),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// A language range of `Accept-Language` (`zh`, `zh-Hans-CN`, `en-US`).
    fn from_range(range: &str) -> Option<Lang> {
        let primary = range.split('-').next().unwrap_or("").to_ascii_lowercase();
        match primary.as_str() {
            "zh" => Some(Lang::ZhCn),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The other language, which the switch link offers.
    pub fn other(self) -> Lang {
        match self {
            Lang::ZhCn => Lang::En,
            Lang::En => Lang::ZhCn,
        }
    }
}

/// The language for this request: the remembered choice, else the
/// browser's most preferred language we speak, else `default`.
pub fn choose(req: &HttpRequest, default: Lang) -> Lang {
    if let Some(lang) = req.cookie(LANG_COOKIE).and_then(|c| Lang::parse(c.value())) {
        return lang;
    }
    req.headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(preferred)
        .unwrap_or(default)
}

/// The best of an `Accept-Language` value (RFC 9110 §12.5.4) we speak.
fn preferred(value: &str) -> Option<Lang> {
    let mut best: Option<(Lang, f32)> = None;
    for item in value.split(',') {
        let mut parts = item.split(';');
        let range = parts.next().unwrap_or("").trim();
        let quality = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let Some(lang) = Lang::from_range(range) else { continue };
        if quality > 0.0 && best.is_none_or(|(_, q)| quality > q) {
            best = Some((lang, quality));
        }
    }
    best.map(|(lang, _)| lang)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browsers_preference_order_is_kept() {
        assert_eq!(preferred("zh-CN,zh;q=0.9,en;q=0.8"), Some(Lang::ZhCn));
        assert_eq!(preferred("en-US,en;q=0.9"), Some(Lang::En));
        assert_eq!(preferred("fr-FR, en;q=0.5, zh;q=0.7"), Some(Lang::ZhCn));
        assert_eq!(preferred("de, zh;q=0"), None);
        assert_eq!(preferred("zh-Hant-TW;q=0.4, en;q=0.6"), Some(Lang::En));
        assert_eq!(preferred(""), None);
    }
}
