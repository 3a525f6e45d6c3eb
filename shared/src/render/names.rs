//! Template names: `<channel>/<kind>[.<tier>].<locale>`.

use std::fmt;

use crate::domain::Locale;
use crate::domain::tier::Tier;

/// The largest template an operator may save: a long notice is a few
/// kilobytes.
pub const MAX_SOURCE: usize = 64 * 1024;

/// Where a message is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Email,
    /// The pages a customer's signed link opens.
    Page,
    /// A text message: one or two segments, plain text.
    Sms,
    /// The banner the retiring product shows its signed-in customer:
    /// plain text, which the product's own page escapes.
    InApp,
}

impl Channel {
    pub const ALL: [Channel; 4] = [Channel::Email, Channel::Page, Channel::Sms, Channel::InApp];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Page => "page",
            Channel::Sms => "sms",
            Channel::InApp => "in-app",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a template writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The frame the others extend: the help section, the sign-off and the
    /// footer saying why the reader gets this.
    Base,
    Announcement,
    /// Every countdown reminder; the template knows how many days are left.
    Reminder,
    /// The day the service ends: it has ended, the data is kept until the
    /// export deadline.
    ServiceEnded,
    /// Before the export deadline: the data is about to be deleted.
    DeletionWarning,
    /// The customer's last day moved (an extension, a hold released).
    Deadline,
    ExportReady,
    /// After the purge: the data is gone, with the date.
    DeletionDone,
    /// To an account manager: their core customers before the announcement.
    Brief,
    /// The customer's page: where they stand, their copy of their data.
    Portal,
    /// A customer's link that does not work, as a page.
    Error,
    /// The in-app banner: a title, a message and its links' labels.
    Banner,
    /// The public announcement page: no customer's data.
    Public,
}

impl Kind {
    pub const ALL: [Kind; 13] = [
        Kind::Base,
        Kind::Announcement,
        Kind::Reminder,
        Kind::ServiceEnded,
        Kind::DeletionWarning,
        Kind::Deadline,
        Kind::ExportReady,
        Kind::DeletionDone,
        Kind::Brief,
        Kind::Portal,
        Kind::Error,
        Kind::Banner,
        Kind::Public,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Base => "base",
            Kind::Announcement => "announcement",
            Kind::Reminder => "reminder",
            Kind::ServiceEnded => "service-ended",
            Kind::DeletionWarning => "deletion-warning",
            Kind::Deadline => "deadline",
            Kind::ExportReady => "export-ready",
            Kind::DeletionDone => "deletion-done",
            Kind::Brief => "brief",
            Kind::Portal => "portal",
            Kind::Error => "error",
            Kind::Banner => "banner",
            Kind::Public => "public",
        }
    }

    /// Where the kind is read: the countdown's notices also as texts.
    pub fn channels(self) -> &'static [Channel] {
        match self {
            Kind::Portal | Kind::Error | Kind::Public => &[Channel::Page],
            Kind::Banner => &[Channel::InApp],
            Kind::Announcement | Kind::Reminder => &[Channel::Email, Channel::Sms],
            _ => &[Channel::Email],
        }
    }

    /// Whether the kind goes to customers (and so may differ per tier).
    pub fn to_customers(self) -> bool {
        !matches!(
            self,
            Kind::Base | Kind::Brief | Kind::Portal | Kind::Error | Kind::Public
        )
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A template's name, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateName {
    pub channel: Channel,
    pub kind: Kind,
    pub tier: Option<Tier>,
    pub locale: Locale,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{name}' is not a template name: {reason}")]
pub struct NameError {
    name: String,
    reason: String,
}

impl TemplateName {
    pub fn parse(name: &str) -> Result<TemplateName, NameError> {
        let fail = |reason: String| NameError {
            name: name.to_owned(),
            reason,
        };
        let shape = || {
            fail(
                "write <channel>/<kind>[.<tier>].<locale>, e.g. email/announcement.core.zh-CN"
                    .into(),
            )
        };
        let (channel, rest) = name.split_once('/').ok_or_else(shape)?;
        let channel = Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == channel)
            .ok_or_else(|| {
                fail(format!(
                    "the channel '{channel}' is not one of: {}",
                    Channel::ALL.map(Channel::as_str).join(", ")
                ))
            })?;
        let parts: Vec<&str> = rest.split('.').collect();
        let (kind, tier, locale) = match parts.as_slice() {
            [kind, locale] => (*kind, None, *locale),
            [kind, tier, locale] => (*kind, Some(*tier), *locale),
            _ => return Err(shape()),
        };
        let kind = Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == kind)
            .ok_or_else(|| {
                fail(format!(
                    "the kind '{kind}' is not one of: {}",
                    Kind::ALL.map(Kind::as_str).join(", ")
                ))
            })?;
        if !kind.channels().contains(&channel) {
            let are_for: Vec<&str> = kind.channels().iter().map(|c| c.as_str()).collect();
            return Err(fail(format!(
                "{kind} templates are for {}, not {channel}",
                are_for.join(" and ")
            )));
        }
        let tier = match tier {
            None => None,
            Some(t) if kind.to_customers() => Some(Tier::parse(t).ok_or_else(|| {
                fail(format!("the tier '{t}' is not one of: core, standard, low"))
            })?),
            Some(_) => return Err(fail(format!("{kind} templates are not per tier"))),
        };
        // The name's locale is written as sunset writes it, so that it is
        // found: `en-US`, not `en_us`.
        let locale = Locale::parse(locale)
            .ok()
            .filter(|l| l.tag() == locale)
            .ok_or_else(|| {
                fail(format!(
                    "the locale '{locale}' is not one of: en, en-US, en-GB, zh-CN"
                ))
            })?;
        Ok(TemplateName {
            channel,
            kind,
            tier,
            locale,
        })
    }
}

impl fmt::Display for TemplateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}.", self.channel, self.kind)?;
        if let Some(t) = self.tier {
            write!(f, "{}.", t.as_str())?;
        }
        write!(f, "{}", self.locale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_refusals_say_why() {
        for name in [
            "email/announcement.en",
            "email/announcement.core.zh-CN",
            "email/reminder.low.en-US",
            "email/base.en-GB",
        ] {
            assert_eq!(TemplateName::parse(name).unwrap().to_string(), name);
        }
        let why = |n: &str| TemplateName::parse(n).unwrap_err().to_string();
        assert!(why("fax/reminder.en").contains("channel 'fax'"));
        assert_eq!(
            TemplateName::parse("sms/reminder.core.zh-CN")
                .unwrap()
                .to_string(),
            "sms/reminder.core.zh-CN"
        );
        assert!(why("sms/export-ready.en").contains("export-ready templates are for email"));
        assert!(why("page/reminder.en").contains("reminder templates are for email and sms"));
        assert_eq!(
            TemplateName::parse("page/portal.zh-CN")
                .unwrap()
                .to_string(),
            "page/portal.zh-CN"
        );
        assert!(why("email/reminder.vip.en").contains("tier 'vip'"));
        assert!(why("email/reminder.de").contains("locale 'de'"));
        assert!(why("email/reminder.en_us").contains("locale 'en_us'"));
        assert!(why("email/base.core.en").contains("not per tier"));
        assert!(why("announcement").contains("<channel>/<kind>"));
    }
}
