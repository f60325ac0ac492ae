//! Validating rows: subject keys, records per role, and bulk imports (CSV or JSON) whose
//! errors name the line or item.

use super::bad;
use zkcredit_api::provider::{ImportJson, Value};
use zkcredit_api::{ApiError, ErrorCode};
use zkcredit_circuits::field::fr_from_dec;
use zkcredit_circuits::imt::check_key;
use zkcredit_circuits::registry::Role;
use zkcredit_circuits::Fr;

/// One staged change: an upsert (`Some`) or a delete (`None`).
pub type Change = (Fr, Option<[Fr; 3]>);

/// Parses a subject key (decimal, in `[1, 2^248)`).
pub fn parse_subject_key(field: &str, s: &str) -> Result<Fr, ApiError> {
    let k = fr_from_dec(s.trim()).map_err(|e| bad(ErrorCode::BadField, field, e.to_string()))?;
    check_key(&k).map_err(|e| bad(ErrorCode::BadKey, field, e.to_string()))?;
    Ok(k)
}

/// Validates a record for `role` (spec §4.3): numeric fields are u64; the KYC issuer's `v0`
/// is a holder commitment (any field element).
pub fn parse_record(role: Role, field: &str, v: [&str; 3]) -> Result<[Fr; 3], ApiError> {
    let mut out = [Fr::from(0u64); 3];
    for (i, s) in v.iter().enumerate() {
        let s = s.trim();
        let name = format!("{field}[{i}]");
        out[i] = if role == Role::Kyc && i == 0 {
            fr_from_dec(s).map_err(|e| bad(ErrorCode::BadField, &name, e.to_string()))?
        } else {
            Fr::from(s.parse::<u64>().map_err(|_| {
                bad(
                    ErrorCode::BadValue,
                    &name,
                    format!("{s:?} is not an unsigned 64-bit integer"),
                )
            })?)
        };
    }
    if role == Role::FraudList && out[2] != Fr::from(0u64) {
        return Err(bad(
            ErrorCode::BadValue,
            format!("{field}[2]"),
            "fraud-list records are (reason, listed_at, 0)",
        ));
    }
    Ok(out)
}

pub(super) fn record(role: Role, field: &str, v: &[Value; 3]) -> Result<[Fr; 3], ApiError> {
    let s: Vec<String> = v.iter().map(Value::text).collect();
    parse_record(role, field, [&s[0], &s[1], &s[2]])
}

/// One data line of a CSV import: its line number, its four fields as written (trimmed),
/// and the validated change.
#[derive(Clone, Debug)]
pub struct CsvRow {
    /// 1-based line number in the file.
    pub line: usize,
    /// `subject_key, v0, v1, v2` as written.
    pub fields: [String; 4],
    /// The validated upsert.
    pub change: Change,
}

/// Streams a CSV import (`subject_key,v0,v1,v2` per line, an optional header line) from
/// `r`, validating each line as it is read; errors name the line. The whole input is never
/// held: what a client validates a large file with before sending it in parts.
pub fn csv_rows<R: std::io::Read>(
    role: Role,
    r: R,
) -> impl Iterator<Item = Result<CsvRow, ApiError>> {
    let rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(r);
    rdr.into_records().enumerate().filter_map(move |(n, rec)| {
        let line = n + 1;
        let row = (|| {
            let rec =
                rec.map_err(|e| bad(ErrorCode::BadCsv, format!("line {line}"), e.to_string()))?;
            if rec.len() != 4 {
                return Err(bad(
                    ErrorCode::BadCsv,
                    format!("line {line}"),
                    format!(
                        "expected 4 columns (subject_key,v0,v1,v2), got {}",
                        rec.len()
                    ),
                ));
            }
            if line == 1 && &rec[0] == "subject_key" {
                return Ok(None);
            }
            let k = parse_subject_key(&format!("line {line}: subject_key"), &rec[0])?;
            let v = parse_record(
                role,
                &format!("line {line}: values"),
                [&rec[1], &rec[2], &rec[3]],
            )?;
            Ok(Some(CsvRow {
                line,
                fields: std::array::from_fn(|i| rec[i].to_string()),
                change: (k, Some(v)),
            }))
        })();
        row.transpose()
    })
}

/// Parses a bulk import (CSV or JSON) into validated changes; errors name the line or item.
pub fn parse_import(role: Role, content_type: &str, body: &[u8]) -> Result<Vec<Change>, ApiError> {
    let ct = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match ct.as_str() {
        "text/csv" => csv_rows(role, body)
            .map(|r| r.map(|row| row.change))
            .collect(),
        "application/json" => {
            let j: ImportJson = serde_json::from_slice(body)
                .map_err(|e| ApiError::new(ErrorCode::InvalidBody, e.to_string()))?;
            let mut out = Vec::with_capacity(j.upsert.len() + j.delete.len());
            for (i, r) in j.upsert.iter().enumerate() {
                let k = parse_subject_key(&format!("upsert[{i}].subject_key"), &r.subject_key)?;
                out.push((
                    k,
                    Some(record(role, &format!("upsert[{i}].values"), &r.values)?),
                ));
            }
            for (i, d) in j.delete.iter().enumerate() {
                out.push((parse_subject_key(&format!("delete[{i}]"), d)?, None));
            }
            Ok(out)
        }
        _ => Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "import takes text/csv or application/json",
        )),
    }
}
