//! What happened to a campaign and to a customer's tier, as stored: a
//! campaign's pause and its cancellation, an operator's tier override.
//! Before versions each was the domain struct's JSON; those read as the
//! same fields without `v`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{decode_err, unknown_version, versioned};
use crate::domain::Tier;
use crate::domain::lifecycle::Cancellation;
use crate::domain::reputation::Pause;
use crate::domain::tier::TierOverride;
use crate::ports::{PortError, PortResult};

/// A pause, version 1 (version 0: the same without `v`).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PauseV1 {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    v: Option<u32>,
    at: DateTime<Utc>,
    reason: String,
}

pub fn pause_to_json(p: &Pause) -> PortResult<String> {
    serde_json::to_string(&PauseV1 {
        v: Some(1),
        at: p.at,
        reason: p.reason.clone(),
    })
    .map_err(PortError::permanent)
}

pub fn pause_from_json(json: &str) -> PortResult<Pause> {
    match versioned(json)? {
        None | Some(1) => {
            let r: PauseV1 =
                serde_json::from_str(json).map_err(|e| decode_err("a campaign's pause", e))?;
            Ok(Pause {
                at: r.at,
                reason: r.reason,
            })
        }
        Some(v) => Err(unknown_version("a campaign's pause", v)),
    }
}

/// A cancellation, version 1 (version 0: the same without `v`).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CancellationV1 {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    v: Option<u32>,
    at: DateTime<Utc>,
    by: String,
    reason: String,
}

pub fn cancellation_to_json(c: &Cancellation) -> PortResult<String> {
    serde_json::to_string(&CancellationV1 {
        v: Some(1),
        at: c.at,
        by: c.by.clone(),
        reason: c.reason.clone(),
    })
    .map_err(PortError::permanent)
}

pub fn cancellation_from_json(json: &str) -> PortResult<Cancellation> {
    match versioned(json)? {
        None | Some(1) => {
            let r: CancellationV1 = serde_json::from_str(json)
                .map_err(|e| decode_err("a campaign's cancellation", e))?;
            Ok(Cancellation {
                at: r.at,
                by: r.by,
                reason: r.reason,
            })
        }
        Some(v) => Err(unknown_version("a campaign's cancellation", v)),
    }
}

/// An operator's tier, version 1 (version 0: the same without `v`). The
/// tier is its word (`core`), read by the domain's parser.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TierOverrideV1 {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    v: Option<u32>,
    tier: String,
    by: String,
    reason: String,
    at: DateTime<Utc>,
}

pub fn tier_override_to_json(o: &TierOverride) -> PortResult<String> {
    serde_json::to_string(&TierOverrideV1 {
        v: Some(1),
        tier: o.tier.as_str().to_owned(),
        by: o.by.clone(),
        reason: o.reason.clone(),
        at: o.at,
    })
    .map_err(PortError::permanent)
}

pub fn tier_override_from_json(json: &str) -> PortResult<TierOverride> {
    match versioned(json)? {
        None | Some(1) => {
            let r: TierOverrideV1 =
                serde_json::from_str(json).map_err(|e| decode_err("a tier override", e))?;
            Ok(TierOverride {
                tier: Tier::parse(&r.tier).ok_or_else(|| {
                    PortError::permanent(anyhow::anyhow!(
                        "a stored tier override names the tier '{}', which is none of core, \
                         standard, low",
                        r.tier.chars().take(40).collect::<String>()
                    ))
                })?,
                by: r.by,
                reason: r.reason,
                at: r.at,
            })
        }
        Some(v) => Err(unknown_version("a tier override", v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As the release before versions stored them (the domain structs'
    /// JSON, fixed here as text): each reads, and writes back as version 1.
    #[test]
    fn pauses_cancellations_and_overrides_written_before_versions_read() {
        let p = pause_from_json(
            r#"{"at":"2027-03-01T08:00:00Z","reason":"hard bounces at 5.20 % of 1000 sent"}"#,
        )
        .unwrap();
        assert_eq!(p.reason, "hard bounces at 5.20 % of 1000 sent");
        let v1 = pause_to_json(&p).unwrap();
        assert!(v1.starts_with(r#"{"v":1,"#), "{v1}");
        assert_eq!(pause_from_json(&v1).unwrap(), p);

        let c = cancellation_from_json(
            r#"{"at":"2027-03-02T08:00:00Z","by":"Ana","reason":"product kept"}"#,
        )
        .unwrap();
        assert_eq!((c.by.as_str(), c.reason.as_str()), ("Ana", "product kept"));
        let v1 = cancellation_to_json(&c).unwrap();
        assert!(v1.starts_with(r#"{"v":1,"#), "{v1}");
        assert_eq!(cancellation_from_json(&v1).unwrap(), c);

        let o = tier_override_from_json(
            r#"{"tier":"core","by":"Li Wei","reason":"renewed","at":"2027-01-05T10:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(o.tier, Tier::Core);
        let v1 = tier_override_to_json(&o).unwrap();
        assert!(v1.starts_with(r#"{"v":1,"#), "{v1}");
        assert_eq!(tier_override_from_json(&v1).unwrap(), o);
    }

    #[test]
    fn a_later_version_a_stray_field_or_an_unknown_tier_is_an_error_naming_it() {
        let e = pause_from_json(r#"{"v":2,"at":"2027-03-01T08:00:00Z","reason":"x"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("version 2"), "{e}");
        assert!(
            cancellation_from_json(
                r#"{"v":1,"at":"2027-03-01T08:00:00Z","by":"a","reason":"b","undo":true}"#
            )
            .is_err()
        );
        let e = tier_override_from_json(
            r#"{"v":1,"tier":"gold","by":"a","reason":"b","at":"2027-01-05T10:00:00Z"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("'gold'"), "{e}");
    }
}
