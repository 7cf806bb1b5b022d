fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let code = cfdot::run(&argv, &mut stdout.lock(), &mut stderr.lock());
    std::process::exit(code);
}
