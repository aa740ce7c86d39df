//! `aez compress`: images (files, IDX, stdin) to an .aez stream in a file or on stdout.

use std::io::{BufWriter, Write};
use std::time::Instant;

use aez::io::{ImageSource, Input, Record};
use aez::model::Model;
use aez::Error;
use indicatif::ProgressBar;

use crate::cli::{CompressArgs, Global};
use crate::error::{CliError, CliResult};
use crate::model::{codec_options, load_model, open_bundle};
use crate::output::{
    check_stdout_not_terminal, check_target, stdout_err, write_atomic, AtomicFile, Output,
};
use crate::progress::{note, plural, progress, ratio};

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
    if inputs.iter().filter(|i| **i == Input::Stdin).count() > 1 {
        return Err(CliError::Usage(
            "compress",
            "stdin ('-') can be read only once".into(),
        ));
    }
    Ok((inputs, output))
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
    let model = load_model(g, open_bundle(g)?)?;
    let geometry = model.bundle().geometry();
    let n_inputs = inputs.len();
    let mut source = ImageSource::new(inputs, geometry, model.bundle().name());

    // Nothing is created before the first image is read: a bad single input leaves no output at all.
    let first = source.next_record()?;
    let single = !a.batch && n_inputs == 1 && matches!(&first, Some(r) if r.idx_record.is_none());
    let options = codec_options(g);
    let raw_per_image = geometry.samples() as u64;

    if single {
        let Some(rec) = first else {
            return Ok(());
        };
        let bytes = aez::compress_pixels(&model, &rec.pixels, &options)?;
        match &output {
            Output::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(&bytes)
                    .and_then(|_| out.flush())
                    .map_err(stdout_err)?;
            }
            Output::File(p) => write_atomic(p, &bytes, g.force)?,
        }
        if g.verbose {
            note(
                g,
                &format!(
                    "1 image, {raw_per_image} -> {} bytes ({}), {:.2} s",
                    bytes.len(),
                    ratio(raw_per_image, bytes.len() as u64),
                    start.elapsed().as_secs_f64()
                ),
            );
        }
        return Ok(());
    }

    let bar = progress(g, Some(source.known_total()), "compress");
    let result: CliResult<(u64, u64, Option<Error>)> = match &output {
        Output::Stdout => {
            let out = Counting {
                inner: BufWriter::with_capacity(256 * 1024, std::io::stdout().lock()),
                bytes: 0,
            };
            compress_batch(g, &model, &options, first, &mut source, out, &bar)
                .and_then(|(out, n, failure)| {
                    let bytes = match out {
                        Some(mut out) => {
                            out.flush().map_err(stdout_err)?;
                            out.bytes
                        }
                        None => 0,
                    };
                    Ok((bytes, n, failure))
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
                Ok((Some(out), n, failure)) => {
                    let bytes = out.bytes;
                    out.inner.commit().map(|()| (bytes, n, failure))
                }
                Ok((None, n, failure)) => Ok((0, n, failure)),
                Err(e) => Err(e.into()),
            }
        }
    };
    bar.finish_and_clear();
    let (bytes, n, failure) = result?;
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
                "{n} image{}, {} -> {bytes} bytes ({}, {:.1} bytes/image), {:.2} s",
                plural(n),
                n * raw_per_image,
                ratio(n * raw_per_image, bytes),
                if n == 0 { 0.0 } else { bytes as f64 / n as f64 },
                start.elapsed().as_secs_f64()
            ),
        );
    }
    Ok(())
}

/// Encodes `first` and the rest of `source` as one batch stream into `out`. An error reading an input
/// stops the batch and is returned as the third value, with the writer only if the stream was finished
/// (valid, holding the records before the error), which happens only with `--partial`. An error writing
/// the stream is returned as `Err`.
fn compress_batch<W: Write>(
    g: &Global,
    model: &Model,
    options: &aez::Options,
    first: Option<Record>,
    source: &mut ImageSource,
    out: W,
    bar: &ProgressBar,
) -> aez::Result<(Option<W>, u64, Option<Error>)> {
    let mut enc = aez::Encoder::new(out, model, options.clone())?;
    let mut n: u64 = 0;
    let mut next = Ok(first);
    let failure = loop {
        match next {
            Ok(Some(rec)) => {
                enc.push_pixels(&rec.pixels)?;
                n += 1;
                bar.set_length(source.known_total());
                bar.inc(1);
            }
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
        next = source.next_record();
    };
    if failure.is_some() && !g.partial {
        // Dropped unfinished: a file output is removed; on stdout the stream stays truncated (no end
        // marker), which any decoder reports.
        drop(enc);
        return Ok((None, n, failure));
    }
    Ok((Some(enc.finish()?), n, failure))
}
