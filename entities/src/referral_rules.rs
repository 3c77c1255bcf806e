//! The referral state machine: which status changes are legal, who may make them, and which
//! need a reason.
//!
//! The states follow FHIR Task as profiled by HL7 SDOH Clinical Care:
//!
//! ```text
//! requested ──► received ──► accepted ──► in-progress ──► completed
//!     │             │                          └────────► failed
//!     │             ▼
//!     └──────────► rejected
//!
//! received | accepted | in-progress ──► on-hold ──► (back to the state it was held from)
//! any state that is not closed ──► cancelled   (by the sender)
//! ```
//!
//! Who moves a referral:
//! - the **receiving partner** (the organization offering the service) reports every step of the
//!   work: it receives, accepts or rejects, starts, holds and resumes, completes or fails;
//! - the **sender** (the caseworker who created the referral) may only withdraw it: `cancelled`,
//!   from any state that is not closed;
//! - the **system** may only reject a `requested` referral (automatic rejection when the service
//!   has no capacity);
//! - the **admin** (the municipality) may not move referrals at all. The municipality observes
//!   outcomes in reports; the providers report them. Letting the observer edit the record it
//!   reports on would blur who said what in the audit trail and let the statistics be adjusted
//!   after the fact, so admins only read.
//!
//! The rules are pure: no database, no clock, no HTTP. The API maps [`TransitionError`] to its
//! responses (an illegal step is a conflict, a wrong actor is forbidden, a bad reason is
//! unprocessable).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The longest free-text reason accepted, in characters (not bytes, so "æøå" count once each).
pub const REASON_MAX_CHARS: usize = 500;

/// The status of a referral. The kebab-case strings from [`ReferralStatus::as_str`] are the
/// public contract (API, database, reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReferralStatus {
    /// Sent by the caseworker, not yet opened by the partner.
    Requested,
    /// Opened by the receiving partner.
    Received,
    /// The partner will take the family on.
    Accepted,
    /// The partner declined (closed).
    Rejected,
    /// The partner is working with the family.
    InProgress,
    /// Paused by the partner; resumes to the state it was held from.
    OnHold,
    /// The service was delivered (closed).
    Completed,
    /// The service was started but could not be delivered (closed).
    Failed,
    /// Withdrawn by the sender (closed).
    Cancelled,
}

impl ReferralStatus {
    /// Every status, in the order of the workflow.
    pub const ALL: [ReferralStatus; 9] = [
        ReferralStatus::Requested,
        ReferralStatus::Received,
        ReferralStatus::Accepted,
        ReferralStatus::Rejected,
        ReferralStatus::InProgress,
        ReferralStatus::OnHold,
        ReferralStatus::Completed,
        ReferralStatus::Failed,
        ReferralStatus::Cancelled,
    ];

    /// The stable wire and storage name, e.g. `"in-progress"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReferralStatus::Requested => "requested",
            ReferralStatus::Received => "received",
            ReferralStatus::Accepted => "accepted",
            ReferralStatus::Rejected => "rejected",
            ReferralStatus::InProgress => "in-progress",
            ReferralStatus::OnHold => "on-hold",
            ReferralStatus::Completed => "completed",
            ReferralStatus::Failed => "failed",
            ReferralStatus::Cancelled => "cancelled",
        }
    }

    /// Parses the name produced by [`ReferralStatus::as_str`] (exact, case-sensitive).
    pub fn parse(s: &str) -> Result<Self, UnknownStatus> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }

    /// A closed referral never changes again: rejected, completed, failed or cancelled.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            ReferralStatus::Rejected | ReferralStatus::Completed | ReferralStatus::Failed | ReferralStatus::Cancelled
        )
    }

    /// The states a referral can be put on hold from (and so the only states it can resume to).
    pub fn can_be_held(self) -> bool {
        matches!(
            self,
            ReferralStatus::Received | ReferralStatus::Accepted | ReferralStatus::InProgress
        )
    }

    /// Whether moving *to* this status needs a reason: rejected, failed, cancelled and on-hold.
    pub fn requires_reason(self) -> bool {
        matches!(
            self,
            ReferralStatus::Rejected | ReferralStatus::Failed | ReferralStatus::Cancelled | ReferralStatus::OnHold
        )
    }
}

impl fmt::Display for ReferralStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReferralStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A string that is not one of the [`ReferralStatus`] names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown referral status {0:?}")]
pub struct UnknownStatus(pub String);

/// Who asks for a transition. The API derives this from the key's role and organization and the
/// referral: the caseworker who created it is the `Sender`, a partner key of the organization
/// that offers the referred service is the `ReceivingPartner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Actor {
    /// The caseworker who created the referral.
    Sender,
    /// The organization that offers the referred service.
    ReceivingPartner,
    /// The municipality. Reads referrals but never moves them (see the module docs).
    Admin,
    /// Brobygger itself, e.g. automatic rejection for lack of capacity.
    System,
}

impl Actor {
    /// Every actor.
    pub const ALL: [Actor; 4] = [Actor::Sender, Actor::ReceivingPartner, Actor::Admin, Actor::System];

    /// A stable name for messages and the audit log, e.g. `"receiving-partner"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Sender => "sender",
            Actor::ReceivingPartner => "receiving-partner",
            Actor::Admin => "admin",
            Actor::System => "system",
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a referral was rejected: a closed set, so the municipality can report on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RejectionReason {
    /// The service is full.
    NoCapacity,
    /// The family does not meet the service's eligibility criteria.
    NotEligible,
    /// The family does not want the service.
    FamilyDeclined,
    /// The partner could not reach the family.
    Unreachable,
    /// The family is already referred to or enrolled in this service.
    Duplicate,
    /// Anything else; details belong in the transition's note.
    Other,
}

impl RejectionReason {
    /// Every rejection reason.
    pub const ALL: [RejectionReason; 6] = [
        RejectionReason::NoCapacity,
        RejectionReason::NotEligible,
        RejectionReason::FamilyDeclined,
        RejectionReason::Unreachable,
        RejectionReason::Duplicate,
        RejectionReason::Other,
    ];

    /// The stable code, e.g. `"no-capacity"`.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionReason::NoCapacity => "no-capacity",
            RejectionReason::NotEligible => "not-eligible",
            RejectionReason::FamilyDeclined => "family-declined",
            RejectionReason::Unreachable => "unreachable",
            RejectionReason::Duplicate => "duplicate",
            RejectionReason::Other => "other",
        }
    }

    /// Parses a code produced by [`RejectionReason::as_str`] (exact, case-sensitive).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.as_str() == s)
    }
}

impl fmt::Display for RejectionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a transition was refused. Checked in this order: the step itself, the actor, the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// No actor may make this step (e.g. from a closed state, or resuming to the wrong state).
    #[error("a referral cannot go from {from} to {to}")]
    Illegal { from: ReferralStatus, to: ReferralStatus },
    /// The step exists, but not for this actor.
    #[error("{actor} may not move a referral to {to}")]
    NotAllowedFor { actor: Actor, to: ReferralStatus },
    /// Moving to `to` needs a non-blank reason.
    #[error("a reason is required to move a referral to {to}")]
    ReasonRequired { to: ReferralStatus },
    /// A rejection reason outside the closed set of [`RejectionReason`] codes.
    #[error(
        "unknown rejection reason {reason:?}; expected one of no-capacity, not-eligible, family-declined, unreachable, duplicate, other"
    )]
    UnknownReason { reason: String },
    /// A free-text reason longer than [`REASON_MAX_CHARS`].
    #[error("the reason is {chars} characters long; at most {max} are allowed")]
    ReasonTooLong { chars: usize, max: usize },
}

/// The actors that may move a referral from `from` to `to`; empty when the step is illegal.
///
/// `held_from` is the state an `on-hold` referral was held from; it matters only when `from` is
/// `on-hold`, and an on-hold referral resumes only to that state.
fn permitted_actors(from: ReferralStatus, to: ReferralStatus, held_from: Option<ReferralStatus>) -> &'static [Actor] {
    use ReferralStatus::*;
    const PARTNER: &[Actor] = &[Actor::ReceivingPartner];
    const PARTNER_OR_SYSTEM: &[Actor] = &[Actor::ReceivingPartner, Actor::System];
    const SENDER: &[Actor] = &[Actor::Sender];

    match (from, to) {
        // Set by the API when the partner first opens the referral, or explicitly.
        (Requested, Received) => PARTNER,
        // Declined unopened; the system auto-rejects when there is no capacity.
        (Requested, Rejected) => PARTNER_OR_SYSTEM,
        (Received, Accepted | Rejected) => PARTNER,
        (Accepted, InProgress) => PARTNER,
        (InProgress, Completed | Failed) => PARTNER,
        (Received | Accepted | InProgress, OnHold) => PARTNER,
        (OnHold, back) if back.can_be_held() && held_from == Some(back) => PARTNER,
        (from, Cancelled) if !from.is_closed() => SENDER,
        _ => &[],
    }
}

/// Checks one status change: is the step legal, may `actor` make it, and is `reason` acceptable.
///
/// - `held_from`: when `from` is `on-hold`, the state it was held from (the last state before
///   on-hold); ignored otherwise. Without it an on-hold referral can only be cancelled.
/// - `reason`: required (non-blank) for rejected, failed, cancelled and on-hold. For rejected it
///   must be a [`RejectionReason`] code; otherwise it is free text of at most
///   [`REASON_MAX_CHARS`] characters. Optional for other targets, with the same length limit.
///   Surrounding whitespace is ignored.
pub fn check_transition(
    from: ReferralStatus,
    to: ReferralStatus,
    actor: Actor,
    held_from: Option<ReferralStatus>,
    reason: Option<&str>,
) -> Result<(), TransitionError> {
    let actors = permitted_actors(from, to, held_from);
    if actors.is_empty() {
        return Err(TransitionError::Illegal { from, to });
    }
    if !actors.contains(&actor) {
        return Err(TransitionError::NotAllowedFor { actor, to });
    }
    check_reason(to, reason)
}

/// Checks the reason given for moving to `to` (see [`check_transition`]).
pub fn check_reason(to: ReferralStatus, reason: Option<&str>) -> Result<(), TransitionError> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    let Some(reason) = reason else {
        return if to.requires_reason() {
            Err(TransitionError::ReasonRequired { to })
        } else {
            Ok(())
        };
    };
    if to == ReferralStatus::Rejected {
        return match RejectionReason::parse(reason) {
            Some(_) => Ok(()),
            None => Err(TransitionError::UnknownReason {
                reason: reason.to_owned(),
            }),
        };
    }
    let chars = reason.chars().count();
    if chars > REASON_MAX_CHARS {
        return Err(TransitionError::ReasonTooLong {
            chars,
            max: REASON_MAX_CHARS,
        });
    }
    Ok(())
}

/// The statuses `actor` may move a referral to from `from`, in [`ReferralStatus::ALL`] order.
/// Reasons are not considered: a target that needs one is listed (see
/// [`ReferralStatus::requires_reason`]).
pub fn legal_targets(from: ReferralStatus, actor: Actor, held_from: Option<ReferralStatus>) -> Vec<ReferralStatus> {
    ReferralStatus::ALL
        .into_iter()
        .filter(|&to| permitted_actors(from, to, held_from).contains(&actor))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::ReferralStatus::*;
    use super::*;
    use std::collections::BTreeSet;

    const PARTNER: Actor = Actor::ReceivingPartner;

    /// Every legal step apart from resuming from on-hold, written out by hand.
    const TABLE: &[(ReferralStatus, ReferralStatus, Actor)] = &[
        (Requested, Received, PARTNER),
        (Requested, Rejected, PARTNER),
        (Requested, Rejected, Actor::System),
        (Requested, Cancelled, Actor::Sender),
        (Received, Accepted, PARTNER),
        (Received, Rejected, PARTNER),
        (Received, OnHold, PARTNER),
        (Received, Cancelled, Actor::Sender),
        (Accepted, InProgress, PARTNER),
        (Accepted, OnHold, PARTNER),
        (Accepted, Cancelled, Actor::Sender),
        (InProgress, Completed, PARTNER),
        (InProgress, Failed, PARTNER),
        (InProgress, OnHold, PARTNER),
        (InProgress, Cancelled, Actor::Sender),
        (OnHold, Cancelled, Actor::Sender),
    ];

    /// The states an on-hold referral may resume to, by the partner, when it was held from them.
    const RESUMABLE: &[ReferralStatus] = &[Received, Accepted, InProgress];

    fn held_from_options() -> Vec<Option<ReferralStatus>> {
        std::iter::once(None)
            .chain(ReferralStatus::ALL.into_iter().map(Some))
            .collect()
    }

    fn expected_legal(
        from: ReferralStatus,
        to: ReferralStatus,
        actor: Actor,
        held_from: Option<ReferralStatus>,
    ) -> bool {
        TABLE.contains(&(from, to, actor))
            || (from == OnHold && actor == PARTNER && held_from == Some(to) && RESUMABLE.contains(&to))
    }

    fn valid_reason(to: ReferralStatus) -> Option<&'static str> {
        match to {
            Rejected => Some("no-capacity"),
            to if to.requires_reason() => Some("familien er flyttet"),
            _ => None,
        }
    }

    #[test]
    fn every_pair_actor_and_held_from_matches_the_table() {
        for from in ReferralStatus::ALL {
            for to in ReferralStatus::ALL {
                for held_from in held_from_options() {
                    let any_actor = Actor::ALL.into_iter().any(|a| expected_legal(from, to, a, held_from));
                    for actor in Actor::ALL {
                        let got = check_transition(from, to, actor, held_from, valid_reason(to));
                        let want = if expected_legal(from, to, actor, held_from) {
                            Ok(())
                        } else if any_actor {
                            Err(TransitionError::NotAllowedFor { actor, to })
                        } else {
                            Err(TransitionError::Illegal { from, to })
                        };
                        assert_eq!(got, want, "{from} -> {to} by {actor}, held from {held_from:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn legal_targets_match_the_table() {
        for from in ReferralStatus::ALL {
            for actor in Actor::ALL {
                for held_from in held_from_options() {
                    let want: Vec<_> = ReferralStatus::ALL
                        .into_iter()
                        .filter(|&to| expected_legal(from, to, actor, held_from))
                        .collect();
                    assert_eq!(legal_targets(from, actor, held_from), want);
                }
            }
        }
    }

    #[test]
    fn spot_checks_of_legal_targets() {
        assert_eq!(legal_targets(Requested, PARTNER, None), vec![Received, Rejected]);
        assert_eq!(legal_targets(Requested, Actor::System, None), vec![Rejected]);
        assert_eq!(legal_targets(Accepted, Actor::Sender, None), vec![Cancelled]);
        assert_eq!(legal_targets(OnHold, PARTNER, Some(Accepted)), vec![Accepted]);
        assert!(legal_targets(OnHold, PARTNER, None).is_empty());
    }

    #[test]
    fn admin_never_moves_a_referral() {
        for from in ReferralStatus::ALL {
            for held_from in held_from_options() {
                assert!(legal_targets(from, Actor::Admin, held_from).is_empty());
            }
        }
    }

    #[test]
    fn closed_states_are_final() {
        for from in ReferralStatus::ALL.into_iter().filter(|s| s.is_closed()) {
            for actor in Actor::ALL {
                for held_from in held_from_options() {
                    assert!(legal_targets(from, actor, held_from).is_empty());
                }
            }
        }
        let closed: BTreeSet<_> = ReferralStatus::ALL.into_iter().filter(|s| s.is_closed()).collect();
        assert_eq!(closed, BTreeSet::from([Rejected, Completed, Failed, Cancelled]));
    }

    #[test]
    fn on_hold_round_trip_returns_only_to_held_from() {
        for held in [Received, Accepted, InProgress] {
            check_transition(held, OnHold, PARTNER, None, Some("ferie")).unwrap();
            for to in ReferralStatus::ALL {
                let got = check_transition(OnHold, to, PARTNER, Some(held), valid_reason(to));
                if to == held {
                    assert_eq!(got, Ok(()));
                } else if to == Cancelled {
                    assert_eq!(got, Err(TransitionError::NotAllowedFor { actor: PARTNER, to }));
                } else {
                    assert_eq!(got, Err(TransitionError::Illegal { from: OnHold, to }));
                }
            }
            // The sender may still cancel while on hold.
            check_transition(
                OnHold,
                Cancelled,
                Actor::Sender,
                Some(held),
                Some("ikke længere relevant"),
            )
            .unwrap();
        }
    }

    #[test]
    fn reasons_are_required_exactly_for_rejected_failed_cancelled_on_hold() {
        let required: BTreeSet<_> = ReferralStatus::ALL
            .into_iter()
            .filter(|s| s.requires_reason())
            .collect();
        assert_eq!(required, BTreeSet::from([Rejected, OnHold, Failed, Cancelled]));

        for from in ReferralStatus::ALL {
            for to in ReferralStatus::ALL {
                for actor in Actor::ALL {
                    let held_from = Some(Accepted);
                    if !expected_legal(from, to, actor, held_from) {
                        continue;
                    }
                    for missing in [None, Some(""), Some("   \n")] {
                        let got = check_transition(from, to, actor, held_from, missing);
                        if to.requires_reason() {
                            assert_eq!(got, Err(TransitionError::ReasonRequired { to }));
                        } else {
                            assert_eq!(got, Ok(()), "{from} -> {to} without reason");
                        }
                    }
                    // An optional reason is accepted when given.
                    if !to.requires_reason() {
                        assert_eq!(check_transition(from, to, actor, held_from, Some("note")), Ok(()));
                    }
                }
            }
        }
    }

    #[test]
    fn rejection_reasons_are_a_closed_set() {
        for reason in RejectionReason::ALL {
            assert_eq!(
                check_transition(Received, Rejected, PARTNER, None, Some(reason.as_str())),
                Ok(())
            );
            assert_eq!(RejectionReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(
            check_transition(Requested, Rejected, Actor::System, None, Some(" no-capacity ")),
            Ok(())
        );
        for bad in ["full", "No-Capacity", "no capacity", "other: moved away"] {
            assert_eq!(
                check_transition(Received, Rejected, PARTNER, None, Some(bad)),
                Err(TransitionError::UnknownReason { reason: bad.to_owned() })
            );
        }
    }

    #[test]
    fn free_text_reasons_are_limited_to_500_characters() {
        let at_limit = "ø".repeat(REASON_MAX_CHARS); // 1000 bytes, 500 characters
        let over = "a".repeat(REASON_MAX_CHARS + 1);
        for (from, to, actor) in [
            (InProgress, Failed, PARTNER),
            (Accepted, OnHold, PARTNER),
            (Requested, Cancelled, Actor::Sender),
            (Accepted, InProgress, PARTNER),
        ] {
            assert_eq!(check_transition(from, to, actor, None, Some(&at_limit)), Ok(()));
            assert_eq!(
                check_transition(from, to, actor, None, Some(&over)),
                Err(TransitionError::ReasonTooLong {
                    chars: REASON_MAX_CHARS + 1,
                    max: REASON_MAX_CHARS
                })
            );
        }
    }

    #[test]
    fn errors_are_checked_step_then_actor_then_reason() {
        // Illegal wins over a wrong actor and a missing reason.
        assert_eq!(
            check_transition(Completed, Failed, Actor::Admin, None, None),
            Err(TransitionError::Illegal {
                from: Completed,
                to: Failed
            })
        );
        // A wrong actor wins over a missing reason.
        assert_eq!(
            check_transition(InProgress, Failed, Actor::Sender, None, None),
            Err(TransitionError::NotAllowedFor {
                actor: Actor::Sender,
                to: Failed
            })
        );
        // The system may only auto-reject a requested referral.
        assert_eq!(
            check_transition(Received, Rejected, Actor::System, None, Some("no-capacity")),
            Err(TransitionError::NotAllowedFor {
                actor: Actor::System,
                to: Rejected
            })
        );
    }

    #[test]
    fn status_names_round_trip() {
        let names: Vec<_> = ReferralStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "requested",
                "received",
                "accepted",
                "rejected",
                "in-progress",
                "on-hold",
                "completed",
                "failed",
                "cancelled"
            ]
        );
        for status in ReferralStatus::ALL {
            assert_eq!(status.as_str().parse::<ReferralStatus>(), Ok(status));
            assert_eq!(ReferralStatus::parse(status.as_str()), Ok(status));
            assert_eq!(status.to_string(), status.as_str());
        }
        assert_eq!(
            ReferralStatus::parse("In-Progress"),
            Err(UnknownStatus("In-Progress".to_owned()))
        );
        assert!(ReferralStatus::parse("in_progress").is_err());
        assert!(ReferralStatus::parse("").is_err());
    }

    #[test]
    fn serde_uses_the_kebab_case_names() {
        for status in ReferralStatus::ALL {
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(serde_json::from_str::<ReferralStatus>(&json).unwrap(), status);
        }
        for reason in RejectionReason::ALL {
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, format!("\"{}\"", reason.as_str()));
        }
        for actor in Actor::ALL {
            let json = serde_json::to_string(&actor).unwrap();
            assert_eq!(json, format!("\"{}\"", actor.as_str()));
        }
    }

    #[test]
    fn error_messages_read_well() {
        assert_eq!(
            TransitionError::Illegal {
                from: Completed,
                to: InProgress
            }
            .to_string(),
            "a referral cannot go from completed to in-progress"
        );
        assert_eq!(
            TransitionError::NotAllowedFor {
                actor: Actor::Admin,
                to: OnHold
            }
            .to_string(),
            "admin may not move a referral to on-hold"
        );
        assert_eq!(
            TransitionError::ReasonRequired { to: Cancelled }.to_string(),
            "a reason is required to move a referral to cancelled"
        );
    }
}
