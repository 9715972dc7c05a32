use super::parse::npy_bytes;
use super::*;

/// A file in a fresh temporary directory, with `bytes`.
fn file(name: &str, bytes: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!(
        "scorematch-file-{}-{}",
        std::process::id(),
        name.replace('.', "-")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_string_lossy().into_owned()
}

fn params(path: &str, extra: &str) -> FileParams {
    toml::from_str(&format!("path = '{path}'\n{extra}")).unwrap()
}

fn error(path: &str, extra: &str) -> String {
    let errors = params(path, extra).validate();
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors[0].message.clone()
}

#[test]
fn csv_with_a_header_selects_columns_by_name_or_position_and_splits() {
    let path = file(
        "t.csv",
        b"a,b,label\n1,10,x\n2,20,y\n3,30,x\n4,40,y\n5,50,x\n6,60,y\n7,70,x\n8,80,y\n9,90,x\n10,100,y\n",
    );
    let p = params(&path, "columns = ['b', 0]\ntest_fraction = 0.3");
    assert!(p.validate().is_empty(), "{:?}", p.validate());
    assert_eq!(p.dim(), 2);
    let e = p.split().unwrap();
    assert_eq!((e.train.len() / 2, e.test.len() / 2), (7, 3));
    // Every row comes back once, as (b, a), across the two splits.
    let mut rows: Vec<(i64, i64)> = e
        .train
        .chunks(2)
        .chain(e.test.chunks(2))
        .map(|r| (r[0] as i64, r[1] as i64))
        .collect();
    rows.sort();
    assert_eq!(rows, (1..=10).map(|k| (10 * k, k)).collect::<Vec<_>>());
    // The same seed splits the same way; another seed differently.
    assert_eq!(p.split().unwrap().test, e.test);
    let other = params(
        &path,
        "columns = ['b', 0]\ntest_fraction = 0.3\nsplit_seed = 5",
    );
    assert_ne!(other.split().unwrap().test, e.test);
    // Draws come from the training rows only.
    let density = p.density().unwrap();
    let draws = density.sample(200, &mut rng(1, Stream::Pool));
    for r in draws.chunks(2) {
        assert!(
            e.train.chunks(2).any(|t| t == r),
            "{r:?} is not a training row"
        );
    }
    assert_eq!(density.test_split(), Some(&e.test[..]));
}

#[test]
fn standardising_uses_the_training_rows() {
    let rows: String = (0..50).map(|k| format!("{},{}\n", k, 3 * k + 7)).collect();
    let path = file("s.csv", rows.as_bytes());
    let e = params(&path, "standardize = true").split().unwrap();
    for j in 0..2 {
        let col: Vec<f64> = e.train.iter().skip(j).step_by(2).copied().collect();
        let mean = col.iter().sum::<f64>() / col.len() as f64;
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / col.len() as f64;
        assert!(
            mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12,
            "{mean} {var}"
        );
    }
    // Both columns are affine in k, so after standardising they are equal.
    for r in e.test.chunks(2) {
        assert!((r[0] - r[1]).abs() < 1e-12);
    }
}

#[test]
fn npy_files_read_in_c_and_fortran_order() {
    let values: Vec<f64> = (0..12).map(f64::from).collect();
    let path = file("a.npy", &npy_bytes(&values, 6, 2));
    let table = read_table(&path).unwrap();
    assert_eq!((table.rows(), table.cols), (6, 2));
    assert_eq!(table.numeric(&[0, 1], &path).unwrap(), values);
    // The same numbers stored column by column.
    let mut bytes = npy_bytes(&values, 6, 2);
    let at = bytes.windows(5).position(|w| w == b"False").unwrap();
    bytes.splice(at..at + 5, b"True ".iter().copied());
    let path = file("f.npy", &bytes);
    let fortran = read_table(&path).unwrap().numeric(&[0, 1], &path).unwrap();
    let want: Vec<f64> = (0..6).flat_map(|r| [r as f64, (r + 6) as f64]).collect();
    assert_eq!(fortran, want);
}

#[test]
fn every_bad_file_gets_a_one_line_error_with_its_place() {
    let missing = format!("{}/nowhere.csv", std::env::temp_dir().display());
    let cases: Vec<(String, &str, String)> = vec![
        (
            missing.clone(),
            "",
            format!("{missing}: cannot read (no such file)"),
        ),
        (
            file("ragged.csv", b"a,b\n1,2\n3\n4,5\n"),
            "",
            ":3: 1 fields, where the first row has 2".into(),
        ),
        (
            file("text.csv", b"a,b\n1,2\n3,x7\n4,5\n"),
            "",
            ":3: column 1 (\"b\"): \"x7\" is not a number".into(),
        ),
        (
            file("nan.csv", b"1,2\n3,NaN\n4,5\n6,7\n"),
            "",
            ":2: column 1 is NaN".into(),
        ),
        (
            file("empty-cell.csv", b"1,2\n3,\n4,5\n6,7\n"),
            "",
            ":2: column 1 is empty".into(),
        ),
        (
            file("label.csv", b"a,b\n1,2\n3,4\n"),
            "columns = ['c']",
            "no column \"c\"".into(),
        ),
        (
            file("position.csv", b"1,2\n3,4\n"),
            "columns = [2]",
            "column 2 does not exist".into(),
        ),
        (file("none.csv", b"a,b\n"), "", ": no data rows".into()),
        (
            file("bad.npy", b"\x93NUMPY\x01\x00garbage"),
            "",
            "truncated .npy header".into(),
        ),
        (file("one.csv", b"1,2\n"), "", "too few to hold out".into()),
    ];
    for (path, extra, want) in cases {
        let message = error(&path, extra);
        assert!(message.contains(&want), "{path}: {message}");
        assert!(!message.contains('\n'), "{message}");
    }
}

#[test]
fn a_file_that_changed_since_it_was_pinned_is_refused() {
    let path = file("pin.csv", b"1,2\n3,4\n5,6\n7,8\n");
    let mut p = params(&path, "");
    p.content_hash = Some(p.current_hash().unwrap());
    assert!(p.validate().is_empty());
    // Rewritten with another size, so the cache sees the change.
    std::fs::write(&path, b"1,2\n3,4\n5,6\n7,9.5\n").unwrap();
    assert!(
        error(
            &path,
            &format!("content_hash = '{}'", p.content_hash.unwrap())
        )
        .contains("has changed")
    );
}

#[test]
fn an_empty_column_list_is_refused_by_key_not_a_panic() {
    let path = file("cols.csv", b"1,2\n3,4\n5,6\n7,8\n");
    let errors = params(&path, "columns = []").validate();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].key, "columns");
    assert!(errors[0].message.contains("is empty"), "{errors:?}");
    assert!(params(&path, "columns = []").density().is_err());
}

/// A `.npy` file of `data_bytes` bytes of data whose header claims `shape`.
fn npy_claiming(name: &str, shape: &str, fortran: bool, data_bytes: usize) -> String {
    let order = if fortran { "True" } else { "False" };
    let mut header = format!("{{'descr': '<f8', 'fortran_order': {order}, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend(u16::try_from(header.len()).unwrap().to_le_bytes());
    bytes.extend(header.bytes());
    bytes.extend(std::iter::repeat_n(0u8, data_bytes));
    file(name, &bytes)
}

#[test]
fn an_npy_shape_whose_size_overflows_is_refused_in_either_order() {
    // (2^60 + 60) · 2 values of 8 bytes wrap around to 960 bytes (60 rows) without checked
    // arithmetic; in Fortran order the unwrapped count then aborts the reordering.
    let huge = format!("({}, 2)", (1u64 << 60) + 60);
    for fortran in [false, true] {
        let name = format!("huge-{fortran}.npy");
        let path = npy_claiming(&name, &huge, fortran, 960);
        let message = read_table(&path).unwrap_err();
        assert!(
            message.contains("holds 960 bytes of data") && message.contains("needs more than"),
            "{message}"
        );
    }
    // A product that fits but disagrees with the file's size is refused too.
    let path = npy_claiming("short.npy", "(10, 2)", true, 152);
    let message = read_table(&path).unwrap_err();
    assert!(message.contains("holds 152 bytes of data, its shape (10, 2) needs 160"));
    // The same header over the right number of bytes reads.
    let path = npy_claiming("right.npy", "(10, 2)", true, 160);
    assert_eq!(read_table(&path).unwrap().rows(), 10);
}

/// A `.npy` file written by `numpy.save` (numpy 2.4), committed under `tests/fixtures/numpy/`:
/// ```python
/// np.save('c_f8.npy', (np.arange(15, dtype='<f8').reshape(5, 3) - 7) / 4)
/// np.save('fortran_f4.npy', np.asfortranarray(np.arange(12, dtype='<f4').reshape(6, 2) - 5.5))
/// np.save('vector_i8.npy', np.arange(-3, 4, dtype='<i8'))
/// np.save('c_i4.npy', np.array([[1, -2], [3, -4], [5, -6]], dtype='<i4'))
/// ```
fn numpy_fixture(name: &str) -> String {
    format!(
        "{}/../../tests/fixtures/numpy/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn npy_files_written_by_numpy_read_as_numpy_holds_them() {
    let read = |name: &str| {
        let path = numpy_fixture(name);
        let table = read_table(&path).unwrap();
        let all: Vec<usize> = (0..table.cols).collect();
        (
            table.rows(),
            table.cols,
            table.numeric(&all, &path).unwrap(),
        )
    };
    let want: Vec<f64> = (0..15).map(|k| f64::from(k - 7) / 4.0).collect();
    assert_eq!(read("c_f8.npy"), (5, 3, want));
    // Row-major values, although numpy stored them column by column.
    let want: Vec<f64> = (0..12).map(|k| f64::from(k) - 5.5).collect();
    assert_eq!(read("fortran_f4.npy"), (6, 2, want));
    let want: Vec<f64> = (-3..4).map(f64::from).collect();
    assert_eq!(read("vector_i8.npy"), (7, 1, want));
    assert_eq!(
        read("c_i4.npy"),
        (3, 2, vec![1.0, -2.0, 3.0, -4.0, 5.0, -6.0])
    );
}
