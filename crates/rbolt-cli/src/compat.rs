//! Behaving like bbolt where scripts can tell: bbolt 1.4's single-dash long flags, clap's
//! errors reworded as cobra/pflag print them, and — in compat mode (invoked as `bbolt`, or
//! with `RBOLT_COMPAT=bbolt`) — cobra's usage block after every error.

use crate::error::CliError;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::ExitCode;

/// Compat mode: `argv[0]` is `bbolt` (a symlink), or `RBOLT_COMPAT=bbolt`.
pub(crate) fn is_compat(argv: &[OsString]) -> bool {
    let by_name = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .is_some_and(|n| n == OsStr::new("bbolt"));
    by_name || std::env::var_os("RBOLT_COMPAT").is_some_and(|v| v == "bbolt")
}

/// Every long flag name any command has, for recognising `-format=hex`.
fn long_flags(cmd: &clap::Command, into: &mut Vec<String>) {
    for a in cmd.get_arguments() {
        if let Some(l) = a.get_long() {
            into.push(l.to_string());
        }
    }
    into.push("help".into());
    for s in cmd.get_subcommands() {
        long_flags(s, into);
    }
}

/// Rewrites bbolt 1.4 style `-format=hex` / `-format hex` to `--format…`. Only names that
/// are long flags of some command are touched, and nothing after `--`.
pub(crate) fn rewrite_single_dash(argv: Vec<OsString>, cmd: &clap::Command) -> Vec<OsString> {
    let mut names = Vec::new();
    long_flags(cmd, &mut names);
    let mut past_dashdash = false;
    argv.into_iter()
        .enumerate()
        .map(|(i, a)| {
            let b = a.as_bytes();
            if i == 0 || past_dashdash {
                return a;
            }
            if b == b"--" {
                past_dashdash = true;
                return a;
            }
            if b.len() > 2 && b[0] == b'-' && b[1] != b'-' {
                let name = b[1..].split(|&c| c == b'=').next().unwrap_or(&[]);
                if name.len() > 1 && names.iter().any(|n| n.as_bytes() == name) {
                    let mut v = b"-".to_vec();
                    v.extend_from_slice(b);
                    return OsString::from(OsStr::from_bytes(&v));
                }
            }
            a
        })
        .collect()
}

/// Names of the subcommands chosen, outermost first (`["surgery", "meta", "update"]`).
pub(crate) fn subcommand_path(m: &clap::ArgMatches) -> Vec<String> {
    let mut path = Vec::new();
    let mut cur = m;
    while let Some((name, sub)) = cur.subcommand() {
        path.push(name.to_string());
        cur = sub;
    }
    path
}

fn find<'a>(root: &'a mut clap::Command, path: &[String]) -> &'a mut clap::Command {
    let mut cur = root;
    for p in path {
        let next = cur.get_subcommands().position(|s| s.get_name() == p);
        match next {
            Some(i) => cur = cur.get_subcommands_mut().nth(i).expect("index just found"),
            None => break,
        }
    }
    cur
}

/// Prints a command's error: `Error: …`, then cobra's usage block (compat mode) or a pointer
/// to `--help` after usage errors.
pub(crate) fn report_error(
    e: &CliError,
    root: &mut clap::Command,
    path: &[String],
    name: &str,
    compat: bool,
) {
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    let _ = writeln!(err, "Error: {e}");
    let cmd = find(root, path);
    if compat {
        let _ = writeln!(err, "{}", usage_block(cmd, name, path));
    } else if e.is_usage() {
        let full = std::iter::once(name.to_string())
            .chain(path.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        let _ = writeln!(err, "Run '{full} --help' for usage.");
    }
}

fn arg_str(e: &clap::Error, k: ContextKind) -> Option<String> {
    match e.get(k)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => Some(v.join(", ")),
        other => Some(other.to_string()),
    }
}

/// `--output <string>` → `output`.
fn flag_name(s: &str) -> String {
    let s = s.trim_start_matches('-');
    s.split([' ', '=', '<']).next().unwrap_or(s).to_string()
}

/// Turns a clap error into bbolt's: help and version go to stdout with exit 0; everything
/// else is `Error: <cobra's message>` and exit 1.
pub(crate) fn report_clap_error(
    e: clap::Error,
    root: &mut clap::Command,
    name: &str,
    compat: bool,
) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let invalid = arg_str(&e, ContextKind::InvalidArg).unwrap_or_default();
    let msg = match e.kind() {
        ErrorKind::InvalidSubcommand => {
            let sub = arg_str(&e, ContextKind::InvalidSubcommand).unwrap_or_default();
            let stderr = std::io::stderr();
            let mut err = stderr.lock();
            let _ = writeln!(err, "Error: unknown command \"{sub}\" for \"{name}\"");
            let _ = writeln!(err, "Run '{name} --help' for usage.");
            return ExitCode::FAILURE;
        }
        ErrorKind::UnknownArgument if invalid.starts_with("--") => {
            format!(
                "unknown flag: {}",
                invalid.split('=').next().unwrap_or(&invalid)
            )
        }
        ErrorKind::UnknownArgument => {
            let c = invalid
                .trim_start_matches('-')
                .chars()
                .next()
                .unwrap_or('?');
            format!("unknown shorthand flag: '{c}' in {invalid}")
        }
        ErrorKind::MissingRequiredArgument if !invalid.starts_with('-') => {
            // A positional argument (bbolt's commands count theirs; newer ones let clap).
            let names = invalid.replace(['<', '>'], "");
            format!("missing argument(s): {names}")
        }
        ErrorKind::MissingRequiredArgument => {
            let flags: Vec<String> = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::Strings(v)) => v.iter().map(|s| flag_name(s)).collect(),
                _ => vec![flag_name(&invalid)],
            };
            let quoted: Vec<String> = flags.iter().map(|f| format!("\"{f}\"")).collect();
            format!("required flag(s) {} not set", quoted.join(", "))
        }
        ErrorKind::InvalidValue
            if arg_str(&e, ContextKind::InvalidValue).as_deref() == Some("") =>
        {
            format!("flag needs an argument: --{}", flag_name(&invalid))
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let value = arg_str(&e, ContextKind::InvalidValue).unwrap_or_default();
            let why = e
                .source()
                .map(|s| go_number_error(&s.to_string(), &flag_name(&invalid), &value))
                .unwrap_or_else(|| "invalid value".to_string());
            format!(
                "invalid argument \"{value}\" for \"--{}\" flag: {why}",
                flag_name(&invalid)
            )
        }
        _ => e.kind().as_str().unwrap_or("invalid arguments").to_string(),
    };
    // The subcommand clap was parsing, for the usage block.
    let path: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .take(3)
        .collect();
    let mut known = Vec::new();
    let mut cur: &clap::Command = root;
    for p in &path {
        match cur.find_subcommand(p) {
            Some(s) => {
                known.push(p.clone());
                cur = s;
            }
            None => break,
        }
    }
    report_error(&CliError::usage(msg), root, &known, name, compat);
    // `diff` keeps exit 1 for "the files differ", as diff(1) does.
    if known.first().is_some_and(|c| c == "diff") {
        return ExitCode::from(2);
    }
    ExitCode::FAILURE
}

use std::error::Error as _;

/// pflag's wording for a number flag that does not parse (Go's `strconv` errors).
fn go_number_error(rust: &str, flag: &str, value: &str) -> String {
    let func = match flag {
        "tx-max-size" | "from-index" | "to-index" => "ParseInt",
        "from-page" | "to-page" | "pageId" | "meta-page" => "ParseUint",
        _ => return rust.to_string(),
    };
    let why = if rust.contains("too large") || rust.contains("too small") {
        "value out of range"
    } else {
        "invalid syntax"
    };
    format!(
        "strconv.{func}: parsing {}: {why}",
        crate::values::go_quote(value.as_bytes())
    )
}

/// Cobra's usage block for `cmd`: the usage line, then each local flag as pflag lists it.
pub(crate) fn usage_block(cmd: &mut clap::Command, name: &str, path: &[String]) -> String {
    let mut s = String::from("Usage:\n");
    let usage = cmd.render_usage().to_string();
    let line = usage
        .trim()
        .trim_start_matches("Usage:")
        .trim()
        .replacen("rbolt", name, 1);
    s.push_str(&format!("  {line}\n"));
    let subs: Vec<(String, String)> = cmd
        .get_subcommands()
        .filter(|c| c.get_name() != "help")
        .map(|c| {
            let about = c.get_about().map(|a| a.to_string()).unwrap_or_default();
            (c.get_name().to_string(), about)
        })
        .collect();
    if !subs.is_empty() {
        let full = std::iter::once(name.to_string())
            .chain(path.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        s.push_str(&format!("  {full} [command]\n\nAvailable Commands:\n"));
        let w = subs.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        for (n, a) in &subs {
            s.push_str(&format!("  {n:<w$} {a}\n"));
        }
    }
    let mut rows: Vec<(String, String)> = Vec::new();
    for a in cmd.get_arguments() {
        let Some(long) = a.get_long() else { continue };
        if a.is_global_set() || a.is_hide_set() || long == "help" {
            continue;
        }
        let takes = a.get_num_args().is_some_and(|n| n.takes_values());
        let mut left = match a.get_short() {
            Some(c) => format!("  -{c}, --{long}"),
            None => format!("      --{long}"),
        };
        if takes {
            let ty = a
                .get_value_names()
                .and_then(|v| v.first())
                .map(|v| v.to_string())
                .filter(|v| v.chars().all(|c| c.is_ascii_lowercase()))
                .unwrap_or_else(|| "string".into());
            left.push(' ');
            left.push_str(&ty);
        }
        let mut help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
        if let Some(d) = a.get_default_values().first() {
            let d = d.to_string_lossy();
            if takes && !d.is_empty() && d != "0" {
                if d.parse::<i64>().is_ok() {
                    help.push_str(&format!(" (default {d})"));
                } else {
                    help.push_str(&format!(" (default \"{d}\")"));
                }
            }
        }
        rows.push((left, help));
    }
    let last = path.last().map(String::as_str).unwrap_or(name);
    rows.push(("  -h, --help".into(), format!("help for {last}")));
    let w = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    s.push_str("\nFlags:\n");
    for (l, h) in rows {
        s.push_str(format!("{l:<w$}   {h}").trim_end());
        s.push('\n');
    }
    if !subs.is_empty() {
        let full = std::iter::once(name.to_string())
            .chain(path.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        s.push_str(&format!(
            "\nUse \"{full} [command] --help\" for more information about a command.\n"
        ));
    }
    s
}
