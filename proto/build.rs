//! Generates the prost types from `eraftpb.proto` without `protoc`: protox
//! (a pure-Rust protobuf compiler) parses the file into a descriptor set and
//! prost-build generates Rust from it.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=eraftpb.proto");
    let fds = protox::compile(["eraftpb.proto"], ["."])?;
    let mut config = prost_build::Config::new();
    // Every bytes field is `bytes::Bytes`: one payload fans out without copies.
    config.bytes(["."]);
    config.compile_fds(fds)?;
    Ok(())
}
