pub mod proto {
    #![allow(clippy::all)]
    tonic::include_proto!("models");
}
