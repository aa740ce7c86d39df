//! `aez decompress`: an .aez stream (or a concatenation of streams) to an image, a directory of PNGs, an
//! IDX file, or stdout.
//!
//! Every image comes back as the decoder gives it: a fixed-size model's in its geometry, a version-2
//! stream's at the size and channel layout it was compressed from (so one output may get images of
//! several sizes). A directory takes any images; an IDX file images of one size, gray or RGB without
//! alpha; an image file one image, in a format that can hold its layout.

use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use aez::io::{encode_image, format_for_path, Input};
use aez::model::Geometry;
use aez::Error;
use image::{ColorType, DynamicImage, ImageFormat};

use crate::cli::{DecompressArgs, Global};
use crate::error::{CliError, CliResult};
use crate::model::{backend_choice, load_model, note_model};
use crate::output::{
    check_stdout_not_terminal, check_target, is_dir_target, layout_text, stdout_err, write_atomic,
    IdxSink, Output, PngDirSink,
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

/// Whether an image file of `format` holds an image of colour type `c` as it is (8-bit gray, gray+alpha,
/// RGB or RGBA), never dropping its alpha. What is not listed here is left to the format's encoder.
fn holds(format: ImageFormat, c: ColorType) -> bool {
    use ImageFormat::*;
    match format {
        Png | WebP | Tga | Pnm | Ico => true,
        Jpeg => !c.has_alpha(),
        Qoi => c.has_color(),
        Tiff | Bmp => !c.has_alpha() || c == ColorType::Rgba8,
        _ => !c.has_alpha(),
    }
}

/// The formats that hold every layout, for messages.
const FORMATS_FOR_ALL: &str = ".png, .webp, .tga, .pam";

/// Refuses an image that `format` cannot hold as it is (an error naming the format and the output).
fn check_holds(format: ImageFormat, img: &DynamicImage, output: &Output) -> CliResult {
    if holds(format, img.color()) {
        return Ok(());
    }
    let name = format!("{format:?}").to_uppercase();
    let what = if img.color().has_alpha() {
        "its alpha would be lost"
    } else {
        "it would change its channel layout"
    };
    Err(Error::Image {
        input: match output {
            Output::File(p) => p.display().to_string(),
            Output::Stdout => "<stdout>".into(),
        },
        what: format!(
            "{name} cannot hold this {} image ({what}): write it as {FORMATS_FOR_ALL}, or to a directory",
            layout_text(img)
        ),
    }
    .into())
}

/// Where decoded images go.
enum Sink {
    /// One image to a file (atomic) or stdout; a second image is an error.
    Image {
        out: Output,
        format: ImageFormat,
        pending: Option<DynamicImage>,
    },
    /// A directory of PNGs.
    Dir(PngDirSink),
    /// An IDX file (or stdout, buffered).
    Idx(IdxSink),
    /// Stdout for a version-2 stream: a PNG for one image, an IDX file for several (of one size, gray or
    /// RGB without alpha), decided when the second image comes.
    Stdout {
        first: Option<DynamicImage>,
        idx: Option<IdxSink>,
    },
}

/// The error for image `n` that an IDX output cannot take (`why`, from [`IdxSink::refusal`]).
fn idx_refusal(input: &Input, output: &Output, n: u64, why: &str) -> CliError {
    let dir = match output {
        Output::File(p) => {
            let s = p.to_string_lossy();
            let stem = s
                .strip_suffix(".gz")
                .unwrap_or(&s)
                .strip_suffix(".idx")
                .map(str::to_string)
                .unwrap_or_else(|| p.with_extension("").display().to_string());
            format!("{stem}/")
        }
        Output::Stdout => "out/".into(),
    };
    Error::Image {
        input: input.display_name(),
        what: format!("image {n} {why}; write the images to a directory instead ({dir})"),
    }
    .into()
}

impl Sink {
    /// The sink for `plan`, made from the first stream's header, so an empty batch still gives a (valid,
    /// empty) IDX file or directory. `v2`: the first stream is a version-2 stream (its images may have any
    /// size and layout).
    fn open(
        plan: &Plan,
        geometry: Geometry,
        batch: bool,
        v2: bool,
        force: bool,
    ) -> CliResult<Sink> {
        // A version-1 stream's geometry is its model's; a version-2 IDX file takes the first image's.
        let idx_geometry = (!v2).then_some(geometry);
        Ok(match plan {
            Plan::Stdout if v2 => Sink::Stdout {
                first: None,
                idx: None,
            },
            Plan::Stdout if batch => Sink::Idx(IdxSink::buffered(idx_geometry, false)?),
            Plan::Stdout => Sink::Image {
                out: Output::Stdout,
                format: ImageFormat::Png,
                pending: None,
            },
            Plan::Dir(d) => Sink::Dir(PngDirSink::create(d, None, force)?),
            Plan::Idx(p, gz) => Sink::Idx(IdxSink::to_file(p, idx_geometry, *gz, force)?),
            Plan::Image(p, f) => Sink::Image {
                out: Output::File(p.clone()),
                format: *f,
                pending: None,
            },
        })
    }

    /// Takes image `n`. `input` and `output` name the stream and the output in messages.
    fn push(&mut self, img: DynamicImage, n: u64, input: &Input, output: &Output) -> CliResult {
        match self {
            Sink::Image {
                pending, format, ..
            } => {
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
                    check_holds(*format, &img, output)?;
                    *pending = Some(img);
                    Ok(())
                }
            }
            Sink::Dir(d) => d.push(&img).map(drop),
            Sink::Idx(s) => match s.refusal(&img) {
                Some(why) => Err(idx_refusal(input, output, n, &why)),
                None => s.push(&img),
            },
            Sink::Stdout { first, idx } => {
                if idx.is_none() {
                    let Some(one) = first.take() else {
                        *first = Some(img);
                        return Ok(());
                    };
                    // A second image: the images go out as one IDX file.
                    let mut s = IdxSink::buffered(None, false)?;
                    if let Some(why) = s.refusal(&one) {
                        return Err(idx_refusal(input, output, 0, &why));
                    }
                    s.push(&one)?;
                    *idx = Some(s);
                }
                let Some(s) = idx else {
                    return Ok(());
                };
                match s.refusal(&img) {
                    Some(why) => Err(idx_refusal(input, output, n, &why)),
                    None => s.push(&img),
                }
            }
        }
    }

    /// Finishes the sink: always on success; on failure only a directory keeps its files, and a file sink
    /// keeps the good records only with `--partial`.
    fn finish(self, g: &Global, failed: bool) -> CliResult {
        let png_to_stdout = |img: &DynamicImage| -> CliResult {
            let bytes = encode_image(img, ImageFormat::Png)?;
            let mut so = std::io::stdout().lock();
            so.write_all(&bytes)
                .and_then(|_| so.flush())
                .map_err(stdout_err)?;
            Ok(())
        };
        let idx_to_stdout = |s: IdxSink| -> CliResult {
            let mut so = BufWriter::new(std::io::stdout().lock());
            s.finish_to(&mut so)?;
            so.flush().map_err(stdout_err)?;
            Ok(())
        };
        match self {
            Sink::Image {
                out,
                format,
                pending,
            } => {
                if !failed {
                    if let Some(img) = pending {
                        match out {
                            Output::Stdout => png_to_stdout(&img)?,
                            Output::File(p) => {
                                write_atomic(&p, &encode_image(&img, format)?, g.force)?
                            }
                        }
                    }
                }
            }
            Sink::Idx(s) => {
                if !failed || g.partial {
                    idx_to_stdout(s)?;
                }
            }
            Sink::Stdout { first, idx } => match (idx, first) {
                (Some(s), _) if !failed || g.partial => idx_to_stdout(s)?,
                (None, Some(img)) if !failed => png_to_stdout(&img)?,
                _ => {}
            },
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
    crate::profile::mark("header read, model found and loaded");
    if g.verbose && g.model.is_none() {
        note_model(g, dec.model());
    }

    let first_v2 = dec.stream_header().version >= 2;
    let first_is_batch = dec.header().kind == aez::Kind::Batch;
    let mut sink = Sink::open(&plan, dec.geometry(), first_is_batch, first_v2, g.force)?;
    crate::profile::mark("output opened");
    let bar = progress(g, None, "decompress");
    let mut n: u64 = 0;
    let failure: Option<CliError> = loop {
        let img = match dec.next_image() {
            Ok(Some(img)) => img,
            Ok(None) => break None,
            Err(e) => break Some(e.into()),
        };
        if let Err(e) = sink.push(img, n, &input, &output) {
            break Some(e);
        }
        n += 1;
        bar.inc(1);
    };
    bar.finish_and_clear();
    crate::profile::mark("decoded (entropy decoding and network)");

    let sink_is_file_like = matches!(sink, Sink::Idx(_) | Sink::Stdout { idx: Some(_), .. });
    sink.finish(g, failure.is_some())?;
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
