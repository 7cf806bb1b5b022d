//! `builder`: stages an app (see `lifecycle::builder`).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = lifecycle::builder::main(&args, lifecycle::env::current());
    std::process::exit(code);
}
