//! The docker app `launcher` (installed as `launcher` in
//! docker_app_lifecycle.tgz; see `lifecycle::docker_launcher`).

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    match lifecycle::docker_launcher::plan(&argv, lifecycle::env::current()) {
        Ok(launch) => {
            let message = lifecycle::docker_launcher::exec(&launch);
            eprintln!("{message}");
            std::process::exit(1);
        }
        Err((code, message)) => {
            eprintln!("{message}");
            std::process::exit(code);
        }
    }
}
