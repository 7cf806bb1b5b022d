use super::*;
use std::time::Duration;

fn backend(dir: &Path) -> HoudiniBackend {
    HoudiniBackend::new(
        dir,
        Capacity {
            memory_bytes: 1 << 30,
            disk_bytes: 1 << 30,
            max_containers: 10,
        },
    )
    .unwrap()
}

fn spec(handle: &str) -> ContainerSpec {
    ContainerSpec {
        handle: handle.into(),
        env: vec!["GREETING=hello".into()],
        net_in: vec![PortMapping {
            host_port: 0,
            container_port: 8080,
        }],
        properties: [("owner".to_string(), "executor".to_string())].into(),
        ..Default::default()
    }
}

/// Collects what a process writes.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl tokio::io::AsyncWrite for Sink {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.0.lock().unwrap().extend_from_slice(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn create_run_stream_and_destroy() {
    let tmp = tempfile::tempdir().unwrap();
    let b = backend(tmp.path());
    let info = b.create(spec("c1")).await.unwrap();
    assert_eq!(info.mapped_ports[0].host_port, 8080);
    assert!(matches!(
        b.create(spec("c1")).await,
        Err(GardenError::HandleExists(_))
    ));
    assert_eq!(
        b.containers(&[("owner".into(), "executor".into())].into())
            .await
            .unwrap(),
        vec!["c1".to_string()]
    );

    // A file written in the container's /app comes out as a one-entry tar.
    let out = Sink::default();
    let p = b
        .run(
            "c1",
            ProcessSpec {
                path: "/bin/sh".into(),
                args: vec![
                    "-c".into(),
                    "mkdir -p app && echo $GREETING $EXTRA > app/f.txt && pwd && ulimit -n".into(),
                ],
                env: vec!["EXTRA=world".into()],
                nofile: Some(512),
                ..Default::default()
            },
            ProcessIo {
                stdout: Some(Box::new(out.clone())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(p.wait().await.unwrap(), 0);
    let printed = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let dir = tmp.path().join("c1");
    assert_eq!(printed, format!("{}\n512\n", dir.display()));
    let tar = b.stream_out("c1", "/app/f.txt").await.unwrap();
    assert!(tar.len() >= 1024);
    assert_eq!(&tar[..5], b"f.txt");

    // And goes back in somewhere else.
    b.stream_in(
        "c1",
        "/copy",
        "",
        Box::new(std::io::Cursor::new(tar.to_vec())),
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("copy/f.txt")).unwrap(),
        "hello world\n"
    );
    assert!(b.metrics("c1").await.unwrap().disk_usage_bytes >= 24);

    b.destroy("c1").await.unwrap();
    assert!(!dir.exists());
    assert!(matches!(
        b.info("c1").await,
        Err(GardenError::ContainerNotFound(_))
    ));
}

#[tokio::test]
async fn signals_reach_the_process_group_and_destroy_kills() {
    let tmp = tempfile::tempdir().unwrap();
    let b = backend(tmp.path());
    b.create(spec("c2")).await.unwrap();
    let sleeper = || ProcessSpec {
        path: "sh".into(),
        args: vec!["-c".into(), "sleep 30; true".into()],
        ..Default::default()
    };
    let p = b.run("c2", sleeper(), ProcessIo::default()).await.unwrap();
    p.signal(Signal::Terminate).await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(5), p.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, 128 + 15);

    let p = b.run("c2", sleeper(), ProcessIo::default()).await.unwrap();
    b.destroy("c2").await.unwrap();
    assert_eq!(p.wait().await.unwrap(), 128 + 9);
}

#[tokio::test]
async fn exit_codes_and_missing_programs() {
    let tmp = tempfile::tempdir().unwrap();
    let b = backend(tmp.path());
    b.create(spec("c3")).await.unwrap();
    let p = b
        .run(
            "c3",
            ProcessSpec {
                path: "sh".into(),
                args: vec!["-c".into(), "exit 3".into()],
                ..Default::default()
            },
            ProcessIo::default(),
        )
        .await
        .unwrap();
    assert_eq!(p.wait().await.unwrap(), 3);
    let p = b
        .run(
            "c3",
            ProcessSpec {
                path: "sh".into(),
                args: vec![
                    "-c".into(),
                    "test \"$PWD\" = \"$HOME/home/vcap/app\"".into(),
                ],
                dir: "/home/vcap/app".into(),
                ..Default::default()
            },
            ProcessIo::default(),
        )
        .await
        .unwrap();
    assert_eq!(p.wait().await.unwrap(), 0, "missing working dir created");
    let missing = b
        .run(
            "c3",
            ProcessSpec {
                path: "/no/such/program".into(),
                ..Default::default()
            },
            ProcessIo::default(),
        )
        .await;
    assert!(missing.is_err());
}

#[test]
fn paths_stay_inside_the_container() {
    let dir = Path::new("/depot/c");
    assert_eq!(
        in_container(dir, "/app/../../etc"),
        Path::new("/depot/c/etc")
    );
    assert_eq!(in_container(dir, ""), Path::new("/depot/c"));
    assert_eq!(in_container(dir, "tmp/x"), Path::new("/depot/c/tmp/x"));
}

#[tokio::test]
async fn images_are_refused_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let b = backend(tmp.path());
    let e = b
        .create(ContainerSpec {
            image: "docker:///busybox#latest".into(),
            ..spec("img")
        })
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("houdini runs host processes, not images"),
        "{e}"
    );
    assert!(b.containers(&Default::default()).await.unwrap().is_empty());
}
