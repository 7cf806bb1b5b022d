fn main() {
    let protos = [
        "proto/common.proto",
        "proto/domain_cell.proto",
        "proto/actual_lrp.proto",
        "proto/desired_lrp.proto",
        "proto/task.proto",
        "proto/events.proto",
    ];
    for p in &protos {
        println!("cargo:rerun-if-changed={p}");
    }
    let mut config = prost_build::Config::new();
    // Maps keep a stable order so encodings and JSON are deterministic.
    config.btree_map(["."]);
    config
        .compile_protos(&protos, &["proto"])
        .expect("compile BBS protos (is protoc installed? apt-get install protobuf-compiler)");
}
