//! `aez compress`: images (files, IDX, stdin) to an .aez stream in a file or on stdout.
//!
//! A fixed-size model (version-1 bundle) gets its images converted to its geometry by the image source, as
//! it always has. A model that takes any image (version-2 bundle) gets each image as it was decoded (its
//! size, colour type and bit depth): one image becomes `aez::compress_with`'s stream, several go through
//! `Encoder::push_image`. Without `--model`, the first input may choose the model's family
//! ([`crate::model::family_bundle`]).

use std::io::{BufWriter, Write};
use std::time::Instant;

use aez::io::{ImageSource, Input, Record};
use aez::model::Model;
use aez::Error;
use indicatif::ProgressBar;

use crate::cli::{CompressArgs, Global};
use crate::error::{CliError, CliResult};
use crate::model::{
    check_quality, codec_options, family_bundle, family_in_reach, load_model, open_bundle,
    takes_any_image, FMNIST_FAMILY, FMNIST_HIGH, GRAY_FAMILY, PHOTO_FAMILY,
};
use crate::output::{
    check_stdout_not_terminal, check_target, stdout_err, write_atomic, AtomicFile, Output,
};
use crate::progress::{note, plural, progress, ratio};
use crate::source::{raw_len, Source, Start};

/// Counts bytes written through it.
struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The inputs and the output of `aez compress IN OUT` or `aez compress IN... -o OUT`.
fn inputs_and_output(a: &CompressArgs) -> CliResult<(Vec<Input>, Output)> {
    let (inputs, output): (Vec<Input>, Output) = match (&a.output, a.paths.len()) {
        (Some(o), _) => (a.paths.iter().map(|s| Input::parse(s)).collect(), Output::parse(o)),
        (None, 2) => (vec![Input::parse(&a.paths[0])], Output::parse(&a.paths[1])),
        (None, 1) => {
            return Err(CliError::Usage("compress", format!(
                "missing OUTPUT: `aez compress {} OUTPUT` ('-' for stdout), or -o OUTPUT",
                a.paths[0]
            )))
        }
        (None, _) => {
            return Err(CliError::Usage(
                "compress",
                "several inputs: name the output with -o OUTPUT (e.g. `aez compress a.png b.png -o batch.aez`)"
                    .into(),
            ))
        }
    };
    let inputs = expand_dirs(inputs)?;
    if inputs.iter().filter(|i| **i == Input::Stdin).count() > 1 {
        return Err(CliError::Usage(
            "compress",
            "stdin ('-') can be read only once".into(),
        ));
    }
    Ok((inputs, output))
}

/// Each directory among the inputs replaced by its image files (by extension, not descending into
/// subdirectories, hidden files skipped), sorted by name, so that `aez compress pngs/ -o all.aez` is
/// `aez compress pngs/*.png -o all.aez`. A directory without images is an error naming it.
fn expand_dirs(inputs: Vec<Input>) -> CliResult<Vec<Input>> {
    let mut out = Vec::with_capacity(inputs.len());
    for i in inputs {
        let dir = match &i {
            Input::Path(p) if p.is_dir() => p.clone(),
            _ => {
                out.push(i);
                continue;
            }
        };
        let read = |e| Error::io(format!("cannot read the directory {}", dir.display()), e);
        let mut files: Vec<std::path::PathBuf> = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(read)? {
            let p = entry.map_err(read)?.path();
            if p.is_file() && aez::io::is_input_name(&p) {
                files.push(p);
            }
        }
        if files.is_empty() {
            return Err(CliError::Failed(Error::InvalidArgument {
                what: "input directory",
                value: dir.display().to_string(),
                expected: format!(
                    "image files in it ({}; subdirectories are not read)",
                    aez::io::INPUT_EXTENSIONS.join(", ")
                ),
            }));
        }
        files.sort();
        out.extend(files.into_iter().map(Input::Path));
    }
    Ok(out)
}

/// Runs `aez compress`.
pub fn compress(g: &Global, a: &CompressArgs) -> CliResult {
    let (inputs, output) = inputs_and_output(a)?;
    match &output {
        Output::File(p) => check_target(p, g.force)?,
        Output::Stdout => check_stdout_not_terminal(g, "binary .aez data")?,
    }
    // Fail on a missing input before the (slower) model loading.
    for i in &inputs {
        if let Input::Path(p) = i {
            std::fs::File::open(p)
                .map_err(|e| Error::io(format!("cannot open {}", p.display()), e))?;
        }
    }
    let start = Instant::now();
    let n_inputs = inputs.len();

    // Without --model, and with a family's bundle in reach, the first input chooses the model: it is read
    // first, as it is. Otherwise the model is the one --model names, or the default.
    let families = g.model.is_none()
        && [FMNIST_FAMILY, FMNIST_HIGH, GRAY_FAMILY, PHOTO_FAMILY]
            .iter()
            .any(|f| family_in_reach(f));
    let (bundle, peeked) = if families {
        let mut src = ImageSource::any_size(inputs, "the model");
        let first = src.next_record()?;
        crate::profile::mark("first input read");
        let (bundle, why) =
            family_bundle(first.as_ref().and_then(|r| r.image.as_ref()), a.quality)?;
        if g.verbose {
            note(g, &format!("{why}: model {}", bundle.name()));
        }
        (bundle, Start::Read(Box::new(src), first))
    } else {
        (open_bundle(g)?, Start::Inputs(inputs))
    };
    check_quality(&bundle, a.quality)?;
    crate::profile::mark("model chosen, its bundle verified");
    let any = takes_any_image(&bundle);
    let model = load_model(g, bundle)?;
    crate::profile::mark("model loaded");
    let b = model.bundle();
    let model_info = (b.name().to_string(), b.layout().image_channels);
    let size = b.layout().fixed_size().filter(|_| any);
    let fixed = (!any).then(|| (b.geometry(), b.name().to_string()));
    let (mut source, first) = match peeked {
        Start::Read(src, first) => {
            let mut source = Source::Any {
                src: *src,
                fixed,
                model: model_info,
                size,
                // The first input chose the model; the others choose theirs (with --quality, which is
                // one model's, every image gets the first one's).
                families: any && a.quality.is_none(),
                switch: None,
            };
            let first = first.map(|r| source.prepare(g, r)).transpose()?;
            (source, first)
        }
        Start::Inputs(inputs) => {
            let mut source = if any {
                Source::Any {
                    src: ImageSource::any_size(inputs, b.name()),
                    fixed: None,
                    model: model_info,
                    size,
                    families: false,
                    switch: None,
                }
            } else {
                Source::Fixed(ImageSource::new(inputs, b.geometry(), b.name()))
            };
            // Nothing is created before the first image is read: a bad single input leaves no output.
            let first = source.next_record(g)?;
            (source, first)
        }
    };

    let single = !a.batch && n_inputs == 1 && matches!(&first, Some(r) if r.idx_record.is_none());
    let options = codec_options(g)
        .with_quality(a.quality)
        .with_images_per_record(a.pack as usize);

    if single {
        let Some(rec) = first else {
            return Ok(());
        };
        let raw = raw_len(&rec);
        crate::profile::mark("input prepared");
        let bytes = match &rec.image {
            Some(img) => aez::compress_with(&model, img, &options)?,
            None => aez::compress_pixels(&model, &rec.pixels, &options)?,
        };
        crate::profile::mark("encoded (network and entropy coding)");
        match &output {
            Output::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(&bytes)
                    .and_then(|_| out.flush())
                    .map_err(stdout_err)?;
            }
            Output::File(p) => write_atomic(p, &bytes, g.force)?,
        }
        crate::profile::mark("written");
        if g.verbose {
            note(
                g,
                &format!(
                    "1 image, {raw} -> {} bytes ({}), {:.2} s",
                    bytes.len(),
                    ratio(raw, bytes.len() as u64),
                    start.elapsed().as_secs_f64()
                ),
            );
        }
        return Ok(());
    }

    let bar = progress(g, Some(source.known_total()), "compress");
    let result: CliResult<(u64, Batch)> = match &output {
        Output::Stdout => {
            let out = Counting {
                inner: BufWriter::with_capacity(256 * 1024, std::io::stdout().lock()),
                bytes: 0,
            };
            compress_batch(g, &model, &options, first, &mut source, out, &bar)
                .and_then(|(out, batch)| {
                    let bytes = match out {
                        Some(mut out) => {
                            out.flush().map_err(stdout_err)?;
                            out.bytes
                        }
                        None => 0,
                    };
                    Ok((bytes, batch))
                })
                .map_err(CliError::from)
        }
        Output::File(p) => {
            let file = AtomicFile::create(p, g.force)?;
            let out = Counting {
                inner: file,
                bytes: 0,
            };
            match compress_batch(g, &model, &options, first, &mut source, out, &bar) {
                Ok((Some(out), batch)) => {
                    let bytes = out.bytes;
                    out.inner.commit().map(|()| (bytes, batch))
                }
                Ok((None, batch)) => Ok((0, batch)),
                Err(e) => Err(e.into()),
            }
        }
    };
    bar.finish_and_clear();
    let (bytes, Batch { n, raw, failure }) = result?;
    if let Some(e) = failure {
        if g.partial {
            if let Output::File(p) = &output {
                note(
                    g,
                    &format!("kept the {n} images before the error in {}", p.display()),
                );
            }
        }
        return Err(e.into());
    }
    if g.verbose {
        note(
            g,
            &format!(
                "{n} image{}, {raw} -> {bytes} bytes ({}, {:.1} bytes/image), {:.2} s",
                plural(n),
                ratio(raw, bytes),
                if n == 0 { 0.0 } else { bytes as f64 / n as f64 },
                start.elapsed().as_secs_f64()
            ),
        );
    }
    Ok(())
}

/// What a batch did: images written, their 8-bit samples, and the input error that stopped it.
struct Batch {
    n: u64,
    raw: u64,
    failure: Option<Error>,
}

/// Encodes `first` and the rest of `source` as one batch stream into `out` (for a model that takes any
/// image, a concatenation of streams, one per run of alike images). An error reading an input (or, for
/// such a model, coding one: an image over its limits) stops the batch and is returned in [`Batch`],
/// with the writer only if the stream was finished (valid, holding the images before the error), which
/// happens only with `--partial`. An error writing the stream is returned as `Err`.
fn compress_batch<W: Write>(
    g: &Global,
    model: &Model,
    options: &aez::Options,
    first: Option<Record>,
    source: &mut Source,
    out: W,
    bar: &ProgressBar,
) -> aez::Result<(Option<W>, Batch)> {
    let mut enc = aez::Encoder::new(out, model, options.clone())?;
    // The first image was prepared for `model`: a switch it asked for is already this model.
    let _ = source.take_switch();
    let mut n: u64 = 0;
    let mut raw: u64 = 0;
    let mut next = Ok(first);
    let mut push_failed = false;
    let failure = loop {
        match next {
            Ok(Some(rec)) => {
                if let Some(b) = source.take_switch() {
                    // An image of another family: this stream ends, one of its model begins.
                    let m = load_model(g, b)?;
                    let w = enc.finish()?;
                    enc = aez::Encoder::new(w, &m, options.clone())?;
                }
                match &rec.image {
                    // The encoder refuses an image before writing any of it, and stays usable.
                    Some(img) => {
                        if let Err(e) = enc.push_image(img) {
                            push_failed = true;
                            break Some(e);
                        }
                    }
                    None => enc.push_pixels(&rec.pixels)?,
                }
                n += 1;
                raw += raw_len(&rec);
                bar.set_length(source.known_total());
                bar.inc(1);
            }
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
        next = source.next_record(g);
    };
    if failure.is_some() && !g.partial {
        // Dropped unfinished: a file output is removed; on stdout the stream stays truncated (no end
        // marker), which any decoder reports.
        drop(enc);
        return Ok((None, Batch { n, raw, failure }));
    }
    match enc.finish() {
        Ok(w) => Ok((Some(w), Batch { n, raw, failure })),
        // A failed push that was a write error left the encoder unusable: report that error.
        Err(_) if push_failed => Err(failure.unwrap_or_else(|| {
            Error::io(
                "writing the aez stream",
                std::io::Error::other("encoder failed"),
            )
        })),
        Err(e) => Err(e),
    }
}
