//! `rbolt analyze --svg`: the fill histograms of leaf and branch pages and the biggest
//! buckets, as a picture.

use crate::error::CliError;
use crate::svg::Svg;
use std::path::Path;

const BAR_H: u64 = 150;

/// One histogram of ten 10% bins, with its top-left corner at `(x, y)`.
fn histogram(
    s: &mut Svg,
    x: u64,
    y: u64,
    title: &str,
    bins: &[u64; 10],
    fill: &str,
) -> Result<(), CliError> {
    s.text(x, y, 13, "bold", title)?;
    let max = bins.iter().copied().max().unwrap_or(0).max(1);
    let base = y + 20 + BAR_H;
    for (i, &n) in bins.iter().enumerate() {
        let h = n * BAR_H / max;
        let bx = x + i as u64 * 30;
        let label = format!("{}–{}% full: {n} pages", i * 10, i * 10 + 10);
        s.rect_titled(bx, base - h, 26, h.max(1), fill, &label)?;
        s.text(bx + 2, base + 14, 10, "normal", &format!("{}", i * 10))?;
        if n > 0 {
            s.text(bx + 2, base - h - 3, 10, "normal", &short(n))?;
        }
    }
    s.text(x + 120, base + 28, 10, "normal", "% full")?;
    Ok(())
}

/// A count in at most four characters, so labels of neighbouring bars do not overlap (the
/// tooltip has the exact number).
fn short(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{}k", n / 1000),
        _ => format!("{}M", n / 1_000_000),
    }
}

pub(crate) fn write(
    out: &Path,
    src: &Path,
    leaf: &[u64; 10],
    branch: &[u64; 10],
    top: &[(String, u64)],
    file: u64,
) -> Result<(), CliError> {
    let w = 700;
    let h = 290 + 22 * top.len() as u64 + 20;
    let mut s = Svg::create(out, w, h)?;
    s.text(
        10,
        20,
        14,
        "bold",
        &format!("{}: {file} bytes", src.display()),
    )?;
    histogram(&mut s, 20, 50, "Leaf pages by fill", leaf, "#4fa83d")?;
    histogram(&mut s, 370, 50, "Branch pages by fill", branch, "#3465a4")?;
    let y0 = 290;
    s.text(10, y0, 13, "bold", "Biggest buckets (share of the file)")?;
    for (i, (name, bytes)) in top.iter().enumerate() {
        let y = y0 + 10 + i as u64 * 22;
        let bw = (bytes * 400).checked_div(file).unwrap_or(0);
        let label = format!("{name}: {bytes} bytes");
        s.rect_titled(10, y, bw.max(1), 16, "#8fcc80", &label)?;
        s.text(420, y + 12, 11, "normal", &label)?;
    }
    s.finish()
}
