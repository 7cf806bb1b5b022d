//! The launcher binaries started as a cell starts them: the buildpack
//! launcher in a home with an extracted droplet (profile.d scripts, the
//! app's .profile.d and .profile, the start command from staging_info.yml
//! or the argument), and the docker launcher with execution metadata.

use std::process::Command;

fn droplet_home() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    for d in ["app/.profile.d", "deps/0/bin", "profile.d", "tmp", "logs"] {
        std::fs::create_dir_all(h.join(d)).unwrap();
    }
    std::fs::write(
        h.join("staging_info.yml"),
        r#"{"detected_buildpack":"test","start_command":"echo \"staged:$FROM_BUILDPACK:$FROM_APP:$FROM_DOT_PROFILE\""}"#,
    )
    .unwrap();
    std::fs::write(
        h.join("profile.d/0000_bp.sh"),
        "export FROM_BUILDPACK=bp\nexport PATH=$DEPS_DIR/0/bin:$PATH\n",
    )
    .unwrap();
    std::fs::write(h.join("app/.profile.d/app.sh"), "export FROM_APP=app\n").unwrap();
    std::fs::write(h.join("app/.profile"), "export FROM_DOT_PROFILE=dot\n").unwrap();
    home
}

fn launch(home: &std::path::Path, command: &str) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_launcher"))
        .args(["app", command, ""])
        .current_dir(home)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("PORT", "8080")
        .env("INSTANCE_GUID", "ig-7")
        .env("INSTANCE_INDEX", "3")
        .env(
            "VCAP_APPLICATION",
            r#"{"application_name":"dora","limits":{"mem":256}}"#,
        )
        .env("VCAP_PLATFORM_OPTIONS", "{}")
        .env(
            "VCAP_SERVICES",
            r#"{"db":[{"credentials":{"uri":"postgresql://u@db/x"}}]}"#,
        )
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_buildpack_launcher_sources_profiles_and_runs_the_staged_command() {
    let home = droplet_home();
    let (code, out, err) = launch(home.path(), "");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "Invoking pre-start scripts.\nInvoking start command.\nstaged:bp:app:dot\n"
    );
}

#[test]
fn the_buildpack_launcher_gives_the_app_its_environment() {
    let home = droplet_home();
    let app = home.path().canonicalize().unwrap().join("app");
    let (code, out, err) = launch(
        home.path(),
        "echo \"$HOME|$TMPDIR|$DEPS_DIR|$PWD|$DATABASE_URL|${VCAP_PLATFORM_OPTIONS-unset}\"; echo \"$VCAP_APPLICATION\"",
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let root = app.parent().unwrap().display().to_string();
    assert_eq!(
        lines[2],
        format!(
            "{}|{root}/tmp|{root}/deps|{}|postgres://u@db/x|unset",
            app.display(),
            app.display()
        )
    );
    let vcap: serde_json::Value = serde_json::from_str(lines[3]).unwrap();
    assert_eq!(vcap["instance_id"], "ig-7");
    assert_eq!(vcap["instance_index"], 3);
    assert_eq!(vcap["port"], 8080);
    assert_eq!(vcap["host"], "0.0.0.0");
    assert_eq!(vcap["application_name"], "dora");
}

#[test]
fn the_buildpack_launcher_without_a_command_fails() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("app")).unwrap();
    let (code, _, err) = launch(home.path(), "");
    assert_eq!(code, 1);
    assert!(
        err.ends_with("launcher: no start command specified or detected in droplet"),
        "{err}"
    );
}

#[test]
fn the_docker_launcher_runs_the_command_in_the_workdir() {
    let dir = tempfile::tempdir().unwrap();
    let workdir = dir.path().canonicalize().unwrap();
    let meta = serde_json::json!({"workdir": workdir, "cmd": ["sh", "-c", "echo cmd:$PWD"]});
    let run = |command: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_docker-launcher"))
            .args(["app", command, &meta.to_string()])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("VCAP_APPLICATION", "{}")
            .env("PORT", "8080")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = run("");
    assert_eq!(code, 0);
    assert_eq!(out, format!("cmd:{}\n", workdir.display()));
    let (code, out) = run("echo start:$PWD:$VCAP_APPLICATION");
    assert_eq!(code, 0);
    assert_eq!(
        out,
        format!(
            "start:{}:{{\"host\":\"0.0.0.0\",\"instance_id\":\"\",\"port\":8080}}\n",
            workdir.display()
        )
    );
}
