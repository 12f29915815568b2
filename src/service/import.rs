//! Customer import: NDJSON, one customer per line (`{"id", "birthday"?, "loyalty_tier"?,
//! "consent"?}`), as `POST /v1/customers/import` streams it and `vouchsafe import FILE` reads
//! it. Good lines are written in batches of [`IMPORT_BATCH`], one transaction each; bad lines
//! are counted and the first [`MAX_REJECTS_LISTED`] listed with their line number and `code`.
//! Revoked consents void the customers' open vouchers, and the ledger is told.

use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Deserializer};

use super::{tell_ledger_voided, ServiceError, Services};
use crate::{
    domain::customer::{parse_label, parse_purpose, Birthday, CustomerId, LoyaltyTier},
    ledger::Ledger,
    store::{
        customers::{self, ImportRecord, NewConsent, ProfilePatch},
        Db,
    },
};

/// The largest NDJSON line accepted by the import.
pub const MAX_IMPORT_LINE: usize = 64 * 1024;
/// Customers written per import transaction.
pub const IMPORT_BATCH: usize = 1000;
/// At most this many rejected lines are listed (all are counted).
pub const MAX_REJECTS_LISTED: usize = 1000;

/// Deserializes a field that may be absent (`None`), `null` (`Some(None)`) or a value.
pub fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A profile change, validated: absent fields are left alone, `None` clears one. The error
/// names the field and its `code`.
pub fn parse_profile(
    birthday: Option<Option<Birthday>>,
    loyalty_tier: Option<Option<String>>,
) -> Result<ProfilePatch, (&'static str, &'static str, String)> {
    let birthday = match birthday {
        Some(Some(b)) => {
            Some(Some(Birthday::new(b.month, b.day).map_err(|e| ("birthday", "invalid_birthday", e))?))
        }
        other => other.map(|_| None),
    };
    let loyalty_tier = match loyalty_tier {
        Some(Some(t)) => Some(Some(
            LoyaltyTier::parse(&t)
                .map_err(|e| ("loyalty_tier", "invalid_loyalty_tier", e))?
                .as_str()
                .to_owned(),
        )),
        other => other.map(|_| None),
    };
    Ok(ProfilePatch { birthday, loyalty_tier })
}

/// A consent statement, validated; the error names the field.
pub fn parse_consent(
    purpose: &str,
    granted: bool,
    source: &str,
    policy_version: &str,
) -> Result<NewConsent, (&'static str, String)> {
    Ok(NewConsent {
        purpose: parse_purpose(purpose).map_err(|e| ("purpose", e))?,
        granted,
        source: parse_label("source", source).map_err(|e| ("source", e))?,
        policy_version: parse_label("policy_version", policy_version).map_err(|e| ("policy_version", e))?,
    })
}

/// One line of an import.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a customer object like {\"id\": \"c-1001\", \"loyalty_tier\": \"gold\"}"
)]
struct ImportLine {
    id: String,
    #[serde(flatten)]
    profile: ImportProfile,
    #[serde(default)]
    consent: Option<ImportConsent>,
}

#[derive(Debug, Deserialize)]
struct ImportProfile {
    #[serde(default, deserialize_with = "double_option")]
    birthday: Option<Option<Birthday>>,
    #[serde(default, deserialize_with = "double_option")]
    loyalty_tier: Option<Option<String>>,
}

/// A consent statement on a line, shaped as `POST /v1/customers/{id}/consents` takes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a consent object with purpose, granted, source and policy_version")]
struct ImportConsent {
    purpose: String,
    granted: bool,
    source: String,
    policy_version: String,
}

/// A line the import refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// 1-based line number.
    pub line: usize,
    pub code: &'static str,
    pub detail: String,
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Imported {
    /// Lines written (created or updated customers).
    pub imported: usize,
    /// The first [`MAX_REJECTS_LISTED`] refused lines, by line number.
    pub rejected: Vec<Reject>,
    /// How many lines were refused in all.
    pub rejected_total: usize,
    /// Open vouchers voided by revoked consents in the file.
    pub voided_vouchers: usize,
}

impl Imported {
    fn reject(&mut self, line: usize, (code, detail): (&'static str, String)) {
        self.rejected_total += 1;
        if self.rejected.len() < MAX_REJECTS_LISTED {
            self.rejected.push(Reject { line, code, detail });
        }
    }
}

/// Parses one NDJSON line into an import record, or says why not (`code`, detail).
pub fn parse_import_line(line: &[u8]) -> Result<ImportRecord, (&'static str, String)> {
    let parsed: ImportLine = serde_json::from_slice(line).map_err(|e| {
        if e.is_data() {
            ("invalid_body", e.to_string())
        } else {
            ("malformed_json", e.to_string())
        }
    })?;
    let id = CustomerId::parse(&parsed.id).map_err(|e| ("invalid_customer_id", e))?;
    let profile = parse_profile(parsed.profile.birthday, parsed.profile.loyalty_tier)
        .map_err(|(_, code, detail)| (code, detail))?;
    let consent = parsed
        .consent
        .map(|c| parse_consent(&c.purpose, c.granted, &c.source, &c.policy_version))
        .transpose()
        .map_err(|(_, d)| ("invalid_consent", d))?;
    Ok(ImportRecord { id: id.as_str().to_owned(), profile, consent })
}

fn too_long() -> (&'static str, String) {
    ("line_too_long", format!("a line may have at most {MAX_IMPORT_LINE} bytes"))
}

/// One line (without its `\n`; a trailing `\r` is dropped): `None` when blank, else the
/// record or why not.
pub fn take_line(line: &[u8]) -> Option<Result<ImportRecord, (&'static str, String)>> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    if line.len() > MAX_IMPORT_LINE {
        return Some(Err(too_long()));
    }
    Some(parse_import_line(line))
}

/// Writes one batch of records in one transaction and tells the ledger of the vouchers their
/// revoked consents voided; returns how many were voided.
pub async fn write_batch(
    db: &Db,
    ledger: &dyn Ledger,
    records: Vec<ImportRecord>,
) -> Result<usize, ServiceError> {
    let voided = db.run(move |c| customers::import_batch(c, &records)).await?;
    tell_ledger_voided(ledger, &voided).await;
    Ok(voided.len())
}

/// Imports customers from an NDJSON byte stream, read chunk by chunk: a line longer than
/// [`MAX_IMPORT_LINE`] is refused without being held in memory.
pub async fn import_ndjson<S, B, E>(s: &Services, body: S) -> Result<Imported, ServiceError>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
    E: std::error::Error + Send + Sync + 'static,
{
    let mut body = std::pin::pin!(body);
    let mut summary = Imported::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut batch: Vec<ImportRecord> = Vec::with_capacity(IMPORT_BATCH);
    let mut line_no = 0usize;
    let mut skipping_long_line = false;
    fn take(line: &[u8], line_no: usize, summary: &mut Imported, batch: &mut Vec<ImportRecord>) {
        match take_line(line) {
            None => {}
            Some(Ok(record)) => batch.push(record),
            Some(Err(why)) => summary.reject(line_no, why),
        }
    }
    loop {
        let chunk = body.next().await;
        let at_end = chunk.is_none();
        if let Some(chunk) = chunk {
            let chunk = chunk.map_err(|e| ServiceError::BodyUnreadable(Box::new(e)))?;
            buf.extend_from_slice(chunk.as_ref());
        }
        let mut start = 0;
        while let Some(pos) = buf[start..].iter().position(|b| *b == b'\n') {
            let line = &buf[start..start + pos];
            start += pos + 1;
            line_no += 1;
            if skipping_long_line {
                skipping_long_line = false;
                summary.reject(line_no, too_long());
                continue;
            }
            take(line, line_no, &mut summary, &mut batch);
        }
        buf.drain(..start);
        if buf.len() > MAX_IMPORT_LINE {
            buf.clear();
            skipping_long_line = true;
        }
        if at_end && (!buf.is_empty() || skipping_long_line) {
            line_no += 1;
            if skipping_long_line {
                summary.reject(line_no, too_long());
            } else {
                let line = std::mem::take(&mut buf);
                take(&line, line_no, &mut summary, &mut batch);
            }
        }
        if batch.len() >= IMPORT_BATCH || (at_end && !batch.is_empty()) {
            let records = std::mem::take(&mut batch);
            let n = records.len();
            summary.voided_vouchers += write_batch(&s.db, s.ledger.as_ref(), records).await?;
            summary.imported += n;
        }
        if at_end {
            break;
        }
    }
    summary.rejected.sort_by_key(|r| r.line);
    Ok(summary)
}

/// Imports customers from the items of a JSON array: each is taken or refused on its own, and
/// a refusal names its 1-based position as its `line`.
pub async fn import_items(s: &Services, items: Vec<serde_json::Value>) -> Result<Imported, ServiceError> {
    let mut summary = Imported::default();
    let total = items.len();
    let mut batch: Vec<ImportRecord> = Vec::with_capacity(IMPORT_BATCH.min(total));
    for (i, item) in items.into_iter().enumerate() {
        let line = serde_json::to_vec(&item).unwrap_or_default();
        match parse_import_line(&line) {
            Ok(record) => batch.push(record),
            Err(why) => summary.reject(i + 1, why),
        }
        if batch.len() >= IMPORT_BATCH || (i + 1 == total && !batch.is_empty()) {
            let records = std::mem::take(&mut batch);
            let n = records.len();
            summary.voided_vouchers += write_batch(&s.db, s.ledger.as_ref(), records).await?;
            summary.imported += n;
        }
    }
    summary.rejected.sort_by_key(|r| r.line);
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_long_and_bad_lines_are_told_apart() {
        assert!(take_line(b"  \r").is_none());
        assert_eq!(take_line(&vec![b'x'; MAX_IMPORT_LINE + 1]).unwrap().unwrap_err().0, "line_too_long");
        assert_eq!(take_line(b"{").unwrap().unwrap_err().0, "malformed_json");
        assert_eq!(take_line(br#"{"id":""}"#).unwrap().unwrap_err().0, "invalid_customer_id");
        let ok = take_line(b"{\"id\":\"a\",\"loyalty_tier\":\"gold\"}\r").unwrap().unwrap();
        assert_eq!(ok.id, "a");
    }

    #[test]
    fn a_line_that_is_not_an_object_is_told_what_one_looks_like() {
        let (code, detail) = take_line(b"\"c-1\"").unwrap().unwrap_err();
        assert_eq!(code, "invalid_body");
        assert!(detail.contains("a customer object like"), "{detail}");
        assert!(!detail.contains("ImportLine"), "no Rust type name reaches the client: {detail}");
        let (_, detail) = take_line(br#"{"id":"a","consent":"yes"}"#).unwrap().unwrap_err();
        assert!(detail.contains("a consent object"), "{detail}");
    }
}
