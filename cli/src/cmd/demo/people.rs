//! The demo's cast: the applicants, what each holds at the providers and what the lender
//! must decide for each, and the policy in words.

use super::DAY;
use zkcredit_circuits::eligibility::Policy;
use zkcredit_circuits::registry::Role;

/// What happens to an applicant.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Expect {
    Accepted,
    /// The wallet finds no proof exists; the message names this spec rule.
    NoProof(&'static str),
}

pub(super) struct Applicant {
    pub(super) name: &'static str,
    pub(super) id: &'static str,
    /// `(role, nth provider of that role, record)`.
    pub(super) records: Vec<(Role, usize, [u64; 3])>,
    pub(super) expect: Expect,
}

pub(super) fn applicants(now: u64) -> Vec<Applicant> {
    let good_score = (Role::Bureau, 0, [712, now - DAY, 7]);
    vec![
        Applicant {
            name: "Ana   1 loan 120,000, 5 days late, score 712",
            id: "DEMO-0001",
            records: vec![(Role::Lender, 0, [1, 120_000, 5]), good_score],
            expect: Expect::Accepted,
        },
        Applicant {
            name: "Ben   on fraud list #2",
            id: "DEMO-0002",
            records: vec![(Role::FraudList, 1, [4, now - 10 * DAY, 0]), good_score],
            expect: Expect::NoProof("§6.3"),
        },
        Applicant {
            name: "Cat   1 loan at each of 3 lenders (max 2)",
            id: "DEMO-0003",
            records: vec![
                (Role::Lender, 0, [1, 40_000, 0]),
                (Role::Lender, 1, [1, 30_000, 0]),
                (Role::Lender, 2, [1, 20_000, 0]),
                good_score,
            ],
            expect: Expect::NoProof("§6.4"),
        },
        Applicant {
            name: "Dan   owes 300,000 + 250,000 (max 500,000)",
            id: "DEMO-0004",
            records: vec![
                (Role::Lender, 0, [1, 300_000, 0]),
                (Role::Lender, 1, [1, 250_000, 0]),
                good_score,
            ],
            expect: Expect::NoProof("§6.4"),
        },
        Applicant {
            name: "Eve   45 days in arrears (max 30)",
            id: "DEMO-0005",
            records: vec![(Role::Lender, 2, [1, 20_000, 45]), good_score],
            expect: Expect::NoProof("§6.4"),
        },
        Applicant {
            name: "Fay   score 610 (min 650)",
            id: "DEMO-0006",
            records: vec![(Role::Bureau, 0, [610, now - DAY, 7])],
            expect: Expect::NoProof("§6.5"),
        },
        Applicant {
            name: "Gus   score 720 but 100 days old (max 90)",
            id: "DEMO-0007",
            records: vec![(Role::Bureau, 0, [720, now - 100 * DAY, 7])],
            expect: Expect::NoProof("§6.5"),
        },
        Applicant {
            name: "Ivy   within every limit; model says 13%",
            id: "DEMO-0008",
            records: vec![
                (Role::Lender, 1, [2, 500_000, 30]),
                (Role::Bureau, 0, [650, now - DAY, 7]),
            ],
            expect: Expect::NoProof("§6.9"),
        },
    ]
}

pub(super) fn policy_line(p: &Policy) -> String {
    let model = if p.model.is_none() {
        String::new()
    } else {
        format!(
            ", default probability ≤ {:.0}% under the published model \"Defi Score Basic\" v1 (params/models/defi-score-basic.json)",
            p.model.max_probability() * 100.0
        )
    };
    let new_loans = if p.max_new_loans == 0 {
        String::new()
    } else {
        format!(
            ", {} (SPEC §6.10)",
            zkcredit_wallet::origination::limit_in_words(p.max_new_loans)
        )
    };
    format!(
        "fewer than {} active loans, outstanding ≤ {}, arrears ≤ {} days, score ≥ {} issued within {} days, roots published within {} h, KYC at least {} days old{}{model}{new_loans}",
        p.max_active_loans,
        p.max_outstanding,
        p.max_arrears_days,
        p.min_score,
        p.max_score_age / DAY,
        p.max_root_age / 3600,
        p.min_kyc_age / DAY,
        if p.min_kyc_age == 0 {
            " (demo: its holders were KYC'd seconds ago; production sets a period)"
        } else {
            ""
        }
    )
}
