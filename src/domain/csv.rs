//! The cells of every CSV this service writes: the voucher export (HTTP `?format=csv` and
//! `vouchsafe export`) and `report.csv`.
//!
//! A CSV is opened in a spreadsheet, which runs a cell as a formula when its first character
//! is `=`, `+`, `-`, `@`, a tab or a carriage return. Following OWASP's advice on CSV
//! injection, a text cell that starts with one of them is written with a `'` in front, which
//! spreadsheets show as text; and a text cell holding a separator (`,`, or `;` and tab, which
//! some locales and importers split on), a quote or a line break is quoted (RFC 4180), so no
//! value can start a new cell either.
//!
//! Numbers the service computes itself (counts, money in minor units, rates, lifts) are not
//! text: they are written as plain numbers so that a spreadsheet can sum them, and a negative
//! one (a lift below control) keeps its `-`. A number is not a formula. Everything a client
//! chose (customer ids, variant names, codes, statuses) is [`Cell::Text`].

use std::borrow::Cow;

/// First characters that make a spreadsheet evaluate a cell.
pub const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// One cell of a row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// Text from anywhere: neutralised and quoted by [`text`].
    Text(&'a str),
    /// An integer the service computed (any integer type converts losslessly).
    Int(i128),
    /// A fraction the service computed; a non-finite value is written as an empty cell.
    Float(f64),
    /// Nothing.
    Empty,
}

/// A text cell as written: `'` in front when it starts with a [`FORMULA_TRIGGERS`] character,
/// then quoted (quotes doubled) when it holds `,` `;` `"` tab CR or LF.
pub fn text(s: &str) -> Cow<'_, str> {
    let neutral: Cow<'_, str> =
        if s.starts_with(FORMULA_TRIGGERS) { Cow::Owned(format!("'{s}")) } else { Cow::Borrowed(s) };
    if neutral.contains([',', ';', '"', '\t', '\r', '\n']) {
        Cow::Owned(format!("\"{}\"", neutral.replace('"', "\"\"")))
    } else {
        neutral
    }
}

/// Appends one row (cells separated by `,`, ended by CRLF) to `out`.
pub fn write_row(out: &mut String, cells: &[Cell<'_>]) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match cell {
            Cell::Text(s) => out.push_str(&text(s)),
            Cell::Int(n) => out.push_str(&n.to_string()),
            Cell::Float(x) if x.is_finite() => out.push_str(&x.to_string()),
            Cell::Float(_) | Cell::Empty => {}
        }
    }
    out.push_str("\r\n");
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A strict RFC 4180 reader (CRLF rows, `"` quoting with doubled quotes), written apart from
    /// the writer so that a round trip tests the writer against the format, not against itself.
    pub(crate) fn parse(input: &str) -> Result<Vec<Vec<String>>, String> {
        let mut rows = Vec::new();
        let mut row = Vec::new();
        let mut cell = String::new();
        let mut chars = input.chars().peekable();
        let mut at_cell_start = true;
        while let Some(c) = chars.next() {
            match c {
                '"' if at_cell_start => {
                    loop {
                        match chars.next() {
                            Some('"') if chars.peek() == Some(&'"') => {
                                chars.next();
                                cell.push('"');
                            }
                            Some('"') => break,
                            Some(other) => cell.push(other),
                            None => return Err("unterminated quote".into()),
                        }
                    }
                    match chars.peek() {
                        Some(',') | Some('\r') | None => {}
                        other => return Err(format!("{other:?} after a closing quote")),
                    }
                    at_cell_start = false;
                }
                '"' => return Err("a quote inside an unquoted cell".into()),
                ',' => {
                    row.push(std::mem::take(&mut cell));
                    at_cell_start = true;
                }
                '\r' => {
                    if chars.next() != Some('\n') {
                        return Err("CR without LF outside quotes".into());
                    }
                    row.push(std::mem::take(&mut cell));
                    rows.push(std::mem::take(&mut row));
                    at_cell_start = true;
                }
                '\n' => return Err("LF outside quotes".into()),
                other => {
                    cell.push(other);
                    at_cell_start = false;
                }
            }
        }
        if !row.is_empty() || !cell.is_empty() {
            return Err("last row without CRLF".into());
        }
        Ok(rows)
    }

    #[test]
    fn formula_starts_get_a_quote_mark_and_separators_get_quotes() {
        assert_eq!(text("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(text("+1"), "'+1");
        assert_eq!(text("-2"), "'-2");
        assert_eq!(text("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(text("\tx"), "\"'\tx\"");
        assert_eq!(text("\rx"), "\"'\rx\"");
        assert_eq!(text("a;=1+1"), "\"a;=1+1\"");
        assert_eq!(text("c-42"), "c-42");
        assert!(matches!(text("GOLD-ABCD"), Cow::Borrowed(_)), "plain text is not copied");
        assert_eq!(text(""), "");
    }

    #[test]
    fn numbers_stay_numbers() {
        let mut out = String::new();
        write_row(
            &mut out,
            &[Cell::Text("-2"), Cell::Int(-5), Cell::Float(-0.25), Cell::Float(f64::NAN), Cell::Empty],
        );
        assert_eq!(out, "'-2,-5,-0.25,,\r\n");
    }

    proptest! {
        #[test]
        fn any_text_round_trips_and_never_starts_a_formula(s in "\\PC*|[=+\\-@\t\r,;\"\n a-z]{0,12}") {
            let mut out = String::new();
            write_row(&mut out, &[Cell::Text(&s), Cell::Int(1)]);
            let rows = parse(&out).map_err(|e| TestCaseError::fail(format!("{e}: {out:?}")))?;
            prop_assert_eq!(rows.len(), 1);
            prop_assert_eq!(rows[0].len(), 2);
            let cell = &rows[0][0];
            prop_assert!(!cell.starts_with(FORMULA_TRIGGERS), "{:?}", cell);
            let expected = if s.starts_with(FORMULA_TRIGGERS) { format!("'{s}") } else { s.clone() };
            prop_assert_eq!(cell, &expected);
            prop_assert_eq!(&rows[0][1], "1");
        }
    }
}
