//! houdini: a backend without isolation (processes run on the host, each
//! container a directory), like Garden's houdini for machines where runc
//! cannot run (not root). Filled in by the executor work.
