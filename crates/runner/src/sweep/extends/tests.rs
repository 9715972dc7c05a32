use super::super::{Loaded, load};
use std::path::Path;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn errors(path: &Path) -> Vec<String> {
    match load(path, &[]) {
        Ok(_) => panic!("{} loaded", path.display()),
        Err(d) => d.0.iter().map(ToString::to_string).collect(),
    }
}

fn loaded(path: &Path) -> Loaded {
    load(path, &[]).unwrap_or_else(|d| panic!("{d}"))
}

#[test]
fn a_chain_of_bases_merges_in_the_documented_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "root.toml",
        "name = \"root\"\n[defaults]\nsteps = 10\nbatch = 16\neval_samples = 100\npool_size = 256\n\
         model = { name = \"mlp\", hidden = 8, depth = 1 }\n[grid]\ndataset = [\"banana\"]\nobjective = [\"ism\"]\nseed = [0, 1]\n",
    );
    std::fs::create_dir(d.join("sub")).unwrap();
    write(
        d,
        "sub/mid.toml",
        "extends = \"../root.toml\"\n[defaults]\nsteps = 20\nmodel = { hidden = 16 }\n",
    );
    let child = write(
        d,
        "sub/child.toml",
        "extends = \"mid.toml\"\n[defaults]\nbatch = 32\n[grid]\nobjective = [\"ism\", \"ssm-vr\"]\n",
    );
    let plan = loaded(&child).plan;
    // name is not inherited; grid axes merge (dataset and seed from the root, objective
    // from the child); defaults merge key by key, the MLP's fields too.
    assert_eq!(plan.sweep.name, "child");
    assert_eq!(plan.jobs.len(), 4);
    for job in &plan.jobs {
        let t = &job.config.train;
        assert_eq!((t.steps, t.batch, t.eval_samples), (20, 32, 100));
        let model = serde_json::to_value(&job.config.model).unwrap();
        assert_eq!(
            (model["hidden"].as_u64(), model["depth"].as_u64()),
            (Some(16), Some(1))
        );
    }
    // A family entry with another name replaces the base's whole.
    let other = write(
        d,
        "sub/energy.toml",
        "extends = \"mid.toml\"\n[defaults]\nmodel = { name = \"energy\" }\n",
    );
    let model = serde_json::to_value(&loaded(&other).plan.jobs[0].config.model).unwrap();
    assert_eq!(model["name"], "energy");
    assert_eq!(
        model["hidden"].as_u64(),
        Some(128),
        "the energy net's own default"
    );
}

#[test]
fn errors_point_at_the_file_that_wrote_the_value_and_cycles_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "base.toml",
        "[defaults]\nsteps = 10\nbatch = 0\n[grid]\ndataset = [\"banana\"]\nobjective = [\"ism\"]\n",
    );
    let child = write(
        d,
        "child.toml",
        "extends = \"base.toml\"\n[defaults]\nlr = -1.0\n",
    );
    let found = errors(&child);
    assert_eq!(found.len(), 2, "{found:?}");
    let base = d.join("base.toml").display().to_string();
    assert!(
        found
            .iter()
            .any(|e| e.starts_with(&format!("{base}:3: defaults.batch:"))),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|e| e.starts_with(&format!("{}:3: defaults.lr:", child.display()))),
        "{found:?}"
    );
    // a → b → a: refused at b's extends line.
    write(d, "a.toml", "extends = \"b.toml\"\n");
    write(d, "b.toml", "# b\nextends = \"a.toml\"\n");
    let found = errors(&d.join("a.toml"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("b.toml:2: extends: a cycle: a.toml → b.toml → a.toml"),
        "{found:?}"
    );
    // A missing base is refused at the line naming it.
    let missing = write(d, "m.toml", "\nextends = [\"nowhere.toml\"]\n");
    let found = errors(&missing);
    assert!(
        found[0].contains("m.toml:2: extends: cannot read"),
        "{found:?}"
    );
}
