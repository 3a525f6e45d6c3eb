//! Customers of the retiring product and where each stands.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::bounds::Amount;
use super::ids::{Currency, CustomerId, DisplayName, EmailAddress, Phone};
use super::locale::Locale;
use super::tier::TierDecision;

/// Fees paid ahead for a period that may outlast the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prepaid {
    pub from: NaiveDate,
    pub until: NaiveDate,
    pub amount: Amount,
}

/// A customer as imported: everything here is personal data and is deleted
/// by the purge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: CustomerId,
    /// `None` when the file gave none usable: notices greet without a name.
    pub name: Option<DisplayName>,
    /// The person notices greet ("Dear Ann Smith," rather than the
    /// company's name), when the file names one.
    pub contact_name: Option<DisplayName>,
    pub email: EmailAddress,
    /// The locale the customer gave, kept as written; notices use
    /// [`Customer::notice_locale`].
    pub locale: Option<String>,
    pub timezone: Option<Tz>,
    pub contract_value: Option<Amount>,
    pub currency: Option<Currency>,
    pub customer_since: Option<NaiveDate>,
    /// How much the customer uses the product, on the campaign's scale
    /// (`segmentation.usage_max`, default 100).
    pub usage_score: Option<f64>,
    pub strategic: bool,
    pub account_manager: Option<EmailAddress>,
    /// The account manager's name, for the core customer's notices ("your
    /// account manager Li Wei").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_manager_name: Option<DisplayName>,
    pub phone: Option<Phone>,
    pub prepaid: Option<Prepaid>,
}

impl Customer {
    /// A customer with only the required fields; every optional one empty.
    pub fn new(id: CustomerId, name: DisplayName, email: EmailAddress) -> Self {
        Self {
            id,
            name: Some(name),
            contact_name: None,
            email,
            locale: None,
            timezone: None,
            contract_value: None,
            currency: None,
            customer_since: None,
            usage_score: None,
            strategic: false,
            account_manager: None,
            account_manager_name: None,
            phone: None,
            prepaid: None,
        }
    }

    /// Whom a notice greets: the contact person, else the customer's name.
    pub fn greeted(&self) -> Option<&DisplayName> {
        self.contact_name.as_ref().or(self.name.as_ref())
    }

    pub fn notice_locale(&self, default: Locale) -> Locale {
        self.locale
            .as_deref()
            .and_then(Locale::from_tag)
            .unwrap_or(default)
    }

    pub fn zone(&self, campaign_zone: Tz) -> Tz {
        self.timezone.unwrap_or(campaign_zone)
    }
}

/// How far the customer is with moving off the product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MigrationStatus {
    /// Not migrated yet: reminders keep coming.
    Pending,
    /// Downloaded a copy of their data and not (yet) said where they move:
    /// reminders keep coming, addressed as someone who has their data.
    Exported,
    /// Moved on: no more reminders.
    Migrated,
    /// Said no to the alternatives; still reminded, since their data still
    /// has to leave before the deadline.
    Declined,
}

impl MigrationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationStatus::Pending => "pending",
            MigrationStatus::Exported => "exported",
            MigrationStatus::Migrated => "migrated",
            MigrationStatus::Declined => "declined",
        }
    }

    pub const ALL: [MigrationStatus; 4] = [
        Self::Pending,
        Self::Exported,
        Self::Declined,
        Self::Migrated,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// A customer and the campaign's state for them. After the purge `profile`
/// is `None` and only the non-personal columns stay, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerRecord {
    pub id: CustomerId,
    /// The zone notices are timed in: the customer's own, else the
    /// campaign's.
    pub zone: Tz,
    pub profile: Option<Customer>,
    pub tier: Option<TierDecision>,
    pub status: MigrationStatus,
    pub status_at: Option<DateTime<Utc>>,
    pub legal_hold: bool,
    pub extended_until: Option<NaiveDate>,
    /// The operator decided this customer's data may be purged although
    /// they were never sent the announcement (an `approve_purge` event, or
    /// an import after the service ended). Without it the purge holds such
    /// a customer.
    pub purge_without_notice: bool,
    pub purged_at: Option<DateTime<Utc>>,
    /// The address hard-bounced or complained: it is never mailed again
    /// (the campaign's suppression list).
    pub suppressed: Option<Suppression>,
    /// The operator's tier, which segmentation leaves alone (`tier` is
    /// its decision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier_override: Option<super::tier::TierOverride>,
}

/// Why and when a customer's address stopped being mailed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    pub at: DateTime<Utc>,
    /// `hard-bounce` or `complaint`.
    pub reason: String,
}

impl CustomerRecord {
    pub fn new(customer: Customer, campaign_zone: Tz) -> Self {
        Self {
            id: customer.id.clone(),
            zone: customer.zone(campaign_zone),
            profile: Some(customer),
            tier: None,
            status: MigrationStatus::Pending,
            status_at: None,
            legal_hold: false,
            extended_until: None,
            purge_without_notice: false,
            purged_at: None,
            suppressed: None,
            tier_override: None,
        }
    }

    /// The profile to mail, if the customer may be mailed: not purged, and
    /// not suppressed.
    pub fn mailable(&self) -> Option<&Customer> {
        self.profile.as_ref().filter(|_| self.suppressed.is_none())
    }

    /// The last day the customer's data is kept: the campaign's export
    /// deadline, or a later extension granted to this customer.
    pub fn effective_deadline(&self, export_deadline: NaiveDate) -> NaiveDate {
        self.extended_until
            .map_or(export_deadline, |d| d.max(export_deadline))
    }

    /// The instant that last day ends where the customer lives: their links
    /// work until then, and their purge never starts before it.
    pub fn deadline_ends(&self, export_deadline: NaiveDate) -> DateTime<Utc> {
        super::milestone::day_ends(self.effective_deadline(export_deadline), self.zone)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn customer(id: &str) -> Customer {
        Customer::new(
            CustomerId::parse(id).unwrap(),
            DisplayName::parse("Ada Example").unwrap(),
            EmailAddress::parse(&format!("{id}@example.com")).unwrap(),
        )
    }

    #[test]
    fn extension_only_ever_moves_the_deadline_later() {
        let mut r = CustomerRecord::new(customer("c1"), chrono_tz::UTC);
        let deadline = NaiveDate::from_ymd_opt(2027, 10, 31).unwrap();
        r.extended_until = NaiveDate::from_ymd_opt(2027, 10, 1);
        assert_eq!(r.effective_deadline(deadline), deadline);
        r.extended_until = NaiveDate::from_ymd_opt(2027, 12, 1);
        assert_eq!(r.effective_deadline(deadline), r.extended_until.unwrap());
    }
}
