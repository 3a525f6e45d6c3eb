//! The prepaid refund the seed's §四 asks every notice to state.

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};

use super::customer::Prepaid;

/// `amount × days(service_end → until) / days(from → until)`, rounded half
/// away from zero to cents; zero when the prepaid period ends by the service
/// end, the whole amount when it starts after it. Never more than the
/// amount. Checked: `None` only if the product overflowed, which the bounds
/// on [`Amount`](super::bounds::Amount) and dates rule out.
pub fn prorated(prepaid: &Prepaid, service_end: NaiveDate) -> Option<Decimal> {
    let total = (prepaid.until - prepaid.from).num_days();
    if total <= 0 || prepaid.until <= service_end {
        return Some(Decimal::ZERO);
    }
    let unused = (prepaid.until - service_end.max(prepaid.from))
        .num_days()
        .clamp(0, total);
    let share = prepaid
        .amount
        .get()
        .checked_mul(Decimal::from(unused))?
        .checked_div(Decimal::from(total))?;
    // Rounding to cents may not lift a refund above what was paid (0.999
    // over its one day would round to 1.00).
    Some(
        share
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
            .min(prepaid.amount.get()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn refunds_the_unused_days() {
        let p = Prepaid {
            from: d("2027-01-01"),
            until: d("2028-01-01"),
            amount: "365".parse().unwrap(),
        };
        // 2027-09-30 -> 2028-01-01 is 93 days of 365.
        assert_eq!(prorated(&p, d("2027-09-30")), Some(Decimal::from(93)));
        assert_eq!(prorated(&p, d("2028-02-01")), Some(Decimal::ZERO));
        assert_eq!(prorated(&p, d("2026-06-01")), Some(Decimal::from(365)));
    }

    /// Found by the property test: rounding to cents went above the amount.
    #[test]
    fn a_refund_is_never_more_than_was_paid() {
        let p = Prepaid {
            from: d("2027-09-30"),
            until: d("2027-10-01"),
            amount: "0.999".parse().unwrap(),
        };
        assert_eq!(
            prorated(&p, d("2027-09-30")),
            Some("0.999".parse().unwrap())
        );
    }
}
