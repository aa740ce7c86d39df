//! `aez decompress`: an .aez stream (or a concatenation of streams) to an image, a directory of PNGs, an
//! IDX file, or stdout.

use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use aez::io::{encode_image, format_for_path, pixels_to_image, Input};
use aez::model::Geometry;
use aez::Error;
use image::ImageFormat;

use crate::cli::{DecompressArgs, Global};
use crate::error::{CliError, CliResult};
use crate::model::{backend_choice, load_model, note_model};
use crate::output::{
    check_stdout_not_terminal, check_target, is_dir_target, stdout_err, write_atomic, IdxSink,
    Output, PngDirSink,
};
use crate::progress::{note, plural, progress};

/// What kind of output, decided from its name before anything is read.
enum Plan {
    Stdout,
    Dir(PathBuf),
    Idx(PathBuf, bool),
    Image(PathBuf, ImageFormat),
}

impl Plan {
    fn for_output(output: &Output) -> CliResult<Plan> {
        Ok(match output {
            Output::Stdout => Plan::Stdout,
            Output::File(p) if is_dir_target(p) => Plan::Dir(p.clone()),
            Output::File(p) => {
                let name = p.to_string_lossy().to_ascii_lowercase();
                if name.ends_with(".idx") {
                    Plan::Idx(p.clone(), false)
                } else if name.ends_with(".idx.gz") {
                    Plan::Idx(p.clone(), true)
                } else {
                    Plan::Image(p.clone(), format_for_path(p)?)
                }
            }
        })
    }
}

/// Where decoded images go.
enum Sink {
    /// One image to a file (atomic) or stdout; a second image is an error.
    Image {
        out: Output,
        format: ImageFormat,
        pending: Option<Vec<u8>>,
    },
    /// A directory of PNGs.
    Dir(PngDirSink),
    /// An IDX file (or stdout, buffered).
    Idx(IdxSink),
}

impl Sink {
    /// The sink for `plan`, made from the first stream's header, so an empty batch still gives a (valid,
    /// empty) IDX file or directory.
    fn open(plan: &Plan, geometry: Geometry, batch: bool, force: bool) -> CliResult<Sink> {
        Ok(match plan {
            Plan::Stdout if batch => Sink::Idx(IdxSink::buffered(geometry, false)?),
            Plan::Stdout => Sink::Image {
                out: Output::Stdout,
                format: ImageFormat::Png,
                pending: None,
            },
            Plan::Dir(d) => Sink::Dir(PngDirSink::create(d, geometry, None, force)?),
            Plan::Idx(p, gz) => Sink::Idx(IdxSink::to_file(p, geometry, *gz, force)?),
            Plan::Image(p, f) => Sink::Image {
                out: Output::File(p.clone()),
                format: *f,
                pending: None,
            },
        })
    }

    /// Takes one image. `input` and `output` name the stream and the output in messages.
    fn push(&mut self, pixels: Vec<u8>, input: &Input, output: &Output) -> CliResult {
        match self {
            Sink::Image { pending, .. } => {
                if pending.is_some() {
                    Err(Error::Image {
                        input: input.display_name(),
                        what: format!(
                            "holds more than one image; write them to a directory ({}/) or an .idx file",
                            match output {
                                Output::File(p) => p.with_extension("").display().to_string(),
                                Output::Stdout => "out".into(),
                            }
                        ),
                    }
                    .into())
                } else {
                    *pending = Some(pixels);
                    Ok(())
                }
            }
            Sink::Dir(d) => d.push(pixels).map(drop),
            Sink::Idx(s) => s.push(&pixels),
        }
    }

    /// Finishes the sink: always on success; on failure only a directory keeps its files, and a file sink
    /// keeps the good records only with `--partial`.
    fn finish(self, g: &Global, geometry: &Geometry, failed: bool) -> CliResult {
        match self {
            Sink::Image {
                out,
                format,
                pending,
            } => {
                if !failed {
                    if let Some(px) = pending {
                        let bytes = encode_image(&pixels_to_image(px, geometry)?, format)?;
                        match out {
                            Output::Stdout => {
                                let mut so = std::io::stdout().lock();
                                so.write_all(&bytes)
                                    .and_then(|_| so.flush())
                                    .map_err(stdout_err)?;
                            }
                            Output::File(p) => write_atomic(&p, &bytes, g.force)?,
                        }
                    }
                }
            }
            Sink::Idx(s) => {
                if !failed || g.partial {
                    let mut so = BufWriter::new(std::io::stdout().lock());
                    s.finish_to(&mut so)?;
                    so.flush().map_err(stdout_err)?;
                }
            }
            Sink::Dir(_) => {}
        }
        Ok(())
    }
}

/// Runs `aez decompress`.
pub fn decompress(g: &Global, a: &DecompressArgs) -> CliResult {
    let input = Input::parse(&a.input);
    let output = Output::parse(&a.output);
    let plan = Plan::for_output(&output)?;
    match &plan {
        Plan::Idx(p, _) | Plan::Image(p, _) => check_target(p, g.force)?,
        Plan::Stdout => check_stdout_not_terminal(g, "binary image data")?,
        Plan::Dir(_) => {}
    }
    let start = Instant::now();
    let reader: Box<dyn Read + Send> = match &input {
        Input::Stdin => Box::new(std::io::stdin()),
        Input::Path(p) => Box::new(
            std::fs::File::open(p)
                .map_err(|e| Error::io(format!("cannot open {}", p.display()), e))?,
        ),
    };
    // Errors name the input; stdin as `<stdin>`.
    let file = Some(match &input {
        Input::Stdin => PathBuf::from("<stdin>"),
        Input::Path(p) => p.clone(),
    });
    let choice = match &g.model {
        Some(spec) => aez::ModelChoice::Given(load_model(g, crate::registry().open(spec)?)?),
        None => aez::ModelChoice::Registry(crate::registry().clone(), backend_choice(g.backend)),
    };
    let mut dec = aez::Decoder::with_file(
        std::io::BufReader::with_capacity(256 * 1024, reader),
        file,
        choice,
        aez::Options::default(),
    )?;
    if g.verbose && g.model.is_none() {
        note_model(g, dec.model());
    }

    let first_geometry = dec.geometry();
    let first_is_batch = dec.header().kind == aez::Kind::Batch;
    let mut sink = Sink::open(&plan, first_geometry, first_is_batch, g.force)?;
    let bar = progress(g, None, "decompress");
    let mut n: u64 = 0;
    let failure: Option<CliError> = loop {
        let pixels = match dec.next_pixels() {
            Ok(Some(p)) => p,
            Ok(None) => break None,
            Err(e) => break Some(e.into()),
        };
        // The stream these pixels belong to (it changes at each concatenated stream).
        let geo = dec.geometry();
        if geo != first_geometry {
            break Some(
                Error::Image {
                    input: input.display_name(),
                    what: format!(
                        "image {n} is {}x{}x{}, the ones before are {}x{}x{}; one output takes one \
                         size (decompress the streams separately)",
                        geo.width,
                        geo.height,
                        geo.channels,
                        first_geometry.width,
                        first_geometry.height,
                        first_geometry.channels
                    ),
                }
                .into(),
            );
        }
        if let Err(e) = sink.push(pixels, &input, &output) {
            break Some(e);
        }
        n += 1;
        bar.inc(1);
    };
    bar.finish_and_clear();

    let sink_is_file_like = matches!(sink, Sink::Idx(_));
    sink.finish(g, &first_geometry, failure.is_some())?;
    if let Some(e) = failure {
        if n > 0 && !g.quiet {
            let kept = match &plan {
                Plan::Dir(d) => format!(
                    "the {n} image{} before the error are in {}",
                    plural(n),
                    d.display()
                ),
                Plan::Idx(p, _) if g.partial => format!(
                    "kept the {n} image{} before the error in {}",
                    plural(n),
                    p.display()
                ),
                _ if sink_is_file_like => format!(
                    "{n} image{} decoded before the error; nothing written (see --partial)",
                    plural(n)
                ),
                _ => String::new(),
            };
            if !kept.is_empty() {
                note(g, &kept);
            }
        }
        return Err(e);
    }
    if g.verbose {
        note(
            g,
            &format!(
                "{n} image{} decoded from {} bytes, {:.2} s",
                plural(n),
                dec.bytes_read(),
                start.elapsed().as_secs_f64()
            ),
        );
    }
    Ok(())
}
