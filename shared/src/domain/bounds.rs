//! Limits on values parsed at the edge, so that no input can carry a
//! number or a date into arithmetic that overflows: every amount and date
//! sunset accepts leaves room for the sums, shares and date steps the
//! services make with it.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::ids::InvalidValue;

/// Years a campaign's own dates (announcement to export deadline, and
/// extensions) may fall in.
pub const CAMPAIGN_YEARS: (i32, i32) = (2000, 2200);

/// Years a customer's dates (customer since, prepaid periods) and events
/// may fall in: long-standing customers go back further than campaigns.
pub const CUSTOMER_YEARS: (i32, i32) = (1900, 2200);

/// Checks that `date` lies within `years` (inclusive).
pub fn check_year(date: NaiveDate, years: (i32, i32)) -> Result<NaiveDate, InvalidValue> {
    if (years.0..=years.1).contains(&date.year()) {
        Ok(date)
    } else {
        Err(InvalidValue(format!(
            "must be a date in the years {} to {}",
            years.0, years.1
        )))
    }
}

/// A `YYYY-MM-DD` date within `years`.
pub fn parse_date(raw: &str, years: (i32, i32)) -> Result<NaiveDate, InvalidValue> {
    let date = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| InvalidValue("is not a YYYY-MM-DD date".into()))?;
    check_year(date, years)
}

/// A non-negative amount of money: at most a trillion (in any currency)
/// with at most four decimal places. A share of it over any number of days
/// a campaign allows stays far inside `Decimal`'s range, so refunds never
/// overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Amount(Decimal);

impl Amount {
    /// The largest amount accepted: 10^12.
    pub const MAX: Decimal = Decimal::from_parts(3_567_587_328, 232, 0, false, 0);
    /// Decimal places accepted (trailing zeros do not count).
    pub const MAX_SCALE: u32 = 4;

    pub fn new(value: Decimal) -> Result<Self, InvalidValue> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(InvalidValue("must not be negative".into()));
        }
        if value > Self::MAX {
            return Err(InvalidValue(
                "is larger than 1,000,000,000,000, the most sunset accepts".into(),
            ));
        }
        if value.normalize().scale() > Self::MAX_SCALE {
            return Err(InvalidValue(format!(
                "has more than {} decimal places",
                Self::MAX_SCALE
            )));
        }
        Ok(Self(value))
    }

    pub fn get(self) -> Decimal {
        self.0
    }
}

impl FromStr for Amount {
    type Err = InvalidValue;
    fn from_str(raw: &str) -> Result<Self, InvalidValue> {
        let s = raw.trim();
        // Decimal's own parser takes up to 28 digits; a longer string is
        // refused by it, a huge one of fewer digits by `new`.
        let value = Decimal::from_str(s).map_err(|_| InvalidValue("is not a number".into()))?;
        Self::new(value)
    }
}

impl TryFrom<String> for Amount {
    type Error = InvalidValue;
    fn try_from(raw: String) -> Result<Self, InvalidValue> {
        raw.parse()
    }
}

impl From<Amount> for String {
    fn from(a: Amount) -> String {
        a.0.to_string()
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_bounded_in_size_and_scale() {
        assert_eq!(Amount::MAX, Decimal::from(1_000_000_000_000u64));
        assert_eq!("365.00".parse::<Amount>().unwrap().to_string(), "365.00");
        assert!("1000000000000".parse::<Amount>().is_ok());
        for bad in [
            "79228162514264337593543950335",
            "1000000000000.01",
            "-1",
            "1.23456",
            "1e-9",
            "",
            "12,50",
        ] {
            assert!(bad.parse::<Amount>().is_err(), "{bad}");
        }
        assert!("1.23450000".parse::<Amount>().is_ok(), "trailing zeros");
        assert!("-0".parse::<Amount>().is_ok());
        // Spreadsheets write big numbers so.
        assert_eq!(
            "1.2E+05".parse::<Amount>().unwrap().get(),
            Decimal::from(120_000)
        );
    }

    #[test]
    fn dates_are_bounded_in_years() {
        assert!(parse_date("2027-02-01", CAMPAIGN_YEARS).is_ok());
        assert!(parse_date("1999-12-31", CAMPAIGN_YEARS).is_err());
        assert!(parse_date("1999-12-31", CUSTOMER_YEARS).is_ok());
        assert!(parse_date("2201-01-01", CUSTOMER_YEARS).is_err());
        assert!(parse_date("+262142-01-01", CUSTOMER_YEARS).is_err());
        assert!(parse_date("2027-13-01", CUSTOMER_YEARS).is_err());
    }
}
