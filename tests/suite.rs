//! aez's integration tests, linked into one test binary.
//!
//! Each file beside this one is a module of this crate (`tests/cli.rs` is `suite::cli`), so the whole suite
//! links the library, tract and the embedded models once instead of once per file: one binary of tens of
//! megabytes where there were 24 of over 300 MB each in a debug build, which filled the disk of a CI machine.
//! nextest still runs every test in a process of its own; run one file's tests with
//! `cargo nextest run -E 'test(/^cli::/)'` or `cargo test --test suite cli::`.
//!
//! Two files stay binaries of their own (see `Cargo.toml`): `limits_memory.rs` and `runtime_leak.rs` install
//! a counting global allocator, which must see no other test's allocations.

// Helpers shared by several files.
mod cli_common;
mod model_common;
mod readers;
mod spec_dump;

mod backends_v2;
mod cli;
mod cli_eval;
mod cli_v2;
mod codec;
mod codec_coders;
mod codec_v2;
mod concurrency;
mod corruption;
mod corruption_v2;
mod format;
mod format_v2;
mod golden;
mod hyper;
mod limits;
mod model;
mod model_inference;
mod output_safety;
mod pngsuite;
mod regressions;
mod runtime_ort;
mod runtime_speed;
mod sets;
mod streaming;
mod tiles;
