//! `zkcredit provider import`: a bulk import into a running provider (spec §4.4).
//!
//! A CSV file is read twice as a stream, never whole: first every line is validated (errors
//! name the line, nothing is sent), then the rows are sent in parts of [`PART`] rows, each
//! staged in its own transaction while the provider's scheduled publications are held, with
//! a progress bar (rows/s, ETA); then the provider publishes once. A failed part names the
//! line to go on from (`--from-line`): staging is idempotent, so parts sent twice are
//! harmless. A JSON file is sent whole (one transaction).

use super::{runtime, secs, token_file, CliError};
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Instant;
use zkcredit_api::client::ProviderClient;
use zkcredit_api::provider::PublishReport;
use zkcredit_services::tree::csv_rows;

/// Rows per request.
pub const PART: usize = 50_000;
/// Scheduled publications held per part, seconds (renewed by every part).
const HOLD: u64 = 300;

/// Runs the import of `file` into the provider at `url`, sending CSV rows from line
/// `from_line` on.
pub fn run(
    url: String,
    admin_token_file: PathBuf,
    file: PathBuf,
    from_line: usize,
) -> Result<(), CliError> {
    let admin = token_file(&admin_token_file)?;
    let client = ProviderClient::new(zkcredit_api::client::http_client(), url);
    let rt = runtime()?;
    let t = Instant::now();
    match file.extension().and_then(|e| e.to_str()) {
        Some("csv") => {
            let role = rt.block_on(client.status())?.role;
            let rows = validate(&file, role)?;
            println!("validated {rows} rows of {} in {}", file.display(), secs(t));
            let (upserts, parse, store) = send(&rt, &client, &admin, &file, role, rows, from_line)?;
            println!(
                "imported {upserts} upserts, 0 deletes: parse {parse:.2} s, journal {store:.2} s"
            );
            let spin = indicatif::ProgressBar::new_spinner();
            spin.set_message("publishing");
            spin.enable_steady_tick(std::time::Duration::from_millis(200));
            let p = rt.block_on(client.publish(&admin));
            spin.finish_and_clear();
            published(&p?);
        }
        Some("json") => {
            let body = std::fs::read(&file).map_err(|e| CliError::input(&file, e))?;
            let json = serde_json::from_slice(&body).map_err(|e| CliError::input(&file, e))?;
            let rep = rt.block_on(client.import_json(&admin, &json, true))?;
            println!(
                "imported {} upserts, {} deletes: parse {:.2} s, journal {:.2} s",
                rep.upserts, rep.deletes, rep.parse_seconds, rep.store_seconds
            );
            if let Some(p) = &rep.published {
                published(p);
            }
        }
        _ => return Err(CliError::input(&file, "the file must end in .csv or .json")),
    }
    println!("total {}", secs(t));
    Ok(())
}

fn open(file: &Path) -> Result<BufReader<std::fs::File>, CliError> {
    std::fs::File::open(file)
        .map(|f| BufReader::with_capacity(1 << 20, f))
        .map_err(|e| CliError::input(file, e))
}

/// The first pass: every line validated, the data rows counted.
fn validate(file: &Path, role: zkcredit_circuits::registry::Role) -> Result<u64, CliError> {
    let spin = indicatif::ProgressBar::new_spinner();
    spin.set_style(
        indicatif::ProgressStyle::with_template("{spinner} validating: {pos} rows ({per_sec})")
            .map_err(CliError::runtime)?,
    );
    let mut n = 0u64;
    for row in csv_rows(role, open(file)?) {
        row.map_err(|e| CliError::input(file, said(&e)))?;
        n += 1;
        if n.is_multiple_of(10_000) {
            spin.set_position(n);
        }
    }
    spin.finish_and_clear();
    Ok(n)
}

/// The second pass: the rows from line `from_line` on, in parts, under a progress bar.
fn send(
    rt: &tokio::runtime::Runtime,
    client: &ProviderClient,
    admin: &str,
    file: &Path,
    role: zkcredit_circuits::registry::Role,
    rows: u64,
    from_line: usize,
) -> Result<(usize, f64, f64), CliError> {
    let bar = indicatif::ProgressBar::new(rows);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "[{elapsed_precise}] {bar:30} {pos}/{len} rows ({per_sec}, ETA {eta}) {msg}",
        )
        .map_err(CliError::runtime)?,
    );
    let (mut upserts, mut parse, mut store) = (0, 0.0, 0.0);
    let mut part = String::new();
    let (mut in_part, mut first_line) = (0usize, 0usize);
    let mut flush = |part: &mut String, in_part: &mut usize, first_line: usize| {
        if *in_part == 0 {
            return Ok(());
        }
        let body = std::mem::take(part);
        let rep = rt
            .block_on(client.import_csv_part(admin, body, HOLD))
            .map_err(|e| {
                CliError::runtime(format!(
                    "the part from line {first_line} was not staged ({e}); the lines before it are staged: run again with --from-line {first_line} to go on"
                ))
            })?;
        upserts += rep.upserts;
        parse += rep.parse_seconds;
        store += rep.store_seconds;
        bar.inc(*in_part as u64);
        *in_part = 0;
        Ok::<(), CliError>(())
    };
    for row in csv_rows(role, open(file)?) {
        let row = row.map_err(|e| {
            CliError::input(
                file,
                format!(
                    "{} (the file changed since it was validated; the parts before line {first_line} are staged: run again with --from-line {first_line})",
                    said(&e)
                ),
            )
        })?;
        if row.line < from_line {
            bar.inc(1);
            continue;
        }
        if in_part == 0 {
            first_line = row.line;
        }
        part.push_str(&row.fields.join(","));
        part.push('\n');
        in_part += 1;
        if in_part == PART {
            flush(&mut part, &mut in_part, first_line)?;
            bar.set_message(format!("staged through line {}", row.line));
        }
    }
    flush(&mut part, &mut in_part, first_line)?;
    bar.finish_and_clear();
    Ok((upserts, parse, store))
}

/// An API error as a person reads it: the field (e.g. `line 7: values`), then the message.
fn said(e: &zkcredit_api::ApiError) -> String {
    match &e.field {
        Some(f) => format!("{f}: {}", e.message),
        None => e.message.clone(),
    }
}

fn published(p: &PublishReport) {
    println!(
        "published root {} ({} rows, {}): tree {:.2} s, persist {:.2} s; registry: {}",
        p.root,
        p.rows,
        if p.rebuilt {
            "parallel rebuild"
        } else {
            "incremental"
        },
        p.tree_seconds,
        p.persist_seconds,
        p.registry
    );
}
