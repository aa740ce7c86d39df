//! Regenerates the small test fixtures under `fixtures/` from the Fashion-MNIST test set.
//!
//! Run from the repository root: `cargo run --example make_fixtures [-- PATH/t10k-images-idx3-ubyte.gz]`
//! (default path: `../shared/data/fashion-mnist/t10k-images-idx3-ubyte.gz`). The output is deterministic:
//! the gzip header carries no time stamp and no file name. See `fixtures/README.md`.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};

const SIDE: usize = 28;
const PIXELS: usize = SIDE * SIDE;

fn png(
    path: &Path,
    w: u32,
    h: u32,
    color: ExtendedColorType,
    data: &[u8],
) -> Result<(), Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Best, FilterType::Adaptive)
        .write_image(data, w, h, color)?;
    fs::write(path, out)?;
    println!("wrote {}", path.display());
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let src = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/data/fashion-mnist/t10k-images-idx3-ubyte.gz".to_string());
    let mut raw = Vec::new();
    GzDecoder::new(fs::File::open(&src)?).read_to_end(&mut raw)?;
    if raw.len() < 16 || raw[..4] != [0, 0, 8, 3] || raw[8..16] != [0, 0, 0, 28, 0, 0, 0, 28] {
        return Err(format!("{src}: not an IDX3 file of 28x28 images").into());
    }
    let image = |i: usize| &raw[16 + i * PIXELS..16 + (i + 1) * PIXELS];

    let images = Path::new("fixtures/images");
    let idx = Path::new("fixtures/idx");
    fs::create_dir_all(images)?;
    fs::create_dir_all(idx)?;

    // Eight real test images, 8-bit grayscale PNG.
    for i in 0..8 {
        png(
            &images.join(format!("fmnist-t10k-{i:05}.png")),
            28,
            28,
            ExtendedColorType::L8,
            image(i),
        )?;
    }
    // Image 0 expanded to RGB (R = G = B): an RGB PNG and an RGB JPEG (quality 95).
    let rgb: Vec<u8> = image(0).iter().flat_map(|&v| [v, v, v]).collect();
    png(
        &images.join("fmnist-t10k-00000-rgb.png"),
        28,
        28,
        ExtendedColorType::Rgb8,
        &rgb,
    )?;
    let mut jpg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpg, 95).write_image(
        &rgb,
        28,
        28,
        ExtendedColorType::Rgb8,
    )?;
    fs::write(images.join("fmnist-t10k-00000-rgb.jpg"), jpg)?;
    println!(
        "wrote {}",
        images.join("fmnist-t10k-00000-rgb.jpg").display()
    );
    // A size no 28x28 model takes: image 0 centred on a 32x32 black canvas.
    let mut big = vec![0u8; 32 * 32];
    for y in 0..SIDE {
        big[(y + 2) * 32 + 2..(y + 2) * 32 + 2 + SIDE]
            .copy_from_slice(&image(0)[y * SIDE..(y + 1) * SIDE]);
    }
    png(
        &images.join("wrong-size-32x32.png"),
        32,
        32,
        ExtendedColorType::L8,
        &big,
    )?;

    // The first 64 test images as IDX3, raw and gzipped.
    let n: u32 = 64;
    let mut file = vec![0u8, 0, 8, 3];
    for d in [n, 28, 28] {
        file.extend_from_slice(&d.to_be_bytes());
    }
    file.extend_from_slice(&raw[16..16 + n as usize * PIXELS]);
    fs::write(idx.join("fmnist-t10k-64.idx"), &file)?;
    println!("wrote {}", idx.join("fmnist-t10k-64.idx").display());
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(&file)?;
    fs::write(idx.join("fmnist-t10k-64.idx.gz"), gz.finish()?)?;
    println!("wrote {}", idx.join("fmnist-t10k-64.idx.gz").display());
    Ok(())
}
