//! What the listing commands print: rows under named columns, as an aligned table or, with
//! `--json`, as a JSON array of objects keyed by the same names.

use serde_json::{Map, Value};

use super::command_result::printable;

pub struct Table {
    /// camelCase JSON keys; the table header spells them as words (`clientId` → `CLIENT ID`).
    columns: Vec<&'static str>,
    rows: Vec<Vec<Value>>,
}

impl Table {
    pub fn new(columns: &[&'static str], rows: Vec<Vec<Value>>) -> Table {
        Table { columns: columns.to_vec(), rows }
    }

    /// Rows from serialisable records, taking `columns` from each in that order.
    pub fn of<T: serde::Serialize>(columns: &[&'static str], records: &[T]) -> Table {
        let rows = records
            .iter()
            .map(|record| {
                let object = serde_json::to_value(record).unwrap_or(Value::Null);
                columns.iter().map(|column| object.get(*column).cloned().unwrap_or(Value::Null)).collect()
            })
            .collect();
        Table::new(columns, rows)
    }

    pub fn render(&self, as_json: bool) -> String {
        if as_json { self.to_json() } else { self.to_text() }
    }

    pub fn to_json(&self) -> String {
        let objects: Vec<Map<String, Value>> = self
            .rows
            .iter()
            .map(|row| self.columns.iter().zip(row).map(|(c, v)| (c.to_string(), v.clone())).collect())
            .collect();
        format!("{}\n", serde_json::to_string_pretty(&objects).unwrap_or_default())
    }

    /// Each column as wide as its widest cell; an absent value is `-`.
    pub fn to_text(&self) -> String {
        let header: Vec<String> = self.columns.iter().map(|c| header_of(c)).collect();
        let cells: Vec<Vec<String>> = self.rows.iter().map(|row| row.iter().map(cell).collect()).collect();
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in &cells {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            format!("{}\n", padded.join("  ").trim_end())
        };
        std::iter::once(&header).chain(&cells).map(|row| line(row)).collect()
    }
}

/// `clientId` → `CLIENT ID`, `usageCount` → `USAGE COUNT`.
fn header_of(column: &str) -> String {
    let mut header = String::with_capacity(column.len() + 4);
    for c in column.chars() {
        if c.is_uppercase() && !header.is_empty() {
            header.push(' ');
        }
        header.extend(c.to_uppercase());
    }
    header
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => printable(s).into_owned(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn headers_are_words_and_columns_align() {
        let table =
            Table::new(&["clientId", "count"], vec![vec![json!("gtc_a"), json!(2)], vec![Value::Null, json!(10)]]);
        assert_eq!(table.to_text(), "CLIENT ID  COUNT\ngtc_a      2\n-          10\n");
        let parsed: Value = serde_json::from_str(&table.to_json()).unwrap();
        assert_eq!(parsed, json!([{"clientId": "gtc_a", "count": 2}, {"clientId": null, "count": 10}]));
    }
}
