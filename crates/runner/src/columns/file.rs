//! `runs.csv` as a file: cells, CSV lines, the table read back, and the order of its rows.

use std::cmp::Ordering;

use serde_json::Value;

/// A value as a CSV cell: empty when missing; numbers as written by serde_json (shortest
/// round-trip form); text on one line; a list or table as JSON.
pub fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.replace(['\n', '\r'], " "),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(f) if !f.is_finite() => String::new(),
            _ => n.to_string(),
        },
        Some(Value::Bool(b)) => b.to_string(),
        Some(other) => other.to_string(),
    }
}

/// The columns rows are sorted by, most significant first (then the run id).
const SORT_KEYS: [&str; 11] = [
    "sweep",
    "dataset",
    "dim",
    "model",
    "objective",
    "sigma",
    "backend",
    "steps",
    "batch",
    "lr",
    "seed",
];

/// Orders rows of a table with columns `header` for a stable, readable file: by sweep, data
/// set, dim, model, objective, σ, …, seed, then run id; numbers by value.
pub fn compare_rows(header: &[impl AsRef<str>], a: &[String], b: &[String]) -> Ordering {
    let index = |name: &str| header.iter().position(|h| h.as_ref() == name);
    SORT_KEYS
        .iter()
        .chain(std::iter::once(&"run_id"))
        .filter_map(|k| index(k))
        .map(|i| compare_cells(a.get(i), b.get(i)))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

fn compare_cells(a: Option<&String>, b: Option<&String>) -> Ordering {
    let (a, b) = (a.map_or("", |s| s.as_str()), b.map_or("", |s| s.as_str()));
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => a.cmp(b),
    }
}

/// One CSV line (with its newline) for `cells`.
pub fn encode(cells: &[impl AsRef<str>]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = w.write_record(cells.iter().map(|c| c.as_ref()));
    w.into_inner().unwrap_or_default()
}

/// The whole file: `header`, then rows.
pub fn encode_table(header: &[impl AsRef<str>], rows: &[Vec<String>]) -> Vec<u8> {
    let mut out = encode(header);
    for r in rows {
        out.extend(encode(r));
    }
    out
}

/// A CSV file read back: its header and rows (all cells as text).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Rows, each as long as the header.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Reads a CSV file. Columns of tables written before parameter columns were generated
    /// get today's names ([`super::params::RENAMED`]).
    pub fn read(path: &std::path::Path) -> anyhow::Result<Table> {
        use anyhow::Context as _;
        let mut r = csv::ReaderBuilder::new()
            .from_path(path)
            .with_context(|| format!("reading {}", path.display()))?;
        let header = r
            .headers()?
            .iter()
            .map(|h| super::params::renamed(h).to_string())
            .collect();
        let rows = r
            .records()
            .map(|rec| rec.map(|r| r.iter().map(String::from).collect()))
            .collect::<Result<_, _>>()
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(Table { header, rows })
    }

    /// Position of column `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// The cell of `row` in column `name` (empty if there is no such column).
    pub fn get<'a>(&self, row: &'a [String], name: &str) -> &'a str {
        self.index(name)
            .and_then(|i| row.get(i))
            .map_or("", |s| s.as_str())
    }

    /// The columns with `role` that tell the rows apart ([`super::varies`]), in table order.
    pub fn varying(&self, role: super::Role) -> Vec<String> {
        self.header
            .iter()
            .filter(|h| super::role(h) == role)
            .filter(|h| super::varies(h, &self.rows, |r, c| self.get(r, c).to_string()))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_keep_lists_as_json_and_text_on_one_line() {
        assert_eq!(cell(Some(&serde_json::json!(["a", 1]))), r#"["a",1]"#);
        assert_eq!(cell(Some(&serde_json::json!("x\ny"))), "x y");
        assert_eq!(cell(Some(&serde_json::json!(f64::NAN))), "");
        assert_eq!(cell(None), "");
    }

    #[test]
    fn csv_round_trips_through_the_reader_with_old_names_renamed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.csv");
        let header = ["run_id", "error", "hidden", "final_loss"];
        let a: Vec<String> = ["id1", "error with, comma and \"quotes\"", "16", "0.25"]
            .map(String::from)
            .to_vec();
        let b: Vec<String> = ["id2", "", "", ""].map(String::from).to_vec();
        std::fs::write(&path, encode_table(&header, &[a.clone(), b.clone()])).unwrap();
        let t = Table::read(&path).unwrap();
        assert_eq!(t.header, ["run_id", "error", "model.hidden", "final_loss"]);
        assert_eq!(t.rows, [a, b]);
        assert_eq!(t.get(&t.rows[0], "final_loss"), "0.25");
        assert_eq!(t.get(&t.rows[0], "model.hidden"), "16");
    }

    #[test]
    fn rows_sort_by_parameters_numerically_then_id() {
        let header = ["run_id", "dim", "seed"];
        let mk = |dim: &str, seed: &str, id: &str| -> Vec<String> {
            vec![id.into(), dim.into(), seed.into()]
        };
        let mut rows = [
            mk("10", "0", "a"),
            mk("2", "1", "b"),
            mk("2", "0", "c"),
            mk("2", "0", "a"),
        ];
        rows.sort_by(|a, b| compare_rows(&header, a, b));
        let ids: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(ids, ["a", "c", "b", "a"]);
        assert_eq!(rows[3][1], "10");
    }
}
