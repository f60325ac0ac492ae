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
    let lines = std::rc::Rc::new(std::cell::RefCell::new(Newlines::default()));
    let rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(WithoutBom::new(r, lines.clone()));
    rdr.into_records().filter_map(move |rec| {
        let row = (|| {
            // The file's line, from the record's byte offset (the reader skips blank lines
            // without counting them).
            let at =
                |p: Option<&csv::Position>| p.map_or(0, |p| lines.borrow_mut().line_at(p.byte()));
            let rec = rec.map_err(|e| {
                let line = at(e.position());
                bad(ErrorCode::BadCsv, format!("line {line}"), e.to_string())
            })?;
            let line = at(rec.position());
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

/// The newlines read so far, to number a record's line from its byte offset: those the
/// consumer has passed are only counted, those ahead (at most a read buffer's) are kept.
#[derive(Default)]
struct Newlines {
    /// Bytes handed to the csv reader (after the byte-order mark).
    read: u64,
    passed: usize,
    ahead: std::collections::VecDeque<u64>,
}

impl Newlines {
    fn saw(&mut self, bytes: &[u8]) {
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'\n' {
                self.ahead.push_back(self.read + i as u64);
            }
        }
        self.read += bytes.len() as u64;
    }

    /// The 1-based line of a record the reader started at byte `offset` (offsets only
    /// grow): the blank lines it skipped from there on are counted too.
    fn line_at(&mut self, offset: u64) -> usize {
        let mut at = offset;
        while let Some(n) = self.ahead.front().copied() {
            if n < at {
            } else if n == at {
                at += 1;
            } else {
                break;
            }
            self.ahead.pop_front();
            self.passed += 1;
        }
        self.passed + 1
    }
}

/// A reader that drops a leading UTF-8 byte-order mark (spreadsheets write one) and notes
/// where the newlines are.
struct WithoutBom<R> {
    inner: R,
    start: bool,
    pending: Vec<u8>,
    lines: std::rc::Rc<std::cell::RefCell<Newlines>>,
}

impl<R> WithoutBom<R> {
    fn new(inner: R, lines: std::rc::Rc<std::cell::RefCell<Newlines>>) -> Self {
        Self {
            inner,
            start: true,
            pending: Vec::new(),
            lines,
        }
    }
}

impl<R: std::io::Read> std::io::Read for WithoutBom<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if std::mem::take(&mut self.start) {
            let mut head = [0u8; 3];
            let mut n = 0;
            while n < 3 {
                match self.inner.read(&mut head[n..])? {
                    0 => break,
                    k => n += k,
                }
            }
            if head[..n] != [0xEF, 0xBB, 0xBF] {
                self.pending = head[..n].to_vec();
            }
        }
        let k = if self.pending.is_empty() {
            self.inner.read(buf)?
        } else {
            let k = self.pending.len().min(buf.len());
            buf[..k].copy_from_slice(&self.pending[..k]);
            self.pending.drain(..k);
            k
        };
        self.lines.borrow_mut().saw(&buf[..k]);
        Ok(k)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (review of the streaming import): a spreadsheet's byte-order mark was
    /// read as part of the header, and lines after a blank one were misnumbered.
    #[test]
    fn csv_rows_drop_a_bom_and_number_file_lines() {
        let csv = "\u{feff}subject_key,v0,v1,v2\n5,1,1700000000,0\n\n7,1,1700000000,0\n8,1,x,0\n";
        let rows: Vec<_> = csv_rows(Role::FraudList, csv.as_bytes()).collect();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].as_ref().unwrap().line, 2);
        assert_eq!(rows[1].as_ref().unwrap().line, 4);
        let e = rows[2].as_ref().unwrap_err();
        assert_eq!(e.field.as_deref(), Some("line 5: values[1]"), "{e:?}");
        // A file shorter than a mark, and one without.
        assert_eq!(csv_rows(Role::FraudList, &b"5"[..]).count(), 1);
        assert!(csv_rows(Role::FraudList, &b""[..]).next().is_none());
    }
}
