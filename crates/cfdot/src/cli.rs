//! The command line: cfdot's commands and per-command flags, parsed with
//! clap but reported the way cfdot (cobra/pflag) reports them: `Error: ...`
//! on stderr, the command's usage after validation errors, cobra's exit
//! codes.

use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::error::Failure;

/// The Go type of a flag (what pflag prints in usage and how it parses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagKind {
    Str,
    Bool,
    Int,
    Int32,
    Duration,
}

impl FlagKind {
    fn go_type(self) -> &'static str {
        match self {
            FlagKind::Str => "string",
            FlagKind::Bool => "",
            FlagKind::Int => "int",
            FlagKind::Int32 => "int32",
            FlagKind::Duration => "duration",
        }
    }
}

#[derive(Debug, Clone)]
pub struct FlagSpec {
    pub long: &'static str,
    pub short: Option<char>,
    pub kind: FlagKind,
    pub help: &'static str,
}

pub const fn flag(
    long: &'static str,
    short: Option<char>,
    kind: FlagKind,
    help: &'static str,
) -> FlagSpec {
    FlagSpec {
        long,
        short,
        kind,
        help,
    }
}

/// Which connection flags a command takes (cfdot's `AddBBSFlags`,
/// `AddBBSAndTimeoutFlags`, `AddLocketFlags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagGroup {
    None,
    Bbs,
    BbsAndTimeout,
    Locket,
}

#[derive(Debug, Clone)]
pub struct CommandSpec {
    pub name: &'static str,
    /// cobra's `Use` (name plus argument synopsis).
    pub usage: &'static str,
    pub short: &'static str,
    pub long: &'static str,
    pub group: FlagGroup,
    pub flags: Vec<FlagSpec>,
    /// cobra's `Deprecated` text (printed on stderr when run).
    pub deprecated: Option<&'static str>,
}

impl CommandSpec {
    pub fn new(
        name: &'static str,
        usage: &'static str,
        short: &'static str,
        long: &'static str,
        group: FlagGroup,
    ) -> Self {
        CommandSpec {
            name,
            usage,
            short,
            long,
            group,
            flags: Vec::new(),
            deprecated: None,
        }
    }

    pub fn flag(mut self, f: FlagSpec) -> Self {
        self.flags.push(f);
        self
    }

    pub fn deprecated(mut self, text: &'static str) -> Self {
        self.deprecated = Some(text);
        self
    }

    /// Every flag of the command, connection flags included, plus help.
    pub fn all_flags(&self) -> Vec<FlagSpec> {
        let mut v = self.flags.clone();
        let tls = [
            flag("skipCertVerify", None, FlagKind::Bool, "when set to true, skips all SSL/TLS certificate verification [environment variable equivalent: SKIP_CERT_VERIFY]"),
            flag("caCertFile", None, FlagKind::Str, "path the Certificate Authority (CA) file to use when verifying TLS keypairs [environment variable equivalent: CA_CERT_FILE]"),
            flag("clientCertFile", None, FlagKind::Str, "path to the TLS client certificate to use during mutual-auth TLS [environment variable equivalent: CLIENT_CERT_FILE]"),
            flag("clientKeyFile", None, FlagKind::Str, "path to the TLS client private key file to use during mutual-auth TLS [environment variable equivalent: CLIENT_KEY_FILE]"),
        ];
        match self.group {
            FlagGroup::None => {}
            FlagGroup::Bbs | FlagGroup::BbsAndTimeout => {
                v.extend(tls);
                v.push(flag(
                    "bbsURL",
                    None,
                    FlagKind::Str,
                    "URL of BBS server to target [environment variable equivalent: BBS_URL]",
                ));
                if self.group == FlagGroup::BbsAndTimeout {
                    v.push(flag("timeout", None, FlagKind::Int, "timeout for BBS requests in seconds [environment variable equivalent: CFDOT_TIMEOUT]"));
                }
            }
            FlagGroup::Locket => {
                v.extend(tls);
                v.push(flag("locketAPILocation", None, FlagKind::Str, "Hostname:Port of Locket server to target [environment variable equivalent: LOCKET_API_LOCATION]"));
            }
        }
        v
    }

    fn help_flag(&self) -> FlagSpec {
        FlagSpec {
            long: "help",
            short: Some('h'),
            kind: FlagKind::Bool,
            help: "",
        }
    }

    /// cobra's usage text for the command (`Usage:` ... `Flags:` ...).
    pub fn usage_text(&self) -> String {
        let mut flags = self.all_flags();
        flags.push(self.help_flag());
        flags.sort_by(|a, b| a.long.cmp(b.long));
        let lines: Vec<(String, String)> = flags
            .iter()
            .map(|f| {
                let mut l = match f.short {
                    Some(c) => format!("  -{c}, --{}", f.long),
                    None => format!("      --{}", f.long),
                };
                if !f.kind.go_type().is_empty() {
                    l.push(' ');
                    l.push_str(f.kind.go_type());
                }
                let help = if f.long == "help" {
                    format!("help for {}", self.name)
                } else {
                    f.help.to_string()
                };
                (l, help)
            })
            .collect();
        let width = lines.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
        let mut out = format!("Usage:\n  cfdot {} [flags]\n\nFlags:\n", self.usage);
        for (l, h) in lines {
            out.push_str(&format!("{l}{}   {h}\n", " ".repeat(width - l.len())));
        }
        out
    }

    fn clap(&self) -> Command {
        let mut cmd = Command::new(self.name)
            .about(self.short)
            .long_about(self.long)
            .args_override_self(true)
            .disable_help_flag(true)
            .arg(
                Arg::new("help")
                    .long("help")
                    .short('h')
                    .action(ArgAction::SetTrue),
            )
            .arg(Arg::new("ARGS").num_args(0..).action(ArgAction::Append));
        for f in self.all_flags() {
            let mut a = Arg::new(f.long).long(f.long).help(f.help);
            if let Some(c) = f.short {
                a = a.short(c);
            }
            a = if f.kind == FlagKind::Bool {
                a.num_args(0..=1)
                    .require_equals(true)
                    .default_missing_value("true")
                    .action(ArgAction::Set)
            } else {
                a.num_args(1)
                    .allow_hyphen_values(true)
                    .action(ArgAction::Set)
            };
            cmd = cmd.arg(a);
        }
        cmd
    }
}

/// A parsed command line for one command.
pub struct Invocation {
    pub spec: CommandSpec,
    pub matches: ArgMatches,
    /// Positional arguments.
    pub args: Vec<String>,
    /// The whole command line (for cfdot's short/long conflict checks).
    pub raw: Vec<String>,
}

impl Invocation {
    /// The flag's value as given ("" when absent).
    pub fn str(&self, long: &str) -> String {
        self.matches
            .try_get_one::<String>(long)
            .ok()
            .flatten()
            .cloned()
            .unwrap_or_default()
    }

    /// Whether the flag was given on the command line (pflag's `Changed`).
    pub fn changed(&self, long: &str) -> bool {
        matches!(
            self.matches.value_source(long),
            Some(clap::parser::ValueSource::CommandLine)
        )
    }

    /// pflag's name of a flag in errors: `-t, --ttl` or `--ttl`.
    pub fn flag_display(&self, long: &str) -> String {
        match self
            .spec
            .all_flags()
            .iter()
            .find(|f| f.long == long)
            .and_then(|f| f.short)
        {
            Some(c) => format!("-{c}, --{long}"),
            None => format!("--{long}"),
        }
    }

    /// pflag's "invalid argument" error for a flag value.
    pub fn invalid(&self, long: &str, err: impl std::fmt::Display) -> Failure {
        Failure::cobra(
            format!(
                "invalid argument {} for \"{}\" flag: {err}",
                go_quote_simple(&self.str(long)),
                self.flag_display(long)
            ),
            true,
        )
    }

    /// Parses every typed flag given (pflag does this while parsing the
    /// command line, before any hook runs), reporting the first bad value.
    pub fn check_typed_flags(&self) -> Result<(), Failure> {
        for f in self.spec.all_flags() {
            if !self.changed(f.long) {
                continue;
            }
            let v = self.str(f.long);
            let r = match f.kind {
                FlagKind::Str => Ok(()),
                FlagKind::Bool => parse_go_bool(&v).map(|_| ()),
                FlagKind::Int => parse_go_int(&v, 64).map(|_| ()),
                FlagKind::Int32 => parse_go_int(&v, 32).map(|_| ()),
                FlagKind::Duration => parse_go_duration(&v).map(|_| ()),
            };
            r.map_err(|e| self.invalid(f.long, e))?;
        }
        Ok(())
    }

    /// cfdot's `ValidateConflictingShortAndLongFlag`.
    pub fn check_conflict(&self, short: &str, long: &str) -> Result<(), Failure> {
        if self.raw.iter().any(|a| a == short) && self.raw.iter().any(|a| a == long) {
            return Err(Failure::validation(format!(
                "Only one of {short} and {long} should be passed"
            )));
        }
        Ok(())
    }
}

/// Go's `%q` for plain strings (quotes, backslashes, control characters).
pub fn go_quote_simple(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The outcome of parsing argv.
pub enum Parsed {
    Run(Invocation),
    /// Print this on stdout and exit 0 (help).
    Help(String),
    Fail(Failure, Option<CommandSpec>),
}

pub fn root_help(specs: &[CommandSpec]) -> String {
    let mut out = String::from(
        "A command-line tool to interact with a Cloud Foundry Diego deployment\n\nUsage:\n  cfdot [command]\n\nAvailable Commands:\n",
    );
    let mut visible: Vec<&CommandSpec> = specs.iter().filter(|s| s.deprecated.is_none()).collect();
    visible.sort_by_key(|s| s.name);
    let width = visible.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for s in visible {
        out.push_str(&format!(
            "  {}{} {}\n",
            s.name,
            " ".repeat(width - s.name.len()),
            s.short
        ));
    }
    out.push_str("\nFlags:\n  -h, --help   help for cfdot\n\nUse \"cfdot [command] --help\" for more information about a command.\n");
    out
}

fn command_help(spec: &CommandSpec) -> String {
    format!("{}\n\n{}", spec.long, spec.usage_text())
}

/// Parses `argv` (without the program name) against `specs`.
pub fn parse(specs: &[CommandSpec], argv: &[String]) -> Parsed {
    let Some(first) = argv.first() else {
        return Parsed::Help(root_help(specs));
    };
    if first == "-h" || first == "--help" {
        return Parsed::Help(root_help(specs));
    }
    if first == "help" {
        return match argv.get(1).map(String::as_str) {
            None | Some("") => Parsed::Help(root_help(specs)),
            Some(name) => match specs.iter().find(|s| s.name == name) {
                Some(s) => Parsed::Help(command_help(s)),
                None => Parsed::Fail(
                    Failure::validation(format!("'{name}' is not a valid command")),
                    None,
                ),
            },
        };
    }
    let Some(spec) = specs.iter().find(|s| s.name == first.as_str()) else {
        let msg = if first.starts_with('-') {
            format!("unknown flag: {first}")
        } else {
            format!("unknown command \"{first}\" for \"cfdot\"\nRun 'cfdot --help' for usage.")
        };
        return Parsed::Fail(Failure::cobra(msg, false), None);
    };
    let cmd = spec.clap();
    let matches = match cmd.try_get_matches_from(argv.iter()) {
        Ok(m) => m,
        Err(e) => return Parsed::Fail(clap_failure(&e, argv), Some(spec.clone())),
    };
    if matches.get_flag("help") {
        return Parsed::Help(command_help(spec));
    }
    let args = matches
        .get_many::<String>("ARGS")
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    Parsed::Run(Invocation {
        spec: spec.clone(),
        matches,
        args,
        raw: argv.to_vec(),
    })
}

/// pflag's wording of a parse error clap reported.
fn clap_failure(e: &clap::Error, argv: &[String]) -> Failure {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.first().cloned().unwrap_or_default(),
        _ => String::new(),
    };
    let name = arg.split([' ', '=']).next().unwrap_or("").to_string();
    let msg = match e.kind() {
        ErrorKind::UnknownArgument => {
            if let Some(long) = name.strip_prefix("--") {
                format!("unknown flag: --{long}")
            } else {
                let shorts = name.trim_start_matches('-');
                let c = shorts.chars().next().unwrap_or('-');
                let whole = argv
                    .iter()
                    .find(|a| a.starts_with('-') && !a.starts_with("--") && a.contains(c))
                    .cloned()
                    .unwrap_or_else(|| name.clone());
                format!("unknown shorthand flag: '{c}' in {whole}")
            }
        }
        ErrorKind::InvalidValue | ErrorKind::WrongNumberOfValues | ErrorKind::NoEquals => {
            let long = name.trim_start_matches('-');
            let used_short = argv
                .last()
                .is_some_and(|a| !a.starts_with("--") && a.starts_with('-'));
            if used_short {
                let c = argv.last().unwrap().chars().nth(1).unwrap_or('-');
                format!("flag needs an argument: '{c}' in -{c}")
            } else {
                format!("flag needs an argument: --{long}")
            }
        }
        _ => {
            let s = e.to_string();
            s.trim_start_matches("error: ")
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        }
    };
    Failure::cobra(msg, true)
}

/// Go's `time.ParseDuration`.
pub fn parse_go_duration(s: &str) -> Result<f64, String> {
    let invalid = || format!("time: invalid duration {}", go_quote_simple(s));
    let mut rest = s;
    let mut neg = false;
    if let Some(r) = rest.strip_prefix('-') {
        neg = true;
        rest = r;
    } else if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    }
    if rest == "0" {
        return Ok(0.0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_len];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(invalid());
        }
        let value: f64 = num.parse().map_err(|_| invalid())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let secs = match unit {
            "" => {
                return Err(format!(
                    "time: missing unit in duration {}",
                    go_quote_simple(s)
                ))
            }
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            other => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    go_quote_simple(other),
                    go_quote_simple(s)
                ))
            }
        };
        total += value * secs;
    }
    Ok(if neg { -total } else { total })
}

/// Go's `strconv.ParseInt(s, 0, bits)` with its error wording.
pub fn parse_go_int(s: &str, bits: u32) -> Result<i64, String> {
    let syntax = || {
        format!(
            "strconv.ParseInt: parsing {}: invalid syntax",
            go_quote_simple(s)
        )
    };
    let range = || {
        format!(
            "strconv.ParseInt: parsing {}: value out of range",
            go_quote_simple(s)
        )
    };
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string())
    } else {
        (10, lower.clone())
    };
    let digits = digits.replace('_', "");
    if digits.is_empty() {
        return Err(syntax());
    }
    let mag = u128::from_str_radix(&digits, radix).map_err(|e| {
        if matches!(e.kind(), std::num::IntErrorKind::PosOverflow) {
            range()
        } else {
            syntax()
        }
    })?;
    let max = 1u128 << (bits - 1);
    if (!neg && mag >= max) || (neg && mag > max) {
        return Err(range());
    }
    Ok(if neg {
        -(mag as i128) as i64
    } else {
        mag as i64
    })
}

/// Go's `strconv.ParseBool`.
pub fn parse_go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing {}: invalid syntax",
            go_quote_simple(s)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_go_duration("0s"), Ok(0.0));
        assert_eq!(parse_go_duration("0"), Ok(0.0));
        assert_eq!(parse_go_duration("1m30s"), Ok(90.0));
        assert_eq!(parse_go_duration("1.5h"), Ok(5400.0));
        assert_eq!(parse_go_duration("-2s"), Ok(-2.0));
        assert_eq!(
            parse_go_duration("abc"),
            Err("time: invalid duration \"abc\"".into())
        );
        assert_eq!(
            parse_go_duration("5"),
            Err("time: missing unit in duration \"5\"".into())
        );
        assert_eq!(
            parse_go_duration("5x"),
            Err("time: unknown unit \"x\" in duration \"5x\"".into())
        );
    }

    #[test]
    fn ints_parse_like_go() {
        assert_eq!(parse_go_int("12", 32), Ok(12));
        assert_eq!(parse_go_int("-3", 32), Ok(-3));
        assert_eq!(parse_go_int("0x10", 32), Ok(16));
        assert_eq!(parse_go_int("010", 32), Ok(8));
        assert_eq!(
            parse_go_int("x", 32),
            Err("strconv.ParseInt: parsing \"x\": invalid syntax".into())
        );
        assert_eq!(
            parse_go_int("4294967296", 32),
            Err("strconv.ParseInt: parsing \"4294967296\": value out of range".into())
        );
    }
}
