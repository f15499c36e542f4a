//! Compiles the worker RPC's protocol with protox (pure Rust), so a fresh
//! machine needs no `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/worker.proto");
    let fds = protox::compile(["proto/worker.proto"], ["proto"])?;
    // Bytes fields as `bytes::Bytes`: strips and PNG pieces are shared with
    // the transport's buffers instead of copied into vectors.
    tonic_prost_build::configure().bytes(".").compile_fds(fds)?;
    Ok(())
}
