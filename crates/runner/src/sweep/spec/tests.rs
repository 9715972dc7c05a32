//! Stage one on small files: structure, locations and messages.

use super::*;

fn spec(text: &str) -> (SweepSpec, Vec<String>) {
    let mut s = Sources::default();
    let id = s.add("s.toml", text, true);
    let root = Node::parse_document(&s, id, "").unwrap();
    let (spec, errors) = check(&root, &s, &Params::new(), "stem");
    (spec, errors.0.iter().map(ToString::to_string).collect())
}

#[test]
fn list_parameters_inside_an_entry_form_its_own_sub_grid() {
    let (spec, errors) = spec(
        "[grid]\nobjective = [\n  { name = \"dsm\", sigma = [0.1, 0.2, 0.5] },\n  \"esm\",\n  { name = [\"ssm\", \"ssm-vr\"], projections = [1, 4] },\n]\n",
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(spec.name, "stem");
    let axis = &spec.grid[0];
    let names: Vec<String> = axis
        .choices
        .iter()
        .map(|c| {
            let v = c[0].node.to_value();
            let mut s = v["name"].as_str().unwrap().to_string();
            if let Some(x) = v.get("sigma") {
                s += &format!("@{x}");
            }
            if let Some(x) = v.get("projections") {
                s += &format!("x{x}");
            }
            s
        })
        .collect();
    assert_eq!(
        names,
        [
            "dsm@0.1", "dsm@0.2", "dsm@0.5", "esm", "ssmx1", "ssmx4", "ssm-vrx1", "ssm-vrx4"
        ]
    );
    // Each expanded value remembers the list element it came from.
    assert_eq!(
        axis.choices[1][0].node.get("sigma").unwrap().key,
        "grid.objective[0].sigma[1]"
    );
}

#[test]
fn lists_of_tables_or_lists_inside_an_entry_are_values_not_sub_grids() {
    let (spec, errors) = spec(
        "[grid]\ndataset = [{ name = \"gmm\", components = [{ weight = 1.0, mean = [0.0, 1.0], std = 1.0 }, { weight = 2.0, mean = [1.0, 0.0], std = [0.5, 0.2] }] }]\nobjective = [{ name = \"esm\", extra = [[1, 2], [3]] }]\n",
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(spec.grid[0].choices.len(), 1);
    let components = spec.grid[0].choices[0][0].node.to_value()["components"].clone();
    assert_eq!(components.as_array().unwrap().len(), 2);
    assert_eq!(components[1]["std"].as_array().unwrap().len(), 2);
    assert_eq!(spec.grid[1].choices.len(), 1);
}

#[test]
fn flattened_keys_and_defaults_resolve_to_run_config_paths() {
    let (spec, errors) =
        spec("name = \"x\"\n[defaults]\nsteps = 20\nmodel = \"linear\"\nbackend = \"flex\"\n");
    assert!(errors.is_empty(), "{errors:?}");
    let paths: Vec<String> = spec.defaults.iter().map(|s| s.path.join(".")).collect();
    assert_eq!(paths, ["train.steps", "model", "backend"]);
    assert_eq!(
        spec.defaults[1].node.to_value()["name"].as_str(),
        Some("linear")
    );
}

#[test]
fn structural_mistakes_are_all_reported_with_line_and_key() {
    let (_, errors) = spec(
        "name = \"bad name\"\ncolour = 1\n[defaults]\nstepz = 3\nseed = [0, 1]\n[grid]\nseed = []\nlr = 0.1\nobjective = [\"esm\", \"essm\"]\ndataset = [{ name = \"gaussian\", dim = [] }]\n[[zip]]\nsteps = [1, 2]\nbatch = [8]\n[[zip]]\nlr = [1.0]\n",
    );
    let expect = [
        "s.toml:1: name: \"bad name\" cannot name a directory",
        "s.toml:2: colour: unknown key (expected one of: extends, search, name, description, max_runs, defaults, grid, zip, include, exclude)",
        "s.toml:4: defaults.stepz: unknown parameter \"stepz\" (expected one of: dataset, model, objective, train, backend, seed, sampler, sample_metrics, steps,",
        "s.toml:5: defaults.seed: [defaults] holds one value per parameter",
        "s.toml:7: grid.seed: empty list",
        "s.toml:8: grid.lr: an axis is a list of values (write lr = [0.1])",
        "s.toml:9: grid.objective[1]: unknown objective \"essm\" (expected one of: esm, ism, ssm, ssm-vr, fd-ssm, fd-ssm-vr, dsm, dsm-multi, ssm-multi, ssm-vr-multi, none)",
        "s.toml:10: grid.dataset[0].dim: empty list",
        "s.toml:13: zip[0].batch: has 1 values but zip[0].steps has 2",
    ];
    for e in expect {
        assert!(
            errors.iter().any(|x| x.starts_with(e)),
            "missing {e:?} in {errors:#?}"
        );
    }
    // lr is in [grid] (as a bad axis it is not registered) and so the zip may use it.
    assert_eq!(errors.len(), expect.len(), "{errors:#?}");
}

#[test]
fn a_parameter_at_the_top_level_says_where_it_belongs() {
    let (_, errors) = spec("name = \"x\"\nsteps = 10\n");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("s.toml:2: steps: did you mean defaults.steps?"),
        "{errors:?}"
    );
}

#[test]
fn a_family_parameter_written_alone_says_where_it_belongs() {
    let (_, errors) = spec("[grid]\nsigma = [0.1, 0.2]\n");
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with(
            "s.toml:2: grid.sigma: unknown parameter \"sigma\" (expected one of: dataset,"
        ),
        "{errors:?}"
    );
    assert!(
        errors[0].ends_with(
            "; σ belongs to an objective: objective = [{ name = \"dsm\", sigma = [0.1, 0.5] }]"
        ),
        "{errors:?}"
    );
}

#[test]
fn a_parameter_varies_in_one_place_only() {
    let (_, errors) = spec("[grid]\nseed = [0]\n[[zip]]\nseed = [1]\nsteps = [2]\n");
    assert_eq!(
        errors,
        [
            "s.toml:4: zip[0].seed: seed already varies in grid.seed; a parameter varies in one place"
        ]
    );
}

#[test]
fn zips_pair_values_and_include_exclude_are_read() {
    let (spec, errors) = spec(
        "[[zip]]\ndataset = [{ name = \"gaussian\", dim = 2 }, { name = \"gaussian\", dim = 50 }]\nsteps = [10, 40]\n[[include]]\nobjective = \"esm\"\nseed = [5, 6]\n[[exclude]]\nobjective = [\"ism\", \"ssm\"]\n",
    );
    assert!(errors.is_empty(), "{errors:?}");
    let zip = &spec.grid[0];
    assert_eq!(zip.key, "zip[0]");
    assert_eq!(zip.choices.len(), 2);
    assert_eq!(
        zip.choices[1][0].node.to_value()["dim"].as_integer(),
        Some(50)
    );
    assert_eq!(zip.choices[1][1].node.to_value().as_integer(), Some(40));
    assert_eq!(spec.include[0].len(), 2);
    assert_eq!(spec.include[0][1].choices.len(), 2);
    assert_eq!(spec.exclude[0].conditions[0].alternatives.len(), 2);
}

#[test]
fn nested_tables_form_sub_grids_and_list_valued_keys_stay_lists() {
    let (spec, errors) = spec(
        "[grid]\nmodel = [{ name = \"external\", command = [\"python3\", \"m.py\"], args = { lr = [0.1, 0.2], tag = \"a\" } }]\n\
         dataset = [{ name = \"file\", path = \"x.csv\", columns = [0, 2] }]\n",
    );
    assert!(errors.is_empty(), "{errors:?}");
    let values = |axis: usize| -> Vec<toml::Value> {
        spec.grid[axis]
            .choices
            .iter()
            .map(|c| c[0].node.to_value())
            .collect()
    };
    let models = values(0);
    assert_eq!(models.len(), 2);
    for (m, lr) in models.iter().zip([0.1, 0.2]) {
        assert_eq!(m["args"]["lr"].as_float(), Some(lr));
        assert_eq!(m["args"]["tag"].as_str(), Some("a"));
        assert_eq!(m["command"].as_array().map(Vec::len), Some(2));
    }
    let datasets = values(1);
    assert_eq!(datasets.len(), 1);
    assert_eq!(datasets[0]["columns"].as_array().map(Vec::len), Some(2));
}
