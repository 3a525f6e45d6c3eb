//! Reading a customer file into rows, one at a time: the file is checked
//! whole first (a header, readable quoting), then its rows are handed out
//! as the import asks for them, so memory stays flat however long it is.

use std::collections::BTreeSet;

use super::{COLUMNS, ImportError};

/// One column's value in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Empty,
    Text(String),
    /// The value could not be read as text: bad UTF-8, or a JSON value of
    /// a kind this column does not take. The reason names the kind, never
    /// the value.
    Unreadable(&'static str),
}

/// One input row: its 1-based number among the data rows, the line it
/// starts on (CSV), and a cell per known column (in `COLUMNS` order).
#[derive(Debug, Clone)]
pub struct RawRow {
    pub row: usize,
    pub line: Option<u64>,
    pub cells: Vec<Cell>,
    /// A row whose fields cannot be matched to the header (CSV: another
    /// number of fields than the header): the customer is ambiguous.
    pub misshapen: Option<String>,
}

impl RawRow {
    pub fn cell(&self, column: &str) -> &Cell {
        COLUMNS
            .iter()
            .position(|c| *c == column)
            .and_then(|i| self.cells.get(i))
            .unwrap_or(&Cell::Empty)
    }
}

enum Source<'a> {
    Csv {
        bytes: &'a [u8],
        /// For each field of a CSV record, its column in `COLUMNS`.
        positions: Vec<Option<usize>>,
    },
    Json(Vec<RawRow>),
}

/// A customer file that was read whole once and found importable.
pub struct ImportFile<'a> {
    source: Source<'a>,
    /// Data rows (blank CSV lines are not rows).
    pub rows: usize,
    /// Columns the file has that sunset does not read.
    pub ignored_columns: Vec<String>,
}

impl ImportFile<'_> {
    /// The rows, read as they are asked for.
    pub fn rows(&self) -> Box<dyn Iterator<Item = RawRow> + Send + '_> {
        match &self.source {
            Source::Csv { bytes, positions } => Box::new(CsvRows::new(bytes, positions)),
            Source::Json(rows) => Box::new(rows.iter().cloned()),
        }
    }
}

fn csv_reader(bytes: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new().flexible(true).from_reader(bytes)
}

/// Reads CSV: UTF-8 with an optional BOM, quoted fields may hold commas and
/// line breaks. Only a file that cannot be read at all is an error (no
/// header, a required column missing, broken quoting); a row that does
/// not fit is the import's business.
pub fn parse_csv(bytes: &[u8]) -> Result<ImportFile<'_>, ImportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv_reader(bytes);
    let header = reader
        .byte_headers()
        .map_err(|e| ImportError::Unreadable {
            line: 1,
            reason: e.to_string(),
        })?
        .clone();
    if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
        return Err(ImportError::NoHeader);
    }
    let names = header
        .iter()
        .map(|h| {
            std::str::from_utf8(h)
                .map(|s| s.trim().to_ascii_lowercase())
                .map_err(|_| ImportError::Unreadable {
                    line: 1,
                    reason: "the header is not UTF-8".into(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ignored = check_header(&names)?;
    // The whole file once, to refuse one that breaks part way before
    // anything is imported; records are reused, so this allocates nothing
    // per row.
    let mut record = csv::ByteRecord::new();
    let mut rows = 0;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) if is_blank(&record) => {}
            Ok(true) => rows += 1,
            Err(e) => {
                return Err(ImportError::Unreadable {
                    line: e.position().map_or(0, |p| p.line()),
                    reason: e.to_string(),
                });
            }
        }
    }
    let positions = names
        .iter()
        .map(|n| COLUMNS.iter().position(|c| c == n))
        .collect();
    Ok(ImportFile {
        source: Source::Csv { bytes, positions },
        rows,
        ignored_columns: ignored,
    })
}

fn is_blank(record: &csv::ByteRecord) -> bool {
    record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace))
}

struct CsvRows<'a> {
    reader: csv::Reader<&'a [u8]>,
    positions: &'a [Option<usize>],
    record: csv::ByteRecord,
    row: usize,
}

impl<'a> CsvRows<'a> {
    fn new(bytes: &'a [u8], positions: &'a [Option<usize>]) -> Self {
        let mut reader = csv_reader(bytes);
        // The header was read and checked by `parse_csv`.
        let _ = reader.byte_headers();
        Self {
            reader,
            positions,
            record: csv::ByteRecord::new(),
            row: 0,
        }
    }
}

impl Iterator for CsvRows<'_> {
    type Item = RawRow;

    fn next(&mut self) -> Option<RawRow> {
        loop {
            // Read once already: an error here cannot happen; it ends the
            // rows rather than inventing one.
            if !self.reader.read_byte_record(&mut self.record).ok()? {
                return None;
            }
            if !is_blank(&self.record) {
                break;
            }
        }
        self.row += 1;
        let line = self.record.position().map(|p| p.line());
        let mut cells = vec![Cell::Empty; COLUMNS.len()];
        let misshapen = (self.record.len() != self.positions.len()).then(|| {
            format!(
                "has {} fields, the header has {}",
                self.record.len(),
                self.positions.len()
            )
        });
        if misshapen.is_none() {
            for (field, position) in self.record.iter().zip(self.positions) {
                let Some(i) = position else { continue };
                cells[*i] = match std::str::from_utf8(field) {
                    Ok(text) if text.trim().is_empty() => Cell::Empty,
                    Ok(text) => Cell::Text(text.to_owned()),
                    Err(_) => Cell::Unreadable("is not valid UTF-8"),
                };
            }
        }
        Some(RawRow {
            row: self.row,
            line,
            cells,
            misshapen,
        })
    }
}

fn check_header(names: &[String]) -> Result<Vec<String>, ImportError> {
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(ImportError::RepeatedColumn(n.clone()));
        }
    }
    for required in super::REQUIRED {
        if !names.iter().any(|n| n == required) {
            return Err(ImportError::MissingColumn(required));
        }
    }
    Ok(names
        .iter()
        .filter(|n| !COLUMNS.contains(&n.as_str()))
        .cloned()
        .collect())
}

/// Which JSON values a column takes. A value of another kind is not
/// turned into text (`"name": true` is not a name called "true").
fn json_cell(column: &str, value: serde_json::Value) -> Cell {
    use serde_json::Value;
    let numeric = matches!(column, "contract_value" | "usage_score" | "prepaid_amount");
    match value {
        Value::Null => Cell::Empty,
        Value::String(s) if s.trim().is_empty() => Cell::Empty,
        Value::String(s) => Cell::Text(s),
        // Numeric ids are common in CRM exports.
        Value::Number(n) if numeric || column == "customer_id" => Cell::Text(n.to_string()),
        Value::Bool(b) if column == "strategic" => Cell::Text(b.to_string()),
        Value::Number(_) => Cell::Unreadable("is a number where text was expected"),
        Value::Bool(_) => Cell::Unreadable("is true/false where text was expected"),
        Value::Array(_) | Value::Object(_) => Cell::Unreadable("is a list or object, not a value"),
    }
}

/// Reads JSON: an array of objects with the CSV's column names as keys.
/// (Held as rows of cells, a fraction of what the parsed JSON tree would
/// take.)
pub fn parse_json(bytes: &[u8]) -> Result<ImportFile<'static>, ImportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let items: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(bytes).map_err(|e| ImportError::Json(e.to_string()))?;
    let mut ignored = BTreeSet::new();
    let mut rows = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let mut cells = vec![Cell::Empty; COLUMNS.len()];
        for (key, value) in item {
            let key = key.trim().to_ascii_lowercase();
            match COLUMNS.iter().position(|c| *c == key) {
                Some(at) => cells[at] = json_cell(COLUMNS[at], value),
                None => {
                    ignored.insert(key);
                }
            }
        }
        rows.push(RawRow {
            row: i + 1,
            line: None,
            cells,
            misshapen: None,
        });
    }
    Ok(ImportFile {
        rows: rows.len(),
        source: Source::Json(rows),
        ignored_columns: ignored.into_iter().collect(),
    })
}
