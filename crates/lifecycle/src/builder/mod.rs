//! The buildpack `builder` (Diego's buildpackapplifecycle/builder): stages
//! an app inside the staging container. Cloud Controller's staging task
//! runs `/tmp/lifecycle/builder -buildpackOrder=... -skipDetect=... ...`;
//! the builder leaves the droplet, the build artifacts cache and
//! result.json where the flags say, and exits 222 to 226 when a buildpack
//! step fails.

pub mod config;
pub mod download;
pub mod errors;
pub mod launch;
pub mod result;
pub mod runner;

pub use config::BuilderConfig;
pub use errors::StagingError;
pub use runner::Runner;

use crate::env::{self, Env};
use crate::flags::FlagError;

/// The builder's whole run: parses `args` (without the program name),
/// stages, and returns the exit status. Messages go to stdout and stderr as
/// Diego's builder writes them.
pub fn main(args: &[String], process_env: Env) -> i32 {
    let mut config = BuilderConfig::new();
    match config.parse(args) {
        Ok(()) => {}
        Err(FlagError::Help) => {
            eprint!("{}", config.usage());
            return 0;
        }
        Err(FlagError::Invalid(message)) => {
            eprintln!("{message}");
            eprint!("{}", config.usage());
            return 2;
        }
    }
    if let Err(e) = config.validate() {
        eprintln!("{e}");
        eprint!("{}", config.usage());
        return 1;
    }
    let env = match staging_env(process_env) {
        Ok(env) => env,
        Err((code, message)) => {
            eprint!("{message}");
            return code;
        }
    };
    let mut runner = Runner::new(config, env);
    let outcome = runner.run();
    runner.clean_up();
    match outcome {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            e.exit_code()
        }
    }
}

/// The environment buildpacks stage with: the task's, plus DATABASE_URL
/// from a bound database service. Err: exit status and message.
fn staging_env(mut e: Env) -> Result<Env, (i32, String)> {
    match env::credhub_uri(&e) {
        Err(err) => return Err((3, format!("Invalid platform options: {err}"))),
        Ok(Some(_)) if env::has_credhub_refs(&e) => {
            return Err((
                4,
                "Unable to interpolate credhub refs: CredHub is not supported by this lifecycle"
                    .into(),
            ))
        }
        Ok(_) => {}
    }
    if let Some(url) = e
        .get("VCAP_SERVICES")
        .filter(|s| !s.is_empty())
        .and_then(|s| env::database_url(s))
    {
        e.insert("DATABASE_URL".into(), url);
    }
    Ok(e)
}
