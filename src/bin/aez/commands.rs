//! The subcommands. Every output is atomic (see `aez::io::output`); every message goes to stderr.

use std::io::{BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use aez::io::{self as aio, check_target, ImageSource, Input, PngDirSink};
use aez::model::{Bundle, Model};
use aez::BackendChoice;
use aez::Error;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::{
    BackendArg, Cli, CoderArg, Command, CompressArgs, DecompressArgs, Global, InfoArgs, ModelsArgs,
};

/// How a command failed.
#[derive(Debug)]
pub enum CliError {
    /// Stdout was closed by the reader: end quietly.
    BrokenPipe,
    /// The arguments of a subcommand make no sense together (exit status 2, like clap's own errors).
    Usage(&'static str, String),
    /// Anything else (exit status 1).
    Failed(Error),
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        if is_broken_pipe(&e) {
            CliError::BrokenPipe
        } else {
            CliError::Failed(e)
        }
    }
}

type CliResult<T = ()> = std::result::Result<T, CliError>;

/// True when `e` (or an error it wraps) is an `io::ErrorKind::BrokenPipe`.
fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::BrokenPipe {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> CliResult {
    let g = &cli.global;
    match &cli.command {
        Command::Compress(a) => compress(g, a),
        Command::Decompress(a) => decompress(g, a),
        Command::Info(a) => info(g, a),
        Command::Models(a) => models(a),
    }
}

/// A note on stderr (`aez: ...`), unless `--quiet`. A failing stderr is ignored.
fn note(g: &Global, msg: &str) {
    if !g.quiet {
        let _ = writeln!(std::io::stderr(), "aez: {msg}");
    }
}

fn backend_choice(b: BackendArg) -> BackendChoice {
    match b {
        BackendArg::Auto => BackendChoice::Auto,
        BackendArg::Tract => BackendChoice::Tract,
        BackendArg::Onnxruntime => BackendChoice::OnnxRuntime,
    }
}

/// Loads `--model` (default: the embedded model) on `--backend`, and says which with `-v`.
fn load_model(g: &Global, bundle: Bundle) -> CliResult<Model> {
    let model = crate::registry().load(&bundle, backend_choice(g.backend))?;
    if let Some(n) = aez::backend_note() {
        note(g, &n);
    }
    if g.verbose {
        let b = model.bundle();
        note(
            g,
            &format!(
                "model {} (sha256:{}, {}), backend {}",
                b.name(),
                &b.hash_hex()[..16],
                b.source(),
                model.backend()
            ),
        );
    }
    Ok(model)
}

fn open_bundle(g: &Global) -> CliResult<Bundle> {
    Ok(match &g.model {
        Some(spec) => crate::registry().open(spec)?,
        None => Bundle::embedded_default()?,
    })
}

/// A progress bar on stderr, only when stderr is a terminal and not `--quiet`.
fn progress(g: &Global, len: Option<u64>, what: &'static str) -> ProgressBar {
    if g.quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
    let template = if len.is_some() {
        "{msg} {bar:40} {pos}/{len} images ({elapsed}, eta {eta})"
    } else {
        "{msg} {spinner} {pos} images ({elapsed})"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_message(what);
    bar
}

/// Where an output goes.
#[derive(Debug, Clone)]
enum Output {
    Stdout,
    File(PathBuf),
}

impl Output {
    fn parse(s: &str) -> Output {
        if s == "-" {
            Output::Stdout
        } else {
            Output::File(PathBuf::from(s))
        }
    }
}

/// Refuses to write binary data to a terminal (unless `--force`): it would only garble the screen.
fn check_stdout_not_terminal(g: &Global, what: &str) -> CliResult {
    if !g.force && std::io::stdout().is_terminal() {
        return Err(CliError::Failed(Error::InvalidArgument {
            what: "output",
            value: format!("'-' ({what} to a terminal)"),
            expected: "stdout redirected to a file or a pipe, an output file name, or --force"
                .into(),
        }));
    }
    Ok(())
}

fn stdout_err(e: std::io::Error) -> Error {
    Error::io("cannot write to stdout", e)
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn ratio(raw: u64, packed: u64) -> String {
    if packed == 0 {
        "-".into()
    } else {
        format!("{:.2}x", raw as f64 / packed as f64)
    }
}

// ---------------------------------------------------------------------------------------------------------
// compress

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

fn compress(g: &Global, a: &CompressArgs) -> CliResult {
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
            Output::File(p) => aio::write_atomic(p, &bytes, g.force)?,
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
    let result = match &output {
        Output::Stdout => {
            let out = Counting {
                inner: BufWriter::with_capacity(256 * 1024, std::io::stdout().lock()),
                bytes: 0,
            };
            compress_batch(g, &model, &options, first, &mut source, out, &bar).and_then(
                |(out, n, failure)| {
                    let bytes = match out {
                        Some(mut out) => {
                            out.flush().map_err(stdout_err)?;
                            out.bytes
                        }
                        None => 0,
                    };
                    Ok((bytes, n, failure))
                },
            )
        }
        Output::File(p) => {
            let file = aio::AtomicFile::create(p, g.force)?;
            let out = Counting {
                inner: file,
                bytes: 0,
            };
            compress_batch(g, &model, &options, first, &mut source, out, &bar).and_then(
                |(out, n, failure)| match out {
                    Some(out) => {
                        let bytes = out.bytes;
                        out.inner.commit()?;
                        Ok((bytes, n, failure))
                    }
                    None => Ok((0, n, failure)),
                },
            )
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
    first: Option<aio::Record>,
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

// ---------------------------------------------------------------------------------------------------------
// decompress

/// Where decoded images go.
enum Sink {
    /// One image to a file (atomic) or stdout; a second image is an error.
    Image {
        out: Output,
        format: image::ImageFormat,
        pending: Option<Vec<u8>>,
    },
    /// A directory of PNGs.
    Dir(PngDirSink),
    /// An IDX file (or stdout, buffered).
    Idx(aio::IdxSink),
}

fn decompress(g: &Global, a: &DecompressArgs) -> CliResult {
    let input = Input::parse(&a.input);
    let output = Output::parse(&a.output);
    // What kind of output, decided from the name before reading anything.
    enum Plan {
        Stdout,
        Dir(PathBuf),
        Idx(PathBuf, bool),
        Image(PathBuf, image::ImageFormat),
    }
    let plan = match &output {
        Output::Stdout => Plan::Stdout,
        Output::File(p) if aio::is_dir_target(p) => Plan::Dir(p.clone()),
        Output::File(p) => {
            let name = p.to_string_lossy().to_ascii_lowercase();
            if name.ends_with(".idx") {
                Plan::Idx(p.clone(), false)
            } else if name.ends_with(".idx.gz") {
                Plan::Idx(p.clone(), true)
            } else {
                Plan::Image(p.clone(), aio::format_for_path(p)?)
            }
        }
    };
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
        let m = dec.model();
        note(
            g,
            &format!(
                "model {} (sha256:{}, {}), backend {}",
                m.bundle().name(),
                &m.bundle().hash_hex()[..16],
                m.bundle().source(),
                m.backend()
            ),
        );
    }

    // The sink is made from the first stream's header, so an empty batch still gives a (valid, empty)
    // IDX file or directory.
    let first_geometry = dec.geometry();
    let first_is_batch = dec.header().kind == aez::Kind::Batch;
    let mut sink = match &plan {
        Plan::Stdout if first_is_batch => Sink::Idx(aio::IdxSink::buffered(first_geometry, false)?),
        Plan::Stdout => Sink::Image {
            out: Output::Stdout,
            format: image::ImageFormat::Png,
            pending: None,
        },
        Plan::Dir(d) => Sink::Dir(PngDirSink::create(d, first_geometry, None, g.force)?),
        Plan::Idx(p, gz) => Sink::Idx(aio::IdxSink::to_file(p, first_geometry, *gz, g.force)?),
        Plan::Image(p, f) => Sink::Image {
            out: Output::File(p.clone()),
            format: *f,
            pending: None,
        },
    };
    let bar = progress(g, None, "decompress");
    let mut n: u64 = 0;
    let failure: Option<Error> = loop {
        let pixels = match dec.next_pixels() {
            Ok(Some(p)) => p,
            Ok(None) => break None,
            Err(e) => break Some(e),
        };
        // The stream these pixels belong to (it changes at each concatenated stream).
        let geo = dec.geometry();
        if geo != first_geometry {
            break Some(Error::Image {
                input: input.display_name(),
                what: format!(
                    "image {n} is {}x{}x{}, the ones before are {}x{}x{}; one output takes one size \
                     (decompress the streams separately)",
                    geo.width,
                    geo.height,
                    geo.channels,
                    first_geometry.width,
                    first_geometry.height,
                    first_geometry.channels
                ),
            });
        }
        let pushed = match &mut sink {
            Sink::Image { pending, .. } => {
                if pending.is_some() {
                    Err(Error::Image {
                        input: input.display_name(),
                        what: format!(
                            "holds more than one image; write them to a directory ({}/) or an .idx file",
                            match &output {
                                Output::File(p) => p.with_extension("").display().to_string(),
                                Output::Stdout => "out".into(),
                            }
                        ),
                    })
                } else {
                    *pending = Some(pixels);
                    Ok(())
                }
            }
            Sink::Dir(d) => d.push(pixels).map(drop),
            Sink::Idx(s) => s.push(&pixels),
        };
        if let Err(e) = pushed {
            break Some(e);
        }
        n += 1;
        bar.inc(1);
    };
    bar.finish_and_clear();

    // Finish the sink: always on success; on failure only a directory keeps its files, and a file sink
    // keeps the good records only with --partial.
    let keep = failure.is_none() || g.partial;
    let sink_is_file_like = matches!(sink, Sink::Idx(_));
    match sink {
        Sink::Image {
            out,
            format,
            pending,
        } => {
            if failure.is_none() {
                if let Some(px) = pending {
                    let bytes =
                        aio::encode_image(&aio::pixels_to_image(px, &first_geometry)?, format)?;
                    match out {
                        Output::Stdout => {
                            let mut so = std::io::stdout().lock();
                            so.write_all(&bytes)
                                .and_then(|_| so.flush())
                                .map_err(stdout_err)?;
                        }
                        Output::File(p) => aio::write_atomic(&p, &bytes, g.force)?,
                    }
                }
            }
        }
        Sink::Idx(s) => {
            if keep {
                let mut so = BufWriter::new(std::io::stdout().lock());
                s.finish_to(&mut so)?;
                so.flush().map_err(stdout_err)?;
            }
        }
        Sink::Dir(_) => {}
    }
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
        return Err(e.into());
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

// ---------------------------------------------------------------------------------------------------------
// info, models

fn info(g: &Global, a: &InfoArgs) -> CliResult {
    let _ = g;
    let mut reports = Vec::new();
    let mut out = std::io::stdout().lock();
    for f in &a.files {
        let input = Input::parse(f);
        let (reader, file): (Box<dyn Read>, Option<PathBuf>) = match &input {
            Input::Stdin => (Box::new(std::io::stdin()), Some(PathBuf::from("<stdin>"))),
            Input::Path(p) => (
                Box::new(
                    std::fs::File::open(p)
                        .map_err(|e| Error::io(format!("cannot open {}", p.display()), e))?,
                ),
                Some(p.clone()),
            ),
        };
        let streams = aez::inspect(
            std::io::BufReader::new(reader),
            file,
            aez::Limits::default(),
        )?;
        let report = info_json(&input.display_name(), &streams);
        if a.json {
            reports.push(report);
        } else {
            write_info_text(&mut out, &input.display_name(), &streams).map_err(stdout_err)?;
        }
    }
    if a.json {
        let text = serde_json::to_string_pretty(&serde_json::Value::Array(reports))
            .map_err(|e| Error::io("cannot format JSON", std::io::Error::other(e)))?;
        writeln!(out, "{text}").map_err(stdout_err)?;
    }
    out.flush().map_err(stdout_err)?;
    Ok(())
}

/// The known bundle with this model id, if any (errors finding it are not the info command's business).
fn model_name_for(id: &[u8]) -> Option<String> {
    crate::registry()
        .find_by_id(id)
        .ok()
        .flatten()
        .map(|b| b.name().to_string())
}

/// The image width and height of a stream: stored in its header, or (geometry field `11`) the model's
/// when the model is known; `None` when neither.
fn dims_for(h: &aez::Header) -> Option<(u32, u32)> {
    if h.geometry_stored() {
        return Some((h.width.into(), h.height.into()));
    }
    crate::registry()
        .find_by_id(&h.model_id)
        .ok()
        .flatten()
        .map(|b| (b.geometry().width, b.geometry().height))
}

fn overhead(s: &aez::StreamSummary) -> u64 {
    s.bytes.saturating_sub(s.payload_bytes)
}

fn info_json(name: &str, streams: &[aez::StreamSummary]) -> serde_json::Value {
    let total: u64 = streams.iter().map(|s| s.bytes).sum();
    let records: u64 = streams.iter().map(|s| s.records).sum();
    let list: Vec<serde_json::Value> = streams
        .iter()
        .map(|s| {
            let h = &s.header;
            serde_json::json!({
                "offset": s.offset,
                "version": s.version,
                "kind": match h.kind { aez::Kind::Single => "single", aez::Kind::Batch => "batch" },
                "model_id": h.model_id_hex(),
                "model": model_name_for(&h.model_id),
                "coder": h.coder.to_string(),
                "width": dims_for(h).map(|d| d.0),
                "height": dims_for(h).map(|d| d.1),
                "geometry_stored": h.geometry_stored(),
                "records": s.records,
                "bytes": s.bytes,
                "payload_bytes": s.payload_bytes,
                "overhead_bytes": overhead(s),
                "min_payload": s.min_payload,
                "max_payload": s.max_payload,
                "bytes_per_record": s.bytes_per_record(),
            })
        })
        .collect();
    serde_json::json!({
        "file": name,
        "bytes": total,
        "records": records,
        "streams": list,
    })
}

fn write_info_text(
    out: &mut dyn Write,
    name: &str,
    streams: &[aez::StreamSummary],
) -> std::io::Result<()> {
    let total: u64 = streams.iter().map(|s| s.bytes).sum();
    let records: u64 = streams.iter().map(|s| s.records).sum();
    writeln!(
        out,
        "{name}: {total} bytes, {records} image{}, {} stream{}",
        if records == 1 { "" } else { "s" },
        streams.len(),
        if streams.len() == 1 { "" } else { "s" }
    )?;
    for (i, s) in streams.iter().enumerate() {
        let h = &s.header;
        if streams.len() > 1 {
            writeln!(out, "  stream {i} at byte {}:", s.offset)?;
        }
        let model = match model_name_for(&h.model_id) {
            Some(n) => format!("{} ({n})", h.model_id_hex()),
            None => format!("{} (not a known model)", h.model_id_hex()),
        };
        writeln!(out, "  format:   aez version {}, {}", s.version, h.kind)?;
        writeln!(out, "  model id: {model}")?;
        writeln!(out, "  coder:    {}", h.coder)?;
        let size = match (h.geometry_stored(), dims_for(h)) {
            (true, _) => format!("{}x{}", h.width, h.height),
            (false, Some((w, ht))) => format!("{w}x{ht} (the model's)"),
            (false, None) => "the model's size".to_string(),
        };
        writeln!(out, "  images:   {} of {size}", s.records)?;
        writeln!(
            out,
            "  bytes:    {} = payload {} + overhead {} ({:.1}%)",
            s.bytes,
            s.payload_bytes,
            overhead(s),
            if s.bytes == 0 {
                0.0
            } else {
                100.0 * overhead(s) as f64 / s.bytes as f64
            }
        )?;
        if s.records > 0 {
            writeln!(
                out,
                "  per image: {:.2} bytes (payload {:.2}, min {}, max {})",
                s.bytes_per_record(),
                s.payload_bytes as f64 / s.records as f64,
                s.min_payload,
                s.max_payload
            )?;
        }
    }
    Ok(())
}

fn models(a: &ModelsArgs) -> CliResult {
    let mut out = std::io::stdout().lock();
    let entries = crate::registry().scan();
    let default_hash = Bundle::embedded_default().ok().map(|b| b.hash_hex());
    if a.json {
        let list: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| match &e.bundle {
                Ok(b) => serde_json::json!({
                    "name": b.name(),
                    "hash": format!("sha256:{}", b.hash_hex()),
                    "id": &b.hash_hex()[..2 * aez::MODEL_ID_LEN],
                    "source": e.source.to_string(),
                    "default": matches!(e.source, aez::model::BundleSource::Embedded),
                    "geometry": {"width": b.geometry().width, "height": b.geometry().height, "channels": b.geometry().channels},
                    "latent_dim": b.latent_dim(),
                }),
                Err(err) => serde_json::json!({
                    "source": e.source.to_string(),
                    "error": err.to_string(),
                }),
            })
            .collect();
        let text = serde_json::to_string_pretty(&list)
            .map_err(|e| Error::io("cannot format JSON", std::io::Error::other(e)))?;
        writeln!(out, "{text}").map_err(stdout_err)?;
    } else {
        for e in &entries {
            let line = match &e.bundle {
                Ok(b) => {
                    let g = b.geometry();
                    let tag = if matches!(e.source, aez::model::BundleSource::Embedded) {
                        "  (default)"
                    } else if default_hash.as_deref() == Some(b.hash_hex().as_str()) {
                        "  (same as default)"
                    } else {
                        ""
                    };
                    format!(
                        "{:<20} sha256:{}  {}x{}x{} K={}  {}{tag}",
                        b.name(),
                        b.hash_hex(),
                        g.width,
                        g.height,
                        g.channels,
                        b.latent_dim(),
                        e.source
                    )
                }
                Err(err) => format!("{:<20} {}: not usable: {err}", "-", e.source),
            };
            writeln!(out, "{line}").map_err(stdout_err)?;
        }
    }
    out.flush().map_err(stdout_err)?;
    Ok(())
}

fn codec_options(g: &Global) -> aez::Options {
    aez::Options::default().with_coder(match g.coder {
        CoderArg::Range => aez::Coder::Range,
        CoderArg::Zstd => aez::Coder::Zstd,
    })
}
