//! The statement in a person's words (spec §6): what a lender's policy asks, what the lender
//! learns from a proof and what it does not, and — when the wallet's own check finds that
//! no proof can exist — which condition fails, with the borrower's own figures.
//!
//! Shared by the command-line wallet and the local wallet app, so both say the same thing.

use zkcredit_circuits::eligibility::{EligibilityWitness, Policy, Rule};
use zkcredit_circuits::field::fr_to_u64;
use zkcredit_circuits::imt::LeafRecord;
use zkcredit_circuits::model::Factors;
use zkcredit_circuits::registry::Role;
use zkcredit_circuits::CircuitError;

const DAY: u64 = 86_400;

/// `1234567` → `"1,234,567"`.
pub fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An exact duration in the largest unit that divides it: `"90 days"`, `"1 day"`,
/// `"36 hours"`, `"90 minutes"`, `"45 seconds"`.
fn duration(secs: u64) -> String {
    let unit = |n: u64, one: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{} {one}s", grouped(n))
        }
    };
    if secs >= DAY && secs.is_multiple_of(DAY) {
        unit(secs / DAY, "day")
    } else if secs >= 3600 && secs.is_multiple_of(3600) {
        unit(secs / 3600, "hour")
    } else if secs >= 60 && secs.is_multiple_of(60) {
        unit(secs / 60, "minute")
    } else {
        unit(secs, "second")
    }
}

/// `"the last 90 days"`, `"the last day"`.
fn the_last(secs: u64) -> String {
    let d = duration(secs);
    format!("the last {}", d.strip_prefix("1 ").unwrap_or(&d))
}

/// An elapsed time, rounded down to whole days (or hours under a day): `"100 days"`.
fn about(secs: u64) -> String {
    if secs >= DAY {
        duration(secs / DAY * DAY)
    } else {
        duration(secs / 3600 * 3600).replace("0 seconds", "less than an hour")
    }
}

/// Each condition of `policy`, one short sentence each, in the order a person reads them.
pub fn policy_conditions(p: &Policy) -> Vec<String> {
    let mut v = vec![
        "you are KYC-verified by the alliance's issuer, and that verification has not expired"
            .to_string(),
        "you are on none of the alliance's fraud lists".to_string(),
        format!(
            "you have fewer than {} active loans across all lenders",
            grouped(p.max_active_loans)
        ),
        format!(
            "you owe at most {} in total across all lenders (in the currency's minor units, \
             e.g. cents)",
            grouped(p.max_outstanding)
        ),
        if p.max_arrears_days == 0 {
            "you have no payment in arrears at any lender".to_string()
        } else {
            format!(
                "you have no arrears over {} days at any lender",
                grouped(p.max_arrears_days)
            )
        },
        format!(
            "you have a credit score of at least {}, issued within {}",
            grouped(p.min_score),
            the_last(p.max_score_age)
        ),
    ];
    if p.min_kyc_age > 0 {
        v.push(format!(
            "your KYC verification is at least {} old",
            duration(p.min_kyc_age)
        ));
    }
    if !p.model.is_none() {
        v.push(format!(
            "the lender's published default-probability model, applied to your records \
             across all lenders and bureaus, puts your probability of default at most {}",
            percent(p.model.max_probability())
        ));
    }
    if p.max_new_loans > 0 {
        v.push(format!(
            "this loan is one of {}",
            crate::origination::limit_in_words(p.max_new_loans)
        ));
    }
    v.push(format!(
        "every lender's, bureau's and list's data was published within {}",
        the_last(p.max_root_age)
    ));
    v
}

/// The policy as one line: `"you are KYC-verified …; you have fewer than 3 active loans
/// across all lenders; …"`.
pub fn policy_in_words(p: &Policy) -> String {
    policy_conditions(p).join("; ")
}

/// What a lender with policy `p` learns from an accepted proof for `product`.
pub fn lender_learns(p: &Policy, product: &str) -> Vec<String> {
    let mut v = vec![
        "whether you meet every condition above: yes or no".into(),
        format!(
            "a pseudonym for you that is the same each time you apply to this lender for \
             {product} in this period, and unrelated to the one any other lender sees"
        ),
    ];
    if p.max_new_loans > 0 {
        v.push(
            "a one-time tag for this new loan, kept where every lender that checks the limit \
             sees it is used; it is unrelated to your pseudonym, to your other loans' tags and \
             to your tags of other periods"
                .into(),
        );
    }
    v
}

/// What a lender with policy `p` does not learn from a proof.
pub fn lender_does_not_learn(p: &Policy) -> Vec<String> {
    let mut v: Vec<String> = vec![
        "your name or any identifier".into(),
        "which lenders you borrow from, or how much".into(),
        "how many loans you have or how late any payment is".into(),
        "your credit score or which bureau gave it".into(),
    ];
    if !p.model.is_none() {
        v.push(
            "your probability of default under its model, or any of the figures it is \
             computed from (only that it is at most the limit)"
                .into(),
        );
    }
    v.push("anything about anyone else in the lenders', bureaus' or lists' data".into());
    v
}

/// The borrower's own figures, read from the gathered witness (their records in every slot).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    /// Σ active loans over lenders.
    pub loans: u128,
    /// Σ outstanding over lenders.
    pub outstanding: u128,
    /// Worst arrears (days) over lenders.
    pub worst_arrears: u64,
    /// Best bureau score and when it was issued.
    pub best_score: Option<(u64, u64)>,
    /// The freshest score and when it was issued.
    pub freshest_score: Option<(u64, u64)>,
    /// The KYC record's `(issued_at, expires_at)`.
    pub kyc: Option<(u64, u64)>,
}

fn own_values(w: &EligibilityWitness, i: usize) -> Option<[u64; 3]> {
    let sw = w.slots.get(i)?;
    let leaf = &sw.lookup.leaf;
    if leaf.key != w.subject_key {
        return None;
    }
    match leaf.record {
        LeafRecord::Open { values, .. } => Some([
            fr_to_u64(&values[0]).unwrap_or(u64::MAX),
            fr_to_u64(&values[1]).unwrap_or(u64::MAX),
            fr_to_u64(&values[2]).unwrap_or(u64::MAX),
        ]),
        LeafRecord::Sealed { .. } => None,
    }
}

/// The borrower's figures across every slot of `w`.
pub fn figures(w: &EligibilityWitness) -> Figures {
    let mut f = Figures::default();
    for (i, sw) in w.slots.iter().enumerate() {
        let Some(v) = own_values(w, i) else { continue };
        match sw.slot.role {
            Role::Lender => {
                f.loans += v[0] as u128;
                f.outstanding += v[1] as u128;
                f.worst_arrears = f.worst_arrears.max(v[2]);
            }
            Role::Bureau => {
                if f.best_score.is_none_or(|(s, _)| v[0] > s) {
                    f.best_score = Some((v[0], v[1]));
                }
                if f.freshest_score.is_none_or(|(_, at)| v[1] > at) {
                    f.freshest_score = Some((v[0], v[1]));
                }
            }
            Role::Kyc => f.kyc = Some((v[1], v[2])),
            _ => {}
        }
    }
    f
}

/// `0.05` → `"5.0%"`, `0.0012` → `"0.12%"`.
fn percent(p: f64) -> String {
    let pct = p * 100.0;
    if pct >= 1.0 {
        format!("{pct:.1}%")
    } else {
        format!("{pct:.2}%")
    }
}

/// The model's factors (spec §6.9) from the borrower's figures.
fn model_factors(f: &Figures, now: u64) -> Factors {
    Factors([
        f.loans,
        f.outstanding,
        f.worst_arrears as u128,
        f.freshest_score.map_or(0, |(s, _)| s as u128),
        f.kyc
            .map_or(0, |(issued, _)| now.saturating_sub(issued) as u128),
    ])
}

fn grouped128(n: u128) -> String {
    u64::try_from(n)
        .map(grouped)
        .unwrap_or_else(|_| n.to_string())
}

/// Whether `err` (the native check's refusal) is about the borrower's own records — a
/// condition of the policy they do not meet — rather than gathered data that does not fit
/// together (a path, a root, the registry), which a retry may cure.
pub fn is_about_the_borrower(err: &CircuitError) -> bool {
    matches!(
        err,
        CircuitError::Statement {
            rule: Rule::FraudList
                | Rule::ActiveLoans
                | Rule::Outstanding
                | Rule::Arrears
                | Rule::BureauScore
                | Rule::DefaultModel
                | Rule::Kyc
                | Rule::KycHolder
                | Rule::KycExpiry
                | Rule::KycAge
                | Rule::RootFreshness,
            ..
        }
    )
}

/// Why no proof can exist for `w`, in the borrower's words with their own figures, when
/// `err` is the native check's refusal ([`EligibilityWitness::check`]).
pub fn why_not(err: &CircuitError, w: &EligibilityWitness) -> String {
    let CircuitError::Statement { rule, detail } = err else {
        return format!("the gathered data could not be checked ({err})");
    };
    let p = &w.policy;
    let f = figures(w);
    let now = w.now;
    match rule {
        Rule::FraudList => "you are on one of the alliance's fraud lists, and this lender \
                            cannot lend to anyone on such a list"
            .into(),
        Rule::ActiveLoans => format!(
            "you have {} active loans across all lenders; this lender accepts fewer than {}",
            grouped128(f.loans),
            grouped(p.max_active_loans)
        ),
        Rule::Outstanding => format!(
            "you owe {} in total across all lenders; this lender accepts at most {}",
            grouped128(f.outstanding),
            grouped(p.max_outstanding)
        ),
        Rule::Arrears => format!(
            "one of your loans is {} days late; this lender accepts no arrears over {} days",
            grouped(f.worst_arrears),
            grouped(p.max_arrears_days)
        ),
        Rule::BureauScore => match (f.best_score, f.freshest_score) {
            (None, _) => "no credit bureau of the alliance has a score for you".into(),
            (Some((s, _)), _) if s < p.min_score => format!(
                "your credit score is {}; this lender asks for at least {}",
                grouped(s),
                grouped(p.min_score)
            ),
            (Some((s, at)), _) => format!(
                "your credit score of {} was issued {} ago; this lender needs one issued \
                 within {} (ask your bureau for a new score)",
                grouped(s),
                about(now.saturating_sub(at)),
                duration(p.max_score_age)
            ),
        },
        Rule::Kyc => "the KYC issuer's published list does not include you yet: your \
                      approval appears after the issuer's next publication (try again in a \
                      few minutes)"
            .into(),
        Rule::KycHolder => "your KYC verification belongs to another wallet: this wallet's \
                            key does not match it"
            .into(),
        Rule::KycExpiry => "your KYC verification has expired: apply for KYC again".into(),
        Rule::KycAge => match f.kyc {
            Some((issued, _)) => format!(
                "your KYC verification is too recent: this lender requires it to be at least \
                 {} old, which it will be in about {}",
                duration(p.min_kyc_age),
                about(
                    issued
                        .saturating_add(p.min_kyc_age)
                        .saturating_sub(now)
                        .max(3600)
                )
            ),
            None => format!(
                "your KYC verification is too recent: this lender requires it to be at least {} old",
                duration(p.min_kyc_age)
            ),
        },
        Rule::DefaultModel => {
            let x = model_factors(&f, now);
            let yours = p
                .model
                .probability(&x)
                .map(percent)
                .unwrap_or_else(|| "above its limit".into());
            format!(
                "this lender's default-probability model puts yours at {yours}, from your {} \
                 active loans, {} owed in total, worst arrears of {} days, latest credit \
                 score of {} and KYC verified {} ago; this lender accepts at most {}",
                grouped128(x.0[0]),
                grouped128(x.0[1]),
                grouped128(x.0[2]),
                grouped128(x.0[3]),
                about(x.0[4] as u64),
                percent(p.model.max_probability())
            )
        }
        Rule::RootFreshness => format!(
            "a lender's, bureau's or list's published data is older than this lender allows \
             ({}); try again after it publishes ({detail})",
            duration(p.max_root_age)
        ),
        _ => format!(
            "the data the wallet gathered is not consistent ({detail}); try again in a minute"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_policy_in_words() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(500_000), "500,000");
        assert_eq!(grouped(u64::MAX), "18,446,744,073,709,551,615");
        let p = Policy {
            max_active_loans: 3,
            max_outstanding: 500_000,
            max_arrears_days: 30,
            min_score: 650,
            max_score_age: 90 * DAY,
            max_root_age: DAY,
            min_kyc_age: 0,
            max_new_loans: 0,
            model: Default::default(),
        };
        let words = policy_in_words(&p);
        for needle in [
            "fewer than 3 active loans across all lenders",
            "you owe at most 500,000 in total",
            "no arrears over 30 days at any lender",
            "a credit score of at least 650, issued within the last 90 days",
            "published within the last day",
        ] {
            assert!(words.contains(needle), "{needle}: {words}");
        }
        assert!(!words.contains("KYC verification is at least"));
        let p = Policy {
            min_kyc_age: 30 * DAY,
            max_root_age: 3 * DAY,
            ..p
        };
        let words = policy_in_words(&p);
        assert!(
            words.contains("your KYC verification is at least 30 days old"),
            "{words}"
        );
        assert!(words.contains("within the last 3 days"), "{words}");
        assert!(lender_learns(&p, "car-loan")[1].contains("car-loan"));
        let limited = Policy {
            max_new_loans: 2,
            ..p
        };
        assert!(policy_in_words(&limited).contains("this loan is one of at most 2 new loans"));
        assert_eq!(
            lender_learns(&p, "x").len() + 1,
            lender_learns(&limited, "x").len()
        );
        // Extreme policy values (a lender's "no limit") are words, never an overflow.
        let p = Policy {
            max_active_loans: u64::MAX,
            max_outstanding: u64::MAX,
            max_arrears_days: u64::MAX,
            min_score: u64::MAX,
            max_score_age: u64::MAX,
            max_root_age: u64::MAX,
            min_kyc_age: u64::MAX,
            max_new_loans: u64::MAX,
            model: Default::default(),
        };
        let words = policy_in_words(&p);
        assert!(
            words.contains("18,446,744,073,709,551,615 days at any lender"),
            "{words}"
        );
        let p = Policy {
            max_arrears_days: 0,
            max_root_age: 5400,
            ..p
        };
        let words = policy_in_words(&p);
        assert!(words.contains("no payment in arrears"), "{words}");
        assert!(words.contains("within the last 90 minutes"), "{words}");
        assert!(!words.contains("default-probability model"));
        // A policy with the published model states the lender's p_max (SPEC §6.9).
        let model = zkcredit_circuits::model::file::ScoringModel::from_json(include_str!(
            "../../params/models/defi-score-basic.json"
        ))
        .unwrap();
        let p = Policy {
            model: model.terms(0.05).unwrap(),
            ..p
        };
        let words = policy_in_words(&p);
        assert!(
            words.contains("puts your probability of default at most 5.0%"),
            "{words}"
        );
        assert!(lender_does_not_learn(&p)
            .iter()
            .any(|l| l.contains("probability of default")));
        assert_eq!(percent(0.0012), "0.12%");
        assert_eq!(percent(0.1301), "13.0%");
        assert_eq!(duration(36 * 3600), "36 hours");
        assert_eq!(duration(45), "45 seconds");
        assert_eq!(about(100 * DAY + 5), "100 days");
        assert_eq!(about(20), "less than an hour");
    }
}
