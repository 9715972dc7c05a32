//! Reading the tables of `file` data sets: CSV (an optional header row, detected by a
//! non-numeric cell in the first row; the external protocol's files have none) and NumPy
//! `.npy` (1-D or 2-D, little-endian floats or integers, C or Fortran order). Every problem
//! names the file, and where it has them the line and the column.

use std::path::Path;

use crate::hash::checksum;

/// A table as read from its file, before columns are chosen.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// Column names (CSV with a header row).
    pub header: Option<Vec<String>>,
    /// Number of columns.
    pub cols: usize,
    /// FNV-1a hash of the file's bytes.
    pub hash: String,
    cells: Cells,
}

#[derive(Clone, Debug, PartialEq)]
enum Cells {
    /// CSV rows: their line numbers and their cells as written.
    Text(Vec<(u64, Vec<String>)>),
    /// A numeric array, row-major.
    Numbers(Vec<f64>),
}

impl Table {
    /// The `columns` of every row as numbers, row-major; a cell that is empty, not a number,
    /// or not finite is an error naming its line and column.
    pub fn numeric(&self, columns: &[usize], path: &str) -> Result<Vec<f64>, String> {
        let name = |j: usize| match &self.header {
            Some(h) => format!("column {j} (\"{}\")", h[j]),
            None => format!("column {j}"),
        };
        let mut out = Vec::new();
        match &self.cells {
            Cells::Text(rows) => {
                for (line, cells) in rows {
                    for &j in columns {
                        let cell = cells[j].trim();
                        let value: f64 = cell.parse().map_err(|_| {
                            if cell.is_empty() {
                                format!("{path}:{line}: {} is empty", name(j))
                            } else {
                                format!("{path}:{line}: {}: \"{cell}\" is not a number", name(j))
                            }
                        })?;
                        if !value.is_finite() {
                            return Err(format!("{path}:{line}: {} is {cell}", name(j)));
                        }
                        out.push(value);
                    }
                }
            }
            Cells::Numbers(values) => {
                for (r, row) in values.chunks_exact(self.cols).enumerate() {
                    for &j in columns {
                        if !row[j].is_finite() {
                            return Err(format!("{path}: row {r}, {} is {}", name(j), row[j]));
                        }
                        out.push(row[j]);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        match &self.cells {
            Cells::Text(rows) => rows.len(),
            Cells::Numbers(v) => v.len() / self.cols.max(1),
        }
    }
}

/// Whether a CSV file's first row may be a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Header {
    /// A first row with a non-numeric cell is the header (data files).
    Detect,
    /// Every row is data (the external protocol): a non-numeric cell is an error.
    Absent,
}

/// Reads the table in `path` (by its extension: `.npy`, else CSV).
pub fn read(path: &Path, header: Header) -> Result<Table, String> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| format!("{shown}: cannot read ({e})"))?;
    let hash = checksum(&bytes);
    let table = if path.extension().is_some_and(|e| e == "npy") {
        npy(&bytes).map_err(|e| format!("{shown}: {e}"))?
    } else {
        csv_table(&bytes, &shown.to_string(), header)?
    };
    if table.rows() == 0 {
        return Err(format!("{shown}: no data rows"));
    }
    Ok(Table { hash, ..table })
}

fn csv_table(bytes: &[u8], path: &str, detect: Header) -> Result<Table, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut rows: Vec<(u64, Vec<String>)> = Vec::new();
    let mut header = None;
    let mut cols = 0;
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("{path}: not readable as CSV ({e})"))?;
        let line = record.position().map_or(i as u64 + 1, |p| p.line());
        let cells: Vec<String> = record.iter().map(|c| c.trim().to_string()).collect();
        if i == 0 {
            cols = cells.len();
            if detect == Header::Detect && cells.iter().any(|c| c.parse::<f64>().is_err()) {
                header = Some(cells);
                continue;
            }
        }
        if cells.len() != cols {
            return Err(format!(
                "{path}:{line}: {} fields, where the first row has {cols}",
                cells.len()
            ));
        }
        rows.push((line, cells));
    }
    Ok(Table {
        header,
        cols,
        hash: String::new(),
        cells: Cells::Text(rows),
    })
}

/// A `.npy` array (format versions 1 to 3).
fn npy(bytes: &[u8]) -> Result<Table, String> {
    const MAGIC: &[u8] = b"\x93NUMPY";
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not a .npy file (no NUMPY magic)".into());
    }
    let (header_len, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(format!(".npy format version {v} is not supported")),
    };
    let header = bytes
        .get(start..start + header_len)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or("truncated .npy header")?;
    let field = |key: &str| -> Result<&str, String> {
        let at = header
            .find(&format!("'{key}'"))
            .ok_or(format!("no '{key}' in the .npy header"))?;
        Ok(header[at + key.len() + 2..]
            .trim_start()
            .trim_start_matches(':')
            .trim_start())
    };
    let descr = field("descr")?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|d| d.split('\'').next())
        .ok_or("unreadable 'descr' in the .npy header")?;
    let fortran = field("fortran_order")?.starts_with("True");
    let shape_text = field("shape")?;
    let shape_text = shape_text
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or("unreadable 'shape' in the .npy header")?;
    let shape: Vec<usize> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|_| format!("unreadable shape ({shape_text})"))
        })
        .collect::<Result<_, _>>()?;
    let (rows, cols) = match shape[..] {
        [n] => (n, 1),
        [n, d] => (n, d),
        _ => {
            return Err(format!(
                "a {}-D array; a data set is 1-D or 2-D",
                shape.len()
            ));
        }
    };
    let data = &bytes[start + header_len..];
    let width = match descr {
        "<f8" | "<i8" => 8,
        "<f4" | "<i4" => 4,
        other => {
            return Err(format!(
                "element type {other}; supported: <f8, <f4, <i8, <i4 (little-endian)"
            ));
        }
    };
    // The shape comes from the file: its product is checked, never wrapped, and must match
    // the bytes the file really holds.
    let needed = rows
        .checked_mul(cols)
        .and_then(|count| count.checked_mul(width).map(|bytes| (count, bytes)));
    let count = match needed {
        Some((count, bytes)) if bytes == data.len() => count,
        Some((_, bytes)) => {
            return Err(format!(
                "holds {} bytes of data, its shape ({rows}, {cols}) needs {bytes}",
                data.len()
            ));
        }
        None => {
            return Err(format!(
                "holds {} bytes of data, its shape ({rows}, {cols}) needs more than can be \
                 addressed",
                data.len()
            ));
        }
    };
    let values: Vec<f64> = data
        .chunks_exact(width)
        .map(|c| match descr {
            "<f8" => f64::from_le_bytes(c.try_into().unwrap_or([0; 8])),
            "<i8" => i64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f64,
            "<f4" => f64::from(f32::from_le_bytes(c.try_into().unwrap_or([0; 4]))),
            _ => f64::from(i32::from_le_bytes(c.try_into().unwrap_or([0; 4]))),
        })
        .collect();
    let values = if fortran {
        (0..count)
            .map(|k| values[(k % cols) * rows + k / cols])
            .collect()
    } else {
        values
    };
    Ok(Table {
        header: None,
        cols,
        hash: String::new(),
        cells: Cells::Numbers(values),
    })
}

/// The bytes of a `.npy` file holding `values` as an `[rows, cols]` f64 array (tests, and
/// scripts that write data for the runner).
pub fn npy_bytes(values: &[f64], rows: usize, cols: usize) -> Vec<u8> {
    let mut header =
        format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // Pad so that the data start at a multiple of 64 bytes, ending the header with \n.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.bytes());
    out.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    out
}
