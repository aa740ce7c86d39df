//! `aez eval` end to end. With the `eval` feature (`cargo nextest run --features eval -E
//! 'test(/^cli_eval::/)'`, which .ci/run runs): its measurements on the 64-image Fashion-MNIST fixture,
//! checked against what `aez compress` writes, its tables, plot and errors. Without it: the message that
//! says how to build it.

#[cfg(not(feature = "eval"))]
#[test]
fn without_the_feature_it_says_how_to_build_it() {
    let out = crate::cli_common::aez()
        .args(["eval", "fixtures/idx/fmnist-t10k-64.idx"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run aez");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--features eval"), "{err}");
}

#[cfg(feature = "eval")]
mod with_the_feature {
    use std::path::Path;

    use crate::cli_common::aez;

    const IDX: &str = "fixtures/idx/fmnist-t10k-64.idx";

    fn eval(args: &[&str]) -> std::process::Output {
        aez()
            .arg("eval")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("run aez")
    }

    fn json(args: &[&str]) -> serde_json::Value {
        let out = eval(&[args, &["--json"]].concat());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON report")
    }

    fn rows<'a>(v: &'a serde_json::Value, codec: &str) -> Vec<&'a serde_json::Value> {
        v["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .filter(|r| r["codec"] == codec)
            .collect()
    }

    #[test]
    fn every_level_and_the_classical_codecs_measured_as_compress_writes_them() {
        let v = json(&[IDX, "--codecs", "png,jpeg,webp"]);
        assert_eq!(v["images"], 64);
        // Without -m, 28x28 gray images get both Fashion-MNIST bundles: the whole quality scale.
        let low = rows(&v, "aez fmnist-ld64e3d3-v2");
        let high = rows(&v, "aez fmnist-conv-sets");
        assert_eq!((low.len(), high.len()), (7, 6));
        // A level's bytes per image are those of the batch stream compress writes at that quality.
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("q4.aez");
        let st = aez()
            .args(["compress", "-q", "--quality", "4", IDX])
            .arg(&file)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("compress");
        assert!(st.success());
        let bytes = std::fs::metadata(&file).expect("output").len() as f64 / 64.0;
        let q4 = low
            .iter()
            .find(|r| r["setting"] == "fmnist-ld64e3d3-v2 q4")
            .expect("q4 row");
        assert!(
            (q4["bytes"].as_f64().expect("bytes") - bytes).abs() < 1e-9,
            "{q4}"
        );
        // PSNR rises with the level; PNG is lossless (PSNR null: infinite); JPEG and WebP have rows.
        let psnr: Vec<f64> = low
            .iter()
            .map(|r| r["psnr"].as_f64().expect("psnr"))
            .collect();
        assert!(psnr.windows(2).all(|w| w[0] < w[1]), "{psnr:?}");
        let png = rows(&v, "PNG best");
        assert_eq!(png.len(), 1);
        assert!(png[0]["lossless"] == true && png[0]["psnr"].is_null());
        assert!(rows(&v, "JPEG").len() > 10 && rows(&v, "WebP").len() > 10);
        assert!(rows(&v, "AVIF").is_empty(), "--codecs leaves AVIF out");
        // Matched quality at every aez level, for every family; BD-rate against JPEG and WebP: on
        // Fashion-MNIST aez needs far fewer bytes than both.
        assert_eq!(v["matched"].as_array().expect("matched").len(), 13 * 5);
        for codec in ["JPEG", "WebP"] {
            let bd = v["bd_rate"]
                .as_array()
                .expect("bd_rate")
                .iter()
                .find(|b| b["codec"] == codec)
                .expect("a BD-rate row");
            let p = bd["percent"].as_f64().expect("a BD-rate");
            assert!((-99.0..-30.0).contains(&p), "{codec}: {p}");
        }
    }

    #[test]
    fn the_text_report_and_a_named_model() {
        let out = eval(&[
            IDX,
            "--codecs",
            "jpeg",
            "-m",
            "fmnist-ld64e3d3-v2",
            "--limit",
            "16",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("16 images, 28x28 gray"), "{text}");
        for want in [
            "fmnist-ld64e3d3-v2 q7",
            "Matched quality",
            "BD-rate",
            "JPEG",
        ] {
            assert!(text.contains(want), "{want}: {text}");
        }
        assert!(
            !text.contains("fmnist-conv"),
            "-m gives only that model: {text}"
        );
    }

    #[test]
    fn a_plot_or_a_message_that_names_the_missing_font() {
        let dir = tempfile::tempdir().expect("tempdir");
        let svg = dir.path().join("rd.svg");
        let out = eval(&[
            IDX,
            "--codecs",
            "webp",
            "--limit",
            "8",
            "--plot",
            &svg.to_string_lossy(),
        ]);
        if out.status.success() {
            let text = std::fs::read_to_string(&svg).expect("the plot");
            assert!(
                text.starts_with("<svg") && text.contains("WebP"),
                "{text:.200}"
            );
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("--plot") && err.contains("AEZ_FONT"), "{err}");
        }
    }

    #[test]
    fn bad_inputs_and_codecs_are_named() {
        let out = eval(&["no/such.idx"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("no/such.idx"));
        let out = eval(&[IDX, "--codecs", "jpeg,bmp"]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("\"bmp\"") && err.contains("webp"), "{err}");
        // A truncated IDX file: the error names it.
        let dir = tempfile::tempdir().expect("tempdir");
        let bad = dir.path().join("cut.idx");
        let full = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(IDX)).expect("fixture");
        std::fs::write(&bad, &full[..full.len() - 100]).expect("write");
        let out = eval(&[&bad.to_string_lossy()]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("cut.idx"));
    }
}
