//! `launcher`: starts a buildpack app from its droplet (see
//! `lifecycle::launcher`).

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    match lifecycle::launcher::plan(&argv, &cwd, lifecycle::env::current()) {
        Ok(launch) => {
            let e = lifecycle::launcher::exec(&launch);
            eprint!("{e}");
            std::process::exit(4);
        }
        Err(e) => {
            eprint!("{}", e.message);
            std::process::exit(e.code);
        }
    }
}
