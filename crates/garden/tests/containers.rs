//! Containers on the runc backend, on the real kernel: processes, env,
//! users, tar streams, properties surviving a backend restart, and
//! destroy (also of a container whose creation failed) leaving nothing.

mod common;

use common::{sh, sh_as, skip_unless_able};
use garden::{Backend, BindMount, ContainerSpec, GardenError, Properties, RuncBackend};

#[tokio::test]
async fn runs_processes_with_exit_status_output_and_env() {
    skip_unless_able!();
    let t = common::backend(1).await;
    let b = &t.backend;
    let mut spec = common::spec("run-1");
    spec.env = vec!["GREETING=hello".into(), "FROM=container".into()];
    let info = b.create(spec).await.unwrap();
    assert_eq!(info.state, "active");
    assert_eq!(info.container_ip, "10.251.1.2");

    let (status, out, err) = sh(b, "run-1", "echo out; echo err >&2; exit 3").await;
    assert_eq!((status, out.as_str(), err.as_str()), (3, "out\n", "err\n"));

    let (status, out, _) = sh(b, "run-1", "echo $GREETING from $FROM; hostname; pwd").await;
    assert_eq!(status, 0);
    assert_eq!(out, "hello from container\nrun-1\n/root\n");

    // A process's own env wins over the container's; users come from
    // the rootfs's /etc/passwd.
    let (_, out, _) = sh_as(b, "run-1", "vcap", "id -u; echo $HOME; echo $USER").await;
    assert_eq!(out, "2000\n/home/vcap\nvcap\n");

    // Killed by a signal: 128 + the signal number, as a shell reports it.
    let p = b
        .run(
            "run-1",
            garden::ProcessSpec {
                path: "sleep".into(),
                args: vec!["60".into()],
                ..Default::default()
            },
            garden::ProcessIo::default(),
        )
        .await
        .unwrap();
    p.signal(garden::Signal::Kill).await.unwrap();
    assert_eq!(p.wait().await.unwrap(), 137);

    // stdin reaches the process; TERM reaches it too.
    let out = common::Buf::default();
    let p = b
        .run(
            "run-1",
            garden::ProcessSpec {
                path: "cat".into(),
                ..Default::default()
            },
            garden::ProcessIo {
                stdin: Some(Box::new(std::io::Cursor::new(b"piped in\n".to_vec()))),
                stdout: Some(Box::new(out.clone())),
                stderr: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(p.wait().await.unwrap(), 0);
    assert_eq!(out.text(), "piped in\n");
    let p = b
        .run(
            "run-1",
            garden::ProcessSpec {
                path: "sleep".into(),
                args: vec!["60".into()],
                ..Default::default()
            },
            garden::ProcessIo::default(),
        )
        .await
        .unwrap();
    p.signal(garden::Signal::Terminate).await.unwrap();
    assert_eq!(p.wait().await.unwrap(), 143);

    // nofile rlimit reaches the process.
    let out = common::Buf::default();
    let p = b
        .run(
            "run-1",
            garden::ProcessSpec {
                path: "sh".into(),
                args: vec!["-c".into(), "ulimit -n".into()],
                nofile: Some(1234),
                ..Default::default()
            },
            garden::ProcessIo {
                stdout: Some(Box::new(out.clone())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(p.wait().await.unwrap(), 0);
    assert_eq!(out.text(), "1234\n");

    b.destroy("run-1").await.unwrap();
    assert_eq!(common::leftovers(&t, "run-1").await, Vec::<String>::new());
    assert!(matches!(
        b.info("run-1").await,
        Err(GardenError::ContainerNotFound(_))
    ));

    // Diego's rep names a stack's rootfs by its path (its
    // preloaded_rootfses map), with or without raw://.
    let path = t.cfg.rootfs["busybox"].display().to_string();
    for (handle, image) in [("run-2", path.clone()), ("run-3", format!("raw://{path}"))] {
        b.create(ContainerSpec {
            image,
            ..common::spec(handle)
        })
        .await
        .unwrap();
        let (status, out, _) = sh(b, handle, "echo $(hostname) runs").await;
        assert_eq!((status, out), (0, format!("{handle} runs\n")));
        b.destroy(handle).await.unwrap();
    }
    let unknown = t.dir.path().join("no-such-rootfs").display().to_string();
    let refused = b
        .create(ContainerSpec {
            image: unknown.clone(),
            ..common::spec("run-4")
        })
        .await;
    assert!(
        matches!(&refused, Err(GardenError::InvalidSpec(m)) if m.contains(&unknown)),
        "{refused:?}"
    );
    t.backend.teardown_host().await;
}

#[tokio::test]
async fn streams_tar_in_and_out_owned_by_the_user() {
    skip_unless_able!();
    let t = common::backend(2).await;
    let b = &t.backend;
    b.create(common::spec("stream-1")).await.unwrap();

    let mut tar = tar::Builder::new(Vec::new());
    let data = b"#!/bin/sh\necho droplet\n";
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o755);
    h.set_cksum();
    tar.append_data(&mut h, "app/start.sh", &data[..]).unwrap();
    let tar = tar.into_inner().unwrap();

    b.stream_in(
        "stream-1",
        "/home/vcap/deep/dir",
        "vcap",
        Box::new(std::io::Cursor::new(tar)),
    )
    .await
    .unwrap();
    let (status, out, err) = sh(
        b,
        "stream-1",
        "stat -c '%u %a' /home/vcap/deep/dir/app/start.sh; /home/vcap/deep/dir/app/start.sh",
    )
    .await;
    assert_eq!(status, 0, "{err}");
    assert_eq!(out, "2000 755\ndroplet\n");

    // Written inside, read out.
    sh(
        b,
        "stream-1",
        "mkdir -p /tmp/result && echo 42 > /tmp/result/value",
    )
    .await;
    let bytes = b.stream_out("stream-1", "/tmp/result").await.unwrap();
    let mut archive = tar::Archive::new(&bytes[..]);
    let mut found = None;
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_string_lossy() == "result/value" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut e, &mut s).unwrap();
            found = Some(s);
        }
    }
    assert_eq!(found.as_deref(), Some("42\n"));

    // Symlinks in the container never lead out to the host.
    sh(b, "stream-1", "ln -s /etc /tmp/etc-link").await;
    let bytes = b
        .stream_out("stream-1", "/tmp/etc-link/passwd")
        .await
        .unwrap();
    let mut archive = tar::Archive::new(&bytes[..]);
    let mut e = archive.entries().unwrap().next().unwrap().unwrap();
    let mut s = String::new();
    std::io::Read::read_to_string(&mut e, &mut s).unwrap();
    assert!(
        s.contains("vcap:x:2000"),
        "the container's passwd, not the host's: {s}"
    );

    b.destroy("stream-1").await.unwrap();
    assert_eq!(
        common::leftovers(&t, "stream-1").await,
        Vec::<String>::new()
    );
    t.backend.teardown_host().await;
}

#[tokio::test]
async fn properties_and_containers_survive_a_backend_restart() {
    skip_unless_able!();
    let t = common::backend(3).await;
    let b = &t.backend;
    let mut spec = common::spec("props-1");
    spec.properties = Properties::from([
        ("owner".into(), "executor".into()),
        ("kind".into(), "lrp".into()),
    ]);
    spec.net_in = vec![garden::PortMapping {
        host_port: 0,
        container_port: 8080,
    }];
    b.create(spec).await.unwrap();
    let mut spec = common::spec("props-2");
    spec.properties = Properties::from([
        ("owner".into(), "executor".into()),
        ("kind".into(), "task".into()),
    ]);
    b.create(spec).await.unwrap();
    assert!(matches!(
        b.create(common::spec("props-2")).await,
        Err(GardenError::HandleExists(_))
    ));

    let restarted = RuncBackend::new(t.cfg.clone()).await.unwrap();
    let owner = Properties::from([("owner".into(), "executor".into())]);
    assert_eq!(
        restarted.containers(&owner).await.unwrap(),
        vec!["props-1", "props-2"]
    );
    let lrps = Properties::from([("kind".into(), "lrp".into())]);
    assert_eq!(restarted.containers(&lrps).await.unwrap(), vec!["props-1"]);
    let info = restarted.info("props-1").await.unwrap();
    assert_eq!(info.state, "active");
    assert_eq!(info.mapped_ports.len(), 1);
    assert_eq!(info.mapped_ports[0].host_port, t.cfg.port_range.0);
    // The restarted backend knows the port is taken.
    let mut spec = common::spec("props-3");
    spec.net_in = vec![garden::PortMapping {
        host_port: 0,
        container_port: 8080,
    }];
    let info3 = restarted.create(spec).await.unwrap();
    assert_ne!(
        info3.mapped_ports[0].host_port,
        info.mapped_ports[0].host_port
    );
    assert_ne!(info3.container_ip, info.container_ip);

    for h in ["props-1", "props-2", "props-3"] {
        restarted.destroy(h).await.unwrap();
    }
    for h in ["props-1", "props-2", "props-3"] {
        assert_eq!(common::leftovers(&t, h).await, Vec::<String>::new());
    }
    t.backend.teardown_host().await;
}

#[tokio::test]
async fn a_failed_create_leaves_nothing_behind() {
    skip_unless_able!();
    let t = common::backend(4).await;
    let b = &t.backend;
    // The runtime fails at the very end (a bind mount whose source does
    // not exist), after the overlay, netns, veth and DNAT rules exist.
    let mut spec = common::spec("broken-1");
    spec.bind_mounts = vec![BindMount {
        src_path: "/nonexistent/garden-test".into(),
        dst_path: "/mnt".into(),
        read_only: true,
    }];
    spec.net_in = vec![garden::PortMapping {
        host_port: 0,
        container_port: 8080,
    }];
    let err = b.create(spec).await.unwrap_err();
    assert!(matches!(err, GardenError::Runtime(_)), "{err}");
    assert_eq!(
        common::leftovers(&t, "broken-1").await,
        Vec::<String>::new()
    );
    assert!(b.containers(&Properties::new()).await.unwrap().is_empty());

    // Its address and port are free again; the handle can be reused.
    let mut spec = common::spec("broken-1");
    spec.net_in = vec![garden::PortMapping {
        host_port: 0,
        container_port: 8080,
    }];
    let info = b.create(spec).await.unwrap();
    assert_eq!(info.container_ip, "10.251.4.2");
    b.destroy("broken-1").await.unwrap();
    assert_eq!(
        common::leftovers(&t, "broken-1").await,
        Vec::<String>::new()
    );

    assert!(matches!(
        b.create(garden::ContainerSpec {
            image: "preloaded:nope".into(),
            ..common::spec("x")
        })
        .await,
        Err(GardenError::InvalidSpec(_))
    ));
    t.backend.teardown_host().await;
}
