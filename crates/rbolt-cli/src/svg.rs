//! Writing SVG pictures by hand: integer coordinates, elements in a fixed order, text
//! escaped. The file appears only when complete (written beside it, then renamed).

use crate::error::CliError;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// An SVG document being written.
pub(crate) struct Svg {
    out: BufWriter<File>,
    tmp: PathBuf,
    dst: PathBuf,
}

/// `s` escaped for XML text and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            // XML 1.0 has no way to write most control characters.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => o.push('\u{fffd}'),
            c => o.push(c),
        }
    }
    o
}

impl Svg {
    /// Starts a `w`×`h` picture at `dst`.
    pub(crate) fn create(dst: &Path, w: u64, h: u64) -> Result<Self, CliError> {
        let mut name = dst.file_name().unwrap_or_default().to_os_string();
        name.push(".tmp");
        let tmp = dst.with_file_name(name);
        let f = File::create(&tmp).map_err(|e| {
            CliError::msg(format!(
                "cannot write {}: {}",
                dst.display(),
                CliError::from(e)
            ))
        })?;
        let mut out = BufWriter::new(f);
        writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif">"#
        )?;
        writeln!(
            out,
            r##"<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>"##
        )?;
        Ok(Self {
            out,
            tmp,
            dst: dst.to_path_buf(),
        })
    }

    /// A filled rectangle with a tooltip.
    pub(crate) fn rect_titled(
        &mut self,
        x: u64,
        y: u64,
        w: u64,
        h: u64,
        fill: &str,
        title: &str,
    ) -> Result<(), CliError> {
        writeln!(
            self.out,
            r#"<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{fill}"><title>{}</title></rect>"#,
            escape(title)
        )?;
        Ok(())
    }

    /// Text with its baseline at `y`.
    pub(crate) fn text(
        &mut self,
        x: u64,
        y: u64,
        size: u32,
        weight: &str,
        text: &str,
    ) -> Result<(), CliError> {
        writeln!(
            self.out,
            r##"<text x="{x}" y="{y}" font-size="{size}" font-weight="{weight}" fill="#222222">{}</text>"##,
            escape(text)
        )?;
        Ok(())
    }

    /// Closes the document and puts it in place.
    pub(crate) fn finish(mut self) -> Result<(), CliError> {
        writeln!(self.out, "</svg>")?;
        let f = self
            .out
            .into_inner()
            .map_err(|e| CliError::from(e.into_error()))?;
        f.sync_all()?;
        std::fs::rename(&self.tmp, &self.dst)?;
        Ok(())
    }
}
