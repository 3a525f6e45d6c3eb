//! The guide's second step: a core customer hears of the sunset from their
//! account manager, in a call or a meeting, before any mass notice. Each
//! core customer gets a task for their owner, which the owner moves on
//! (to do → scheduled → done) and the campaign escalates when the public
//! announcement would reach the customer first.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{CampaignId, CustomerId, EmailAddress};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutreachState {
    /// Not called yet.
    Todo,
    /// A call or meeting is set (`scheduled_for`).
    Scheduled,
    /// The customer has been told 1:1.
    Done,
    /// The announcement reached their zone first: it is held for them,
    /// and the owner's manager is told (the report lists them).
    Escalated,
}

impl OutreachState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutreachState::Todo => "todo",
            OutreachState::Scheduled => "scheduled",
            OutreachState::Done => "done",
            OutreachState::Escalated => "escalated",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        Ok(match raw.trim() {
            "todo" => Self::Todo,
            "scheduled" => Self::Scheduled,
            "done" => Self::Done,
            "escalated" => Self::Escalated,
            other => {
                return Err(format!(
                    "'{}' is not a state (todo, scheduled, done, escalated)",
                    other.chars().take(40).collect::<String>()
                ));
            }
        })
    }

    /// Whether the customer still has to be told 1:1.
    pub fn is_open(self) -> bool {
        self != OutreachState::Done
    }
}

/// What someone wrote on a task: who, when, what (the call's outcome, a
/// date agreed). Notes are kept; none is edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutreachNote {
    pub at: DateTime<Utc>,
    pub by: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutreachTask {
    pub campaign: CampaignId,
    pub customer: CustomerId,
    /// Their account manager; `None`: the support desk owns the call.
    pub owner: Option<EmailAddress>,
    pub state: OutreachState,
    /// The day the call or meeting is set for.
    pub scheduled_for: Option<NaiveDate>,
    pub notes: Vec<OutreachNote>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
    /// When the announcement was first held for them.
    pub escalated_at: Option<DateTime<Utc>>,
    /// Counts the task's writes: a write names the revision it read, so
    /// two owners' notes at the same instant are both kept.
    pub revision: u64,
}

/// Longest note, in characters.
pub const NOTE_CHARS: usize = 2000;

/// A change the owner (or the operator) makes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutreachChange {
    pub state: Option<OutreachState>,
    pub scheduled_for: Option<NaiveDate>,
    pub note: Option<String>,
}

/// Why a change cannot be made: the field and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct OutreachRefusal {
    pub field: &'static str,
    pub reason: String,
}

impl OutreachTask {
    pub fn new(
        campaign: CampaignId,
        customer: CustomerId,
        owner: Option<EmailAddress>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            campaign,
            customer,
            owner,
            state: OutreachState::Todo,
            scheduled_for: None,
            notes: Vec::new(),
            created_at: now,
            updated_at: now,
            done_at: None,
            escalated_at: None,
            revision: 0,
        }
    }

    /// Applies `change` by `by` at `now`. A task that is done stays done
    /// (a note may still be added); `escalated` is the campaign's to set;
    /// `scheduled` needs the day.
    pub fn apply(
        &mut self,
        change: &OutreachChange,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), OutreachRefusal> {
        let refuse = |field, reason: &str| {
            Err(OutreachRefusal {
                field,
                reason: reason.into(),
            })
        };
        if let Some(state) = change.state {
            match (self.state, state) {
                (_, OutreachState::Escalated) => {
                    return refuse(
                        "state",
                        "is set by the campaign when the announcement would reach the customer first",
                    );
                }
                (OutreachState::Done, s) if s != OutreachState::Done => {
                    return refuse(
                        "state",
                        "the customer has been told; a done task stays done",
                    );
                }
                (_, OutreachState::Scheduled)
                    if change.scheduled_for.or(self.scheduled_for).is_none() =>
                {
                    return refuse("scheduled_for", "a scheduled call needs its day");
                }
                _ => {}
            }
        }
        if let Some(note) = &change.note {
            let note = note.trim();
            if note.is_empty() {
                return refuse("note", "is empty");
            }
            if note.chars().count() > NOTE_CHARS {
                return refuse("note", &format!("is longer than {NOTE_CHARS} characters"));
            }
            self.notes.push(OutreachNote {
                at: now,
                by: by.to_owned(),
                text: note.to_owned(),
            });
        }
        if let Some(day) = change.scheduled_for {
            self.scheduled_for = Some(day);
            if change.state.is_none() && self.state == OutreachState::Todo {
                self.state = OutreachState::Scheduled;
            }
        }
        if let Some(state) = change.state
            && state != self.state
        {
            self.state = state;
            if state == OutreachState::Done {
                self.done_at = Some(now);
            }
        }
        self.updated_at = now;
        Ok(())
    }

    /// The announcement reached the customer's zone before the call: the
    /// task is escalated (once).
    pub fn escalate(&mut self, now: DateTime<Utc>) -> bool {
        if !self.state.is_open() || self.state == OutreachState::Escalated {
            return false;
        }
        self.state = OutreachState::Escalated;
        self.escalated_at = Some(now);
        self.updated_at = now;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> OutreachTask {
        OutreachTask::new(
            CampaignId::parse("c").unwrap(),
            CustomerId::parse("k1").unwrap(),
            None,
            "2027-01-01T00:00:00Z".parse().unwrap(),
        )
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_task_moves_from_todo_through_scheduled_to_done_and_stays_done() {
        let mut t = task();
        let day = "2027-01-20".parse().unwrap();
        t.apply(
            &OutreachChange {
                scheduled_for: Some(day),
                ..Default::default()
            },
            "am",
            at("2027-01-10T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(t.state, OutreachState::Scheduled);
        t.apply(
            &OutreachChange {
                state: Some(OutreachState::Done),
                note: Some(" called; moving to Suite ".into()),
                ..Default::default()
            },
            "am",
            at("2027-01-20T10:00:00Z"),
        )
        .unwrap();
        assert_eq!(t.state, OutreachState::Done);
        assert_eq!(t.done_at, Some(at("2027-01-20T10:00:00Z")));
        assert_eq!(t.notes[0].text, "called; moving to Suite");
        let back = t.apply(
            &OutreachChange {
                state: Some(OutreachState::Todo),
                ..Default::default()
            },
            "am",
            at("2027-01-21T00:00:00Z"),
        );
        assert_eq!(back.unwrap_err().field, "state");
        assert!(!t.escalate(at("2027-02-01T00:00:00Z")));
    }

    #[test]
    fn escalated_is_the_campaigns_to_set_and_scheduled_needs_a_day() {
        let mut t = task();
        let now = at("2027-01-10T00:00:00Z");
        let esc = OutreachChange {
            state: Some(OutreachState::Escalated),
            ..Default::default()
        };
        assert_eq!(t.apply(&esc, "am", now).unwrap_err().field, "state");
        let sched = OutreachChange {
            state: Some(OutreachState::Scheduled),
            ..Default::default()
        };
        assert_eq!(
            t.apply(&sched, "am", now).unwrap_err().field,
            "scheduled_for"
        );
        let empty = OutreachChange {
            note: Some("  ".into()),
            ..Default::default()
        };
        assert_eq!(t.apply(&empty, "am", now).unwrap_err().field, "note");
        assert!(t.escalate(now));
        assert!(!t.escalate(now), "escalated once");
        // An escalated task can still be done.
        let done = OutreachChange {
            state: Some(OutreachState::Done),
            ..Default::default()
        };
        t.apply(&done, "am", now).unwrap();
        assert_eq!(t.state, OutreachState::Done);
    }
}
