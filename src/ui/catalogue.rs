//! The messages, one catalogue per language (`locales/<tag>.toml`, built
//! into the binary). Keys are dotted paths (`refusal.suspended.title`);
//! both catalogues have the same keys (a test says so).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::Lang;

/// What a page shows for a key no catalogue has: loud enough that the
/// untranslated-key test and a person both notice it.
pub const MISSING: &str = "⟦missing:";

type Catalogue = BTreeMap<String, String>;

pub fn source(lang: Lang) -> &'static str {
    match lang {
        Lang::ZhCn => include_str!("../../locales/zh-CN.toml"),
        Lang::En => include_str!("../../locales/en.toml"),
    }
}

fn catalogues() -> &'static [Catalogue; 2] {
    static LOADED: OnceLock<[Catalogue; 2]> = OnceLock::new();
    LOADED.get_or_init(|| Lang::ALL.map(parse))
}

fn parse(lang: Lang) -> Catalogue {
    let mut flat = Catalogue::new();
    match source(lang).parse::<toml::Table>() {
        Ok(table) => flatten("", &table, &mut flat),
        Err(e) => {
            tracing::error!(lang = lang.tag(), error = %e, "a message catalogue does not parse")
        }
    }
    flat
}

fn flatten(prefix: &str, table: &toml::Table, into: &mut Catalogue) {
    for (key, value) in table {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            toml::Value::Table(inner) => flatten(&path, inner, into),
            toml::Value::String(text) => {
                into.insert(path, text.clone());
            }
            _ => tracing::error!(key = path, "a catalogue message is not a string"),
        }
    }
}

fn of(lang: Lang) -> &'static Catalogue {
    let [zh, en] = catalogues();
    match lang {
        Lang::ZhCn => zh,
        Lang::En => en,
    }
}

/// The message for `key`, if the catalogue has it.
pub fn lookup(lang: Lang, key: &str) -> Option<&'static str> {
    of(lang).get(key).map(String::as_str)
}

/// The message for `key`, or a visible marker (and a log line).
pub fn text(lang: Lang, key: &str) -> String {
    match lookup(lang, key) {
        Some(text) => text.to_string(),
        None => {
            tracing::warn!(lang = lang.tag(), key, "a page asked for a message no catalogue has");
            format!("{MISSING}{key}⟧")
        }
    }
}

/// Every key of a language's catalogue.
pub fn keys(lang: Lang) -> impl Iterator<Item = &'static str> {
    of(lang).keys().map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_catalogues_parse_and_have_the_same_keys() {
        for lang in Lang::ALL {
            assert!(source(lang).parse::<toml::Table>().is_ok(), "{} parses", lang.tag());
        }
        let zh: Vec<_> = keys(Lang::ZhCn).collect();
        let en: Vec<_> = keys(Lang::En).collect();
        let only_zh: Vec<_> = zh.iter().filter(|k| !en.contains(k)).collect();
        let only_en: Vec<_> = en.iter().filter(|k| !zh.contains(k)).collect();
        assert!(
            only_zh.is_empty() && only_en.is_empty(),
            "zh only {only_zh:?}, en only {only_en:?}"
        );
        assert!(en.len() > 50, "the catalogues hold the pages' messages ({} keys)", en.len());
    }

    #[test]
    fn no_message_is_empty_or_left_in_the_other_language() {
        for key in keys(Lang::En) {
            let (zh, en) =
                (lookup(Lang::ZhCn, key).unwrap_or(""), lookup(Lang::En, key).unwrap_or(""));
            assert!(!zh.trim().is_empty() && !en.trim().is_empty(), "{key} is empty");
            assert!(
                !en.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{key}: Chinese in en"
            );
        }
    }

    /// Every `t("…")` a template or the code asks for exists.
    #[test]
    fn every_key_the_templates_use_exists() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        let mut used = Vec::new();
        collect_keys(std::path::Path::new(dir), &mut used);
        assert!(used.len() > 30, "the templates ask for their texts ({})", used.len());
        for key in used {
            for lang in Lang::ALL {
                assert!(lookup(lang, &key).is_some(), "{key} missing from {}", lang.tag());
            }
        }
    }

    fn collect_keys(dir: &std::path::Path, into: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("templates dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                collect_keys(&path, into);
                continue;
            }
            let source = std::fs::read_to_string(&path).expect("template");
            for piece in source.split("t(\"").skip(1) {
                // `t("status." ~ s)` builds its key: the render test covers it.
                if let Some(end) = piece.find('"').filter(|end| !piece[..*end].ends_with('.')) {
                    into.push(piece[..end].to_string());
                }
            }
        }
    }
}
