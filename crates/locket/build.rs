fn main() {
    println!("cargo:rerun-if-changed=proto/locket.proto");
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_protos(&["proto/locket.proto"], &["proto"])
        .expect("compile locket.proto (is protoc installed? apt-get install protobuf-compiler)");
}
