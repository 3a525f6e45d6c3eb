//! Locales the notices are written in, and text given per locale.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::ids::InvalidValue;

/// A locale sunset writes notices in: a language it has built-in texts for
/// and, for English, the region whose conventions dates follow
/// (`September 30, 2027` in the US, `30 September 2027` elsewhere). Any
/// other locale a customer has falls back to the campaign's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Locale {
    /// English, written as in most of the world (day, month, year).
    #[serde(rename = "en")]
    En,
    #[serde(rename = "en-US")]
    EnUs,
    #[serde(rename = "en-GB")]
    EnGb,
    #[serde(rename = "zh-CN")]
    ZhCn,
}

/// The languages of the built-in texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Language {
    English,
    Chinese,
}

impl Locale {
    pub const ALL: [Locale; 4] = [Locale::En, Locale::EnUs, Locale::EnGb, Locale::ZhCn];

    pub fn from_tag(tag: &str) -> Option<Locale> {
        let t = tag.trim().to_ascii_lowercase().replace('_', "-");
        let region = |r: &str| t == format!("en-{r}") || t.starts_with(&format!("en-{r}-"));
        if region("us") {
            Some(Locale::EnUs)
        } else if region("gb") || region("uk") {
            Some(Locale::EnGb)
        } else if t == "en" || t.starts_with("en-") {
            Some(Locale::En)
        } else if t == "zh"
            || t == "zh-cn"
            || t == "zh-hans"
            || t.starts_with("zh-hans-")
            || t == "zh-sg"
        {
            Some(Locale::ZhCn)
        } else {
            None
        }
    }

    pub fn parse(tag: &str) -> Result<Locale, InvalidValue> {
        Self::from_tag(tag).ok_or_else(|| {
            InvalidValue(format!(
                "'{tag}' is not a supported locale (en, en-US, en-GB, zh-CN)"
            ))
        })
    }

    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::EnUs => "en-US",
            Locale::EnGb => "en-GB",
            Locale::ZhCn => "zh-CN",
        }
    }

    pub fn language(self) -> Language {
        match self {
            Locale::En | Locale::EnUs | Locale::EnGb => Language::English,
            Locale::ZhCn => Language::Chinese,
        }
    }
}

impl Language {
    pub const ALL: [Language; 2] = [Language::English, Language::Chinese];

    /// The tag its built-in templates are named with.
    pub fn tag(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::Chinese => "zh-CN",
        }
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

/// Text given either once for all locales or per locale, as in the campaign
/// file: `reason = "..."` or `reason = { en = "...", "zh-CN" = "..." }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LocalizedText {
    Same(String),
    PerLocale(BTreeMap<String, String>),
}

impl LocalizedText {
    /// The text for `locale`, else for `fallback`, else any text given.
    pub fn get(&self, locale: Locale, fallback: Locale) -> &str {
        match self {
            LocalizedText::Same(s) => s,
            LocalizedText::PerLocale(map) => {
                // The locale itself, else its language (an `en` text for
                // an `en-US` reader), else the fallback's.
                let find = |want: Locale| {
                    let exact = map.iter().find(|(k, _)| Locale::from_tag(k) == Some(want));
                    exact
                        .or_else(|| {
                            map.iter().find(|(k, _)| {
                                Locale::from_tag(k).map(Locale::language) == Some(want.language())
                            })
                        })
                        .map(|(_, v)| v.as_str())
                };
                find(locale)
                    .or_else(|| find(fallback))
                    .or_else(|| map.values().next().map(String::as_str))
                    .unwrap_or("")
            }
        }
    }

    /// Checks the text is present and free of control characters other than
    /// line breaks in bodies (they never reach a header).
    /// Every text present, at most `max_chars` characters each.
    pub fn validate(&self, max_chars: usize) -> Result<(), InvalidValue> {
        let texts: Vec<(&str, &str)> = match self {
            LocalizedText::Same(s) => vec![("", s.as_str())],
            LocalizedText::PerLocale(map) => {
                if map.is_empty() {
                    return Err(InvalidValue("needs at least one locale's text".into()));
                }
                map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
            }
        };
        for (tag, text) in texts {
            if !tag.is_empty() {
                Locale::parse(tag)?;
            }
            if text.trim().is_empty() {
                return Err(InvalidValue("is empty".into()));
            }
            if text.chars().any(|c| c.is_control() && c != '\n') {
                return Err(InvalidValue("holds a control character".into()));
            }
            let chars = text.chars().count();
            if chars > max_chars {
                return Err(InvalidValue(format!(
                    "is {chars} characters long; at most {max_chars} are allowed"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_back_to_default_locale() {
        let t: LocalizedText = toml::from_str::<BTreeMap<String, LocalizedText>>(
            "x = { en = \"Hello\", \"zh-CN\" = \"你好\" }",
        )
        .unwrap()
        .remove("x")
        .unwrap();
        assert_eq!(t.get(Locale::ZhCn, Locale::En), "你好");
        assert_eq!(Locale::from_tag("de"), None);
        assert_eq!(Locale::from_tag("zh_CN"), Some(Locale::ZhCn));
        // An English text serves every English reader.
        assert_eq!(t.get(Locale::EnUs, Locale::ZhCn), "Hello");
    }

    #[test]
    fn english_keeps_the_regions_whose_dates_differ() {
        assert_eq!(Locale::from_tag("en-US"), Some(Locale::EnUs));
        assert_eq!(Locale::from_tag("en_us"), Some(Locale::EnUs));
        assert_eq!(Locale::from_tag("en-GB"), Some(Locale::EnGb));
        assert_eq!(Locale::from_tag("en-AU"), Some(Locale::En));
        assert_eq!(Locale::from_tag("en"), Some(Locale::En));
        for l in Locale::ALL {
            assert_eq!(Locale::parse(l.tag()).unwrap(), l);
            let json = serde_json::to_string(&l).unwrap();
            assert_eq!(serde_json::from_str::<Locale>(&json).unwrap(), l);
        }
    }
}
