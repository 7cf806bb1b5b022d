//! The backend's parent cgroup `garden-TAG` on the real kernel (root
//! only): made by the runtime with the first container, kept while any
//! container is left (by the backend, and by the kernel for a parent with
//! children), removed from every hierarchy by `release_parents` once the
//! last container is destroyed; a later container makes it again.

mod common;

use common::{sh, skip_unless_able};
use garden::Backend;
use std::path::PathBuf;

fn sorted(mut v: Vec<PathBuf>) -> Vec<PathBuf> {
    v.sort();
    v
}

#[tokio::test]
async fn parents_go_with_the_last_container_and_stay_while_one_is_left() {
    skip_unless_able!();
    let t = common::backend(41).await;
    let b = &t.backend;
    let parent = b.parent_cgroup();
    assert_eq!(parent.path, "/garden-t41");

    b.create(common::spec("parent-1")).await.unwrap();
    let parents = sorted(parent.dirs());
    assert!(!parents.is_empty(), "the runtime made the parent cgroup");
    for d in b.cgroup("parent-1").dirs() {
        assert!(
            parents.iter().any(|p| d.parent() == Some(p.as_path())),
            "{} is below a parent",
            d.display()
        );
    }

    // A container left: the backend keeps its parents, and the kernel
    // would refuse to remove them anyway.
    b.release_parents().await;
    assert_eq!(sorted(parent.dirs()), parents, "kept with a container");
    parent.remove_if_empty();
    assert_eq!(sorted(parent.dirs()), parents, "kept by the kernel");
    let (status, out, _) = sh(b, "parent-1", "echo still here").await;
    assert_eq!((status, out.as_str()), (0, "still here\n"));

    // Destroying the container leaves the parent (it is the backend's),
    // until the backend releases it: gone from every hierarchy.
    b.destroy("parent-1").await.unwrap();
    assert_eq!(sorted(parent.dirs()), parents, "destroy keeps the parent");
    b.release_parents().await;
    assert_eq!(parent.dirs(), Vec::<PathBuf>::new(), "released");
    for p in &parents {
        assert!(!p.exists(), "{} left", p.display());
    }

    // The backend still works: the next container makes the parent again.
    b.create(common::spec("parent-2")).await.unwrap();
    let (status, _, _) = sh(b, "parent-2", "true").await;
    assert_eq!(status, 0);
    assert_eq!(sorted(parent.dirs()), parents, "made again");
    b.destroy("parent-2").await.unwrap();
    b.release_parents().await;
    assert_eq!(parent.dirs(), Vec::<PathBuf>::new(), "released again");
}
