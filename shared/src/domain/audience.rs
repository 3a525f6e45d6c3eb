//! Who gets which notice on which channel: the campaign's rules, by
//! milestone, tier and migration status.
//!
//! The defaults are the guide's: the announcement goes to everyone on
//! every channel; reminders go to everyone who has not migrated, by
//! e-mail; from 30 days before the end, those still pending who have a
//! mobile number also get a text ("when fewer than 30 days are left and
//! the migration is not done, remind by e-mail and SMS"). A customer who
//! declined still gets the reminders: their data has to leave before the
//! deadline, and the reminder they read says so rather than "finish
//! moving".
//!
//! After the end, the notice that the service has ended and the warnings
//! before the data is deleted go by e-mail to everyone who has not
//! migrated (their data is still there, and about to go).
//!
//! A campaign that gives `[[rules]]` replaces the defaults with its own;
//! the notices after the end keep theirs while its rules name none of
//! them. Rules add up: a customer gets a notice on a channel when any
//! rule for it names their tier and status. The status is the one stored
//! when the notice is sent, not when the campaign was planned.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use super::customer::MigrationStatus;
use super::ids::InvalidValue;
use super::ledger::Channel;
use super::milestone::Milestone;
use super::tier::Tier;

/// Which notices a rule is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum NoticeSelector {
    Announcement,
    /// Every reminder (narrowed by `within_days`).
    Reminders,
    /// The reminder this many days before the end.
    Reminder(u32),
    /// The day after the last day of service: it has ended.
    ServiceEnded,
    /// Every warning before the data is deleted.
    DeletionWarning,
}

impl NoticeSelector {
    fn covers(self, milestone: Milestone) -> bool {
        match (self, milestone) {
            (NoticeSelector::Announcement, Milestone::Announcement) => true,
            (NoticeSelector::Reminders, Milestone::Reminder(_)) => true,
            (NoticeSelector::Reminder(n), Milestone::Reminder(m)) => n == m,
            (NoticeSelector::ServiceEnded, Milestone::ServiceEnded) => true,
            (NoticeSelector::DeletionWarning, Milestone::DeletionWarning(_)) => true,
            _ => false,
        }
    }
}

impl fmt::Display for NoticeSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoticeSelector::Announcement => f.write_str("announcement"),
            NoticeSelector::Reminders => f.write_str("reminders"),
            NoticeSelector::Reminder(n) => write!(f, "reminder-{n}"),
            NoticeSelector::ServiceEnded => f.write_str("service-ended"),
            NoticeSelector::DeletionWarning => f.write_str("deletion-warning"),
        }
    }
}

impl TryFrom<String> for NoticeSelector {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, InvalidValue> {
        match s.as_str() {
            "announcement" => Ok(NoticeSelector::Announcement),
            "reminders" => Ok(NoticeSelector::Reminders),
            "service-ended" => Ok(NoticeSelector::ServiceEnded),
            "deletion-warning" => Ok(NoticeSelector::DeletionWarning),
            _ => match s.strip_prefix("reminder-").map(str::parse::<u32>) {
                Some(Ok(n)) if n > 0 => Ok(NoticeSelector::Reminder(n)),
                _ => Err(InvalidValue(format!(
                    "'{s}' is not a notice: write announcement, reminders (every reminder), \
                     reminder-N (the one N days before the end), service-ended or \
                     deletion-warning"
                ))),
            },
        }
    }
}

impl From<NoticeSelector> for String {
    fn from(n: NoticeSelector) -> String {
        n.to_string()
    }
}

/// One rule: this notice, on these channels, to these customers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub notice: NoticeSelector,
    /// Only the reminders at most this many days before the end (the
    /// guide's "from 30 days on"); only with `notice = "reminders"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_days: Option<u32>,
    pub channels: Vec<Channel>,
    /// Default: every tier.
    #[serde(default = "every_tier")]
    pub tiers: Vec<Tier>,
    /// Default: every status.
    #[serde(default = "every_status")]
    pub statuses: Vec<MigrationStatus>,
}

fn every_tier() -> Vec<Tier> {
    Tier::ALL.to_vec()
}

fn every_status() -> Vec<MigrationStatus> {
    MigrationStatus::ALL.to_vec()
}

impl Rule {
    fn covers(&self, milestone: Milestone) -> bool {
        self.notice.covers(milestone)
            && match (self.within_days, milestone) {
                (Some(days), Milestone::Reminder(n)) => n <= days,
                _ => true,
            }
    }

    fn reaches(&self, tier: Tier, status: MigrationStatus) -> bool {
        self.tiers.contains(&tier) && self.statuses.contains(&status)
    }
}

/// The campaign's rules (the guide's unless it gives its own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Rules(pub Vec<Rule>);

impl Default for Rules {
    fn default() -> Self {
        use MigrationStatus::*;
        Rules(vec![
            Rule {
                notice: NoticeSelector::Announcement,
                within_days: None,
                channels: vec![Channel::Email, Channel::Sms],
                tiers: every_tier(),
                statuses: every_status(),
            },
            Rule {
                notice: NoticeSelector::Reminders,
                within_days: None,
                channels: vec![Channel::Email],
                tiers: every_tier(),
                statuses: vec![Pending, Exported, Declined],
            },
            Rule {
                notice: NoticeSelector::Reminders,
                within_days: Some(30),
                channels: vec![Channel::Sms],
                tiers: every_tier(),
                statuses: vec![Pending],
            },
        ])
    }
}

/// The notices after the end, while a campaign's rules name none of them:
/// by e-mail, to everyone who has not migrated.
static AFTER_THE_END: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    use MigrationStatus::*;
    [
        NoticeSelector::ServiceEnded,
        NoticeSelector::DeletionWarning,
    ]
    .into_iter()
    .map(|notice| Rule {
        notice,
        within_days: None,
        channels: vec![Channel::Email],
        tiers: every_tier(),
        statuses: vec![Pending, Exported, Declined],
    })
    .collect()
});

/// A rule set that cannot be used: the rule (by index) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub field: String,
    pub reason: String,
}

impl Rules {
    /// The rules for `milestone`: the campaign's, or for a notice after
    /// the end that they do not name, its defaults.
    fn covering(&self, milestone: Milestone) -> Vec<&Rule> {
        let own: Vec<&Rule> = self.0.iter().filter(|r| r.covers(milestone)).collect();
        if own.is_empty() {
            AFTER_THE_END
                .iter()
                .filter(|r| r.covers(milestone))
                .collect()
        } else {
            own
        }
    }

    /// The channels `milestone` goes to a customer of `tier` and `status`
    /// on (before asking whether they can be reached there).
    pub fn channels(
        &self,
        milestone: Milestone,
        tier: Tier,
        status: MigrationStatus,
    ) -> BTreeSet<Channel> {
        self.covering(milestone)
            .into_iter()
            .filter(|r| r.reaches(tier, status))
            .flat_map(|r| r.channels.iter().copied())
            .collect()
    }

    /// Whether no rule sends `milestone` to a migrated customer: the wave
    /// then reads only the customers who have not migrated.
    pub fn only_unmigrated(&self, milestone: Milestone) -> bool {
        !self
            .covering(milestone)
            .iter()
            .any(|r| r.statuses.contains(&MigrationStatus::Migrated))
    }

    /// Whether any rule sends `milestone` on `channel`.
    pub fn uses(&self, milestone: Milestone, channel: Channel) -> bool {
        self.covering(milestone)
            .iter()
            .any(|r| r.channels.contains(&channel))
    }

    /// Checks the rules against the campaign's reminders. The one rule
    /// that is not the operator's to waive: every customer hears the
    /// announcement by e-mail, whatever their tier (a rule set that left
    /// one out would leave a customer who never learns the product is
    /// going away).
    pub fn validate(&self, reminder_offsets: &[u32]) -> Result<(), RuleError> {
        let fail = |i: usize, key: &str, reason: String| RuleError {
            field: format!("rules[{i}].{key}"),
            reason,
        };
        for (i, rule) in self.0.iter().enumerate() {
            if rule.channels.is_empty() {
                return Err(fail(i, "channels", "names no channel (email, sms)".into()));
            }
            for (key, dup) in [
                ("channels", has_duplicate(&rule.channels)),
                ("tiers", has_duplicate(&rule.tiers)),
                ("statuses", has_duplicate(&rule.statuses)),
            ] {
                if let Some(d) = dup {
                    return Err(fail(i, key, format!("lists {d} twice")));
                }
            }
            if rule.tiers.is_empty() {
                return Err(fail(
                    i,
                    "tiers",
                    "names no tier (core, standard, low)".into(),
                ));
            }
            if rule.statuses.is_empty() {
                return Err(fail(
                    i,
                    "statuses",
                    "names no status (pending, exported, declined, migrated)".into(),
                ));
            }
            let after_the_end = matches!(
                rule.notice,
                NoticeSelector::ServiceEnded | NoticeSelector::DeletionWarning
            );
            if after_the_end && rule.channels.contains(&Channel::Sms) {
                return Err(fail(
                    i,
                    "channels",
                    format!(
                        "the {} notice goes by e-mail only; texts go with the announcement \
                         and the reminders",
                        rule.notice
                    ),
                ));
            }
            match (rule.notice, rule.within_days) {
                (NoticeSelector::Reminder(n), _) if !reminder_offsets.contains(&n) => {
                    return Err(fail(
                        i,
                        "notice",
                        format!(
                            "there is no {n}-day reminder (reminders.days_before_end is {reminder_offsets:?})"
                        ),
                    ));
                }
                (NoticeSelector::Reminders, Some(0)) => {
                    return Err(fail(i, "within_days", "must be at least 1".into()));
                }
                (NoticeSelector::Reminders, _) | (_, None) => {}
                (_, Some(_)) => {
                    return Err(fail(
                        i,
                        "within_days",
                        "only narrows notice = \"reminders\"".into(),
                    ));
                }
            }
        }
        for tier in Tier::ALL {
            let told = self
                .channels(Milestone::Announcement, tier, MigrationStatus::Pending)
                .contains(&Channel::Email);
            if !told {
                return Err(RuleError {
                    field: "rules".into(),
                    reason: format!(
                        "no rule sends the announcement by e-mail to {} customers: they would \
                         never hear the product is going away",
                        tier.as_str()
                    ),
                });
            }
        }
        Ok(())
    }

    /// The rules as the operator reads them in preflight: per notice, per
    /// channel, who gets it.
    pub fn describe(&self, notices: &[Milestone]) -> Vec<RuleLine> {
        let mut lines = Vec::new();
        for &milestone in notices {
            for channel in Channel::ALL {
                let mut to = Vec::new();
                for tier in Tier::ALL {
                    let statuses: Vec<&'static str> = MigrationStatus::ALL
                        .into_iter()
                        .filter(|&s| self.channels(milestone, tier, s).contains(&channel))
                        .map(MigrationStatus::as_str)
                        .collect();
                    if !statuses.is_empty() {
                        to.push(AudienceLine {
                            tier: tier.as_str(),
                            statuses,
                        });
                    }
                }
                if !to.is_empty() {
                    lines.push(RuleLine {
                        notice: milestone.name(),
                        channel,
                        to,
                    });
                }
            }
        }
        lines
    }
}

fn has_duplicate<T: PartialEq + fmt::Debug>(items: &[T]) -> Option<String> {
    items
        .iter()
        .enumerate()
        .find(|(i, x)| items[..*i].contains(x))
        .map(|(_, x)| format!("{x:?}").to_lowercase())
}

/// One notice on one channel, and who gets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleLine {
    pub notice: String,
    pub channel: Channel,
    pub to: Vec<AudienceLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AudienceLine {
    pub tier: &'static str,
    pub statuses: Vec<&'static str>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use MigrationStatus::*;

    const OFFSETS: [u32; 5] = [60, 30, 15, 7, 1];

    #[test]
    fn the_defaults_are_the_guides() {
        let rules = Rules::default();
        rules.validate(&OFFSETS).unwrap();
        let both: BTreeSet<_> = [Channel::Email, Channel::Sms].into();
        let email: BTreeSet<_> = [Channel::Email].into();
        for tier in Tier::ALL {
            // The announcement: everyone, every channel.
            for status in MigrationStatus::ALL {
                assert_eq!(rules.channels(Milestone::Announcement, tier, status), both);
            }
            // Reminders: not to the migrated; e-mail until T-30.
            let r60 = Milestone::Reminder(60);
            assert_eq!(rules.channels(r60, tier, Pending), email);
            assert_eq!(rules.channels(r60, tier, Declined), email);
            assert!(rules.channels(r60, tier, Migrated).is_empty());
            // From T-30, SMS too, to those still pending only.
            let r30 = Milestone::Reminder(30);
            assert_eq!(rules.channels(r30, tier, Pending), both);
            assert_eq!(rules.channels(r30, tier, Exported), email);
            assert_eq!(rules.channels(r30, tier, Declined), email);
            assert!(
                rules
                    .channels(Milestone::Reminder(1), tier, Migrated)
                    .is_empty()
            );
        }
        assert!(rules.only_unmigrated(Milestone::Reminder(7)));
        assert!(!rules.only_unmigrated(Milestone::Announcement));
        // After the end: by e-mail, to everyone who has not migrated.
        for m in [Milestone::ServiceEnded, Milestone::DeletionWarning(7)] {
            for status in [Pending, Exported, Declined] {
                assert_eq!(rules.channels(m, Tier::Low, status), email, "{m}");
            }
            assert!(rules.channels(m, Tier::Core, Migrated).is_empty());
            assert!(rules.only_unmigrated(m));
        }
    }

    #[test]
    fn rules_that_name_a_notice_after_the_end_replace_its_default() {
        let rules = rule(
            r#"
            [[rules]]
            notice = "announcement"
            channels = ["email"]
            [[rules]]
            notice = "deletion-warning"
            channels = ["email"]
            statuses = ["pending"]
            "#,
        );
        rules.validate(&OFFSETS).unwrap();
        let warning = Milestone::DeletionWarning(3);
        assert!(rules.channels(warning, Tier::Low, Declined).is_empty());
        assert_eq!(
            rules.channels(warning, Tier::Low, Pending),
            [Channel::Email].into()
        );
        // Not named: the default stands.
        assert_eq!(
            rules.channels(Milestone::ServiceEnded, Tier::Low, Declined),
            [Channel::Email].into()
        );
    }

    #[test]
    fn the_example_campaign_spells_out_the_defaults() {
        let c =
            crate::domain::Campaign::from_toml(crate::domain::campaign::tests::EXAMPLE).unwrap();
        assert_eq!(c.rules, Rules::default());
    }

    fn rule(toml: &str) -> Rules {
        #[derive(Deserialize)]
        struct File {
            rules: Rules,
        }
        toml::from_str::<File>(toml).expect("parses").rules
    }

    #[test]
    fn the_operators_rules_replace_the_defaults_and_add_up() {
        let rules = rule(
            r#"
            [[rules]]
            notice = "announcement"
            channels = ["email"]
            [[rules]]
            notice = "reminder-7"
            channels = ["sms"]
            tiers = ["core"]
            statuses = ["pending", "declined"]
            [[rules]]
            notice = "reminders"
            channels = ["email"]
            statuses = ["pending"]
            "#,
        );
        rules.validate(&OFFSETS).unwrap();
        let r7 = Milestone::Reminder(7);
        assert_eq!(
            rules.channels(r7, Tier::Core, Pending),
            [Channel::Email, Channel::Sms].into()
        );
        assert_eq!(
            rules.channels(r7, Tier::Core, Declined),
            [Channel::Sms].into()
        );
        assert!(rules.channels(r7, Tier::Low, Declined).is_empty());
        assert!(
            !rules
                .channels(Milestone::Announcement, Tier::Low, Pending)
                .contains(&Channel::Sms)
        );
    }

    #[test]
    fn a_rule_set_that_leaves_a_tier_untold_or_names_no_such_thing_is_refused() {
        let cases = [
            (
                r#"[[rules]]
                notice = "announcement"
                channels = ["email"]
                tiers = ["core", "standard"]"#,
                "rules",
                "low customers",
            ),
            (
                r#"[[rules]]
                notice = "reminder-45"
                channels = ["email"]"#,
                "rules[0].notice",
                "no 45-day reminder",
            ),
            (
                r#"[[rules]]
                notice = "announcement"
                channels = []"#,
                "rules[0].channels",
                "no channel",
            ),
            (
                r#"[[rules]]
                notice = "announcement"
                within_days = 30
                channels = ["email"]"#,
                "rules[0].within_days",
                "only narrows",
            ),
            (
                r#"[[rules]]
                notice = "announcement"
                channels = ["email", "email"]"#,
                "rules[0].channels",
                "email twice",
            ),
            (
                r#"[[rules]]
                notice = "announcement"
                channels = ["email"]
                statuses = []"#,
                "rules[0].statuses",
                "no status",
            ),
            (
                r#"[[rules]]
                notice = "announcement"
                channels = ["email"]
                [[rules]]
                notice = "service-ended"
                channels = ["sms"]"#,
                "rules[1].channels",
                "e-mail only",
            ),
        ];
        for (toml, field, says) in cases {
            let e = rule(toml).validate(&OFFSETS).unwrap_err();
            assert_eq!(e.field, field, "{toml}");
            assert!(e.reason.contains(says), "{toml}: {}", e.reason);
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct File {
            rules: Rules,
        }
        let e = toml::from_str::<File>("[[rules]]\nnotice = \"farewell\"\nchannels = [\"email\"]")
            .unwrap_err();
        assert!(e.to_string().contains("'farewell' is not a notice"), "{e}");
        let e =
            toml::from_str::<File>("[[rules]]\nnotice = \"announcement\"\nchannels = [\"fax\"]")
                .unwrap_err();
        assert!(e.to_string().contains("fax"), "{e}");
    }

    #[test]
    fn preflight_reads_who_gets_what() {
        let lines = Rules::default().describe(&[
            Milestone::Announcement,
            Milestone::Reminder(30),
            Milestone::Reminder(7),
            Milestone::ServiceEnded,
            Milestone::DeletionWarning(7),
        ]);
        let names: Vec<_> = lines
            .iter()
            .map(|l| format!("{} {}", l.notice, l.channel))
            .collect();
        assert_eq!(
            names,
            [
                "announcement email",
                "announcement sms",
                "reminder-30 email",
                "reminder-30 sms",
                "reminder-7 email",
                "reminder-7 sms",
                "service-ended email",
                "deletion-warning-7 email"
            ]
        );
        let sms30 = &lines[3];
        assert!(sms30.to.iter().all(|a| a.statuses == ["pending"]));
        assert_eq!(lines[2].to[0].statuses, ["pending", "exported", "declined"]);
    }
}
