fn main() {
    // Only the Ingress service: its messages are models' (extern_path).
    let proto = "../models/proto/loggregator/v2.proto";
    println!("cargo:rerun-if-changed={proto}");
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .extern_path(".loggregator.v2", "::models::loggregator::v2")
        .compile_protos(&[proto], &["../models/proto"])
        .expect("compile the loggregator Ingress service (is protoc installed?)");
}
