use super::*;

#[test]
fn hash_parse_round_trip_and_rejects_bad_forms() {
    let h: [u8; 32] = std::array::from_fn(|i| (i * 7 + 3) as u8);
    let s = format!("sha256:{}", hex(&h));
    assert_eq!(parse_hash(&s), Some(h));
    assert_eq!(parse_hash(&s.to_uppercase()), None);
    assert_eq!(parse_hash(&s[..s.len() - 1]), None);
    assert_eq!(parse_hash(&s.replace("sha256:", "sha512:")), None);
    assert_eq!(parse_hash(&format!("{s}0")), None);
}

fn tiny_v1() -> Value {
    serde_json::json!({
        "bundle_version": 1, "name": "t", "input": {"width": 2, "height": 1, "channels": 1},
        "encoder": {"file": "e.onnx", "input": "pixels", "output": "latent"},
        "decoder": {"file": "d.onnx", "input": "latent", "output": "pixels"},
        "latent_dim": 1,
        "quantizer": {"kind": "uniform", "step": [0.5], "offset": [0.0]},
        "entropy": {"precision_bits": 16, "tables": [{"min": -1, "freqs": [65000, 500], "escape": 36}]},
        "hash": format!("sha256:{}", "ab".repeat(32)),
    })
}

fn tiny_v2() -> Value {
    serde_json::json!({
        "bundle_version": 2, "name": "t2",
        "input": {"channels": 3, "size": {"kind": "any", "stride": 16, "max_side": 16384}},
        "tensor_layout": "nchw",
        "latent": {"channels": 2},
        "encoder": {"file": "e.onnx", "input": "pixels", "output": "latent"},
        "decoder": {"file": "d.onnx", "input": "latent", "output": "pixels"},
        "entropy": {"precision_bits": 16},
        "levels": [
            {"quality": 1, "quantizer": {"kind": "uniform", "step": [0.5, 0.25], "offset": [0.0, 1.0]},
             "tables": [{"min": -1, "freqs": [65000, 500], "escape": 36}, {"min": 0, "freqs": [65535], "escape": 1}]},
            {"quality": 4, "quantizer": {"kind": "uniform", "step": [0.125, 0.1], "offset": [0.0, -1.0]},
             "tables": [{"min": 0, "freqs": [65535], "escape": 1}, {"min": 3, "freqs": [60000, 5535], "escape": 1}]}
        ],
        "default_quality": 4,
        "hash": format!("sha256:{}", "cd".repeat(32)),
    })
}

#[test]
fn tiny_manifest_is_accepted_and_each_rule_is_named() {
    let good = tiny_v1();
    let m = Manifest::from_json(good.to_string().as_bytes(), "t").unwrap();
    assert_eq!(m.levels[0].tables[0].max(), 0);
    assert_eq!(m.geometry().unwrap().samples(), 2);
    let round = Manifest::from_json(m.to_json_pretty().as_bytes(), "t").unwrap();
    assert_eq!(round, m);

    let cases: &[(&str, Value, &str)] = &[
        ("/encoder/file", "../x.onnx".into(), "encoder.file"),
        ("/decoder/output", "".into(), "decoder.output"),
        ("/quantizer/offset/0", 1e39.into(), "quantizer.offset[0]"),
        ("/latent_dim", 1.5.into(), "latent_dim"),
    ];
    for (ptr, val, field) in cases {
        let mut bad = good.clone();
        *bad.pointer_mut(ptr).unwrap() = val.clone();
        let e = Manifest::from_json(bad.to_string().as_bytes(), "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("`{field}`")), "{ptr}: {e}");
    }
}

#[test]
fn version_1_is_one_level_of_a_fixed_flat_layout_and_writes_back_as_version_1() {
    let m = Manifest::from_json(tiny_v1().to_string().as_bytes(), "t").unwrap();
    assert_eq!(m.layout, Layout::dense(2, 1, 1, 1));
    assert_eq!(
        (m.levels.len(), m.default_level, m.levels[0].quality),
        (1, 0, 0)
    );
    assert_eq!(m.level_by_quality(0).map(|(i, _)| i), Some(0));
    assert!(m.level_by_quality(1).is_none());
    // Today's keys, in today's order.
    let text = m.to_json_pretty();
    let keys = [
        "bundle_version",
        "name",
        "description",
        "architecture",
        "latent_activation",
        "dataset",
        "input",
        "encoder",
        "decoder",
        "latent_dim",
        "quantizer",
        "entropy",
        "metrics",
        "hash",
    ];
    let at: Vec<usize> = keys
        .iter()
        .map(|k| {
            text.find(&format!("\n  \"{k}\":"))
                .unwrap_or_else(|| panic!("{k}"))
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
    let out: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(out.as_object().unwrap().len(), keys.len());
    assert_eq!(out["quantizer"], tiny_v1()["quantizer"]);
    assert_eq!(out["entropy"], tiny_v1()["entropy"]);
}

#[test]
fn version_2_reads_levels_and_layout_and_round_trips() {
    let m = Manifest::from_json(tiny_v2().to_string().as_bytes(), "t").unwrap();
    assert_eq!(m.bundle_version, BUNDLE_VERSION_2);
    assert_eq!(
        m.layout,
        Layout {
            image_channels: 3,
            size: ImageSize::Any {
                stride: 16,
                max_side: 16384
            },
            channels: 2,
            tensors: TensorLayout::Nchw,
        }
    );
    assert!(m.geometry().is_none());
    assert_eq!(m.default_level, 1);
    let (i, l) = m.level_by_quality(1).unwrap();
    assert_eq!((i, l.quantizer.step.as_slice()), (0, &[0.5f32, 0.25][..]));
    assert_eq!(m.levels[1].tables[1].freqs, [60000, 5535]);
    let text = m.to_json_pretty();
    assert_eq!(Manifest::from_json(text.as_bytes(), "t").unwrap(), m);
    let out: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(out["input"], tiny_v2()["input"]);
    assert_eq!(out["levels"], tiny_v2()["levels"]);

    // A fixed size with flat tensors round-trips too.
    let mut fixed = tiny_v2();
    fixed["input"]["size"] = serde_json::json!({"kind": "fixed", "width": 28, "height": 20});
    fixed["tensor_layout"] = "flat".into();
    let m = Manifest::from_json(fixed.to_string().as_bytes(), "t").unwrap();
    assert_eq!(m.layout.fixed_size(), Some((28, 20)));
    assert_eq!(m.layout.tensors, TensorLayout::Flat);
    assert_eq!(
        Manifest::from_json(m.to_json_pretty().as_bytes(), "t").unwrap(),
        m
    );
}

#[test]
fn a_version_that_does_not_match_the_fields_is_named() {
    let mut v1_as_2 = tiny_v1();
    v1_as_2["bundle_version"] = 2.into();
    let mut v2_as_1 = tiny_v2();
    v2_as_1["bundle_version"] = 1.into();
    for (v, want) in [(v1_as_2, "is 2, but"), (v2_as_1, "is 1, but")] {
        let e = Manifest::from_json(v.to_string().as_bytes(), "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`bundle_version`") && e.contains(want), "{e}");
    }
    for (version, shown) in [
        (serde_json::json!(3), "is 3"),
        (serde_json::json!(null), "is null"),
        (serde_json::json!("2"), "is \"2\""),
    ] {
        let mut v = tiny_v2();
        v["bundle_version"] = version;
        let e = Manifest::from_json(v.to_string().as_bytes(), "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`bundle_version`") && e.contains(shown), "{e}");
    }
}

#[test]
fn type_errors_name_the_path_and_quote_the_value() {
    let cases: &[(&str, Value, &str)] = &[
        (
            "/levels/1/tables/0/freqs/0",
            "7".into(),
            "`levels[1].tables[0].freqs[0]` is \"7\", expected an integer",
        ),
        (
            "/levels/0/quantizer/step/1",
            Value::Null,
            "`levels[0].quantizer.step[1]` is null, expected",
        ),
        (
            "/input/size/stride",
            16.5.into(),
            "`input.size.stride` is 16.5, expected an integer",
        ),
        (
            "/tensor_layout",
            1.into(),
            "`tensor_layout` is 1, expected a string",
        ),
        (
            "/levels",
            serde_json::json!({}),
            "`levels` is {}, expected an array",
        ),
    ];
    for (ptr, val, want) in cases {
        let mut bad = tiny_v2();
        *bad.pointer_mut(ptr).unwrap() = val.clone();
        let e = Manifest::from_json(bad.to_string().as_bytes(), "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{ptr}: {e}");
    }
    let mut bad = tiny_v2();
    bad["levels"][1].as_object_mut().unwrap().remove("quality");
    let e = Manifest::from_json(bad.to_string().as_bytes(), "t")
        .unwrap_err()
        .to_string();
    assert!(e.contains("`levels[1].quality` is missing"), "{e}");
}

/// The fast path of `from_json` (typed parses of the text) reads every real manifest exactly as the tree
/// path does; a manifest the text path refuses goes to the tree path, whose message names the field.
#[test]
fn the_text_path_reads_every_manifest_as_the_tree_path() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs: Vec<std::path::PathBuf> = std::fs::read_dir(root.join("models"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.push(root.join("fixtures/models/tiny-conv"));
    let mut read = 0;
    for d in dirs {
        let Ok(bytes) = std::fs::read(d.join("model.json")) else {
            continue;
        };
        let ctx = Ctx {
            bundle: "t",
            defer_sets: false,
        };
        let tree: Value = serde_json::from_slice(&bytes).unwrap();
        let slow = Manifest::read(&ctx, &tree).unwrap();
        let fast = Manifest::read(&ctx, &Text(&bytes)).unwrap();
        assert_eq!(fast, slow, "{}", d.display());
        read += 1;
    }
    assert!(read >= 6, "{read} manifests");
    // A type error: the text path fails, and from_json reports it the tree path's way.
    let mut v = tiny_v1();
    v["latent_dim"] = serde_json::json!("one");
    let bytes = serde_json::to_vec(&v).unwrap();
    assert!(Manifest::read(
        &Ctx {
            bundle: "t",
            defer_sets: false,
        },
        &Text(&bytes)
    )
    .is_err());
    let e = Manifest::from_json(&bytes, "t").unwrap_err().to_string();
    assert!(e.contains("latent_dim") && e.contains("\"one\""), "{e}");
}

/// A fixed-size flat model of 2 latent channels whose first level has 2 table sets.
fn tiny_sets() -> Value {
    let mut list = TableList::default();
    for t in [
        Table {
            min: -1,
            freqs: vec![65000, 500],
            escape: 36,
        },
        Table {
            min: 0,
            freqs: vec![65535],
            escape: 1,
        },
        Table {
            min: 2,
            freqs: vec![100, 65435],
            escape: 1,
        },
        Table {
            min: -3,
            freqs: vec![65535],
            escape: 1,
        },
    ] {
        list.push((&t).into());
    }
    let sets = TableSets::new(
        2,
        Table {
            min: 0,
            freqs: vec![40000, 25535],
            escape: 1,
        },
        list,
    );
    let mut v = tiny_v2();
    v["input"] =
        serde_json::json!({"channels": 1, "size": {"kind": "fixed", "width": 2, "height": 1}});
    v["tensor_layout"] = "flat".into();
    v["levels"][0]["tables"] = serde_json::json!([]);
    v["levels"][0]["sets"] = serde_json::to_value(&sets).unwrap();
    v
}

#[test]
fn table_sets_are_read_checked_and_written_back() {
    let good = tiny_sets();
    let m = Manifest::from_json(good.to_string().as_bytes(), "t").unwrap();
    let s = m.levels[0].sets.as_ref().unwrap();
    assert_eq!((s.count, s.tables().unwrap().len()), (2, 4));
    // Set 1's table of channel 0 (set-major, 2 channels).
    assert_eq!(s.tables().unwrap().get(2).min, 2);
    assert!(m.levels[1].sets.is_none() && m.levels[0].tables.is_empty());
    let round = Manifest::from_json(m.to_json_pretty().as_bytes(), "t").unwrap();
    assert_eq!(round, m);

    let tables = good["levels"][0]["sets"]["tables"]
        .as_str()
        .unwrap()
        .to_string();
    let short = super::packed::base64_encode(
        &super::packed::base64_decode(tables.as_bytes()).unwrap()[..20],
    );
    let cases: &[(&str, Value, &str)] = &[
        (
            "/levels/0/sets/count",
            3.into(),
            "levels[0].sets.choice has min 0 and 2 frequencies, expected min 0 and 3",
        ),
        ("/levels/0/sets/count", 0.into(), "levels[0].sets.count"),
        ("/levels/0/sets/count", 257.into(), "levels[0].sets.count"),
        (
            "/levels/0/sets/choice/min",
            1.into(),
            "levels[0].sets.choice has min 1",
        ),
        (
            "/levels/0/sets/tables",
            "Zg=".into(),
            "levels[0].sets.tables",
        ),
        (
            "/levels/0/sets/tables",
            short.into(),
            "levels[0].sets.tables[2]",
        ),
        (
            "/levels/0/tables",
            tiny_v2()["levels"][0]["tables"].clone(),
            "levels[0].tables has 2 entries",
        ),
        (
            "/tensor_layout",
            "nchw".into(),
            "levels[0].sets is given, but table sets are for fixed-size models",
        ),
    ];
    for (ptr, val, want) in cases {
        let mut v = good.clone();
        if *ptr == "/tensor_layout" {
            v["input"] = tiny_v2()["input"].clone();
        }
        *v.pointer_mut(ptr).unwrap() = val.clone();
        let e = Manifest::from_json(v.to_string().as_bytes(), "t")
            .unwrap_err()
            .to_string();
        assert!(e.replace('`', "").contains(want), "{ptr} = {val}: {e}");
        // Deferred decoding refuses the same packed tables, with the same error, on first use.
        if *ptr == "/levels/0/sets/tables" {
            let m = Manifest::from_json_deferred(v.to_string().as_bytes(), "t").unwrap();
            let late = m.levels[0].sets.as_ref().unwrap().tables().unwrap_err();
            assert_eq!(late.to_string(), e);
        }
    }
}

#[test]
fn deferred_table_sets_read_back_equal() {
    let text = tiny_sets().to_string();
    let eager = Manifest::from_json(text.as_bytes(), "t").unwrap();
    let deferred = Manifest::from_json_deferred(text.as_bytes(), "t").unwrap();
    assert_eq!(deferred, eager);
    assert_eq!(deferred.to_json_pretty(), eager.to_json_pretty());
    let s = deferred.levels[0].sets.as_ref().unwrap();
    assert_eq!(s.tables().unwrap().len(), 4);
}
