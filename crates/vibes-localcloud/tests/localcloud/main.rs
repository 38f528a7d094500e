//! The whole platform on one machine: the local cloud (moto plus the runner) driven by the real
//! `vibes` binary, with the project's own buildspec, boot scripts, encoders and rsync.

mod image_build;
mod machines;
mod platform;
mod refusals;
mod s3_reads;
mod support;
