//! Command-line flags as Go's `flag` package reads them: `-name=value`,
//! `-name value`, `--name=value`, a bare `-name` for booleans; parsing
//! stops at the first argument that is not a flag (or after `--`). Cloud
//! Controller passes the builder's arguments in this form
//! (`-buildpackOrder=a,b -skipDetect=false ...`), so we read them the same
//! way and fail with the same texts.

use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Bool,
    Int,
    Duration,
}

#[derive(Debug, Clone)]
pub struct Flag {
    pub name: &'static str,
    pub kind: Kind,
    pub default: String,
    pub usage: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagError {
    /// `-h` or `-help`: Go prints the usage and exits 0.
    Help,
    /// Go's text, e.g. "flag provided but not defined: -x".
    Invalid(String),
}

/// A set of flags and, after [`FlagSet::parse`], their values.
#[derive(Debug, Clone)]
pub struct FlagSet {
    pub program: &'static str,
    flags: Vec<Flag>,
    values: BTreeMap<&'static str, String>,
    /// What is left after the flags.
    pub rest: Vec<String>,
}

impl FlagSet {
    pub fn new(program: &'static str) -> Self {
        Self {
            program,
            flags: Vec::new(),
            values: BTreeMap::new(),
            rest: Vec::new(),
        }
    }

    pub fn define(
        &mut self,
        name: &'static str,
        kind: Kind,
        default: impl Into<String>,
        usage: &'static str,
    ) {
        let default = default.into();
        self.values.insert(name, default.clone());
        self.flags.push(Flag {
            name,
            kind,
            default,
            usage,
        });
    }

    fn flag(&self, name: &str) -> Option<&Flag> {
        self.flags.iter().find(|f| f.name == name)
    }

    pub fn parse(&mut self, args: &[String]) -> Result<(), FlagError> {
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            if arg.len() < 2 || !arg.starts_with('-') {
                break;
            }
            let mut name = &arg[1..];
            if let Some(n) = name.strip_prefix('-') {
                if n.is_empty() {
                    // "--" ends the flags and is consumed.
                    i += 1;
                    break;
                }
                name = n;
            }
            if name.starts_with('-') || name.starts_with('=') {
                return Err(FlagError::Invalid(format!("bad flag syntax: {arg}")));
            }
            let (name, inline) = match name.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (name, None),
            };
            let Some(flag) = self.flag(name).cloned() else {
                if name == "help" || name == "h" {
                    return Err(FlagError::Help);
                }
                return Err(FlagError::Invalid(format!(
                    "flag provided but not defined: -{name}"
                )));
            };
            let value = match (flag.kind, inline) {
                (Kind::Bool, None) => "true".to_string(),
                (_, Some(v)) => v,
                (_, None) => {
                    i += 1;
                    match args.get(i) {
                        Some(v) => v.clone(),
                        None => {
                            return Err(FlagError::Invalid(format!(
                                "flag needs an argument: -{name}"
                            )))
                        }
                    }
                }
            };
            let value = normalize(&flag, &value)?;
            self.values.insert(flag.name, value);
            i += 1;
        }
        self.rest = args[i..].to_vec();
        Ok(())
    }

    /// The value of a defined flag, as text (booleans "true"/"false").
    pub fn get(&self, name: &str) -> &str {
        self.values.get(name).map(String::as_str).unwrap_or("")
    }

    pub fn get_bool(&self, name: &str) -> bool {
        self.get(name) == "true"
    }

    pub fn get_int(&self, name: &str) -> i64 {
        self.get(name).parse().unwrap_or(0)
    }

    pub fn get_duration(&self, name: &str) -> Duration {
        parse_duration(self.get(name)).unwrap_or_default()
    }

    /// Flags in name order with their current values, as Go's `VisitAll`
    /// sees them.
    pub fn visit_all(&self) -> impl Iterator<Item = (&'static str, &str)> {
        let mut names: Vec<&'static str> = self.flags.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.into_iter().map(move |n| (n, self.get(n)))
    }

    /// Go's `PrintDefaults` text, after a "Usage of PROGRAM:" line.
    pub fn usage(&self) -> String {
        let mut flags: Vec<&Flag> = self.flags.iter().collect();
        flags.sort_by_key(|f| f.name);
        let mut out = format!("Usage of {}:\n", self.program);
        for f in flags {
            let kind = match f.kind {
                Kind::String => " string",
                Kind::Bool => "",
                Kind::Int => " int",
                Kind::Duration => " duration",
            };
            out.push_str(&format!("  -{}{kind}\n    \t{}", f.name, f.usage));
            let zero = matches!(f.default.as_str(), "" | "false" | "0" | "0s");
            if !zero {
                if f.kind == Kind::String {
                    out.push_str(&format!(" (default {:?})", f.default));
                } else {
                    out.push_str(&format!(" (default {})", f.default));
                }
            }
            out.push('\n');
        }
        out
    }
}

fn normalize(flag: &Flag, value: &str) -> Result<String, FlagError> {
    let invalid = |what: &str| {
        FlagError::Invalid(format!(
            "invalid {what} value {value:?} for -{}: parse error",
            flag.name
        ))
    };
    match flag.kind {
        Kind::String => Ok(value.to_string()),
        Kind::Bool => match value {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok("true".into()),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok("false".into()),
            _ => Err(invalid("boolean")),
        },
        Kind::Int => value
            .parse::<i64>()
            .map(|n| n.to_string())
            .map_err(|_| invalid("value")),
        Kind::Duration => parse_duration(value)
            .map(|_| value.to_string())
            .ok_or_else(|| invalid("value")),
    }
}

/// Go's `time.ParseDuration` for the forms flags take: "1s", "1.5s",
/// "2m30s", "300ms", "0".
pub fn parse_duration(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    if s.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_end == 0 {
            return None;
        }
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * scale;
        rest = &rest[unit_end..];
    }
    Some(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> FlagSet {
        let mut f = FlagSet::new("builder");
        f.define("buildDir", Kind::String, "/tmp/app", "directory");
        f.define("skipDetect", Kind::Bool, "false", "skip detect");
        f.define("attempts", Kind::Int, "3", "attempts");
        f.define("delay", Kind::Duration, "1s", "delay");
        f
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reads_go_flag_forms() {
        let mut f = set();
        f.parse(&args(&[
            "-buildDir=/x",
            "--skipDetect",
            "-attempts",
            "5",
            "-delay=2m30s",
            "rest",
            "-notaflag",
        ]))
        .unwrap();
        assert_eq!(f.get("buildDir"), "/x");
        assert!(f.get_bool("skipDetect"));
        assert_eq!(f.get_int("attempts"), 5);
        assert_eq!(f.get_duration("delay"), Duration::from_secs(150));
        assert_eq!(f.rest, args(&["rest", "-notaflag"]));

        let mut f = set();
        f.parse(&args(&["-skipDetect=false", "--", "-buildDir=/y"]))
            .unwrap();
        assert!(!f.get_bool("skipDetect"));
        assert_eq!(f.get("buildDir"), "/tmp/app");
        assert_eq!(f.rest, args(&["-buildDir=/y"]));
    }

    #[test]
    fn errors_read_as_go_writes_them() {
        let err = |a: &[&str]| set().parse(&args(a)).unwrap_err();
        assert_eq!(
            err(&["-nope=1"]),
            FlagError::Invalid("flag provided but not defined: -nope".into())
        );
        assert_eq!(
            err(&["-buildDir"]),
            FlagError::Invalid("flag needs an argument: -buildDir".into())
        );
        assert_eq!(
            err(&["-skipDetect=maybe"]),
            FlagError::Invalid(
                "invalid boolean value \"maybe\" for -skipDetect: parse error".into()
            )
        );
        assert_eq!(err(&["-h"]), FlagError::Help);
    }

    #[test]
    fn usage_lists_flags_with_defaults() {
        let u = set().usage();
        assert!(u.starts_with("Usage of builder:\n"), "{u}");
        assert!(u.contains("  -buildDir string\n    \tdirectory (default \"/tmp/app\")\n"));
        assert!(u.contains("  -skipDetect\n    \tskip detect\n"));
    }
}
