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
    // The schema as data, for tests that read Diego's bytes without
    // dropping what our types lack (`FILE_DESCRIPTOR_SET`).
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    config.file_descriptor_set_path(out.join("bbs_descriptor_set.bin"));
    config
        .compile_protos(&protos, &["proto"])
        .expect("compile BBS protos (is protoc installed? apt-get install protobuf-compiler)");

    // Loggregator's envelopes: a package of their own, maps as HashMap
    // (envelopes are hot; their tags need no order).
    let lg = "proto/loggregator/v2.proto";
    println!("cargo:rerun-if-changed={lg}");
    prost_build::Config::new()
        .compile_protos(&[lg], &["proto"])
        .expect("compile loggregator v2 protos");
}
