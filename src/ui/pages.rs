//! The page environment: templates of `templates/` (auto-escaped), the
//! `t` function that reads the catalogue of the page's language, and what
//! every page knows (its language, the switch link, the branding).

use actix_web::HttpRequest;
use minijinja::{context, Environment, State, Value};
use serde::Serialize;

use super::{catalogue, choose, Lang};
use crate::settings::UiSettings;

/// The vendor as end-user pages show it (`ui.*` settings).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Branding {
    pub vendor_name: String,
    pub support_contact: String,
    /// Where the contact links to: `mailto:` for an address, the URL
    /// itself for an http(s) URL, none for anything else (shown as text).
    pub support_href: Option<String>,
    pub logo_url: Option<String>,
}

impl Branding {
    pub fn from_settings(ui: &UiSettings) -> Branding {
        let contact = ui.support_contact.trim();
        let support_href = if contact.starts_with("https://") || contact.starts_with("http://") {
            Some(contact.to_string())
        } else if contact.contains('@') && !contact.contains(char::is_whitespace) {
            Some(format!("mailto:{contact}"))
        } else {
            None
        };
        let logo = ui.logo_url.trim();
        // Only a web address or a path of ours: never `javascript:` or data.
        let logo_url = (logo.starts_with("https://")
            || logo.starts_with("http://")
            || (logo.starts_with('/') && !logo.starts_with("//")))
        .then(|| logo.to_string());
        Branding {
            vendor_name: ui.vendor_name.trim().to_string(),
            support_contact: contact.to_string(),
            support_href,
            logo_url,
        }
    }
}

pub struct Pages {
    env: Environment<'static>,
    default_lang: Lang,
    branding: Branding,
}

impl Pages {
    pub fn new(env: Environment<'static>, ui: &UiSettings) -> Pages {
        let default_lang = Lang::parse(&ui.default_language).unwrap_or(Lang::ZhCn);
        let mut env = with_messages(env);
        // Settings are validated before pages are made; UTC is the fallback
        // of a zone that somehow is not one.
        let zone = super::time::zone(&ui.time_zone).unwrap_or(chrono_tz::UTC);
        env.add_filter("local_time", move |value: &str| super::time::local_time(value, zone));
        Pages { env, default_lang, branding: Branding::from_settings(ui) }
    }

    /// The language this request's pages speak.
    pub fn lang(&self, req: &HttpRequest) -> Lang {
        choose(req, self.default_lang)
    }

    /// Renders `name` for this request: `view`'s fields, plus `lang`,
    /// `switch` (the other language and its link), and `brand`.
    pub fn render<T: Serialize>(
        &self,
        req: &HttpRequest,
        name: &str,
        view: T,
    ) -> Result<String, minijinja::Error> {
        let lang = self.lang(req);
        let here = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let other = lang.other();
        let next: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
        let switch = context! {
            lang => other.tag(),
            name => catalogue::text(other, "language.name"),
            href => format!("/language?set={}&next={next}", other.tag()),
        };
        let base = context! { lang => lang.tag(), switch, brand => &self.branding };
        self.env.get_template(name)?.render(context! { ..Value::from_serialize(&view), ..base })
    }
}

/// Adds `t(key)`: the message in the language of the page being rendered.
pub fn with_messages(mut env: Environment<'static>) -> Environment<'static> {
    env.add_function("t", |state: &State, key: &str| -> String {
        catalogue::text(page_lang(state), key)
    });
    // For open sets (result codes, activities): words when the catalogue
    // has them, nothing otherwise.
    env.add_function("explain", |state: &State, key: &str| -> String {
        catalogue::lookup(page_lang(state), key).unwrap_or("").to_string()
    });
    env
}

fn page_lang(state: &State) -> Lang {
    state.lookup("lang").and_then(|v| v.as_str().and_then(Lang::parse)).unwrap_or(Lang::En)
}
