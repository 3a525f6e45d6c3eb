//! The one template engine for every text sunset writes: notices on every
//! channel, the account managers' briefs and the customer's pages. It is
//! minijinja with HTML auto-escaping; the words live in templates, one per
//! channel, kind and language (tiers branch inside them), and a campaign
//! may override any of them, per locale and per tier.
//!
//! A template is written once and rendered twice for e-mail: registered as
//! `<name>.html` (auto-escaped, laid out by `layout/email.html`) and as
//! `<name>.txt` (as written, `layout/email.txt`). The helpers in
//! [`helpers`] write each part's form, so the two parts always say the
//! same.
//!
//! Names: `<channel>/<kind>[.<tier>].<locale>`, e.g. `email/reminder.en`,
//! `email/announcement.core.zh-CN`, `email/base.en-US`. A message takes
//! the most specific template there is: the tier and the reader's own
//! locale, then their language, then the built-in one.

pub mod atom;
pub mod format;
mod helpers;
pub mod ics;
mod names;
pub mod sms;

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, context};
use serde::Serialize;

pub use names::{Channel, Kind, NameError, TemplateName};

use crate::domain::Locale;
use crate::domain::tier::Tier;

/// A rendered text message and the template that wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub template: String,
    pub text: String,
    pub segments: sms::Segments,
}

/// A rendered message: its subject, its two bodies and any file it
/// carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The template that wrote it: the campaign's own or a built-in one.
    pub template: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub attachments: Vec<Attachment>,
}

/// A file sent with a message: the announcement's calendar of key dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    /// The MIME type with its parameters: `text/calendar; charset=utf-8; method=PUBLISH`.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// A template failed while rendering (an operator's template that uses
    /// a value a message does not have, say). The message names the
    /// template and its line.
    #[error("template {template}: {source}")]
    Render {
        template: String,
        #[source]
        source: minijinja::Error,
    },
    #[error("no template {0} (neither the campaign's nor a built-in one)")]
    Missing(String),
    /// A text message longer than two segments.
    #[error(
        "template {template}: the text takes {segments} segments ({units} {encoding} units); \
         keep it to 2 (306 characters, or 134 when it holds Chinese)"
    )]
    TooLong {
        template: String,
        segments: u32,
        units: u32,
        encoding: &'static str,
    },
}

/// An operator's template that cannot be saved: which one and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct OverrideError {
    pub name: String,
    pub reason: String,
}

/// How much work one render of an operator's template may do: far above
/// any notice, far below a loop that would stall a wave.
const FUEL: u64 = 2_000_000;

/// The built-in templates, in the binary.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "sms/announcement.en",
        include_str!("../templates/sms/announcement.en.j2"),
    ),
    (
        "sms/announcement.zh-CN",
        include_str!("../templates/sms/announcement.zh-CN.j2"),
    ),
    (
        "sms/reminder.en",
        include_str!("../templates/sms/reminder.en.j2"),
    ),
    (
        "sms/reminder.zh-CN",
        include_str!("../templates/sms/reminder.zh-CN.j2"),
    ),
    (
        "email/base.en",
        include_str!("../templates/email/base.en.j2"),
    ),
    (
        "email/base.zh-CN",
        include_str!("../templates/email/base.zh-CN.j2"),
    ),
    (
        "email/announcement.en",
        include_str!("../templates/email/announcement.en.j2"),
    ),
    (
        "email/announcement.zh-CN",
        include_str!("../templates/email/announcement.zh-CN.j2"),
    ),
    (
        "email/reminder.en",
        include_str!("../templates/email/reminder.en.j2"),
    ),
    (
        "email/reminder.zh-CN",
        include_str!("../templates/email/reminder.zh-CN.j2"),
    ),
    (
        "email/service-ended.en",
        include_str!("../templates/email/service-ended.en.j2"),
    ),
    (
        "email/service-ended.zh-CN",
        include_str!("../templates/email/service-ended.zh-CN.j2"),
    ),
    (
        "email/deletion-warning.en",
        include_str!("../templates/email/deletion-warning.en.j2"),
    ),
    (
        "email/deletion-warning.zh-CN",
        include_str!("../templates/email/deletion-warning.zh-CN.j2"),
    ),
    (
        "email/deadline.en",
        include_str!("../templates/email/deadline.en.j2"),
    ),
    (
        "email/deadline.zh-CN",
        include_str!("../templates/email/deadline.zh-CN.j2"),
    ),
    (
        "email/export-ready.en",
        include_str!("../templates/email/export-ready.en.j2"),
    ),
    (
        "email/export-ready.zh-CN",
        include_str!("../templates/email/export-ready.zh-CN.j2"),
    ),
    (
        "email/deletion-done.en",
        include_str!("../templates/email/deletion-done.en.j2"),
    ),
    (
        "email/deletion-done.zh-CN",
        include_str!("../templates/email/deletion-done.zh-CN.j2"),
    ),
    (
        "email/brief.en",
        include_str!("../templates/email/brief.en.j2"),
    ),
    (
        "page/portal.en",
        include_str!("../templates/page/portal.en.j2"),
    ),
    (
        "page/portal.zh-CN",
        include_str!("../templates/page/portal.zh-CN.j2"),
    ),
    (
        "in-app/banner.en",
        include_str!("../templates/in-app/banner.en.j2"),
    ),
    (
        "in-app/banner.zh-CN",
        include_str!("../templates/in-app/banner.zh-CN.j2"),
    ),
    (
        "page/public.en",
        include_str!("../templates/page/public.en.j2"),
    ),
    (
        "page/public.zh-CN",
        include_str!("../templates/page/public.zh-CN.j2"),
    ),
    (
        "page/error.en",
        include_str!("../templates/page/error.en.j2"),
    ),
    (
        "page/error.zh-CN",
        include_str!("../templates/page/error.zh-CN.j2"),
    ),
];

/// Layouts, page shells: one form each, named with it.
const LAYOUTS: &[(&str, &str)] = &[
    (
        "layout/email.html",
        include_str!("../templates/layout/email.html"),
    ),
    (
        "layout/email.txt",
        include_str!("../templates/layout/email.txt"),
    ),
    (
        "layout/page.html",
        include_str!("../templates/layout/page.html"),
    ),
];

/// The forms one template source is rendered in.
const FORMS: [&str; 2] = ["html", "txt"];

pub struct Templates {
    env: Environment<'static>,
    /// Every template name (without its form) this set can render.
    names: HashSet<String>,
    /// The names a campaign set over the built-in ones.
    overrides: HashSet<String>,
}

impl Templates {
    fn empty() -> Templates {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        // A misspelt value is an error when the template is saved, never a
        // blank in a customer's mail.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        helpers::register(&mut env);
        // Escapes what HTML needs and no more: a URL keeps its slashes
        // (`https://…`, not `https:&#x2f;&#x2f;…`), as in the helpers'
        // output, so the source of a mail reads as it was written.
        env.set_formatter(|out, state, value| {
            if matches!(state.auto_escape(), AutoEscape::Html)
                && !value.is_safe()
                && !value.is_none()
                && !value.is_undefined()
            {
                out.write_str(&helpers::escape(&value.to_string()))
                    .map_err(|e| {
                        minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string())
                    })
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        for (name, source) in LAYOUTS {
            env.add_template(name, source)
                .expect("built-in layouts parse");
        }
        let mut t = Templates {
            env,
            names: HashSet::new(),
            overrides: HashSet::new(),
        };
        for (name, source) in BUILT_IN {
            t.add(name, (*source).to_owned())
                .expect("built-in templates parse");
        }
        t
    }

    fn add(&mut self, name: &str, source: String) -> Result<(), minijinja::Error> {
        for form in FORMS {
            self.env
                .add_template_owned(format!("{name}.{form}"), source.clone())?;
        }
        self.names.insert(name.to_owned());
        Ok(())
    }

    /// The built-in templates alone.
    pub fn built_in() -> &'static Templates {
        static BUILT_IN: OnceLock<Templates> = OnceLock::new();
        BUILT_IN.get_or_init(Templates::empty)
    }

    /// The built-in templates with a campaign's own over them. Each name is
    /// checked and each source compiled; rendering them against sample
    /// messages is the caller's check (it knows the messages).
    pub fn with_overrides(
        overrides: &BTreeMap<String, String>,
    ) -> Result<Templates, OverrideError> {
        let mut t = Templates::empty();
        if !overrides.is_empty() {
            t.env.set_fuel(Some(FUEL));
        }
        for (name, source) in overrides {
            let fail = |reason: String| OverrideError {
                name: name.clone(),
                reason,
            };
            let parsed = TemplateName::parse(name).map_err(|e| fail(e.to_string()))?;
            if source.len() > names::MAX_SOURCE {
                return Err(fail(format!(
                    "is {} bytes long; a template may be at most {} bytes",
                    source.len(),
                    names::MAX_SOURCE
                )));
            }
            t.add(&parsed.to_string(), source.clone())
                .map_err(|e| fail(describe(&e)))?;
            t.overrides.insert(parsed.to_string());
        }
        Ok(t)
    }

    /// The templates a campaign's messages are rendered with. Built once
    /// per distinct set of overrides and shared: a wave renders thousands
    /// of messages with the same set.
    pub fn for_overrides(
        overrides: &BTreeMap<String, String>,
    ) -> Result<Arc<Templates>, OverrideError> {
        static SETS: OnceLock<Mutex<HashMap<u64, Arc<Templates>>>> = OnceLock::new();
        static NONE: OnceLock<Arc<Templates>> = OnceLock::new();
        if overrides.is_empty() {
            return Ok(NONE.get_or_init(|| Arc::new(Templates::empty())).clone());
        }
        let mut hasher = DefaultHasher::new();
        overrides.hash(&mut hasher);
        let key = hasher.finish();
        let sets = SETS.get_or_init(Default::default);
        if let Some(t) = sets.lock().expect("template cache").get(&key) {
            return Ok(t.clone());
        }
        let built = Arc::new(Templates::with_overrides(overrides)?);
        let mut sets = sets.lock().expect("template cache");
        // A long-lived server sees few campaigns; a bound keeps edits from
        // piling up versions.
        if sets.len() >= 32 {
            sets.clear();
        }
        sets.insert(key, built.clone());
        Ok(built)
    }

    /// Whether `name` is the campaign's own template.
    pub fn is_override(&self, name: &str) -> bool {
        self.overrides.contains(name)
    }

    /// The name of the template a message takes: the most specific there
    /// is for its tier and the reader's locale.
    pub fn resolve(
        &self,
        channel: Channel,
        kind: Kind,
        tier: Option<Tier>,
        locale: Locale,
    ) -> Result<String, TemplateError> {
        let lang = locale.language().tag();
        let mut candidates = Vec::with_capacity(4);
        if let Some(tier) = tier {
            candidates.push(format!(
                "{channel}/{kind}.{tier}.{locale}",
                tier = tier.as_str()
            ));
            candidates.push(format!(
                "{channel}/{kind}.{tier}.{lang}",
                tier = tier.as_str()
            ));
        }
        candidates.push(format!("{channel}/{kind}.{locale}"));
        candidates.push(format!("{channel}/{kind}.{lang}"));
        candidates.dedup();
        candidates
            .iter()
            .find(|c| self.names.contains(*c))
            .cloned()
            .ok_or_else(|| TemplateError::Missing(candidates.pop().unwrap_or_default()))
    }

    /// An e-mail: subject, plain text and HTML from one template.
    pub fn email<S: Serialize>(
        &self,
        kind: Kind,
        tier: Option<Tier>,
        locale: Locale,
        view: &S,
    ) -> Result<Rendered, TemplateError> {
        let name = self.resolve(Channel::Email, kind, tier, locale)?;
        let base = self.resolve(Channel::Email, Kind::Base, None, locale)?;
        let view = Value::from_serialize(view);
        let fail = |template: &str| {
            let template = template.to_owned();
            move |source| TemplateError::Render { template, source }
        };
        let ctx = |form: &str| {
            context! {
                layout => format!("layout/email.{form}"),
                base => format!("{base}.{form}"),
                ..view.clone()
            }
        };
        let html = self
            .env
            .get_template(&format!("{name}.html"))
            .and_then(|t| t.render(ctx("html")))
            .map_err(fail(&name))?;
        let text_template = self
            .env
            .get_template(&format!("{name}.txt"))
            .map_err(fail(&name))?;
        let mut captured = text_template
            .render_captured(ctx("txt"))
            .map_err(fail(&name))?;
        let subject = captured
            .with_state_mut(|state| state.render_block("subject"))
            .map_err(fail(&name))?;
        Ok(Rendered {
            template: name,
            subject: one_line(&subject),
            text: tidy(captured.output()),
            html,
            attachments: Vec::new(),
        })
    }

    /// A text message: the template's text form on one line (a text's
    /// line breaks cost characters), refused when it would take more than
    /// [`sms::MAX_SEGMENTS`] segments.
    pub fn sms<S: Serialize>(
        &self,
        kind: Kind,
        tier: Option<Tier>,
        locale: Locale,
        view: &S,
    ) -> Result<Text, TemplateError> {
        let name = self.resolve(Channel::Sms, kind, tier, locale)?;
        let text = self
            .env
            .get_template(&format!("{name}.txt"))
            .and_then(|t| t.render(Value::from_serialize(view)))
            .map_err(|source| TemplateError::Render {
                template: name.clone(),
                source,
            })?;
        let text = sms::one_line(&text);
        let segments = sms::Segments::of(&text);
        if segments.count > sms::MAX_SEGMENTS {
            return Err(TemplateError::TooLong {
                template: name,
                segments: segments.count,
                units: segments.units,
                encoding: segments.encoding.as_str(),
            });
        }
        Ok(Text {
            template: name,
            text,
            segments,
        })
    }

    /// The named blocks of a plain-text template, each on one line (the
    /// in-app banner's title, message and link labels), with the name of
    /// the template that wrote them.
    pub fn blocks<S: Serialize, const N: usize>(
        &self,
        channel: Channel,
        kind: Kind,
        tier: Option<Tier>,
        locale: Locale,
        view: &S,
        blocks: [&str; N],
    ) -> Result<(String, [String; N]), TemplateError> {
        let name = self.resolve(channel, kind, tier, locale)?;
        let fail = |source| TemplateError::Render {
            template: name.clone(),
            source,
        };
        let template = self
            .env
            .get_template(&format!("{name}.txt"))
            .map_err(fail)?;
        let mut captured = template
            .render_captured(Value::from_serialize(view))
            .map_err(fail)?;
        let mut out: [String; N] = std::array::from_fn(|_| String::new());
        for (slot, block) in out.iter_mut().zip(blocks) {
            *slot = captured
                .with_state_mut(|state| state.render_block(block))
                .map(|text| sms::one_line(&text))
                .map_err(fail)?;
        }
        Ok((name, out))
    }

    /// A page a customer's browser shows, in their language.
    pub fn page<S: Serialize>(
        &self,
        kind: Kind,
        locale: Locale,
        view: &S,
    ) -> Result<String, TemplateError> {
        self.page_with(kind, locale, Value::from_serialize(view), Value::from(""))
    }

    fn page_with(
        &self,
        kind: Kind,
        locale: Locale,
        view: Value,
        also: Value,
    ) -> Result<String, TemplateError> {
        let name = self.resolve(Channel::Page, kind, None, locale)?;
        self.env
            .get_template(&format!("{name}.html"))
            .and_then(|t| {
                t.render(context! {
                    layout => "layout/page.html",
                    also => also,
                    ..view
                })
            })
            .map_err(|source| TemplateError::Render {
                template: name,
                source,
            })
    }

    /// A page in several languages: the first's page, and under it each
    /// other's title and message (when the reader's language is not
    /// known, a page both can read). Each view is formatted for its own
    /// language.
    pub fn multilingual_page(
        &self,
        kind: Kind,
        views: &[(Locale, Value)],
    ) -> Result<String, TemplateError> {
        let Some(((first, first_view), others)) = views.split_first() else {
            return Err(TemplateError::Missing(format!("{}/{kind}", Channel::Page)));
        };
        let mut also = String::new();
        for (locale, view) in others {
            let name = self.resolve(Channel::Page, kind, None, *locale)?;
            let fail = |source| TemplateError::Render {
                template: name.clone(),
                source,
            };
            let template = self
                .env
                .get_template(&format!("{name}.html"))
                .map_err(fail)?;
            let mut captured = template
                .render_captured(context! {
                    layout => "layout/page.html",
                    also => "",
                    ..view.clone()
                })
                .map_err(fail)?;
            let (title, message) = captured
                .with_state_mut(|state| {
                    Ok::<_, minijinja::Error>((
                        state.render_block("title")?,
                        state.render_block("message")?,
                    ))
                })
                .map_err(fail)?;
            also.push_str(&format!(
                "<section lang=\"{locale}\">\n<h2>{}</h2>\n{}\n</section>\n",
                title.trim(),
                message.trim()
            ));
        }
        self.page_with(
            kind,
            *first,
            first_view.clone(),
            Value::from_safe_string(also),
        )
    }
}

/// A subject on one line, spaces collapsed (a template's line breaks and
/// indentation are layout, not content).
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A text part: no trailing spaces, at most one blank line in a row, one
/// final newline.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    // "-- " opens a signature: mail programs know it by its space.
    for line in text
        .lines()
        .map(|l| if l == "-- " { l } else { l.trim_end() })
    {
        if line.is_empty() {
            blank += 1;
            if blank > 1 || out.is_empty() {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// A template error for an operator: what went wrong and the line, without
/// the engine's debug dump.
pub fn describe(e: &minijinja::Error) -> String {
    let mut text = e
        .detail()
        .map_or_else(|| e.kind().to_string(), str::to_owned);
    // The expression at fault, as the operator wrote it.
    if let (Some(range), Some(source)) = (e.range(), e.template_source()) {
        if let Some(snippet) = source.get(range).filter(|s| !s.is_empty() && s.len() <= 80) {
            text = format!("{text} in `{}`", snippet.trim());
        }
    }
    if let Some(line) = e.line() {
        text = format!("line {line}: {text}");
    }
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        text.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_template_wins() {
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "email/announcement.core.en".to_owned(),
            "{% extends base %}{% block subject %}core{% endblock %}{% block body %}x{% endblock %}"
                .to_owned(),
        );
        overrides.insert(
            "email/announcement.en-US".to_owned(),
            "{% extends base %}{% block subject %}us{% endblock %}{% block body %}x{% endblock %}"
                .to_owned(),
        );
        let t = Templates::with_overrides(&overrides).unwrap();
        let r = |tier, locale| {
            t.resolve(Channel::Email, Kind::Announcement, tier, locale)
                .unwrap()
        };
        assert_eq!(
            r(Some(Tier::Core), Locale::EnUs),
            "email/announcement.core.en"
        );
        assert_eq!(r(Some(Tier::Low), Locale::EnUs), "email/announcement.en-US");
        assert_eq!(r(Some(Tier::Low), Locale::EnGb), "email/announcement.en");
        assert_eq!(r(None, Locale::ZhCn), "email/announcement.zh-CN");
    }

    #[test]
    fn a_broken_override_names_itself_and_its_line() {
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "email/reminder.en".to_owned(),
            "{% extends base %}\n{% block body %}\n{% if %}\n{% endblock %}".to_owned(),
        );
        let err = Templates::with_overrides(&overrides).err().unwrap();
        assert_eq!(err.name, "email/reminder.en");
        assert!(err.reason.starts_with("line 3:"), "{}", err.reason);
        overrides.clear();
        overrides.insert("email/farewell.en".to_owned(), "x".to_owned());
        let err = Templates::with_overrides(&overrides).err().unwrap();
        assert!(err.reason.contains("farewell"), "{}", err.reason);
    }

    #[test]
    fn text_parts_are_tidy() {
        assert_eq!(tidy("\n\na  \n\n\n\nb\n\n"), "a\n\nb\n");
        assert_eq!(one_line("  Action\n   required "), "Action required");
    }
}
