//! The store on disk: commits, recovery, rebuilds, retries.

use super::*;
use crate::job::{Job, SweepInfo};
use record::Outcome;
use std::sync::Arc;

fn job(seed: u64) -> Job {
    let cfg: RunConfig = toml::from_str(&format!(
        "dataset = {{ name = \"8gaussians\" }}\nobjective = {{ name = \"esm\" }}\nseed = {seed}"
    ))
    .unwrap();
    Job::new(
        cfg,
        Arc::new(SweepInfo {
            name: "t".into(),
            description: String::new(),
        }),
    )
}

fn failed(job: &Job) -> RunRecord {
    RunRecord::new(
        job,
        1,
        &Outcome::Failed {
            error: "boom".into(),
            losses: Vec::new(),
        },
    )
}

fn ok(job: &Job) -> RunRecord {
    let mut r = failed(job);
    r.status = Status::Ok;
    r.error = None;
    r
}

fn ids(store: &Store) -> Vec<String> {
    let t = columns::Table::read(&store.csv_path()).unwrap();
    t.rows
        .iter()
        .map(|r| t.get(r, "run_id").to_string())
        .collect()
}

#[test]
fn commits_append_one_row_each_and_rebuild_sorts() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    let (a, b) = (job(1), job(0));
    let lock = store.lock().unwrap();
    lock.rebuild().unwrap();
    for j in [&a, &b] {
        let staged = store.stage(&ok(j), &j.config, &[], &[]).unwrap();
        assert_eq!(lock.commit(staged).unwrap(), Committed::Added);
    }
    assert_eq!(ids(&store), [a.id.clone(), b.id.clone()]);
    lock.rebuild().unwrap();
    // Sorted by seed after a rebuild.
    assert_eq!(ids(&store), [b.id.clone(), a.id.clone()]);
    // A second result for a finished run is dropped, not duplicated.
    let again = store.stage(&ok(&a), &a.config, &[], &[]).unwrap();
    assert_eq!(lock.commit(again).unwrap(), Committed::AlreadyDone);
    assert_eq!(ids(&store).len(), 2);
    let files: Vec<_> = fs::read_dir(store.run_dir(&a.id))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files.len(), 3);
    // Nothing is left in the staging area.
    assert_eq!(fs::read_dir(dir.path().join(".tmp")).unwrap().count(), 0);
}

#[test]
fn a_retried_failed_run_replaces_its_row() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    let a = job(0);
    let lock = store.lock().unwrap();
    let staged = store.stage(&failed(&a), &a.config, &[], &[]).unwrap();
    lock.commit(staged).unwrap();
    assert_eq!(store.statuses().unwrap()[&a.id], Status::Failed);
    let staged = store.stage(&ok(&a), &a.config, &[], &[]).unwrap();
    assert_eq!(lock.commit(staged).unwrap(), Committed::Replaced);
    assert_eq!(ids(&store), std::slice::from_ref(&a.id));
    assert_eq!(store.statuses().unwrap()[&a.id], Status::Ok);
}

#[test]
fn a_torn_last_line_or_a_missing_row_is_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    let (a, b, c) = (job(0), job(1), job(2));
    let lock = store.lock().unwrap();
    lock.commit(store.stage(&ok(&a), &a.config, &[], &[]).unwrap())
        .unwrap();
    // Killed while appending: half a row, no newline.
    let mut f = OpenOptions::new()
        .append(true)
        .open(store.csv_path())
        .unwrap();
    f.write_all(b"deadbeef,t,o").unwrap();
    // Killed between the rename and the append: a run without its row.
    let staged = store.stage(&ok(&b), &b.config, &[], &[]).unwrap();
    fs::rename(&staged.dir, store.run_dir(&b.id)).unwrap();
    // The next commit notices the torn line and rebuilds.
    lock.commit(store.stage(&ok(&c), &c.config, &[], &[]).unwrap())
        .unwrap();
    assert_eq!(ids(&store), [a.id.clone(), b.id.clone(), c.id.clone()]);
}

#[test]
fn recover_rebuilds_only_a_table_out_of_step_with_the_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    let (a, b, c, d) = (job(3), job(2), job(1), job(0));
    let lock = store.lock().unwrap();
    assert!(lock.recover().unwrap(), "no table yet");
    for j in [&a, &b] {
        lock.commit(store.stage(&ok(j), &j.config, &[], &[]).unwrap())
            .unwrap();
    }
    // In step: left as appended (a rebuild would sort b before a).
    assert!(!lock.recover().unwrap());
    assert_eq!(ids(&store), [a.id.clone(), b.id.clone()]);
    // Killed between the rename and the append: a run without its row.
    let staged = store.stage(&ok(&c), &c.config, &[], &[]).unwrap();
    fs::rename(&staged.dir, store.run_dir(&c.id)).unwrap();
    assert!(lock.recover().unwrap());
    assert_eq!(ids(&store), [c.id.clone(), b.id.clone(), a.id.clone()]);
    // Killed while replacing a failed run, after the swap, before the rebuild.
    lock.commit(store.stage(&failed(&d), &d.config, &[], &[]).unwrap())
        .unwrap();
    let staged = store.stage(&ok(&d), &d.config, &[], &[]).unwrap();
    let dead = dir.path().join(".tmp").join(format!(
        "replaced-{}.{}.{}.0",
        d.id,
        host_name(),
        u32::MAX - 1
    ));
    fs::rename(store.run_dir(&d.id), &dead).unwrap();
    fs::rename(&staged.dir, store.run_dir(&d.id)).unwrap();
    let status = |store: &Store| {
        let t = columns::Table::read(&store.csv_path()).unwrap();
        t.rows
            .iter()
            .find(|r| t.get(r, "run_id") == d.id)
            .map(|r| t.get(r, "status").to_string())
    };
    assert_eq!(status(&store).as_deref(), Some("failed"));
    assert!(lock.recover().unwrap());
    assert_eq!(status(&store).as_deref(), Some("ok"));
    assert!(!dead.exists());
    assert!(!lock.recover().unwrap());
    // A torn last line.
    let mut f = OpenOptions::new()
        .append(true)
        .open(store.csv_path())
        .unwrap();
    f.write_all(b"deadbeef,t").unwrap();
    assert!(lock.recover().unwrap());
    assert_eq!(ids(&store).len(), 4);
}

#[test]
fn repairing_a_table_rebuilds_it_and_needs_a_store() {
    let dir = tempfile::tempdir().unwrap();
    repair_table(dir.path()); // not an output directory: nothing created
    assert!(!dir.path().join(".lock").exists());
    let store = Store::create(dir.path()).unwrap();
    let a = job(0);
    let staged = store.stage(&ok(&a), &a.config, &[], &[]).unwrap();
    fs::rename(&staged.dir, store.run_dir(&a.id)).unwrap();
    repair_table(dir.path());
    assert_eq!(ids(&store), std::slice::from_ref(&a.id));
}

#[test]
fn staging_leftovers_of_dead_processes_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    let tmp = dir.path().join(".tmp");
    let dead = tmp.join(format!("abc.{}.{}.0", host_name(), u32::MAX - 1));
    // Another machine's process id means nothing here: left alone while recent.
    let elsewhere = tmp.join(format!("abc.other-host.{}.0", u32::MAX - 1));
    // ... unless older than a day.
    let stale = tmp.join(format!("abc.other-host.{}.1", u32::MAX - 1));
    let mine = store.tmp_name("mine");
    for d in [&dead, &elsewhere, &stale, &mine] {
        fs::create_dir_all(d).unwrap();
    }
    let two_days_ago = std::time::SystemTime::now() - 2 * STALE_STAGING;
    File::open(&stale)
        .unwrap()
        .set_modified(two_days_ago)
        .unwrap();
    assert_eq!(
        staging_owner(&mine.file_name().unwrap().to_string_lossy()),
        Some((host_name(), std::process::id()))
    );
    store.lock().unwrap().clean_staging();
    assert!(!dead.exists() || !Path::new("/proc").is_dir());
    assert!(elsewhere.exists());
    assert!(!stale.exists());
    assert!(mine.exists());
}

#[test]
fn a_run_with_a_new_parameter_widens_the_table_and_an_old_header_is_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    let lock = store.lock().unwrap();
    let plain = job(0);
    let base = job(1);
    let mut config = base.config.clone();
    config.train.grad_clip = Some(1.0);
    let clipped = Job::new(config, base.sweep.clone());
    for j in [&plain, &clipped] {
        let staged = store.stage(&ok(j), &j.config, &[], &[]).unwrap();
        assert_eq!(lock.commit(staged).unwrap(), Committed::Added);
    }
    let t = columns::Table::read(&store.csv_path()).unwrap();
    assert_eq!(t.rows.len(), 2);
    let clip: Vec<&str> = t.rows.iter().map(|r| t.get(r, "grad_clip")).collect();
    assert_eq!(clip, ["", "1.0"], "{:?}", t.header);
    // The next run of the same shape is appended to the wider table.
    let third = job(2);
    let staged = store.stage(&ok(&third), &third.config, &[], &[]).unwrap();
    lock.commit(staged).unwrap();
    assert_eq!(ids(&store).len(), 3);
    // A table written by an older runner (another header) is rewritten, not appended to.
    let text = std::fs::read_to_string(store.csv_path()).unwrap();
    let old = text.replacen("run_id,sweep,status", "run_id,sweep,state", 1);
    std::fs::write(store.csv_path(), old).unwrap();
    let fourth = job(3);
    let staged = store.stage(&ok(&fourth), &fourth.config, &[], &[]).unwrap();
    lock.commit(staged).unwrap();
    let t = columns::Table::read(&store.csv_path()).unwrap();
    assert_eq!(&t.header[..3], ["run_id", "sweep", "status"]);
    assert_eq!(t.rows.len(), 4);
}

#[test]
fn a_failed_runs_error_cell_is_one_capped_line() {
    let error = format!("first\nsecond\r\t{}", "y".repeat(8_000_000));
    let record = RunRecord::new(
        &job(1),
        1,
        &Outcome::Failed {
            error,
            losses: Vec::new(),
        },
    );
    let cell = record.error.unwrap();
    assert!(cell.starts_with("first second  y"), "{}", &cell[..40]);
    assert_eq!(cell.chars().count(), record::ERROR_CHARS + 1);
    assert!(cell.ends_with('…') && !cell.chars().any(char::is_control));
}
