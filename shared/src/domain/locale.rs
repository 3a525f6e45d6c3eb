//! Locales the notices are written in, and text given per locale.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::ids::InvalidValue;

/// A locale sunset has built-in notice texts for. Any other locale a customer
/// has falls back to the campaign's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Locale {
    #[serde(rename = "en")]
    En,
    #[serde(rename = "zh-CN")]
    ZhCn,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::En, Locale::ZhCn];

    /// Parses a BCP 47 tag loosely: `en`, `en-GB`, `zh-CN`, `zh_cn`, `zh-Hans`.
    /// `None` means "not one we have texts for", which is not an error.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        let t = tag.trim().to_ascii_lowercase().replace('_', "-");
        if t == "en" || t.starts_with("en-") {
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
        Self::from_tag(tag)
            .ok_or_else(|| InvalidValue(format!("'{tag}' is not a supported locale (en, zh-CN)")))
    }

    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::ZhCn => "zh-CN",
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
                let find = |want: Locale| {
                    map.iter()
                        .find(|(k, _)| Locale::from_tag(k) == Some(want))
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
    }
}
