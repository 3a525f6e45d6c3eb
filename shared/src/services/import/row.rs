//! One row into a customer. Only what makes a customer unreachable or
//! ambiguous refuses the row (no usable id or address); every other problem
//! is a warning: the field is cleaned or left empty, the warning says what
//! stands in for it, and the customer is imported — a refused row is a
//! customer who never hears the product is going away. Reasons never
//! repeat the value.

use chrono_tz::Tz;

use super::read::{Cell, RawRow};
use crate::domain::bounds::{self, Amount};
use crate::domain::customer::Prepaid;
use crate::domain::ids::{Currency, DisplayName, MobileNumber, Phone};
use crate::domain::{Campaign, Customer, CustomerId, EmailAddress};

/// A field's problem: which field, and what happened.
pub type FieldProblem = (&'static str, String);

/// What a row became. (Short-lived, one per row and moved at once into a
/// record: not worth a box.)
#[allow(clippy::large_enum_variant)]
pub enum RowOutcome {
    /// Imported, with a warning per field that was cleaned or left empty.
    Customer(Customer, Vec<FieldProblem>),
    /// Not imported: why, per field (and any warnings it would also have).
    Refused(Vec<FieldProblem>),
}

/// Collapses control characters (line breaks included) and runs of
/// whitespace into one space; says whether a control character was there.
pub fn one_line(raw: &str) -> (String, bool) {
    let had_control = raw.chars().any(char::is_control);
    let text = raw
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (text, had_control)
}

/// A name column: made one line (see [`display_name`]); empty is fine,
/// with `on_empty` as a warning when given; unreadable is left empty with
/// a warning saying what stands in for it.
fn name_cell(
    raw: &RawRow,
    column: &'static str,
    on_empty: Option<&str>,
    fallback: &str,
    warnings: &mut Vec<FieldProblem>,
) -> Option<DisplayName> {
    match raw.cell(column) {
        Cell::Empty => {
            if let Some(why) = on_empty {
                warnings.push((column, why.into()));
            }
            None
        }
        Cell::Unreadable(why) => {
            warnings.push((column, format!("{why}; left empty: {fallback}")));
            None
        }
        Cell::Text(t) => display_name(column, t, warnings),
    }
}

/// A name as one line of at most 200 characters: line breaks and control
/// characters become spaces, a longer one is cut; each with a warning.
fn display_name(
    column: &'static str,
    text: &str,
    warnings: &mut Vec<FieldProblem>,
) -> Option<DisplayName> {
    let (mut line, had_control) = one_line(text);
    if had_control {
        warnings.push((
            column,
            "held a line break or control character; it became a space".into(),
        ));
    }
    if line.chars().count() > 200 {
        line = line
            .chars()
            .take(200)
            .collect::<String>()
            .trim_end()
            .to_owned();
        warnings.push((column, "is longer than 200 characters; it was cut".into()));
    }
    DisplayName::parse(&line).ok()
}

struct Row<'a> {
    raw: &'a RawRow,
    warnings: Vec<FieldProblem>,
}

impl Row<'_> {
    /// The text of an optional field, or `None` with a warning when it
    /// could not be read.
    fn text(&mut self, column: &'static str, fallback: &str) -> Option<String> {
        match self.raw.cell(column) {
            Cell::Empty => None,
            Cell::Text(t) => Some(t.trim().to_owned()),
            Cell::Unreadable(why) => {
                self.warnings
                    .push((column, format!("{why}; left empty: {fallback}")));
                None
            }
        }
    }

    /// An optional field parsed by `parse`: a value that does not parse is
    /// left empty, with a warning saying why and what stands in for it.
    fn parsed<T>(
        &mut self,
        column: &'static str,
        fallback: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let text = self.text(column, fallback)?;
        match parse(&text) {
            Ok(v) => Some(v),
            Err(why) => {
                self.warnings
                    .push((column, format!("{why}; left empty: {fallback}")));
                None
            }
        }
    }
}

/// Turns one raw row into a customer (with warnings), or refuses it.
pub fn parse_row(raw: &RawRow, campaign: &Campaign) -> RowOutcome {
    if let Some(why) = &raw.misshapen {
        return RowOutcome::Refused(vec![(
            "*",
            format!("{why}: its values cannot be matched to the columns"),
        )]);
    }
    let mut refusals: Vec<FieldProblem> = Vec::new();
    let mut row = Row {
        raw,
        warnings: Vec::new(),
    };
    let required = |column: &'static str, refusals: &mut Vec<FieldProblem>| match raw.cell(column) {
        Cell::Empty => {
            refusals.push((column, "is required".into()));
            None
        }
        Cell::Unreadable(why) => {
            refusals.push((column, (*why).into()));
            None
        }
        Cell::Text(t) => Some(t.clone()),
    };
    let id = required("customer_id", &mut refusals).and_then(|t| {
        CustomerId::parse(&t)
            .map_err(|e| refusals.push(("customer_id", e.0)))
            .ok()
    });
    let email = required("email", &mut refusals).and_then(|t| {
        EmailAddress::parse(&t)
            .map_err(|e| refusals.push(("email", e.0)))
            .ok()
    });

    let name = name_cell(
        raw,
        "name",
        Some("is empty; notices greet the customer without a name"),
        "notices greet the customer without a name",
        &mut row.warnings,
    );
    let contact_name = name_cell(
        raw,
        "contact_name",
        None,
        "notices greet the customer by name",
        &mut row.warnings,
    );
    let default_locale = campaign.default_locale.tag();
    let locale = row.parsed(
        "locale",
        &format!("notices are in the campaign's default language ({default_locale})"),
        |s| {
            let ok = s.len() <= 35
                && s.split(['-', '_'])
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()));
            ok.then(|| s.to_owned())
                .ok_or_else(|| "is not a language tag like en or zh-CN".into())
        },
    );
    let zone = campaign.timezone.name();
    let timezone = row.parsed(
        "timezone",
        &format!("notices are timed in the campaign's zone ({zone})"),
        |s| {
            s.parse::<Tz>()
                .map_err(|_| "is not an IANA time zone like Asia/Shanghai".into())
        },
    );
    let amount = |s: &str| s.parse::<Amount>().map_err(|e| e.0);
    let date = |s: &str| bounds::parse_date(s, bounds::CUSTOMER_YEARS).map_err(|e| e.0);
    let contract_value = row.parsed(
        "contract_value",
        "the tier gives no points for contract value",
        amount,
    );
    let currency = row.parsed("currency", "amounts are shown without a currency", |s| {
        Currency::parse(s).map_err(|e| e.0)
    });
    let customer_since = row.parsed(
        "customer_since",
        "the tier gives no points for tenure",
        date,
    );
    let usage_max = f64::from(campaign.segmentation.usage_max);
    let usage_score = row.parsed("usage_score", "the tier gives no points for usage", |s| {
        let v: f64 = s
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| "is not a number".to_owned())?;
        if (0.0..=usage_max).contains(&v) {
            Ok(v)
        } else {
            Err(format!("is outside the campaign's scale 0 to {usage_max}"))
        }
    });
    let strategic = row
        .parsed(
            "strategic",
            "the customer is not counted as strategic",
            |s| match s.to_ascii_lowercase().as_str() {
                "true" | "yes" | "y" | "1" => Ok(true),
                "false" | "no" | "n" | "0" => Ok(false),
                _ => Err("is not true or false".into()),
            },
        )
        .unwrap_or(false);
    let account_manager = row.parsed(
        "account_manager",
        "a core customer's brief goes to the campaign's support address",
        |s| EmailAddress::parse(s).map_err(|e| e.0),
    );
    let account_manager_name = name_cell(
        raw,
        "account_manager_name",
        None,
        "notices name the account manager by address only",
        &mut row.warnings,
    );
    let phone = row.parsed("phone", "no text messages can reach the customer", |s| {
        Phone::parse(s).map_err(|e| e.0)
    });
    // Kept as written either way; only a number with its country code can
    // be texted.
    if let Some(Err(e)) = phone.as_ref().map(|p| MobileNumber::parse(p.as_str())) {
        row.warnings.push((
            "phone",
            format!("{e}: no text messages can reach the customer"),
        ));
    }
    let no_refund = "no prepaid refund is stated for this customer";
    let prepaid_from = row.parsed("prepaid_from", no_refund, date);
    let prepaid_until = row.parsed("prepaid_until", no_refund, date);
    let prepaid_amount = row.parsed("prepaid_amount", no_refund, amount);
    let given = [
        ("prepaid_from", raw.cell("prepaid_from")),
        ("prepaid_until", raw.cell("prepaid_until")),
        ("prepaid_amount", raw.cell("prepaid_amount")),
    ];
    let prepaid = match (prepaid_from, prepaid_until, prepaid_amount) {
        (Some(from), Some(until), Some(amount)) if until > from => Some(Prepaid {
            from,
            until,
            amount,
        }),
        (Some(_), Some(_), Some(_)) => {
            row.warnings.push((
                "prepaid_until",
                format!("is not after prepaid_from; left empty: {no_refund}"),
            ));
            None
        }
        (None, None, None) => None,
        _ => {
            // Some parts given and readable, others missing: say which.
            for (column, cell) in given {
                if matches!(cell, Cell::Empty) {
                    row.warnings.push((
                        column,
                        format!(
                            "is empty while other prepaid columns are set (all three go \
                             together); {no_refund}"
                        ),
                    ));
                }
            }
            None
        }
    };
    if prepaid.is_some() && currency.is_none() {
        row.warnings.push((
            "currency",
            "is empty while the customer has prepaid fees: the refund is stated without a currency"
                .into(),
        ));
    }
    match (id, email) {
        (Some(id), Some(email)) if refusals.is_empty() => RowOutcome::Customer(
            Customer {
                id,
                name,
                contact_name,
                email,
                locale,
                timezone,
                contract_value,
                currency,
                customer_since,
                usage_score,
                strategic,
                account_manager,
                account_manager_name,
                phone,
                prepaid,
            },
            row.warnings,
        ),
        _ => {
            refusals.extend(row.warnings);
            RowOutcome::Refused(refusals)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::import::{COLUMNS, parse_csv, parse_json};

    const EXAMPLE: &str = include_str!("../../../../examples/orbit-crm.toml");

    fn campaign() -> Campaign {
        Campaign::from_toml(EXAMPLE).unwrap()
    }

    /// One CSV row with these columns set (the others empty).
    fn row_of(values: &[(&str, &str)]) -> RawRow {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(COLUMNS).unwrap();
        let cells: Vec<String> = COLUMNS
            .iter()
            .map(|c| {
                // The last value given for a column wins.
                values
                    .iter()
                    .rev()
                    .find(|(k, _)| k == c)
                    .map_or(String::new(), |(_, v)| (*v).to_owned())
            })
            .collect();
        w.write_record(&cells).unwrap();
        let bytes = w.into_inner().unwrap();
        let file = parse_csv(&bytes).unwrap();
        file.rows().next().unwrap()
    }

    fn imported(values: &[(&str, &str)]) -> (Customer, Vec<FieldProblem>) {
        let mut all = vec![
            ("customer_id", "c1"),
            ("email", "c1@example.com"),
            ("name", "Ann"),
        ];
        all.extend_from_slice(values);
        match parse_row(&row_of(&all), &campaign()) {
            RowOutcome::Customer(c, w) => (c, w),
            RowOutcome::Refused(p) => panic!("refused: {p:?}"),
        }
    }

    fn warned(warnings: &[FieldProblem], field: &str, says: &str) -> bool {
        warnings
            .iter()
            .any(|(f, why)| *f == field && why.contains(says))
    }

    #[test]
    fn a_phone_without_its_country_code_is_kept_but_cannot_be_texted() {
        let (c, w) = imported(&[("phone", "138 0013 8000")]);
        assert!(warned(&w, "phone", "international form"), "{w:?}");
        assert!(warned(&w, "phone", "no text messages"), "{w:?}");
        let phone = c.phone.expect("kept as written");
        assert_eq!(phone.as_str(), "138 0013 8000");
        assert_eq!(phone.mobile(), None);

        let (c, w) = imported(&[("phone", "+86 138-0013-8000")]);
        assert!(w.is_empty(), "{w:?}");
        let mobile = c.phone.and_then(|p| p.mobile()).expect("textable");
        assert_eq!(mobile.as_str(), "+8613800138000");
    }

    #[test]
    fn a_contact_name_is_whom_the_notices_greet() {
        let (c, w) = imported(&[
            ("name", "Smith Logistics Ltd"),
            ("contact_name", "Ann Smith"),
        ]);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.greeted().map(|n| n.as_str()), Some("Ann Smith"));
        // Optional: without one, the notices greet the customer's name.
        let (c, w) = imported(&[("name", "Smith Logistics Ltd")]);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.greeted().map(|n| n.as_str()), Some("Smith Logistics Ltd"));
        // Made one line, with a warning, as a name is.
        let (c, w) = imported(&[("contact_name", "Ann\nSmith")]);
        assert!(warned(&w, "contact_name", "line break"), "{w:?}");
        assert_eq!(c.greeted().map(|n| n.as_str()), Some("Ann Smith"));
    }

    #[test]
    fn only_a_missing_or_bad_id_or_address_refuses_a_row() {
        for values in [
            vec![("email", "a@example.com")],
            vec![("customer_id", "a/b"), ("email", "a@example.com")],
            vec![("customer_id", "c1")],
            vec![("customer_id", "c1"), ("email", "not-an-address")],
        ] {
            assert!(
                matches!(
                    parse_row(&row_of(&values), &campaign()),
                    RowOutcome::Refused(_)
                ),
                "{values:?}"
            );
        }
        let (c, w) = imported(&[("name", "")]);
        assert_eq!(c.name, None);
        assert!(warned(&w, "name", "without a name"));
    }

    #[test]
    fn a_name_becomes_one_line_and_is_cut_to_200_characters() {
        let (c, w) = imported(&[("name", "Ann\r\n  Example\tGmbH")]);
        assert_eq!(c.name.unwrap().as_str(), "Ann Example GmbH");
        assert!(warned(&w, "name", "line break"));
        let long = "N".repeat(300);
        let (c, w) = imported(&[("name", &long)]);
        assert_eq!(c.name.unwrap().as_str().chars().count(), 200);
        assert!(warned(&w, "name", "cut"));
        // Plain runs of spaces are tidied without a warning.
        let (c, w) = imported(&[("name", "Ann   Example")]);
        assert_eq!(c.name.unwrap().as_str(), "Ann Example");
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn a_usage_score_is_any_number_on_the_campaigns_scale() {
        for (raw, want) in [
            ("0.383", Some(0.383)),
            ("37.5", Some(37.5)),
            ("100", Some(100.0)),
        ] {
            let (c, w) = imported(&[("usage_score", raw)]);
            assert_eq!(c.usage_score, want, "{raw}");
            assert!(w.is_empty(), "{w:?}");
        }
        for raw in ["101", "-1", "high", "NaN"] {
            let (c, w) = imported(&[("usage_score", raw)]);
            assert_eq!(c.usage_score, None, "{raw}");
            assert!(warned(&w, "usage_score", "no points for usage"), "{w:?}");
        }
        // A five-star scale.
        let mut stars = campaign();
        stars.segmentation.usage_max = 5;
        let mut all = vec![("customer_id", "c1"), ("email", "c1@example.com")];
        all.push(("usage_score", "4.5"));
        let RowOutcome::Customer(c, _) = parse_row(&row_of(&all), &stars) else {
            panic!()
        };
        assert_eq!(c.usage_score, Some(4.5));
        assert_eq!(
            stars.segmentation.decide(&c, stars.dates.announce).score,
            36
        );
    }

    #[test]
    fn an_optional_field_that_does_not_parse_is_left_empty_saying_what_stands_in() {
        let cases: [(&str, &str, &str); 9] = [
            ("locale", "en GB!", "default language (en)"),
            (
                "timezone",
                "Mars/Olympus",
                "campaign's zone (Europe/Berlin)",
            ),
            (
                "contract_value",
                "12,000.00 EUR",
                "no points for contract value",
            ),
            ("currency", "Euro", "without a currency"),
            ("customer_since", "03/04/2019", "no points for tenure"),
            ("strategic", "maybe", "not counted as strategic"),
            ("account_manager", "Li Wei", "support address"),
            ("phone", "call me", "no text messages"),
            ("prepaid_amount", "lots", "no prepaid refund"),
        ];
        for (field, raw, says) in cases {
            let (_, w) = imported(&[(field, raw)]);
            assert!(warned(&w, field, says), "{field}: {w:?}");
            assert!(
                w.iter().all(|(_, why)| !why.contains(raw)),
                "{field} echoes its value"
            );
        }
        let (c, w) = imported(&[("prepaid_from", "2027-01-01"), ("prepaid_amount", "50")]);
        assert_eq!(c.prepaid, None);
        assert!(
            warned(&w, "prepaid_until", "all three go together"),
            "{w:?}"
        );
    }

    #[test]
    fn a_json_value_of_the_wrong_kind_is_not_turned_into_text() {
        let file = parse_json(
            br#"[{"customer_id": 12345, "email": "a@example.com", "name": true, "usage_score": 7.5, "strategic": true}]"#,
        )
        .unwrap();
        let raw = file.rows().next().unwrap();
        let RowOutcome::Customer(c, w) = parse_row(&raw, &campaign()) else {
            panic!()
        };
        assert_eq!(c.id.as_str(), "12345");
        assert_eq!(c.name, None, "not a name called \"true\"");
        assert!(warned(&w, "name", "true/false"), "{w:?}");
        assert_eq!(c.usage_score, Some(7.5));
        assert!(c.strategic);
        let refused =
            parse_json(br#"[{"customer_id": "a", "email": false, "name": "A"}]"#).unwrap();
        let raw = refused.rows().next().unwrap();
        assert!(matches!(
            parse_row(&raw, &campaign()),
            RowOutcome::Refused(_)
        ));
    }
}
