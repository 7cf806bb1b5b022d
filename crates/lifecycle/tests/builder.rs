//! The `builder` binary against buildpacks written by the tests: detection
//! order, skip-detect with supply buildpacks, finalize and legacy compile,
//! release merged with the Procfile, the droplet's layout, staging_info.yml,
//! result.json, the build artifacts cache, and the exit codes and texts of
//! every failure.

use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

/// A staging sandbox: app, buildpacks, cache and outputs under one temp
/// dir, with the flags Cloud Controller passes pointing into it.
struct Stage {
    dir: tempfile::TempDir,
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Stage {
    fn new() -> Self {
        let s = Stage {
            dir: tempfile::tempdir().unwrap(),
        };
        for d in ["app", "buildpacks", "cache", "tmp", "out"] {
            std::fs::create_dir_all(s.path(d)).unwrap();
        }
        s.write("app/app.sh", "echo hello");
        s
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn write(&self, p: &str, text: &str) {
        let path = self.path(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// A buildpack `key` with these bin scripts (bash bodies).
    fn buildpack(&self, key: &str, scripts: &[(&str, &str)]) {
        let dir = self
            .path("buildpacks")
            .join(lifecycle::builder::config::key_hash(key))
            .join("bin");
        std::fs::create_dir_all(&dir).unwrap();
        for (name, body) in scripts {
            let p = dir.join(name);
            std::fs::write(&p, format!("#!/bin/bash\nset -e\n{body}\n")).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    /// The log every fixture script appends to.
    fn log(&self) -> String {
        std::fs::read_to_string(self.path("calls.log")).unwrap_or_default()
    }

    fn run(&self, order: &[&str], skip_detect: bool) -> Outcome {
        let out = Command::new(env!("CARGO_BIN_EXE_builder"))
            .arg(format!("-buildpackOrder={}", order.join(",")))
            .arg("-skipCertVerify=false")
            .arg(format!("-skipDetect={skip_detect}"))
            .arg(format!("-buildDir={}", self.path("app").display()))
            .arg(format!(
                "-outputDroplet={}",
                self.path("out/droplet").display()
            ))
            .arg(format!(
                "-outputMetadata={}",
                self.path("out/result.json").display()
            ))
            .arg(format!(
                "-outputBuildArtifactsCache={}",
                self.path("out/output-cache").display()
            ))
            .arg(format!(
                "-buildpacksDir={}",
                self.path("buildpacks").display()
            ))
            .arg(format!(
                "-buildArtifactsCacheDir={}",
                self.path("cache").display()
            ))
            .env("TMPDIR", self.path("tmp"))
            .env("CALLS", self.path("calls.log"))
            .output()
            .unwrap();
        Outcome {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn result(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.path("out/result.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// Entry names of a tgz written by the builder, and the text of one.
    fn tgz(&self, p: &str) -> (BTreeSet<String>, std::collections::BTreeMap<String, String>) {
        let f = std::fs::File::open(self.path(p)).unwrap();
        let mut names = BTreeSet::new();
        let mut texts = std::collections::BTreeMap::new();
        let out = Command::new("tar")
            .arg("-tzf")
            .arg(self.path(p))
            .output()
            .unwrap();
        drop(f);
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            names.insert(line.trim_end_matches('/').to_string());
        }
        for name in names
            .iter()
            .filter(|n| n.ends_with(".yml") || n.ends_with(".txt"))
        {
            let out = Command::new("tar")
                .arg("-xzOf")
                .arg(self.path(p))
                .arg(name)
                .output()
                .unwrap();
            let mut s = String::new();
            out.stdout.as_slice().read_to_string(&mut s).unwrap();
            texts.insert(name.clone(), s);
        }
        (names, texts)
    }
}

/// A buildpack body that records its call (name and arguments).
fn record(name: &str) -> String {
    format!("echo \"{name} $*\" >> \"$CALLS\"")
}

#[test]
fn detects_in_order_and_stages_with_the_first_that_detects() {
    let s = Stage::new();
    s.buildpack(
        "first",
        &[("detect", &format!("{}\nexit 1", record("first-detect")))],
    );
    s.buildpack(
        "second",
        &[
            ("detect", &format!("{}\necho second-bp", record("second-detect"))),
            (
                "compile",
                &format!("{}\necho compiled > \"$1/compiled.txt\"\necho cached > \"$2/cached.txt\"\necho Compiling the app", record("second-compile")),
            ),
            (
                "release",
                "echo '---'\necho 'default_process_types:'\necho '  web: ./app.sh'",
            ),
        ],
    );
    s.buildpack(
        "third",
        &[("detect", &format!("{}\necho third", record("third-detect")))],
    );
    let out = s.run(&["first", "second", "third"], false);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Compiling the app"), "{}", out.stdout);
    let log = s.log();
    assert!(log.contains("first-detect"));
    assert!(log.contains("second-detect"));
    assert!(
        !log.contains("third-detect"),
        "detection stops at the first match"
    );
    assert!(log.contains(&format!(
        "second-compile {} {}",
        s.path("app").display(),
        s.path("cache/final").display()
    )));

    let r = s.result();
    assert_eq!(r["lifecycle_type"], "buildpack");
    assert_eq!(r["execution_metadata"], "");
    assert_eq!(r["process_types"], serde_json::json!({"web": "./app.sh"}));
    assert_eq!(r["lifecycle_metadata"]["buildpack_key"], "second");
    assert_eq!(r["lifecycle_metadata"]["detected_buildpack"], "second-bp");
    assert_eq!(
        r["lifecycle_metadata"]["buildpacks"],
        serde_json::json!([{"key": "second", "name": "second-bp"}])
    );

    // The droplet: the compiled app, the buildpack-less deps (legacy
    // compile removes its own), profile.d, tmp, logs, staging_info.yml.
    let (names, texts) = s.tgz("out/droplet");
    for n in [
        "./app",
        "./app/app.sh",
        "./app/compiled.txt",
        "./deps",
        "./profile.d",
        "./tmp",
        "./logs",
        "./staging_info.yml",
    ] {
        assert!(names.contains(n), "{n} missing from {names:?}");
    }
    assert!(!names.contains("./deps/0"), "{names:?}");
    let info: serde_json::Value = serde_json::from_str(&texts["./staging_info.yml"]).unwrap();
    assert_eq!(
        info,
        serde_json::json!({"detected_buildpack": "second-bp", "start_command": "./app.sh"})
    );

    // The build artifacts cache holds what compile cached.
    let (cache, _) = s.tgz("out/output-cache");
    assert!(cache.contains("./final/cached.txt"), "{cache:?}");
    // The droplet's temp contents are gone.
    assert_eq!(std::fs::read_dir(s.path("tmp")).unwrap().count(), 0);
}

#[test]
fn no_buildpack_detecting_exits_222_with_diegos_text() {
    let s = Stage::new();
    s.buildpack("a", &[("detect", "exit 1")]);
    s.buildpack("b", &[("detect", "exit 1")]);
    let out = s.run(&["a", "b"], false);
    assert_eq!(out.code, 222);
    assert!(
        out.stderr
            .contains("None of the buildpacks detected a compatible application"),
        "{}",
        out.stderr
    );
    assert!(!s.path("out/droplet").exists());
}

#[test]
fn skip_detect_supplies_then_finalizes_with_deps_and_profile_d() {
    let s = Stage::new();
    s.buildpack(
        "go-supply",
        &[(
            "supply",
            &format!(
                "{}\nmkdir -p \"$3/$4/bin\"\necho tool > \"$3/$4/bin/tool.txt\"\necho 'name: go\nversion: 1.2.3' > \"$3/$4/config.yml\"\necho 'processes:\n- type: worker\n  command: ./worker' > \"$3/$4/launch.yml\"\necho supplied > \"$2/supply-cache.txt\"",
                record("supply-a")
            ),
        )],
    );
    s.buildpack(
        "final",
        &[
            ("supply", &record("supply-final")),
            (
                "finalize",
                &format!(
                    "{}\necho 'export FROM_PROFILE=1' > \"$5/final.sh\"\necho 'name: final-bp' > \"$3/$4/config.yml\"",
                    record("finalize")
                ),
            ),
            ("release", "echo 'default_process_types: {web: ./web}'"),
        ],
    );
    // A stale cache directory of a buildpack no longer used goes away.
    std::fs::create_dir_all(s.path("cache/0123456789abcdef")).unwrap();
    let out = s.run(&["go-supply", "final"], true);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let log: Vec<String> = s.log().lines().map(str::to_string).collect();
    assert_eq!(log.len(), 3, "{log:?}");
    let supply_cache = s
        .path("cache")
        .join(lifecycle::builder::config::key_hash("go-supply"));
    assert!(log[0].starts_with("supply-a "), "{log:?}");
    assert!(log[0].contains(&format!(" {} ", supply_cache.display())));
    assert!(log[0].ends_with("/deps 0"), "{log:?}");
    assert!(log[1].starts_with("supply-final ") && log[1].ends_with("/deps 1"));
    assert!(log[2].starts_with("finalize ") && log[2].ends_with("/profile.d"));
    assert!(log[2].contains(&format!(" {} ", s.path("cache/final").display())));

    let r = s.result();
    assert_eq!(
        r["process_types"],
        serde_json::json!({"web": "./web", "worker": "./worker"})
    );
    assert_eq!(r["lifecycle_metadata"]["buildpack_key"], "final");
    assert_eq!(r["lifecycle_metadata"]["detected_buildpack"], "final-bp");
    assert_eq!(
        r["lifecycle_metadata"]["buildpacks"],
        serde_json::json!([
            {"key": "go-supply", "name": "go", "version": "1.2.3"},
            {"key": "final", "name": "final-bp"}
        ])
    );
    let (names, _) = s.tgz("out/droplet");
    for n in [
        "./deps/0/bin/tool.txt",
        "./deps/0/launch.yml",
        "./deps/1/config.yml",
        "./profile.d/final.sh",
    ] {
        assert!(names.contains(n), "{n} missing from {names:?}");
    }
    let (cache, _) = s.tgz("out/output-cache");
    let hashed = format!(
        "./{}/supply-cache.txt",
        lifecycle::builder::config::key_hash("go-supply")
    );
    assert!(cache.contains(&hashed), "{cache:?}");
    assert!(
        !cache.iter().any(|n| n.contains("0123456789abcdef")),
        "{cache:?}"
    );
}

#[test]
fn a_legacy_final_buildpack_after_supply_ones_gets_a_warning() {
    let s = Stage::new();
    s.buildpack("sup", &[("supply", "mkdir -p \"$3/$4\"")]);
    s.buildpack(
        "legacy",
        &[
            ("compile", &record("compile")),
            ("release", "echo 'default_process_types: {web: run}'"),
        ],
    );
    let out = s.run(&["sup", "legacy"], true);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("Warning: the last buildpack is not compatible with multi-buildpack apps and cannot make use of any dependencies supplied by the buildpacks specified before it"), "{}", out.stderr);
    let (names, _) = s.tgz("out/droplet");
    assert!(
        names.contains("./deps/0") && !names.contains("./deps/1"),
        "{names:?}"
    );
}

#[test]
fn the_procfile_overrides_the_buildpack_command() {
    let s = Stage::new();
    s.write("app/Procfile", "web: ./app.sh --procfile\nclock: ./clock\n");
    s.buildpack(
        "bp",
        &[
            ("detect", "echo bp"),
            ("compile", "true"),
            (
                "release",
                "echo 'default_process_types:\n  web: ./app.sh\n  worker: ./worker'",
            ),
        ],
    );
    let out = s.run(&["bp"], false);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = s.result();
    assert_eq!(
        r["process_types"],
        serde_json::json!({"web": "./app.sh --procfile", "worker": "./worker", "clock": "./clock"})
    );
    let (_, texts) = s.tgz("out/droplet");
    let info: serde_json::Value = serde_json::from_str(&texts["./staging_info.yml"]).unwrap();
    assert_eq!(info["start_command"], "./app.sh --procfile");

    // A Procfile that is not YAML fails with Diego's text.
    s.write("app/Procfile", "web: [oops\n");
    let out = s.run(&["bp"], false);
    assert_eq!(out.code, 1);
    assert!(out
        .stderr
        .contains("Failed to read command from Procfile: invalid YAML"));
}

#[test]
fn no_start_command_is_a_warning_not_a_failure() {
    let s = Stage::new();
    s.buildpack(
        "bp",
        &[
            ("detect", "true"),
            ("compile", "true"),
            ("release", "echo '---'"),
        ],
    );
    let out = s.run(&["bp"], false);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out
        .stderr
        .contains("No start command specified by buildpack or via Procfile."));
    assert!(out
        .stderr
        .contains("App will not start unless a command is provided at runtime."));
    assert_eq!(s.result()["process_types"], serde_json::json!({}));
}

#[test]
fn failing_steps_exit_with_diegos_codes_and_keep_result_json() {
    // compile: 223
    let s = Stage::new();
    s.buildpack(
        "bp",
        &[
            ("detect", "true"),
            ("compile", "echo boom >&2; exit 7"),
            ("release", "true"),
        ],
    );
    let out = s.run(&["bp"], false);
    assert_eq!(out.code, 223);
    assert!(out.stderr.contains("boom"));
    assert!(
        out.stderr
            .contains("Failed to compile droplet: exit status 7"),
        "{}",
        out.stderr
    );
    let r = s.result();
    assert!(r["process_types"].is_null());
    assert_eq!(r["lifecycle_metadata"]["buildpack_key"], "bp");
    assert!(!s.path("out/droplet").exists());

    // release: 224
    let s = Stage::new();
    s.buildpack(
        "bp",
        &[
            ("detect", "true"),
            ("compile", "true"),
            ("release", "exit 3"),
        ],
    );
    let out = s.run(&["bp"], false);
    assert_eq!(out.code, 224);
    assert!(out
        .stderr
        .contains("Failed to build droplet release: exit status 3"));
    let s = Stage::new();
    s.buildpack(
        "bp",
        &[
            ("detect", "true"),
            ("compile", "true"),
            ("release", "echo 'default_process_types: [x'"),
        ],
    );
    let out = s.run(&["bp"], false);
    assert_eq!(out.code, 224);
    assert!(out
        .stderr
        .contains("Failed to build droplet release: buildpack's release output invalid"));

    // a supply buildpack: 225
    let s = Stage::new();
    s.buildpack("sup", &[("supply", "exit 1")]);
    s.buildpack("fin", &[("finalize", "true"), ("release", "true")]);
    let out = s.run(&["sup", "fin"], true);
    assert_eq!(out.code, 225);
    assert!(out
        .stderr
        .contains("Failed to run all supply scripts: exit status 1"));

    // a buildpack without bin/supply asked to supply: 225
    let s = Stage::new();
    s.buildpack("nosup", &[("compile", "true")]);
    s.buildpack("fin", &[("finalize", "true"), ("release", "true")]);
    let out = s.run(&["nosup", "fin"], true);
    assert_eq!(out.code, 225);
    assert!(out.stderr.contains("Error: one of the buildpacks chosen to supply dependencies does not support multi-buildpack apps"));

    // finalize of the final buildpack: Diego's builder reports it inside
    // "Failed to compile droplet", hence 223.
    let s = Stage::new();
    s.buildpack("fin", &[("finalize", "exit 4"), ("release", "true")]);
    let out = s.run(&["fin"], true);
    assert_eq!(out.code, 223);
    assert!(out
        .stderr
        .contains("Failed to compile droplet: Failed to run finalize script: exit status 4"));
}

#[test]
fn missing_flags_and_malformed_buildpacks() {
    let out = Command::new(env!("CARGO_BIN_EXE_builder"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("missing flag: -buildpackOrder\n"), "{err}");
    assert!(err.contains("Usage of builder:"));

    let out = Command::new(env!("CARGO_BIN_EXE_builder"))
        .arg("-bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("flag provided but not defined: -bogus")
    );

    // A buildpack directory without bin/ is skipped at detection with
    // Diego's message.
    let s = Stage::new();
    std::fs::create_dir_all(
        s.path("buildpacks")
            .join(lifecycle::builder::config::key_hash("empty"))
            .join("x/y"),
    )
    .unwrap();
    let out = s.run(&["empty"], false);
    assert_eq!(out.code, 222);
    assert!(out
        .stderr
        .contains("malformed buildpack does not contain a /bin dir: empty"));
}

#[test]
fn a_zip_with_a_top_level_folder_is_found_inside_it() {
    let s = Stage::new();
    let nested = s
        .path("buildpacks")
        .join(lifecycle::builder::config::key_hash("zipped"))
        .join("zipped-buildpack-v1");
    std::fs::create_dir_all(nested.join("bin")).unwrap();
    for (name, body) in [
        ("detect", "echo zipped"),
        ("compile", "true"),
        ("release", "echo 'default_process_types: {web: x}'"),
    ] {
        let p = nested.join("bin").join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = s.run(&["zipped"], false);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        s.result()["lifecycle_metadata"]["detected_buildpack"],
        "zipped"
    );
}
