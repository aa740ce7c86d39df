//! Command-line arguments (clap derive). Parsing only; each subcommand's work is in its own module.

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Inputs and outputs: '-' is stdin / stdout. An output that exists is an error unless --force; every
output file is written under a temporary name and renamed when complete, so a failed run leaves
nothing (see --partial).

Exit status: 0 success; 1 error (message 'aez: error: ...' on stderr); 2 usage error;
141 stdout was closed before all output was written (e.g. piped into 'head'), nothing printed;
130 / 143 interrupted by SIGINT / SIGTERM, nothing printed and no temporary file left.

Environment: AEZ_MODEL_PATH (':'-separated model directories searched by model id),
AEZ_BACKEND=auto|tract|onnxruntime (overrides --backend auto), ORT_DYLIB_PATH (libonnxruntime.so
to load for the onnxruntime backend).";

/// aez: a learned image codec for collections of similar small images.
#[derive(Debug, Parser)]
#[command(name = "aez", version, about, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options accepted before or after the subcommand.
#[derive(Debug, Args)]
pub struct Global {
    /// Model: a known name (see `aez models`) or a bundle directory [default: see `aez compress --help`].
    ///
    /// compress uses it (default: the embedded default model for 28x28 gray images, else the embedded
    /// gray or photo family model; see `aez compress --help`). decompress by default finds the model
    /// each stream names (by the model id in its header) among the known models; with --model it decodes
    /// with exactly that model, and a stream made with another one is an error.
    #[arg(long, short = 'm', global = true, value_name = "NAME|PATH")]
    pub model: Option<String>,

    /// Inference backend (printed with -v).
    ///
    /// auto: ONNX Runtime when ORT_DYLIB_PATH names a loadable library (or AEZ_BACKEND says so), else
    /// tract.
    #[arg(long, global = true, value_enum, default_value_t = BackendArg::Auto)]
    pub backend: BackendArg,

    /// Overwrite existing output files (and allow binary output to a terminal).
    #[arg(long, short = 'f', global = true)]
    pub force: bool,

    /// Make each output file durable before it appears under its name (fsync the file, and its
    /// directory after the rename).
    ///
    /// Without it, outputs are still atomic (written under a temporary name and renamed when complete,
    /// so no reader and no failed run ever sees half a file), but, as with gzip, zstd and cwebp, a power
    /// loss right after a run may lose it. The two fsyncs cost milliseconds per file.
    #[arg(long, global = true)]
    pub fsync: bool,

    /// Entropy coder for compress (decompress reads it from the stream).
    ///
    /// range (alias ans): range coding with the model's integer tables, the default. zstd: a
    /// general-purpose baseline, larger.
    #[arg(long, global = true, value_enum, default_value_t = CoderArg::Range)]
    pub coder: CoderArg,

    /// On a failed batch, keep the images before the failure in the output file.
    ///
    /// When a batch fails part-way (a bad input image, a damaged record), keep the images before the
    /// failure in the output file, as a valid shorter .aez or IDX file, instead of writing nothing. A
    /// directory output always keeps the PNGs written before the failure. On stdout, compress streams
    /// the records as it goes (without --partial the stream stops without its end marker, so a reader
    /// sees it truncated) and decompress writes nothing without --partial. The exit status is 1 either
    /// way.
    #[arg(long, global = true)]
    pub partial: bool,

    /// Print nothing but errors (no progress bar).
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print the model, the backend and a summary (sizes, ratio, time) on stderr.
    #[arg(long, short = 'v', global = true)]
    pub verbose: bool,
}

/// `--backend` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// ONNX Runtime if available (ORT_DYLIB_PATH), else tract.
    Auto,
    /// The pure-Rust tract backend (always built in).
    Tract,
    /// ONNX Runtime, loaded at run time (ORT_DYLIB_PATH or the system's libonnxruntime.so).
    Onnxruntime,
}

/// `--coder` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CoderArg {
    /// Range coding with the model's integer probability tables.
    #[value(alias = "ans")]
    Range,
    /// zstd over the quantized latents (no tables).
    Zstd,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compress images to an .aez stream.
    ///
    /// `aez compress IN OUT` compresses one input; `aez compress IN... -o OUT` any number. An input is an
    /// image file (PNG, JPEG, GIF, BMP, TIFF, WebP, PNM, QOI, TGA, ICO), an IDX file of images, raw or
    /// gzipped (all its images), or '-' for stdin (either). One image file gives a single-image stream;
    /// an IDX file or several inputs give a batch stream.
    ///
    /// A model that takes any image (a version-2 bundle) keeps each image as it is: any width and height
    /// from 1x1, gray, gray+alpha, RGB or RGBA (palette images as RGB/RGBA), alpha kept losslessly;
    /// 16-bit and float samples are reduced to 8 bits (-v says so), colour is converted to what the model
    /// codes. Images of different sizes go into one output (a concatenation of streams, one per run of
    /// alike images), and decompress gives each back at its own size and layout. A fixed-size model
    /// (such as the embedded Fashion-MNIST one) takes images of its size only, converted to its channels
    /// (alpha dropped).
    ///
    /// The model without -m: a gray input (an image or IDX file without colour, or an RGB image whose
    /// pixels are all gray) gets gray-conv (the gray family) and a colour input photo-hyper (the photo
    /// family), both embedded; a 28x28 gray image without alpha (the Fashion-MNIST size) keeps the
    /// embedded default model. The first input decides for all of them (a mix of gray and colour inputs
    /// gets the first one's family).
    #[command(
        override_usage = "aez compress [OPTIONS] INPUT OUTPUT\n       aez compress [OPTIONS] INPUT... -o OUTPUT",
        after_help = "Examples:\n  aez compress in.png out.aez\n  cat in.png | aez compress - - > out.aez\n  \
                      aez compress t10k-images-idx3-ubyte.gz t10k.aez\n  aez compress a.png b.png c.png -o batch.aez\n  \
                      aez compress -m photo-hyper --quality 3 photo.png photo.aez\n  aez compress pngs/*.png -o mixed.aez"
    )]
    Compress(CompressArgs),

    /// Decompress an .aez stream (or a concatenation of streams).
    ///
    /// OUT is '-' (stdout: a PNG for one image; an IDX file for a batch of a fixed-size model, or for
    /// several images of one size, gray or RGB without alpha), a directory (an existing one, or a name
    /// ending in '/': one PNG per image, named 000000.png, 000001.png, ..., each at its own size and
    /// layout), a file ending in .idx or .idx.gz (an IDX file of all the images: one size, gray or RGB,
    /// no alpha), or an image file (one image; the extension picks the format: png, jpg, bmp, tiff, webp
    /// (lossless), pgm/ppm/pam, qoi, tga, ...). Each image comes back at the size and channel layout it
    /// was compressed from; PNG holds every layout, and a format that cannot hold an image's layout
    /// (JPEG with alpha, say) is an error naming the format.
    #[command(
        after_help = "Examples:\n  aez decompress out.aez back.png\n  aez decompress - - < out.aez > back.png\n  \
                      aez decompress t10k.aez t10k.idx\n  aez decompress batch.aez outdir/"
    )]
    Decompress(DecompressArgs),

    /// Describe .aez files: version, model, coder, records, image sizes, bytes and overhead.
    ///
    /// For version-2 streams also where the image descriptors are (in the header, per image, or the
    /// model's), the number of images, their largest size, alpha records and tiled images.
    Info(InfoArgs),

    /// List the models: the embedded default and those found in AEZ_MODEL_PATH (the working directory is
    /// not searched).
    Models(ModelsArgs),

    /// Measure aez against PNG, JPEG, WebP and AVIF on your images (needs the `eval` feature).
    ///
    /// Every image is compressed and decompressed by every quality level of the model (-m, or the one
    /// compress would choose for the first image: for 28x28 gray images both Fashion-MNIST bundles) and
    /// by each classical codec at a sweep of settings, as a careful user would run it: PNG (deflate level 9,
    /// the best of 7 filter strategies), JPEG (mozjpeg, as its cjpeg: trellis, optimized Huffman tables,
    /// progressive; baseline too; gray as one channel), WebP (libwebp, method 6), AVIF (rav1e, speed 6).
    /// aez's bytes are its whole batch stream (container included) divided by the images; the others'
    /// are whole files. Prints each setting's bytes per image, bpp, PSNR (of the mean squared error over
    /// all samples, and the mean of per-image PSNR) and SSIM; a matched-quality table (each codec's bytes
    /// at every aez level's PSNR, interpolated on its curve); and aez's BD-rate against each codec.
    /// Images with alpha are measured on their colour (alpha is not compared); 16-bit ones at 8 bits.
    ///
    /// Built without the feature, it says how to build it: `cargo install --path . --features eval`.
    #[command(
        after_help = "Examples:\n  aez eval t10k-images-idx3-ubyte.gz --limit 2000\n  aez eval -m ./mymodel heldout/ --plot rd.svg\n  \
                      aez eval photos/ --codecs jpeg,webp --json > eval.json"
    )]
    Eval(EvalArgs),
}

/// `aez compress`.
#[derive(Debug, Args)]
pub struct CompressArgs {
    /// Inputs, then the output unless -o is given ('-' for stdin / stdout).
    #[arg(value_name = "INPUT", required = true)]
    pub paths: Vec<String>,

    /// The output ('-' for stdout). With -o, every positional argument is an input.
    #[arg(long, short = 'o', value_name = "OUTPUT")]
    pub output: Option<String>,

    /// Write a batch stream even for one image file.
    #[arg(long)]
    pub batch: bool,

    /// Quality level: higher is better (and bigger). [default: the model's default level]
    ///
    /// One of the model's levels, a number from 0 to 255 (`aez models` lists each model's levels; a
    /// model's default is one in the middle of its range). A version-1 model has one level, quality 0.
    /// Without -m, 28x28 gray inputs have 1-7 (fmnist-ld64e3d3-v2, up to about 22 dB) and 8-13
    /// (fmnist-conv-sets, 24.6 to 33.4 dB).
    #[arg(long, value_name = "N")]
    pub quality: Option<u8>,

    /// Images per record in a batch of one size (models that take any image): packed records share
    /// their 5-byte framing and CRC; 1 gives each image its own record, so damage loses one image only.
    #[arg(long, value_name = "N", default_value_t = aez::DEFAULT_IMAGES_PER_RECORD as u32,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub pack: u32,
}

/// `aez decompress`.
#[derive(Debug, Args)]
pub struct DecompressArgs {
    /// The .aez stream ('-' for stdin).
    #[arg(value_name = "INPUT")]
    pub input: String,
    /// Where the images go ('-' for stdout; a directory; a .idx / .idx.gz file; an image file).
    #[arg(value_name = "OUTPUT")]
    pub output: String,
}

/// `aez info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// .aez files ('-' for stdin).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<String>,
    /// Print JSON (one object per file, in a list).
    #[arg(long)]
    pub json: bool,
}

/// `aez eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Images: IDX files (raw or gzipped), image files, or directories (searched recursively).
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<std::path::PathBuf>,

    /// The classical codecs to measure, comma-separated: png, jpeg, webp, avif, qoi.
    #[arg(
        long,
        value_name = "LIST",
        default_value = "png,jpeg,webp,avif",
        value_delimiter = ','
    )]
    pub codecs: Vec<String>,

    /// Only the first N images (in input order).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,

    /// Print JSON (every row, the matched-quality table and the BD-rates) instead of the tables.
    #[arg(long)]
    pub json: bool,

    /// Also write the rate-distortion curves as an SVG plot (needs a TrueType font: AEZ_FONT, or a
    /// usual system path such as DejaVu Sans).
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<std::path::PathBuf>,
}

/// `aez models`.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_anywhere() {
        let c = Cli::try_parse_from([
            "aez", "compress", "a.png", "b.aez", "--force", "--coder", "zstd", "-v",
        ])
        .unwrap();
        assert_eq!(
            Cli::try_parse_from(["aez", "--coder", "ans", "models"])
                .unwrap()
                .global
                .coder,
            CoderArg::Range
        );
        assert!(c.global.force && c.global.verbose);
        assert_eq!(c.global.coder, CoderArg::Zstd);
        let c = Cli::try_parse_from(["aez", "--backend", "tract", "-q", "decompress", "-", "-"])
            .unwrap();
        assert_eq!(c.global.backend, BackendArg::Tract);
        assert!(c.global.quiet);
        assert!(Cli::try_parse_from(["aez", "-q", "-v", "models"]).is_err());
        assert!(Cli::try_parse_from(["aez", "--backend", "cuda", "models"]).is_err());
    }
}
