//! A cfdot-compatible CLI for Diego's BBS: the same commands, flags,
//! environment variables, validation messages, JSON-lines output and exit
//! codes as Diego's `cfdot`.

pub mod cli;
pub mod commands;
pub mod error;
pub mod flags;
pub mod locket_tls;
pub mod rep_state;
pub mod sse;

use std::io::Write;

use cli::{CommandSpec, Parsed};
use commands::Out;
use error::Failure;

/// Runs cfdot with `argv` (without the program name); returns the exit
/// code.
pub fn run(argv: &[String], stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    let specs = commands::specs();
    // cobra announces a deprecated command before parsing its flags.
    if let Some(spec) = argv
        .first()
        .and_then(|name| specs.iter().find(|s| s.name == name.as_str()))
    {
        if let Some(text) = spec.deprecated {
            let _ = writeln!(stderr, "Command \"{}\" is deprecated, {text}", spec.name);
        }
    }
    match cli::parse(&specs, argv) {
        Parsed::Help(text) => {
            let _ = stdout.write_all(text.as_bytes());
            0
        }
        Parsed::Fail(f, spec) => report(stderr, &f, spec.as_ref()),
        Parsed::Run(inv) => {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return report(stderr, &Failure::other(e.to_string()), None),
            };
            let result = rt.block_on(async {
                inv.check_typed_flags()?;
                let conn = flags::prerun(&inv)?;
                let mut out = Out {
                    stdout: &mut *stdout,
                    stderr: &mut *stderr,
                };
                commands::run(&inv, &conn, &mut out).await
            });
            match result {
                Ok(()) => 0,
                Err(f) => report(stderr, &f, Some(&inv.spec)),
            }
        }
    }
}

/// Prints a failure as cobra does: `Error: ...`, then the usage unless
/// silenced.
fn report(stderr: &mut dyn Write, f: &Failure, spec: Option<&CommandSpec>) -> i32 {
    let _ = writeln!(stderr, "Error: {}", f.message);
    if f.usage {
        if let Some(spec) = spec {
            let _ = writeln!(stderr, "{}", spec.usage_text());
        }
    }
    let _ = stderr.flush();
    f.exit_code
}
