//! `zkcredit model check FILE`: validates a published default-probability model file (spec
//! §6.9), shows its fixed-point form, and with `--max-default P` prints the `model` object a
//! lender's policy file carries for "default probability at most P".

use super::{read_text, CliError};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use zkcredit_circuits::field::fr_to_dec;
use zkcredit_circuits::model::file::{ScoringModel, MAX_MODEL_FILE_BYTES};
use zkcredit_circuits::model::{Factor, Factors, FACTORS};

/// `zkcredit model …`.
#[derive(Subcommand)]
pub enum ModelCmd {
    /// Validate a model file (JSON: name, version, scale_bits, intercept, coefficients by
    /// factor) and show its fixed-point terms; exit 2 if it is refused.
    Check(CheckArgs),
}

/// `zkcredit model check`.
#[derive(Args)]
pub struct CheckArgs {
    /// The model file.
    file: PathBuf,
    /// The lender's maximum default probability, in (0, 1): prints the policy's `model`
    /// object (the threshold logit(P) in the model's fixed point).
    #[arg(long, value_name = "P")]
    max_default: Option<f64>,
    /// Evaluate one borrower: active_loans,outstanding,worst_arrears_days,bureau_score,
    /// kyc_age_seconds (non-negative integers).
    #[arg(long, value_name = "X1,X2,X3,X4,X5")]
    factors: Option<String>,
    /// Print only the policy's `model` object as JSON (for scripts; needs --max-default).
    #[arg(long, requires = "max_default", conflicts_with = "factors")]
    json: bool,
}

/// Runs `zkcredit model`.
pub fn model(cmd: ModelCmd) -> Result<(), CliError> {
    match cmd {
        ModelCmd::Check(a) => check(a),
    }
}

fn parse_factors(s: &str) -> Result<Factors, CliError> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    if parts.len() != FACTORS {
        return Err(CliError::Usage(format!(
            "--factors needs {FACTORS} comma-separated values ({}), got {}",
            Factor::ALL.map(|f| f.name()).join(","),
            parts.len()
        )));
    }
    let mut x = [0u128; FACTORS];
    for (i, p) in parts.iter().enumerate() {
        let v: u64 = p.parse().map_err(|_| {
            CliError::Usage(format!(
                "--factors: `{p}` ({}) is not a non-negative integer below 2^64",
                Factor::ALL[i].name()
            ))
        })?;
        x[i] = v as u128;
    }
    Ok(Factors(x))
}

fn check(a: CheckArgs) -> Result<(), CliError> {
    if std::fs::metadata(&a.file).is_ok_and(|m| m.len() > MAX_MODEL_FILE_BYTES as u64) {
        return Err(CliError::input(
            &a.file,
            format!("larger than {MAX_MODEL_FILE_BYTES} bytes"),
        ));
    }
    let m =
        ScoringModel::from_json(&read_text(&a.file)?).map_err(|e| CliError::input(&a.file, e))?;
    let p_max = a.max_default.unwrap_or(0.5);
    let terms = m.terms(p_max).map_err(|e| CliError::Usage(e.to_string()))?;
    let betas = m.betas().map_err(|e| CliError::input(&a.file, e))?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string(&terms).map_err(|e| CliError::Runtime(e.to_string()))?
        );
        return Ok(());
    }
    println!("model OK: {} (version {})", m.name, m.version);
    println!("  id          = {}", fr_to_dec(&terms.id));
    println!("  model_hash  = {}", fr_to_dec(&terms.hash()));
    println!("  fixed point = 2^{} (SPEC §6.9)", terms.scale_bits);
    println!(
        "  {:<20} {:>14} {:>20}",
        "term", "coefficient", "fixed point"
    );
    println!(
        "  {:<20} {:>14} {:>20}",
        "intercept", m.intercept, terms.intercept
    );
    for (i, f) in Factor::ALL.iter().enumerate() {
        println!(
            "  {:<20} {:>14} {:>20}",
            f.name(),
            betas[i],
            terms.coefficients[i]
        );
    }
    if let Some(p) = a.max_default {
        println!(
            "threshold for p_max = {p}: max_logit = {} (admits p up to {:.6})",
            terms.max_logit,
            terms.max_probability()
        );
        println!("the policy's \"model\" object:");
        println!(
            "{}",
            serde_json::to_string_pretty(&terms).map_err(|e| CliError::Runtime(e.to_string()))?
        );
    }
    if let Some(s) = &a.factors {
        let x = parse_factors(s)?;
        let fixed = terms
            .probability(&x)
            .ok_or_else(|| CliError::Usage("factors too large to evaluate".into()))?;
        let reference = m
            .probability_f64(&x)
            .map_err(|e| CliError::input(&a.file, e))?;
        println!(
            "borrower {s}: p = {reference:.6} (f64), {fixed:.6} (fixed point, as the proof evaluates)"
        );
        if a.max_default.is_some() {
            println!(
                "  {}",
                if terms.admits(&x) {
                    "admitted"
                } else {
                    "refused"
                }
            );
        }
    }
    Ok(())
}
