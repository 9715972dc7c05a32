//! `curves.csv`: every run's training and held-out loss curves in one long table
//! (`run_id,step,loss,val_loss`), so a user reads all curves of a sweep with one
//! `pandas.read_csv` instead of one file per run.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::columns::{Table, encode};
use crate::store::LOSS_FILE;
use crate::store::artifacts::VAL_LOSS_FILE;

/// The file's name inside the output directory.
pub const CURVES_CSV: &str = "curves.csv";

/// The `step,value` lines of a run's curve file, cells as written (empty for a non-finite
/// value); nothing if the file is missing.
fn points(path: &Path) -> Vec<(u64, String)> {
    let Ok(text) = fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let (step, value) = l.split_once(',')?;
            Some((step.parse().ok()?, value.to_string()))
        })
        .collect()
}

/// The curves of the runs of `table` (in its row order) under `dir`: one line per run and
/// recorded step, the training loss and the held-out loss where each was recorded at that
/// step (empty otherwise).
pub fn curves_csv(dir: &Path, table: &Table) -> Vec<u8> {
    let mut out = encode(&["run_id", "step", "loss", "val_loss"]);
    for row in &table.rows {
        let id = table.get(row, "run_id");
        let run = dir.join("runs").join(id);
        let mut steps: BTreeMap<u64, (String, String)> = BTreeMap::new();
        for (step, loss) in points(&run.join(LOSS_FILE)) {
            steps.entry(step).or_default().0 = loss;
        }
        for (step, val) in points(&run.join(VAL_LOSS_FILE)) {
            steps.entry(step).or_default().1 = val;
        }
        for (step, (loss, val)) in steps {
            out.extend(encode(&[id, &step.to_string(), &loss, &val]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_of_every_run_merge_training_and_held_out_steps() {
        let dir = tempfile::tempdir().unwrap();
        let run = |id: &str, loss: &str, val: Option<&str>| {
            let d = dir.path().join("runs").join(id);
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join(LOSS_FILE), loss).unwrap();
            if let Some(v) = val {
                fs::write(d.join(VAL_LOSS_FILE), v).unwrap();
            }
        };
        run(
            "a",
            "step,loss\n1,0.5\n10,0.25\n20,\n",
            Some("step,loss\n10,0.3\n30,0.2\n"),
        );
        run("b", "step,loss\n1,2.0\n", None);
        let table = Table {
            header: vec!["run_id".into()],
            rows: vec![vec!["b".into()], vec!["a".into()], vec!["missing".into()]],
        };
        let text = String::from_utf8(curves_csv(dir.path(), &table)).unwrap();
        assert_eq!(
            text,
            "run_id,step,loss,val_loss\nb,1,2.0,\na,1,0.5,\na,10,0.25,0.3\na,20,,\na,30,,0.2\n"
        );
    }
}
